// The README's walkthrough and the saga's guarantees, end to end: the real `sidecar` binary with
// the shipped configs/dev.yaml, over ZeroMQ, on real PostgreSQL and Redis.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "sidecar_process.hpp"
#include "testdb.hpp"
#include "zmq_client.hpp"

using namespace sidecar::test;
namespace db = sidecar::inventory::testing;
using namespace std::chrono_literals;

namespace {

// One sidecar on the shipped dev config, with ports and database of its own.
struct DevSidecar {
  DevSidecar(const std::string& dsn, const std::string& redis, int workers = 4, int batch = 16)
      : in_port(free_port()), out_port(free_port()) {
    env = {{"PG_DSN", dsn},
           {"REDIS_URL", redis},
           {"ZMQ_IN", in()},
           {"ZMQ_OUT", out()},
           {"WORKERS", std::to_string(workers)},
           {"BATCH_SIZE", std::to_string(batch)},
           {"SIDECAR_MIGRATIONS", source_dir() + "/migrations"},
           {"SIDECAR_PLUGIN_DIR", build_dir() + "/plugins"}};
    proc = std::make_unique<SidecarProcess>(read_text(source_dir() + "/configs/dev.yaml"), env);
    env["ADMIN_ADDR"] = proc->admin();
  }
  void start() {
    proc->start();
    ASSERT_TRUE(proc->wait_ready()) << proc->log();
  }
  std::string in() const { return "tcp://127.0.0.1:" + std::to_string(in_port); }
  std::string out() const { return "tcp://127.0.0.1:" + std::to_string(out_port); }
  RunResult cli(const std::vector<std::string>& args) {
    std::vector<std::string> full{args[0], "-c", proc->config_path()};
    full.insert(full.end(), args.begin() + 1, args.end());
    return run_sidecar(full, env);
  }

  int in_port, out_port;
  std::map<std::string, std::string> env;
  std::unique_ptr<SidecarProcess> proc;
};

class InventoryE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { dsn_ = db::fresh_database("sidecar_e2e"); }
  void SetUp() override {
    ASSERT_FALSE(dsn_.empty());
    db::truncate_all(dsn_);
    redis_ = db::require_env("REDIS_URL");
  }
  static std::string dsn_;
  std::string redis_;
};
std::string InventoryE2E::dsn_;

std::string reply_status(const std::optional<std::vector<std::string>>& r) {
  return r && !r->empty() ? r->at(0) : "<no reply>";
}

}  // namespace

