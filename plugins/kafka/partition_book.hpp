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
  // is not (or no longer) ours.
  std::optional<std::uint64_t> track(const TopicPartition& tp, std::int64_t offset);
  // The message's outcome is final. False for an unknown or stale tag.
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
  // Which assignment of which partition a tag belongs to: the epoch names both, so a tag holds
  // no topic name (finish() runs once per message).
  struct Tagged {
    std::uint64_t epoch = 0;
    std::int64_t offset = 0;
  };
  std::size_t in_flight_locked(const std::vector<TopicPartition>& partitions) const;

  std::mutex mu_;
  std::condition_variable finished_;
  std::map<TopicPartition, Partition> parts_;
  std::unordered_map<std::uint64_t, Partition*> by_epoch_;  // into parts_'s nodes
  std::unordered_map<std::uint64_t, Tagged> tags_;
  std::uint64_t next_tag_ = 1;
  std::uint64_t next_epoch_ = 1;
};

}  // namespace sidecar::kafka
