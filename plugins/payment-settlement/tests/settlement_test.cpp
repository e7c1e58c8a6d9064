#include <gtest/gtest.h>

#include <atomic>
#include <pqxx/pqxx>
#include <thread>

#include "payment_settlement.hpp"
#include "sidecar/testkit.hpp"
#include "testdb.hpp"

namespace sidecar::payment_settlement {
namespace {

using namespace sidecar::inventory::testing;

class SettlementTest : public HandlerTest {
 protected:
  static void SetUpTestSuite() { open("sidecar_test_payment_settlement"); }

  std::unique_ptr<PaymentSettlement> make(std::map<std::string, OptionValue> given = {}) {
    return make_handler<PaymentSettlement>(std::move(given));
  }

  // An order reserved the way order-reservation leaves it: stock taken, rows held, decided.
  static void hold(std::int64_t order_id,
                   const std::vector<std::pair<std::int64_t, std::int32_t>>& lines) {
    pqxx::connection c(dsn_);
    pqxx::work tx(c);
    for (const auto& [p, n] : lines) {
      tx.exec_params0("UPDATE products SET count = count - $2 WHERE id = $1", p, n);
      tx.exec_params0("INSERT INTO reservations (order_id, product_id, count) VALUES ($1, $2, $3)",
                      order_id, p, n);
    }
    tx.exec_params0("INSERT INTO order_decisions (order_id, status) VALUES ($1, 'CREATED')",
                    order_id);
    tx.commit();
  }

  static Message payment(std::int64_t order_id, const std::string& status,
                         std::string key = random_uuid()) {
    return testkit::message("payment", std::to_string(order_id),
                            payment_json(key, order_id, status));
  }

  Outcome one(PaymentSettlement& h, const Message& m) {
    auto out = host_.handle(h, {m});
    return out.empty() ? Outcome::failed("no outcome") : out[0];
  }

  std::vector<std::string> statuses(std::int64_t order_id) {
    return rows(dsn_, "SELECT product_id, status FROM reservations WHERE order_id = " +
                          std::to_string(order_id) + " ORDER BY 1");
  }

