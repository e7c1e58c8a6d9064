#pragma once
// The idempotent producer: every produce() is answered exactly once, from its delivery report
// or at once when librdkafka refuses the message.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "client_log.hpp"
#include "kafka_handles.hpp"
#include "kafka_options.hpp"
#include "sidecar/host_services.hpp"
#include "sidecar/message.hpp"
#include "sidecar/status.hpp"

namespace sidecar::kafka {

class Producer final : public ClientLog {
 public:
  using Delivered =
      std::function<void(const Status& status, std::int32_t partition, std::int64_t offset)>;
  // A publish needs only the status: taking its callback as it is saves wrapping it in a
  // Delivered, which would allocate once per message.
  using Answer = std::variant<Delivered, PublishCallback>;

  explicit Producer(HostServices* host);
  ~Producer() override;

  // Creates the client and its poll thread. Fails only on a configuration librdkafka refuses;
  // an unreachable broker is retried in the background.
  Status open(const KafkaSettings& settings);
  // Any thread. `done` is called exactly once, possibly before produce() returns.
  void produce(const Message& msg, Answer done) noexcept;
  // Waits (bounded) for the outstanding deliveries, then fails those left and releases the
  // client. Idempotent.
  void close(std::chrono::milliseconds timeout) noexcept;

  // The last metadata request reached a broker, and the producer has not failed for good.
  [[nodiscard]] bool reachable() const noexcept { return reachable_.load() && !fatal_.load(); }
  [[nodiscard]] std::size_t outstanding() noexcept;

  // Asks a broker for the topic (a broker with auto-create on creates it) and returns its
  // partition count once every partition has a leader.
  std::optional<int> partition_count(const std::string& topic, std::chrono::milliseconds timeout,
                                     std::string& error) noexcept;

 private:
  void run() noexcept;
  void on_error(rd_kafka_resp_err_t err) noexcept override;
  // Hands the message to librdkafka; the error when it refuses.
  std::optional<rd_kafka_resp_err_t> enqueue(const Message& msg, void* opaque);
  void check_reachable() noexcept;
  void fail_all(const std::string& why) noexcept;
  static void dr_cb(rd_kafka_t* rk, const rd_kafka_message_t* m, void* opaque);

  // A message librdkafka holds, awaiting its delivery report. The node is the message's opaque,
  // so the report finds it without a lookup; the list only serves close(), which answers the
  // messages librdkafka never reported.
  struct Pending {
    Answer done;
    Pending* prev = nullptr;
    Pending* next = nullptr;
  };
  void link(Pending* p) noexcept;
  void unlink(Pending* p) noexcept;
  void unlink_locked(Pending* p) noexcept;  // mu_ held
  // Unlinks and frees the nodes answered by the delivery reports of the last poll, under one
  // lock: taking it per report made the worker and the reporting thread contend for it on every
  // message. Called by whichever thread serves the reports, after each poll or flush.
  void release_reported() noexcept;
  void answer(Pending* p, const Status& status, std::int32_t partition,
              std::int64_t offset) noexcept;

  KafkaHandle rk_;
  // Shared by the calls that use rk_, exclusive for releasing it.
  std::shared_mutex use_mu_;
  // Guards the list only (a few pointer writes): the producing worker takes it once per message,
  // the thread serving delivery reports once per poll.
  std::mutex mu_;
  Pending* pending_ = nullptr;
  std::size_t outstanding_ = 0;
  // Answered, still linked; only the thread serving delivery reports touches it (the poll
  // thread, then close() once that thread has ended).
  std::vector<Pending*> reported_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> reachable_{false};
  // An idempotent producer's fatal error (e.g. a fenced producer id) ends it: not ready again.
  std::atomic<bool> fatal_{false};
  std::thread poller_;
};

}  // namespace sidecar::kafka
