// No overselling: 500 orders from parallel workers and from two handler instances (two sidecars)
// on stock that covers exactly 100 of them.
#include <atomic>
#include <functional>
#include <thread>

#include "fixture.hpp"
#include "hold_expiry.hpp"
#include "inventory/settlement.hpp"

namespace sidecar::order_reservation::test {
namespace {

constexpr int kOrders = 500;
constexpr int kFillable = 100;

class NoOverselling : public ReservationTest {
 protected:
  void SetUp() override {
    ReservationTest::SetUp();
    truncate_all(dsn_);
    // Each order takes 1 of product 10 and 2 of product 20: both run out after 100 orders.
    load_products(dsn_,
                  {{10, "widget", kFillable}, {20, "gadget", 2 * kFillable}, {30, "spare", 1000}});
  }

  // Orders list their lines in either order and some touch a third product, so that lock order
  // matters.
  static std::string payload(int n) {
    if (n % 3 == 0) return order_json(random_uuid(), n, {{20, 2}, {10, 1}});
    if (n % 3 == 1) return order_json(random_uuid(), n, {{10, 1}, {30, 1}, {20, 2}});
    return order_json(random_uuid(), n, {{30, 2}, {20, 2}, {10, 1}});
  }

  struct Tally {
    std::atomic<int> handled{0};
    std::atomic<int> other{0};
  };

  // Every worker of every handler gets its own slice of the orders, sent in batches.
  void run(std::vector<OrderReservation*> handlers, std::size_t workers, std::size_t batch,
           Tally& tally) {
    std::vector<std::thread> threads;
    const std::size_t lanes = handlers.size() * workers;
    for (std::size_t lane = 0; lane < lanes; ++lane) {
      threads.emplace_back([&, lane] {
        OrderReservation* h = handlers[lane % handlers.size()];
        std::size_t worker = lane / handlers.size();
        std::vector<Message> pending;
        auto flush = [&] {
          auto out = h->handle(std::span<const Message>(pending), worker);
          for (const auto& o : out) {
            if (o.kind == OutcomeKind::handled) {
              ++tally.handled;
            } else {
              ++tally.other;
              ADD_FAILURE() << to_string(o.kind) << ": " << o.reason;
            }
          }
          pending.clear();
        };
        for (int n = 1 + static_cast<int>(lane); n <= kOrders; n += static_cast<int>(lanes)) {
          pending.push_back(order(payload(n), n));
          if (pending.size() == batch) flush();
        }
        if (!pending.empty()) flush();
      });
    }
    for (auto& t : threads) t.join();
  }

