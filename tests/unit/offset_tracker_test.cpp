#include "sidecar/offset_tracker.hpp"

#include <gtest/gtest.h>

using sidecar::OffsetTracker;

TEST(OffsetTracker, CommitsOnlyTheContiguousFinishedPrefix) {
  OffsetTracker t;
  for (int o = 10; o < 15; ++o) t.track(o);
  EXPECT_FALSE(t.commit_point().has_value());  // nothing finished: nothing to say
  t.finish(12);
  t.finish(13);
  EXPECT_FALSE(t.commit_point().has_value());  // 10 and 11 still running
  t.finish(10);
  EXPECT_EQ(t.commit_point(), 11);
  t.committed(11);
  EXPECT_FALSE(t.commit_point().has_value());  // unchanged since the last commit
  t.finish(11);
  EXPECT_EQ(t.commit_point(), 14);
  t.finish(14);
  EXPECT_EQ(t.commit_point(), 15);  // all done: one past the highest seen
  EXPECT_EQ(t.in_flight(), 0u);
}

TEST(OffsetTracker, NothingTrackedNothingToCommit) {
  OffsetTracker t;
  EXPECT_FALSE(t.commit_point().has_value());
}
