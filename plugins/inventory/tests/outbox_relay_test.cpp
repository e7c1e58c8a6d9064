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
    // The last test's relay gave up its publisher lock when its session ended; a server process
    // ends a moment after its client closes.
    ASSERT_TRUE(eventually([] {
      return count_of(dsn_,
                      "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database ="
                      " (SELECT oid FROM pg_database WHERE datname = current_database())") == 0;
    }));
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

TEST_F(Relay, OneRelayPublishesAtATimeAndAnotherTakesOverWhenItEnds) {
  for (int i = 1; i <= 3; ++i) add_event(i);
  testkit::Host a, b;
  OutboxRelay rb(RelayConfig{dsn_}, &b);
  {
    OutboxRelay ra(RelayConfig{dsn_}, &a);
    EXPECT_EQ(ra.relay_once().confirmed, 3u);
    EXPECT_TRUE(ra.leading());
    add_event(4);
    add_event(5);
    EXPECT_EQ(rb.relay_once().claimed, 0u);
    EXPECT_FALSE(rb.leading());
  }
  // ra's server process lets go of the lock a moment after ra closed its connection.
  EXPECT_TRUE(eventually([&] { return rb.relay_once().confirmed == 2; }));
  EXPECT_EQ(a.published.size(), 3u);
  ASSERT_EQ(b.published.size(), 2u);
  EXPECT_EQ(b.published[0].key, "4");
  EXPECT_EQ(count_of(dsn_, "SELECT count(*) FROM outbox WHERE sent_at IS NULL"), 0);
}

TEST_F(Relay, ARelayWhoseTransportRefusesLetsAnotherPublish) {
  add_event(1);
  add_event(2);
  testkit::Host down, up;
  down.fail_publishes = true;
  OutboxRelay ra(RelayConfig{dsn_}, &down), rb(RelayConfig{dsn_}, &up);
  EXPECT_EQ(ra.relay_once().confirmed, 0u);
  EXPECT_FALSE(ra.leading());
  EXPECT_EQ(rb.relay_once().confirmed, 2u);
  EXPECT_EQ(up.published.size(), 2u);
}

// While the transport confirms, the relay holds no transaction open: an open one would keep every
// table's old row versions (each update of a product leaves one) from being cleaned up meanwhile.
TEST_F(Relay, NoTransactionStaysOpenWhileTheTransportConfirms) {
  struct WatchingHost : testkit::Host {
    std::string dsn;
    std::int64_t open = 0;
    void publish(Message msg, PublishCallback done) noexcept override {
      try {
        open += count_of(dsn,
                         "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                         " AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
                         " AND xact_start IS NOT NULL");
      } catch (...) {
        open += 1000;
      }
      testkit::Host::publish(std::move(msg), std::move(done));
    }
  };
  for (int i = 1; i <= 3; ++i) add_event(i);
  WatchingHost host;
  host.dsn = dsn_;
  OutboxRelay relay(RelayConfig{dsn_}, &host);
  EXPECT_EQ(relay.relay_once().confirmed, 3u);
  EXPECT_EQ(host.open, 0);
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
