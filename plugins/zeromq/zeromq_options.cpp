#include "zeromq_options.hpp"

#include <limits>
#include <stdexcept>
#include <string_view>

namespace sidecar::zeromq {

std::vector<OptionSpec> ZeromqOptions::specs() {
  return {
      {"bind_in", OptionType::string, "", true,
       "ROUTER endpoint the sidecar binds for requests, e.g. tcp://*:5555. A DEALER or REQ client "
       "sends [topic, payload] and gets [status, detail] or [status, detail, body] back once the "
       "message is handled",
       false},
      {"bind_out", OptionType::string, "", true,
       "PUB endpoint the sidecar binds for events, e.g. tcp://*:5556; each event is the frames "
       "[topic, payload]",
       false},
      {"connect_in", OptionType::string, "", false,
       "endpoint `sidecar publish` connects to; default: bind_in with a wildcard host (* or "
       "0.0.0.0) replaced by 127.0.0.1",
       false},
      {"connect_out", OptionType::string, "", false,
       "endpoint `sidecar listen` connects to; default: bind_out with a wildcard host (* or "
       "0.0.0.0) replaced by 127.0.0.1",
       false},
      {"sndhwm", OptionType::integer, "10000", false,
       "send high-water mark of every socket, in messages: past it a slow peer's replies or "
       "events are dropped by ZeroMQ (0 = unlimited)",
       false},
      {"rcvhwm", OptionType::integer, "10000", false,
       "receive high-water mark of every socket, in messages: while the sidecar is paused, "
       "clients are pushed back once it is reached (0 = unlimited)",
       false},
      {"request_timeout", OptionType::duration, "5s", false,
       "how long `sidecar publish` waits for the reply when the caller gives no timeout", false},
      {"linger", OptionType::duration, "1s", false,
       "on stop, how long to wait for replies still owed to clients and to flush queued replies "
       "and events before the sockets are closed",
       false},
  };
}

namespace {

std::string required_string(const Options& options, const std::string& name) {
  std::string value = options.has(name) ? options.get_string(name) : std::string{};
  if (value.empty()) throw std::invalid_argument("zeromq: option '" + name + "' is required");
  return value;
}

std::string optional_string(const Options& options, const std::string& name) {
  return options.has(name) ? options.get_string(name) : std::string{};
}

int hwm(const Options& options, const std::string& name, int fallback) {
  if (!options.has(name)) return fallback;
  std::int64_t v = options.get_int(name);
  if (v < 0 || v > std::numeric_limits<int>::max()) {
    throw std::invalid_argument("zeromq: option '" + name + "' must be between 0 and " +
                                std::to_string(std::numeric_limits<int>::max()));
  }
  return static_cast<int>(v);
}

std::chrono::milliseconds duration(const Options& options, const std::string& name,
                                   std::chrono::milliseconds fallback, bool allow_zero) {
  if (!options.has(name)) return fallback;
  auto v = options.get_duration(name);
  // zmq_setsockopt takes an int of milliseconds.
  if (v.count() < (allow_zero ? 0 : 1) || v.count() > std::numeric_limits<int>::max()) {
    throw std::invalid_argument("zeromq: option '" + name + "' must be " +
                                (allow_zero ? "zero or more" : "positive") +
                                " and at most 2147483647ms");
  }
  return v;
}

}  // namespace

ZeromqOptions ZeromqOptions::from(const Options& options) {
  ZeromqOptions o;
  o.bind_in = required_string(options, "bind_in");
  o.bind_out = required_string(options, "bind_out");
  if (o.bind_in == o.bind_out) {
    throw std::invalid_argument("zeromq: bind_in and bind_out must differ (both are " + o.bind_in +
                                ")");
  }
  o.connect_in = optional_string(options, "connect_in");
  if (o.connect_in.empty()) o.connect_in = connect_endpoint_for(o.bind_in);
  o.connect_out = optional_string(options, "connect_out");
  if (o.connect_out.empty()) o.connect_out = connect_endpoint_for(o.bind_out);
  o.sndhwm = hwm(options, "sndhwm", o.sndhwm);
  o.rcvhwm = hwm(options, "rcvhwm", o.rcvhwm);
  o.request_timeout = duration(options, "request_timeout", o.request_timeout, false);
  o.linger = duration(options, "linger", o.linger, true);
  return o;
}

std::string connect_endpoint_for(const std::string& bind_endpoint) {
  // Only tcp endpoints have a host; ipc://, inproc:// and the like connect as they bind.
  constexpr std::string_view kTcp = "tcp://";
  if (bind_endpoint.rfind(kTcp, 0) != 0) return bind_endpoint;
  std::string_view rest = std::string_view(bind_endpoint).substr(kTcp.size());
  auto colon = rest.rfind(':');
  if (colon == std::string_view::npos) return bind_endpoint;
  std::string_view host = rest.substr(0, colon);
  if (host != "*" && host != "0.0.0.0") return bind_endpoint;
  return std::string(kTcp) + "127.0.0.1" + std::string(rest.substr(colon));
}

}  // namespace sidecar::zeromq
