#include <iostream>

#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "loader/plugin_library.hpp"

namespace sidecar::host {

int cmd_plugins(const CommandLine& cl) {
  std::string dir = default_plugin_dir();
  if (!cl.config.empty()) {
    auto config = load_config_or_report(cl);
    if (!config) return 2;
    if (!config->plugin_dir.empty()) dir = config->plugin_dir;
  }
  auto files = list_plugin_files(dir);
  if (files.empty()) {
    std::cout << "no plugins in " << dir << "\n";
    return 0;
  }
  int refused = 0;
  for (const auto& f : files) {
    try {
      auto lib = PluginLibrary::load(f);
      std::cout << lib->name() << "  " << to_string(lib->kind()) << "  " << lib->version() << "\n  "
                << lib->description() << "\n  file: " << f << "\n";
      if (lib->option_specs().empty()) std::cout << "  options: none\n";
      for (const auto& o : lib->option_specs()) {
        std::cout << "  - " << o.name << " (" << to_string(o.type)
                  << (o.required ? ", required" : "")
                  << (o.default_value.empty() ? "" : ", default " + o.default_value)
                  << (o.secret ? ", secret" : "") << "): " << o.description << "\n";
      }
      std::cout << "\n";
    } catch (const std::exception& e) {
      ++refused;
      std::cout << "refused: " << e.what() << "\n\n";
    }
  }
  return 0;
}

}  // namespace sidecar::host
