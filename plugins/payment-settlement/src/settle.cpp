#include "settle.hpp"

#include "inventory/batch.hpp"
#include "inventory/settlement.hpp"

namespace sidecar::payment_settlement {

using inventory::PaymentStatus;

void settle_batch(pqxx::dbtransaction& tx, std::span<const Message> batch,
                  const std::vector<std::optional<inventory::PaymentResult>>& msgs,
                  const std::vector<std::size_t>& todo, std::vector<Outcome>& out,
                  std::vector<Effect>& effects, bool savepoints) {
  // A confirmation touches reservation rows only; a release returns stock, so it takes the
  // product locks first, in the same order as reservations and the hold expiry do.
  std::vector<std::int64_t> releasing;
  for (std::size_t i : todo) {
    if (msgs[i]->status == PaymentStatus::failed) releasing.push_back(msgs[i]->order_id);
  }
  inventory::lock_held_products(tx, releasing);

  inventory::KeyGate gate(batch);
  for (std::size_t i : todo) {
    if (gate.blocked(i)) {
      out[i] = inventory::KeyGate::waiting();
      continue;
    }
    const auto& m = *msgs[i];
    const bool completed = m.status == PaymentStatus::completed;
    Effect effect = Effect::none;
    Outcome o = inventory::one_message(tx, savepoints, [&](pqxx::dbtransaction& t) {
      auto r = inventory::apply_payment(t, m.idempotent_key, batch[i].topic, m.order_id, completed);
      if (!r.key_new) return Outcome::duplicate();
      if (r.settled > 0) {
        effect = completed ? Effect::confirmed : Effect::released;
        return Outcome::ok();
      }
      // Settled before, by another payment or by the hold expiry: the first decision wins.
      if (r.had_reservations) return Outcome::duplicate();
      effect = Effect::no_reservation;
      return Outcome::ok();
    });
    gate.note(i, o);
    if (o.kind == OutcomeKind::handled) effects[i] = effect;
    out[i] = std::move(o);
  }
}

}  // namespace sidecar::payment_settlement
