#include "server.hpp"

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <utility>

#include "log.hpp"

namespace sidecar::zeromq {

namespace {

using Clock = std::chrono::steady_clock;

zmq::socket_t bound_socket(zmq::context_t& context, zmq::socket_type type,
                           const ZeromqOptions& options, const std::string& endpoint,
                           const char* what) {
  try {
    zmq::socket_t socket(context, type);
    socket.set(zmq::sockopt::linger, static_cast<int>(options.linger.count()));
    socket.set(zmq::sockopt::sndhwm, options.sndhwm);
    socket.set(zmq::sockopt::rcvhwm, options.rcvhwm);
    // ZeroMQ's default backlog of 100 drops the connections of a larger crowd of services that
    // connect at once (a restart), and TCP retries them only after a second: measured as a
    // 1 s p99 with 512 clients. The kernel still caps it at net.core.somaxconn.
    socket.set(zmq::sockopt::backlog, 4096);
    socket.bind(endpoint);
    return socket;
  } catch (const zmq::error_t& e) {
    throw std::runtime_error(std::string("zeromq: cannot bind the ") + what + " socket to '" +
                             endpoint + "': " + e.what());
  }
}

zmq::const_buffer view(std::string_view s) noexcept { return zmq::buffer(s.data(), s.size()); }

constexpr auto kMore = zmq::send_flags::sndmore | zmq::send_flags::dontwait;
constexpr auto kLast = zmq::send_flags::dontwait;

// Signals go to the host's threads, never to this one: a SIGTERM taken here would interrupt
// zmq_poll and leave the host's handler unaware.
class BlockSignals {
 public:
  BlockSignals() noexcept {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &saved_);
  }
  ~BlockSignals() { pthread_sigmask(SIG_SETMASK, &saved_, nullptr); }
  BlockSignals(const BlockSignals&) = delete;
  BlockSignals& operator=(const BlockSignals&) = delete;

 private:
  sigset_t saved_{};
};

}  // namespace

Server::Server(zmq::context_t& context, const ZeromqOptions& options, const TransportContext& ctx,
               ServerControl& control)
    : options_(options),
      ctx_(ctx),
      control_(control),
      router_(bound_socket(context, zmq::socket_type::router, options, options.bind_in, "ROUTER")),
      pub_(bound_socket(context, zmq::socket_type::pub, options, options.bind_out, "PUB")) {
  if (ctx_.host) labels_.emplace_back("transport", ctx_.host->instance_name());
  inbound_.reserve(kReadBatch);
}

Server::~Server() {
  request_stop();
  join();
}

void Server::start() {
  control_.stop_requested.store(false);
  control_.queue.open();
  control_.running.store(true);
  try {
    BlockSignals blocked;
    thread_ = std::thread([this] { run(); });
  } catch (...) {
    std::vector<OutboundItem> rest;
    control_.queue.close(rest);
    control_.running.store(false);
    throw;
  }
}

void Server::request_stop() noexcept {
  control_.stop_requested.store(true);
  control_.queue.wake();
}

void Server::join() noexcept {
  if (thread_.joinable()) thread_.join();
}

void Server::run() noexcept {
  control_.io_thread.store(std::this_thread::get_id());
  try {
    loop();
  } catch (const std::exception& e) {
    log(ctx_.host, LogLevel::error, std::string("zeromq: I/O thread failed: ") + e.what());
  } catch (...) {
    log(ctx_.host, LogLevel::error, "zeromq: I/O thread failed");
  }
  finish();
}

