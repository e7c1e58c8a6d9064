// The server side against real DEALER, REQ and SUB sockets.
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "test_support.hpp"

namespace {

using namespace zmqtest;
using sidecar::Message;
using sidecar::Reply;
using sidecar::Status;
using sidecar::zeromq::ZeromqTransport;

class ZeromqServer : public ::testing::Test {
 protected:
  void SetUp() override { start({"orders", "products"}); }
  void TearDown() override {
    if (transport) transport->stop();
  }

  void start(std::vector<std::string> topics,
             std::map<std::string, sidecar::OptionValue> extra = {}) {
    extra.emplace("bind_in", dir.endpoint("in"));
    extra.emplace("bind_out", dir.endpoint("out"));
    transport = std::make_unique<ZeromqTransport>(transport_options(extra));
    ASSERT_TRUE(transport->start({&host, &sink, std::move(topics)}));
  }

  zmq::socket_t dealer() { return client(zctx, zmq::socket_type::dealer, dir.endpoint("in")); }
  zmq::socket_t req() { return client(zctx, zmq::socket_type::req, dir.endpoint("in")); }

  // Sends one request and returns what was delivered for it.
  Message deliver_one(zmq::socket_t& socket, const std::string& payload) {
    std::size_t before = sink.size();
    send_frames(socket, {"orders", payload});
    EXPECT_TRUE(sink.wait_for(before + 1));
    return sink.at(before);
  }

  TempDir dir;
  sidecar::testkit::Host host;
  RecordingSink sink;
  zmq::context_t zctx;
  std::unique_ptr<ZeromqTransport> transport;
};

TEST_F(ZeromqServer, DealerGetsItsReplyOnlyAfterTheAck) {
  auto d = dealer();
  Message msg = deliver_one(d, R"({"order_id":1})");
  EXPECT_EQ(msg.topic, "orders");
  EXPECT_EQ(msg.payload, R"({"order_id":1})");
  EXPECT_TRUE(msg.key.empty());
  EXPECT_EQ(msg.id.rfind("zmq-", 0), 0u) << msg.id;
  EXPECT_NE(msg.delivery_tag, 0u);

  EXPECT_FALSE(recv_frames(d, 100ms)) << "a reply before the ack";
  std::thread acker([&] { transport->ack(msg, Reply{"ok", "handled", std::nullopt}); });
  acker.join();
  EXPECT_EQ(recv_frames(d), (Frames{"ok", "handled"}));
}

TEST_F(ZeromqServer, ReqGetsItsReplyWithTheDelimiterEchoed) {
  auto r = req();
  Message msg = deliver_one(r, "p");
  transport->ack(msg, Reply{"duplicate", "seen", std::nullopt});
  // A REQ socket drops a reply without its delimiter, so receiving it proves the echo.
  EXPECT_EQ(recv_frames(r), (Frames{"duplicate", "seen"}));
}

TEST_F(ZeromqServer, ABodyMakesAThreeFrameReply) {
  auto d = dealer();
  auto r = req();
  Message a = deliver_one(d, "{}");
  Message b = deliver_one(r, "{}");
  transport->ack(a, Reply{"ok", "", R"({"products":[]})"});
  transport->ack(b, Reply{"ok", "", R"({"products":[1]})"});
  EXPECT_EQ(recv_frames(d), (Frames{"ok", "", R"({"products":[]})"}));
  EXPECT_EQ(recv_frames(r), (Frames{"ok", "", R"({"products":[1]})"}));
}

TEST_F(ZeromqServer, WrongNumberOfFramesIsAnErrorAndNeverDelivered) {
  auto d = dealer();
  send_frames(d, {"orders"});
  auto one = recv_frames(d);
  ASSERT_TRUE(one);
  ASSERT_EQ(one->size(), 2u);
  EXPECT_EQ((*one)[0], "error");
  EXPECT_NE((*one)[1].find("got 1"), std::string::npos) << (*one)[1];

  send_frames(d, {"orders", "p", "extra"});
  auto three = recv_frames(d);
  ASSERT_TRUE(three);
  EXPECT_EQ((*three)[0], "error");
  EXPECT_NE((*three)[1].find("got 3"), std::string::npos) << (*three)[1];

  send_frames(d, {"orders", "p", "x", "y", "z"});
  auto five = recv_frames(d);
  ASSERT_TRUE(five);
  EXPECT_EQ((*five)[0], "error");

  auto r = req();
  send_frames(r, {"orders"});
  auto from_req = recv_frames(r);
  ASSERT_TRUE(from_req);
  EXPECT_EQ((*from_req)[0], "error");

  EXPECT_EQ(sink.size(), 0u);
  transport->stop();  // the testkit's counters may be read once the I/O thread is joined
  EXPECT_EQ(host.counters["sidecar_zeromq_invalid_requests_total"], 4);
}

TEST_F(ZeromqServer, EmptyTopicIsAnError) {
  auto r = req();
  send_frames(r, {"", "p"});
  EXPECT_EQ(recv_frames(r), (Frames{"error", "empty topic"}));

  // A DEALER speaking REQ's envelope: delimiter, then an empty topic.
  auto d = dealer();
  send_frames(d, {"", "", "p"});
  EXPECT_EQ(recv_frames(d), (Frames{"", "error", "empty topic"}));
  EXPECT_EQ(sink.size(), 0u);
}

TEST_F(ZeromqServer, UnroutedTopicIsAnError) {
  auto d = dealer();
  send_frames(d, {"payments", "p"});
  auto reply = recv_frames(d);
  ASSERT_TRUE(reply);
  ASSERT_EQ(reply->size(), 2u);
  EXPECT_EQ((*reply)[0], "error");
  EXPECT_NE((*reply)[1].find("'payments'"), std::string::npos) << (*reply)[1];
  EXPECT_EQ(sink.size(), 0u);
}

TEST_F(ZeromqServer, RepliesReachTheRightClientsUnderLoad) {
  constexpr int kClients = 4;
  constexpr int kEach = 500;
  // Acks come from another thread, in batches, as the bus's workers would send them.
  std::mutex mu;
  std::vector<Message> pending;
  std::atomic<bool> done{false};
  sink.set_on_deliver([&](const Message& m) {
    std::lock_guard lock(mu);
    pending.push_back(m);
  });
  std::thread acker([&] {
    while (!done) {
      std::vector<Message> batch;
      {
        std::lock_guard lock(mu);
        batch.swap(pending);
      }
      for (const auto& m : batch) transport->ack(m, Reply{"ok", m.payload, std::nullopt});
      std::this_thread::sleep_for(1ms);
    }
  });

  std::vector<zmq::socket_t> clients;
  for (int c = 0; c < kClients; ++c) clients.push_back(dealer());
  for (int i = 0; i < kEach; ++i) {
    for (int c = 0; c < kClients; ++c) {
      send_frames(clients[c], {"orders", std::to_string(c) + ":" + std::to_string(i)});
    }
  }
  for (int c = 0; c < kClients; ++c) {
    std::set<std::string> details;
    for (int i = 0; i < kEach; ++i) {
      auto reply = recv_frames(clients[c]);
      ASSERT_TRUE(reply) << "client " << c << " reply " << i;
      ASSERT_EQ(reply->size(), 2u);
      EXPECT_EQ((*reply)[1].rfind(std::to_string(c) + ":", 0), 0u) << (*reply)[1];
      details.insert((*reply)[1]);
    }
    EXPECT_EQ(details.size(), static_cast<std::size_t>(kEach));
  }
  done = true;
  acker.join();

  std::set<std::string> ids;
  for (std::size_t i = 0; i < sink.size(); ++i) ids.insert(sink.at(i).id);
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(kClients * kEach));
}

