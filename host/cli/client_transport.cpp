#include "cli/client_transport.hpp"

#include <iostream>

#include "runtime/pipeline.hpp"

namespace sidecar::host {

std::optional<ClientTransport> make_client_transport(const Config& config, const std::string& topic,
                                                     bool inbound, Metrics& metrics) {
  std::string name;
  std::string routed;
  for (const auto& r : config.routes) {
    if (r.topic == topic) routed = r.transport;
  }
  std::string emitted(config.output_for(topic));
  name = inbound ? (routed.empty() ? emitted : routed) : (emitted.empty() ? routed : emitted);
  if (name.empty()) {
    std::cerr << "sidecar: no transport carries topic \"" << topic << "\" in " << config.file
              << " (neither routes nor outputs name it)\n";
    return std::nullopt;
  }
  try {
    auto loaded = load_plugins(config);
    for (auto& e : loaded.transports) {
      if (e.config->name != name) continue;
      auto made = e.library->create_transport(e.options);
      if (!made.object) {
        std::cerr << "sidecar: transport " << name << ": " << made.error << "\n";
        return std::nullopt;
      }
      ClientTransport ct;
      ct.services = std::make_unique<InstanceServices>(name, metrics, nullptr);
      ct.instance = {e.library, std::move(made.object), name};
      return ct;
    }
  } catch (const std::exception& e) {
    std::cerr << "sidecar: " << e.what() << "\n";
  }
  return std::nullopt;
}

}  // namespace sidecar::host
