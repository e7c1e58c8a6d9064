#pragma once
// SHA-1 (FIPS 180-4), only for name-based UUIDs (RFC 4122 version 5). Not for anything that needs
// collision resistance.
#include <array>
#include <cstdint>
#include <string_view>

namespace sidecar::inventory {

using Sha1Digest = std::array<std::uint8_t, 20>;

Sha1Digest sha1(std::string_view data);

}  // namespace sidecar::inventory
