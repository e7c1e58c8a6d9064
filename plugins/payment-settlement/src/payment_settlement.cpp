#include "payment_settlement.hpp"

#include "inventory/settlement.hpp"
#include "settle.hpp"

namespace sidecar::payment_settlement {

std::vector<OptionSpec> PaymentSettlement::option_specs() {
  using inventory::CommonOption;
  // relay defaults to false: payments emit no events, but an instance may relay the shared outbox
  // when no order-reservation instance does.
  return inventory::common_option_specs({CommonOption::pg_dsn, CommonOption::redis_url,
                                         CommonOption::dedupe_ttl, CommonOption::max_message_bytes},
                                        "false");
}

PaymentSettlement::PaymentSettlement(const Options& options)
    : InventoryHandler(inventory::read_common_settings(options), inventory::prepare_settlement) {}

PaymentSettlement::~PaymentSettlement() { stop(); }

std::vector<Outcome> PaymentSettlement::handle(std::span<const Message> batch,
                                               std::size_t worker) noexcept {
  std::vector<Effect> effects(batch.size(), Effect::none);
  return handle_keyed<inventory::PaymentResult, inventory::FirstTry::one_statement>(
      batch, worker,
      [&](const std::string& payload) {
        return inventory::decode_payment(payload, settings_.max_message_bytes);
      },
      [&](pqxx::transaction_base& tx, const auto& msgs, const auto& todo, auto& out,
          bool savepoints) { settle_batch(tx, batch, msgs, todo, out, effects, savepoints); },
      [&](const std::vector<Outcome>& out) {
        for (std::size_t i = 0; i < out.size(); ++i) {
          if (out[i].kind != OutcomeKind::handled) continue;
          switch (effects[i]) {
            case Effect::confirmed:
              host_->counter_add("sidecar_payments_total", {{"effect", "confirmed"}}, 1);
              break;
            case Effect::released:
              host_->counter_add("sidecar_payments_total", {{"effect", "released"}}, 1);
              break;
            case Effect::no_reservation:
              host_->counter_add("sidecar_payment_without_reservation_total", {}, 1);
              host_->log(LogLevel::warn, "payment for an order with no held reservation");
              break;
            case Effect::none: break;
          }
        }
      });
}

}  // namespace sidecar::payment_settlement
