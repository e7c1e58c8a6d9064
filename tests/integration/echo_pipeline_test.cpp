// The real `sidecar` binary with the ZeroMQ transport and the echo handler, over real sockets.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <thread>

#include "sidecar_process.hpp"
#include "zmq_client.hpp"

using namespace sidecar::test;
using namespace std::chrono_literals;

namespace {

std::string echo_config(int in_port, int out_port, int max_attempts = 3) {
  return fmt::format(R"(log_level: info
plugin_dir: ${{SIDECAR_PLUGIN_DIR}}
admin: ${{ADMIN_ADDR}}
max_message_bytes: 4096
bus:
  workers: 3
  queue_capacity: 256
  max_attempts: {2}
  backoff_initial: 5ms
  backoff_max: 20ms
transports:
  zmq:
    plugin: zeromq
    options:
      bind_in: tcp://127.0.0.1:{0}
      bind_out: tcp://127.0.0.1:{1}
handlers:
  echo:
    plugin: echo
    batch_size: 8
    options:
      to: echoed
      throw_on: please-throw
      fail_on: please-fail
routes:
  - topic: in
    transport: zmq
    handler: echo
outputs:
  "*": zmq
)",
                     in_port, out_port, max_attempts);
}

class EchoPipeline : public ::testing::Test {
 protected:
  void SetUp() override {
    in_port_ = free_port();
    out_port_ = free_port();
    proc_ = std::make_unique<SidecarProcess>(echo_config(in_port_, out_port_));
    proc_->start();
    ASSERT_TRUE(proc_->wait_ready()) << proc_->log();
  }
  void TearDown() override {
    if (proc_ && proc_->running()) {
      EXPECT_EQ(proc_->terminate(), 0) << proc_->log();
    }
  }
  std::string in() const { return "tcp://127.0.0.1:" + std::to_string(in_port_); }
  std::string out() const { return "tcp://127.0.0.1:" + std::to_string(out_port_); }

  int in_port_ = 0, out_port_ = 0;
  std::unique_ptr<SidecarProcess> proc_;
};

}  // namespace

TEST_F(EchoPipeline, DealerGetsOkAndTheEventIsPublished) {
  Subscriber sub(out(), "echoed");
  std::this_thread::sleep_for(300ms);  // a SUB only sees what is sent after it has joined
  Dealer d(in());
  auto reply = d.request("in", R"({"hello":"world"})");
  ASSERT_TRUE(reply);
  EXPECT_EQ(*reply, (std::vector<std::string>{"ok", "handled"}));
  auto ev = sub.next();
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->first, "echoed");
  EXPECT_EQ(ev->second, R"({"hello":"world"})");
}

TEST_F(EchoPipeline, ReqClientWorksToo) {
  zmq::socket_t req(zmq_context(), zmq::socket_type::req);
  req.set(zmq::sockopt::linger, 0);
  req.connect(in());
  req.send(zmq::buffer(std::string("in")), zmq::send_flags::sndmore);
  req.send(zmq::buffer(std::string("{}")), zmq::send_flags::none);
  zmq::pollitem_t items[] = {{req.handle(), 0, ZMQ_POLLIN, 0}};
  ASSERT_EQ(zmq::poll(items, 1, 10s), 1);
  std::vector<std::string> frames;
  while (true) {
    zmq::message_t m;
    (void)req.recv(m);
    frames.push_back(m.to_string());
    if (!m.more()) break;
  }
  EXPECT_EQ(frames, (std::vector<std::string>{"ok", "handled"}));
}

TEST_F(EchoPipeline, MalformedRequestsGetErrorAndTheSidecarGoesOn) {
  Dealer d(in());
  d.send({"in"});  // one frame
  auto r1 = d.receive();
  ASSERT_TRUE(r1);
  EXPECT_EQ(r1->at(0), "error");
  d.send({"in", "{}", "extra"});  // three frames
  auto r2 = d.receive();
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->at(0), "error");
  // An empty first frame is also what a REQ client's delimiter looks like, so the answer may come
  // back behind an empty frame; either way it is an error.
  auto r3 = d.request("", "{}");
  ASSERT_TRUE(r3);
  EXPECT_TRUE(r3->at(0) == "error" || (r3->size() > 1 && r3->at(0).empty() && r3->at(1) == "error"))
      << r3->at(0);
  auto r4 = d.request("no-such-topic", "{}");
  ASSERT_TRUE(r4);
  EXPECT_EQ(r4->at(0), "error");
  auto ok = d.request("in", "{}");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->at(0), "ok");
}

