#pragma once
// Settling held reservations: a payment confirms or releases them, an expired hold releases them
// as a failed payment would. Shared by payment-settlement and order-reservation's hold expiry, so
// that both take the same locks in the same order: products by ascending id first, then the
// order's reservation rows.
#include <cstdint>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "inventory/events.hpp"

namespace sidecar::inventory {

void prepare_settlement(pqxx::connection& conn);

// Locks, in ascending id, the products held for these orders.
void lock_held_products(pqxx::transaction_base& tx, const std::vector<std::int64_t>& order_ids);
// Locks the held reservations of these orders in (order, product) order, as settle_payments()
// does before it changes any (migration 0011); after lock_held_products.
void lock_held_reservations(pqxx::transaction_base& tx, const std::vector<std::int64_t>& order_ids);

struct PaymentApplied {
  bool key_new = false;           // false: this key was handled before
  std::int64_t settled = 0;       // held reservation rows this payment settled
  bool had_reservations = false;  // the order had reservation rows (held or settled) before
};

struct Payment {
  std::string idempotent_key;
  std::string topic;
  std::int64_t order_id = 0;
  bool completed = false;
};

// One statement for the whole batch (settle_payments(), migrations/0006, as 0008 replaced it): per
// payment, in order, records the key and settles the order's held rows: confirmed, or released
// with their counts returned to stock. Rows already settled are left alone (the first decision
// wins). The products of the FAILED payments are locked first, in ascending id.
std::vector<PaymentApplied> apply_payments(pqxx::transaction_base& tx,
                                           const std::vector<Payment>& payments);

// Orders whose hold is older than `timeout_ms` and still held, oldest first.
std::vector<std::int64_t> expired_holds(pqxx::dbtransaction& tx, std::int64_t timeout_ms,
                                        std::int64_t limit);

// Releases the order's held rows and writes `event` to the outbox when it released any.
std::int64_t expire_hold(pqxx::dbtransaction& tx, std::int64_t order_id, const OutboxEvent& event);

}  // namespace sidecar::inventory
