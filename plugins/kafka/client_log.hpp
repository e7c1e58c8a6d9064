#pragma once
// Routes librdkafka's log and error callbacks of one client to the host's log.
#include <librdkafka/rdkafka.h>

#include <string>

#include "sidecar/host_services.hpp"

namespace sidecar::kafka {

// Installed as the opaque of a client's configuration, so librdkafka's callbacks find it; every
// client object that owns an rd_kafka_t derives from it.
class ClientLog {
 public:
  ClientLog(HostServices* host, std::string who) : host_(host), who_(std::move(who)) {}
  virtual ~ClientLog() = default;
  ClientLog(const ClientLog&) = delete;
  ClientLog& operator=(const ClientLog&) = delete;

  void log(LogLevel level, const std::string& text) const noexcept;
  // Sets opaque, log and error callbacks on conf.
  void install(rd_kafka_conf_t* conf) noexcept;

  static ClientLog* from(rd_kafka_t* rk) noexcept {
    return static_cast<ClientLog*>(rd_kafka_opaque(rk));
  }

 protected:
  // Errors a subclass wants to react to (reachability); called from librdkafka's threads.
  virtual void on_error(rd_kafka_resp_err_t /*err*/) noexcept {}

 private:
  static void log_cb(const rd_kafka_t* rk, int level, const char* fac, const char* buf);
  static void error_cb(rd_kafka_t* rk, int err, const char* reason, void* opaque);

  HostServices* host_;
  std::string who_;
};

}  // namespace sidecar::kafka
