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

// Without `savepoints`: the whole of `todo` in one statement (`tx` may be a
// pqxx::nontransaction), which locks the products FAILED payments give stock back to, in ascending
// id, then settles each payment in order. With `savepoints` (`tx` must then be a transaction):
// those products are locked first, then each payment runs on its own under a savepoint, so a
// payment the database refuses costs only itself.
void settle_batch(pqxx::transaction_base& tx, std::span<const Message> batch,
                  const std::vector<std::optional<inventory::PaymentResult>>& msgs,
                  const std::vector<std::size_t>& todo, std::vector<Outcome>& out,
                  std::vector<Effect>& effects, bool savepoints);

}  // namespace sidecar::payment_settlement
