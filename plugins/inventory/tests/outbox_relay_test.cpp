#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <thread>

#include "inventory/outbox_relay.hpp"
#include "sidecar/testkit.hpp"
#include "testdb.hpp"

namespace sidecar::inventory {
namespace {

using sidecar::testkit::eventually;

using namespace sidecar::inventory::testing;

class Relay : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { dsn_ = fresh_database("sidecar_test_relay"); }
  void SetUp() override {
    ASSERT_FALSE(dsn_.empty());
    truncate_all(dsn_);
  }
  static void add_event(int order_id) {
    pqxx::connection c(dsn_);
    pqxx::work tx(c);
    tx.exec_params0("INSERT INTO outbox (topic, key, payload) VALUES ('inventory', $1, $2)",
                    std::to_string(order_id),
                    R"({"idempotent_key":")" + random_uuid() + R"(","order_id":)" +
                        std::to_string(order_id) + R"(,"status":"CREATED"})");
    tx.commit();
  }
  static std::string dsn_;
};
std::string Relay::dsn_;

TEST_F(Relay, PublishesInOrderAndMarksSent) {
  for (int i = 1; i <= 5; ++i) add_event(i);
  testkit::Host host;
  OutboxRelay relay(RelayConfig{dsn_}, &host);
  auto round = relay.relay_once();
  EXPECT_EQ(round.claimed, 5u);
  EXPECT_EQ(round.confirmed, 5u);
  ASSERT_EQ(host.published.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(host.published[i].topic, "inventory");
    EXPECT_EQ(host.published[i].key, std::to_string(i + 1));
  }
  EXPECT_EQ(count_of(dsn_, "SELECT count(*) FROM outbox WHERE sent_at IS NULL"), 0);
  EXPECT_EQ(relay.relay_once().claimed, 0u);
}

TEST_F(Relay, UnconfirmedStaysUnsentAndIsResentWithTheSameKey) {
  add_event(7);
  testkit::Host host;
  host.fail_publishes = true;
  OutboxRelay relay(RelayConfig{dsn_}, &host);
  auto round = relay.relay_once();
  EXPECT_EQ(round.claimed, 1u);
  EXPECT_EQ(round.confirmed, 0u);
  EXPECT_EQ(count_of(dsn_, "SELECT count(*) FROM outbox WHERE sent_at IS NULL"), 1);

  std::string stored = scalar(dsn_, "SELECT payload FROM outbox");
  host.fail_publishes = false;
  EXPECT_EQ(relay.relay_once().confirmed, 1u);
  ASSERT_EQ(host.published.size(), 1u);
  EXPECT_EQ(host.published[0].payload, stored);
  EXPECT_EQ(count_of(dsn_, "SELECT count(*) FROM outbox WHERE sent_at IS NULL"), 0);
}

TEST_F(Relay, ResumesAfterRestart) {
  add_event(1);
  add_event(2);
  {
    testkit::Host down;
    down.fail_publishes = true;
    OutboxRelay relay(RelayConfig{dsn_}, &down);
    relay.relay_once();
  }
  testkit::Host host;
  OutboxRelay relay(RelayConfig{dsn_}, &host);
  EXPECT_EQ(relay.relay_once().confirmed, 2u);
}

TEST_F(Relay, ThreadWakesOnNotifyBeforeThePoll) {
  testkit::Host host;
  RelayConfig cfg{dsn_};
  cfg.poll_interval = std::chrono::seconds(30);  // so that only NOTIFY can explain a quick send
  OutboxRelay relay(cfg, &host);
  relay.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the relay is listening
  add_event(42);
  EXPECT_TRUE(eventually(
      [&] { return count_of(dsn_, "SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 0; },
      std::chrono::seconds(5)));
  relay.stop();
  ASSERT_EQ(host.published.size(), 1u);
  EXPECT_EQ(host.published[0].key, "42");
}

TEST_F(Relay, TwoRelaysSendEachRowOnceWhenAllConfirm) {
  for (int i = 1; i <= 300; ++i) add_event(i);
  testkit::Host a, b;
  RelayConfig cfg{dsn_};
  cfg.batch = 7;
  OutboxRelay ra(cfg, &a), rb(cfg, &b);
  ra.start();
  rb.start();
  EXPECT_TRUE(eventually(
      [&] { return count_of(dsn_, "SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 0; }));
  ra.stop();
  rb.stop();
  EXPECT_EQ(a.published.size() + b.published.size(), 300u);
}

TEST_F(Relay, ReportsBacklogAndRetriesWhileTheTransportRefuses) {
  for (int i = 1; i <= 3; ++i) add_event(i);
  testkit::Host host;
  host.fail_publishes = true;
  RelayConfig cfg{dsn_};
  cfg.poll_interval = std::chrono::milliseconds(100);
  OutboxRelay relay(cfg, &host);
  relay.start();
  EXPECT_TRUE(eventually([&] { return host.gauges.count("sidecar_outbox_backlog") != 0; }));
  EXPECT_EQ(host.gauges["sidecar_outbox_backlog"], 3);
  host.fail_publishes = false;
  EXPECT_TRUE(eventually(
      [&] { return count_of(dsn_, "SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 0; }));
  relay.stop();
  EXPECT_EQ(host.published.size(), 3u);
}

}  // namespace
}  // namespace sidecar::inventory
