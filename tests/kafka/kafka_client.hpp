#pragma once
// A plain librdkafka client for the Kafka integration tests: creates topics, produces test data,
// reads topics back with their headers, and looks at watermarks and a group's committed offsets,
// independently of the sidecar under test.
#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "sidecar/testkit.hpp"

namespace sidecar::test::kafka {

struct KafkaDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
struct ConfDeleter {
  void operator()(rd_kafka_conf_t* conf) const { rd_kafka_conf_destroy(conf); }
};
using KafkaHandle = std::unique_ptr<rd_kafka_t, KafkaDeleter>;
using ConfHandle = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;

// A header value is null or bytes (not necessarily UTF-8).
using RecordHeader = std::pair<std::string, std::optional<std::string>>;

// One message as it is stored in Kafka: a null key or value stays distinguishable from an empty
// one.
struct Record {
  std::int32_t partition = -1;
  std::int64_t offset = -1;
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::vector<RecordHeader> headers;

  // The last header of that name; nullopt when there is none (or it is null).
  [[nodiscard]] std::optional<std::string> header(std::string_view name) const;
};

// Properties for librdkafka, e.g. {"linger.ms", "5"}.
using Properties = std::map<std::string, std::string>;

class Client {
 public:
  // Throws std::runtime_error when the client cannot be made. `producer` adds to (or overrides)
  // the producer's defaults: idempotence on, so that test input keeps its order.
  explicit Client(std::string brokers, const Properties& producer = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  [[nodiscard]] const std::string& brokers() const { return brokers_; }

  // Creates the topic (replication factor 1) with topic configs such as max.message.bytes and
  // waits until every partition has a leader. Throws on failure, naming the topic.
  void create_topic(const std::string& topic, int partitions, const Properties& configs = {});

  // Queues one message; flush() waits for every queued delivery and throws if one failed.
  // A nullopt key or value is produced as null. partition -1: the partitioner chooses.
  void produce(const std::string& topic, const std::optional<std::string>& key,
               const std::optional<std::string>& value,
               const std::vector<std::pair<std::string, std::string>>& headers = {},
               std::int32_t partition = -1);
  void flush(std::chrono::milliseconds timeout = std::chrono::seconds(60));

  // The high watermark of each partition 0..partitions-1 (a fresh query to the leader).
  std::vector<std::int64_t> high_watermarks(const std::string& topic, int partitions);
  std::int64_t total(const std::string& topic, int partitions);

  // The group's committed offset of each partition; -1 where none is committed.
  std::vector<std::int64_t> committed(const std::string& group, const std::string& topic,
                                      int partitions);

  // Every message of the topic from the beginning up to the high watermarks taken when called,
  // in partition order and, within a partition, in offset order.
  std::vector<Record> read_all(const std::string& topic, int partitions,
                               std::chrono::milliseconds timeout = std::chrono::seconds(60));

  // The group's state ("Empty", "Stable", "PreparingRebalance", ...) and its member count.
  std::pair<std::string, int> group_state(const std::string& group);

 private:
  static void on_delivery(rd_kafka_t* rk, const rd_kafka_message_t* m, void* opaque);
  KafkaHandle consumer(const std::string& group) const;

  std::string brokers_;
  KafkaHandle producer_;
  std::mutex mu_;
  long failures_ = 0;
  std::string first_failure_;
};

using sidecar::testkit::eventually;

}  // namespace sidecar::test::kafka
