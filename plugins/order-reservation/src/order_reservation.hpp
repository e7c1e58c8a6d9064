#pragma once
// The `order-reservation` handler: order CREATED messages reserve stock, or record why not.
#include <memory>

#include "hold_expiry.hpp"
#include "inventory/handler_base.hpp"

namespace sidecar::order_reservation {

class OrderReservation : public inventory::InventoryHandler {
 public:
  static std::vector<OptionSpec> option_specs();
  explicit OrderReservation(const Options& options);
  ~OrderReservation() override;

  std::vector<Outcome> handle(std::span<const Message> batch, std::size_t worker) noexcept override;

  // For tests: the sweep the hold_timeout thread runs. Needs start() and a hold_timeout.
  std::size_t sweep_expired_holds();

 private:
  Status start_more() override;
  void stop_more() noexcept override;

  std::string emit_topic_;
  std::chrono::milliseconds hold_timeout_{0};
  std::unique_ptr<HoldExpiry> expiry_;
};

}  // namespace sidecar::order_reservation
