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
  std::atomic<std::thread::id> io_thread{};  // set while the I/O thread runs
  OutboundQueue queue;
  // What the I/O thread hands itself: acks from inside deliver() and from publish callbacks
  // (the host acks once an emitted event is confirmed). Touched by the I/O thread only, so these
  // skip the queue's lock and wake-up, which the worker threads contend for.
  std::vector<OutboundItem> local;

  [[nodiscard]] bool on_io_thread() const noexcept {
    return io_thread.load() == std::this_thread::get_id();
  }
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

  void start();                  // spawns the I/O thread
  void request_stop() noexcept;  // returns at once
  void join() noexcept;          // request_stop() first; never from the I/O thread itself

 private:
  void run() noexcept;
  void loop();
  void finish() noexcept;
  void flush_queued() noexcept;
  void flush(std::vector<OutboundItem>& items) noexcept;
  void send_reply(const AckItem& ack);
  void send_event(PublishItem& item) noexcept;
  void read_inbound();
  bool receive_request();
  bool deliver_read() noexcept;  // false while paused with some still undelivered
  void abandon_read() noexcept;
  void reject(std::string_view routing_id, bool delimiter, const std::string& detail);
  void send_error(std::string_view routing_id, bool delimiter, std::string_view detail);
  [[nodiscard]] bool routed(std::string_view topic) const noexcept;

  static constexpr std::size_t kMaxFrames = 4;  // routing id, delimiter, topic, payload
  // Requests read per wake-up: enough to amortise the poll and the host's worker wake-ups, few
  // enough that replies and events still go out between bursts under a flood of requests.
  static constexpr std::size_t kReadBatch = 256;

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
  std::vector<OutboundItem> local_batch_;
  std::vector<Message> inbound_;  // the burst being delivered
  std::size_t delivered_ = 0;     // how much of it the sink has taken
  std::uint64_t sequence_ = 0;
};

}  // namespace sidecar::zeromq
