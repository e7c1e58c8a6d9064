// libFuzzer target for config loading: any bytes are either a Config or a ConfigError that names
// the file; never a crash, a hang or another exception.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "config/config_error.hpp"
#include "config/config_loader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  try {
    (void)sidecar::host::load_config_text(text, "fuzz.yaml");
  } catch (const sidecar::host::ConfigError& e) {
    if (std::string(e.what()).rfind("fuzz.yaml", 0) != 0) std::abort();
  }
  return 0;
}