TEST_F(ZeromqServer, AnAckFromInsideDeliverIsAnswered) {
  sink.set_on_deliver([&](const Message& m) { transport->ack(m, Reply{"ok", "inline", {}}); });
  auto d = dealer();
  send_frames(d, {"orders", "p"});
  EXPECT_EQ(recv_frames(d), (Frames{"ok", "inline"}));
}

TEST_F(ZeromqServer, ARepeatedOrUnknownAckIsIgnored) {
  auto d = dealer();
  Message msg = deliver_one(d, "p");
  transport->ack(msg, Reply{"ok", "first", std::nullopt});
  transport->ack(msg, Reply{"ok", "second", std::nullopt});
  Message stranger = msg;
  stranger.delivery_tag = 0x1234'0000'0007ull;
  transport->ack(stranger, Reply{"ok", "stranger", std::nullopt});
  EXPECT_EQ(recv_frames(d), (Frames{"ok", "first"}));
  EXPECT_FALSE(recv_frames(d, 200ms));
  transport->stop();  // every queued ack is handled before the I/O thread ends
  int warnings = 0;
  for (const auto& line : host.logs) {
    if (line.level == sidecar::LogLevel::warn &&
        line.text.find("unknown or already answered") != std::string::npos) {
      ++warnings;
    }
  }
  EXPECT_EQ(warnings, 2);
}

