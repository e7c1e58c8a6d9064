#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <pqxx/pqxx>

#include "inventory/migrations.hpp"
#include "sidecar/testkit.hpp"
#include "testdb.hpp"

namespace sidecar::inventory {
namespace {

using namespace sidecar::inventory::testing;

class Migrations : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string base = require_env("PG_DSN");
    ASSERT_FALSE(base.empty());
    {
      pqxx::connection c(base);
      pqxx::nontransaction tx(c);
      tx.exec0("DROP DATABASE IF EXISTS sidecar_test_migrations WITH (FORCE)");
      tx.exec0("CREATE DATABASE sidecar_test_migrations");
    }
    dsn_ = dsn_with_database(base, "sidecar_test_migrations");
  }
  std::string dsn_;
};

TEST_F(Migrations, ApplyOnceThenNothing) {
  testkit::Host host;
  auto files = list_migrations(migrations_dir());
  ASSERT_GE(files.size(), 4u);
  EXPECT_EQ(files.front().name, "0001_inventory");

  auto first = run_migrations(dsn_, migrations_dir(), &host);
  EXPECT_EQ(first.applied.size(), files.size());
  EXPECT_EQ(first.already_applied, 0u);
  EXPECT_EQ(count_of(dsn_, "SELECT count(*) FROM schema_migrations"),
            static_cast<std::int64_t>(files.size()));
  EXPECT_EQ(scalar(dsn_, "SELECT name FROM schema_migrations ORDER BY version LIMIT 1"),
            "0001_inventory");
  // Demo data is not a migration.
  EXPECT_EQ(count_of(dsn_, "SELECT count(*) FROM products"), 0);

  std::string before = scalar(dsn_,
                              "SELECT string_agg(version || ':' || applied_at, ',' "
                              "ORDER BY version) FROM schema_migrations");
  auto second = run_migrations(dsn_, migrations_dir(), &host);
  EXPECT_TRUE(second.applied.empty());
  EXPECT_EQ(second.already_applied, files.size());
  EXPECT_EQ(scalar(dsn_,
                   "SELECT string_agg(version || ':' || applied_at, ',' "
                   "ORDER BY version) FROM schema_migrations"),
            before);
  bool logged = false;
  for (const auto& l : host.logs) logged |= l.text.find("0 applied") != std::string::npos;
  EXPECT_TRUE(logged);
}

TEST_F(Migrations, TwoAtOnceApplyEachOnce) {
  auto a = std::async(std::launch::async,
                      [&] { return run_migrations(dsn_, migrations_dir(), nullptr); });
  auto b = std::async(std::launch::async,
                      [&] { return run_migrations(dsn_, migrations_dir(), nullptr); });
  auto ra = a.get();
  auto rb = b.get();
  auto files = list_migrations(migrations_dir());
  EXPECT_EQ(ra.applied.size() + rb.applied.size(), files.size());
  EXPECT_EQ(count_of(dsn_, "SELECT count(*) FROM schema_migrations"),
            static_cast<std::int64_t>(files.size()));
}

TEST_F(Migrations, AFailingFileStopsAndIsNotRecorded) {
  auto dir = std::filesystem::path(scratch_dir()) / "bad-migrations";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir / "demo");
  std::ofstream(dir / "0001_ok.sql") << "CREATE TABLE t1 (x int);";
  std::ofstream(dir / "0002_bad.sql") << "CREATE TABLE t2 (x int); SELECT nonsense;";
  std::ofstream(dir / "0003_later.sql") << "CREATE TABLE t3 (x int);";
  std::ofstream(dir / "demo" / "0004_not_a_migration.sql") << "SELECT 1;";
  std::ofstream(dir / "README.md") << "not sql";
  EXPECT_THROW(run_migrations(dsn_, dir, nullptr), std::runtime_error);
  EXPECT_EQ(rows(dsn_, "SELECT version FROM schema_migrations ORDER BY version"),
            (std::vector<std::string>{"1"}));
  EXPECT_EQ(count_of(dsn_, "SELECT count(*) FROM pg_tables WHERE tablename IN ('t2', 't3')"), 0);
}

TEST(MigrationFiles, DuplicateVersionsAreRefused) {
  auto dir = std::filesystem::path(scratch_dir()) / "dup-migrations";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "0001_a.sql") << "SELECT 1;";
  std::ofstream(dir / "001_b.sql") << "SELECT 1;";
  EXPECT_THROW(list_migrations(dir), std::runtime_error);
}

}  // namespace
}  // namespace sidecar::inventory
