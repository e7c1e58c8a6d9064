#pragma once
// The reservation of a batch of orders inside one transaction.
#include <map>
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

// What an order's lines meet in stock: CREATED, or FAILED with the reason.
struct Decision {
  std::string status;  // "CREATED" or "FAILED"
  std::string reason;  // empty for CREATED
};

// Decides against `stock` (the locked counts); every line is checked before any is taken.
Decision decide(const std::vector<inventory::OrderLine>& lines,
                const std::map<std::int64_t, std::int64_t>& stock);

// Locks the whole batch's products in ascending id first (two sidecars' batches never deadlock on
// them), then handles each message of `todo`, under its own savepoint when `savepoints`.
// Writes provisional outcomes into `out` and, for each handled message, its decision.
void reserve_batch(pqxx::dbtransaction& tx, std::span<const Message> batch,
                   const std::vector<std::optional<inventory::OrderCreated>>& msgs,
                   const std::vector<std::size_t>& todo, const std::string& emit_topic,
                   std::vector<Outcome>& out, std::vector<std::optional<Decision>>& decisions,
                   bool savepoints);

}  // namespace sidecar::order_reservation