TEST_F(ZeromqServer, PublishReachesASubscriber) {
  auto sub = client(zctx, zmq::socket_type::sub, dir.endpoint("out"));
  sub.set(zmq::sockopt::subscribe, "inventory");
  std::atomic<int> confirmed{0};
  std::atomic<int> failed{0};
  // A new subscription takes a moment to reach the PUB: keep publishing until one arrives.
  std::optional<Frames> got;
  for (int i = 0; i < 200 && !got; ++i) {
    Message event;
    event.topic = "inventory";
    event.payload = R"({"status":"CREATED"})";
    transport->publish(std::move(event), [&](const Status& s) { ++(s ? confirmed : failed); });
    got = recv_frames(sub, 20ms);
  }
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, (Frames{"inventory", R"({"status":"CREATED"})"}));
  EXPECT_TRUE(eventually([&] { return confirmed > 0; }));
  EXPECT_EQ(failed, 0);
}

TEST_F(ZeromqServer, PublishIsRefusedWhenStoppedOrWithoutATopic) {
  std::optional<Status> no_topic;
  transport->publish(Message{}, [&](const Status& s) { no_topic = s; });
  ASSERT_TRUE(no_topic);
  EXPECT_FALSE(*no_topic);

  transport->stop();
  std::optional<Status> after_stop;
  Message event;
  event.topic = "inventory";
  transport->publish(event, [&](const Status& s) { after_stop = s; });
  ASSERT_TRUE(after_stop);
  EXPECT_FALSE(*after_stop);
  transport->publish(event, nullptr);  // no callback: nothing to call, nothing to crash
}

TEST_F(ZeromqServer, PauseStopsDeliveryAndResumeContinuesWhileRepliesFlow) {
  auto d = dealer();
  Message first = deliver_one(d, "first");

  transport->pause();
  send_frames(d, {"orders", "second"});
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(sink.size(), 1u) << "delivered while paused";

  // Replies and events still go out while paused.
  transport->ack(first, Reply{"ok", "first", std::nullopt});
  EXPECT_EQ(recv_frames(d), (Frames{"ok", "first"}));
  Confirmations confirmations;
  Message event;
  event.topic = "inventory";
  transport->publish(event, confirmations.callback());
  auto published = confirmations.wait(1);
  ASSERT_TRUE(published);
  EXPECT_TRUE(*published) << published->message();

  transport->resume();
  ASSERT_TRUE(sink.wait_for(2));
  Message second = sink.at(1);
  EXPECT_EQ(second.payload, "second");
  transport->ack(second, Reply{"ok", "second", std::nullopt});
  EXPECT_EQ(recv_frames(d), (Frames{"ok", "second"}));
}

TEST_F(ZeromqServer, PauseFromInsideDeliverStopsReadingAfterTheBurst) {
  // A burst is delivered whole (InboundSink::deliver_burst); a pause from inside it stops the
  // reads that would follow.
  sink.set_on_deliver([&](const Message&) { transport->pause(); });
  auto d = dealer();
  send_frames(d, {"orders", "first"});
  ASSERT_TRUE(sink.wait_for(1));
  for (int i = 0; i < 19; ++i) send_frames(d, {"orders", std::to_string(i)});
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(sink.size(), 1u);
  sink.set_on_deliver(nullptr);
  transport->resume();
  EXPECT_TRUE(sink.wait_for(20));
}

TEST_F(ZeromqServer, StopDoesNotWaitForRequestsNeverDelivered) {
  // Paused: requests still in ZeroMQ's queue were never read, so the host never saw them and
  // never acks them; stop does not wait for them, and they get no answer at all.
  sink.set_on_deliver([&](const Message&) { transport->pause(); });
  auto d = dealer();
  send_frames(d, {"orders", "first"});
  ASSERT_TRUE(sink.wait_for(1));
  for (int i = 0; i < 19; ++i) send_frames(d, {"orders", std::to_string(i)});
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(sink.size(), 1u);
  transport->ack(sink.at(0), Reply{"ok", "first", std::nullopt});
  auto began = std::chrono::steady_clock::now();
  transport->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - began, 800ms);  // linger is 1s
  EXPECT_EQ(recv_frames(d), (Frames{"ok", "first"}));
  int answered = 0;
  while (auto reply = recv_frames(d, 200ms)) {
    EXPECT_EQ(*reply, (Frames{"error", "the sidecar is stopping: not handled"}));
    ++answered;
  }
  EXPECT_EQ(answered, 0);
}

TEST_F(ZeromqServer, ReadyWhileRunningAndStopIsIdempotent) {
  EXPECT_TRUE(transport->ready());
  transport->stop();
  EXPECT_FALSE(transport->ready());
  transport->stop();
  EXPECT_FALSE(transport->ready());
  // The endpoints are free again: a stopped transport can start anew.
  RecordingSink other;
  ASSERT_TRUE(transport->start({&host, &other, {"orders"}}));
  EXPECT_TRUE(transport->ready());
  auto d = dealer();
  send_frames(d, {"orders", "again"});
  ASSERT_TRUE(other.wait_for(1));
  transport->ack(other.at(0), Reply{"ok", "again", std::nullopt});
  EXPECT_EQ(recv_frames(d), (Frames{"ok", "again"}));
}

