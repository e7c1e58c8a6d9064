#include "inventory/outbox_relay.hpp"

#include <nlohmann/json.hpp>
#include <vector>

#include "inventory/pg.hpp"
#include "sidecar/host_services.hpp"

namespace sidecar::inventory {
namespace {

constexpr std::chrono::milliseconds kMinBackoff{100};
constexpr std::chrono::milliseconds kMaxBackoff{5000};
// Any constant shared by every sidecar build: it names "the outbox publisher" lock of a database.
constexpr std::int64_t kRelayLock = 0x51DECA4'0002;

// Shared with the publish callbacks, which may outlive a round that timed out.
struct Confirmations {
  std::mutex mu;
  std::condition_variable cv;
  std::size_t pending = 0;
  std::vector<char> ok;
};

void prepare(pqxx::connection& c) {
  c.prepare("outbox_claim",
            "SELECT id, topic, key, payload, headers::text FROM outbox WHERE sent_at IS NULL "
            "ORDER BY id LIMIT $1");
  c.prepare("outbox_mark_sent",
            "UPDATE outbox SET sent_at = now() WHERE id = ANY($1::bigint[]) AND sent_at IS NULL");
  c.prepare("relay_lead", "SELECT pg_try_advisory_lock($1)");
  c.prepare("relay_step_down", "SELECT pg_advisory_unlock($1)");
  c.prepare("outbox_backlog", "SELECT count(*) FROM outbox WHERE sent_at IS NULL");
  c.prepare("outbox_cleanup",
            "DELETE FROM outbox WHERE sent_at < now() - $1::bigint * interval '1 second'");
}

std::vector<Header> parse_headers(const std::string& text) {
  std::vector<Header> out;
  auto doc = nlohmann::json::parse(text, nullptr, false);
  if (!doc.is_object()) return out;
  for (const auto& [k, v] : doc.items())
    out.emplace_back(k, v.is_string() ? v.get<std::string>() : v.dump());
  return out;
}

}  // namespace

class OutboxRelay::Listener : public pqxx::notification_receiver {
 public:
  Listener(pqxx::connection_base& c, std::atomic<bool>& woken)
      : pqxx::notification_receiver(c, kOutboxChannel), woken_(woken) {}
  void operator()(const std::string&, int) override { woken_ = true; }

