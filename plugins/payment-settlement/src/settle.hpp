#pragma once
// The settlement of a batch of payments inside one transaction.
#include <optional>
#include <pqxx/pqxx>
#include <span>
#include <vector>

#include "inventory/decode.hpp"
#include "sidecar/message.hpp"
#include "sidecar/outcome.hpp"

namespace sidecar::payment_settlement {

// What a handled payment did, for the metrics counted after the commit.
enum class Effect { none, confirmed, released, no_reservation };

// Locks the products that FAILED payments give stock back to, in ascending id, then settles each
// message of `todo`, under its own savepoint when `savepoints`.
void settle_batch(pqxx::dbtransaction& tx, std::span<const Message> batch,
                  const std::vector<std::optional<inventory::PaymentResult>>& msgs,
                  const std::vector<std::size_t>& todo, std::vector<Outcome>& out,
                  std::vector<Effect>& effects, bool savepoints);

}  // namespace sidecar::payment_settlement