  void expect_exactly_100() {
    EXPECT_EQ(count_of(dsn_, "SELECT count(DISTINCT order_id) FROM reservations"), kFillable);
    EXPECT_EQ(count_of(dsn_, "SELECT count(*) FROM order_decisions WHERE status = 'CREATED'"),
              kFillable);
    EXPECT_EQ(count_of(dsn_,
                       "SELECT count(*) FROM order_decisions WHERE status = 'FAILED' "
                       "AND reason = 'insufficient_stock'"),
              kOrders - kFillable);
    EXPECT_EQ(stock(dsn_, 10), 0);
    EXPECT_EQ(stock(dsn_, 20), 0);
    EXPECT_EQ(count_of(dsn_, "SELECT count(*) FROM products WHERE count < 0"), 0);
    // Every order is whole: its reserved lines match its message.
    EXPECT_EQ(count_of(dsn_,
                       "SELECT count(*) FROM (SELECT order_id FROM reservations "
                       "GROUP BY order_id HAVING sum(count) FILTER (WHERE product_id = 10) "
                       "<> 1 OR sum(count) FILTER (WHERE product_id = 20) <> 2) bad"),
              0);
    EXPECT_EQ(stock(dsn_, 30) + count_of(dsn_,
                                         "SELECT coalesce(sum(count), 0) FROM reservations "
                                         "WHERE product_id = 30"),
              1000);
    EXPECT_EQ(count_of(dsn_, "SELECT count(*) FROM outbox"), kOrders);
  }
};

TEST_F(NoOverselling, FourWorkersOneByOne) {
  auto h = make();
  ASSERT_TRUE(host_.start(*h, 4, 1));
  Tally tally;
  run({h.get()}, 4, 1, tally);
  EXPECT_EQ(tally.handled, kOrders);
  EXPECT_EQ(tally.other, 0);
  expect_exactly_100();
}

TEST_F(NoOverselling, FourWorkersInBatches) {
  auto h = make();
  ASSERT_TRUE(host_.start(*h, 4, 16));
  Tally tally;
  run({h.get()}, 4, 16, tally);
  EXPECT_EQ(tally.handled, kOrders);
  expect_exactly_100();
}

TEST_F(NoOverselling, TwoSidecarsOnOneDatabase) {
  auto a = make();
  auto b = make();
  testkit::Host host_b;
  ASSERT_TRUE(host_.start(*a, 2, 8));
  ASSERT_TRUE(host_b.start(*b, 2, 8));
  Tally tally;
  run({a.get(), b.get()}, 2, 8, tally);
  EXPECT_EQ(tally.handled, kOrders);
  expect_exactly_100();
}

// With `on`, a trigger on `reservations` refuses order 666, so a batch holding it fails as one
// statement and runs again message by message; in that fall-back run (whose statements are not
// reserve_orders()'s) order 7100's reservation waits for the advisory lock (7, 7), which a test
// holds to keep the run there. Without `on`, there is no such trigger.
void hold_fall_back_runs(const std::string& dsn, bool on) {
  pqxx::connection c(dsn);
  pqxx::work tx(c);
  tx.exec0("DROP TRIGGER IF EXISTS hold_fall_back ON reservations");
  tx.exec0("DROP FUNCTION IF EXISTS hold_fall_back()");
  if (on) {
    tx.exec0(R"(CREATE FUNCTION hold_fall_back() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.order_id = 666 THEN RAISE EXCEPTION 'refused for the test'; END IF;
          IF NEW.order_id = 7100 AND current_query() NOT LIKE '%reserve_orders(%' THEN
            PERFORM pg_advisory_xact_lock(7, 7);
          END IF;
          RETURN NEW;
        END $$)");
    tx.exec0(
        "CREATE TRIGGER hold_fall_back BEFORE INSERT ON reservations"
        " FOR EACH ROW EXECUTE FUNCTION hold_fall_back()");
  }
  tx.commit();
}

// Installs the trigger of hold_fall_back_runs() for a test's lifetime, however the test ends.
struct FallBackHeld {
  explicit FallBackHeld(std::string d) : dsn(std::move(d)) { hold_fall_back_runs(dsn, true); }
  ~FallBackHeld() {
    try {
      hold_fall_back_runs(dsn, false);
    } catch (...) {
    }
  }
  FallBackHeld(const FallBackHeld&) = delete;
  FallBackHeld& operator=(const FallBackHeld&) = delete;
  std::string dsn;
};

// One order sent under two keys at the same moment, decided by one sidecar's single-order
// statement and another's batch, with a product in common. The interleaving that deadlocked
// before migration 0010, made certain: a third transaction holds the product; the single
// statement queues on it first, then the batch (which claims the order before it locks
// products). When the product is free the single statement gets it first and goes on to claim
// the order, which the batch had claimed and holds while it waits for the product. Both now take
// the order's lock before any product, so the batch waits on the single statement instead.
TEST_F(ReservationTest, OneOrderUnderTwoKeysInASingleStatementAndABatchDoesNotDeadlock) {
  truncate_all(dsn_);
  load_products(dsn_, {{10, "widget", 10}, {20, "gadget", 10}});
  auto single = make();
  auto batch = make();
  testkit::Host host_batch;
  ASSERT_TRUE(host_.start(*single, 1, 1));
  ASSERT_TRUE(host_batch.start(*batch, 1, 2));

  pqxx::connection holder(dsn_);
  pqxx::work hold(holder);
  hold.exec1("SELECT id FROM products WHERE id = 10 FOR UPDATE");

  std::vector<Outcome> single_out, batch_out;
  bool cycle = waited_for_each_other(
      dsn_,
      [&] {
        single_out =
            host_.handle(*single, {order(order_json(random_uuid(), 7001, {{10, 1}}), 7001)});
      },
      [&] {
        batch_out =
            host_batch.handle(*batch, {order(order_json(random_uuid(), 7001, {{10, 1}}), 7001),
                                       order(order_json(random_uuid(), 7002, {{20, 1}}), 7002)});
      },
      [&] { hold.commit(); });
  EXPECT_FALSE(cycle) << "the single statement and the batch waited on each other";

  ASSERT_EQ(single_out.size(), 1u);
  ASSERT_EQ(batch_out.size(), 2u);
  EXPECT_EQ(single_out[0].kind, OutcomeKind::handled) << single_out[0].reason;
  EXPECT_EQ(batch_out[0].kind, OutcomeKind::duplicate) << batch_out[0].reason;
  EXPECT_EQ(batch_out[1].kind, OutcomeKind::handled) << batch_out[1].reason;
  EXPECT_EQ(count_of(dsn_, "SELECT count(*) FROM reservations WHERE order_id = 7001"), 1);
  EXPECT_EQ(stock(dsn_, 10), 9);
  EXPECT_EQ(stock(dsn_, 20), 9);
}

// A batch's fall-back run with savepoints (its one statement is refused: order 666) held inside
// its first message, order 7100 (product 30), by the trigger of hold_fall_back_runs() until the
// test lets it go, while another sidecar's single statement comes in.
class FallBackRace : public ReservationTest {
 protected:
  void SetUp() override {
    ReservationTest::SetUp();
    truncate_all(dsn_);
    load_products(dsn_, {{10, "widget", 10}, {20, "gadget", 10}, {30, "spare", 10}});
    held_ = std::make_unique<FallBackHeld>(dsn_);
    batch_ = make();
    single_ = make();
    ASSERT_TRUE(host_batch_.start(*batch_, 1, 3));
    ASSERT_TRUE(host_.start(*single_, 1, 1));
  }

