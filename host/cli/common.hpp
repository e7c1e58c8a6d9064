#pragma once
#include <optional>

#include "cli/commands.hpp"
#include "config/config.hpp"
#include "runtime/pipeline.hpp"

namespace sidecar::host {

// Loads the config named by -c, printing any error; nothing when it failed.
std::optional<Config> load_config_or_report(const CommandLine& cl);

// Makes every plugin instance of the pipeline, printing why when one is refused.
bool build_or_report(Pipeline& pipeline);

}  // namespace sidecar::host
