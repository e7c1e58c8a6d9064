#pragma once
// One PostgreSQL connection (one per worker, one per background thread), its prepared
// statements, and what a database exception means for the message that met it.
#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <vector>

namespace sidecar::inventory {

// A connection whose cached plans look rows up by key (see pg.cpp): every connection of the
// inventory plugins, workers and background threads alike, is made with it.
std::unique_ptr<pqxx::connection> connect_for_lookups(const std::string& dsn);

class PgSession {
 public:
  using Prepare = std::function<void(pqxx::connection&)>;

  PgSession(std::string dsn, Prepare prepare);
  ~PgSession();
  PgSession(const PgSession&) = delete;
  PgSession& operator=(const PgSession&) = delete;

  // The open connection, connecting (and preparing) first when there is none. Throws
  // pqxx::broken_connection when the database cannot be reached.
  pqxx::connection& get();
  // Forgets the connection after a fault that may have broken it; the next get() reconnects.
  void reset() noexcept;
  [[nodiscard]] bool connected() const noexcept { return conn_ != nullptr; }

 private:
  std::string dsn_;
  Prepare prepare_;
  std::unique_ptr<pqxx::connection> conn_;
};

enum class DbFault {
  transient,  // deadlock, serialization, resources: run it again
  broken,     // the connection is gone or unusable (database down): reconnect, run it again
  permanent,  // this statement will fail again the same way
};

// Call from a catch block.
DbFault classify(const std::exception& e) noexcept;

// `dsn` with a connect timeout when it has none, so a black-holed database costs seconds, not
// minutes. Works for both libpq forms (URI and key=value).
std::string with_connect_timeout(const std::string& dsn, int seconds);

// The database's epoch (migrations/0007_store_epoch.sql) as text. Throws when it is missing:
// the migrations have not been applied.
std::string read_store_epoch(pqxx::connection& conn);

// PostgreSQL array literals ("{1,2,3}"): libpqxx 6.4 takes no containers as parameters.
std::string int_array(const std::vector<std::int64_t>& values);
std::string int_array(const std::vector<std::int32_t>& values);
// Every element quoted and escaped, so any text (a topic name with a comma or a quote) survives.
std::string text_array(const std::vector<std::string>& values);
std::string bool_array(const std::vector<bool>& values);

}  // namespace sidecar::inventory
