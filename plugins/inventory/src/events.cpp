#include "inventory/events.hpp"

#include <nlohmann/json.hpp>

#include "inventory/uuid.hpp"

namespace sidecar::inventory {

std::string event_key(std::string_view cause, std::string_view event) {
  std::string name(cause);
  name.push_back('/');
  name.append(event);
  return uuid_v5(kEventNamespace, name);
}

OutboxEvent inventory_event(const std::string& topic, const std::string& idempotent_key,
                            std::int64_t order_id, std::string_view status,
                            std::string_view reason) {
  nlohmann::ordered_json body;
  body["idempotent_key"] = idempotent_key;
  body["order_id"] = order_id;
  body["status"] = status;
  if (!reason.empty()) body["reason"] = reason;
  return {topic, std::to_string(order_id), body.dump()};
}

}  // namespace sidecar::inventory
