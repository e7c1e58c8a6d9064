#pragma once
// An in-memory host for testing a handler without a broker: feed messages, collect outcomes,
// logs, metrics and published messages.
//
//   sidecar::testkit::Host host;
//   MyHandler h(host.options_for(MyHandler::option_specs(), {{"to", "out"}}));
//   host.start(h);
//   auto outcomes = host.handle(h, {sidecar::testkit::message("in", "k", R"({"a":1})")});
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "sidecar/handler.hpp"
#include "sidecar/host_services.hpp"
#include "sidecar/option_parse.hpp"
#include "sidecar/options.hpp"

namespace sidecar::testkit {

inline Message message(std::string topic, std::string key, std::string payload) {
  static std::uint64_t next = 0;
  Message m;
  m.id = topic + "#" + std::to_string(++next);
  m.topic = std::move(topic);
  m.key = std::move(key);
  m.payload = std::move(payload);
  m.delivery_tag = next;
  return m;
}

// The kinds of a batch's outcomes, by name, so that a test states them in one line and a
// failure prints them readably:
//   EXPECT_EQ(testkit::kinds(out), (std::vector<std::string>{"handled", "duplicate"}));
inline std::vector<std::string> kinds(const std::vector<Outcome>& outcomes) {
  std::vector<std::string> out;
  out.reserve(outcomes.size());
  for (const auto& o : outcomes) out.emplace_back(to_string(o.kind));
  return out;
}

class Host : public HostServices {
 public:
  struct LogLine {
    LogLevel level;
    std::string text;
  };

  void log(LogLevel level, std::string_view text) noexcept override {
    std::lock_guard lock(mu_);
    logs.push_back({level, std::string(text)});
  }
  bool log_enabled(LogLevel) const noexcept override { return true; }
  void counter_add(std::string_view metric, const Labels&, double value) noexcept override {
    std::lock_guard lock(mu_);
    counters[std::string(metric)] += value;
  }
  void gauge_set(std::string_view metric, const Labels&, double value) noexcept override {
    std::lock_guard lock(mu_);
    gauges[std::string(metric)] = value;
  }
  // Confirms at once unless fail_publishes is set.
  void publish(Message msg, PublishCallback done) noexcept override {
    Status st = fail_publishes ? Status::error("testkit: publish refused") : Status::ok();
    {
      std::lock_guard lock(mu_);
      if (st) published.push_back(std::move(msg));
    }
    if (done) done(st);
  }
  const std::string& instance_name() const noexcept override { return name; }

  // Default values applied the way the host applies them, for the simple types.
  static Options options_for(const std::vector<OptionSpec>& specs,
                             const std::map<std::string, OptionValue>& given) {
    Options o;
    for (const auto& s : specs) {
      if (auto it = given.find(s.name); it != given.end()) {
        o.set(s.name, it->second);
      } else if (s.type == OptionType::string_list) {
        o.set(s.name, std::vector<std::string>{});
      } else if (s.type == OptionType::map) {
        o.set(s.name, std::map<std::string, std::string>{});
      } else if (!s.default_value.empty() || s.type == OptionType::string) {
        if (auto v = parse_scalar_option(s.type, s.default_value)) o.set(s.name, *v);
      }
    }
    return o;
  }

  Status start(Handler& h, std::size_t workers = 1, std::size_t max_batch = 1) {
    HandlerContext ctx;
    ctx.host = this;
    ctx.workers = workers;
    ctx.max_batch = max_batch;
    return h.start(ctx);
  }
  std::vector<Outcome> handle(Handler& h, const std::vector<Message>& batch,
                              std::size_t worker = 0) {
    return h.handle(std::span<const Message>(batch.data(), batch.size()), worker);
  }

  std::string name = "test";
  bool fail_publishes = false;
  std::vector<LogLine> logs;
  std::map<std::string, double> counters;
  std::map<std::string, double> gauges;
  std::vector<Message> published;

 private:
  std::mutex mu_;
};

// Polls `pred` every `step` until it holds or `timeout` passes; returns its last answer. For what
// a plugin does on threads of its own (a relay, a consumer): wait for the outcome, never sleep a
// fixed time.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(10),
                std::chrono::milliseconds step = std::chrono::milliseconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(step);
  }
  return pred();
}

}  // namespace sidecar::testkit
