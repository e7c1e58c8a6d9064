#pragma once
// "host:port" as the admin server binds it, checked the same way when the config is loaded.
// Header-only: the config fuzz target builds the loader without the admin server.
#include <stdexcept>
#include <string>
#include <utility>

#include "sidecar/option_parse.hpp"

namespace sidecar::host {

// An IPv6 host in brackets; an empty host is all interfaces. Throws std::invalid_argument on a
// malformed address.
inline std::pair<std::string, int> split_host_port(const std::string& address) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos)
    throw std::invalid_argument("expected host:port, got \"" + address + "\"");
  auto port = parse_integer(address.substr(colon + 1));
  if (!port || *port < 0 || *port > 65535) {
    throw std::invalid_argument("bad port in \"" + address + "\"");
  }
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "0.0.0.0";
  return {host, static_cast<int>(*port)};
}

}  // namespace sidecar::host
