// The README's Kafka walkthrough end to end: the real `sidecar` binary with the shipped
// configs/kafka.yaml, the inventory handlers on real PostgreSQL and Redis, Apache Kafka.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "kafka_client.hpp"
#include "sidecar_process.hpp"
#include "testdb.hpp"

using namespace sidecar::test;
using namespace sidecar::test::kafka;
namespace db = sidecar::inventory::testing;
using namespace std::chrono_literals;

namespace {

// Keys of their own: the ZeroMQ walkthrough test sends the README's keys to the same Redis, whose
// fast path would call these duplicates.

// The topics configs/kafka.yaml names, and one for query replies.
const std::vector<std::string> kTopics{"order", "payment",  "inventory",
                                       "dlq",   "products", "product-replies"};

}  // namespace

TEST(KafkaInventory, ReadmeWalkthroughOverKafka) {
  auto brokers = env_or_fail("KAFKA_BROKERS");
  auto dsn = db::fresh_database("sidecar_kafka_e2e");
  ASSERT_FALSE(dsn.empty());
  db::load_demo_data(dsn);
  Client client(brokers);
  for (const auto& t : kTopics) {
    try {
      client.create_topic(t, 4);
    } catch (const std::exception&) {
      // Already there from an earlier run on the same broker.
    }
  }
  auto inventory_start = client.total("inventory", 4);

  std::map<std::string, std::string> env{{"PG_DSN", dsn},
                                         {"REDIS_URL", db::require_env("REDIS_URL")},
                                         {"KAFKA_BROKERS", brokers},
                                         {"SIDECAR_MIGRATIONS", source_dir() + "/migrations"},
                                         {"SIDECAR_PLUGIN_DIR", build_dir() + "/plugins"}};
  SidecarProcess proc(read_text(source_dir() + "/configs/kafka.yaml"), env);
  env["ADMIN_ADDR"] = proc.admin();
  auto cli = [&](std::vector<std::string> args) {
    args.insert(args.begin() + 1, {"-c", proc.config_path()});
    return run_sidecar(args, env);
  };
  auto mig = cli({"migrate"});
  ASSERT_EQ(mig.exit_code, 0) << mig.err;
  proc.start();
  ASSERT_TRUE(proc.wait_ready(60s)) << proc.log();

  // Order 111 CREATED, as the order service would send it.
  auto pub = cli(
      {"publish", "order",
       R"({"idempotent_key":"8c3f5a1e-0b7d-4c1e-9a51-6f0e2d4b7b21","order_id":111,"status":"CREATED"})"});
  EXPECT_EQ(pub.exit_code, 0) << pub.err;
  EXPECT_EQ(pub.out.rfind("ok: delivered to order [", 0), 0u) << pub.out;
  ASSERT_TRUE(eventually([&] { return db::stock(dsn, 1) == 8; }, 30s)) << proc.log();
  EXPECT_EQ(db::stock(dsn, 2), 19);
  EXPECT_EQ(db::count_of(
                dsn, "SELECT count(*) FROM reservations WHERE order_id = 111 AND status IS NULL"),
            2);

  // The inventory event, keyed by the order id.
  std::optional<Record> event;
  EXPECT_TRUE(eventually(
      [&] {
        for (auto& r : client.read_all("inventory", 4)) {
          if (r.key == "111" && r.value &&
              r.value->find(R"("status":"CREATED")") != std::string::npos) {
            event = r;
          }
        }
        return event.has_value();
      },
      30s, 200ms));
  ASSERT_TRUE(event);
  EXPECT_NE(event->value->find(R"("order_id":111)"), std::string::npos) << *event->value;

  // Payment COMPLETED, then order 222 and payment FAILED.
  cli({"publish", "payment",
       R"({"idempotent_key":"0f5b8f8e-3c9a-4f7e-8d2b-1a2b3c4d5b21","order_id":111,"status":"COMPLETED"})"});
  EXPECT_TRUE(eventually(
      [&] {
        return db::count_of(
                   dsn, "SELECT count(*) FROM reservations WHERE order_id = 111 AND status") == 2;
      },
      30s));
  cli({"publish", "order",
       R"({"idempotent_key":"5d6e7f80-1a2b-4c3d-8e9f-a0b1c2d3eb21","order_id":222,"status":"CREATED"})"});
  EXPECT_TRUE(eventually([&] { return db::stock(dsn, 3) == 4; }, 30s));
  cli({"publish", "payment",
       R"({"idempotent_key":"9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7b21","order_id":222,"status":"FAILED"})"});
  EXPECT_TRUE(eventually([&] { return db::stock(dsn, 3) == 5 && db::stock(dsn, 4) == 8; }, 30s));
  EXPECT_EQ(
      db::count_of(dsn, "SELECT count(*) FROM reservations WHERE order_id = 222 AND NOT status"),
      2);

  // A product query with reply_to: the reply comes on that topic with the correlation id.
  client.produce("products", std::string("q"), std::string(R"({"ids":[1,3]})"),
                 {{"reply_to", "product-replies"}, {"correlation_id", "walkthrough-1"}});
  client.flush();
  std::optional<Record> reply;
  EXPECT_TRUE(eventually(
      [&] {
        for (auto& r : client.read_all("product-replies", 4)) {
          if (r.header("correlation_id") == "walkthrough-1") reply = r;
        }
        return reply.has_value();
      },
      30s, 200ms));
  ASSERT_TRUE(reply);
  EXPECT_EQ(
      reply->value,
      std::string(
          R"({"products":[{"id":1,"name":"keyboard","count":8},{"id":3,"name":"monitor","count":5}]})"));

  EXPECT_EQ(proc.terminate(), 0) << proc.log();
  // Everything consumed was committed: the group `products` is at the end of `order`.
  auto ends = client.high_watermarks("order", 4);
  auto committed = client.committed("products", "order", 4);
  for (std::size_t p = 0; p < ends.size(); ++p) {
    if (ends[p] > 0) {
      EXPECT_EQ(committed[p], ends[p]) << "partition " << p;
    }
  }
  EXPECT_GE(client.total("inventory", 4) - inventory_start, 2);
}
