#include "topic_tail.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <thread>

#include "kafka_message.hpp"
#include "listener.hpp"

namespace sidecar::kafka {

TopicTail::TopicTail(HostServices* host, const KafkaSettings& settings)
    : ClientLog(host, "reply reader"), settings_(settings) {}

TopicTail::~TopicTail() {
  if (rk_) rd_kafka_consumer_close(rk_.get());
}

Status TopicTail::open(const std::string& topic, int partitions,
                       std::chrono::milliseconds timeout) {
  // assign() needs a group id even though this reader never joins the group nor commits.
  ConfResult conf = build_conf(settings_, ClientRole::listener, "sidecar-reply-" + random_token());
  if (!conf.conf) return Status::error("kafka reply reader: " + conf.error);
  install(conf.conf.get());
  char errstr[512];
  rk_.reset(rd_kafka_new(RD_KAFKA_CONSUMER, conf.conf.get(), errstr, sizeof errstr));
  if (!rk_) return Status::error(fmt::format("kafka reply reader: {}", errstr));
  (void)conf.conf.release();
  rd_kafka_poll_set_consumer(rk_.get());

  const auto deadline = std::chrono::steady_clock::now() + timeout;
  PartitionList list = make_partition_list(partitions);
  for (int p = 0; p < partitions; ++p) {
    std::int64_t low = 0;
    std::int64_t high = 0;
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
    // A topic created a moment ago answers "not leader" until its metadata has spread: retry.
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      err = rd_kafka_query_watermark_offsets(rk_.get(), topic.c_str(), p, &low, &high,
                                             static_cast<int>(std::max<long>(left.count(), 1)));
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR || std::chrono::steady_clock::now() >= deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (err) {
      return Status::error(
          fmt::format("kafka: end of topic '{}' [{}]: {}", topic, p, rd_kafka_err2str(err)));
    }
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p)->offset = high;
  }
  if (rd_kafka_resp_err_t err = rd_kafka_assign(rk_.get(), list.get())) {
    return Status::error(
        fmt::format("kafka: reading topic '{}': {}", topic, rd_kafka_err2str(err)));
  }
  return Status::ok();
}

std::optional<Message> TopicTail::next(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    MessageHandle m(rd_kafka_consumer_poll(rk_.get(), static_cast<int>(left.count())));
    if (!m) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) return to_message(*m);
    if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      log(LogLevel::warn, rd_kafka_message_errstr(m.get()));
    }
  }
}

}  // namespace sidecar::kafka
