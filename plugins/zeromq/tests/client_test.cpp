// The client side (`sidecar publish` / `sidecar listen`) against a running server instance.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "test_support.hpp"

namespace {

using namespace zmqtest;
using sidecar::Message;
using sidecar::Reply;
using sidecar::Status;
using sidecar::zeromq::ZeromqTransport;

Message request_message(std::string topic, std::string payload) {
  Message m;
  m.topic = std::move(topic);
  m.payload = std::move(payload);
  return m;
}

class ZeromqClient : public ::testing::Test {
 protected:
  void SetUp() override {
    options = transport_options({{"bind_in", dir.endpoint("in")},
                                 {"bind_out", dir.endpoint("out")},
                                 {"request_timeout", std::chrono::milliseconds(300)}});
    server = std::make_unique<ZeromqTransport>(options);
    // The route answers every request the way a query handler would.
    sink.set_on_deliver([this](const Message& m) {
      server->ack(m, Reply{"ok", "handled " + m.topic, "body:" + m.payload});
    });
    ASSERT_TRUE(server->start({&host, &sink, {"products"}}));
    cli = std::make_unique<ZeromqTransport>(options);  // what the CLI makes: never started
  }
  void TearDown() override { server->stop(); }

  TempDir dir;
  sidecar::Options options;
  sidecar::testkit::Host host;
  RecordingSink sink;
  std::unique_ptr<ZeromqTransport> server;
  std::unique_ptr<ZeromqTransport> cli;
};

TEST_F(ZeromqClient, RequestReturnsTheReplyWithItsBody) {
  Reply r = cli->request(request_message("products", R"({"ids":[1]})"), 5s);
  EXPECT_EQ(r.status, "ok");
  EXPECT_EQ(r.detail, "handled products");
  EXPECT_EQ(r.body, std::optional<std::string>(R"(body:{"ids":[1]})"));
  ASSERT_EQ(sink.size(), 1u);
  EXPECT_EQ(sink.at(0).payload, R"({"ids":[1]})");
}

TEST_F(ZeromqClient, RequestsInARowEachGetTheirOwnReply) {
  for (int i = 0; i < 20; ++i) {
    Reply r = cli->request(request_message("products", std::to_string(i)), 5s);
    EXPECT_EQ(r.body, std::optional<std::string>("body:" + std::to_string(i)));
  }
}

TEST_F(ZeromqClient, RequestOnAnUnroutedTopicGetsTheServersError) {
  Reply r = cli->request(request_message("payments", "{}"), 5s);
  EXPECT_EQ(r.status, "error");
  EXPECT_NE(r.detail.find("payments"), std::string::npos) << r.detail;
  EXPECT_FALSE(r.body);
}

TEST_F(ZeromqClient, RequestWithoutATopicIsRefusedLocally) {
  Reply r = cli->request(request_message("", "{}"), 5s);
  EXPECT_EQ(r.status, "error");
  EXPECT_EQ(sink.size(), 0u);
}

TEST_F(ZeromqClient, RequestTimesOutWhenNobodyAnswers) {
  sink.set_on_deliver(nullptr);  // delivered, never acked
  auto began = std::chrono::steady_clock::now();
  Reply r = cli->request(request_message("products", "{}"), 200ms);
  auto took = std::chrono::steady_clock::now() - began;
  EXPECT_EQ(r.status, "error");
  EXPECT_NE(r.detail.find("no reply"), std::string::npos) << r.detail;
  EXPECT_GE(took, 190ms);
  EXPECT_LT(took, 2s);

  // Without a timeout from the caller, the request_timeout option (300ms here) applies.
  began = std::chrono::steady_clock::now();
  r = cli->request(request_message("products", "{}"), 0ms);
  took = std::chrono::steady_clock::now() - began;
  EXPECT_EQ(r.status, "error");
  EXPECT_GE(took, 290ms);
  EXPECT_LT(took, 2s);
}

TEST_F(ZeromqClient, RequestToNoServerTimesOut) {
  server->stop();
  Reply r = cli->request(request_message("products", "{}"), 200ms);
  EXPECT_EQ(r.status, "error");
}

TEST_F(ZeromqClient, ListenDeliversOnlyTheExactTopic) {
  std::vector<Message> got;
  std::atomic<bool> returned{false};
  Status result;
  std::thread listener([&] {
    result = cli->listen(
        "inventory",
        [&](const Message& m) {
          got.push_back(m);
          return false;  // one is enough
        },
        [] { return false; });
    returned = true;
  });
  // Keep publishing until the subscription has reached the PUB and listen() has returned. The
  // prefix-sharing topic goes first so the exact-match filter is exercised.
  for (int i = 0; i < 500 && !returned; ++i) {
    Message other;
    other.topic = "inventory-audit";
    other.payload = "not for you";
    server->publish(std::move(other), nullptr);
    Message event;
    event.topic = "inventory";
    event.payload = R"({"status":"CREATED"})";
    server->publish(std::move(event), nullptr);
    std::this_thread::sleep_for(10ms);
  }
  listener.join();
  EXPECT_TRUE(result) << result.message();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].topic, "inventory");
  EXPECT_EQ(got[0].payload, R"({"status":"CREATED"})");
  EXPECT_FALSE(got[0].id.empty());
}

