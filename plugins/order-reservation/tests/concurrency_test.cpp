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

}  // namespace
}  // namespace sidecar::order_reservation::test
