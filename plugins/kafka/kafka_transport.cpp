#include "kafka_transport.hpp"

#include <fmt/format.h>

#include <future>

#include "kafka_message.hpp"
#include "listener.hpp"
#include "topic_tail.hpp"

namespace sidecar::kafka {

KafkaTransport::KafkaTransport(const Options& options) : settings_(parse_settings(options)) {}

KafkaTransport::~KafkaTransport() {
  stop();
  // The producer a client-side request() opened, if any; closing a closed one does nothing.
  if (Producer* client = producer_.exchange(nullptr)) client->close(settings_.revoke_timeout);
}

void KafkaTransport::log(LogLevel level, const std::string& text) const noexcept {
  if (host_ == nullptr) return;
  try {
    if (host_->log_enabled(level)) host_->log(level, "kafka: " + text);
  } catch (...) {
  }
}

Status KafkaTransport::start(const TransportContext& ctx) noexcept {
  try {
    std::lock_guard lock(mu_);
    if (running_) return Status::error("kafka: already started");
    if (ctx.host == nullptr) return Status::error("kafka: start needs the host services");
    if (!ctx.topics.empty() && ctx.sink == nullptr) {
      return Status::error("kafka: start needs a sink for its inbound topics");
    }
    host_ = ctx.host;
    log(LogLevel::debug,
        fmt::format("brokers={} group_id={} librdkafka: {}", settings_.brokers, settings_.group_id,
                    describe_properties(settings_.librdkafka)));
    auto producer = std::make_shared<Producer>(host_);
    if (Status st = producer->open(settings_); !st) return st;
    std::unique_ptr<GroupConsumer> consumer;
    if (!ctx.topics.empty()) {
      consumer = std::make_unique<GroupConsumer>(host_, ctx.sink, settings_);
      if (Status st = consumer->open(ctx.topics); !st) {
        producer->close(std::chrono::milliseconds(0));
        return st;
      }
      books_.push_back(consumer->book());
      book_.store(books_.back().get());
    }
    // A producer opened earlier for request() is replaced; its deliveries are flushed first.
    producers_.push_back(std::move(producer));
    if (Producer* earlier = producer_.exchange(producers_.back().get())) {
      earlier->close(settings_.revoke_timeout);
    }
    consumer_ = std::move(consumer);
    running_ = true;
    return Status::ok();
  } catch (const std::exception& e) {
    return Status::error(fmt::format("kafka: start: {}", e.what()));
  }
}

void KafkaTransport::stop() noexcept {
  std::unique_ptr<GroupConsumer> consumer;
  {
    std::lock_guard lock(mu_);
    if (!running_) return;
    consumer = std::move(consumer_);
  }
  // The producer and the book stay reachable meanwhile: in-flight messages still being acked
  // may need to send their replies.
  if (consumer) consumer->close();
  Producer* producer = nullptr;
  {
    std::lock_guard lock(mu_);
    producer = producer_.exchange(nullptr);
    book_.store(nullptr);
    running_ = false;
  }
  if (producer) producer->close(settings_.revoke_timeout);
}

void KafkaTransport::pause() noexcept {
  std::lock_guard lock(mu_);
  if (consumer_) consumer_->pause();
}

void KafkaTransport::resume() noexcept {
  std::lock_guard lock(mu_);
  if (consumer_) consumer_->resume();
}

void KafkaTransport::ack(const Message& msg, const Reply& reply) noexcept {
  // Once per message, on the thread serving delivery reports while a worker publishes: atomic
  // loads rather than the mutex both would take.
  PartitionBook* book = book_.load(std::memory_order_acquire);
  if (book == nullptr) return;
  const std::uint64_t tag = msg.delivery_tag;
  try {
    auto reply_to = msg.header(kReplyToHeader);
    Producer* producer = nullptr;
    if (reply_to && !reply_to->empty()) producer = producer_.load(std::memory_order_acquire);
    if (producer != nullptr) {
      Message out;
      out.topic = *reply_to;
      out.key = msg.key;
      out.payload = reply.body.value_or("");
      if (auto correlation = msg.header(kCorrelationHeader)) {
        out.set_header(kCorrelationHeader, *correlation);
      }
      out.set_header(kStatusHeader, reply.status);
      out.set_header(kDetailHeader, reply.detail);
      HostServices* host = host_;
      std::string request_id = msg.id;
      // The offset is committed only once the reply is in Kafka: a crash before that delivers
      // the request again instead of losing its answer.
      producer->produce(
          out, [book, tag, host, request_id](const Status& st, std::int32_t, std::int64_t) {
            if (!st && host != nullptr) {
              host->log(LogLevel::error, fmt::format("kafka: the reply to {} was not delivered: {}",
                                                     request_id, st.message()));
            }
            // Finished either way: its outcome is final, and holding the offset back would stall
            // the partition's commits for good.
            book->finish(tag);
          });
      return;
    }
  } catch (const std::exception& e) {
    log(LogLevel::error, fmt::format("reply to {}: {}", msg.id, e.what()));
  }
  if (!book->finish(tag)) {
    log(LogLevel::debug, fmt::format("ack of {}: its partition is no longer ours", msg.id));
  }
}

Producer* KafkaTransport::producer(Status& status) noexcept {
  if (Producer* running = producer_.load(std::memory_order_acquire)) return running;
  std::lock_guard lock(mu_);
  if (Producer* opened = producer_.load()) return opened;
  try {
    auto p = std::make_shared<Producer>(host_);
    status = p->open(settings_);
    if (!status) return nullptr;
    producers_.push_back(std::move(p));
    producer_.store(producers_.back().get());
    return producers_.back().get();
  } catch (const std::exception& e) {
    status = Status::error(fmt::format("kafka: producer: {}", e.what()));
    return nullptr;
  }
}

void KafkaTransport::publish(const Message& msg, PublishCallback done) noexcept {
  Status st;
  Producer* p = producer(st);
  if (p == nullptr) {
    try {
      if (done) done(st);
    } catch (...) {
    }
    return;
  }
  try {
    p->produce(msg, std::move(done));
  } catch (const std::exception& e) {
    log(LogLevel::error, fmt::format("publish to '{}': {}", msg.topic, e.what()));
  }
}

bool KafkaTransport::ready() const noexcept {
  std::lock_guard lock(mu_);
  Producer* p = producer_.load();
  return running_ && p != nullptr && p->reachable();
}

Reply KafkaTransport::request(const Message& msg, std::chrono::milliseconds timeout) noexcept {
  try {
    return request_unguarded(msg, timeout);
  } catch (const std::exception& e) {
    return {"error", fmt::format("kafka: request: {}", e.what()), std::nullopt};
  }
}

Reply KafkaTransport::request_unguarded(const Message& msg, std::chrono::milliseconds timeout) {
  // 0 means the caller has no preference (transport.hpp).
  if (timeout.count() <= 0) timeout = std::chrono::seconds(10);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto left = [&] {
    return std::max(std::chrono::milliseconds(1),
                    std::chrono::duration_cast<std::chrono::milliseconds>(
                        deadline - std::chrono::steady_clock::now()));
  };
  Status st;
  Producer* p = producer(st);
  if (p == nullptr) return {"error", st.message(), std::nullopt};

  Message out = msg;
  auto reply_to = msg.header(kReplyToHeader);
  std::unique_ptr<TopicTail> replies;
  std::string correlation;
  if (reply_to && !reply_to->empty()) {
    correlation = msg.header(kCorrelationHeader).value_or("");
    if (correlation.empty()) {
      correlation = random_token();
      out.set_header(kCorrelationHeader, correlation);
    }
    // Reading from the reply topic's end starts before the request leaves, so a fast reply is
    // not missed; asking the producer first creates the topic where the broker allows it.
    std::string error;
    auto partitions = p->partition_count(*reply_to, left(), error);
    if (!partitions) return {"error", error, std::nullopt};
    replies = std::make_unique<TopicTail>(host_, settings_);
    if (Status opened = replies->open(*reply_to, *partitions, left()); !opened) {
      return {"error", opened.message(), std::nullopt};
    }
  }

  struct Delivery {
    Status status;
    std::int32_t partition = -1;
    std::int64_t offset = -1;
  };
  // Shared with the callback, which may run after a timed-out request has returned.
  auto promise = std::make_shared<std::promise<Delivery>>();
  auto delivered = promise->get_future();
  p->produce(out, [promise](const Status& s, std::int32_t partition, std::int64_t offset) {
    promise->set_value({s, partition, offset});
  });
  if (delivered.wait_until(deadline) != std::future_status::ready) {
    return {"error",
            fmt::format("kafka: no delivery report from topic '{}' within {} ms", msg.topic,
                        timeout.count()),
            std::nullopt};
  }
  Delivery d = delivered.get();
  if (!d.status) return {"error", d.status.message(), std::nullopt};
  std::string detail =
      fmt::format("delivered to {} [{}] at offset {}", msg.topic, d.partition, d.offset);
  if (!replies) return {"ok", detail, std::nullopt};

  while (std::chrono::steady_clock::now() < deadline) {
    auto reply = replies->next(left());
    if (!reply || reply->header(kCorrelationHeader) != correlation) continue;
    return {reply->header(kStatusHeader).value_or("ok"),
            reply->header(kDetailHeader).value_or(detail), std::move(reply->payload)};
  }
  return {"error",
          fmt::format("kafka: request {}; no reply on topic '{}' within {} ms", detail, *reply_to,
                      timeout.count()),
          std::nullopt};
}

Status KafkaTransport::listen(const std::string& topic,
                              const std::function<bool(const Message&)>& on_message,
                              const std::function<bool()>& should_stop) noexcept {
  try {
    return listen_topic(host_, settings_, topic, on_message, should_stop);
  } catch (const std::exception& e) {
    return Status::error(fmt::format("kafka: listen: {}", e.what()));
  }
}

}  // namespace sidecar::kafka
