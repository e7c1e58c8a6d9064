#include "listener.hpp"

#include <fmt/format.h>

#include <chrono>
#include <random>

#include "client_log.hpp"
#include "kafka_handles.hpp"
#include "kafka_message.hpp"

namespace sidecar::kafka {

namespace {

class Listener final : public ClientLog {
 public:
  explicit Listener(HostServices* host) : ClientLog(host, "listener") {}
  ~Listener() override {
    if (rk_) rd_kafka_consumer_close(rk_.get());
  }

  Status run(const KafkaSettings& settings, const std::string& topic,
             const std::function<bool(const Message&)>& on_message,
             const std::function<bool()>& should_stop) {
    // Its offsets are never committed, so the group leaves nothing behind once it is gone.
    ConfResult conf =
        build_conf(settings, ClientRole::listener, "sidecar-listen-" + random_token());
    if (!conf.conf) return Status::error("kafka listener: " + conf.error);
    install(conf.conf.get());
    // Waiting for a topic that does not exist yet is what a listener is for.
    char errstr[512];
    rk_.reset(rd_kafka_new(RD_KAFKA_CONSUMER, conf.conf.get(), errstr, sizeof errstr));
    if (!rk_) return Status::error(fmt::format("kafka listener: {}", errstr));
    (void)conf.conf.release();
    rd_kafka_poll_set_consumer(rk_.get());
    PartitionList subscription = make_partition_list(1);
    rd_kafka_topic_partition_list_add(subscription.get(), topic.c_str(), RD_KAFKA_PARTITION_UA);
    if (rd_kafka_resp_err_t err = rd_kafka_subscribe(rk_.get(), subscription.get())) {
      return Status::error(
          fmt::format("kafka listener: subscribe to '{}': {}", topic, rd_kafka_err2str(err)));
    }
    const int poll_ms = static_cast<int>(settings.poll_timeout.count());
    std::string last_error;
    while (!should_stop()) {
      MessageHandle m(rd_kafka_consumer_poll(rk_.get(), poll_ms));
      if (!m) continue;
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (!on_message(to_message(*m))) break;
      } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        std::string text = fmt::format("topic '{}': {}", topic, rd_kafka_message_errstr(m.get()));
        if (text != last_error) log(LogLevel::warn, text);
        last_error = std::move(text);
      }
    }
    return Status::ok();
  }

 private:
  KafkaHandle rk_;
};

}  // namespace

std::string random_token() {
  static thread_local std::mt19937_64 gen{std::random_device{}()};
  return fmt::format("{:016x}", gen());
}

Status listen_topic(HostServices* host, const KafkaSettings& settings, const std::string& topic,
                    const std::function<bool(const Message&)>& on_message,
                    const std::function<bool()>& should_stop) {
  Listener listener(host);
  return listener.run(settings, topic, on_message, should_stop);
}

}  // namespace sidecar::kafka
