#include "kafka_fixture.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

namespace sidecar::test::kafka {

std::string EchoSetup::yaml() const {
  std::string props = librdkafka.empty() ? " {}" : "";
  for (const auto& [k, v] : librdkafka) props += fmt::format("\n        {}: \"{}\"", k, v);
  return fmt::format(R"(log_level: info
plugin_dir: ${{SIDECAR_PLUGIN_DIR}}
admin: ${{ADMIN_ADDR}}
max_message_bytes: {max_message_bytes}
dead_letter: {dlq}
bus:
  workers: {workers}
  queue_capacity: {queue_capacity}
  max_attempts: 3
  backoff_initial: 20ms
  backoff_max: 500ms
  drain_timeout: 10s
transports:
  kafka:
    plugin: kafka
    options:
      brokers: ${{KAFKA_BROKERS}}
      group_id: {group}
      commit_interval: {commit_interval}
      revoke_timeout: 10s
      listen_offset_reset: {listen_offset_reset}
      librdkafka:{props}
handlers:
  echo:
    plugin: echo
    batch_size: {batch_size}
    options:
      to: {out}
routes:
  - {{topic: {in}, transport: kafka, handler: echo, key_field: order_id}}
outputs:
  "*": kafka
)",
                     fmt::arg("max_message_bytes", max_message_bytes), fmt::arg("dlq", dlq),
                     fmt::arg("workers", workers), fmt::arg("queue_capacity", queue_capacity),
                     fmt::arg("group", group), fmt::arg("commit_interval", commit_interval),
                     fmt::arg("listen_offset_reset", listen_offset_reset), fmt::arg("props", props),
                     fmt::arg("batch_size", batch_size), fmt::arg("out", out), fmt::arg("in", in));
}

Properties quick_session() {
  return {{"session.timeout.ms", "6000"}, {"heartbeat.interval.ms", "500"}};
}

void throttle(EchoSetup& setup, int queue_capacity, int linger_ms) {
  setup.queue_capacity = queue_capacity;
  setup.librdkafka["linger.ms"] = std::to_string(linger_ms);
}

std::string order_payload(int order_id, int seq, int n) {
  return fmt::format(R"({{"order_id":{},"seq":{},"n":{}}})", order_id, seq, n);
}

std::optional<OrderPayload> parse_order_payload(const std::optional<std::string>& value) {
  if (!value) return std::nullopt;
  OrderPayload p;
  if (std::sscanf(value->c_str(), R"({"order_id":%d,"seq":%d,"n":%d})", &p.order_id, &p.seq,
                  &p.n) != 3) {
    return std::nullopt;
  }
  return p;
}

void KafkaPipeline::SetUp() {
  const char* b = std::getenv("KAFKA_BROKERS");
  ASSERT_TRUE(b != nullptr && *b != '\0')
      << "KAFKA_BROKERS is not set: these tests need an Apache Kafka broker. Run them through "
         "`make test` (tests/run.sh), or start one with `tests/kafka/broker.sh start` and "
         "`eval \"$(tests/kafka/broker.sh env)\"`.";
  brokers_ = b;
  client_ = std::make_unique<Client>(brokers_);
}

std::string KafkaPipeline::unique(const std::string& prefix) const {
  static std::mt19937_64 gen{std::random_device{}()};
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return fmt::format("{}-{}-{:08x}", prefix, info != nullptr ? info->name() : "test",
                     static_cast<std::uint32_t>(gen()));
}

EchoSetup KafkaPipeline::fresh_setup() const {
  EchoSetup s;
  s.in = unique("in");
  s.out = unique("out");
  s.dlq = unique("dlq");
  s.group = unique("group");
  return s;
}

void KafkaPipeline::produce_orders(Client& client, const std::string& topic, int count,
                                   int orders) {
  std::vector<int> seq(static_cast<std::size_t>(orders), 0);
  for (int n = 0; n < count; ++n) {
    int order = n % orders + 1;
    client.produce(topic, std::to_string(order),
                   order_payload(order, seq[static_cast<std::size_t>(order - 1)]++, n));
  }
  client.flush();
}

bool KafkaPipeline::wait_all_committed(Client& client, const std::string& group,
                                       const std::string& topic, int partitions,
                                       std::chrono::milliseconds timeout, std::string& why) {
  auto highs = client.high_watermarks(topic, partitions);
  std::vector<std::int64_t> seen;
  bool ok = eventually(
      [&] {
        seen = client.committed(group, topic, partitions);
        return seen == highs;
      },
      timeout, std::chrono::milliseconds(250));
  if (!ok)
    why = fmt::format("committed {} vs high watermarks {}", fmt::join(seen, ","),
                      fmt::join(highs, ","));
  return ok;
}

long KafkaPipeline::expect_complete(Client& client, const std::string& topic, int partitions,
                                    int count) {
  auto records = client.read_all(topic, partitions);
  std::vector<int> copies(static_cast<std::size_t>(count), 0);
  long unparsed = 0;
  for (const auto& r : records) {
    auto p = parse_order_payload(r.value);
    if (!p || p->n < 0 || p->n >= count) {
      ++unparsed;
      continue;
    }
    ++copies[static_cast<std::size_t>(p->n)];
    // The echo keeps the key: the order id.
    EXPECT_EQ(r.key, std::to_string(p->order_id)) << "message " << p->n;
  }
  EXPECT_EQ(unparsed, 0) << "output messages that are not test messages";
  long missing = 0;
  int first_missing = -1;
  for (int n = 0; n < count; ++n) {
    if (copies[static_cast<std::size_t>(n)] == 0) {
      if (first_missing < 0) first_missing = n;
      ++missing;
    }
  }
  EXPECT_EQ(missing, 0) << "messages lost, the first: " << first_missing;
  return static_cast<long>(records.size()) - (count - missing);
}

std::int64_t count_or_minus_one(Client& client, const std::string& topic, int partitions) {
  try {
    return client.total(topic, partitions);
  } catch (const std::exception&) {
    return -1;
  }
}

PrivateBroker::PrivateBroker() : dir_(temp_dir()) {
  port_ = free_port();
  controller_port_ = free_port();
  while (controller_port_ == port_) controller_port_ = free_port();
  brokers_ = fmt::format("127.0.0.1:{}", port_);
}

PrivateBroker::~PrivateBroker() {
  try {
    stop();
  } catch (const std::exception& e) {
    fmt::print(stderr, "stopping the private broker: {}\n", e.what());
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void PrivateBroker::run_script(const std::string& command) {
  const std::string log = dir_ + "/broker-script.log";
  // The script runs under its own environment: only the ports differ from the shared broker.
  std::string line = fmt::format(
      "KAFKA_PORT={} KAFKA_CONTROLLER_PORT={} '{}/tests/kafka/broker.sh' {} '{}/kafka' >>'{}' 2>&1",
      port_, controller_port_, source_dir(), command, dir_, log);
  int rc = std::system(line.c_str());
  if (rc != 0) {
    std::ifstream in(log);
    std::stringstream ss;
    ss << in.rdbuf();
    throw std::runtime_error(fmt::format("broker.sh {} failed ({}):\n{}", command, rc, ss.str()));
  }
}

void PrivateBroker::start() {
  run_script("start");
  started_ = true;
}

void PrivateBroker::stop() {
  if (!started_) return;
  started_ = false;
  run_script("stop");
}

}  // namespace sidecar::test::kafka
