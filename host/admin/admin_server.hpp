#pragma once
// GET /healthz (alive), /readyz (plugins started and their backends reachable), /metrics.
#include <functional>
#include <memory>
#include <string>
#include <thread>

namespace sidecar::host {

class AdminServer {
 public:
  using ReadyFn = std::function<bool(std::string* why)>;
  using MetricsFn = std::function<std::string()>;

  AdminServer(ReadyFn ready, MetricsFn metrics);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // "host:port"; port 0 picks a free one. Throws std::runtime_error when the address is taken.
  void start(const std::string& address);
  void stop();
  [[nodiscard]] int port() const { return port_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace sidecar::host
