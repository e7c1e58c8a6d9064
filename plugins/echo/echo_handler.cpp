#include "echo_handler.hpp"

#include <exception>
#include <stdexcept>

namespace sidecar::echo {

std::vector<OptionSpec> EchoHandler::option_specs() {
  return {
      {"to", OptionType::string, "", true, "topic every message is re-emitted to", false},
      {"fail_on", OptionType::string, "", false,
       "test aid: a message whose payload equals this string gets the outcome `failed` (retried, "
       "then dead-lettered); empty = never",
       false},
      {"throw_on", OptionType::string, "", false,
       "test aid: a message whose payload equals this string makes handle() throw; the exception "
       "is caught at the plugin boundary and becomes the outcome `failed`; empty = never",
       false},
  };
}

namespace {

std::string string_option(const Options& options, const std::string& name) {
  return options.has(name) ? options.get_string(name) : std::string{};
}

}  // namespace

EchoHandler::EchoHandler(const Options& options)
    : to_(string_option(options, "to")),
      fail_on_(string_option(options, "fail_on")),
      throw_on_(string_option(options, "throw_on")) {
  if (to_.empty()) throw std::invalid_argument("echo: option 'to' must name a topic");
}

Status EchoHandler::start(const HandlerContext& ctx) noexcept {
  host_ = ctx.host;
  return Status::ok();
}

void EchoHandler::stop() noexcept {}

std::vector<Outcome> EchoHandler::handle(std::span<const Message> batch, std::size_t /*worker*/) {
  std::vector<Outcome> outcomes;
  outcomes.reserve(batch.size());
  for (const Message& msg : batch) {
    // The host would catch an exception that left handle(), but count it against the whole
    // batch. Caught per message, one bad message fails alone and the rest of the batch succeeds.
    try {
      outcomes.push_back(handle_one(msg));
    } catch (const std::exception& e) {
      outcomes.push_back(Outcome::failed(std::string("echo: ") + e.what()));
    } catch (...) {
      outcomes.push_back(Outcome::failed("echo: unknown exception"));
    }
  }
  return outcomes;
}

Outcome EchoHandler::handle_one(const Message& msg) const {
  if (!throw_on_.empty() && msg.payload == throw_on_) {
    throw std::runtime_error("throw_on matched the payload");
  }
  if (!fail_on_.empty() && msg.payload == fail_on_) {
    return Outcome::failed("echo: fail_on matched the payload");
  }
  Outcome outcome = Outcome::ok();
  Message& out = outcome.emits.emplace_back();
  out.topic = to_;
  out.key = msg.key;
  out.payload = msg.payload;
  out.headers = msg.headers;
  return outcome;
}

}  // namespace sidecar::echo
