#include "client.hpp"

#include <algorithm>
#include <cstdint>
#include <string_view>
#include <vector>

namespace sidecar::zeromq {

namespace {

using Clock = std::chrono::steady_clock;
constexpr long kListenPollMs = 100;

Reply error_reply(std::string detail) { return Reply{"error", std::move(detail), std::nullopt}; }

// All frames of one message; false on EAGAIN.
bool receive_all(zmq::socket_t& socket, std::vector<zmq::message_t>& frames) {
  frames.clear();
  zmq::message_t first;
  if (!socket.recv(first, zmq::recv_flags::dontwait)) return false;
  bool more = first.more();
  frames.push_back(std::move(first));
  while (more) {
    zmq::message_t frame;
    (void)socket.recv(frame);  // the rest of a multipart message is already here
    more = frame.more();
    frames.push_back(std::move(frame));
  }
  return true;
}

// Polls one socket for input; EINTR counts as "nothing yet" so the caller re-checks its clock.
bool readable(zmq::socket_t& socket, long timeout_ms) {
  zmq_pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
  if (zmq_poll(&item, 1, timeout_ms) < 0) {
    if (zmq_errno() == EINTR) return false;
    throw zmq::error_t();
  }
  return (item.revents & ZMQ_POLLIN) != 0;
}

}  // namespace

Reply request(zmq::context_t& context, const ZeromqOptions& options, const Message& msg,
              std::chrono::milliseconds timeout) noexcept {
  if (msg.topic.empty()) return error_reply("empty topic");
  if (timeout.count() <= 0) timeout = options.request_timeout;
  try {
    zmq::socket_t dealer(context, zmq::socket_type::dealer);
    // Nothing is worth keeping once we give up waiting.
    dealer.set(zmq::sockopt::linger, 0);
    dealer.set(zmq::sockopt::sndhwm, options.sndhwm);
    dealer.set(zmq::sockopt::rcvhwm, options.rcvhwm);
    dealer.connect(options.connect_in);
    // A connecting DEALER queues at once, so these do not wait for the connection.
    if (!dealer.send(zmq::buffer(msg.topic),
                     zmq::send_flags::sndmore | zmq::send_flags::dontwait) ||
        !dealer.send(zmq::buffer(msg.payload), zmq::send_flags::dontwait)) {
      return error_reply("cannot queue the request for " + options.connect_in);
    }

    const auto deadline = Clock::now() + timeout;
    std::vector<zmq::message_t> frames;
    while (true) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) {
        return error_reply("no reply from " + options.connect_in + " within " +
                           std::to_string(timeout.count()) + "ms");
      }
      if (readable(dealer, static_cast<long>(left.count())) && receive_all(dealer, frames)) break;
    }
    if (frames.size() != 2 && frames.size() != 3) {
      return error_reply("malformed reply: " + std::to_string(frames.size()) +
                         " frames, expected [status, detail] or [status, detail, body]");
    }
    Reply reply{frames[0].to_string(), frames[1].to_string(), std::nullopt};
    if (frames.size() == 3) reply.body = frames[2].to_string();
    return reply;
  } catch (const std::exception& e) {
    return error_reply(std::string("zeromq: request to ") + options.connect_in + ": " + e.what());
  } catch (...) {
    return error_reply("zeromq: request to " + options.connect_in + ": unknown exception");
  }
}

Status listen(zmq::context_t& context, const ZeromqOptions& options, const std::string& topic,
              const std::function<bool(const Message&)>& on_message,
              const std::function<bool()>& should_stop) noexcept {
  if (topic.empty()) return Status::error("zeromq: listen needs a topic");
  try {
    zmq::socket_t sub(context, zmq::socket_type::sub);
    sub.set(zmq::sockopt::linger, 0);
    sub.set(zmq::sockopt::rcvhwm, options.rcvhwm);
    sub.connect(options.connect_out);
    sub.set(zmq::sockopt::subscribe, topic);

    std::vector<zmq::message_t> frames;
    std::uint64_t sequence = 0;
    Message msg;
    while (!(should_stop && should_stop())) {
      if (!readable(sub, kListenPollMs)) continue;
      while (receive_all(sub, frames)) {
        // The subscription matched a prefix: "order" also brings "orders".
        if (frames.size() != 2 || frames[0].to_string_view() != topic) continue;
        msg.id = "zmq-sub-" + std::to_string(++sequence);
        msg.topic = topic;
        msg.payload.assign(frames[1].data<char>(), frames[1].size());
        if (!on_message(msg)) return Status::ok();
        if (should_stop && should_stop()) return Status::ok();
      }
    }
    return Status::ok();
  } catch (const std::exception& e) {
    return Status::error(std::string("zeromq: listen on ") + options.connect_out + ": " + e.what());
  } catch (...) {
    return Status::error("zeromq: listen on " + options.connect_out + ": unknown exception");
  }
}

}  // namespace sidecar::zeromq
