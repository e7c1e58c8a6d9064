#pragma once
// The client side, for `sidecar publish` and `sidecar listen`: short-lived sockets that connect
// to a running sidecar. Each call owns its socket, so calls may run on any thread.
#include <chrono>
#include <functional>
#include <string>
#include <zmq.hpp>

#include "sidecar/message.hpp"
#include "sidecar/outcome.hpp"
#include "sidecar/status.hpp"
#include "zeromq_options.hpp"

namespace sidecar::zeromq {

// Sends [topic, payload] from a DEALER to options.connect_in and waits for the reply; a timeout
// or a transport failure is a Reply with status "error".
Reply request(zmq::context_t& context, const ZeromqOptions& options, const Message& msg,
              std::chrono::milliseconds timeout) noexcept;

// Subscribes to options.connect_out and calls on_message for every event whose topic equals
// `topic` (ZeroMQ subscriptions match prefixes), until on_message returns false or should_stop()
// is true; should_stop() is checked at least every 100 ms.
Status listen(zmq::context_t& context, const ZeromqOptions& options, const std::string& topic,
              const std::function<bool(const Message&)>& on_message,
              const std::function<bool()>& should_stop) noexcept;

}  // namespace sidecar::zeromq
