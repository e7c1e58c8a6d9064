#pragma once
// HostServices for one plugin instance: its logs carry its name, its metrics go to the shared
// registry, and its publishes go through the routed output transport.
#include <functional>
#include <string>

#include "admin/metrics.hpp"
#include "sidecar/host_services.hpp"

namespace sidecar::host {

using PublishFn = std::function<void(const Message&, PublishCallback)>;

class InstanceServices : public HostServices {
 public:
  InstanceServices(std::string name, Metrics& metrics, PublishFn publish)
      : name_(std::move(name)), metrics_(metrics), publish_(std::move(publish)) {}

  void log(LogLevel level, std::string_view message) noexcept override;
  bool log_enabled(LogLevel level) const noexcept override;
  void counter_add(std::string_view name, const Labels& labels, double value) noexcept override;
  void gauge_set(std::string_view name, const Labels& labels, double value) noexcept override;
  void publish(Message msg, PublishCallback done) noexcept override;
  const std::string& instance_name() const noexcept override { return name_; }

 private:
  std::string name_;
  Metrics& metrics_;
  PublishFn publish_;
};

}  // namespace sidecar::host
