#include "outbound_queue.hpp"

namespace sidecar::zeromq {

void OutboundQueue::take(std::vector<OutboundItem>& out) noexcept {
  out.clear();
  std::lock_guard lock(mu_);
  items_.swap(out);
}

bool OutboundQueue::empty() const noexcept {
  std::lock_guard lock(mu_);
  return items_.empty();
}

void OutboundQueue::open() noexcept {
  std::lock_guard lock(mu_);
  open_ = true;
}

void OutboundQueue::close(std::vector<OutboundItem>& rest) noexcept {
  rest.clear();
  std::lock_guard lock(mu_);
  open_ = false;
  items_.swap(rest);
}

}  // namespace sidecar::zeromq
