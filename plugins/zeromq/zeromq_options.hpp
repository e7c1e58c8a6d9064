#pragma once
// The zeromq transport's declared options and their typed, checked values.
#include <chrono>
#include <string>
#include <vector>

#include "sidecar/options.hpp"

namespace sidecar::zeromq {

struct ZeromqOptions {
  std::string bind_in;      // ROUTER endpoint the sidecar binds
  std::string bind_out;     // PUB endpoint the sidecar binds
  std::string connect_in;   // what `sidecar publish` connects to
  std::string connect_out;  // what `sidecar listen` connects to
  int sndhwm = 10000;
  int rcvhwm = 10000;
  std::chrono::milliseconds request_timeout{5000};
  std::chrono::milliseconds linger{1000};

  static std::vector<OptionSpec> specs();
  // Throws std::invalid_argument naming the option when a value cannot be used.
  static ZeromqOptions from(const Options& options);
};

// The endpoint a local client connects to for one the sidecar binds: a wildcard host (`*`,
// `0.0.0.0`) becomes 127.0.0.1; anything else is already connectable and is returned unchanged.
std::string connect_endpoint_for(const std::string& bind_endpoint);

}  // namespace sidecar::zeromq
