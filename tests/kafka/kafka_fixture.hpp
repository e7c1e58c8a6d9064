#pragma once
// What the Kafka integration tests share: the broker from KAFKA_BROKERS (a test fails when it is
// unset), names of their own, the sidecar's config for Kafka in → echo → Kafka out, the test
// payloads, and a private broker for the tests that stop one.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kafka_client.hpp"
#include "sidecar_process.hpp"

namespace sidecar::test::kafka {

// The sidecar of a test: the kafka transport, the echo handler from `in` to `out`.
struct EchoSetup {
  std::string in;
  std::string out;
  std::string dlq;
  std::string group;
  int workers = 4;
  int batch_size = 16;
  int queue_capacity = 1024;
  long max_message_bytes = 1048576;  // the host's limit; larger messages are dead-lettered
  std::string commit_interval = "200ms";
  std::string listen_offset_reset = "latest";
  Properties librdkafka;  // passed through under options.librdkafka

  [[nodiscard]] std::string yaml() const;
};

// librdkafka settings for tests that stop a member: a dead member leaves its group after 6 s
// (the broker's minimum) instead of the default 45 s.
Properties quick_session();
// Slows the sidecar down, so that a test can act mid-stream: each output batch waits `linger_ms`
// before it is sent and only `queue_capacity` messages are in flight, which bounds throughput to
// about queue_capacity / linger per second (with 1024 and 50 ms measured at ~2,000/s: the pause
// and resume of the consumer at a full queue cost more than the linger). Adds to `setup`.
void throttle(EchoSetup& setup, int queue_capacity, int linger_ms);

// The payload of test message `n` of order `order_id`, the `seq`th of its order.
std::string order_payload(int order_id, int seq, int n);
struct OrderPayload {
  int order_id = -1;
  int seq = -1;
  int n = -1;
};
std::optional<OrderPayload> parse_order_payload(const std::optional<std::string>& value);

class KafkaPipeline : public ::testing::Test {
 protected:
  void SetUp() override;

  // A fresh name per test and run: topics and groups are never shared.
  std::string unique(const std::string& prefix) const;
  // A setup with fresh in/out/dlq topics and group.
  EchoSetup fresh_setup() const;
  // Produces `count` order messages, `orders` distinct keys, order k's messages numbered 0...
  void produce_orders(Client& client, const std::string& topic, int count, int orders);
  // Waits until the group has committed every input partition up to its high watermark;
  // returns false (with what was seen in `why`) on timeout.
  bool wait_all_committed(Client& client, const std::string& group, const std::string& topic,
                          int partitions, std::chrono::milliseconds timeout, std::string& why);
  // Reads the output and checks that every message 0..count-1 is in it at least once; returns
  // how many extra copies (duplicates) it holds.
  long expect_complete(Client& client, const std::string& topic, int partitions, int count);

  std::string brokers_;
  std::unique_ptr<Client> client_;
};

// One Apache Kafka broker of the test's own (tests/kafka/broker.sh with its own RUN_DIR and
// ports), for tests that stop a broker without disturbing the shared one. Stopped and removed
// when destroyed.
class PrivateBroker {
 public:
  PrivateBroker();
  ~PrivateBroker();
  PrivateBroker(const PrivateBroker&) = delete;
  PrivateBroker& operator=(const PrivateBroker&) = delete;

  void start();  // throws with the script's output when it fails
  void stop();
  [[nodiscard]] const std::string& brokers() const { return brokers_; }

 private:
  void run_script(const std::string& command);
  std::string dir_;
  int port_ = 0;
  int controller_port_ = 0;
  std::string brokers_;
  bool started_ = false;
};

// How many messages the topic holds (sum of its high watermarks), -1 when it cannot be asked.
std::int64_t count_or_minus_one(Client& client, const std::string& topic, int partitions);

}  // namespace sidecar::test::kafka
