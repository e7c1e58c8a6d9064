// The outbox relay inside the handler, and the hold_timeout sweep.
#include <thread>

#include "fixture.hpp"
#include "inventory/events.hpp"

namespace sidecar::order_reservation::test {
namespace {

using sidecar::testkit::eventually;

TEST_F(ReservationTest, RelayPublishesEachEventAndMarksItSent) {
  auto h = make({{"relay", true}});
  ASSERT_TRUE(host_.start(*h));
  std::string key = random_uuid();
  ASSERT_EQ(one(*h, order_json(key, 111, {{1, 1}}), 111).kind, OutcomeKind::handled);
  ASSERT_EQ(one(*h, order_json(random_uuid(), 112, {{9, 1}}), 112).kind, OutcomeKind::handled);
  EXPECT_TRUE(eventually(
      [&] { return count_of(dsn_, "SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 0; }));
  h->stop();
  auto published = host_.published;
  ASSERT_EQ(published.size(), 2u);
  EXPECT_EQ(published[0].topic, "inventory");
  EXPECT_EQ(published[0].key, "111");
  auto e = nlohmann::json::parse(published[0].payload);
  EXPECT_EQ(e["idempotent_key"], inventory::event_key(key, "inventory.CREATED"));
  EXPECT_EQ(e["status"], "CREATED");
  EXPECT_EQ(nlohmann::json::parse(published[1].payload)["reason"], "unknown_product");
}

TEST_F(ReservationTest, RelayMarksSentOnlyOnConfirmationAndResendsTheSameEvent) {
  host_.fail_publishes = true;
  auto h = make({{"relay", true}});
  ASSERT_TRUE(host_.start(*h));
  ASSERT_EQ(one(*h, order_json(random_uuid(), 111, {{1, 1}}), 111).kind, OutcomeKind::handled);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(count_of(dsn_, "SELECT count(*) FROM outbox WHERE sent_at IS NULL"), 1);
  EXPECT_TRUE(host_.published.empty());
  h->stop();  // a restart: the row is still unsent

  testkit::Host later;
  auto again = make({{"relay", true}});
  ASSERT_TRUE(later.start(*again));
  EXPECT_TRUE(eventually(
      [&] { return count_of(dsn_, "SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 0; }));
  again->stop();
  ASSERT_EQ(later.published.size(), 1u);
  EXPECT_EQ(later.published[0].payload, scalar(dsn_, "SELECT payload FROM outbox"));
}

TEST_F(ReservationTest, HoldTimeoutReleasesLikeAFailedPayment) {
  auto h = make({{"hold_timeout", std::chrono::milliseconds(1500)}});
  ASSERT_TRUE(host_.start(*h));
  ASSERT_EQ(one(*h, order_json(random_uuid(), 321, {{1, 4}, {2, 1}}), 321).kind,
            OutcomeKind::handled);
  EXPECT_EQ(h->sweep_expired_holds(), 0u);  // too young
  EXPECT_EQ(stock(dsn_, 1), 6);

  EXPECT_TRUE(eventually([&] {
    return count_of(dsn_, "SELECT count(*) FROM reservations WHERE status IS NULL") == 0;
  }));
  h->stop();
  EXPECT_EQ(stock(dsn_, 1), 10);
  EXPECT_EQ(stock(dsn_, 2), 20);
  EXPECT_EQ(rows(dsn_, "SELECT product_id, status FROM reservations ORDER BY 1"),
            (std::vector<std::string>{"1|f", "2|f"}));
  EXPECT_EQ(scalar(dsn_, "SELECT settlement FROM order_decisions WHERE order_id = 321"), "EXPIRED");
  auto events = outbox_events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1]["status"], "FAILED");
  EXPECT_EQ(events[1]["reason"], "hold_expired");
  EXPECT_EQ(events[1]["order_id"], 321);
  EXPECT_EQ(events[1]["idempotent_key"],
            inventory::event_key("order/321", "inventory.FAILED.hold_expired"));
  EXPECT_EQ(host_.counters["sidecar_holds_expired_total"], 1);
}

TEST_F(ReservationTest, TwoSweepersReleaseAHoldOnce) {
  auto a = make({{"hold_timeout", std::chrono::milliseconds(200)}});
  auto b = make({{"hold_timeout", std::chrono::milliseconds(200)}});
  testkit::Host host_b;
  ASSERT_TRUE(host_.start(*a));
  ASSERT_TRUE(host_b.start(*b));
  for (int n = 1; n <= 20; ++n) {
    ASSERT_EQ(one(*a, order_json(random_uuid(), n, {{2, 1}}), n).kind, OutcomeKind::handled);
  }
  EXPECT_TRUE(eventually([&] {
    return count_of(dsn_, "SELECT count(*) FROM reservations WHERE status IS NULL") == 0;
  }));
  a->stop();
  b->stop();
  EXPECT_EQ(stock(dsn_, 2), 20);
  EXPECT_EQ(count_of(dsn_, "SELECT count(*) FROM outbox WHERE payload LIKE '%hold_expired%'"), 20);
}

TEST_F(ReservationTest, SettledHoldsDoNotExpire) {
  auto h = make({{"hold_timeout", std::chrono::milliseconds(100)}});
  ASSERT_EQ(one(*h, order_json(random_uuid(), 5, {{1, 1}}), 5).kind, OutcomeKind::retry);
  ASSERT_TRUE(host_.start(*h));
  ASSERT_EQ(one(*h, order_json(random_uuid(), 5, {{1, 1}}), 5).kind, OutcomeKind::handled);
  {
    pqxx::connection c(dsn_);
    pqxx::work tx(c);
    tx.exec0("UPDATE reservations SET status = true WHERE order_id = 5");
    tx.exec0("UPDATE order_decisions SET settlement = 'COMPLETED' WHERE order_id = 5");
    tx.commit();
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  h->stop();
  EXPECT_EQ(stock(dsn_, 1), 9);
  EXPECT_EQ(scalar(dsn_, "SELECT status FROM reservations WHERE order_id = 5"), "t");
}

}  // namespace
}  // namespace sidecar::order_reservation::test
