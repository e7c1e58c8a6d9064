#pragma once
// The reservation of a batch of orders: one call of the database function reserve_orders()
// (migrations/0005_reserve_orders.sql, as 0010 replaced it) for the whole batch, or one per message
// under savepoints.
#include <optional>
#include <pqxx/pqxx>
#include <span>
#include <string>
#include <vector>

#include "inventory/decode.hpp"
#include "sidecar/message.hpp"
#include "sidecar/outcome.hpp"

namespace sidecar::order_reservation {

void prepare_reservation(pqxx::connection& conn);

// What an order's lines met in stock: CREATED, or FAILED with the reason.
struct Decision {
  std::string status;  // "CREATED" or "FAILED"
  std::string reason;  // empty for CREATED
};

// Without `savepoints`: the whole of `todo` in one statement, which locks the batch's products in
// ascending id, checks every line against the running stock (earlier messages take stock first)
// and writes everything; `tx` may be a pqxx::nontransaction. With `savepoints` (`tx` must then be
// a transaction): the batch's keys, order locks and products are taken first, each kind in one
// statement and sorted, then each message runs on its own under a savepoint, so a message the
// database refuses costs only itself (its key is given back). Writes provisional outcomes into
// `out` and, for each decided message, its decision.
void reserve_batch(pqxx::transaction_base& tx, std::span<const Message> batch,
                   const std::vector<std::optional<inventory::OrderCreated>>& msgs,
                   const std::vector<std::size_t>& todo, const std::string& emit_topic,
                   std::vector<Outcome>& out, std::vector<std::optional<Decision>>& decisions,
                   bool savepoints);

}  // namespace sidecar::order_reservation
