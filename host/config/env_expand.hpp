#pragma once
#include <functional>
#include <optional>
#include <string>

namespace sidecar::host {

// Replaces ${VAR} and ${VAR:-default}; "$$" is a literal "$". Throws std::invalid_argument naming
// the variable when one is undefined and has no default.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
std::string expand_env(const std::string& text, const EnvLookup& lookup);
std::string expand_env(const std::string& text);  // from the process environment

}  // namespace sidecar::host