TEST_F(ZeromqClient, ListenHonoursShouldStop) {
  auto began = std::chrono::steady_clock::now();
  Status st = cli->listen(
      "inventory", [](const Message&) { return true; },
      [&] { return std::chrono::steady_clock::now() - began > 250ms; });
  auto took = std::chrono::steady_clock::now() - began;
  EXPECT_TRUE(st) << st.message();
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 1s);
}

TEST_F(ZeromqClient, ListenWithoutATopicIsAnError) {
  EXPECT_FALSE(cli->listen(
      "", [](const Message&) { return true; }, [] { return true; }));
}

TEST_F(ZeromqClient, ACallbackThatThrowsBecomesAnError) {
  std::atomic<bool> returned{false};
  std::thread publisher([&] {
    for (int i = 0; i < 500 && !returned; ++i) {
      Message event;
      event.topic = "inventory";
      server->publish(std::move(event), nullptr);
      std::this_thread::sleep_for(10ms);
    }
  });
  auto began = std::chrono::steady_clock::now();
  Status st = cli->listen(
      "inventory", [](const Message&) -> bool { throw std::runtime_error("listener broke"); },
      [&] { return std::chrono::steady_clock::now() - began > 5s; });
  returned = true;
  publisher.join();
  EXPECT_FALSE(st);
  EXPECT_NE(st.message().find("listener broke"), std::string::npos) << st.message();
}

// A server bound on a tcp wildcard: the client derives 127.0.0.1 by itself.
TEST(ZeromqTcp, ClientConnectsToAWildcardBind) {
  sidecar::testkit::Host host;
  RecordingSink sink;
  std::unique_ptr<ZeromqTransport> server;
  sidecar::Options options;
  int base = 47800 + static_cast<int>(::getpid() % 90) * 2;
  for (int attempt = 0; attempt < 50 && !server; ++attempt) {
    int port = base + attempt * 2;
    options = transport_options({{"bind_in", "tcp://*:" + std::to_string(port)},
                                 {"bind_out", "tcp://0.0.0.0:" + std::to_string(port + 1)}});
    auto t = std::make_unique<ZeromqTransport>(options);
    if (t->start({&host, &sink, {"orders"}})) server = std::move(t);
  }
  ASSERT_TRUE(server) << "no free port pair";
  sink.set_on_deliver([&](const Message& m) { server->ack(m, Reply{"ok", "tcp", std::nullopt}); });

  ZeromqTransport cli(options);
  EXPECT_EQ(cli.options().connect_in.rfind("tcp://127.0.0.1:", 0), 0u);
  Reply r = cli.request(request_message("orders", "{}"), 5s);
  EXPECT_EQ(r.status, "ok");
  EXPECT_EQ(r.detail, "tcp");
  server->stop();
}

}  // namespace
