#pragma once
// What the consumer has handed to the host, per partition, and what may be committed.
// The poll thread assigns, tracks and commits; ack() finishes from any thread.
#include <chrono>
#include <compare>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "sidecar/offset_tracker.hpp"

namespace sidecar::kafka {

struct TopicPartition {
  std::string topic;
  std::int32_t partition = 0;
  auto operator<=>(const TopicPartition&) const = default;
};

struct CommitPoint {
  TopicPartition tp;
  std::int64_t offset = 0;  // the first offset not yet finished
};

class PartitionBook {
 public:
  // Partitions now ours. A partition assigned again gets a fresh epoch, so an ack of a message
  // delivered before it was last revoked cannot move its new commit point.
  void assign(const std::vector<TopicPartition>& partitions);
  // Stop handing out tags for these partitions; their in-flight messages may still finish.
  void revoke(const std::vector<TopicPartition>& partitions);
  // Forget these partitions (after their final commit).
  void drop(const std::vector<TopicPartition>& partitions);
  // Forget everything: the consumer is closing.
  void clear();

  // A message at offset is handed to the host; its delivery tag, or nothing when the partition
  // is not (or no longer) ours. A burst of one (the consumer hands over bursts).
  std::optional<std::uint64_t> track(const TopicPartition& tp, std::int64_t offset);
  // The same for a burst, under one lock: sets each entry's tag, 0 where the partition is not
  // (or no longer) ours.
  struct Handover {
    const std::string* topic = nullptr;
    std::int32_t partition = 0;
    std::int64_t offset = 0;
    std::uint64_t tag = 0;
  };
  void track(std::vector<Handover>& burst);
  // The message's outcome is final. False for an unknown, stale or already finished tag.
  bool finish(std::uint64_t tag);

  // Waits until no message of `partitions` (all partitions when empty) is in flight.
  bool wait_idle(const std::vector<TopicPartition>& partitions,
                 std::chrono::steady_clock::time_point deadline);

  // Commit points that moved since the last committed() (all partitions when empty).
  std::vector<CommitPoint> commit_points(const std::vector<TopicPartition>& partitions = {});
  void committed(const std::vector<CommitPoint>& points);

  std::vector<TopicPartition> assigned();
  std::size_t in_flight();
  std::optional<std::int64_t> last_committed(const TopicPartition& tp);

 private:
  struct Partition {
    OffsetTracker tracker;
    std::uint64_t epoch = 0;
    bool revoked = false;
  };
  // Which assignment of which partition a tag belongs to, and its offset: the epoch names both
  // the partition and the assignment, so a tag holds no topic name (finish() runs once per
  // message).
  struct Tagged {
    std::uint64_t epoch = 0;
    std::int64_t offset = 0;
  };
  // Most tags are the pair itself, packed: epoch above bit 40, offset below, no table entry to
  // add and remove per message. An offset or epoch too large for that is looked up in `tags_`,
  // under a tag with the top bit set.
  static constexpr int kOffsetBits = 40;
  static constexpr std::uint64_t kLookedUp = std::uint64_t{1} << 63;
  std::uint64_t tag_locked(const Partition& p, std::int64_t offset);
  std::size_t in_flight_locked(const std::vector<TopicPartition>& partitions) const;

  std::mutex mu_;
  std::condition_variable finished_;
  std::map<TopicPartition, Partition> parts_;
  std::unordered_map<std::uint64_t, Partition*> by_epoch_;  // into parts_'s nodes
  std::unordered_map<std::uint64_t, Tagged> tags_;          // only tags that do not pack
  std::uint64_t next_tag_ = 1;
  std::uint64_t next_epoch_ = 1;
};

}  // namespace sidecar::kafka
