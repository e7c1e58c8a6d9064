#include "inventory/migrations.hpp"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <pqxx/pqxx>
#include <set>
#include <sstream>
#include <stdexcept>

#include "inventory/pg.hpp"
#include "sidecar/host_services.hpp"

namespace sidecar::inventory {
namespace {

// Any constant shared by every sidecar build: it names "the schema migration" lock.
constexpr std::int64_t kMigrationLock = 0x51DECA4'0001;

constexpr const char* kCreateTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version bigint PRIMARY KEY,"
    " name text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now())";

void log(HostServices* host, LogLevel level, const std::string& text) {
  if (host != nullptr) host->log(level, text);
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Releases the session-level advisory lock however the run ends.
class AdvisoryLock {
 public:
  AdvisoryLock(pqxx::connection& conn, std::int64_t key) : conn_(conn), key_(key) {
    pqxx::nontransaction tx(conn_);
    tx.exec_prepared("migrations_lock", key_);
  }
  ~AdvisoryLock() {
    try {
      pqxx::nontransaction tx(conn_);
      tx.exec_prepared("migrations_unlock", key_);
    } catch (...) {
      // The lock dies with the session anyway.
    }
  }
  AdvisoryLock(const AdvisoryLock&) = delete;
  AdvisoryLock& operator=(const AdvisoryLock&) = delete;

 private:
  pqxx::connection& conn_;
  std::int64_t key_;
};

}  // namespace

std::vector<MigrationFile> list_migrations(const std::filesystem::path& dir) {
  if (!std::filesystem::is_directory(dir)) {
    throw std::runtime_error("migrations directory not found: " + dir.string());
  }
  std::vector<MigrationFile> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (!entry.is_regular_file() || entry.path().extension() != ".sql") continue;
    std::string stem = entry.path().stem().string();
    std::size_t digits = 0;
    while (digits < stem.size() && std::isdigit(static_cast<unsigned char>(stem[digits]))) ++digits;
    if (digits == 0 || digits > 18 || digits >= stem.size() || stem[digits] != '_') continue;
    files.push_back({std::stoll(stem.substr(0, digits)), stem, entry.path()});
  }
  std::sort(files.begin(), files.end(),
            [](const auto& a, const auto& b) { return a.version < b.version; });
  for (std::size_t i = 1; i < files.size(); ++i) {
    if (files[i].version == files[i - 1].version) {
      throw std::runtime_error("two migrations with version " + std::to_string(files[i].version) +
                               ": " + files[i - 1].name + ", " + files[i].name);
    }
  }
  return files;
}

MigrationReport run_migrations(const std::string& dsn, const std::filesystem::path& dir,
                               HostServices* host) {
  auto files = list_migrations(dir);
  pqxx::connection conn(with_connect_timeout(dsn, 5));
  conn.prepare("migrations_lock", "SELECT pg_advisory_lock($1)");
  conn.prepare("migrations_unlock", "SELECT pg_advisory_unlock($1)");
  conn.prepare("migrations_applied", "SELECT version FROM schema_migrations");
  conn.prepare("migrations_record",
               "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)");

  MigrationReport report;
  AdvisoryLock lock(conn, kMigrationLock);
  {
    pqxx::work tx(conn);
    tx.exec0(kCreateTable);
    tx.commit();
  }
  std::set<std::int64_t> applied;
  {
    pqxx::read_transaction tx(conn);
    for (const auto& row : tx.exec_prepared("migrations_applied")) {
      applied.insert(row[0].as<std::int64_t>());
    }
  }
  for (const auto& file : files) {
    if (applied.count(file.version) != 0) {
      ++report.already_applied;
      continue;
    }
    std::string sql = read_file(file.path);
    try {
      pqxx::work tx(conn);
      tx.exec(sql);  // a whole file: many statements, so the simple query protocol
      tx.exec_prepared("migrations_record", file.version, file.name);
      tx.commit();
    } catch (const std::exception& e) {
      throw std::runtime_error("migration " + file.name + " failed: " + e.what());
    }
    log(host, LogLevel::info, "migration applied: " + file.name);
    report.applied.push_back(file.name);
  }
  log(host, LogLevel::info,
      "migrations: " + std::to_string(report.applied.size()) + " applied, " +
          std::to_string(report.already_applied) + " already applied");
  return report;
}

}  // namespace sidecar::inventory
