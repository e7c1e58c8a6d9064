#pragma once
// The SDK's identity. A plugin records these at build time in its manifest; the host refuses a
// plugin whose ABI version or build tag differs from its own (see loader/).
#include <cstdint>

#define SIDECAR_SDK_VERSION "0.1.0"

namespace sidecar {

// Bump on any change to a type that crosses the plugin boundary.
inline constexpr std::uint32_t kAbiVersion = 2;

#define SIDECAR_STRINGIFY_INNER(x) #x
#define SIDECAR_STRINGIFY(x) SIDECAR_STRINGIFY_INNER(x)

#if defined(__clang__)
#define SIDECAR_COMPILER "clang-" SIDECAR_STRINGIFY(__clang_major__)
#elif defined(__GNUC__)
#define SIDECAR_COMPILER "gcc-" SIDECAR_STRINGIFY(__GNUC__)
#else
#define SIDECAR_COMPILER "unknown"
#endif

#if defined(_GLIBCXX_USE_CXX11_ABI) && _GLIBCXX_USE_CXX11_ABI
#define SIDECAR_STDLIB "libstdc++-cxx11"
#elif defined(_LIBCPP_VERSION)
#define SIDECAR_STDLIB "libc++"
#else
#define SIDECAR_STDLIB "libstdc++"
#endif

// Standard types cross the boundary, so compiler family and standard library must match.
#define SIDECAR_BUILD_TAG SIDECAR_COMPILER "/" SIDECAR_STDLIB "/sdk-" SIDECAR_SDK_VERSION

}  // namespace sidecar
