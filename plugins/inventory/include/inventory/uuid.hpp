#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace sidecar::inventory {

// The canonical lower-case form of a UUID written as 8-4-4-4-12 hex digits (either case), or
// nothing. Other spellings PostgreSQL would accept (braces, no hyphens) are refused so that one
// key has one spelling in Redis and in the handled-keys table.
std::optional<std::string> canonical_uuid(std::string_view text);

// RFC 4122 name-based UUID, version 5 (SHA-1), in canonical form. `ns` must be canonical.
std::string uuid_v5(std::string_view ns, std::string_view name);

// The namespace of the events the inventory emits.
inline constexpr std::string_view kEventNamespace = "58849821-498b-48f8-8776-5702a67d2c5f";

}  // namespace sidecar::inventory
