#pragma once
// Per-partition commit point for a transport whose messages finish out of order: the offset to
// commit is the lowest one not yet finished, i.e. everything below it has a final outcome.
#include <cstdint>
#include <optional>
#include <set>

namespace sidecar {

class OffsetTracker {
 public:
  // A message at `offset` has been handed to the host.
  void track(std::int64_t offset) {
    pending_.insert(offset);
    if (offset + 1 > high_) high_ = offset + 1;
    if (start_ < 0 || offset < start_) start_ = offset;
  }
  // Its outcome is final.
  void finish(std::int64_t offset) { pending_.erase(offset); }

  // The next offset to commit (Kafka's convention: the first not yet processed), or nothing
  // when it has not moved since the last call to committed().
  [[nodiscard]] std::optional<std::int64_t> commit_point() const {
    std::int64_t point = pending_.empty() ? high_ : *pending_.begin();
    if (point < 0 || point == committed_) return std::nullopt;
    // Nothing finished yet: committing where consumption started says nothing new.
    if (committed_ < 0 && point <= start_) return std::nullopt;
    return point;
  }
  void committed(std::int64_t point) { committed_ = point; }
  [[nodiscard]] std::size_t in_flight() const { return pending_.size(); }
  [[nodiscard]] std::int64_t last_committed() const { return committed_; }

 private:
  std::set<std::int64_t> pending_;
  std::int64_t high_ = -1;
  std::int64_t start_ = -1;  // the lowest offset tracked
  std::int64_t committed_ = -1;
};

}  // namespace sidecar
