#include "inventory/decode.hpp"

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "inventory/uuid.hpp"

namespace sidecar::inventory {
namespace {

using nlohmann::json;

// Thrown inside this file only, to leave a decoder from any depth; never escapes decode_*().
struct Refused {
  std::string reason;
};

[[noreturn]] void refuse(std::string code, std::string detail) {
  throw Refused{std::move(code) + ": " + std::move(detail)};
}

json parse_object(std::string_view payload, std::size_t max_bytes) {
  if (payload.size() > max_bytes) {
    refuse("too_large",
           std::to_string(payload.size()) + " bytes, the limit is " + std::to_string(max_bytes));
  }
  json doc = json::parse(payload.begin(), payload.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) refuse("not_json", "the payload is not valid JSON");
  if (!doc.is_object()) refuse("not_object", "the payload is JSON but not an object");
  return doc;
}

const json* field(const json& obj, const char* name) {
  auto it = obj.find(name);
  return it == obj.end() ? nullptr : &*it;
}

// JSON integers only: 3.0 and "3" are refused, as is anything outside int64.
std::optional<std::int64_t> as_int64(const json& v) {
  if (v.is_number_unsigned()) {
    auto u = v.get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      return std::nullopt;
    return static_cast<std::int64_t>(u);
  }
  if (v.is_number_integer()) return v.get<std::int64_t>();
  return std::nullopt;
}

std::string read_key(const json& obj) {
  const json* v = field(obj, "idempotent_key");
  if (v == nullptr || v->is_null()) refuse("idempotent_key_missing", "idempotent_key is required");
  if (!v->is_string()) refuse("idempotent_key_invalid", "idempotent_key must be a UUID string");
  auto uuid = canonical_uuid(v->get_ref<const std::string&>());
  if (!uuid) refuse("idempotent_key_invalid", "idempotent_key is not a UUID");
  return *uuid;
}

std::int64_t read_order_id(const json& obj) {
  const json* v = field(obj, "order_id");
  if (v == nullptr || v->is_null()) refuse("order_id_missing", "order_id is required");
  if (v->is_number_float()) {
    // nlohmann reads integer literals beyond 64 bits as floating point.
    double d = v->get<double>();
    if (std::isfinite(d) && std::trunc(d) == d && std::fabs(d) >= 9.2e18) {
      refuse("order_id_out_of_range", "order_id does not fit in 64 bits");
    }
    refuse("order_id_invalid", "order_id must be a positive integer");
  }
  if (v->is_number_unsigned() &&
      v->get<std::uint64_t>() >
          static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    refuse("order_id_out_of_range", "order_id does not fit in 64 bits");
  }
  auto id = as_int64(*v);
  if (!id || *id <= 0) refuse("order_id_invalid", "order_id must be a positive integer");
  return *id;
}

const std::string& read_status(const json& obj) {
  const json* v = field(obj, "status");
  if (v == nullptr || v->is_null()) refuse("status_missing", "status is required");
  if (!v->is_string()) refuse("status_unknown", "status must be a string");
  return v->get_ref<const std::string&>();
}

std::string quoted(const std::string& s) {
  // Bounded, so that a huge status does not make a huge dead-letter reason.
  constexpr std::size_t kMax = 64;
  return json(s.size() > kMax ? s.substr(0, kMax) + "..." : s)
      .dump(-1, ' ', false, json::error_handler_t::replace);
}

std::vector<OrderLine> read_items(const json& items) {
  if (!items.is_array()) refuse("items_invalid", "items must be an array");
  std::vector<OrderLine> lines;
  lines.reserve(items.size());
  std::set<std::int64_t> seen;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const json& item = items[i];
    std::string where = "items[" + std::to_string(i) + "]";
    if (!item.is_object()) refuse("items_invalid", where + " must be an object");
    const json* pid = field(item, "product_id");
    if (pid == nullptr) refuse("items_invalid", where + ".product_id is required");
    auto product_id = as_int64(*pid);
    if (!product_id) refuse("items_invalid", where + ".product_id must be a 64-bit integer");
    const json* cnt = field(item, "count");
    if (cnt == nullptr) refuse("item_count_invalid", where + ".count is required");
    auto count = as_int64(*cnt);
    if (!count || *count <= 0)
      refuse("item_count_invalid", where + ".count must be a positive integer");
    if (*count > std::numeric_limits<std::int32_t>::max()) {
      refuse("item_count_invalid", where + ".count does not fit the stock column (32 bits)");
    }
    if (!seen.insert(*product_id).second) {
      refuse("items_duplicate_product",
             "product " + std::to_string(*product_id) + " appears twice");
    }
    lines.push_back({*product_id, static_cast<std::int32_t>(*count)});
  }
  return lines;
}

template <class T, class Fn>
Decoded<T> guarded(Fn&& fn) {
  try {
    return fn();
  } catch (const Refused& r) {
    return Rejection{r.reason};
  } catch (const std::exception& e) {
    return Rejection{std::string("invalid: ") + e.what()};
  }
}

}  // namespace

Decoded<OrderCreated> decode_order(std::string_view payload, std::size_t max_bytes) {
  return guarded<OrderCreated>([&]() -> Decoded<OrderCreated> {
    json doc = parse_object(payload, max_bytes);
    OrderCreated msg;
    msg.idempotent_key = read_key(doc);
    msg.order_id = read_order_id(doc);
    const std::string& status = read_status(doc);
    if (status != "CREATED") refuse("status_unknown", "order status " + quoted(status));
    if (const json* items = field(doc, "items"); items != nullptr && !items->is_null()) {
      msg.items = read_items(*items);
    }
    return msg;
  });
}

Decoded<PaymentResult> decode_payment(std::string_view payload, std::size_t max_bytes) {
  return guarded<PaymentResult>([&]() -> Decoded<PaymentResult> {
    json doc = parse_object(payload, max_bytes);
    PaymentResult msg;
    msg.idempotent_key = read_key(doc);
    msg.order_id = read_order_id(doc);
    const std::string& status = read_status(doc);
    if (status == "COMPLETED") {
      msg.status = PaymentStatus::completed;
    } else if (status == "FAILED") {
      msg.status = PaymentStatus::failed;
    } else {
      refuse("status_unknown", "payment status " + quoted(status));
    }
    return msg;
  });
}

Decoded<ProductQuery> decode_query(std::string_view payload, std::size_t max_bytes) {
  return guarded<ProductQuery>([&]() -> Decoded<ProductQuery> {
    json doc = parse_object(payload, max_bytes);
    ProductQuery q;
    if (const json* ids = field(doc, "ids"); ids != nullptr && !ids->is_null()) {
      if (!ids->is_array()) refuse("ids_invalid", "ids must be an array of product ids");
      std::vector<std::int64_t> out;
      out.reserve(ids->size());
      for (const json& v : *ids) {
        auto id = as_int64(v);
        if (!id) refuse("ids_invalid", "ids must hold 64-bit integers only");
        out.push_back(*id);
      }
      q.ids = std::move(out);
    }
    return q;
  });
}

}  // namespace sidecar::inventory
