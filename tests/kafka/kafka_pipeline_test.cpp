// The real `sidecar` binary with the Kafka transport and the echo handler against Apache Kafka:
// per-key order with several workers, bad input, and the publish and listen commands.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <map>
#include <thread>

#include "kafka_fixture.hpp"

using namespace std::chrono_literals;

namespace sidecar::test::kafka {
namespace {

TEST_F(KafkaPipeline, EveryKeyKeepsItsOrderAndOffsetsAreCommittedAfterTheOutcome) {
  constexpr int kKeys = 20;
  constexpr int kPerKey = 200;
  constexpr int kPartitions = 4;
  EchoSetup s = fresh_setup();
  s.workers = 4;
  s.batch_size = 16;
  client_->create_topic(s.in, kPartitions);
  client_->create_topic(s.out, kPartitions);
  client_->create_topic(s.dlq, 1);
  produce_orders(*client_, s.in, kKeys * kPerKey, kKeys);

  SidecarProcess proc(s.yaml());
  proc.start();
  ASSERT_TRUE(proc.wait_ready()) << proc.log();
  std::string why;
  ASSERT_TRUE(wait_all_committed(*client_, s.group, s.in, kPartitions, 60s, why)) << why << "\n"
                                                                                  << proc.log();

  // Every message is acknowledged only after its echo is confirmed: all of them are out now.
  auto records = client_->read_all(s.out, kPartitions);
  ASSERT_EQ(records.size(), static_cast<std::size_t>(kKeys * kPerKey));
  std::map<std::string, std::vector<int>> by_key;
  std::map<std::string, std::int32_t> partition_of;
  for (const auto& r : records) {
    auto p = parse_order_payload(r.value);
    ASSERT_TRUE(p) << r.value.value_or("<null>");
    ASSERT_TRUE(r.key);
    EXPECT_EQ(*r.key, std::to_string(p->order_id));
    by_key[*r.key].push_back(p->seq);
    auto [it, first] = partition_of.emplace(*r.key, r.partition);
    EXPECT_TRUE(first || it->second == r.partition) << "key " << *r.key << " in two partitions";
  }
  ASSERT_EQ(by_key.size(), static_cast<std::size_t>(kKeys));
  for (const auto& [key, seqs] : by_key) {
    std::vector<int> expected(kPerKey);
    for (int i = 0; i < kPerKey; ++i) expected[static_cast<std::size_t>(i)] = i;
    EXPECT_EQ(seqs, expected) << "key " << key << " out of order or incomplete";
  }
  EXPECT_EQ(client_->total(s.dlq, 1), 0);
  EXPECT_EQ(proc.terminate(), 0) << proc.log();
}

TEST_F(KafkaPipeline, BadInputIsHandledOrDeadLetteredAndItsOffsetCommitted) {
  constexpr int kBig = 1024 * 1024;
  EchoSetup s = fresh_setup();
  s.max_message_bytes = 512 * 1024;  // the 1 MiB value is above it
  // The broker takes 1 MiB values on these topics (its default limit is just under).
  const Properties big_topic{{"max.message.bytes", "2097152"}};
  client_->create_topic(s.in, 1, big_topic);
  client_->create_topic(s.out, 1);
  client_->create_topic(s.dlq, 1, big_topic);

  Client producer(brokers_, {{"message.max.bytes", "2097152"}});
  const std::string invalid_utf8("\xff\xfe\x80 not utf-8", 14);
  producer.produce(s.in, std::nullopt, R"({"order_id":7,"case":"no key"})");       // 0
  producer.produce(s.in, std::string("8"), std::nullopt);                          // 1
  producer.produce(s.in, std::string("9"), std::string(kBig, 'x'));                // 2
  producer.produce(s.in, std::string("10"), R"({"order_id":10,"case":"header"})",  // 3
                   {{"trace", invalid_utf8}});
  producer.produce(s.in, std::string("11"), R"({"order_id":11,"case":"after"})");  // 4
  producer.flush();

  SidecarProcess proc(s.yaml());
  proc.start();
  ASSERT_TRUE(proc.wait_ready()) << proc.log();
  std::string why;
  ASSERT_TRUE(wait_all_committed(*client_, s.group, s.in, 1, 60s, why)) << why << "\n"
                                                                        << proc.log();

  // Different keys run on different workers: the echoes of different keys may come out in any
  // order, so they are looked up by key.
  auto out = client_->read_all(s.out, 1);
  ASSERT_EQ(out.size(), 4u) << proc.log();
  std::map<std::string, Record> by_key;
  for (const auto& r : out) by_key[r.key.value_or("<null>")] = r;
  ASSERT_EQ(by_key.size(), 4u);
  // No Kafka key: handled; the route's key_field gave it the order id as its key.
  ASSERT_TRUE(by_key.count("7"));
  EXPECT_EQ(by_key["7"].value, R"({"order_id":7,"case":"no key"})");
  // A tombstone: delivered to the handler as an empty payload marked kafka.tombstone, and passed
  // on by the echo as a tombstone again (a null value; the marker itself is not written).
  ASSERT_TRUE(by_key.count("8"));
  EXPECT_FALSE(by_key["8"].value) << *by_key["8"].value;
  EXPECT_FALSE(by_key["8"].header("kafka.tombstone"));
  // A header that is not UTF-8 is carried as bytes, unchanged.
  ASSERT_TRUE(by_key.count("10"));
  EXPECT_EQ(by_key["10"].header("trace"), invalid_utf8);
  // And consumption went on after all of them.
  ASSERT_TRUE(by_key.count("11"));
  EXPECT_EQ(by_key["11"].value, R"({"order_id":11,"case":"after"})");

  // The 1 MiB value is dead-lettered as too_large, with its bytes and its context.
  auto dead = client_->read_all(s.dlq, 1);
  ASSERT_EQ(dead.size(), 1u);
  const Record& d = dead[0];
  EXPECT_EQ(d.key, "9");
  ASSERT_TRUE(d.value);
  EXPECT_EQ(d.value->size(), static_cast<std::size_t>(kBig));
  EXPECT_EQ(d.value->find_first_not_of('x'), std::string::npos);
  EXPECT_EQ(d.header("sidecar.dlq.reason").value_or("").rfind("too_large", 0), 0u)
      << d.header("sidecar.dlq.reason").value_or("<none>");
  EXPECT_EQ(d.header("sidecar.dlq.source_topic"), s.in);
  EXPECT_EQ(d.header("kafka.partition"), "0");
  EXPECT_EQ(d.header("kafka.offset"), "2");

  auto metrics = http_get(proc.admin(), "/metrics");
  EXPECT_NE(metrics.body.find(fmt::format(
                "sidecar_messages_dead_lettered_total{{topic=\"{}\",handler=\"echo\"}} 1", s.in)),
            std::string::npos)
      << metrics.body;
  EXPECT_EQ(proc.terminate(), 0) << proc.log();
}

TEST_F(KafkaPipeline, PublishAndListenCommands) {
  EchoSetup s = fresh_setup();
  s.listen_offset_reset = "earliest";  // the listener sees the echo whenever it joins
  client_->create_topic(s.in, 1);
  client_->create_topic(s.out, 1);
  client_->create_topic(s.dlq, 1);
  SidecarProcess proc(s.yaml());
  proc.start();
  ASSERT_TRUE(proc.wait_ready()) << proc.log();

  // The CLI reads the same config; it needs neither the admin port nor a running pipeline.
  const std::map<std::string, std::string> env{{"ADMIN_ADDR", "127.0.0.1:1"},
                                               {"SIDECAR_PLUGIN_DIR", build_dir() + "/plugins"}};
  const std::string cfg = proc.config_path();
  RunResult listened;
  // `listen` runs until it is stopped; the harness ends it after its timeout.
  std::thread listener([&] {
    listened = run_sidecar({"listen", "-c", cfg, s.out}, env, std::chrono::seconds(8));
  });
  auto pub = run_sidecar({"publish", "-c", cfg, s.in, R"({"order_id":5,"via":"cli"})"}, env);
  EXPECT_EQ(pub.exit_code, 0) << pub.err;
  EXPECT_EQ(pub.out, fmt::format("ok: delivered to {} [0] at offset 0\n", s.in)) << pub.err;

  // The running sidecar echoes it; its offset is committed once the echo is confirmed.
  std::string why;
  EXPECT_TRUE(wait_all_committed(*client_, s.group, s.in, 1, 30s, why)) << why;
  listener.join();
  EXPECT_NE(listened.out.find(R"({"order_id":5,"via":"cli"})"), std::string::npos)
      << "stdout: " << listened.out << "\nstderr: " << listened.err;

  EXPECT_EQ(proc.terminate(), 0) << proc.log();
}

}  // namespace
}  // namespace sidecar::test::kafka
