#pragma once
// ZeroMQ clients for integration tests: a DEALER that sends [topic, payload] and reads the
// reply frames, and a SUB that collects [topic, payload] events.
#include <chrono>
#include <optional>
#include <string>
#include <vector>
#include <zmq.hpp>

namespace sidecar::test {

inline zmq::context_t& zmq_context() {
  static zmq::context_t ctx;
  return ctx;
}

class Dealer {
 public:
  explicit Dealer(const std::string& endpoint) : sock_(zmq_context(), zmq::socket_type::dealer) {
    sock_.set(zmq::sockopt::linger, 0);
    sock_.connect(endpoint);
  }
  void send(const std::vector<std::string>& frames) {
    for (std::size_t i = 0; i < frames.size(); ++i) {
      auto flags = i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none;
      sock_.send(zmq::buffer(frames[i]), flags);
    }
  }
  std::optional<std::vector<std::string>> receive(
      std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    zmq::pollitem_t items[] = {{sock_.handle(), 0, ZMQ_POLLIN, 0}};
    if (zmq::poll(items, 1, timeout) == 0) return std::nullopt;
    std::vector<std::string> frames;
    while (true) {
      zmq::message_t m;
      (void)sock_.recv(m, zmq::recv_flags::none);
      frames.push_back(m.to_string());
      if (!m.more()) break;
    }
    return frames;
  }
  std::optional<std::vector<std::string>> request(
      const std::string& topic, const std::string& payload,
      std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    send({topic, payload});
    return receive(timeout);
  }
  zmq::socket_t& socket() { return sock_; }

 private:
  zmq::socket_t sock_;
};

class Subscriber {
 public:
  Subscriber(const std::string& endpoint, const std::string& topic)
      : sock_(zmq_context(), zmq::socket_type::sub) {
    sock_.set(zmq::sockopt::linger, 0);
    sock_.set(zmq::sockopt::subscribe, topic);
    sock_.connect(endpoint);
  }
  std::optional<std::pair<std::string, std::string>> next(
      std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    zmq::pollitem_t items[] = {{sock_.handle(), 0, ZMQ_POLLIN, 0}};
    if (zmq::poll(items, 1, timeout) == 0) return std::nullopt;
    zmq::message_t t, p;
    (void)sock_.recv(t, zmq::recv_flags::none);
    if (!t.more()) return std::make_pair(t.to_string(), std::string());
    (void)sock_.recv(p, zmq::recv_flags::none);
    return std::make_pair(t.to_string(), p.to_string());
  }

 private:
  zmq::socket_t sock_;
};

}  // namespace sidecar::test