TEST_F(InventoryE2E, ReadmeWalkthrough) {
  db::load_demo_data(dsn_);
  DevSidecar s(dsn_, redis_);
  auto mig = s.cli({"migrate"});
  ASSERT_EQ(mig.exit_code, 0) << mig.err;
  s.start();
  Subscriber inventory(s.out(), "inventory");
  std::this_thread::sleep_for(300ms);

  // Order 111 CREATED: stock goes down, reservations held, event CREATED.
  auto pub = s.cli(
      {"publish", "order",
       R"({"idempotent_key":"8c3f5a1e-0b7d-4c1e-9a51-6f0e2d4b7a11","order_id":111,"status":"CREATED"})"});
  EXPECT_EQ(pub.exit_code, 0) << pub.err;
  EXPECT_EQ(pub.out, "ok: handled\n");
  EXPECT_EQ(db::stock(dsn_, 1), 8);
  EXPECT_EQ(db::stock(dsn_, 2), 19);
  EXPECT_EQ(db::rows(dsn_,
                     "SELECT order_id, product_id, count, coalesce(status::text, 'held') FROM "
                     "reservations ORDER BY product_id"),
            (std::vector<std::string>{"111|1|2|held", "111|2|1|held"}));
  auto ev = inventory.next();
  ASSERT_TRUE(ev);
  EXPECT_NE(ev->second.find(R"("order_id":111)"), std::string::npos) << ev->second;
  EXPECT_NE(ev->second.find(R"("status":"CREATED")"), std::string::npos) << ev->second;

  // Payment COMPLETED: the holds are confirmed.
  pub = s.cli(
      {"publish", "payment",
       R"({"idempotent_key":"0f5b8f8e-3c9a-4f7e-8d2b-1a2b3c4d5e6f","order_id":111,"status":"COMPLETED"})"});
  EXPECT_EQ(pub.out, "ok: handled\n") << pub.err;
  EXPECT_EQ(db::count_of(dsn_, "SELECT count(*) FROM reservations WHERE order_id = 111 AND status"),
            2);

  // Order 222, then payment FAILED: the stock comes back and the holds are released.
  pub = s.cli(
      {"publish", "order",
       R"({"idempotent_key":"5d6e7f80-1a2b-4c3d-8e9f-a0b1c2d3e4f5","order_id":222,"status":"CREATED"})"});
  EXPECT_EQ(pub.out, "ok: handled\n") << pub.err;
  EXPECT_EQ(db::stock(dsn_, 3), 4);
  EXPECT_EQ(db::stock(dsn_, 4), 6);
  pub = s.cli(
      {"publish", "payment",
       R"({"idempotent_key":"9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d","order_id":222,"status":"FAILED"})"});
  EXPECT_EQ(pub.out, "ok: handled\n") << pub.err;
  EXPECT_EQ(db::stock(dsn_, 3), 5);
  EXPECT_EQ(db::stock(dsn_, 4), 8);
  EXPECT_EQ(
      db::count_of(dsn_, "SELECT count(*) FROM reservations WHERE order_id = 222 AND NOT status"),
      2);

  // The stock, as the original service's "get products" answered it.
  auto q = s.cli({"publish", "products", R"({"ids":[1,3]})"});
  EXPECT_EQ(q.exit_code, 0) << q.err;
  EXPECT_EQ(
      q.out,
      "ok: handled\n"
      R"({"products":[{"id":1,"name":"keyboard","count":8},{"id":3,"name":"monitor","count":5}]})"
      "\n");

  // A bad message is dead-lettered with its reason, and the next one is handled.
  auto bad = s.cli({"publish", "order", R"({"order_id":333,"status":"CREATED"})"});
  EXPECT_EQ(bad.exit_code, 3);
  EXPECT_EQ(bad.out.rfind("dead-letter: idempotent_key_missing", 0), 0u) << bad.out;
  EXPECT_EQ(s.proc->terminate(), 0) << s.proc->log();
}

TEST_F(InventoryE2E, DuplicatesChangeTheInventoryOnce) {
  db::load_products(dsn_, {{1, "a", 100}, {2, "b", 100}});
  DevSidecar s(dsn_, redis_);
  s.start();
  Dealer d(s.in());
  auto key = db::random_uuid();
  auto order = db::order_json(key, 5001, {{1, 3}, {2, 1}});
  std::map<std::string, int> statuses;
  for (int i = 0; i < 20; ++i) statuses[reply_status(d.request("order", order))]++;
  EXPECT_EQ(statuses["ok"], 1);
  EXPECT_EQ(statuses["duplicate"], 19);
  // The same order under a new key is still the same order.
  EXPECT_EQ(reply_status(d.request("order", db::order_json(db::random_uuid(), 5001, {{1, 3}}))),
            "duplicate");
  EXPECT_EQ(db::stock(dsn_, 1), 97);
  EXPECT_EQ(db::stock(dsn_, 2), 99);

  auto pay = db::payment_json(db::random_uuid(), 5001, "FAILED");
  statuses.clear();
  for (int i = 0; i < 20; ++i) statuses[reply_status(d.request("payment", pay))]++;
  EXPECT_EQ(statuses["ok"], 1);
  EXPECT_EQ(statuses["duplicate"], 19);
  EXPECT_EQ(db::stock(dsn_, 1), 100);
  EXPECT_EQ(db::stock(dsn_, 2), 100);
  EXPECT_EQ(
      db::count_of(dsn_, "SELECT count(*) FROM reservations WHERE order_id = 5001 AND NOT status"),
      2);
}

