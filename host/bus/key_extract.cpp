#include "bus/key_extract.hpp"

#include <nlohmann/json.hpp>

namespace sidecar::host {

std::string extract_json_key(std::string_view payload, const std::string& field) {
  auto doc = nlohmann::json::parse(payload.begin(), payload.end(), nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return {};
  auto it = doc.find(field);
  if (it == doc.end()) return {};
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number_integer() || it->is_number_unsigned()) return it->dump();
  return {};
}

}  // namespace sidecar::host
