#pragma once
// What the inventory's write handlers share: a PostgreSQL session and a Redis client per worker,
// the outbox relay, `sidecar migrate`, readiness, and the shape of a batch (decode, ask Redis,
// one transaction, tell Redis after the commit).
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "inventory/batch.hpp"
#include "inventory/decode.hpp"
#include "inventory/outbox_relay.hpp"
#include "inventory/pg.hpp"
#include "inventory/redis_dedupe.hpp"
#include "inventory/settings.hpp"
#include "sidecar/handler.hpp"

namespace sidecar::inventory {

// How often a worker re-reads the database's epoch while Redis answers for it (Worker).
inline constexpr std::chrono::seconds kEpochRecheck{1};

// How a batch's first run talks to the database; see handle_keyed().
enum class FirstTry { transaction, one_statement };

class InventoryHandler : public Handler {
 public:
  Status start(const HandlerContext& ctx) noexcept override;
  void stop() noexcept override;
  bool ready() const noexcept override { return db_ok_.load(); }
  Status migrate(const MigrateContext& ctx) noexcept override;

 protected:
  InventoryHandler(CommonSettings settings, PgSession::Prepare prepare);
  ~InventoryHandler() override;

  struct Worker {
    // Each (re)connection reads the database's epoch for the Redis namespace: a reconnect may
    // find a database created anew. A database without the epoch (migration 0007 not applied)
    // runs without the Redis fast path rather than failing every message.
    Worker(const CommonSettings& s, const PgSession::Prepare& prepare, HostServices* host)
        : pg(s.pg_dsn,
             [this, prepare, host](pqxx::connection& c) {
               redis.set_namespace({});
               if (prepare) prepare(c);
               try {
                 redis.set_namespace(read_store_epoch(c));
                 epoch_read_at = std::chrono::steady_clock::now();
               } catch (const pqxx::undefined_table&) {
                 if (host != nullptr && redis.enabled()) {
                   host->log(LogLevel::warn,
                             "table store_epoch missing (run `sidecar migrate`): Redis fast path "
                             "off until it exists");
                 }
               }
             }),
          redis(s.redis_url, s.dedupe_ttl, host) {}
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;
    PgSession pg;
    RedisDedupe redis;
    std::chrono::steady_clock::time_point epoch_read_at{};

    // Redis answers for the database it was told about only while the epoch is fresh: a database
    // dropped and created again under the same name shows itself only when this worker next uses
    // its connection, so a worker that Redis kept busy with duplicates checks at least every
    // kEpochRecheck. Clears the namespace (no Redis) when the check fails.
    void check_epoch() noexcept;
  };

  // Called at the end of start() / the beginning of stop(), for the handler's own threads.
  virtual Status start_more() { return Status::ok(); }
  virtual void stop_more() noexcept {}

  // The common batch: `decode(payload)` gives a Decoded<Msg> with an `idempotent_key`; `body(tx,
  // msgs, todo, out, savepoints)` writes provisional outcomes for `todo` inside the transaction;
  // `after(out)` runs once it committed (counters). Keys of handled and duplicate messages go to
  // Redis then.
  //
  // A batch first runs without savepoints: a savepoint per message costs a round trip each, and
  // the database refusing a message that passed decoding and the stock check is rare. If it does,
  // the transaction is rolled back and the batch runs again with a savepoint per message, so the
  // refused message costs only itself.
  //
  // FirstTry::one_statement: the first run is outside a transaction block (body gets a
  // pqxx::transaction_base&, savepoints false) and must make all its changes in one statement;
  // the run with savepoints is still a transaction (body gets a pqxx::dbtransaction&).
  template <class Msg, FirstTry first = FirstTry::transaction, class Decode, class Body,
            class After>
  std::vector<Outcome> handle_keyed(std::span<const Message> batch, std::size_t worker,
                                    Decode&& decode, Body&& body, After&& after) noexcept;

  Worker* worker(std::size_t index) noexcept;
  void note_db(bool ok) noexcept;

  CommonSettings settings_;
  HostServices* host_ = nullptr;
  std::size_t max_batch_ = 1;

 private:
  PgSession::Prepare prepare_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<OutboxRelay> relay_;
  std::atomic<bool> db_ok_{false};
};

template <class Msg, FirstTry first, class Decode, class Body, class After>
std::vector<Outcome> InventoryHandler::handle_keyed(std::span<const Message> batch,
                                                    std::size_t index, Decode&& decode, Body&& body,
                                                    After&& after) noexcept {
  std::vector<Outcome> out(batch.size());
  try {
    std::vector<std::optional<Msg>> msgs(batch.size());
    std::vector<std::size_t> valid;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      Decoded<Msg> d = decode(batch[i].payload);
      if (const Rejection* r = rejection(d)) {
        out[i] = Outcome::rejected(r->reason);
      } else {
        msgs[i] = std::move(std::get<Msg>(d));
        valid.push_back(i);
      }
    }
    Worker* w = worker(index);
    if (w == nullptr) {
      for (std::size_t i : valid) out[i] = Outcome::retry("handler not started");
      return out;
    }
    std::vector<std::string> keys;
    for (std::size_t i : valid) keys.push_back(msgs[i]->idempotent_key);
    w->check_epoch();
    std::vector<bool> seen = w->redis.seen(keys);
    std::vector<std::size_t> todo;
    for (std::size_t j = 0; j < valid.size(); ++j) {
      if (seen[j]) {
        out[valid[j]] = Outcome::duplicate();
      } else {
        todo.push_back(valid[j]);
      }
    }
    if (todo.empty()) return out;

    auto attempt = [&](bool savepoints) {
      return in_transaction(w->pg, out, todo, [&](pqxx::dbtransaction& tx) {
        body(tx, msgs, todo, out, savepoints);
      });
    };
    TxEnd end;
    if constexpr (first == FirstTry::one_statement) {
      end = in_one_statement(w->pg, out, todo,
                             [&](pqxx::transaction_base& tx) { body(tx, msgs, todo, out, false); });
    } else {
      end = attempt(false);
    }
    if (end == TxEnd::failed && todo.size() > 1) end = attempt(true);
    note_db(end != TxEnd::broken);
    if (end != TxEnd::committed) return out;
    after(out);
    std::vector<std::string> learned;
    for (std::size_t i : todo) {
      if (out[i].kind == OutcomeKind::handled || out[i].kind == OutcomeKind::duplicate) {
        learned.push_back(msgs[i]->idempotent_key);
      }
    }
    w->redis.remember(learned);
  } catch (const std::exception& e) {
    // Only allocation lands here. Retrying is always safe: the handled keys turn a re-run into a
    // duplicate.
    for (auto& o : out) {
      if (o.kind != OutcomeKind::rejected) o = Outcome::retry(e.what());
    }
  }
  return out;
}

}  // namespace sidecar::inventory
