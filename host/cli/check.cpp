#include <iostream>

#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "config/config_error.hpp"
#include "config/options_validator.hpp"
#include "runtime/pipeline.hpp"

namespace sidecar::host {

int cmd_check(const CommandLine& cl) {
  auto config = load_config_or_report(cl);
  if (!config) return 2;
  try {
    auto loaded = load_plugins(*config);
    try_instances(loaded);
    std::cout << config->file << ": ok (" << loaded.transports.size() << " transports, "
              << loaded.handlers.size() << " handlers, " << config->routes.size() << " routes)\n";
    // The effective options, defaults applied and secrets redacted, so a reader sees what runs.
    auto show = [](const char* section, const LoadedPlugins::Entry& e) {
      std::cout << section << "." << e.config->name << ": " << e.library->name() << " "
                << e.library->version() << "\n"
                << describe_options(e.options, e.library->option_specs());
    };
    for (const auto& e : loaded.transports) show("transports", e);
    for (const auto& e : loaded.handlers) show("handlers", e);
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "sidecar: config error: " << e.what() << "\n";
    return 2;
  }
}

}  // namespace sidecar::host
