#include "order_reservation.hpp"

#include "inventory/settlement.hpp"
#include "reserve.hpp"

namespace sidecar::order_reservation {
namespace {

void prepare(pqxx::connection& conn) { prepare_reservation(conn); }

}  // namespace

std::vector<OptionSpec> OrderReservation::option_specs() {
  using inventory::CommonOption;
  auto specs =
      inventory::common_option_specs({CommonOption::pg_dsn, CommonOption::redis_url,
                                      CommonOption::dedupe_ttl, CommonOption::max_message_bytes},
                                     "true");
  specs.push_back({"emit_topic", OptionType::string, "inventory", false,
                   "topic of the inventory events (CREATED / FAILED)", false});
  specs.push_back({"hold_timeout", OptionType::duration, "0", false,
                   "release held reservations no payment settled after this long, with an event "
                   "FAILED reason hold_expired; 0 = never",
                   false});
  return specs;
}

OrderReservation::OrderReservation(const Options& options)
    : InventoryHandler(inventory::read_common_settings(options), prepare),
      emit_topic_(options.get_string("emit_topic")),
      hold_timeout_(options.get_duration("hold_timeout")) {
  if (emit_topic_.empty()) throw std::invalid_argument("emit_topic: must not be empty");
  if (hold_timeout_.count() < 0) throw std::invalid_argument("hold_timeout: must not be negative");
}

OrderReservation::~OrderReservation() { stop(); }

Status OrderReservation::start_more() {
  if (hold_timeout_.count() > 0) {
    expiry_ = std::make_unique<HoldExpiry>(settings_.pg_dsn, hold_timeout_, emit_topic_, host_);
    expiry_->start();
  }
  return Status::ok();
}

void OrderReservation::stop_more() noexcept { expiry_.reset(); }

std::size_t OrderReservation::sweep_expired_holds() {
  if (!expiry_) throw std::logic_error("not started, or hold_timeout is 0");
  return expiry_->sweep_once();
}

std::vector<Outcome> OrderReservation::handle(std::span<const Message> batch,
                                              std::size_t worker) noexcept {
  std::vector<std::optional<Decision>> decisions(batch.size());
  return handle_keyed<inventory::OrderCreated, inventory::FirstTry::one_statement>(
      batch, worker,
      [&](const std::string& payload) {
        return inventory::decode_order(payload, settings_.max_message_bytes);
      },
      [&](pqxx::transaction_base& tx, const auto& msgs, const auto& todo, auto& out,
          bool savepoints) {
        reserve_batch(tx, batch, msgs, todo, emit_topic_, out, decisions, savepoints);
      },
      [&](const std::vector<Outcome>& out) {
        for (std::size_t i = 0; i < out.size(); ++i) {
          if (out[i].kind != OutcomeKind::handled || !decisions[i]) continue;
          host_->counter_add("sidecar_inventory_orders_total",
                             {{"status", decisions[i]->status}, {"reason", decisions[i]->reason}},
                             1);
        }
      });
}

}  // namespace sidecar::order_reservation
