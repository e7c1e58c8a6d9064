#include "testdb.hpp"

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <random>
#include <sstream>
#include <thread>

#include "inventory/migrations.hpp"

namespace sidecar::inventory::testing {
namespace {

// hiredis writes with write(): a Redis stopped mid-test would kill the test with SIGPIPE. The
// host ignores SIGPIPE the same way.
const bool kSigpipeIgnored = [] {
  std::signal(SIGPIPE, SIG_IGN);
  return true;
}();

std::string quote_ident(const std::string& s) { return "\"" + s + "\""; }

}  // namespace

std::string require_env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') {
    ADD_FAILURE()
        << name << " is not set. Start the services and export their addresses:\n"
        << "  PG_PORT=55440 REDIS_PORT=56440 scripts/services.sh start .run/test\n"
        << "  eval \"$(PG_PORT=55440 REDIS_PORT=56440 scripts/services.sh env .run/test)\"";
    return {};
  }
  return v;
}

std::string dsn_with_database(const std::string& dsn, const std::string& database) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(dsn.c_str(), &err);
  if (opts == nullptr) {
    std::string why = err != nullptr ? err : "bad DSN";
    PQfreemem(err);
    throw std::runtime_error(why);
  }
  std::string out;
  for (PQconninfoOption* o = opts; o->keyword != nullptr; ++o) {
    std::string key = o->keyword;
    std::string value = key == "dbname" ? database : (o->val != nullptr ? o->val : "");
    if (value.empty()) continue;
    std::string escaped;
    for (char c : value) {
      if (c == '\'' || c == '\\') escaped.push_back('\\');
      escaped.push_back(c);
    }
    out += key + "='" + escaped + "' ";
  }
  PQconninfoFree(opts);
  if (out.find("dbname=") == std::string::npos) out += "dbname='" + database + "'";
  return out;
}

std::string fresh_database(const std::string& name) {
  std::string base = require_env("PG_DSN");
  if (base.empty()) return {};
  {
    pqxx::connection c(base);
    pqxx::nontransaction tx(c);
    tx.exec0("DROP DATABASE IF EXISTS " + quote_ident(name) + " WITH (FORCE)");
    tx.exec0("CREATE DATABASE " + quote_ident(name));
  }
  std::string dsn = dsn_with_database(base, name);
  run_migrations(dsn, migrations_dir(), nullptr);
  return dsn;
}

void truncate_all(const std::string& dsn) {
  pqxx::connection c(dsn);
  pqxx::work tx(c);
  tx.exec0(
      "TRUNCATE products, reservations, order_items, handled_keys, outbox, order_decisions "
      "RESTART IDENTITY CASCADE");
  tx.commit();
}

void load_products(const std::string& dsn, const std::vector<Product>& products) {
  pqxx::connection c(dsn);
  pqxx::work tx(c);
  for (const auto& p : products) {
    tx.exec_params0("INSERT INTO products (id, name, count) VALUES ($1, $2, $3)", p.id, p.name,
                    p.count);
  }
  tx.commit();
}

void load_order_items(const std::string& dsn, std::int64_t order_id,
                      const std::vector<std::pair<std::int64_t, std::int32_t>>& lines) {
  pqxx::connection c(dsn);
  pqxx::work tx(c);
  for (const auto& [product, count] : lines) {
    tx.exec_params0("INSERT INTO order_items (order_id, product_id, count) VALUES ($1, $2, $3)",
                    order_id, product, count);
  }
  tx.commit();
}

void load_demo_data(const std::string& dsn) {
  std::ifstream in(migrations_dir() + "/demo/demo_data.sql");
  std::stringstream sql;
  sql << in.rdbuf();
  pqxx::connection c(dsn);
  pqxx::work tx(c);
  tx.exec(sql.str());
  tx.commit();
}

std::string scalar(const std::string& dsn, const std::string& sql) {
  pqxx::connection c(dsn);
  pqxx::nontransaction tx(c);
  pqxx::row r = tx.exec1(sql);
  return r[0].is_null() ? std::string() : r[0].as<std::string>();
}

