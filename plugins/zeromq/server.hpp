#pragma once
// The server side of the transport: one I/O thread that alone owns the ROUTER and PUB sockets
// (ZeroMQ sockets are not thread-safe). Other threads reach it only through ServerControl.
#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "envelope_table.hpp"
#include "outbound_queue.hpp"
#include "sidecar/transport.hpp"
#include "zeromq_options.hpp"

namespace sidecar::zeromq {

// Shared between the transport's public methods (any thread) and the I/O thread. Outlives every
// Server, so an ack or publish racing with stop() never touches a destroyed object.
struct ServerControl {
  std::atomic<bool> paused{false};
  std::atomic<bool> stop_requested{false};
  std::atomic<bool> running{false};
  OutboundQueue queue;
};

class Server {
 public:
  // Binds both sockets in the calling thread, so a bad or busy endpoint is reported by start().
  // Throws std::runtime_error naming the endpoint.
  Server(zmq::context_t& context, const ZeromqOptions& options, const TransportContext& ctx,
         ServerControl& control);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  void start();                 // spawns the I/O thread
  void request_stop() noexcept;  // returns at once
  void join() noexcept;          // request_stop() first
  [[nodiscard]] bool on_io_thread() const noexcept;

 private:
  void run() noexcept;
  void loop();
  void finish() noexcept;
  void flush(std::vector<OutboundItem>& items) noexcept;
  void send_reply(const AckItem& ack);
  void send_event(PublishItem& item) noexcept;
  void read_inbound();
  bool receive_request();
  void reject(std::string_view routing_id, bool delimiter, const std::string& detail);
  [[nodiscard]] bool routed(std::string_view topic) const noexcept;

  static constexpr std::size_t kMaxFrames = 4;  // routing id, delimiter, topic, payload
  static constexpr std::size_t kReadBatch = 1024;

  ZeromqOptions options_;
  TransportContext ctx_;
  ServerControl& control_;
  Labels labels_;
  zmq::socket_t router_;
  zmq::socket_t pub_;
  std::thread thread_;

  // I/O thread state, reused across requests so the steady state does not allocate.
  EnvelopeTable envelopes_;
  std::array<zmq::message_t, kMaxFrames> frames_;
  zmq::message_t overflow_;
  std::vector<OutboundItem> batch_;
  std::uint64_t sequence_ = 0;
};

}  // namespace sidecar::zeromq
