// PostgreSQL and Redis stopped mid-stream. These tests start their own private PostgreSQL and
// Redis with scripts/services.sh (ports SIDECAR_FAULT_PG_PORT / SIDECAR_FAULT_REDIS_PORT, by
// default 55497 / 56497) so that stopping them disturbs nothing else.
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <set>
#include <thread>

#include "inventory/migrations.hpp"
#include "order_reservation.hpp"
#include "sidecar/testkit.hpp"
#include "testdb.hpp"

namespace sidecar::order_reservation::test {
namespace {

using namespace sidecar::inventory::testing;

std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

class Faults : public ::testing::Test {
 protected:
  static int services(const std::string& command) {
    std::string line = "PG_PORT=" + pg_port() + " REDIS_PORT=" + redis_port() + " '" +
                       services_script() + "' " + command + " '" + scratch_dir() +
                       "/fault-services' >/dev/null";
    return std::system(line.c_str());
  }
  static std::string pg_port() { return env_or("SIDECAR_FAULT_PG_PORT", "55497"); }
  static std::string redis_port() { return env_or("SIDECAR_FAULT_REDIS_PORT", "56497"); }
  static std::string dsn() { return "postgresql://postgres@127.0.0.1:" + pg_port() + "/sidecar"; }
  static std::string redis() { return "redis://127.0.0.1:" + redis_port() + "/0"; }

  static void SetUpTestSuite() {
    ASSERT_EQ(services("start"), 0) << "could not start private PostgreSQL/Redis";
    inventory::run_migrations(dsn(), migrations_dir(), nullptr);
  }
  static void TearDownTestSuite() { services("stop"); }

  void SetUp() override {
    truncate_all(dsn());
    load_products(dsn(), {{1, "keyboard", 100}});
  }

  std::unique_ptr<OrderReservation> make(bool relay) {
    return std::make_unique<OrderReservation>(
        testkit::Host::options_for(OrderReservation::option_specs(),
                                   {{"pg_dsn", dsn()}, {"redis_url", redis()}, {"relay", relay}}));
  }
  // Keys of this test only: Redis outlives the truncated tables.
  std::string payload(int n) {
    if (!keys_.count(n)) keys_[n] = random_uuid();
    return order_json(keys_[n], n, {{1, 1}});
  }
  Outcome send(OrderReservation& h, int n) {
    return host_.handle(h, {testkit::message("order", std::to_string(n), payload(n))})[0];
  }
  // What the bus does with retry: back off, deliver again.
  Outcome send_until_final(OrderReservation& h, int n) {
    for (int attempt = 0; attempt < 100; ++attempt) {
      Outcome o = send(h, n);
      if (o.kind != OutcomeKind::retry) return o;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return Outcome::failed("still retrying");
  }

  testkit::Host host_;
  std::map<int, std::string> keys_;
};

TEST_F(Faults, PostgresStoppedAndStartedAgain) {
  auto h = make(true);
  ASSERT_TRUE(host_.start(*h));
  for (int n = 1; n <= 10; ++n) ASSERT_EQ(send(*h, n).kind, OutcomeKind::handled);

  ASSERT_EQ(services("pg-stop"), 0);
  for (int n = 11; n <= 20; ++n) {
    Outcome o = send(*h, n);
    EXPECT_EQ(o.kind, OutcomeKind::retry) << o.reason;
  }
  EXPECT_FALSE(h->ready());
  ASSERT_EQ(services("pg-start"), 0);

  for (int n = 11; n <= 20; ++n) EXPECT_EQ(send_until_final(*h, n).kind, OutcomeKind::handled);
  for (int n = 1; n <= 20; ++n) EXPECT_EQ(send(*h, n).kind, OutcomeKind::duplicate);
  EXPECT_TRUE(h->ready());
  EXPECT_EQ(stock(dsn(), 1), 80);
  EXPECT_EQ(count_of(dsn(), "SELECT count(*) FROM reservations"), 20);

  // No event lost: the relay reconnected and sent all 20.
  for (int i = 0; i < 200; ++i) {
    if (count_of(dsn(), "SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  h->stop();
  EXPECT_EQ(count_of(dsn(), "SELECT count(*) FROM outbox WHERE sent_at IS NULL"), 0);
  std::set<std::string> keys;
  for (const auto& m : host_.published) keys.insert(m.key);
  EXPECT_EQ(keys.size(), 20u);
}

TEST_F(Faults, RedisStoppedMidStream) {
  auto h = make(false);
  ASSERT_TRUE(host_.start(*h));
  for (int n = 1; n <= 10; ++n) ASSERT_EQ(send(*h, n).kind, OutcomeKind::handled);
  for (int n = 1; n <= 10; ++n) ASSERT_EQ(send(*h, n).kind, OutcomeKind::duplicate);

  ASSERT_EQ(services("redis-stop"), 0);
  for (int n = 11; n <= 20; ++n) EXPECT_EQ(send(*h, n).kind, OutcomeKind::handled);
  for (int n = 1; n <= 20; ++n) EXPECT_EQ(send(*h, n).kind, OutcomeKind::duplicate);

  ASSERT_EQ(services("redis-start"), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(5500));  // past the longest backoff
  for (int n = 21; n <= 30; ++n) EXPECT_EQ(send(*h, n).kind, OutcomeKind::handled);
  for (int n = 1; n <= 30; ++n) EXPECT_EQ(send(*h, n).kind, OutcomeKind::duplicate);
  EXPECT_EQ(stock(dsn(), 1), 70);
  EXPECT_EQ(count_of(dsn(), "SELECT count(*) FROM handled_keys"), 30);
  bool back = false;
  for (const auto& l : host_.logs) back |= l.text == "redis reachable again";
  EXPECT_TRUE(back);
}

}  // namespace
}  // namespace sidecar::order_reservation::test
