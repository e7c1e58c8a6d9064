#include "partition_book.hpp"

namespace sidecar::kafka {

void PartitionBook::assign(const std::vector<TopicPartition>& partitions) {
  std::lock_guard lock(mu_);
  for (const auto& tp : partitions) {
    Partition& p = parts_[tp];
    by_epoch_.erase(p.epoch);
    p = Partition{};
    p.epoch = next_epoch_++;
    by_epoch_[p.epoch] = &p;
  }
}

void PartitionBook::revoke(const std::vector<TopicPartition>& partitions) {
  std::lock_guard lock(mu_);
  for (const auto& tp : partitions) {
    if (auto it = parts_.find(tp); it != parts_.end()) it->second.revoked = true;
  }
}

void PartitionBook::drop(const std::vector<TopicPartition>& partitions) {
  std::lock_guard lock(mu_);
  for (const auto& tp : partitions) {
    auto it = parts_.find(tp);
    if (it == parts_.end()) continue;
    by_epoch_.erase(it->second.epoch);
    parts_.erase(it);
  }
  // Tags of dropped partitions stay until acked (finish() ignores them), so the map only holds
  // what the host still has in hand.
}

void PartitionBook::clear() {
  std::lock_guard lock(mu_);
  by_epoch_.clear();
  parts_.clear();
}

std::uint64_t PartitionBook::tag_locked(const Partition& p, std::int64_t offset) {
  constexpr std::uint64_t kMaxEpoch = (kLookedUp >> kOffsetBits) - 1;
  if (offset >= 0 && offset < (std::int64_t{1} << kOffsetBits) && p.epoch <= kMaxEpoch) {
    return (p.epoch << kOffsetBits) | static_cast<std::uint64_t>(offset);
  }
  std::uint64_t tag = kLookedUp | next_tag_++;
  tags_.emplace(tag, Tagged{p.epoch, offset});
  return tag;
}

std::optional<std::uint64_t> PartitionBook::track(const TopicPartition& tp, std::int64_t offset) {
  std::vector<Handover> one{{&tp.topic, tp.partition, offset, 0}};
  track(one);
  if (one.front().tag == 0) return std::nullopt;
  return one.front().tag;
}

void PartitionBook::track(std::vector<Handover>& burst) {
  std::lock_guard lock(mu_);
  // A burst mostly comes from one partition at a time: the last one found is tried first.
  Partition* last = nullptr;
  const std::string* last_topic = nullptr;
  std::int32_t last_partition = -1;
  for (auto& h : burst) {
    if (last_topic == nullptr || h.partition != last_partition || *h.topic != *last_topic) {
      auto it = parts_.find(TopicPartition{*h.topic, h.partition});
      last = it == parts_.end() ? nullptr : &it->second;
      last_topic = h.topic;
      last_partition = h.partition;
    }
    if (last == nullptr || last->revoked) {
      h.tag = 0;
      continue;
    }
    last->tracker.track(h.offset);
    h.tag = tag_locked(*last, h.offset);
  }
}

bool PartitionBook::finish(std::uint64_t tag) {
  {
    std::lock_guard lock(mu_);
    Tagged tagged;
    if ((tag & kLookedUp) != 0) {
      auto t = tags_.find(tag);
      if (t == tags_.end()) return false;
      tagged = t->second;
      tags_.erase(t);
    } else {
      tagged = {tag >> kOffsetBits,
                static_cast<std::int64_t>(tag & ((std::uint64_t{1} << kOffsetBits) - 1))};
    }
    auto p = by_epoch_.find(tagged.epoch);
    if (p == by_epoch_.end()) return false;  // given up or assigned again since
    if (!p->second->tracker.finish(tagged.offset)) return false;
  }
  finished_.notify_all();
  return true;
}

std::size_t PartitionBook::in_flight_locked(const std::vector<TopicPartition>& partitions) const {
  std::size_t n = 0;
  if (partitions.empty()) {
    for (const auto& [tp, p] : parts_) n += p.tracker.in_flight();
    return n;
  }
  for (const auto& tp : partitions) {
    if (auto it = parts_.find(tp); it != parts_.end()) n += it->second.tracker.in_flight();
  }
  return n;
}

bool PartitionBook::wait_idle(const std::vector<TopicPartition>& partitions,
                              std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mu_);
  return finished_.wait_until(lock, deadline, [&] { return in_flight_locked(partitions) == 0; });
}

std::vector<CommitPoint> PartitionBook::commit_points(
    const std::vector<TopicPartition>& partitions) {
  std::lock_guard lock(mu_);
  std::vector<CommitPoint> out;
  auto add = [&](const TopicPartition& tp, const Partition& p) {
    if (auto point = p.tracker.commit_point()) out.push_back({tp, *point});
  };
  if (partitions.empty()) {
    for (const auto& [tp, p] : parts_) add(tp, p);
  } else {
    for (const auto& tp : partitions) {
      if (auto it = parts_.find(tp); it != parts_.end()) add(tp, it->second);
    }
  }
  return out;
}

void PartitionBook::committed(const std::vector<CommitPoint>& points) {
  std::lock_guard lock(mu_);
  for (const auto& c : points) {
    if (auto it = parts_.find(c.tp); it != parts_.end()) it->second.tracker.committed(c.offset);
  }
}

std::vector<TopicPartition> PartitionBook::assigned() {
  std::lock_guard lock(mu_);
  std::vector<TopicPartition> out;
  for (const auto& [tp, p] : parts_) {
    if (!p.revoked) out.push_back(tp);
  }
  return out;
}

std::size_t PartitionBook::in_flight() {
  std::lock_guard lock(mu_);
  return in_flight_locked({});
}

std::optional<std::int64_t> PartitionBook::last_committed(const TopicPartition& tp) {
  std::lock_guard lock(mu_);
  auto it = parts_.find(tp);
  if (it == parts_.end() || it->second.tracker.last_committed() < 0) return std::nullopt;
  return it->second.tracker.last_committed();
}

}  // namespace sidecar::kafka
