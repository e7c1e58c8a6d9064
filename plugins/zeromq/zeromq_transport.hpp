#pragma once
// The ZeroMQ transport: requests in on a ROUTER, replies back to the requester once the host
// acks, events out on a PUB (PRODUCT.md, "ZeroMQ transport").
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "server.hpp"
#include "sidecar/options.hpp"
#include "sidecar/transport.hpp"
#include "zeromq_options.hpp"

namespace sidecar::zeromq {

class ZeromqTransport final : public Transport {
 public:
  explicit ZeromqTransport(const Options& options);  // throws on invalid options
  ~ZeromqTransport() override;
  ZeromqTransport(const ZeromqTransport&) = delete;
  ZeromqTransport& operator=(const ZeromqTransport&) = delete;

  static std::vector<OptionSpec> option_specs() { return ZeromqOptions::specs(); }
  [[nodiscard]] const ZeromqOptions& options() const noexcept { return options_; }

  Status start(const TransportContext& ctx) noexcept override;
  void stop() noexcept override;
  void pause() noexcept override;
  void resume() noexcept override;
  void ack(const Message& msg, const Reply& reply) noexcept override;
  void publish(const Message& msg, PublishCallback done) noexcept override;
  bool ready() const noexcept override;

  Reply request(const Message& msg, std::chrono::milliseconds timeout) noexcept override;
  Status listen(const std::string& topic, const std::function<bool(const Message&)>& on_message,
                const std::function<bool()>& should_stop) noexcept override;

 private:
  ZeromqOptions options_;
  // Declared before anything holding a socket: the context must be the last to go.
  zmq::context_t context_;
  ServerControl control_;
  std::atomic<HostServices*> host_{nullptr};  // read by ack() and publish() on any thread
  std::mutex lifecycle_mu_;
  std::unique_ptr<Server> server_;
};

}  // namespace sidecar::zeromq
