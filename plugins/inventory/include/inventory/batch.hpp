#pragma once
// One batch, one transaction, one savepoint per message: how the write handlers turn database
// faults into outcomes without losing a message or reordering a key.
#include <exception>
#include <pqxx/pqxx>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "inventory/pg.hpp"
#include "sidecar/message.hpp"
#include "sidecar/outcome.hpp"

namespace sidecar::inventory {

Outcome outcome_for(DbFault fault, const std::exception& e);

// Once a message of a key must be tried again, every later message of that key in the batch
// waits too, so that the key's order holds when they come back.
class KeyGate {
 public:
  explicit KeyGate(std::span<const Message> batch) : batch_(batch) {}
  [[nodiscard]] bool blocked(std::size_t i) const {
    return !batch_[i].key.empty() && held_.count(batch_[i].key) != 0;
  }
  void note(std::size_t i, const Outcome& o) {
    if (o.kind == OutcomeKind::retry || o.kind == OutcomeKind::failed) held_.insert(batch_[i].key);
  }
  static Outcome waiting() { return Outcome::retry("an earlier message with this key is retried"); }

 private:
  std::span<const Message> batch_;
  std::set<std::string> held_;
};

// Runs one message's statements. Among other messages, under a savepoint, so a failure costs only
// this message; alone, the failure is the transaction's (rethrown). A broken connection is always
// the transaction's.
//
// Plain SAVEPOINT statements rather than pqxx::subtransaction: libpqxx 6.4 opens a subtransaction
// lazily on exec() but not on exec_prepared(), so a failed prepared statement in one aborted the
// whole transaction. No RELEASE: ROLLBACK TO names the latest savepoint of that name, and leaving
// them costs nothing until the commit, while a RELEASE would cost a round trip per message.
template <class Tx, class Fn>
Outcome one_message(Tx& tx, bool savepoint, Fn&& fn) {
  if (!savepoint) return fn(tx);
  tx.exec0("SAVEPOINT sidecar_msg");
  try {
    return fn(tx);
  } catch (const std::exception& e) {
    DbFault fault = classify(e);
    if (fault == DbFault::broken) throw;
    tx.exec0("ROLLBACK TO SAVEPOINT sidecar_msg");
    return outcome_for(fault, e);
  }
}

enum class TxEnd { committed, broken, failed };

// What a fault before the commit means for every outcome of `todo`. Call from a catch block.
TxEnd end_with_fault(PgSession& pg, std::vector<Outcome>& out, const std::vector<std::size_t>& todo,
                     const std::exception& e) noexcept;

// Runs `body(tx)` in one transaction on `pg` and commits. Until the commit is done every outcome
// of `todo` is provisional: on any fault they all become retry (transient, connection) or failed
// (permanent).
template <class Body>
TxEnd in_transaction(PgSession& pg, std::vector<Outcome>& out, const std::vector<std::size_t>& todo,
                     Body&& body) noexcept {
  try {
    pqxx::work tx(pg.get());
    body(static_cast<pqxx::dbtransaction&>(tx));
    tx.commit();
    return TxEnd::committed;
  } catch (const std::exception& e) {
    return end_with_fault(pg, out, todo, e);
  } catch (...) {
    for (std::size_t i : todo) out[i] = Outcome::failed("unknown exception");
    return TxEnd::failed;
  }
}

// Like in_transaction, but outside a transaction block: each statement is its own transaction,
// so `body` must make all its changes in ONE statement. That saves the BEGIN and COMMIT round
// trips, and the locks the statement takes end with it instead of a round trip later (which is
// what lets concurrent batches on the same products keep up with one statement each).
template <class Body>
TxEnd in_one_statement(PgSession& pg, std::vector<Outcome>& out,
                       const std::vector<std::size_t>& todo, Body&& body) noexcept {
  try {
    pqxx::nontransaction tx(pg.get());
    body(static_cast<pqxx::transaction_base&>(tx));
    return TxEnd::committed;
  } catch (const std::exception& e) {
    return end_with_fault(pg, out, todo, e);
  } catch (...) {
    for (std::size_t i : todo) out[i] = Outcome::failed("unknown exception");
    return TxEnd::failed;
  }
}

}  // namespace sidecar::inventory
