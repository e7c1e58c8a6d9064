#pragma once
// The options every inventory handler declares, and their typed values.
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "sidecar/options.hpp"

namespace sidecar::inventory {

struct CommonSettings {
  std::string pg_dsn;
  std::string redis_url;  // empty: no Redis fast path
  std::chrono::milliseconds dedupe_ttl{};
  std::size_t max_message_bytes = 0;
  bool relay = false;
};

enum class CommonOption { pg_dsn, redis_url, dedupe_ttl, max_message_bytes };

// `relay_default` empty: the handler has no `relay` option.
std::vector<OptionSpec> common_option_specs(const std::vector<CommonOption>& which,
                                            const std::string& relay_default);

// Throws std::invalid_argument naming the option when a value is out of range.
CommonSettings read_common_settings(const Options& options);

}  // namespace sidecar::inventory
