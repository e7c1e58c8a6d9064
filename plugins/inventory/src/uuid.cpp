#include "inventory/uuid.hpp"

#include <array>
#include <cstdint>

#include "inventory/sha1.hpp"

namespace sidecar::inventory {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_hyphen_position(std::size_t i) { return i == 8 || i == 13 || i == 18 || i == 23; }

}  // namespace

std::optional<std::string> canonical_uuid(std::string_view text) {
  if (text.size() != 36) return std::nullopt;
  std::string out(36, '-');
  for (std::size_t i = 0; i < 36; ++i) {
    if (is_hyphen_position(i)) {
      if (text[i] != '-') return std::nullopt;
      continue;
    }
    int v = hex_value(text[i]);
    if (v < 0) return std::nullopt;
    out[i] = "0123456789abcdef"[v];
  }
  return out;
}

std::string uuid_v5(std::string_view ns, std::string_view name) {
  std::string input;
  input.reserve(16 + name.size());
  for (std::size_t i = 0; i + 1 < ns.size(); ++i) {
    if (ns[i] == '-') continue;
    input.push_back(static_cast<char>(hex_value(ns[i]) * 16 + hex_value(ns[i + 1])));
    ++i;
  }
  input.append(name);
  Sha1Digest d = sha1(input);
  d[6] = static_cast<std::uint8_t>((d[6] & 0x0F) | 0x50);  // version 5
  d[8] = static_cast<std::uint8_t>((d[8] & 0x3F) | 0x80);  // RFC 4122 variant

  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (std::size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[d[i] >> 4]);
    out.push_back(kHex[d[i] & 0x0F]);
  }
  return out;
}

}  // namespace sidecar::inventory
