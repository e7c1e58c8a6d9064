#pragma once
#include <string>

#include "config/config.hpp"

namespace sidecar::host {

// Reads and checks the structure of a config file (not the plugins' options: those need the
// plugins' declarations, see options_validator.hpp). Throws ConfigError.
Config load_config_file(const std::string& path);
Config load_config_text(const std::string& text, const std::string& name);

}  // namespace sidecar::host