  testkit::Host host_;
};

TEST_F(SettlementTest, CompletedConfirmsHeldReservations) {
  hold(111, {{1, 2}, {2, 1}});
  auto h = make();
  ASSERT_TRUE(host_.start(*h));
  std::string key = random_uuid();
  auto o = one(*h, payment(111, "COMPLETED", key));
  ASSERT_EQ(o.kind, OutcomeKind::handled) << o.reason;
  EXPECT_EQ(statuses(111), (std::vector<std::string>{"1|t", "2|t"}));
  EXPECT_EQ(stock(dsn_, 1), 8);
  EXPECT_EQ(stock(dsn_, 2), 19);
  EXPECT_EQ(scalar(dsn_, "SELECT settlement FROM order_decisions WHERE order_id = 111"),
            "COMPLETED");
  EXPECT_EQ(rows(dsn_, "SELECT idempotent_key, topic, order_id FROM handled_keys"),
            (std::vector<std::string>{key + "|payment|111"}));
  EXPECT_EQ(count_of(dsn_, "SELECT count(*) FROM outbox"), 0);
  EXPECT_EQ((host_.counters["sidecar_payments_total"]), 1);
}

TEST_F(SettlementTest, FailedReleasesAndReturnsStock) {
  hold(222, {{3, 1}, {1, 4}});
  auto h = make();
  ASSERT_TRUE(host_.start(*h));
  ASSERT_EQ(one(*h, payment(222, "FAILED")).kind, OutcomeKind::handled);
  EXPECT_EQ(statuses(222), (std::vector<std::string>{"1|f", "3|f"}));
  EXPECT_EQ(stock(dsn_, 1), 10);
  EXPECT_EQ(stock(dsn_, 3), 5);
  EXPECT_EQ(scalar(dsn_, "SELECT settlement FROM order_decisions WHERE order_id = 222"), "FAILED");
}

TEST_F(SettlementTest, SamePaymentTwentyTimesSettlesOnce) {
  for (std::string redis : {redis_, std::string()}) {
    SetUp();
    hold(5, {{1, 3}});
    auto h = make({{"redis_url", redis}});
    ASSERT_TRUE(host_.start(*h));
    Message m = payment(5, "FAILED");
    EXPECT_EQ(one(*h, m).kind, OutcomeKind::handled);
    for (int i = 1; i < 20; ++i) EXPECT_EQ(one(*h, m).kind, OutcomeKind::duplicate);
    EXPECT_EQ(stock(dsn_, 1), 10);
    EXPECT_EQ(count_of(dsn_, "SELECT count(*) FROM handled_keys"), 1);
    h->stop();
  }
}

TEST_F(SettlementTest, TheFirstDecisionWins) {
  hold(1, {{1, 1}});
  hold(2, {{2, 2}});
  auto h = make();
  ASSERT_TRUE(host_.start(*h));
  EXPECT_EQ(one(*h, payment(1, "COMPLETED")).kind, OutcomeKind::handled);
  EXPECT_EQ(one(*h, payment(1, "FAILED")).kind, OutcomeKind::duplicate);
  EXPECT_EQ(one(*h, payment(1, "COMPLETED")).kind, OutcomeKind::duplicate);
  EXPECT_EQ(one(*h, payment(2, "FAILED")).kind, OutcomeKind::handled);
  EXPECT_EQ(one(*h, payment(2, "COMPLETED")).kind, OutcomeKind::duplicate);
  EXPECT_EQ(one(*h, payment(2, "FAILED")).kind, OutcomeKind::duplicate);
  EXPECT_EQ(statuses(1), std::vector<std::string>{"1|t"});
  EXPECT_EQ(statuses(2), std::vector<std::string>{"2|f"});
  EXPECT_EQ(stock(dsn_, 1), 9);
  EXPECT_EQ(stock(dsn_, 2), 20);
  EXPECT_EQ(host_.counters.count("sidecar_payment_without_reservation_total"), 0u);
}

TEST_F(SettlementTest, PaymentWithoutReservationChangesNothingAndIsCounted) {
  {
    pqxx::connection c(dsn_);
    pqxx::work tx(c);
    tx.exec0(
        "INSERT INTO order_decisions (order_id, status, reason) "
        "VALUES (77, 'FAILED', 'insufficient_stock')");
    tx.commit();
  }
  auto h = make();
  ASSERT_TRUE(host_.start(*h));
  EXPECT_EQ(one(*h, payment(999, "COMPLETED")).kind, OutcomeKind::handled);
  EXPECT_EQ(one(*h, payment(77, "FAILED")).kind, OutcomeKind::handled);
  EXPECT_EQ(host_.counters["sidecar_payment_without_reservation_total"], 2);
  EXPECT_EQ(count_of(dsn_, "SELECT count(*) FROM reservations"), 0);
  EXPECT_EQ(count_of(dsn_, "SELECT sum(count) FROM products"), 35);
}

TEST_F(SettlementTest, BadInputIsRejectedAndTheNextIsHandled) {
  hold(9, {{1, 1}});
  auto h = make();
  ASSERT_TRUE(host_.start(*h));
  std::string k = random_uuid();
  std::vector<std::pair<std::string, std::string>> cases = {
      {"nope", "not_json"},
      {"[]", "not_object"},
      {R"({"order_id":9,"status":"COMPLETED"})", "idempotent_key_missing"},
      {R"({"idempotent_key":"x","order_id":9,"status":"COMPLETED"})", "idempotent_key_invalid"},
      {R"({"idempotent_key":")" + k + R"(","status":"COMPLETED"})", "order_id_missing"},
      {R"({"idempotent_key":")" + k + R"(","order_id":0,"status":"COMPLETED"})",
       "order_id_invalid"},
      {R"({"idempotent_key":")" + k + R"(","order_id":-9,"status":"COMPLETED"})",
       "order_id_invalid"},
      {R"({"idempotent_key":")" + k + R"(","order_id":"9","status":"COMPLETED"})",
       "order_id_invalid"},
      {R"({"idempotent_key":")" + k + R"(","order_id":92233720368547758070,"status":"FAILED"})",
       "order_id_out_of_range"},
      {R"({"idempotent_key":")" + k + R"(","order_id":9,"status":"REFUNDED"})", "status_unknown"},
  };
  for (const auto& [payload, reason] : cases) {
    auto out = host_.handle(*h, {testkit::message("payment", "9", payload)});
    ASSERT_EQ(out[0].kind, OutcomeKind::rejected) << reason;
    EXPECT_EQ(out[0].reason.substr(0, out[0].reason.find(':')), reason);
  }
  auto big = make({{"max_message_bytes", std::int64_t{64}}});
  testkit::Host other;
  ASSERT_TRUE(other.start(*big));
  auto out = other.handle(*big, {payment(9, "FAILED")});
  EXPECT_EQ(out[0].reason.substr(0, 9), "too_large");
  EXPECT_EQ(statuses(9), std::vector<std::string>{"1|NULL"});
  EXPECT_EQ(count_of(dsn_, "SELECT count(*) FROM handled_keys"), 0);
  EXPECT_EQ(one(*h, payment(9, "FAILED")).kind, OutcomeKind::handled);
  EXPECT_EQ(stock(dsn_, 1), 10);
}

TEST_F(SettlementTest, BatchWithBadMessagesInTheMiddle) {
  hold(1, {{1, 2}});
  hold(2, {{2, 3}, {1, 1}});
  auto h = make();
  ASSERT_TRUE(host_.start(*h, 1, 8));
  std::string key = random_uuid();
  std::vector<Message> batch = {
      payment(1, "COMPLETED"),   testkit::message("payment", "x", "{]"),
      payment(2, "FAILED", key), payment(2, "FAILED", key),
      payment(2, "COMPLETED"),   payment(3, "COMPLETED"),
  };
  auto out = host_.handle(*h, batch);
  EXPECT_EQ(testkit::kinds(out), (std::vector<std::string>{"handled", "rejected", "handled",
                                                           "duplicate", "duplicate", "handled"}));
  EXPECT_EQ(statuses(1), std::vector<std::string>{"1|t"});
  EXPECT_EQ(statuses(2), (std::vector<std::string>{"1|f", "2|f"}));
  EXPECT_EQ(stock(dsn_, 1), 10 - 2);  // order 1 confirmed, order 2 released
  EXPECT_EQ(stock(dsn_, 2), 20);
  EXPECT_EQ(host_.counters["sidecar_payment_without_reservation_total"], 1);
}

// The batch is one statement first; when the database refuses one payment, the batch runs again
// with a savepoint per payment, and the refused one costs only itself.
TEST_F(SettlementTest, DatabaseErrorInABatchCostsOnlyThatMessage) {
  hold(665, {{1, 1}});
  hold(666, {{1, 1}});
  hold(667, {{2, 1}});
  refuse_reservations_of_order_666(dsn_, "UPDATE");
  auto h = make();
  ASSERT_TRUE(host_.start(*h, 1, 8));
  std::vector<Message> batch = {payment(665, "FAILED"), payment(666, "FAILED"),
                                payment(667, "COMPLETED")};
  auto out = host_.handle(*h, batch);
  {
    pqxx::connection c(dsn_);
    pqxx::work tx(c);
    tx.exec0("DROP TRIGGER refuse_666 ON reservations");
    tx.exec0("DROP FUNCTION refuse_666()");
    tx.commit();
  }
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].kind, OutcomeKind::handled);
  EXPECT_EQ(out[1].kind, OutcomeKind::failed);
  EXPECT_NE(out[1].reason.find("refused for the test"), std::string::npos) << out[1].reason;
  EXPECT_EQ(out[2].kind, OutcomeKind::handled);
  EXPECT_EQ(stock(dsn_, 1), 10 - 1);  // 665 released, 666 still held
  EXPECT_EQ(statuses(666), std::vector<std::string>{"1|NULL"});
  EXPECT_EQ(statuses(667), std::vector<std::string>{"2|t"});
  EXPECT_EQ(count_of(dsn_, "SELECT count(*) FROM handled_keys"), 2);
  EXPECT_EQ(one(*h, batch[1]).kind, OutcomeKind::handled);
  EXPECT_EQ(stock(dsn_, 1), 10);
}

