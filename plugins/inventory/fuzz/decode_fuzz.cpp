// libFuzzer target for the message decoding and validation: any bytes, as any of the three
// message kinds, must give a typed message or a rejection, never a crash, a leak or a hang.
// Also checks what an accepted message promises the handlers.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string_view>

#include "inventory/decode.hpp"
#include "inventory/uuid.hpp"

namespace inv = sidecar::inventory;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

void check_key(const std::string& key) {
  auto canonical = inv::canonical_uuid(key);
  check(canonical.has_value() && *canonical == key);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view payload(reinterpret_cast<const char*>(data), size);
  // A limit inside the input's range too, so the size check is exercised.
  const std::size_t limits[] = {1 << 20, size / 2 + 1};
  for (std::size_t limit : limits) {
    auto order = inv::decode_order(payload, limit);
    if (const auto* o = std::get_if<inv::OrderCreated>(&order)) {
      check(size <= limit);
      check_key(o->idempotent_key);
      check(o->order_id > 0);
      if (o->items) {
        std::set<std::int64_t> seen;
        for (const auto& line : *o->items) {
          check(line.count > 0);
          check(seen.insert(line.product_id).second);
        }
      }
    } else {
      check(!std::get<inv::Rejection>(order).reason.empty());
    }

    auto payment = inv::decode_payment(payload, limit);
    if (const auto* p = std::get_if<inv::PaymentResult>(&payment)) {
      check_key(p->idempotent_key);
      check(p->order_id > 0);
    }

    auto query = inv::decode_query(payload, limit);
    if (std::holds_alternative<inv::Rejection>(query)) {
      check(!std::get<inv::Rejection>(query).reason.empty());
    }
  }
  return 0;
}
