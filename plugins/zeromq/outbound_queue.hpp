#pragma once
// Replies and events handed from any thread to the I/O thread, which alone may touch the sockets.
#include <cstdint>
#include <mutex>
#include <utility>
#include <variant>
#include <vector>

#include "sidecar/host_services.hpp"
#include "sidecar/message.hpp"
#include "sidecar/outcome.hpp"
#include "wakeup.hpp"

namespace sidecar::zeromq {

struct AckItem {
  std::uint64_t delivery_tag = 0;
  Reply reply;
};

struct PublishItem {
  Message msg;
  PublishCallback done;
};

using OutboundItem = std::variant<AckItem, PublishItem>;

class OutboundQueue {
 public:
  // Takes the item unless the queue is closed; a refused item is left untouched so the caller
  // can still answer its callback.
  template <class Item>
  bool push(Item&& item) noexcept {
    bool was_empty = false;
    try {
      std::lock_guard lock(mu_);
      if (!open_) return false;
      was_empty = items_.empty();
      items_.emplace_back(std::forward<Item>(item));
    } catch (...) {  // std::bad_alloc: report it as refused
      return false;
    }
    // One wake-up per batch: the I/O thread takes everything queued once it runs, so only the
    // push that finds the queue empty needs to write the eventfd.
    if (was_empty) wakeup_.signal();
    return true;
  }

  // Swaps everything queued into `out` (cleared first), keeping both buffers' capacity so the
  // steady state does not allocate.
  void take(std::vector<OutboundItem>& out) noexcept;
  [[nodiscard]] bool empty() const noexcept;

  void open() noexcept;
  // Refuses further pushes and hands over what is left.
  void close(std::vector<OutboundItem>& rest) noexcept;

  void wake() noexcept { wakeup_.signal(); }
  [[nodiscard]] int wake_fd() const noexcept { return wakeup_.fd(); }
  void drain_wakeups() noexcept { wakeup_.drain(); }

 private:
  mutable std::mutex mu_;
  std::vector<OutboundItem> items_;
  bool open_ = false;
  Wakeup wakeup_;
};

}  // namespace sidecar::zeromq
