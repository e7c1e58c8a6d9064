#include "runtime/instance_services.hpp"

#include "log/logger.hpp"

namespace sidecar::host {

void InstanceServices::log(LogLevel level, std::string_view message) noexcept {
  try {
    Logger::instance().write(level, message, {{"plugin", name_}});
  } catch (...) {
  }
}

bool InstanceServices::log_enabled(LogLevel level) const noexcept {
  return Logger::instance().enabled(level);
}

void InstanceServices::counter_add(std::string_view name, const Labels& labels,
                                   double value) noexcept {
  try {
    metrics_.counter(name, labels).add(value);
  } catch (...) {
  }
}

void InstanceServices::gauge_set(std::string_view name, const Labels& labels,
                                 double value) noexcept {
  try {
    metrics_.gauge(name, labels).set(value);
  } catch (...) {
  }
}

void InstanceServices::publish(Message msg, PublishCallback done) noexcept {
  try {
    if (!publish_) {
      if (done) done(Status::error("publishing is not available here"));
      return;
    }
    publish_(msg, std::move(done));
  } catch (const std::exception& e) {
    log(LogLevel::error, std::string("publish failed: ") + e.what());
  }
}

}  // namespace sidecar::host
