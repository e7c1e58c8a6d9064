// The per-partition bookkeeping behind commits; no broker needed.
#include <gtest/gtest.h>

#include <thread>

#include "partition_book.hpp"

namespace sidecar::kafka {
namespace {

TEST(PartitionBook, CommitsOnlyTheFinishedPrefixPerPartition) {
  PartitionBook book;
  TopicPartition a{"t", 0};
  TopicPartition b{"t", 1};
  book.assign({a, b});
  auto a0 = *book.track(a, 10);
  auto a1 = *book.track(a, 11);
  auto b0 = *book.track(b, 5);
  auto point_of = [&](const TopicPartition& tp) -> std::int64_t {
    for (const auto& p : book.commit_points()) {
      if (p.tp == tp) return p.offset;
    }
    return -1;
  };
  EXPECT_EQ(point_of(a), -1) << "nothing of partition 0 finished: nothing to commit";
  EXPECT_TRUE(book.finish(a1));
  EXPECT_EQ(point_of(a), -1) << "10 is still in flight";
  EXPECT_TRUE(book.finish(b0));
  EXPECT_EQ(point_of(b), 6);
  book.committed({{b, 6}});
  EXPECT_EQ(point_of(b), -1) << "unchanged since committed";
  EXPECT_TRUE(book.finish(a0));
  EXPECT_EQ(point_of(a), 12);
  EXPECT_FALSE(book.finish(a0)) << "a tag finishes once";
}

TEST(PartitionBook, RevokedPartitionsTakeNoNewMessagesAndStaleAcksAreIgnored) {
  PartitionBook book;
  TopicPartition a{"t", 0};
  book.assign({a});
  auto old = *book.track(a, 1);
  book.revoke({a});
  EXPECT_FALSE(book.track(a, 2));
  book.drop({a});
  book.assign({a});  // ours again, from the committed offset
  auto fresh = *book.track(a, 1);
  EXPECT_FALSE(book.finish(old)) << "an ack from before the revoke";
  EXPECT_EQ(book.in_flight(), 1u);
  EXPECT_TRUE(book.finish(fresh));
}

TEST(PartitionBook, OffsetsBeyondWhatATagPacksAreTrackedAsWell) {
  PartitionBook book;
  TopicPartition a{"t", 0};
  book.assign({a});
  const std::int64_t far = (std::int64_t{1} << 40) + 7;  // beyond the packed tags' offset bits
  auto near_tag = *book.track(a, (std::int64_t{1} << 40) - 1);
  auto far_tag = *book.track(a, far);
  EXPECT_NE(near_tag, far_tag);
  EXPECT_EQ(book.in_flight(), 2u);
  EXPECT_TRUE(book.finish(far_tag));
  EXPECT_FALSE(book.finish(far_tag)) << "a looked-up tag finishes once";
  EXPECT_TRUE(book.finish(near_tag));
  ASSERT_EQ(book.commit_points().size(), 1u);
  EXPECT_EQ(book.commit_points().front().offset, far + 1);
}

TEST(PartitionBook, ABurstIsTrackedPerPartitionAndNotForPartitionsNotOurs) {
  PartitionBook book;
  TopicPartition a{"t", 0};
  TopicPartition b{"t", 1};
  book.assign({a, b});
  book.revoke({b});
  const std::string t = "t";
  const std::string other = "u";
  std::vector<PartitionBook::Handover> burst{
      {&t, 0, 3, 0}, {&t, 0, 4, 0}, {&t, 1, 9, 0}, {&other, 0, 1, 0}, {&t, 0, 5, 0}};
  book.track(burst);
  EXPECT_NE(burst[0].tag, 0u);
  EXPECT_NE(burst[1].tag, 0u);
  EXPECT_EQ(burst[2].tag, 0u) << "a revoked partition takes no new messages";
  EXPECT_EQ(burst[3].tag, 0u) << "a topic not assigned";
  EXPECT_NE(burst[4].tag, 0u);
  EXPECT_EQ(book.in_flight(), 3u);
  for (std::size_t i : {4u, 1u, 0u}) EXPECT_TRUE(book.finish(burst[i].tag));
  ASSERT_EQ(book.commit_points({a}).size(), 1u);
  EXPECT_EQ(book.commit_points({a}).front().offset, 6);
}

TEST(PartitionBook, WaitIdleReturnsWhenTheLastMessageFinishes) {
  PartitionBook book;
  TopicPartition a{"t", 0};
  book.assign({a});
  auto tag = *book.track(a, 1);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(50);
  EXPECT_FALSE(book.wait_idle({a}, deadline));
  std::thread t([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    book.finish(tag);
  });
  EXPECT_TRUE(book.wait_idle({a}, std::chrono::steady_clock::now() + std::chrono::seconds(5)));
  t.join();
}

}  // namespace
}  // namespace sidecar::kafka
