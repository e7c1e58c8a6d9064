#pragma once
// Real sockets, no mocks: a recording sink, throwaway endpoints and small client helpers.
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "sidecar/testkit.hpp"
#include "sidecar/transport.hpp"
#include "zeromq_transport.hpp"

namespace zmqtest {

using namespace std::chrono_literals;
using Frames = std::vector<std::string>;

class RecordingSink : public sidecar::InboundSink {
 public:
  void deliver(sidecar::Message msg) noexcept override {
    std::function<void(const sidecar::Message&)> hook;
    {
      std::lock_guard lock(mu_);
      hook = on_deliver;
    }
    if (hook) hook(msg);
    std::lock_guard lock(mu_);
    messages_.push_back(std::move(msg));
    cv_.notify_all();
  }

  bool wait_for(std::size_t count, std::chrono::milliseconds timeout = 5s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return messages_.size() >= count; });
  }
  std::size_t size() {
    std::lock_guard lock(mu_);
    return messages_.size();
  }
  sidecar::Message at(std::size_t i) {
    std::lock_guard lock(mu_);
    return messages_.at(i);
  }
  void set_on_deliver(std::function<void(const sidecar::Message&)> hook) {
    std::lock_guard lock(mu_);
    on_deliver = std::move(hook);
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<sidecar::Message> messages_;
  std::function<void(const sidecar::Message&)> on_deliver;
};

// Publish confirmations arrive on the I/O thread: collect them under a lock.
class Confirmations {
 public:
  sidecar::PublishCallback callback() {
    return [this](const sidecar::Status& s) {
      std::lock_guard lock(mu_);
      got_.push_back(s);
      cv_.notify_all();
    };
  }
  // The n-th confirmation (1-based), once it has arrived.
  std::optional<sidecar::Status> wait(std::size_t n, std::chrono::milliseconds timeout = 5s) {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, timeout, [&] { return got_.size() >= n; })) return std::nullopt;
    return got_[n - 1];
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<sidecar::Status> got_;
};

// A private directory for ipc:// endpoints, so parallel test runs never collide on a port.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "sidecar-zmq-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] std::string endpoint(const std::string& name) const {
    return "ipc://" + (path_ / name).string();
  }

 private:
  std::filesystem::path path_;
};

inline sidecar::Options transport_options(std::map<std::string, sidecar::OptionValue> given) {
  return sidecar::testkit::Host::options_for(sidecar::zeromq::ZeromqTransport::option_specs(),
                                             given);
}

inline void send_frames(zmq::socket_t& socket, const Frames& frames) {
  for (std::size_t i = 0; i < frames.size(); ++i) {
    auto flags = i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none;
    (void)socket.send(zmq::buffer(frames[i]), flags);
  }
}

inline std::optional<Frames> recv_frames(zmq::socket_t& socket,
                                         std::chrono::milliseconds timeout = 5s) {
  zmq_pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
  if (zmq_poll(&item, 1, static_cast<long>(timeout.count())) <= 0) return std::nullopt;
  std::vector<zmq::message_t> parts;
  if (!zmq::recv_multipart(socket, std::back_inserter(parts), zmq::recv_flags::dontwait)) {
    return std::nullopt;
  }
  Frames frames;
  for (auto& p : parts) frames.push_back(p.to_string());
  return frames;
}

inline zmq::socket_t client(zmq::context_t& ctx, zmq::socket_type type,
                            const std::string& endpoint) {
  zmq::socket_t s(ctx, type);
  s.set(zmq::sockopt::linger, 0);
  s.connect(endpoint);
  return s;
}

using sidecar::testkit::eventually;

}  // namespace zmqtest