void Server::loop() {
  std::optional<Clock::time_point> deadline;
  while (true) {
    if (!deadline && control_.stop_requested.load()) {
      deadline = Clock::now() + options_.linger;
      abandon_read();
    }
    if (deadline) {
      // Stopping: wait for the replies still owed to clients, bounded by linger.
      if (envelopes_.size() == 0 && control_.queue.empty() && control_.local.empty()) break;
      if (Clock::now() >= *deadline) {
        log(ctx_.host, LogLevel::warn,
            "zeromq: stopped with " + std::to_string(envelopes_.size()) +
                " request(s) unanswered after linger");
        break;
      }
    }
    const bool reading = !deadline && !control_.paused.load(std::memory_order_relaxed);

    // While paused the ROUTER is left unread: its rcvhwm fills and ZeroMQ pushes back on the
    // clients, while replies and events keep flowing.
    zmq_pollitem_t items[2] = {
        {router_.handle(), 0, static_cast<short>(reading ? ZMQ_POLLIN : 0), 0},
        {nullptr, control_.queue.wake_fd(), ZMQ_POLLIN, 0},
    };
    long timeout = -1;
    if (!control_.local.empty() || (reading && delivered_ < inbound_.size())) {
      timeout = 0;  // work of its own is waiting: do it as soon as the sockets are serviced
    } else if (deadline) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(*deadline - Clock::now());
      timeout = std::max<long>(0, static_cast<long>(left.count()));
    }
    if (zmq_poll(items, 2, timeout) < 0) {
      if (zmq_errno() == EINTR) continue;
      throw zmq::error_t();
    }
    if (items[1].revents & ZMQ_POLLIN) control_.queue.drain_wakeups();

    flush_queued();
    if (reading && ((items[0].revents & ZMQ_POLLIN) || delivered_ < inbound_.size())) {
      read_inbound();
    }
  }
}

void Server::finish() noexcept {
  abandon_read();
  // Whatever was queued up to now still goes out (the sockets linger); later pushes are refused,
  // so every publish callback runs exactly once.
  control_.queue.close(batch_);
  flush(batch_);
  // Callbacks run here may still hand the I/O thread work; nothing else can any more.
  while (!control_.local.empty()) {
    local_batch_.swap(control_.local);
    flush(local_batch_);
  }
  control_.io_thread.store(std::thread::id{});
  control_.running.store(false);
}

void Server::flush_queued() noexcept {
  control_.queue.take(batch_);
  flush(batch_);
  // One round only: callbacks run now may queue more, which the next iteration takes after
  // servicing the sockets, so a callback that keeps publishing cannot starve them.
  if (!control_.local.empty()) {
    local_batch_.swap(control_.local);
    flush(local_batch_);
  }
}

void Server::flush(std::vector<OutboundItem>& items) noexcept {
  for (auto& item : items) {
    if (auto* ack = std::get_if<AckItem>(&item)) {
      try {
        send_reply(*ack);
      } catch (const std::exception& e) {
        log(ctx_.host, LogLevel::error, std::string("zeromq: reply not sent: ") + e.what());
      }
    } else {
      send_event(std::get<PublishItem>(item));
    }
  }
  // Releases payloads and callbacks now rather than at the next take().
  items.clear();
}

void Server::send_reply(const AckItem& ack) {
  const Envelope* envelope = envelopes_.find(ack.delivery_tag);
  if (!envelope) {
    log(ctx_.host, LogLevel::warn,
        "zeromq: ack for unknown or already answered delivery tag " +
            std::to_string(ack.delivery_tag));
    return;
  }
  // The request is answered (or can never be) once we try: release its envelope either way.
  struct Release {
    EnvelopeTable& table;
    std::uint64_t tag;
    ~Release() { table.release(tag); }
  } release{envelopes_, ack.delivery_tag};
  // ROUTER never blocks: a reply to a client that left, or past its sndhwm, is dropped.
  const Reply& r = ack.reply;
  (void)router_.send(view(envelope->routing_id), kMore);
  if (envelope->delimiter) (void)router_.send(zmq::const_buffer{}, kMore);
  (void)router_.send(view(r.status), kMore);
  if (r.body) {
    (void)router_.send(view(r.detail), kMore);
    (void)router_.send(view(*r.body), kLast);
  } else {
    (void)router_.send(view(r.detail), kLast);
  }
}

void Server::send_event(PublishItem& item) noexcept {
  Status status;
  try {
    // PUB never blocks: with no subscriber, or past a subscriber's sndhwm, ZeroMQ drops the event
    // by design, so a successful send is all the confirmation there is.
    if (!pub_.send(view(item.msg.topic), kMore) || !pub_.send(view(item.msg.payload), kLast)) {
      status = Status::error("zeromq: event not sent: the PUB socket would block");
    }
  } catch (const zmq::error_t& e) {
    status = Status::error(std::string("zeromq: event not sent: ") + e.what());
  }
  if (!item.done) return;
  try {
    item.done(status);
  } catch (...) {
    log(ctx_.host, LogLevel::error, "zeromq: a publish callback threw");
  }
}

