// Answers every message with its payload in upper case, and emits it to a configured topic.
#include <cctype>

#include "sidecar/plugin.hpp"

namespace {

class UpperHandler : public sidecar::Handler {
 public:
  explicit UpperHandler(const sidecar::Options& options) : to_(options.get_string("to")) {}

  static std::vector<sidecar::OptionSpec> option_specs() {
    return {{"to", sidecar::OptionType::string, "", true, "topic the upper-cased payload goes to",
             false}};
  }

  sidecar::Status start(const sidecar::HandlerContext&) noexcept override { return {}; }
  void stop() noexcept override {}

  std::vector<sidecar::Outcome> handle(std::span<const sidecar::Message> batch,
                                       std::size_t) override {
    std::vector<sidecar::Outcome> out;
    for (const auto& m : batch) {
      std::string upper = m.payload;
      for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      auto o = sidecar::Outcome::with_body(upper);
      sidecar::Message e;
      e.topic = to_;
      e.key = m.key;
      e.payload = upper;
      o.emits.push_back(std::move(e));
      out.push_back(std::move(o));
    }
    return out;
  }

 private:
  std::string to_;
};

}  // namespace

SIDECAR_HANDLER_PLUGIN("upper", "1.0.0", "upper-cases payloads (an out-of-tree example)",
                       UpperHandler)
