#include <iostream>

#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "config/config_error.hpp"
#include "runtime/pipeline.hpp"

namespace sidecar::host {

int cmd_check(const CommandLine& cl) {
  auto config = load_config_or_report(cl);
  if (!config) return 2;
  try {
    auto loaded = load_plugins(*config);
    std::cout << config->file << ": ok (" << loaded.transports.size() << " transports, "
              << loaded.handlers.size() << " handlers, " << config->routes.size() << " routes)\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "sidecar: config error: " << e.what() << "\n";
    return 2;
  }
}

}  // namespace sidecar::host