// The run with savepoints (after the one statement failed) against another writer that takes
// reservations in the documented order, by order id (as the hold-expiry sweep does). The run used
// to lock each message's order only in its own statement: held inside 9002's (by a trigger on
// its decision) it holds 9002's rows; the writer takes 9001's and waits for 9002's; let go, the
// run waited for 9001's. It now locks the held reservations of all its orders first, by order id.
TEST_F(SettlementTest, TheRunWithSavepointsTakesItsReservationsInOrderIdOrder) {
  hold(666, {{1, 1}});
  hold(9001, {{2, 1}});
  hold(9002, {{2, 1}});
  ScopedTrigger refused(dsn_, "refuse_666", "BEFORE UPDATE ON reservations", "NEW.order_id = 666",
                        "RAISE EXCEPTION 'refused for the test';");
  ScopedTrigger held(dsn_, "hold_9002", "BEFORE UPDATE ON order_decisions",
                     "NEW.order_id = 9002 AND NEW.settlement = 'COMPLETED'",
                     "PERFORM pg_advisory_xact_lock(9, 9);");
  pqxx::connection gate(dsn_);
  pqxx::nontransaction(gate).exec1("SELECT pg_advisory_lock(9, 9)");

  auto h = make();
  ASSERT_TRUE(host_.start(*h, 1, 8));
  // 666 first: the one statement fails on it before it reaches 9002.
  std::vector<Message> batch = {payment(666, "FAILED"), payment(9002, "COMPLETED"),
                                payment(9001, "COMPLETED")};
  std::vector<Outcome> out;
  std::string writer_error;
  bool cycle = waited_for_each_other(
      dsn_, [&] { out = host_.handle(*h, batch); },
      [&] {
        try {
          pqxx::connection c(dsn_);
          pqxx::work tx(c);
          tx.exec("SELECT 1 FROM reservations WHERE order_id = 9001 FOR UPDATE");
          tx.exec("SELECT 1 FROM reservations WHERE order_id = 9002 FOR UPDATE");
          tx.commit();
        } catch (const std::exception& e) {
          writer_error = e.what();
        }
      },
      [&] { pqxx::nontransaction(gate).exec1("SELECT pg_advisory_unlock(9, 9)"); });
  EXPECT_FALSE(cycle) << "the run with savepoints and the writer waited for each other";
  EXPECT_EQ(writer_error, "");
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].kind, OutcomeKind::failed);
  EXPECT_EQ(out[1].kind, OutcomeKind::handled) << out[1].reason;
  EXPECT_EQ(out[2].kind, OutcomeKind::handled) << out[2].reason;
  EXPECT_EQ(statuses(9001), std::vector<std::string>{"2|t"});
  EXPECT_EQ(statuses(9002), std::vector<std::string>{"2|t"});
}

