#include "settle.hpp"

#include "inventory/batch.hpp"
#include "inventory/settlement.hpp"

namespace sidecar::payment_settlement {

using inventory::PaymentStatus;

namespace {

inventory::Payment payment_of(std::span<const Message> batch,
                              const std::vector<std::optional<inventory::PaymentResult>>& msgs,
                              std::size_t i) {
  const auto& m = *msgs[i];
  return {m.idempotent_key, batch[i].topic, m.order_id, m.status == PaymentStatus::completed};
}

Outcome outcome_of(const inventory::PaymentApplied& r, bool completed, Effect& effect) {
  if (!r.key_new) return Outcome::duplicate();
  if (r.settled > 0) {
    effect = completed ? Effect::confirmed : Effect::released;
    return Outcome::ok();
  }
  // Settled before, by another payment or by the hold expiry: the first decision wins.
  if (r.had_reservations) return Outcome::duplicate();
  effect = Effect::no_reservation;
  return Outcome::ok();
}

}  // namespace

void settle_batch(pqxx::transaction_base& tx, std::span<const Message> batch,
                  const std::vector<std::optional<inventory::PaymentResult>>& msgs,
                  const std::vector<std::size_t>& todo, std::vector<Outcome>& out,
                  std::vector<Effect>& effects, bool savepoints) {
  if (!savepoints) {
    std::vector<inventory::Payment> payments;
    for (std::size_t i : todo) payments.push_back(payment_of(batch, msgs, i));
    auto applied = inventory::apply_payments(tx, payments);
    for (std::size_t j = 0; j < todo.size(); ++j) {
      out[todo[j]] = outcome_of(applied[j], payments[j].completed, effects[todo[j]]);
    }
    return;
  }

  // A confirmation touches reservation rows only; a release returns stock, so it takes the
  // product locks first, in the same order as reservations and the hold expiry do. Then the held
  // reservations of every order of the batch, by order id, as the one statement does (migration
  // 0011): each message's statement below locks only its own order's, and holding one order's
  // while waiting for another's would close a cycle with the hold-expiry sweep.
  std::vector<std::int64_t> releasing;
  std::vector<std::int64_t> orders;
  for (std::size_t i : todo) {
    if (msgs[i]->status == PaymentStatus::failed) releasing.push_back(msgs[i]->order_id);
    orders.push_back(msgs[i]->order_id);
  }
  inventory::lock_held_products(tx, releasing);
  inventory::lock_held_reservations(tx, orders);

  inventory::KeyGate gate(batch);
  for (std::size_t i : todo) {
    if (gate.blocked(i)) {
      out[i] = inventory::KeyGate::waiting();
      continue;
    }
    inventory::Payment p = payment_of(batch, msgs, i);
    Effect effect = Effect::none;
    Outcome o = inventory::one_message(tx, true, [&](pqxx::transaction_base& t) {
      return outcome_of(inventory::apply_payments(t, {p})[0], p.completed, effect);
    });
    gate.note(i, o);
    if (o.kind == OutcomeKind::handled) effects[i] = effect;
    out[i] = std::move(o);
  }
}

}  // namespace sidecar::payment_settlement
