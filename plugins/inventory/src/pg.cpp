#include "inventory/pg.hpp"

#include <algorithm>
#include <string_view>

namespace sidecar::inventory {

std::unique_ptr<pqxx::connection> connect_for_lookups(const std::string& dsn) {
  auto conn = std::make_unique<pqxx::connection>(dsn);
  // Our statements are lookups by key. Their prepared plans are cached for the life of the
  // connection, and a plan made while a table was small (a fresh or just truncated database)
  // scans it instead: measured, every order then read all of `reservations` and `products`, at a
  // third of the speed; and the outbox relay, planned on an empty outbox, read every row the
  // outbox keeps for each round (b1 bench with sequential scans forced off for the relay too,
  // against without, interleaved: ~2,350 against ~1,970 orders/s).
  // Scans stay possible where no index serves, but are costed so high that JIT compilation would
  // start for them: off too. set_variable, because libpqxx restores those (not a plain SET) if it
  // ever reconnects by itself.
  conn->set_variable("enable_seqscan", "off");
  conn->set_variable("jit", "off");
  return conn;
}

PgSession::PgSession(std::string dsn, Prepare prepare)
    : dsn_(with_connect_timeout(dsn, 5)), prepare_(std::move(prepare)) {}

PgSession::~PgSession() { reset(); }

pqxx::connection& PgSession::get() {
  if (conn_ && !conn_->is_open()) reset();
  if (!conn_) {
    auto conn = connect_for_lookups(dsn_);
    if (prepare_) prepare_(*conn);
    conn_ = std::move(conn);
  }
  return *conn_;
}

void PgSession::reset() noexcept {
  if (!conn_) return;
  try {
    conn_->disconnect();
  } catch (...) {
    // Already broken; the object is dropped either way.
  }
  conn_.reset();
}

std::string read_store_epoch(pqxx::connection& conn) {
  pqxx::nontransaction tx(conn);
  return tx.exec1("SELECT epoch::text FROM store_epoch WHERE single")[0].as<std::string>();
}

DbFault classify(const std::exception& e) noexcept {
  if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr) return DbFault::broken;
  // The commit may or may not have happened: re-delivery is safe because the handled key tells.
  if (dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr) return DbFault::broken;
  if (dynamic_cast<const pqxx::transaction_rollback*>(&e) != nullptr) return DbFault::transient;
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e)) {
    const std::string& state = sql->sqlstate();
    std::string_view cls =
        std::string_view(state).substr(0, std::min<std::size_t>(2, state.size()));
    if (cls == "08" || cls == "57") return DbFault::broken;  // connection, operator intervention
    if (cls == "40" || cls == "53" || state == "55P03" || state == "58030")
      return DbFault::transient;
    // An error without a state is libpq's own (the server went away mid-statement).
    if (state.empty()) return DbFault::broken;
    return DbFault::permanent;
  }
  if (dynamic_cast<const pqxx::failure*>(&e) != nullptr) return DbFault::broken;
  return DbFault::permanent;
}

std::string with_connect_timeout(const std::string& dsn, int seconds) {
  if (dsn.find("connect_timeout") != std::string::npos) return dsn;
  std::string value = std::to_string(seconds);
  bool uri = dsn.rfind("postgresql://", 0) == 0 || dsn.rfind("postgres://", 0) == 0;
  if (uri)
    return dsn + (dsn.find('?') == std::string::npos ? "?" : "&") + "connect_timeout=" + value;
  return dsn + " connect_timeout=" + value;
}

namespace {
template <class T>
std::string array_literal(const std::vector<T>& values) {
  std::string out = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i != 0) out.push_back(',');
    out += std::to_string(values[i]);
  }
  out.push_back('}');
  return out;
}
}  // namespace

std::string int_array(const std::vector<std::int64_t>& values) { return array_literal(values); }
std::string int_array(const std::vector<std::int32_t>& values) { return array_literal(values); }

std::string text_array(const std::vector<std::string>& values) {
  std::string out = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i != 0) out.push_back(',');
    out.push_back('"');
    for (char c : values[i]) {
      if (c == '"' || c == '\\') out.push_back('\\');
      out.push_back(c);
    }
    out.push_back('"');
  }
  out.push_back('}');
  return out;
}

std::string bool_array(const std::vector<bool>& values) {
  std::string out = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i != 0) out.push_back(',');
    out.push_back(values[i] ? 't' : 'f');
  }
  out.push_back('}');
  return out;
}

}  // namespace sidecar::inventory
