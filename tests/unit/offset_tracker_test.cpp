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

TEST(OffsetTracker, OffsetsTrackedOutOfOrderOrTwiceStillCommitTheFinishedPrefix) {
  OffsetTracker t;
  t.track(20);
  t.track(22);
  t.track(21);  // an older offset after a newer one
  t.track(22);  // the same offset again counts once
  EXPECT_EQ(t.in_flight(), 3u);
  t.finish(20);
  t.finish(22);
  EXPECT_EQ(t.commit_point(), 21);
  t.finish(22);  // finishing twice changes nothing
  t.finish(99);  // nor does an offset never tracked
  EXPECT_EQ(t.in_flight(), 1u);
  t.finish(21);
  EXPECT_EQ(t.commit_point(), 23);
  EXPECT_EQ(t.in_flight(), 0u);
}

TEST(OffsetTracker, AFinishedOffsetTrackedAgainHoldsTheCommitPointBack) {
  OffsetTracker t;
  t.track(5);
  t.track(6);
  t.finish(6);  // 6 waits behind 5, finished
  t.track(6);   // delivered again before 5 finished: running again
  t.finish(5);
  EXPECT_EQ(t.commit_point(), 6);
  t.finish(6);
  EXPECT_EQ(t.commit_point(), 7);
}

TEST(OffsetTracker, OneStuckOffsetDoesNotKeepEveryLaterFinishedOne) {
  OffsetTracker t;
  t.track(0);  // stays in flight throughout
  for (std::int64_t o = 1; o <= 100'000; ++o) {
    t.track(o);
    t.finish(o);
  }
  EXPECT_EQ(t.in_flight(), 1u);
  EXPECT_LE(t.entries(), 2'000u);
  EXPECT_FALSE(t.commit_point().has_value());  // 0 still holds the partition back
  t.finish(0);
  EXPECT_EQ(t.commit_point(), 100'001);
  EXPECT_EQ(t.entries(), 0u);
}