 private:
  std::atomic<bool>& woken_;
};

OutboxRelay::OutboxRelay(RelayConfig config, HostServices* host)
    : config_(std::move(config)), host_(host) {
  config_.dsn = with_connect_timeout(config_.dsn, 5);
}

OutboxRelay::~OutboxRelay() {
  stop();
  disconnect();
}

void OutboxRelay::start() {
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void OutboxRelay::stop() noexcept {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

pqxx::connection& OutboxRelay::connection() {
  if (conn_ && !conn_->is_open()) disconnect();
  if (!conn_) {
    auto conn = connect_for_lookups(config_.dsn);
    // A mark lost in a crash only sends its rows again, which at-least-once allows (same payload,
    // same key); not waiting for the WAL flush saves a disk wait per round.
    conn->set_variable("synchronous_commit", "off");
    // The publisher lock lasts as long as this session: if this sidecar's host or network goes
    // away, the server must notice within seconds and end it, not after hours of TCP silence.
    conn->set_variable("tcp_keepalives_idle", "10");
    conn->set_variable("tcp_keepalives_interval", "5");
    conn->set_variable("tcp_keepalives_count", "3");
    conn->set_variable("tcp_user_timeout", "30000");
    prepare(*conn);
    conn_ = std::move(conn);
  }
  return *conn_;
}

void OutboxRelay::disconnect() noexcept {
  drop_lead();  // a session's advisory lock ends with it
  if (!conn_) return;
  try {
    conn_->disconnect();
  } catch (...) {
    // Dropped either way.
  }
  conn_.reset();
}

bool OutboxRelay::lead() {
  pqxx::connection& conn = connection();
  // A session libpqxx opened again by itself no longer holds the lock.
  if (leading_ && conn.backendpid() != leader_pid_) drop_lead();
  if (!leading_) {
    if (!pqxx::nontransaction(conn).exec_prepared1("relay_lead", kRelayLock)[0].as<bool>()) {
      return false;
    }
    leading_ = true;
    leader_pid_ = conn.backendpid();
    // Only the publisher listens: a standby would have to read every commit's notification.
    // Listening before the first read means no commit after it goes unnoticed.
    listener_ = std::make_unique<Listener>(conn, woken_);
  }
  return true;
}

void OutboxRelay::drop_lead() noexcept {
  leading_ = false;
  listener_.reset();
}

void OutboxRelay::step_down() {
  if (!leading_) return;
  drop_lead();
  pqxx::nontransaction(connection()).exec_prepared1("relay_step_down", kRelayLock);
}

OutboxRelay::Round OutboxRelay::relay_once() {
  Round round;
  if (!lead()) return round;
  pqxx::connection& conn = connection();
  // Each statement its own transaction: none stays open while the transport confirms, which
  // would hold back the cleanup of every table's old row versions (the products' above all)
  // for as long as the round lasts.
  pqxx::result rows = pqxx::nontransaction(conn).exec_prepared(
      "outbox_claim", static_cast<std::int64_t>(config_.batch));
  round.claimed = rows.size();
  if (rows.empty()) return round;

  auto conf = std::make_shared<Confirmations>();
  conf->pending = rows.size();
  conf->ok.assign(rows.size(), 0);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    Message msg;
    msg.id = "outbox/" + rows[i][0].as<std::string>();
    msg.topic = rows[i][1].as<std::string>();
    msg.key = rows[i][2].as<std::string>();
    msg.payload = rows[i][3].as<std::string>();
    msg.headers = parse_headers(rows[i][4].as<std::string>());
    host_->publish(std::move(msg), [conf, i](const Status& st) {
      std::lock_guard lock(conf->mu);
      conf->ok[i] = st.is_ok() ? 1 : 0;
      --conf->pending;
      conf->cv.notify_all();
    });
  }
  std::vector<std::int64_t> sent;
  {
    std::unique_lock lock(conf->mu);
    conf->cv.wait_for(lock, config_.confirm_timeout, [&] { return conf->pending == 0; });
    for (std::size_t i = 0; i < rows.size(); ++i) {
      if (conf->ok[i] != 0) sent.push_back(rows[i][0].as<std::int64_t>());
    }
  }
  if (!sent.empty()) pqxx::nontransaction(conn).exec_prepared("outbox_mark_sent", int_array(sent));
  round.confirmed = sent.size();
  // A relay whose transport refuses lets another sidecar's relay publish meanwhile.
  if (round.confirmed < round.claimed) step_down();
  return round;
}

void OutboxRelay::report_backlog() {
  auto now = std::chrono::steady_clock::now();
  if (now < next_backlog_) return;
  next_backlog_ = now + std::chrono::seconds(1);
  pqxx::read_transaction tx(connection());
  auto n = tx.exec_prepared1("outbox_backlog")[0].as<std::int64_t>();
  tx.commit();
  host_->gauge_set("sidecar_outbox_backlog", {}, static_cast<double>(n));
  // One relay per database is enough to delete the old sent rows: the publisher.
  if (leading_ && now >= next_cleanup_) {
    next_cleanup_ = now + std::chrono::minutes(1);
    pqxx::work clean(connection());
    // No index serves sent_at, and this runs once a minute: the one statement allowed to scan.
    clean.exec0("SET LOCAL enable_seqscan = on");
    clean.exec_prepared("outbox_cleanup",
                        static_cast<std::int64_t>(config_.sent_retention.count()));
    clean.commit();
  }
}

void OutboxRelay::sleep_for(std::chrono::milliseconds d) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, d, [&] { return stopping_.load(); });
}

void OutboxRelay::wait_for_work(std::chrono::milliseconds at_most) {
  auto deadline = std::chrono::steady_clock::now() + at_most;
  while (!stopping_ && !woken_) {
    auto left = std::chrono::duration_cast<std::chrono::microseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return;
    // Short slices so that stop() is noticed promptly.
    auto slice = std::min<std::int64_t>(left.count(), 200'000);
    connection().await_notification(0, static_cast<long>(slice));
  }
}

void OutboxRelay::run() noexcept {
  std::chrono::milliseconds backoff{0};
  while (!stopping_) {
    try {
      woken_ = false;
      Round r = relay_once();
      if (r.confirmed < r.claimed) {
        // The transport refused or did not confirm: the rows stay unsent; do not spin on them.
        backoff = std::clamp(backoff * 2, kMinBackoff, kMaxBackoff);
        report_backlog();
        sleep_for(backoff);
        continue;
      }
      backoff = std::chrono::milliseconds{0};
      if (r.claimed == config_.batch) continue;  // more waiting
      report_backlog();
      wait_for_work(config_.poll_interval);
      if (woken_ && !stopping_) sleep_for(config_.gather);
    } catch (const std::exception& e) {
      if (backoff == std::chrono::milliseconds{0}) {
        host_->log(LogLevel::warn, std::string("outbox relay: ") + e.what());
      }
      disconnect();
      backoff = std::clamp(backoff * 2, kMinBackoff, kMaxBackoff);
      sleep_for(backoff);
    } catch (...) {
      disconnect();
      backoff = std::clamp(backoff * 2, kMinBackoff, kMaxBackoff);
      sleep_for(backoff);
    }
  }
}

}  // namespace sidecar::inventory