TEST_F(ZeromqServer, StartTwiceOrWithoutASinkIsRefused) {
  Status again = transport->start({&host, &sink, {"orders"}});
  EXPECT_FALSE(again);
  ZeromqTransport other(
      transport_options({{"bind_in", dir.endpoint("in2")}, {"bind_out", dir.endpoint("out2")}}));
  EXPECT_FALSE(other.start({&host, nullptr, {"orders"}}));
}

TEST_F(ZeromqServer, ABusyEndpointIsReportedByStart) {
  // Another instance on the same tcp port: the second bind must fail, naming the endpoint.
  int base = 47000 + static_cast<int>(::getpid() % 400) * 2;
  std::unique_ptr<ZeromqTransport> first;
  std::string in;
  for (int attempt = 0; attempt < 50 && !first; ++attempt) {
    in = "tcp://127.0.0.1:" + std::to_string(base + attempt * 2);
    auto t = std::make_unique<ZeromqTransport>(
        transport_options({{"bind_in", in}, {"bind_out", dir.endpoint("busy-out")}}));
    if (t->start({&host, &sink, {"orders"}})) first = std::move(t);
  }
  ASSERT_TRUE(first);
  ZeromqTransport second(
      transport_options({{"bind_in", in}, {"bind_out", dir.endpoint("busy-out2")}}));
  Status st = second.start({&host, &sink, {"orders"}});
  EXPECT_FALSE(st);
  EXPECT_NE(st.message().find(in), std::string::npos) << st.message();
  EXPECT_FALSE(second.ready());
  second.stop();
  second.stop();
}

TEST(ZeromqLifecycle, StopWithoutStartIsSafe) {
  TempDir dir;
  ZeromqTransport t(
      transport_options({{"bind_in", dir.endpoint("in")}, {"bind_out", dir.endpoint("out")}}));
  EXPECT_FALSE(t.ready());
  t.stop();
  t.stop();
  t.pause();
  t.resume();
  Message m;
  m.delivery_tag = 1;
  t.ack(m, Reply{"ok", "", std::nullopt});  // dropped, not crashed
}

TEST_F(ZeromqServer, StopWaitsForRepliesStillOwed) {
  auto d = dealer();
  Message msg = deliver_one(d, "late");
  std::thread late_ack([&] {
    std::this_thread::sleep_for(200ms);
    transport->ack(msg, Reply{"ok", "late", std::nullopt});
  });
  auto began = std::chrono::steady_clock::now();
  transport->stop();
  auto took = std::chrono::steady_clock::now() - began;
  late_ack.join();
  EXPECT_EQ(recv_frames(d), (Frames{"ok", "late"}));
  EXPECT_GE(took, 150ms);
  EXPECT_LT(took, 1500ms);
}

TEST_F(ZeromqServer, StopGivesUpOnUnansweredRequestsAfterLinger) {
  transport->stop();
  start({"orders"}, {{"linger", std::chrono::milliseconds(200)}});
  auto d = dealer();
  deliver_one(d, "never acked");
  auto began = std::chrono::steady_clock::now();
  transport->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - began, 1500ms);
  bool warned = false;
  for (const auto& line : host.logs) {
    warned |= line.text.find("unanswered") != std::string::npos;
  }
  EXPECT_TRUE(warned);
}

TEST_F(ZeromqServer, StopFromAPublishCallbackDoesNotDeadlock) {
  std::atomic<bool> called{false};
  Message event;
  event.topic = "inventory";
  transport->publish(event, [&](const Status&) {
    transport->stop();  // runs on the I/O thread
    called = true;
  });
  ASSERT_TRUE(eventually([&] { return called.load(); }));
  EXPECT_TRUE(eventually([&] { return !transport->ready(); }));
  // start() reaps the thread that wound down by itself, and the transport runs again.
  ASSERT_TRUE(transport->start({&host, &sink, {"orders"}}));
  auto d = dealer();
  Message msg = deliver_one(d, "after restart");
  transport->ack(msg, Reply{"ok", "again", std::nullopt});
  EXPECT_EQ(recv_frames(d), (Frames{"ok", "again"}));
}

TEST_F(ZeromqServer, StartFromTheIoThreadIsRefused) {
  std::optional<Status> started;
  std::mutex mu;
  Message event;
  event.topic = "inventory";
  transport->publish(event, [&](const Status&) {
    Status st = transport->start({&host, &sink, {"orders"}});
    std::lock_guard lock(mu);
    started = st;
  });
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(mu);
    return started.has_value();
  }));
  std::lock_guard lock(mu);
  EXPECT_FALSE(*started);
  EXPECT_TRUE(transport->ready());
}

}  // namespace
