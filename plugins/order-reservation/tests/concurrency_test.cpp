// No overselling: 500 orders from parallel workers and from two handler instances (two sidecars)
// on stock that covers exactly 100 of them.
#include <atomic>
#include <thread>

#include "fixture.hpp"

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

// One order sent under two keys at the same moment, decided by one sidecar's single-order
// statement and another's batch, with a product in common. The interleaving that used to
// deadlock, made certain: a third transaction holds the product; the single statement queues on
// it first, then the batch (which claims the order before it locks products). When the product is
// free the single statement gets it first and goes on to claim the order, which the batch had
// claimed and holds while it waits for the product. Both now take the order's claim lock before
// any product, so the batch waits on the single statement instead.
TEST_F(ReservationTest, OneOrderUnderTwoKeysInASingleStatementAndABatchDoesNotDeadlock) {
  using testkit::eventually;
  truncate_all(dsn_);
  load_products(dsn_, {{10, "widget", 10}, {20, "gadget", 10}});
  auto single = make();
  auto batch = make();
  testkit::Host host_batch;
  ASSERT_TRUE(host_.start(*single, 1, 1));
  ASSERT_TRUE(host_batch.start(*batch, 1, 2));
  auto waiting = [&] {
    return count_of(dsn_,
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock'");
  };

  pqxx::connection holder(dsn_);
  pqxx::work hold(holder);
  hold.exec1("SELECT id FROM products WHERE id = 10 FOR UPDATE");

  std::vector<Outcome> single_out, batch_out;
  std::atomic<int> done{0};
  std::thread a([&] {
    single_out = host_.handle(*single, {order(order_json(random_uuid(), 7001, {{10, 1}}), 7001)});
    ++done;
  });
  ASSERT_TRUE(eventually([&] { return waiting() == 1; }, std::chrono::seconds(10)));
  std::thread b([&] {
    batch_out =
        host_batch.handle(*batch, {order(order_json(random_uuid(), 7001, {{10, 1}}), 7001),
                                   order(order_json(random_uuid(), 7002, {{20, 1}}), 7002)});
    ++done;
  });
  ASSERT_TRUE(eventually([&] { return waiting() == 2; }, std::chrono::seconds(10)));
  hold.commit();
  // A deadlock is a cycle of waits, which PostgreSQL breaks only after deadlock_timeout (1 s) by
  // aborting one side; the handler would then hide it (the batch re-runs message by message), so
  // the cycle itself is what is looked for until both are done.
  pqxx::connection watcher(dsn_);
  bool cycle = false;
  while (done < 2 && !cycle) {
    pqxx::nontransaction q(watcher);
    cycle = q.exec1(
                 "SELECT count(*) FROM pg_stat_activity x, pg_stat_activity y"
                 " WHERE x.datname = current_database() AND y.datname = current_database()"
                 "  AND x.pid < y.pid AND x.pid = ANY(pg_blocking_pids(y.pid))"
                 "  AND y.pid = ANY(pg_blocking_pids(x.pid))")[0]
                .as<int>() > 0;
  }
  a.join();
  b.join();
  EXPECT_FALSE(cycle) << "the single statement and the batch waited on each other";

  ASSERT_EQ(single_out.size(), 1u);
  ASSERT_EQ(batch_out.size(), 2u);
  // A deadlock would have cost one of them an abort: a retry with PostgreSQL's reason.
  EXPECT_EQ(single_out[0].kind, OutcomeKind::handled) << single_out[0].reason;
  EXPECT_EQ(batch_out[0].kind, OutcomeKind::duplicate) << batch_out[0].reason;
  EXPECT_EQ(batch_out[1].kind, OutcomeKind::handled) << batch_out[1].reason;
  EXPECT_EQ(count_of(dsn_, "SELECT count(*) FROM reservations WHERE order_id = 7001"), 1);
  EXPECT_EQ(count_of(dsn_, "SELECT count FROM products WHERE id = 10"), 9);
  EXPECT_EQ(count_of(dsn_, "SELECT count FROM products WHERE id = 20"), 9);
}

}  // namespace
}  // namespace sidecar::order_reservation::test
