#pragma once
#include <string>
#include <vector>

#include "config/config.hpp"
#include "sidecar/options.hpp"

namespace sidecar::host {

// Checks an instance's options against its plugin's declaration and returns typed values with
// defaults applied. Throws ConfigError naming the line of the offending key: an unknown key, a
// wrong type, a missing required option.
Options validate_options(const PluginInstanceConfig& instance,
                         const std::vector<OptionSpec>& specs);

// The options as text for printing, with secret values redacted.
std::string describe_options(const Options& options, const std::vector<OptionSpec>& specs);

}  // namespace sidecar::host