  // The batch `first` (order 7100 first), then `second` in the single sidecar once the batch's
  // fall-back run is held; whether they waited for each other. Their outcomes in `first_out` and
  // `second_out`.
  bool race(const std::vector<Message>& first, const std::vector<Message>& second) {
    pqxx::connection gate_conn(dsn_);
    pqxx::work gate(gate_conn);
    gate.exec1("SELECT pg_advisory_xact_lock(7, 7)");
    return waited_for_each_other(
        dsn_, [&] { first_out = host_batch_.handle(*batch_, first); },
        [&] { second_out = host_.handle(*single_, second); }, [&] { gate.commit(); });
  }

  // The run as both tests end it: orders 7100 and 7001 reserved, 666 refused; the single
  // statement's message a duplicate; order 7001 reserved once, from product 10.
  void expect_run_through_and_second_a_duplicate() {
    ASSERT_EQ(first_out.size(), 3u);
    ASSERT_EQ(second_out.size(), 1u);
    EXPECT_EQ(first_out[0].kind, OutcomeKind::handled) << first_out[0].reason;
    EXPECT_EQ(first_out[1].kind, OutcomeKind::handled) << first_out[1].reason;
    EXPECT_EQ(first_out[2].kind, OutcomeKind::failed) << first_out[2].reason;
    EXPECT_EQ(second_out[0].kind, OutcomeKind::duplicate) << second_out[0].reason;
    EXPECT_EQ(count_of(dsn_, "SELECT count(*) FROM reservations WHERE order_id = 7001"), 1);
    EXPECT_EQ(stock(dsn_, 10), 9);
  }