TEST_F(SettlementTest, RedisDownStillExactlyOnce) {
  hold(4, {{3, 2}});
  auto h = make({{"redis_url", unused_redis_url()}});
  ASSERT_TRUE(host_.start(*h));
  Message m = payment(4, "FAILED");
  EXPECT_EQ(one(*h, m).kind, OutcomeKind::handled);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(one(*h, m).kind, OutcomeKind::duplicate);
  EXPECT_EQ(stock(dsn_, 3), 5);
}

// Two sidecars get contradicting payments for the same orders: every order is settled once, by
// whichever came first, and the stock adds up.
TEST_F(SettlementTest, TwoSidecarsContradictingEachOther) {
  truncate_all(dsn_);
  load_products(dsn_, {{1, "a", 1000}, {2, "b", 1000}});
  constexpr int kOrders = 100;
  for (int n = 1; n <= kOrders; ++n) hold(n, {{1 + n % 2, 1}, {2 - n % 2, 2}});
  auto a = make();
  auto b = make();
  testkit::Host host_b;
  ASSERT_TRUE(host_.start(*a, 2, 8));
  ASSERT_TRUE(host_b.start(*b, 2, 8));
  std::atomic<int> retries{0};
  auto lane = [&](PaymentSettlement* h, std::size_t worker, bool completed_first, int from) {
    std::vector<Message> batch;
    for (int n = from; n <= kOrders; n += 2) {
      bool completed = (n % 3 == 0) == completed_first;
      batch.push_back(payment(n, completed ? "COMPLETED" : "FAILED"));
      if (batch.size() == 8 || n + 2 > kOrders) {
        while (!batch.empty()) {
          auto out = h->handle(std::span<const Message>(batch), worker);
          std::vector<Message> again;
          for (std::size_t i = 0; i < out.size(); ++i) {
            if (out[i].kind == OutcomeKind::retry) {
              ++retries;
              again.push_back(batch[i]);
            } else {
              EXPECT_TRUE(out[i].kind == OutcomeKind::handled ||
                          out[i].kind == OutcomeKind::duplicate)
                  << out[i].reason;
            }
          }
          batch = std::move(again);
        }
      }
    }
  };
  std::vector<std::thread> threads;
  threads.emplace_back(lane, a.get(), 0, true, 1);
  threads.emplace_back(lane, a.get(), 1, true, 2);
  threads.emplace_back(lane, b.get(), 0, false, 2);
  threads.emplace_back(lane, b.get(), 1, false, 1);
  for (auto& t : threads) t.join();
  EXPECT_EQ(count_of(dsn_, "SELECT count(*) FROM reservations WHERE status IS NULL"), 0);
  EXPECT_EQ(count_of(dsn_, "SELECT count(*) FROM order_decisions WHERE settlement IS NULL"), 0);
  // available + confirmed = initial, per product; released rows went back to stock.
  for (int p : {1, 2}) {
    EXPECT_EQ(stock(dsn_, p) + count_of(dsn_,
                                        "SELECT coalesce(sum(count), 0) FROM reservations "
                                        "WHERE status AND product_id = " +
                                            std::to_string(p)),
              1000);
  }
  RecordProperty("retries", retries.load());
}

