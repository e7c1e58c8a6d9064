#pragma once
#include <memory>
#include <optional>
#include <string>

#include "cli/commands.hpp"
#include "config/config.hpp"
#include "loader/plugin_library.hpp"
#include "runtime/instance_services.hpp"

namespace sidecar::host {

// The transport a topic travels on, made in client mode (not started) for publish and listen.
struct ClientTransport {
  std::unique_ptr<InstanceServices> services;
  PluginInstance<Transport> instance;
};

// inbound: prefer the transport that routes the topic into the sidecar; else where it is emitted.
std::optional<ClientTransport> make_client_transport(const Config& config, const std::string& topic,
                                                     bool inbound, Metrics& metrics);

}  // namespace sidecar::host
