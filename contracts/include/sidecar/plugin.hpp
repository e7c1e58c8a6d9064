#pragma once
// Include from exactly one source file of a plugin, then write one of
//   SIDECAR_TRANSPORT_PLUGIN("name", "1.0.0", "what it does", MyTransport)
//   SIDECAR_HANDLER_PLUGIN("name", "1.0.0", "what it does", MyHandler)
// The class needs `static std::vector<sidecar::OptionSpec> option_specs()` and a constructor
// taking `const sidecar::Options&` (which may throw: the factory turns that into an error).
// std::filesystem instead of Boost.Filesystem: a plugin then links no Boost library.
#ifndef BOOST_DLL_USE_STD_FS
#define BOOST_DLL_USE_STD_FS
#endif
#include <boost/dll/alias.hpp>

#include "sidecar/handler.hpp"
#include "sidecar/manifest.hpp"
#include "sidecar/transport.hpp"

#define SIDECAR_DEFINE_PLUGIN_(KIND, INTERFACE, NAME, VERSION, DESCRIPTION, CLASS)    \
  namespace sidecar_plugin_export {                                                   \
  const sidecar_manifest_v1 manifest_value = {::sidecar::kAbiVersion,                 \
                                              static_cast<std::uint32_t>(KIND),       \
                                              NAME,                                   \
                                              VERSION,                                \
                                              SIDECAR_BUILD_TAG,                      \
                                              DESCRIPTION};                           \
  std::vector<::sidecar::OptionSpec> option_specs() { return CLASS::option_specs(); } \
  ::sidecar::Made<INTERFACE> create(const ::sidecar::Options& options) noexcept {     \
    try {                                                                             \
      return {std::make_unique<CLASS>(options), {}};                                  \
    } catch (const std::exception& e) {                                               \
      return {nullptr, e.what()};                                                     \
    } catch (...) {                                                                   \
      return {nullptr, "unknown exception"};                                          \
    }                                                                                 \
  }                                                                                   \
  }                                                                                   \
  BOOST_DLL_ALIAS(sidecar_plugin_export::manifest_value, sidecar_manifest)            \
  BOOST_DLL_ALIAS(sidecar_plugin_export::option_specs, sidecar_options)               \
  BOOST_DLL_ALIAS(sidecar_plugin_export::create, sidecar_create)

#define SIDECAR_TRANSPORT_PLUGIN(NAME, VERSION, DESCRIPTION, CLASS)                             \
  SIDECAR_DEFINE_PLUGIN_(::sidecar::PluginKind::transport, ::sidecar::Transport, NAME, VERSION, \
                         DESCRIPTION, CLASS)

#define SIDECAR_HANDLER_PLUGIN(NAME, VERSION, DESCRIPTION, CLASS)                           \
  SIDECAR_DEFINE_PLUGIN_(::sidecar::PluginKind::handler, ::sidecar::Handler, NAME, VERSION, \
                         DESCRIPTION, CLASS)
