#pragma once
// What the Kafka transport tests share: the broker address, topics of their own, a recording
// sink, and a plain librdkafka client to look at the broker independently of the transport.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "kafka_handles.hpp"
// testkit.hpp's Host::counter_add and gauge_set take a parameter `name` that shadows its member
// `name` (-Wshadow); silenced here until the SDK renames one of them.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"
#include "sidecar/testkit.hpp"
#pragma GCC diagnostic pop
#include "sidecar/transport.hpp"

namespace sidecar::kafka::test {

// Fails the test when KAFKA_BROKERS is missing: a Kafka test that cannot reach Kafka has not
// passed.
class KafkaTest : public ::testing::Test {
 protected:
  void SetUp() override;
  // A fresh name, so that runs and tests never share a topic or a group.
  std::string unique(const std::string& prefix) const;
  Options options(std::map<std::string, OptionValue> given = {}) const;

  std::string brokers_;
};

// A testkit host that can also echo the transport's log lines (KAFKA_TEST_VERBOSE=1).
class Host : public testkit::Host {
 public:
  void log(LogLevel level, std::string_view text) noexcept override;
  // A copy taken under the lock: the transport logs from its own threads.
  std::vector<LogLine> log_lines();

 private:
  std::mutex copy_mu_;
  std::vector<LogLine> lines_;
};

class RecordingSink : public InboundSink {
 public:
  // Runs inline on the transport's poll thread for every delivered message.
  std::function<void(const Message&)> on_deliver;

  void deliver(Message msg) noexcept override;
  bool wait_for(std::size_t count, std::chrono::milliseconds timeout);
  std::vector<Message> messages();
  std::size_t size();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Message> messages_;
};

// A plain librdkafka client on the same broker.
class Broker {
 public:
  explicit Broker(std::string brokers);

  void create_topic(const std::string& topic, int partitions);
  // Produces and waits for the delivery; returns (partition, offset). A null value when
  // payload is nullopt (a tombstone).
  std::pair<std::int32_t, std::int64_t> produce(const std::string& topic, const std::string& key,
                                                const std::optional<std::string>& payload,
                                                const std::vector<Header>& headers = {},
                                                std::int32_t partition = -1);
  // The group's committed offset of a partition; -1 when none.
  std::int64_t committed(const std::string& group, const std::string& topic,
                         std::int32_t partition);
  // Waits until the committed offset equals `expected`; the last value seen.
  std::int64_t wait_committed(const std::string& group, const std::string& topic,
                              std::int32_t partition, std::int64_t expected,
                              std::chrono::milliseconds timeout);
  // The group's state ("Empty", "Stable", ...) and member count.
  std::pair<std::string, int> group_state(const std::string& group);
  // Every message of the topic from the beginning, waiting until `count` have been read.
  std::vector<Message> read_all(const std::string& topic, std::size_t count,
                                std::chrono::milliseconds timeout);

 private:
  std::string brokers_;
  KafkaHandle producer_;
};

using sidecar::testkit::eventually;

}  // namespace sidecar::kafka::test
