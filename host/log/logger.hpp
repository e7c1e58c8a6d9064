#pragma once
// Structured logs: one JSON object a line on stderr, with a level set in the config.
#include <atomic>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sidecar/host_services.hpp"

namespace sidecar::host {

using LogFields = std::vector<std::pair<std::string_view, std::string>>;

class Logger {
 public:
  static Logger& instance();
  void set_level(LogLevel level) { level_.store(level, std::memory_order_relaxed); }
  [[nodiscard]] LogLevel level() const { return level_.load(std::memory_order_relaxed); }
  [[nodiscard]] bool enabled(LogLevel level) const { return level >= this->level(); }
  void write(LogLevel level, std::string_view msg, const LogFields& fields = {});

 private:
  std::atomic<LogLevel> level_{LogLevel::info};
};

std::optional<LogLevel> parse_log_level(std::string_view text);
std::string json_escape(std::string_view text);

inline void log_debug(std::string_view msg, const LogFields& f = {}) {
  if (Logger::instance().enabled(LogLevel::debug))
    Logger::instance().write(LogLevel::debug, msg, f);
}
inline void log_info(std::string_view msg, const LogFields& f = {}) {
  Logger::instance().write(LogLevel::info, msg, f);
}
inline void log_warn(std::string_view msg, const LogFields& f = {}) {
  Logger::instance().write(LogLevel::warn, msg, f);
}
inline void log_error(std::string_view msg, const LogFields& f = {}) {
  Logger::instance().write(LogLevel::error, msg, f);
}

}  // namespace sidecar::host
