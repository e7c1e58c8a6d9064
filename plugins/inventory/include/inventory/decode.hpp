#pragma once
// Message bytes to typed messages, or the reason they are refused (the dead-letter reason).
// Unknown fields are ignored; known fields must have exactly their type.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace sidecar::inventory {

struct Rejection {
  std::string reason;  // "<code>: <detail>", e.g. "order_id_invalid: must be a positive integer"
};

template <class T>
using Decoded = std::variant<T, Rejection>;

struct OrderLine {
  std::int64_t product_id = 0;
  std::int32_t count = 0;
};

struct OrderCreated {
  std::string idempotent_key;  // canonical UUID
  std::int64_t order_id = 0;
  std::optional<std::vector<OrderLine>> items;  // absent (or null): the lines come from order_items
};

enum class PaymentStatus { completed, failed };

struct PaymentResult {
  std::string idempotent_key;
  std::int64_t order_id = 0;
  PaymentStatus status = PaymentStatus::completed;
};

struct ProductQuery {
  std::optional<std::vector<std::int64_t>> ids;  // absent: every product
};

Decoded<OrderCreated> decode_order(std::string_view payload, std::size_t max_bytes);
Decoded<PaymentResult> decode_payment(std::string_view payload, std::size_t max_bytes);
Decoded<ProductQuery> decode_query(std::string_view payload, std::size_t max_bytes);

template <class T>
const Rejection* rejection(const Decoded<T>& d) {
  return std::get_if<Rejection>(&d);
}

}  // namespace sidecar::inventory
