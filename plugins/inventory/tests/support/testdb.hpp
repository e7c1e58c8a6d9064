#pragma once
// Helpers for the inventory tests: real PostgreSQL and Redis from PG_DSN and REDIS_URL, a
// database of each test binary's own (so binaries run in parallel), and known stock.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <memory>

#include "sidecar/options.hpp"
#include "sidecar/testkit.hpp"

namespace sidecar::inventory::testing {

// The variable's value; fails the calling test (and returns empty) when it is unset.
std::string require_env(const char* name);

// A fresh database `name` on the server of PG_DSN (dropped first if it exists), with the
// migrations applied; returns its DSN. Call once per test binary.
std::string fresh_database(const std::string& name);

// The given DSN pointing at another database.
std::string dsn_with_database(const std::string& dsn, const std::string& database);

// Empties every inventory table.
void truncate_all(const std::string& dsn);

struct Product {
  std::int64_t id;
  std::string name;
  std::int32_t count;
};
void load_products(const std::string& dsn, const std::vector<Product>& products);
void load_order_items(const std::string& dsn, std::int64_t order_id,
                      const std::vector<std::pair<std::int64_t, std::int32_t>>& lines);
void load_demo_data(const std::string& dsn);

// A trigger for one test: `timing` ("BEFORE UPDATE ON order_decisions"), FOR EACH ROW, WHEN
// (`when`), running the PL/pgSQL statements `body` and then RETURN NEW; dropped with its function
// when the guard goes, however the test ends.
class ScopedTrigger {
 public:
  ScopedTrigger(std::string dsn, std::string name, const std::string& timing,
                const std::string& when, const std::string& body);
  ~ScopedTrigger();
  ScopedTrigger(const ScopedTrigger&) = delete;
  ScopedTrigger& operator=(const ScopedTrigger&) = delete;

 private:
  std::string dsn_, name_, table_;
};

// Sessions of the test database waiting for a lock.
std::int64_t sessions_waiting(const std::string& dsn);
// Runs `first` on a thread until it waits for a lock, then `second` on another until both wait,
// then `release` (which ends what they wait for), and returns whether the two were then seen
// waiting for each other before both finished (PostgreSQL breaks such a cycle only after
// deadlock_timeout, by aborting one side, so the cycle itself is what is looked for).
bool waited_for_each_other(const std::string& dsn, const std::function<void()>& first,
                           const std::function<void()>& second,
                           const std::function<void()>& release);

// One value of a one-row, one-column query (as text; empty for NULL).
std::string scalar(const std::string& dsn, const std::string& sql);
std::int64_t count_of(const std::string& dsn, const std::string& sql);
// A trigger that makes the database refuse `event` ("INSERT" or "UPDATE") of reservations of
// order 666: a message that passes every check of ours and still fails in the database.
void refuse_reservations_of_order_666(const std::string& dsn, const std::string& event);
std::int64_t stock(const std::string& dsn, std::int64_t product_id);
// The rows of a query, each row's fields joined with '|'.
std::vector<std::string> rows(const std::string& dsn, const std::string& sql);

std::string random_uuid();

// Scans of one index and the entries they read, as PostgreSQL counts them (pg_stat_user_indexes).
struct IndexReads {
  std::int64_t scans = 0;
  std::int64_t entries = 0;
};
IndexReads index_reads(const std::string& dsn, const std::string& index);
// What was read since `before`. A backend reports its counts when it ends at the latest, so call
// it after stopping the handler: it waits until at least `min_scans` are counted and hold still.
IndexReads index_reads_since(const std::string& dsn, const std::string& index,
                             const IndexReads& before, std::int64_t min_scans);
// Rows read by sequential scans of `table` since `before` (pg_stat_user_tables.seq_tup_read), once
// the count holds still: call it after stopping the handler, as index_reads_since.
std::int64_t seq_rows_read(const std::string& dsn, const std::string& table);
std::int64_t seq_rows_read_since(const std::string& dsn, const std::string& table,
                                 std::int64_t before);
// `count` more products (ids from 4 on, ample stock) and fresh statistics: a table large enough
// for the planner to weigh a join's strategies, as it does in production.
void load_many_products(const std::string& dsn, int count);

// Payload builders.
std::string order_json(const std::string& key, std::int64_t order_id,
                       const std::vector<std::pair<std::int64_t, std::int32_t>>& items);
std::string order_json_stored(const std::string& key, std::int64_t order_id);
std::string payment_json(const std::string& key, std::int64_t order_id, const std::string& status);

// The migrations directory of the source tree.
std::string migrations_dir();
// scripts/services.sh and a scratch directory in the build tree, for fault tests.
std::string services_script();
std::string scratch_dir();

// A port nothing listens on, for "Redis down" tests.
std::string unused_redis_url();

// What every handler test starts from: a fresh database for the test binary, Redis, and known
// stock (1 keyboard 10, 2 mouse 20, 3 monitor 5) before each test.
class HandlerTest : public ::testing::Test {
 protected:
  static void open(const std::string& database) {
    dsn_ = fresh_database(database);
    redis_ = require_env("REDIS_URL");
  }
  void SetUp() override {
    ASSERT_FALSE(dsn_.empty());
    ASSERT_FALSE(redis_.empty());
    truncate_all(dsn_);
    load_products(dsn_, {{1, "keyboard", 10}, {2, "mouse", 20}, {3, "monitor", 5}});
  }
  // A handler made the way the host makes it: declared options with their defaults, on this
  // test's database and Redis unless `given` says otherwise.
  template <class H>
  static std::unique_ptr<H> make_handler(std::map<std::string, OptionValue> given) {
    given.try_emplace("pg_dsn", dsn_);
    given.try_emplace("redis_url", redis_);
    return std::make_unique<H>(testkit::Host::options_for(H::option_specs(), given));
  }

  static inline std::string dsn_;
  static inline std::string redis_;
};

}  // namespace sidecar::inventory::testing
