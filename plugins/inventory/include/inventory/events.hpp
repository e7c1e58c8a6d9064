#pragma once
// The inventory events the handlers write to the outbox.
#include <cstdint>
#include <string>
#include <string_view>

namespace sidecar::inventory {

struct OutboxEvent {
  std::string topic;
  std::string key;  // the order id in decimal: every event of one order keeps its order
  std::string payload;
};

// The event's idempotent_key: a UUIDv5 of its cause, so every re-send of one event, and every
// re-run of the transaction that made it, carries the same key. `cause` is the source message's
// key (or another stable name of the cause) and `event` names the event, e.g. "inventory.CREATED".
std::string event_key(std::string_view cause, std::string_view event);

// {"idempotent_key": ..., "order_id": N, "status": ..., "reason": ...}; no reason when empty.
OutboxEvent inventory_event(const std::string& topic, const std::string& idempotent_key,
                            std::int64_t order_id, std::string_view status,
                            std::string_view reason);

}  // namespace sidecar::inventory
