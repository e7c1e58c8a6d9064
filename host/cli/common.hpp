#pragma once
#include <optional>

#include "cli/commands.hpp"
#include "config/config.hpp"

namespace sidecar::host {

// Loads the config named by -c, printing any error; nothing when it failed.
std::optional<Config> load_config_or_report(const CommandLine& cl);

}  // namespace sidecar::host
