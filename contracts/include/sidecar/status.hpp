#pragma once
#include <string>
#include <utility>

namespace sidecar {

// Errors cross the plugin boundary as values, never as exceptions.
class Status {
 public:
  Status() = default;
  static Status ok() { return {}; }
  static Status error(std::string message) { return Status(std::move(message)); }

  [[nodiscard]] bool is_ok() const { return !failed_; }
  explicit operator bool() const { return is_ok(); }
  [[nodiscard]] const std::string& message() const { return message_; }

 private:
  explicit Status(std::string message) : failed_(true), message_(std::move(message)) {}
  bool failed_ = false;
  std::string message_;
};

}  // namespace sidecar
