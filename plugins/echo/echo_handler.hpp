#pragma once
// The smallest complete handler: re-emits every message to another topic. See README.md.
#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "sidecar/handler.hpp"
#include "sidecar/options.hpp"

namespace sidecar::echo {

class EchoHandler final : public Handler {
 public:
  // The host validates the YAML against these before the constructor runs, and `sidecar plugins`
  // prints them as the plugin's documentation.
  static std::vector<OptionSpec> option_specs();

  // Throws std::invalid_argument on a value the declaration cannot express as invalid; the
  // plugin factory turns it into a load error.
  explicit EchoHandler(const Options& options);

  Status start(const HandlerContext& ctx) noexcept override;
  void stop() noexcept override;
  std::vector<Outcome> handle(std::span<const Message> batch, std::size_t worker) override;

 private:
  Outcome handle_one(const Message& msg) const;

  std::string to_;
  std::string fail_on_;
  std::string throw_on_;
  HostServices* host_ = nullptr;
};

}  // namespace sidecar::echo
