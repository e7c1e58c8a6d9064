#pragma once
#include <string>
#include <string_view>

namespace sidecar::host {

// The value of a top-level JSON field as text ("111" for 111 or "111"), or empty when the payload
// is not a JSON object or lacks the field. Used for per-key order on transports without keys.
std::string extract_json_key(std::string_view payload, const std::string& field);

}  // namespace sidecar::host
