#include "client_log.hpp"

#include <fmt/format.h>

#include <cstring>

namespace sidecar::kafka {

void ClientLog::log(LogLevel level, const std::string& text) const noexcept {
  if (host_ == nullptr) return;
  try {
    if (!host_->log_enabled(level)) return;
    host_->log(level, fmt::format("kafka {}: {}", who_, text));
  } catch (...) {
    // A log line that cannot be formatted is dropped rather than crossing a C callback.
  }
}

void ClientLog::install(rd_kafka_conf_t* conf) noexcept {
  rd_kafka_conf_set_opaque(conf, this);
  rd_kafka_conf_set_log_cb(conf, &ClientLog::log_cb);
  rd_kafka_conf_set_error_cb(conf, &ClientLog::error_cb);
}

void ClientLog::log_cb(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
  // A failed connection is logged here and reported to error_cb too: once is enough.
  if (fac != nullptr && std::strcmp(fac, "FAIL") == 0) return;
  // syslog levels: 0-4 errors and warnings (librdkafka retries what it reports here by itself),
  // 5-6 notice and info, 7 debug.
  LogLevel lv = level <= 4 ? LogLevel::warn : level <= 6 ? LogLevel::info : LogLevel::debug;
  auto* self = static_cast<ClientLog*>(rd_kafka_opaque(rk));
  if (self == nullptr) return;
  try {
    self->log(lv, fmt::format("[{}] {}", fac ? fac : "", buf ? buf : ""));
  } catch (...) {
  }
}

void ClientLog::error_cb(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  auto* self = static_cast<ClientLog*>(opaque);
  if (self == nullptr) return;
  auto code = static_cast<rd_kafka_resp_err_t>(err);
  self->on_error(code);
  bool fatal = code == RD_KAFKA_RESP_ERR__FATAL;
  std::string text;
  try {
    if (fatal) {
      char buf[512];
      rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, buf, sizeof buf);
      text = fmt::format("fatal error: {}: {}", rd_kafka_err2name(orig), buf);
    } else {
      text = fmt::format("{}: {}", rd_kafka_err2name(code), reason ? reason : "");
    }
  } catch (...) {
    return;
  }
  // Broker connection errors are retried by librdkafka by itself: a warning, not an error.
  self->log(fatal ? LogLevel::error : LogLevel::warn, text);
}

}  // namespace sidecar::kafka
