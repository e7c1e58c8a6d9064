#include "zeromq_transport.hpp"

#include <utility>

#include "client.hpp"
#include "log.hpp"

namespace sidecar::zeromq {

ZeromqTransport::ZeromqTransport(const Options& options)
    : options_(ZeromqOptions::from(options)), context_(1) {}

ZeromqTransport::~ZeromqTransport() { stop(); }

Status ZeromqTransport::start(const TransportContext& ctx) noexcept {
  if (!ctx.sink) return Status::error("zeromq: start() needs an inbound sink");
  // The lock is held while stop() joins the I/O thread, so that thread must never wait for it.
  if (control_.on_io_thread()) return Status::error("zeromq: start() called from its I/O thread");
  std::lock_guard lock(lifecycle_mu_);
  if (server_ && !control_.running.load()) {
    // Its I/O thread already ended (stop() from one of its callbacks): reap it first.
    server_->join();
    server_.reset();
  }
  if (server_) return Status::error("zeromq: already started");
  try {
    control_.paused.store(false);
    host_.store(ctx.host);
    auto server = std::make_unique<Server>(context_, options_, ctx, control_);
    server->start();
    server_ = std::move(server);
  } catch (const std::exception& e) {
    return Status::error(e.what());
  }
  if (ctx.topics.empty()) {
    log(host_.load(), LogLevel::warn,
        "zeromq: no topic is routed from this transport: every request will be answered with an "
        "error");
  }
  log(host_.load(), LogLevel::info,
      "zeromq: requests on " + options_.bind_in + " (ROUTER), events on " + options_.bind_out +
          " (PUB)");
  return Status::ok();
}

void ZeromqTransport::stop() noexcept {
  if (control_.on_io_thread()) {
    // From one of its own callbacks: the I/O thread cannot join itself. It winds down on its own;
    // the next stop(), start() or the destructor reaps it.
    control_.stop_requested.store(true);
    control_.queue.wake();
    return;
  }
  // Held through the join, so a concurrent start() waits for the old thread to be gone. The I/O
  // thread never takes this lock (see above), so the join cannot deadlock.
  std::lock_guard lock(lifecycle_mu_);
  if (!server_) return;
  server_->request_stop();
  server_->join();
  server_.reset();
  log(host_.load(), LogLevel::info, "zeromq: stopped");
}

void ZeromqTransport::pause() noexcept { control_.paused.store(true); }

void ZeromqTransport::resume() noexcept {
  control_.paused.store(false);
  // The I/O thread may be asleep without the ROUTER in its poll set.
  control_.queue.wake();
}

void ZeromqTransport::ack(const Message& msg, const Reply& reply) noexcept {
  try {
    if (control_.on_io_thread()) {
      control_.local.emplace_back(AckItem{msg.delivery_tag, reply});
      return;
    }
    if (control_.queue.push(AckItem{msg.delivery_tag, reply})) return;
    log(host_.load(), LogLevel::warn,
        "zeromq: reply to " + msg.id + " dropped: the transport is not running");
  } catch (const std::exception& e) {  // copying the reply: std::bad_alloc
    log(host_.load(), LogLevel::error, "zeromq: reply to " + msg.id + " dropped: " + e.what());
  }
}

void ZeromqTransport::publish(const Message& msg, PublishCallback done) noexcept {
  Status refused;
  if (msg.topic.empty()) {
    refused = Status::error("zeromq: cannot publish an event without a topic");
  } else {
    PublishItem item{msg, std::move(done)};
    if (control_.on_io_thread()) {
      try {
        control_.local.emplace_back(std::move(item));
        return;
      } catch (const std::exception&) {  // std::bad_alloc: refused below, item left intact
      }
    }
    if (control_.queue.push(std::move(item))) return;
    refused = Status::error("zeromq: cannot publish: the transport is not running");
    done = std::move(item.done);  // push() leaves a refused item untouched
  }
  if (!done) return;
  try {
    done(refused);
  } catch (...) {
    log(host_.load(), LogLevel::error, "zeromq: a publish callback threw");
  }
}

bool ZeromqTransport::ready() const noexcept { return control_.running.load(); }

Reply ZeromqTransport::request(const Message& msg, std::chrono::milliseconds timeout) noexcept {
  return zeromq::request(context_, options_, msg, timeout);
}

Status ZeromqTransport::listen(const std::string& topic,
                               const std::function<bool(const Message&)>& on_message,
                               const std::function<bool()>& should_stop) noexcept {
  return zeromq::listen(context_, options_, topic, on_message, should_stop);
}

}  // namespace sidecar::zeromq
