#pragma once
// The `payment-settlement` handler: payment COMPLETED confirms an order's held reservations,
// payment FAILED releases them and returns their stock.
#include "inventory/handler_base.hpp"

namespace sidecar::payment_settlement {

class PaymentSettlement : public inventory::InventoryHandler {
 public:
  static std::vector<OptionSpec> option_specs();
  explicit PaymentSettlement(const Options& options);
  ~PaymentSettlement() override;

  std::vector<Outcome> handle(std::span<const Message> batch, std::size_t worker) noexcept override;
};

}  // namespace sidecar::payment_settlement
