#pragma once
// A transport turns a broker into Messages and back (librdkafka's shape: consume, publish with a
// delivery report, acknowledge).
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "sidecar/host_services.hpp"
#include "sidecar/message.hpp"
#include "sidecar/outcome.hpp"
#include "sidecar/status.hpp"

namespace sidecar {

// Implemented by the host: where a running transport hands what it consumed.
class InboundSink {
 public:
  virtual ~InboundSink() = default;
  // Takes ownership. Never blocks; the host answers backpressure through pause()/resume(), which
  // it may call from inside deliver(). Every delivered message is answered exactly once through
  // Transport::ack.
  virtual void deliver(Message msg) noexcept = 0;
  // The same for a burst read at once: the host then takes each worker's lock and wakes each
  // worker once per burst instead of once per message. Leaves `msgs` empty.
  virtual void deliver_burst(std::vector<Message>& msgs) noexcept {
    for (auto& m : msgs) deliver(std::move(m));
    msgs.clear();
  }
};

struct TransportContext {
  HostServices* host = nullptr;
  InboundSink* sink = nullptr;
  std::vector<std::string> topics;  // the inbound topics routed from this transport
};

class Transport {
 public:
  virtual ~Transport() = default;

  // --- server side: `sidecar run` ---
  virtual Status start(const TransportContext& ctx) noexcept = 0;
  // Stops consuming, finishes outstanding acks and publishes (bounded), releases the broker.
  virtual void stop() noexcept = 0;
  virtual void pause() noexcept = 0;
  virtual void resume() noexcept = 0;
  // The message's outcome is final: commit it (Kafka) or answer the requester (ZeroMQ).
  virtual void ack(const Message& msg, const Reply& reply) noexcept = 0;
  // The transport copies what it sends: the host keeps the message, to send it again when the
  // transport refuses it. `done` is called exactly once, possibly before publish() returns; once
  // it has been called, `msg` may be gone.
  virtual void publish(const Message& msg, PublishCallback done) noexcept = 0;
  // Backends reachable (for /readyz).
  virtual bool ready() const noexcept = 0;

  // --- client side: `sidecar publish` and `sidecar listen`; start() is not called first ---
  // Sends one message towards a running sidecar and waits for its outcome; a timeout of 0 means
  // the transport's own default.
  virtual Reply request(const Message& msg, std::chrono::milliseconds timeout) noexcept = 0;
  // Calls on_message for every message of `topic` until it returns false or should_stop() is true.
  virtual Status listen(const std::string& topic,
                        const std::function<bool(const Message&)>& on_message,
                        const std::function<bool()>& should_stop) noexcept = 0;
};

}  // namespace sidecar
