// The bus between an in-process transport and handler written for these tests: per-key order,
// backpressure, acks after final outcomes, retries, dead letters.
#include "bus/bus.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

using namespace sidecar;
using namespace sidecar::host;
using namespace std::chrono_literals;

namespace {

class TestTransport : public Transport {
 public:
  Status start(const TransportContext&) noexcept override { return {}; }
  void stop() noexcept override {}
  void pause() noexcept override { paused = true, ++pauses; }
  void resume() noexcept override { paused = false, ++resumes; }
  void ack(const Message& msg, const Reply& reply) noexcept override {
    std::lock_guard lock(mu);
    acks.emplace_back(msg, reply);
    cv.notify_all();
  }
  void publish(const Message&, PublishCallback) noexcept override {}
  bool ready() const noexcept override { return true; }
  Reply request(const Message&, std::chrono::milliseconds) noexcept override { return {}; }
  Status listen(const std::string&, const std::function<bool(const Message&)>&,
                const std::function<bool()>&) noexcept override {
    return {};
  }
  bool wait_acks(std::size_t n, std::chrono::milliseconds t = 10s) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, t, [&] { return acks.size() >= n; });
  }
  std::size_t ack_count() {
    std::lock_guard lock(mu);
    return acks.size();
  }

  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::pair<Message, Reply>> acks;
  std::atomic<bool> paused{false};
  std::atomic<int> pauses{0}, resumes{0};
};

// Behaviour chosen by payload: "ok", "emit", "reject", "retry:N" (retry N times), "fail", "throw",
// "block" (waits for release()).
class TestHandler : public Handler {
 public:
  Status start(const HandlerContext&) noexcept override { return {}; }
  void stop() noexcept override {}
  std::vector<Outcome> handle(std::span<const Message> batch, std::size_t worker) override {
    std::vector<Outcome> out;
    {
      std::lock_guard lock(mu);
      batch_sizes.push_back(batch.size());
    }
    for (const auto& m : batch) {
      {
        std::lock_guard lock(mu);
        seen[m.key].push_back(m.id);
        workers_of[m.key].insert(worker);
        ++calls[m.id];
      }
      if (m.payload == "throw") throw std::runtime_error("boom");
      if (m.payload == "block") {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return released; });
      }
      if (m.payload == "reject") {
        out.push_back(Outcome::rejected("bad_input: test"));
      } else if (m.payload == "fail") {
        out.push_back(Outcome::failed("always fails"));
      } else if (m.payload.rfind("retry:", 0) == 0) {
        int n = std::stoi(m.payload.substr(6));
        std::lock_guard lock(mu);
        out.push_back(calls[m.id] <= n ? Outcome::retry("backend down") : Outcome::ok());
      } else if (m.payload == "emit") {
        Outcome o;
        Message e;
        e.topic = "out";
        e.key = m.key;
        e.payload = "emitted:" + m.id;
        o.emits.push_back(e);
        out.push_back(o);
      } else if (m.payload.rfind("emit:", 0) == 0) {
        Outcome o;
        Message e;
        e.topic = m.payload.substr(5);
        e.payload = "emitted:" + m.id;
        o.emits.push_back(e);
        out.push_back(o);
      } else if (m.payload == "short") {
        return {};
      } else {
        out.push_back(Outcome::ok());
      }
    }
    return out;
  }
  void release() {
    std::lock_guard lock(mu);
    released = true;
    cv.notify_all();
  }

  std::mutex mu;
  std::condition_variable cv;
  bool released = false;
  std::map<std::string, std::vector<std::string>> seen;
  std::map<std::string, std::set<std::size_t>> workers_of;
  std::map<std::string, int> calls;
  std::vector<std::size_t> batch_sizes;
};

// Captures what the bus publishes (emits and dead letters); confirms at once, after a delay, or
// refuses the first `refuse` attempts.
struct Outputs {
  std::mutex mu;
  std::vector<Message> published;
  std::vector<PublishCallback> held;
  int refuse = 0;
  bool hold = false;

  Publisher publisher() {
    return [this](Message m, PublishCallback done) {
      std::unique_lock lock(mu);
      if (refuse > 0) {
        --refuse;
        lock.unlock();
        done(Status::error("broker says no"));
        return;
      }
      published.push_back(m);
      if (hold) {
        held.push_back(std::move(done));
        return;
      }
      lock.unlock();
      done(Status::ok());
    };
  }
  std::vector<Message> on(const std::string& topic) {
    std::lock_guard lock(mu);
    std::vector<Message> out;
    for (const auto& m : published)
      if (m.topic == topic) out.push_back(m);
    return out;
  }
};

