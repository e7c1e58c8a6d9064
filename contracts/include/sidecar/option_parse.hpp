#pragma once
// Text to typed option values, shared by the host's validation and the test kit so that a
// default written in a declaration means the same everywhere.
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "sidecar/options.hpp"

namespace sidecar {

inline std::optional<std::int64_t> parse_integer(const std::string& text) {
  if (text.empty()) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (errno != 0 || end != text.c_str() + text.size()) return std::nullopt;
  return static_cast<std::int64_t>(v);
}

// "250ms", "5s", "2m", "1h", or a bare integer of milliseconds.
inline std::optional<std::chrono::milliseconds> parse_duration(const std::string& text) {
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0) return std::nullopt;
  auto n = parse_integer(text.substr(0, digits));
  if (!n) return std::nullopt;
  std::string unit = text.substr(digits);
  if (unit.empty() || unit == "ms") return std::chrono::milliseconds{*n};
  if (unit == "s") return std::chrono::milliseconds{*n * 1000};
  if (unit == "m") return std::chrono::milliseconds{*n * 60'000};
  if (unit == "h") return std::chrono::milliseconds{*n * 3'600'000};
  return std::nullopt;
}

inline std::optional<bool> parse_boolean(const std::string& text) {
  if (text == "true" || text == "yes" || text == "on") return true;
  if (text == "false" || text == "no" || text == "off") return false;
  return std::nullopt;
}

// A key (of a map option's entry, a client property) whose value may be a credential and is
// never printed: any *password*, *secret*, *token*, *credential*, *jaas* or *private* key,
// librdkafka's ssl.key.pem and sasl.oauthbearer.config. The host's `check` and plugins' own logs
// use the same rule.
inline bool is_secret_key(std::string_view key) {
  std::string k(key);
  for (auto& ch : k) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  for (std::string_view part : {"password", "secret", "token", "credential", "jaas", "key.pem",
                                "sasl.oauthbearer.config", "private"}) {
    if (k.find(part) != std::string::npos) return true;
  }
  return false;
}

// A scalar written as text, for the scalar types; nothing for a wrong value.
inline std::optional<OptionValue> parse_scalar_option(OptionType type, const std::string& text) {
  switch (type) {
    case OptionType::string: return OptionValue{text};
    case OptionType::integer:
      if (auto v = parse_integer(text)) return OptionValue{*v};
      return std::nullopt;
    case OptionType::boolean:
      if (auto v = parse_boolean(text)) return OptionValue{*v};
      return std::nullopt;
    case OptionType::duration:
      if (auto v = parse_duration(text)) return OptionValue{*v};
      return std::nullopt;
    case OptionType::string_list:
    case OptionType::map: return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace sidecar
