#include "cli/common.hpp"

#include <iostream>

#include "config/config_error.hpp"
#include "config/config_loader.hpp"

namespace sidecar::host {

std::optional<Config> load_config_or_report(const CommandLine& cl) {
  if (cl.config.empty()) {
    std::cerr << "sidecar " << cl.command << ": a config is required (-c FILE)\n";
    return std::nullopt;
  }
  try {
    return load_config_file(cl.config);
  } catch (const ConfigError& e) {
    std::cerr << "sidecar: config error: " << e.what() << "\n";
  } catch (const std::exception& e) {
    std::cerr << "sidecar: " << cl.config << ": " << e.what() << "\n";
  }
  return std::nullopt;
}

bool build_or_report(Pipeline& pipeline) {
  try {
    pipeline.build();
    return true;
  } catch (const std::exception& e) {
    std::cerr << "sidecar: " << e.what() << "\n";
    return false;
  }
}

}  // namespace sidecar::host