struct Fixture {
  explicit Fixture(BusConfig bc = {}, std::size_t batch = 1, std::size_t max_bytes = 1 << 20) {
    bc.backoff_initial = 1ms;
    bc.backoff_max = 5ms;
    // Like a config whose outputs name "out" and "dlq" only.
    BusOptions o{bc, max_bytes, "dlq",
                 [](const std::string& topic) { return topic == "out" || topic == "dlq"; }};
    bus =
        std::make_unique<Bus>(o, std::vector<Transport*>{&transport}, std::vector<std::string>{"t"},
                              std::vector<BusHandler>{{"h", &handler, batch}},
                              std::vector<BusRoute>{{"in", 0, 0, ""}, {"keyed", 0, 0, "order_id"}},
                              outputs.publisher(), metrics);
    bus->start();
  }
  void send(const std::string& id, const std::string& key, const std::string& payload,
            const std::string& topic = "in") {
    Message m;
    m.id = id;
    m.topic = topic;
    m.key = key;
    m.payload = payload;
    bus->sink(0).deliver(std::move(m));
  }
  Reply reply_of(const std::string& id) {
    std::lock_guard lock(transport.mu);
    for (auto& [m, r] : transport.acks)
      if (m.id == id) return r;
    return {"<none>", "", std::nullopt};
  }
  Metrics metrics;
  TestTransport transport;
  TestHandler handler;
  Outputs outputs;
  std::unique_ptr<Bus> bus;
};

}  // namespace

TEST(Bus, KeepsPerKeyOrderAcrossParallelWorkers) {
  BusConfig bc;
  bc.workers = 4;
  bc.queue_capacity = 100000;
  Fixture f(bc, 8);
  const int keys = 20, per_key = 200;
  for (int i = 0; i < per_key; ++i) {
    for (int k = 0; k < keys; ++k) {
      f.send(std::to_string(k) + ":" + std::to_string(i), "key" + std::to_string(k), "ok");
    }
  }
  ASSERT_TRUE(f.transport.wait_acks(keys * per_key));
  std::set<std::size_t> used_workers;
  for (int k = 0; k < keys; ++k) {
    auto& ids = f.handler.seen["key" + std::to_string(k)];
    ASSERT_EQ(ids.size(), static_cast<std::size_t>(per_key));
    for (int i = 0; i < per_key; ++i)
      EXPECT_EQ(ids[i], std::to_string(k) + ":" + std::to_string(i));
    EXPECT_EQ(f.handler.workers_of["key" + std::to_string(k)].size(), 1u);
    used_workers.insert(*f.handler.workers_of["key" + std::to_string(k)].begin());
  }
  EXPECT_GT(used_workers.size(), 1u) << "keys should spread over workers";
  EXPECT_EQ(f.metrics.value("sidecar_messages_handled_total", {{"topic", "in"}, {"handler", "h"}}),
            keys * per_key);
}

TEST(Bus, BurstsKeepPerKeyOrder) {
  BusConfig bc;
  bc.workers = 3;
  bc.queue_capacity = 100000;
  Fixture f(bc, 8);
  std::vector<Message> burst;
  int total = 0;
  for (int i = 0; i < 100; ++i) {
    for (int k = 0; k < 10; ++k) {
      Message m;
      m.id = std::to_string(k) + ":" + std::to_string(i);
      m.topic = "in";
      m.key = "key" + std::to_string(k);
      m.payload = "ok";
      burst.push_back(std::move(m));
      ++total;
      if (burst.size() == 37) f.bus->sink(0).deliver_burst(burst);
    }
  }
  f.bus->sink(0).deliver_burst(burst);
  EXPECT_TRUE(burst.empty());
  ASSERT_TRUE(f.transport.wait_acks(total));
  for (int k = 0; k < 10; ++k) {
    auto& ids = f.handler.seen["key" + std::to_string(k)];
    ASSERT_EQ(ids.size(), 100u);
    for (int i = 0; i < 100; ++i) EXPECT_EQ(ids[i], std::to_string(k) + ":" + std::to_string(i));
  }
}

TEST(Bus, KeyFromJsonFieldWhenTheMessageHasNone) {
  BusConfig bc;
  bc.workers = 4;
  Fixture f(bc);
  for (int i = 0; i < 50; ++i) {
    f.send("m" + std::to_string(i), "", R"({"order_id": 111, "n": )" + std::to_string(i) + "}",
           "keyed");
  }
  ASSERT_TRUE(f.transport.wait_acks(50));
  ASSERT_EQ(f.handler.seen["111"].size(), 50u);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(f.handler.seen["111"][i], "m" + std::to_string(i));
}

