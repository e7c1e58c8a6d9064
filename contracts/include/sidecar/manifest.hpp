#pragma once
// What a plugin library exports. The manifest is plain C layout so the host can read and check it
// before touching any C++ type the plugin defines.
#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "sidecar/options.hpp"
#include "sidecar/version.hpp"

extern "C" {
struct sidecar_manifest_v1 {
  std::uint32_t abi_version;
  std::uint32_t kind;  // sidecar::PluginKind
  const char* name;
  const char* version;
  const char* build_tag;
  const char* description;
};
}

namespace sidecar {

enum class PluginKind : std::uint32_t { transport = 1, handler = 2 };

inline const char* to_string(PluginKind kind) {
  return kind == PluginKind::transport ? "transport"
         : kind == PluginKind::handler ? "handler"
                                       : "unknown";
}

// The factory's answer: an object, or why none could be made. Never throws across the boundary.
template <class Interface>
struct Made {
  std::unique_ptr<Interface> object;
  std::string error;
};

// Symbol names the host looks up (Boost.DLL aliases).
inline constexpr const char* kManifestSymbol = "sidecar_manifest";
inline constexpr const char* kOptionsSymbol = "sidecar_options";
inline constexpr const char* kCreateSymbol = "sidecar_create";

}  // namespace sidecar
