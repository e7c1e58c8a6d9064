#pragma once
// Publishes the outbox through the host's routed transport and marks a row sent only when the
// transport confirms it; an unconfirmed row stays unsent and is sent again later (at least once,
// with the same payload and so the same idempotent_key). Of the relays of several sidecars on one
// database, one publishes at a time: the one holding a session advisory lock, which it gives up
// when its transport refuses and which ends with its connection (the server ends a connection
// whose peer went silent within ~30 s). The others stand by and look again every poll interval.
// That needs no row locks, so no transaction stays open while the transport confirms. It needs a
// session of its own: through a transaction-pooling proxy the lock would stay on a pooled
// connection.
// Wakes on NOTIFY sidecar_outbox, and polls as a fallback for a missed notification.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <pqxx/pqxx>
#include <string>
#include <thread>

namespace sidecar {
class HostServices;
}

namespace sidecar::inventory {

struct RelayConfig {
  std::string dsn;
  std::chrono::milliseconds poll_interval{1000};
  // After a wake-up, how long to let more commits land before reading: one round (a read, the
  // publishes and a mark) then carries several events instead of one per order.
  std::chrono::milliseconds gather{5};
  std::size_t batch = 100;
  std::chrono::milliseconds confirm_timeout{10'000};
  std::chrono::seconds sent_retention{3600};  // sent rows older than this are deleted
};

inline constexpr const char* kOutboxChannel = "sidecar_outbox";

class OutboxRelay {
 public:
  OutboxRelay(RelayConfig config, HostServices* host);
  ~OutboxRelay();
  OutboxRelay(const OutboxRelay&) = delete;
  OutboxRelay& operator=(const OutboxRelay&) = delete;

  void start();
  void stop() noexcept;

  struct Round {
    std::size_t claimed = 0;
    std::size_t confirmed = 0;
  };
  // One claim, publish, mark round on the relay's connection (nothing claimed while another relay
  // leads); throws on database faults. For the thread and for tests that drive the relay by hand
  // (without start()).
  Round relay_once();
  [[nodiscard]] bool leading() const noexcept { return leading_.load(); }

 private:
  class Listener;
  void run() noexcept;
  pqxx::connection& connection();
  void disconnect() noexcept;
  void wait_for_work(std::chrono::milliseconds at_most);
  void report_backlog();
  void sleep_for(std::chrono::milliseconds d);
  bool lead();
  void drop_lead() noexcept;
  void step_down();

  RelayConfig config_;
  HostServices* host_;
  std::unique_ptr<pqxx::connection> conn_;
  std::unique_ptr<Listener> listener_;  // while leading; destroyed before conn_
  std::atomic<bool> woken_{false};
  std::atomic<bool> leading_{false};  // holds the publisher lock; written by the relay's thread
  int leader_pid_ = 0;                // the server process of the session that holds it
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::thread thread_;
  std::chrono::steady_clock::time_point next_backlog_{};
  std::chrono::steady_clock::time_point next_cleanup_{};
};

}  // namespace sidecar::inventory