TEST(Bus, PausesTransportsWhenFullAndResumesWhenDrained) {
  BusConfig bc;
  bc.workers = 2;
  bc.queue_capacity = 10;
  Fixture f(bc);
  for (int i = 0; i < 30; ++i) f.send("b" + std::to_string(i), "k" + std::to_string(i), "block");
  EXPECT_TRUE(f.transport.paused.load());
  EXPECT_TRUE(f.bus->paused());
  EXPECT_EQ(f.transport.ack_count(), 0u);
  f.handler.release();
  ASSERT_TRUE(f.transport.wait_acks(30));
  // The last ack is recorded before the bus counts it; drain() waits for the count.
  EXPECT_TRUE(f.bus->drain(5s));
  EXPECT_FALSE(f.transport.paused.load());
  EXPECT_GE(f.transport.resumes.load(), 1);
  EXPECT_EQ(f.bus->in_flight(), 0u);
}

TEST(Bus, ATransportPausedForShutdownStaysPausedWhateverIsAckedAfter) {
  BusConfig bc;
  bc.queue_capacity = 10;
  Fixture f(bc);
  for (int i = 0; i < 20; ++i) f.send("s" + std::to_string(i), "k" + std::to_string(i), "block");
  ASSERT_TRUE(f.transport.paused.load());
  // Shutdown: the bus is closed, then the pipeline pauses its transports; the acks that follow
  // bring the bus far below its resume mark.
  f.bus->close();
  f.handler.release();
  ASSERT_TRUE(f.transport.wait_acks(20));
  EXPECT_TRUE(f.bus->drain(5s));
  EXPECT_TRUE(f.transport.paused.load()) << "resumed during shutdown";
  EXPECT_EQ(f.transport.resumes.load(), 0);
}

TEST(Bus, AMessageEmittingWhereNoTransportGoesIsDeadLetteredNotRetriedForGood) {
  Fixture f;
  f.send("n1", "k", "emit:nowhere");
  f.send("n2", "k", "emit:");
  f.send("n3", "k", "emit:out");
  ASSERT_TRUE(f.transport.wait_acks(3));
  EXPECT_EQ(f.reply_of("n1").status, "dead-letter");
  EXPECT_EQ(f.reply_of("n1").detail,
            "no_output: no transport for the emitted topic \"nowhere\" in outputs");
  EXPECT_EQ(f.reply_of("n2").status, "dead-letter");
  EXPECT_EQ(f.reply_of("n2").detail, "no_output: the handler emitted a message without a topic");
  EXPECT_EQ(f.reply_of("n3").status, "ok");
  auto dl = f.outputs.on("dlq");
  ASSERT_EQ(dl.size(), 2u);
  EXPECT_EQ(dl[0].payload, "emit:nowhere") << "the dead letter carries the source message";
  EXPECT_EQ(f.outputs.on("nowhere").size(), 0u);
  EXPECT_EQ(f.outputs.on("out").size(), 1u);
  EXPECT_TRUE(f.bus->drain(5s)) << "left in flight: " << f.bus->in_flight();
}

TEST(Bus, AcksOnlyAfterEmittedMessagesAreConfirmed) {
  Fixture f;
  f.outputs.hold = true;
  f.send("e1", "k", "emit");
  // The handler ran and emitted, but the transport has not confirmed: no ack yet.
  for (int i = 0; i < 100 && f.outputs.on("out").empty(); ++i) std::this_thread::sleep_for(1ms);
  ASSERT_EQ(f.outputs.on("out").size(), 1u);
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(f.transport.ack_count(), 0u);
  std::vector<PublishCallback> held;
  {
    std::lock_guard lock(f.outputs.mu);
    held.swap(f.outputs.held);
  }
  for (auto& cb : held) cb(Status::ok());
  ASSERT_TRUE(f.transport.wait_acks(1));
  EXPECT_EQ(f.reply_of("e1").status, "ok");
  EXPECT_EQ(f.outputs.on("out")[0].payload, "emitted:e1");
}

TEST(Bus, RetriesTransientFaultsAndKeepsOrderBehindThem) {
  BusConfig bc;
  bc.workers = 1;
  Fixture f(bc, 4);
  f.send("r1", "k", "retry:3");
  f.send("r2", "k", "ok");
  ASSERT_TRUE(f.transport.wait_acks(2));
  EXPECT_EQ(f.handler.calls["r1"], 4);
  EXPECT_EQ(f.reply_of("r1").status, "ok");
  // r2 was handed over only after r1 succeeded, so it appears after r1's last attempt.
  auto& ids = f.handler.seen["k"];
  EXPECT_EQ(ids.back(), "r2");
  EXPECT_EQ(f.metrics.value("sidecar_retries_total", {{"topic", "in"}, {"handler", "h"}}), 3);
  EXPECT_TRUE(f.outputs.on("dlq").empty());
}