  std::unique_ptr<FallBackHeld> held_;
  testkit::Host host_batch_;  // before the handlers: they may still log while they stop
  std::unique_ptr<OrderReservation> batch_;
  std::unique_ptr<OrderReservation> single_;
  std::vector<Outcome> first_out, second_out;
};

// A single statement for one of the run's orders under another key. Before the fall-back run took
// its order locks with its products, the single statement got 7001's lock and waited for product
// 10, and the fall-back run, let go, waited for 7001's lock: a cycle. Now the single statement
// waits for the fall-back run's lock of 7001, and finds the order decided.
TEST_F(FallBackRace, ASingleStatementForOneOfItsOrdersUnderAnotherKeyDoesNotDeadlockWithIt) {
  bool cycle = race({order(order_json(random_uuid(), 7100, {{30, 1}}), 7100),
                     order(order_json(random_uuid(), 7001, {{10, 1}}), 7001),
                     order(order_json(random_uuid(), 666, {{20, 1}}), 666)},
                    {order(order_json(random_uuid(), 7001, {{10, 1}}), 7001)});
  EXPECT_FALSE(cycle) << "the fall-back run and the single statement waited on each other";
  expect_run_through_and_second_a_duplicate();
  EXPECT_EQ(stock(dsn_, 20), 10);
  EXPECT_EQ(stock(dsn_, 30), 9);
}

// A redelivery of one of the run's messages (the same key). Before the fall-back run claimed its
// keys first, the redelivery took the key, waited for the run's lock of order 7001, and the run,
// let go, waited for the key: a cycle. Now the redelivery waits for the run's key, and is then a
// duplicate; the refused message's key is given back.
TEST_F(FallBackRace, ARedeliveryOfOneOfItsMessagesDoesNotDeadlockWithIt) {
  const std::string refused_key = random_uuid();
  const Message again = order(order_json(random_uuid(), 7001, {{10, 1}}), 7001);
  bool cycle = race({order(order_json(random_uuid(), 7100, {{30, 1}}), 7100), again,
                     order(order_json(refused_key, 666, {{20, 1}}), 666)},
                    {again});
  EXPECT_FALSE(cycle) << "the fall-back run and the redelivery waited on each other";
  expect_run_through_and_second_a_duplicate();
  // The refused message's key was given back: delivered again (no longer refused), it is handled,
  // not a duplicate.
  EXPECT_EQ(count_of(dsn_, "SELECT count(*) FROM handled_keys WHERE idempotent_key = '" +
                               refused_key + "'"),
            0);
  held_.reset();
  auto retried = host_batch_.handle(*batch_, {order(order_json(refused_key, 666, {{20, 1}}), 666)});
  ASSERT_EQ(retried.size(), 1u);
  EXPECT_EQ(retried[0].kind, OutcomeKind::handled) << retried[0].reason;
  EXPECT_EQ(stock(dsn_, 20), 9);
}

}  // namespace
// The hold-expiry sweep and a batch of payments on the same two held orders. The interleaving
// that deadlocked before migration 0011, made certain: the sweep, releasing 9001 (the older
// hold) and then 9002, is held by a trigger while it holds 9001's reservations; the batch
// [COMPLETED for 9002, COMPLETED for 9001] then runs. It changed 9002's reservations and waited
// for 9001's, and the sweep, let go, waited for 9002's. Both now lock the held reservations of
// all their orders before changing any, in order_id order: the batch waits holding nothing.
TEST_F(ReservationTest, AHoldExpirySweepAndAPaymentBatchOnTheSameOrdersDoNotDeadlock) {
  truncate_all(dsn_);
  load_products(dsn_, {{10, "widget", 10}, {20, "gadget", 10}});
  {
    pqxx::connection c(dsn_);
    pqxx::work tx(c);
    tx.exec0(
        "INSERT INTO reservations (order_id, product_id, count)"
        " VALUES (9001, 10, 1), (9001, 20, 1), (9002, 10, 1), (9002, 20, 1)");
    tx.exec0("UPDATE products SET count = count - 2");
    tx.exec0(
        "INSERT INTO order_decisions (order_id, status, decided_at)"
        " VALUES (9001, 'CREATED', now() - interval '2 hours'),"
        "        (9002, 'CREATED', now() - interval '1 hour')");
    tx.commit();
  }
  // The sweep waits for the advisory lock (9, 9) as it marks 9001's hold expired, that is while
  // it holds 9001's reservations.
  ScopedTrigger held(dsn_, "hold_expiry_9001", "BEFORE UPDATE ON order_decisions",
                     "NEW.order_id = 9001 AND NEW.settlement = 'EXPIRED'",
                     "PERFORM pg_advisory_xact_lock(9, 9);");
  pqxx::connection gate(dsn_);
  pqxx::nontransaction(gate).exec1("SELECT pg_advisory_lock(9, 9)");

  HoldExpiry sweep(dsn_, std::chrono::minutes(10), "inventory", nullptr);
  std::size_t released = 0;
  std::vector<inventory::PaymentApplied> applied;
  std::string sweep_error, payments_error;
  bool cycle = waited_for_each_other(
      dsn_,
      [&] {
        try {
          released = sweep.sweep_once();
        } catch (const std::exception& e) {
          sweep_error = e.what();
        }
      },
      [&] {
        try {
          pqxx::connection c(dsn_);
          inventory::prepare_settlement(c);
          pqxx::work tx(c);
          applied = inventory::apply_payments(
              tx, {{random_uuid(), "payment", 9002, true}, {random_uuid(), "payment", 9001, true}});
          tx.commit();
        } catch (const std::exception& e) {
          payments_error = e.what();
        }
      },
      [&] { pqxx::nontransaction(gate).exec1("SELECT pg_advisory_unlock(9, 9)"); });
  EXPECT_FALSE(cycle) << "the sweep and the payment batch waited for each other";
  EXPECT_EQ(sweep_error, "");
  EXPECT_EQ(payments_error, "");
  // The sweep held 9001 first, so it releases both; the payments then find nothing held.
  EXPECT_EQ(released, 2u);
  ASSERT_EQ(applied.size(), 2u);
  EXPECT_EQ(applied[0].settled + applied[1].settled, 0);
  EXPECT_EQ(stock(dsn_, 10), 10);
  EXPECT_EQ(stock(dsn_, 20), 10);
  EXPECT_EQ(rows(dsn_, "SELECT order_id, settlement FROM order_decisions ORDER BY 1"),
            (std::vector<std::string>{"9001|EXPIRED", "9002|EXPIRED"}));
}

}  // namespace sidecar::order_reservation::test