TEST_F(EchoPipeline, ThrowingHandlerIsRetriedThenDeadLetteredAndTheNextGoesOn) {
  Subscriber dlq(out(), "dlq");
  std::this_thread::sleep_for(300ms);
  Dealer d(in());
  auto r = d.request("in", "please-throw");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ(r->at(0), "dead-letter");
  EXPECT_NE(r->at(1).find("failed after 3 attempts"), std::string::npos) << r->at(1);
  auto ev = dlq.next();
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->second, "please-throw");  // the original bytes
  auto next = d.request("in", "{}");
  ASSERT_TRUE(next);
  EXPECT_EQ(next->at(0), "ok");
  auto metrics = http_get(proc_->admin(), "/metrics");
  EXPECT_NE(
      metrics.body.find("sidecar_messages_dead_lettered_total{topic=\"in\",handler=\"echo\"} 1"),
      std::string::npos)
      << metrics.body;
}

TEST_F(EchoPipeline, FailingHandlerIsDeadLettered) {
  Dealer d(in());
  auto r = d.request("in", "please-fail");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->at(0), "dead-letter");
}

TEST_F(EchoPipeline, OversizedMessageIsDeadLettered) {
  Dealer d(in());
  auto r = d.request("in", std::string(5000, 'x'));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->at(0), "dead-letter");
  EXPECT_EQ(r->at(1).rfind("too_large", 0), 0u) << r->at(1);
}

TEST_F(EchoPipeline, AdminEndpointsAndCounts) {
  Dealer d(in());
  for (int i = 0; i < 25; ++i) d.send({"in", "{\"n\":" + std::to_string(i) + "}"});
  for (int i = 0; i < 25; ++i) {
    auto r = d.receive();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->at(0), "ok");
  }
  EXPECT_EQ(http_get(proc_->admin(), "/healthz").status, 200);
  EXPECT_EQ(http_get(proc_->admin(), "/readyz").status, 200);
  auto m = http_get(proc_->admin(), "/metrics");
  EXPECT_EQ(m.status, 200);
  EXPECT_NE(m.body.find("sidecar_messages_in_total{topic=\"in\",handler=\"echo\"} 25"),
            std::string::npos)
      << m.body;
  EXPECT_NE(m.body.find("sidecar_messages_handled_total{topic=\"in\",handler=\"echo\"} 25"),
            std::string::npos);
  EXPECT_NE(m.body.find("sidecar_handler_duration_seconds_count{handler=\"echo\"}"),
            std::string::npos);
}

TEST_F(EchoPipeline, SigtermFinishesInFlightWorkAndExitsZero) {
  Dealer d(in());
  const int n = 2000;
  for (int i = 0; i < n; ++i) d.send({"in", "{\"n\":" + std::to_string(i) + "}"});
  // Wait for the first reply so the sidecar is mid-stream, then ask it to stop.
  auto first = d.receive();
  ASSERT_TRUE(first);
  ::kill(proc_->pid(), SIGTERM);
  // Each request gets one final answer: handled, or refused as never taken in (read off the
  // socket after the signal, never handed to the handler).
  int handled = 1, refused = 0;
  while (auto r = d.receive(3s)) {
    if (r->at(0) == "ok") {
      ++handled;
    } else {
      EXPECT_EQ(*r, (std::vector<std::string>{"error", "the sidecar is stopping: not handled"}));
      ++refused;
    }
  }
  EXPECT_LE(handled + refused, n);
  EXPECT_EQ(proc_->terminate(), 0) << proc_->log();
  EXPECT_NE(proc_->log().find("\"msg\":\"stopped\""), std::string::npos) << proc_->log();
}

TEST_F(EchoPipeline, PublishAndListenCommands) {
  std::map<std::string, std::string> env{{"SIDECAR_PLUGIN_DIR", build_dir() + "/plugins"},
                                         {"ADMIN_ADDR", "127.0.0.1:1"}};
  std::string cfg = proc_->config_path();
  RunResult listened;
  std::thread listener([&] {
    listened = run_sidecar({"listen", "-c", cfg, "echoed"}, env, std::chrono::seconds(4));
  });
  std::this_thread::sleep_for(1s);
  auto pub = run_sidecar({"publish", "-c", cfg, "in", R"({"via":"cli"})"}, env);
  listener.join();
  EXPECT_EQ(pub.exit_code, 0) << pub.err;
  EXPECT_EQ(pub.out, "ok: handled\n");
  EXPECT_NE(listened.out.find(R"({"via":"cli"})"), std::string::npos) << listened.err;
}
