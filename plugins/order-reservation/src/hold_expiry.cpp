#include "hold_expiry.hpp"

#include <algorithm>

#include "inventory/events.hpp"
#include "inventory/settlement.hpp"
#include "sidecar/host_services.hpp"

namespace sidecar::order_reservation {

HoldExpiry::HoldExpiry(const std::string& dsn, std::chrono::milliseconds timeout,
                       std::string emit_topic, HostServices* host)
    : pg_(dsn, inventory::prepare_settlement),
      timeout_(timeout),
      emit_topic_(std::move(emit_topic)),
      host_(host) {}

HoldExpiry::~HoldExpiry() { stop(); }

void HoldExpiry::start() {
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void HoldExpiry::stop() noexcept {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::size_t HoldExpiry::sweep_once(std::int64_t limit) {
  std::lock_guard sweep(sweep_mu_);
  pqxx::work tx(pg_.get());
  auto orders = inventory::expired_holds(tx, timeout_.count(), limit);
  std::size_t released = 0;
  if (!orders.empty()) {
    // Chosen oldest first, released in order_id order: the lock order payments take too
    // (products, then reservations by order, then each order's decision; migration 0011).
    std::sort(orders.begin(), orders.end());
    inventory::lock_held_products(tx, orders);
    inventory::lock_held_reservations(tx, orders);
    for (std::int64_t order_id : orders) {
      // The cause is the order itself: it is reserved once, so its hold expires at most once.
      auto event =
          inventory::inventory_event(emit_topic_,
                                     inventory::event_key("order/" + std::to_string(order_id),
                                                          "inventory.FAILED.hold_expired"),
                                     order_id, "FAILED", kHoldExpiredReason);
      if (inventory::expire_hold(tx, order_id, event) > 0) ++released;
    }
  }
  tx.commit();
  if (released > 0 && host_ != nullptr) {
    host_->counter_add("sidecar_holds_expired_total", {}, static_cast<double>(released));
    host_->log(LogLevel::info, "released " + std::to_string(released) + " expired holds");
  }
  return released;
}

void HoldExpiry::run() noexcept {
  // Often enough that a hold outlives its timeout by at most a quarter of it (or 5 s).
  auto interval = std::clamp<std::chrono::milliseconds>(timeout_ / 4, std::chrono::milliseconds(50),
                                                        std::chrono::milliseconds(5000));
  bool warned = false;
  while (!stopping_) {
    bool more = false;
    try {
      more = sweep_once() == 100;
      warned = false;
    } catch (const std::exception& e) {
      inventory::DbFault fault = inventory::classify(e);
      if (fault == inventory::DbFault::broken) {
        std::lock_guard sweep(sweep_mu_);
        pg_.reset();
      }
      if (!warned && host_ != nullptr) {
        host_->log(LogLevel::warn, std::string("hold expiry: ") + e.what());
        warned = true;
      }
    }
    if (more) continue;
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, interval, [&] { return stopping_.load(); });
  }
}

}  // namespace sidecar::order_reservation
