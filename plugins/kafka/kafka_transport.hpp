#pragma once
// The Kafka transport: a consumer group in, an idempotent producer out (see PRODUCT.md and
// issue 4). It owns no business logic: it turns Kafka into sidecar::Messages and back.
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "group_consumer.hpp"
#include "kafka_options.hpp"
#include "partition_book.hpp"
#include "producer.hpp"
#include "sidecar/options.hpp"
#include "sidecar/transport.hpp"

namespace sidecar::kafka {

class KafkaTransport final : public Transport {
 public:
  // Throws std::invalid_argument for an option value it cannot use.
  explicit KafkaTransport(const Options& options);
  ~KafkaTransport() override;
  KafkaTransport(const KafkaTransport&) = delete;
  KafkaTransport& operator=(const KafkaTransport&) = delete;

  static std::vector<OptionSpec> option_specs() { return kafka::option_specs(); }

  Status start(const TransportContext& ctx) noexcept override;
  void stop() noexcept override;
  void pause() noexcept override;
  void resume() noexcept override;
  void ack(const Message& msg, const Reply& reply) noexcept override;
  void publish(const Message& msg, PublishCallback done) noexcept override;
  bool ready() const noexcept override;

  Reply request(const Message& msg, std::chrono::milliseconds timeout) noexcept override;
  Status listen(const std::string& topic, const std::function<bool(const Message&)>& on_message,
                const std::function<bool()>& should_stop) noexcept override;

 private:
  // The running producer, or (client side) one opened on first use; it lives as long as the
  // transport.
  Producer* producer(Status& status) noexcept;
  Reply request_unguarded(const Message& msg, std::chrono::milliseconds timeout);
  void log(LogLevel level, const std::string& text) const noexcept;

  KafkaSettings settings_;
  HostServices* host_ = nullptr;
  mutable std::mutex mu_;  // guards the members below, never held across a broker call
  bool running_ = false;
  std::unique_ptr<GroupConsumer> consumer_;
  // Every producer and book this transport made, kept until it is destroyed: publish() and ack()
  // read the current ones through the plain pointers below once per message, without the lock
  // and the reference counting of an atomic shared_ptr, so one of them racing stop() may still
  // use an object stop() has just closed, which must therefore stay allocated. A transport makes
  // a book per start() and a producer per start() or per client-side first use; a closed
  // producer has released its client and thread. The producers are declared last, so they are
  // destroyed (closed, their callbacks answered) before the books those callbacks finish in.
  std::vector<std::shared_ptr<PartitionBook>> books_;
  std::vector<std::shared_ptr<Producer>> producers_;
  std::atomic<Producer*> producer_{nullptr};
  std::atomic<PartitionBook*> book_{nullptr};
};

}  // namespace sidecar::kafka
