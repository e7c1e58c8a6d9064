#include "admin/admin_server.hpp"

#include <httplib.h>

#include <chrono>
#include <stdexcept>
#include <thread>

#include "config/host_port.hpp"

namespace sidecar::host {

struct AdminServer::Impl {
  httplib::Server server;
};

AdminServer::AdminServer(ReadyFn ready, MetricsFn metrics) : impl_(std::make_unique<Impl>()) {
  auto& s = impl_->server;
  s.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });
  s.Get("/readyz", [ready](const httplib::Request&, httplib::Response& res) {
    std::string why;
    if (ready(&why)) {
      res.set_content("ready\n", "text/plain");
    } else {
      res.status = 503;
      res.set_content("not ready: " + why + "\n", "text/plain");
    }
  });
  s.Get("/metrics", [metrics](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics(), "text/plain; version=0.0.4");
  });
}

AdminServer::~AdminServer() { stop(); }

void AdminServer::start(const std::string& address) {
  auto [host, port] = split_host_port(address);
  auto& s = impl_->server;
  if (port == 0) {
    port_ = s.bind_to_any_port(host);
    if (port_ < 0) throw std::runtime_error("admin: cannot bind " + address);
  } else {
    if (!s.bind_to_port(host, port)) throw std::runtime_error("admin: cannot bind " + address);
    port_ = port;
  }
  thread_ = std::thread([this] { impl_->server.listen_after_bind(); });
  // cpp-httplib 0.11's stop() does nothing until the listening thread runs, and the join in
  // stop() would then wait for good: a start that fails right after this one must not hang.
  for (int i = 0; i < 2000 && !impl_->server.is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

void AdminServer::stop() {
  if (thread_.joinable()) {
    impl_->server.stop();
    thread_.join();
  }
}

}  // namespace sidecar::host
