#pragma once
#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "sidecar/host_services.hpp"
#include "sidecar/message.hpp"
#include "sidecar/outcome.hpp"
#include "sidecar/status.hpp"

namespace sidecar {

struct HandlerContext {
  HostServices* host = nullptr;
  std::size_t workers = 1;  // handle() is called concurrently with worker indexes [0, workers)
  std::size_t max_batch = 1;
};

struct MigrateContext {
  HostServices* host = nullptr;
  std::string migrations_dir;
};

class Handler {
 public:
  virtual ~Handler() = default;
  virtual Status start(const HandlerContext& ctx) noexcept = 0;
  virtual void stop() noexcept = 0;
  // Returns exactly one outcome per message, in order. Calls with the same worker index never
  // overlap; messages with equal keys always arrive at the same worker, in order.
  // Report errors as outcomes. Not noexcept on purpose: should a handler throw anyway, the host
  // catches it and counts it as a `failed` outcome for the whole batch (retried, then
  // dead-lettered) instead of the process terminating.
  virtual std::vector<Outcome> handle(std::span<const Message> batch, std::size_t worker) = 0;
  virtual bool ready() const noexcept { return true; }
  // `sidecar migrate`: handlers that own a schema apply it here.
  virtual Status migrate(const MigrateContext&) noexcept { return Status::ok(); }
};

}  // namespace sidecar