// As for reservations (EveryOrderReadsItsProductsByKey): the products a FAILED payment gives stock
// back to are found by key, one payment at a time and in a batch, whatever the plan.
TEST_F(SettlementTest, EveryPaymentReadsItsProductsByKey) {
  load_many_products(dsn_, 1997);
  constexpr int kSingles = 20, kBatch = 20;
  for (int i = 0; i < kSingles + kBatch; ++i)
    hold(7000 + i, {{100 + i, 1}, {1000 + i, 2}, {1900 + i, 1}});
  {
    pqxx::connection c(dsn_);
    pqxx::nontransaction(c).exec0("ANALYZE reservations");
  }
  const IndexReads before = index_reads(dsn_, "products_pkey");
  auto h = make();
  ASSERT_TRUE(host_.start(*h, 1, kBatch));
  for (int i = 0; i < kSingles; ++i) {
    auto o = one(*h, payment(7000 + i, "FAILED"));
    ASSERT_EQ(o.kind, OutcomeKind::handled) << o.reason;
  }
  std::vector<Message> batch;
  for (int i = kSingles; i < kSingles + kBatch; ++i) batch.push_back(payment(7000 + i, "FAILED"));
  EXPECT_EQ(testkit::kinds(host_.handle(*h, batch)), std::vector<std::string>(kBatch, "handled"));
  h->stop();
  EXPECT_EQ(stock(dsn_, 100), 1000);
  EXPECT_EQ(stock(dsn_, 1000 + kSingles + kBatch - 1), 1000);
  IndexReads read = index_reads_since(dsn_, "products_pkey", before, kSingles + kBatch);
  ASSERT_GE(read.scans, kSingles + kBatch);
  EXPECT_LE(read.entries, 2 * read.scans) << read.scans << " scans";
}

}  // namespace
}  // namespace sidecar::payment_settlement
