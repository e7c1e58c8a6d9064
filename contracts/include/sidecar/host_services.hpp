#pragma once
// What the host offers every plugin: logging, metrics and publishing through the routed transport.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "sidecar/message.hpp"
#include "sidecar/status.hpp"

namespace sidecar {

enum class LogLevel { debug = 0, info = 1, warn = 2, error = 3 };

// Called exactly once, from any thread, when the transport has taken responsibility for the
// message (Kafka: the delivery report) or has failed to.
using PublishCallback = std::function<void(const Status&)>;

using Labels = std::vector<std::pair<std::string, std::string>>;

class HostServices {
 public:
  virtual ~HostServices() = default;
  virtual void log(LogLevel level, std::string_view message) noexcept = 0;
  virtual bool log_enabled(LogLevel level) const noexcept = 0;
  // Counters only grow; gauges are set. Names are Prometheus metric names.
  virtual void counter_add(std::string_view name, const Labels& labels, double value) noexcept = 0;
  virtual void gauge_set(std::string_view name, const Labels& labels, double value) noexcept = 0;
  // Publishes through the transport routed for msg.topic (config `outputs`).
  virtual void publish(Message msg, PublishCallback done) noexcept = 0;
  // The name of this plugin instance in the config.
  virtual const std::string& instance_name() const noexcept = 0;
};

}  // namespace sidecar
