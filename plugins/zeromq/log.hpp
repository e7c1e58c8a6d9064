#pragma once
#include <string_view>

#include "sidecar/host_services.hpp"

namespace sidecar::zeromq {

// The transport may run without a host (the CLI's client side): then there is nowhere to log.
inline void log(HostServices* host, LogLevel level, std::string_view text) noexcept {
  if (host && host->log_enabled(level)) host->log(level, text);
}

}  // namespace sidecar::zeromq
