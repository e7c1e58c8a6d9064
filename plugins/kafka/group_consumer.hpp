#pragma once
// The consumer-group side of `sidecar run`: hands messages to the host, commits per partition
// only what has a final outcome, and gives partitions up on a rebalance or a stop only after
// their in-flight messages are finished (bounded by revoke_timeout).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "client_log.hpp"
#include "kafka_handles.hpp"
#include "kafka_options.hpp"
#include "partition_book.hpp"
#include "sidecar/status.hpp"
#include "sidecar/transport.hpp"

namespace sidecar::kafka {

class GroupConsumer final : public ClientLog {
 public:
  GroupConsumer(HostServices* host, InboundSink* sink, KafkaSettings settings);
  ~GroupConsumer() override;

  // Subscribes and starts the poll thread. Fails only on a configuration librdkafka refuses.
  Status open(const std::vector<std::string>& topics);
  // Stops delivering, waits for in-flight messages (bounded), commits, leaves the group.
  // Idempotent.
  void close() noexcept;

  void pause() noexcept;
  void resume() noexcept;

  // Shared with the reply deliveries that finish a message after the consumer may be gone.
  [[nodiscard]] std::shared_ptr<PartitionBook> book() const { return book_; }

 private:
  void run() noexcept;
  void shutdown() noexcept;
  struct Fetched {
    Message msg;
    std::int32_t partition = 0;
    std::int64_t offset = 0;
  };
  void fetch(const rd_kafka_message_t& m) noexcept;
  void deliver(std::vector<Message>& burst) noexcept;
  [[nodiscard]] bool held() noexcept;    // paused, not yet for long
  [[nodiscard]] bool paused() noexcept;  // paused at all
  void handle_error(const rd_kafka_message_t& m) noexcept;
  void on_assign(rd_kafka_topic_partition_list_t* partitions) noexcept;
  void on_revoke(rd_kafka_topic_partition_list_t* partitions) noexcept;
  // Commits what is finished (all partitions when empty); waits at most `wait` for the answer.
  void commit(const std::vector<TopicPartition>& partitions,
              std::chrono::milliseconds wait) noexcept;
  void report_lag() noexcept;
  void set_paused(const std::vector<TopicPartition>& partitions, bool paused) noexcept;
  [[nodiscard]] bool cooperative() const noexcept;

  static void rebalance_cb(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                           rd_kafka_topic_partition_list_t* partitions, void* opaque);
  static void commit_cb(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                        rd_kafka_topic_partition_list_t* offsets, void* opaque);

  HostServices* host_;
  InboundSink* sink_;
  KafkaSettings settings_;
  KafkaHandle rk_;
  std::shared_ptr<PartitionBook> book_ = std::make_shared<PartitionBook>();
  // Orders pause()/resume() from the host's threads against assignments on the poll thread.
  std::mutex pause_mu_;
  std::condition_variable resumed_;
  bool paused_ = false;       // the host pushes back
  bool hard_paused_ = false;  // ... for longer than kSoftPauseLimit: partitions paused
  std::chrono::steady_clock::time_point held_since_{};
  static constexpr std::chrono::milliseconds kSoftPauseLimit{1000};
  static constexpr std::size_t kBurst = 512;
  std::vector<PartitionBook::Handover> handover_;  // the poll thread's, reused for each burst
  // Polled but not handed over yet: a poll that was waiting when the host paused us returns
  // messages after the pause, and those wait here until resume(). The poll thread's alone (the
  // rebalance callbacks run inside its polls); a revoke drops the held messages of the
  // partitions it takes away, which the next owner (or this one, later) reads again from the
  // committed offset.
  std::vector<Fetched> fetched_;
  std::atomic<bool> stop_{false};
  std::thread poller_;
  std::string last_error_;
  std::chrono::steady_clock::time_point last_error_at_{};
};

}  // namespace sidecar::kafka