TEST_F(InventoryE2E, NoOversellingWithTwoSidecarsOnOneDatabase) {
  // 100 units; 500 orders of one unit each, sent concurrently to two sidecars.
  db::load_products(dsn_, {{1, "scarce", 60}, {2, "scarce too", 40}});
  DevSidecar a(dsn_, redis_, 4, 16), b(dsn_, redis_, 4, 16);
  a.start();
  b.start();
  const int orders = 500;
  std::vector<std::unique_ptr<Dealer>> dealers;
  for (int i = 0; i < 8; ++i) dealers.push_back(std::make_unique<Dealer>(i % 2 ? a.in() : b.in()));
  for (int i = 0; i < orders; ++i) {
    int product = i % 5 < 3 ? 1 : 2;
    dealers[i % 8]->send({"order", db::order_json(db::random_uuid(), 10000 + i, {{product, 1}})});
  }
  int ok = 0;
  for (int i = 0; i < orders; ++i) {
    auto r = dealers[i % 8]->receive(60s);
    ASSERT_TRUE(r) << "reply " << i << " missing";
    ok += r->at(0) == "ok";
  }
  EXPECT_EQ(ok, orders);  // a FAILED reservation is a handled message
  EXPECT_EQ(db::count_of(dsn_, "SELECT count(DISTINCT order_id) FROM reservations"), 100);
  EXPECT_EQ(db::count_of(dsn_, "SELECT count(*) FROM order_decisions WHERE status = 'CREATED'"),
            100);
  EXPECT_EQ(db::count_of(dsn_,
                         "SELECT count(*) FROM order_decisions WHERE status = 'FAILED' AND "
                         "reason LIKE 'insufficient_stock%'"),
            400);
  EXPECT_EQ(db::stock(dsn_, 1), 0);
  EXPECT_EQ(db::stock(dsn_, 2), 0);
  EXPECT_EQ(db::count_of(dsn_, "SELECT count(*) FROM outbox"), orders);
  EXPECT_EQ(a.proc->log().find("deadlock"), std::string::npos) << a.proc->log();
  EXPECT_EQ(b.proc->log().find("deadlock"), std::string::npos) << b.proc->log();
}

TEST_F(InventoryE2E, KilledMidStreamAndRestartedEveryOrderHandledOnce) {
  // Stock covers every order, so each order's lines must be reserved exactly once.
  db::load_products(dsn_, {{1, "a", 100000}, {2, "b", 100000}, {3, "c", 100000}});
  const int orders = 3000;
  std::vector<std::string> payloads;
  for (int i = 0; i < orders; ++i) {
    payloads.push_back(
        db::order_json(db::random_uuid(), 20000 + i, {{1 + i % 3, 1}, {1 + (i + 1) % 3, 2}}));
  }
  auto decided = [&] {
    std::set<int> out;
    for (const auto& row : db::rows(dsn_, "SELECT order_id - 20000 FROM order_decisions")) {
      out.insert(std::stoi(row));
    }
    return out;
  };
  for (int round = 0; round < 4; ++round) {
    DevSidecar s(dsn_, redis_, 4, 16);
    s.start();
    // Like an order service after a timeout, re-send every order not decided yet (same key).
    auto done = decided();
    std::vector<int> pending;
    for (int i = 0; i < orders; ++i) {
      if (!done.count(i)) pending.push_back(i);
    }
    const bool last = round == 3;
    const std::size_t kill_after = last ? pending.size() : 500;
    Dealer d(s.in());
    std::size_t sent = 0, received = 0;
    while (received < pending.size() && received < kill_after) {
      while (sent < pending.size() && sent - received < 64)
        d.send({"order", payloads[pending[sent++]]});
      auto r = d.receive(30s);
      ASSERT_TRUE(r) << "no reply in round " << round << "\n" << s.proc->log();
      EXPECT_TRUE(r->at(0) == "ok" || r->at(0) == "duplicate") << r->at(0);
      ++received;
    }
    if (last) {
      EXPECT_EQ(s.proc->terminate(), 0) << s.proc->log();
    } else {
      s.proc->kill_hard();
    }
  }
  EXPECT_EQ(db::count_of(dsn_, "SELECT count(*) FROM order_decisions"), orders);
  EXPECT_EQ(db::count_of(dsn_, "SELECT count(*) FROM order_decisions WHERE status = 'CREATED'"),
            orders);
  EXPECT_EQ(db::count_of(dsn_, "SELECT count(*) FROM reservations"), 2 * orders);
  EXPECT_EQ(db::count_of(dsn_, "SELECT count(*) FROM handled_keys WHERE topic = 'order'"), orders);
  // available + held + confirmed = initial, for every product.
  EXPECT_EQ(db::count_of(dsn_,
                         "SELECT count(*) FROM products p WHERE p.count + coalesce((SELECT "
                         "sum(r.count) FROM reservations r WHERE r.product_id = p.id AND "
                         "r.status IS NOT false), 0) <> 100000"),
            0);
  // Every decided order has its event in the outbox (relayed or still waiting).
  EXPECT_EQ(db::count_of(dsn_, "SELECT count(DISTINCT key) FROM outbox"), orders);
}