std::int64_t count_of(const std::string& dsn, const std::string& sql) {
  return std::stoll(scalar(dsn, sql));
}

IndexReads index_reads(const std::string& dsn, const std::string& index) {
  pqxx::connection c(dsn);
  pqxx::nontransaction tx(c);
  pqxx::row r = tx.exec_params1(
      "SELECT idx_scan, idx_tup_read FROM pg_stat_user_indexes WHERE indexrelname = $1", index);
  return {r[0].as<std::int64_t>(), r[1].as<std::int64_t>()};
}

IndexReads index_reads_since(const std::string& dsn, const std::string& index,
                             const IndexReads& before, std::int64_t min_scans) {
  IndexReads last{-1, -1};
  for (int i = 0; i < 100; ++i) {
    IndexReads now = index_reads(dsn, index);
    IndexReads d{now.scans - before.scans, now.entries - before.entries};
    if (d.scans >= min_scans && d.scans == last.scans && d.entries == last.entries) return d;
    last = d;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return last;
}

std::int64_t seq_rows_read(const std::string& dsn, const std::string& table) {
  pqxx::connection c(dsn);
  pqxx::nontransaction tx(c);
  return tx
      .exec_params1("SELECT coalesce(seq_tup_read, 0) FROM pg_stat_user_tables WHERE relname = $1",
                    table)[0]
      .as<std::int64_t>();
}

std::int64_t seq_rows_read_since(const std::string& dsn, const std::string& table,
                                 std::int64_t before) {
  std::int64_t last = -1;
  for (int i = 0; i < 20; ++i) {
    std::int64_t now = seq_rows_read(dsn, table) - before;
    if (now == last) return now;
    last = now;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  return last;
}

void load_many_products(const std::string& dsn, int count) {
  pqxx::connection c(dsn);
  pqxx::nontransaction tx(c);
  tx.exec_params0(
      "INSERT INTO products (id, name, count)"
      " SELECT g, 'product ' || g, 1000 FROM generate_series(4, 3 + $1::int) g",
      count);
  tx.exec0("ANALYZE products, reservations");
}

void refuse_reservations_of_order_666(const std::string& dsn, const std::string& event) {
  pqxx::connection c(dsn);
  pqxx::work tx(c);
  tx.exec0(R"(CREATE FUNCTION refuse_666() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.order_id = 666 THEN RAISE EXCEPTION 'refused for the test'; END IF;
      RETURN NEW; END $$)");
  tx.exec0("CREATE TRIGGER refuse_666 BEFORE " + event +
           " ON reservations FOR EACH ROW EXECUTE FUNCTION refuse_666()");
  tx.commit();
}

std::int64_t stock(const std::string& dsn, std::int64_t product_id) {
  return count_of(dsn, "SELECT count FROM products WHERE id = " + std::to_string(product_id));
}

std::vector<std::string> rows(const std::string& dsn, const std::string& sql) {
  pqxx::connection c(dsn);
  pqxx::nontransaction tx(c);
  std::vector<std::string> out;
  for (const auto& row : tx.exec(sql)) {
    std::string line;
    for (pqxx::row::size_type i = 0; i < row.size(); ++i) {
      if (i != 0) line += "|";
      line += row[i].is_null() ? "NULL" : row[i].as<std::string>();
    }
    out.push_back(line);
  }
  return out;
}

std::string random_uuid() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_int_distribution<int> hex(0, 15);
  std::string out;
  for (int i = 0; i < 32; ++i) {
    if (i == 8 || i == 12 || i == 16 || i == 20) out.push_back('-');
    int v = hex(rng);
    if (i == 12) v = 4;
    if (i == 16) v = 8 | (v & 3);
    out.push_back("0123456789abcdef"[v]);
  }
  return out;
}

std::string order_json(const std::string& key, std::int64_t order_id,
                       const std::vector<std::pair<std::int64_t, std::int32_t>>& items) {
  nlohmann::json j{{"idempotent_key", key}, {"order_id", order_id}, {"status", "CREATED"}};
  j["items"] = nlohmann::json::array();
  for (const auto& [p, c] : items) j["items"].push_back({{"product_id", p}, {"count", c}});
  return j.dump();
}

std::string order_json_stored(const std::string& key, std::int64_t order_id) {
  return nlohmann::json{{"idempotent_key", key}, {"order_id", order_id}, {"status", "CREATED"}}
      .dump();
}

std::string payment_json(const std::string& key, std::int64_t order_id, const std::string& status) {
  return nlohmann::json{{"idempotent_key", key}, {"order_id", order_id}, {"status", status}}.dump();
}

std::string migrations_dir() { return SIDECAR_MIGRATIONS_DIR; }
std::string services_script() { return SIDECAR_SERVICES_SCRIPT; }
std::string scratch_dir() { return SIDECAR_TEST_SCRATCH_DIR; }

std::string unused_redis_url() { return "redis://127.0.0.1:1/0"; }

// Sessions of the test database waiting for a lock.
std::int64_t sessions_waiting(const std::string& dsn) {
  return count_of(dsn,
                  "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                  " AND wait_event_type = 'Lock'");
}

// Runs `first` on a thread until it waits for a lock, then `second` on another until both wait,
// then `release` (which ends what they wait for), and returns whether the two were then seen
// waiting for each other before both finished. PostgreSQL breaks such a cycle only after
// deadlock_timeout (1 s), by aborting one side, which the handler then hides (a batch re-runs
// message by message), so the cycle itself is what is looked for.
bool waited_for_each_other(const std::string& dsn, const std::function<void()>& first,
                           const std::function<void()>& second,
                           const std::function<void()>& release) {
  using testkit::eventually;
  std::atomic<int> done{0};
  std::thread a([&] {
    first();
    ++done;
  });
  EXPECT_TRUE(eventually([&] { return sessions_waiting(dsn) == 1; }, std::chrono::seconds(10)));
  std::thread b([&] {
    second();
    ++done;
  });
  EXPECT_TRUE(eventually([&] { return sessions_waiting(dsn) == 2; }, std::chrono::seconds(10)));
  release();
  bool cycle = false;
  pqxx::connection watcher(dsn);
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!cycle && done < 2 && std::chrono::steady_clock::now() < until) {
    pqxx::nontransaction q(watcher);
    cycle = q.exec1(
                 "SELECT count(*) FROM pg_stat_activity x, pg_stat_activity y"
                 " WHERE x.datname = current_database() AND y.datname = current_database()"
                 "  AND x.pid < y.pid AND x.pid = ANY(pg_blocking_pids(y.pid))"
                 "  AND y.pid = ANY(pg_blocking_pids(x.pid))")[0]
                .as<int>() > 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  a.join();
  b.join();
  return cycle;
}

ScopedTrigger::ScopedTrigger(std::string dsn, std::string name, const std::string& timing,
                             const std::string& when, const std::string& body)
    : dsn_(std::move(dsn)), name_(std::move(name)) {
  table_ = timing.substr(timing.rfind(' ') + 1);
  pqxx::connection c(dsn_);
  pqxx::work tx(c);
  tx.exec0("CREATE FUNCTION " + name_ + "() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN " + body +
           " RETURN NEW; END $$");
  tx.exec0("CREATE TRIGGER " + name_ + " " + timing + " FOR EACH ROW WHEN (" + when +
           ") EXECUTE FUNCTION " + name_ + "()");
  tx.commit();
}

ScopedTrigger::~ScopedTrigger() {
  try {
    pqxx::connection c(dsn_);
    pqxx::work tx(c);
    tx.exec0("DROP TRIGGER IF EXISTS " + name_ + " ON " + table_);
    tx.exec0("DROP FUNCTION IF EXISTS " + name_ + "()");
    tx.commit();
  } catch (...) {
  }
}

}  // namespace sidecar::inventory::testing