void Server::read_inbound() {
  // Read a burst, then deliver it back to back: the host wakes an idle worker per delivery, and
  // a worker fed in one burst stays busy instead of being woken for every message.
  if (!deliver_read()) return;
  struct DeliverOnExit {
    Server& server;
    ~DeliverOnExit() { server.deliver_read(); }
  } deliver{*this};
  for (std::size_t n = 0; n < kReadBatch; ++n) {
    if (!receive_request()) return;
  }
}

bool Server::deliver_read() noexcept {
  if (delivered_ == 0 && !inbound_.empty() && !control_.paused.load(std::memory_order_relaxed)) {
    // The whole burst in one call: the host takes each worker's lock once per burst.
    ctx_.sink->deliver_burst(inbound_);
    inbound_.clear();
    return true;
  }
  while (delivered_ < inbound_.size()) {
    // The sink may pause us from inside deliver(): the rest of the burst waits for resume().
    if (control_.paused.load(std::memory_order_relaxed)) return false;
    ctx_.sink->deliver(std::move(inbound_[delivered_++]));
  }
  inbound_.clear();
  delivered_ = 0;
  return true;
}

void Server::abandon_read() noexcept {
  // Read while paused and never delivered: the host has not seen them, so nothing else would
  // ever answer them. Tell their clients now rather than leave them to time out.
  for (; delivered_ < inbound_.size(); ++delivered_) {
    std::uint64_t tag = inbound_[delivered_].delivery_tag;
    if (const Envelope* envelope = envelopes_.find(tag)) {
      try {
        send_error(envelope->routing_id, envelope->delimiter,
                   "the sidecar is stopping: not handled");
      } catch (const std::exception& e) {
        log(ctx_.host, LogLevel::error, std::string("zeromq: reply not sent: ") + e.what());
      }
    }
    envelopes_.release(tag);
  }
  inbound_.clear();
  delivered_ = 0;
}

bool Server::receive_request() {
  if (!router_.recv(frames_[0], zmq::recv_flags::dontwait)) return false;
  std::size_t count = 1;
  for (bool more = frames_[0].more(); more; ++count) {
    // The rest of a multipart message arrives with its first frame: this never blocks.
    zmq::message_t& frame = count < kMaxFrames ? frames_[count] : overflow_;
    (void)router_.recv(frame);
    more = frame.more();
  }

  const std::string_view routing_id = frames_[0].to_string_view();
  // An empty frame after the id is a REQ client's envelope delimiter (DEALER clients emulating
  // REQ send one too). A DEALER cannot send an empty topic first: that reads as a delimiter.
  const bool delimiter = count >= 2 && frames_[1].size() == 0;
  const std::size_t body = count - 1 - (delimiter ? 1 : 0);
  if (body != 2) {
    reject(routing_id, delimiter,
           "expected 2 frames [topic, payload], got " + std::to_string(body));
    return true;
  }
  const std::size_t first = delimiter ? 2 : 1;
  const std::string_view topic = frames_[first].to_string_view();
  if (topic.empty()) {
    reject(routing_id, delimiter, "empty topic");
    return true;
  }
  if (!routed(topic)) {
    reject(routing_id, delimiter, "topic '" + std::string(topic) + "' is not routed here");
    return true;
  }

  Message msg;
  char id[32] = "zmq-";
  msg.id.assign(id, std::to_chars(id + 4, id + sizeof id, ++sequence_).ptr);
  msg.topic.assign(topic);
  msg.payload.assign(frames_[first + 1].data<char>(), frames_[first + 1].size());
  msg.delivery_tag = envelopes_.insert(routing_id, delimiter);
  inbound_.push_back(std::move(msg));  // capacity reserved: cannot throw after the insert
  return true;
}

void Server::reject(std::string_view routing_id, bool delimiter, const std::string& detail) {
  send_error(routing_id, delimiter, detail);
  if (ctx_.host) {
    ctx_.host->counter_add("sidecar_zeromq_invalid_requests_total", labels_, 1);
    log(ctx_.host, LogLevel::debug, "zeromq: request refused: " + detail);
  }
}

void Server::send_error(std::string_view routing_id, bool delimiter, std::string_view detail) {
  (void)router_.send(view(routing_id), kMore);
  if (delimiter) (void)router_.send(zmq::const_buffer{}, kMore);
  (void)router_.send(zmq::str_buffer("error"), kMore);
  (void)router_.send(view(detail), kLast);
}

bool Server::routed(std::string_view topic) const noexcept {
  for (const auto& t : ctx_.topics) {
    if (t == topic) return true;
  }
  return false;
}

}  // namespace sidecar::zeromq
