#pragma once
#include <stdexcept>
#include <string>

#include "config/config.hpp"

namespace sidecar::host {

// Names the file, line and key, like a compiler: "configs/dev.yaml:12:5: handlers.echo.options.to:
// ..."
class ConfigError : public std::runtime_error {
 public:
  ConfigError(const SourceMark& mark, const std::string& message)
      : std::runtime_error(format(mark, message)), mark_(mark) {}
  [[nodiscard]] const SourceMark& mark() const { return mark_; }

 private:
  static std::string format(const SourceMark& mark, const std::string& message) {
    std::string out = mark.file;
    if (mark.line > 0) out += ":" + std::to_string(mark.line) + ":" + std::to_string(mark.column);
    out += ": ";
    if (!mark.key.empty()) out += mark.key + ": ";
    return out + message;
  }
  SourceMark mark_;
};

}  // namespace sidecar::host
