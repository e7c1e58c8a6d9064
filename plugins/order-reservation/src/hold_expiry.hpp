#pragma once
// Releases holds a payment never settled: after `timeout`, an order's held reservations are
// released exactly as a FAILED payment releases them, and an inventory event FAILED with reason
// "hold_expired" says so. Several sidecars may sweep at once: each hold is released once, because
// the release only touches rows still held, under the product locks.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "inventory/pg.hpp"

namespace sidecar {
class HostServices;
}

namespace sidecar::order_reservation {

inline constexpr const char* kHoldExpiredReason = "hold_expired";

class HoldExpiry {
 public:
  HoldExpiry(const std::string& dsn, std::chrono::milliseconds timeout, std::string emit_topic,
             HostServices* host);
  ~HoldExpiry();
  HoldExpiry(const HoldExpiry&) = delete;
  HoldExpiry& operator=(const HoldExpiry&) = delete;

  void start();
  void stop() noexcept;
  // One sweep of at most `limit` orders; returns the orders released. Throws on database faults.
  std::size_t sweep_once(std::int64_t limit = 100);

 private:
  void run() noexcept;

  std::mutex sweep_mu_;  // the thread and a test's sweep_once() share pg_
  inventory::PgSession pg_;
  std::chrono::milliseconds timeout_;
  std::string emit_topic_;
  HostServices* host_;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::thread thread_;
};

}  // namespace sidecar::order_reservation