TEST(Bus, FailingHandlerIsRetriedThenDeadLetteredAndTheNextMessageGoesOn) {
  BusConfig bc;
  bc.workers = 1;
  bc.max_attempts = 3;
  Fixture f(bc);
  f.send("f1", "k", "fail");
  f.send("f2", "k", "ok");
  ASSERT_TRUE(f.transport.wait_acks(2));
  EXPECT_EQ(f.handler.calls["f1"], 3);
  auto r = f.reply_of("f1");
  EXPECT_EQ(r.status, "dead-letter");
  EXPECT_EQ(r.detail, "failed after 3 attempts: always fails");
  EXPECT_EQ(f.reply_of("f2").status, "ok");
  auto dl = f.outputs.on("dlq");
  ASSERT_EQ(dl.size(), 1u);
  EXPECT_EQ(dl[0].payload, "fail");
  EXPECT_EQ(dl[0].header("sidecar.dlq.reason"), "failed after 3 attempts: always fails");
  EXPECT_EQ(dl[0].header("sidecar.dlq.source_topic"), "in");
  EXPECT_EQ(dl[0].header("sidecar.dlq.handler"), "h");
}

TEST(Bus, ThrowingHandlerIsRetriedThenDeadLettered) {
  BusConfig bc;
  bc.workers = 1;
  bc.max_attempts = 2;
  Fixture f(bc);
  f.send("t1", "k", "throw");
  f.send("t2", "k", "ok");
  ASSERT_TRUE(f.transport.wait_acks(2));
  EXPECT_EQ(f.handler.calls["t1"], 2);
  EXPECT_EQ(f.reply_of("t1").detail, "failed after 2 attempts: exception: boom");
  EXPECT_EQ(f.reply_of("t2").status, "ok");
}

TEST(Bus, RejectedGoesToDeadLetterWithReasonSourceAndBytes) {
  Fixture f;
  f.send("x1", "k", "reject");
  ASSERT_TRUE(f.transport.wait_acks(1));
  EXPECT_EQ(f.reply_of("x1").status, "dead-letter");
  EXPECT_EQ(f.reply_of("x1").detail, "bad_input: test");
  auto dl = f.outputs.on("dlq");
  ASSERT_EQ(dl.size(), 1u);
  EXPECT_EQ(dl[0].payload, "reject");
  EXPECT_EQ(dl[0].key, "k");
  EXPECT_EQ(dl[0].header("sidecar.dlq.source_id"), "x1");
  EXPECT_EQ(f.handler.calls["x1"], 1);
}

TEST(Bus, DeadLetterIsAckedOnlyOnceTheDeadLetterTopicConfirms) {
  Fixture f;
  f.outputs.refuse = 3;
  f.send("x1", "k", "reject");
  ASSERT_TRUE(f.transport.wait_acks(1));
  EXPECT_EQ(f.reply_of("x1").status, "dead-letter");
  EXPECT_EQ(f.outputs.on("dlq").size(), 1u);
}

TEST(Bus, OversizedMessageIsDeadLetteredWithoutReachingTheHandler) {
  Fixture f({}, 1, 16);
  f.send("big", "k", std::string(17, 'x'));
  ASSERT_TRUE(f.transport.wait_acks(1));
  EXPECT_EQ(f.reply_of("big").status, "dead-letter");
  EXPECT_EQ(f.reply_of("big").detail.rfind("too_large", 0), 0u);
  EXPECT_EQ(f.handler.calls.count("big"), 0u);
}

TEST(Bus, UnroutedTopicIsAnsweredWithError) {
  Fixture f;
  f.send("u1", "k", "ok", "nowhere");
  ASSERT_TRUE(f.transport.wait_acks(1));
  EXPECT_EQ(f.reply_of("u1").status, "error");
  EXPECT_EQ(f.bus->in_flight(), 0u);
}

TEST(Bus, HandsQueuedMessagesOverAsBatches) {
  BusConfig bc;
  bc.workers = 1;
  Fixture f(bc, 16);
  f.send("first", "k", "block");
  for (int i = 0; i < 32; ++i) f.send("m" + std::to_string(i), "k", "ok");
  f.handler.release();
  ASSERT_TRUE(f.transport.wait_acks(33));
  std::size_t biggest = 0;
  for (auto s : f.handler.batch_sizes) biggest = std::max(biggest, s);
  EXPECT_EQ(biggest, 16u);
}

TEST(Bus, WrongNumberOfOutcomesCountsAsFailure) {
  BusConfig bc;
  bc.max_attempts = 1;
  Fixture f(bc);
  f.send("s1", "k", "short");
  ASSERT_TRUE(f.transport.wait_acks(1));
  EXPECT_EQ(f.reply_of("s1").detail,
            "failed after 1 attempts: handler h returned 0 outcomes for 1 messages");
}

TEST(Bus, DrainWaitsForInFlightWork) {
  Fixture f;
  f.send("d1", "k", "block");
  EXPECT_FALSE(f.bus->drain(30ms));
  f.handler.release();
  EXPECT_TRUE(f.bus->drain(5s));
  EXPECT_EQ(f.transport.ack_count(), 1u);
}
