// The producer and the client side against a real broker: delivery reports, keys and headers,
// a missing topic, request/reply, listen, and readiness.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

#include "kafka_test_support.hpp"
#include "kafka_transport.hpp"

namespace sidecar::kafka::test {
namespace {

using namespace std::chrono_literals;

class ProduceTest : public KafkaTest {
 protected:
  void SetUp() override {
    KafkaTest::SetUp();
    if (HasFatalFailure()) return;
    broker_ = std::make_unique<Broker>(brokers_);
  }

  // Started with no inbound topics: a producer only.
  Status start(KafkaTransport& t) {
    TransportContext ctx;
    ctx.host = &host_;
    return t.start(ctx);
  }

  static Status publish(KafkaTransport& t, Message m) {
    auto done = std::make_shared<std::promise<Status>>();
    auto result = done->get_future();
    std::atomic<int> calls{0};
    t.publish(std::move(m), [done, &calls](const Status& st) {
      if (++calls == 1) done->set_value(st);
    });
    if (result.wait_for(30s) != std::future_status::ready) return Status::error("no callback");
    Status st = result.get();
    std::this_thread::sleep_for(50ms);
    EXPECT_EQ(calls.load(), 1) << "the publish callback must be called exactly once";
    return st;
  }

  Host host_;
  std::unique_ptr<Broker> broker_;
};

TEST_F(ProduceTest, PublishIsConfirmedAndReadableWithKeyAndHeaders) {
  std::string topic = unique("out");
  ASSERT_NO_FATAL_FAILURE(broker_->create_topic(topic, 2));
  KafkaTransport t(options());
  ASSERT_TRUE(start(t));
  Message m = testkit::message(topic, "111", R"({"order_id":111,"status":"CREATED"})");
  m.headers = {{"source", "order"}, {"empty", ""}, {"bytes", std::string("\xff\x00\x01", 3)}};
  Status st = publish(t, m);
  ASSERT_TRUE(st) << st.message();

  auto got = broker_->read_all(topic, 1, 20s);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].key, "111");
  EXPECT_EQ(got[0].payload, m.payload);
  EXPECT_EQ(got[0].header("source"), "order");
  EXPECT_EQ(got[0].header("empty"), "");
  EXPECT_EQ(got[0].header("bytes"), std::string("\xff\x00\x01", 3));
  t.stop();
}

TEST_F(ProduceTest, TheConsumedRecordsKafkaHeadersAreWrittenOnlyOnDeadLetters) {
  std::string topic = unique("out");
  ASSERT_NO_FATAL_FAILURE(broker_->create_topic(topic, 1));
  KafkaTransport t(options());
  ASSERT_TRUE(start(t));
  // As a handler passes on what it consumed: the transport's kafka.* headers of the input.
  Message m = testkit::message(topic, "1", "passed on");
  m.headers = {{"trace", "t1"}, {"kafka.offset", "999"}, {"kafka.note", "of the input"}};
  ASSERT_TRUE(publish(t, m));
  Message dl = m;
  dl.key = "2";
  dl.set_header("sidecar.dlq.reason", "bad_json");
  ASSERT_TRUE(publish(t, dl));

  auto got = broker_->read_all(topic, 2, 20s);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].header("trace"), "t1");
  EXPECT_FALSE(got[0].header("kafka.note"));
  // A dead letter keeps them: they are its context.
  EXPECT_EQ(got[1].header("kafka.note"), "of the input");
  EXPECT_EQ(got[1].header("sidecar.dlq.reason"), "bad_json");
  t.stop();
}

TEST_F(ProduceTest, PublishToAMissingTopicNamesIt) {
  std::string topic = unique("missing");
  // Like a production cluster: no auto-creation, and a quick answer for the test.
  KafkaTransport t(options({{"librdkafka", std::map<std::string, std::string>{
                                               {"allow.auto.create.topics", "false"},
                                               {"topic.metadata.propagation.max.ms", "1000"},
                                               {"message.timeout.ms", "10000"}}}}));
  ASSERT_TRUE(start(t));
  Message m;
  m.topic = topic;
  m.payload = "x";
  Status st = publish(t, m);
  ASSERT_FALSE(st);
  EXPECT_NE(st.message().find(topic), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("does not exist"), std::string::npos) << st.message();
  t.stop();
}

TEST_F(ProduceTest, PublishAfterStopFailsThroughTheCallback) {
  KafkaTransport t(options());
  ASSERT_TRUE(start(t));
  t.stop();
  t.stop();  // twice is fine
  Message m;
  m.topic = unique("after-stop");
  m.payload = "x";
  // A stopped transport opens a client producer again; the message is still answered once.
  Status st = publish(t, m);
  EXPECT_TRUE(st) << st.message();
}

TEST_F(ProduceTest, RequestWithoutReplyToReportsTheDelivery) {
  std::string topic = unique("req");
  ASSERT_NO_FATAL_FAILURE(broker_->create_topic(topic, 1));
  KafkaTransport client(options());  // client side: start() is never called
  Message m = testkit::message(topic, "5", "{}");
  Reply r = client.request(m, 30s);
  EXPECT_EQ(r.status, "ok") << r.detail;
  EXPECT_EQ(r.detail, "delivered to " + topic + " [0] at offset 0");
  EXPECT_FALSE(r.body);
}

TEST_F(ProduceTest, RequestWithReplyToGetsItsReply) {
  std::string requests = unique("products");
  std::string replies = unique("products-replies");
  ASSERT_NO_FATAL_FAILURE(broker_->create_topic(requests, 2));

  // The serving side: answers every request with a body, as a query route does.
  KafkaTransport server(options(
      {{"group_id", unique("server")}, {"commit_interval", std::chrono::milliseconds(100)}}));
  RecordingSink sink;
  sink.on_deliver = [&](const Message& m) {
    server.ack(m, {"ok", "handled", "reply to " + m.payload});
  };
  TransportContext ctx;
  ctx.host = &host_;
  ctx.sink = &sink;
  ctx.topics = {requests};
  ASSERT_TRUE(server.start(ctx));

  KafkaTransport client(options());
  Message m = testkit::message(requests, "9", R"({"ids":[1,2]})");
  m.set_header("reply_to", replies);
  m.set_header("correlation_id", "corr-42");
  Reply r = client.request(m, 60s);
  EXPECT_EQ(r.status, "ok") << r.detail;
  EXPECT_EQ(r.detail, "handled");
  ASSERT_TRUE(r.body);
  EXPECT_EQ(*r.body, R"(reply to {"ids":[1,2]})");

  auto got = broker_->read_all(replies, 1, 20s);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].header("correlation_id"), "corr-42");
  EXPECT_EQ(got[0].key, "9");
  server.stop();
}

TEST_F(ProduceTest, ListenPrintsNewMessages) {
  std::string topic = unique("listen");
  ASSERT_NO_FATAL_FAILURE(broker_->create_topic(topic, 2));
  KafkaTransport client(options());
  std::promise<Message> first;
  auto got = first.get_future();
  std::atomic<bool> stop{false};
  Status result;
  std::thread listener([&] {
    result = client.listen(
        topic,
        [&](const Message& m) {
          first.set_value(m);
          return false;  // one is enough
        },
        [&] { return stop.load(); });
  });
  // The listener starts at the end once it has joined: keep producing until it sees one.
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (got.wait_for(300ms) != std::future_status::ready &&
         std::chrono::steady_clock::now() < deadline) {
    broker_->produce(topic, "k", "hello");
  }
  stop = true;
  listener.join();
  EXPECT_TRUE(result) << result.message();
  ASSERT_EQ(got.wait_for(0s), std::future_status::ready) << "listen saw nothing";
  Message m = got.get();
  EXPECT_EQ(m.topic, topic);
  EXPECT_EQ(m.payload, "hello");
}

TEST_F(ProduceTest, ReadyOnceTheBrokerAnswers) {
  KafkaTransport t(options());
  EXPECT_FALSE(t.ready()) << "not started";
  ASSERT_TRUE(start(t));
  EXPECT_TRUE(eventually([&] { return t.ready(); }, 10s));
  t.stop();
  EXPECT_FALSE(t.ready());
}

// No broker needed below, but the suite is the Kafka one: they run with it.
TEST_F(ProduceTest, UnreachableBrokerDoesNotFailStart) {
  KafkaTransport t(testkit::Host::options_for(
      option_specs(), {{"brokers", std::string("127.0.0.1:1")},
                       {"revoke_timeout", std::chrono::milliseconds(1000)}}));
  RecordingSink sink;
  TransportContext ctx;
  ctx.host = &host_;
  ctx.sink = &sink;
  ctx.topics = {"order"};
  Status st = t.start(ctx);
  ASSERT_TRUE(st) << st.message();
  std::this_thread::sleep_for(1500ms);
  EXPECT_FALSE(t.ready());
  auto begin = std::chrono::steady_clock::now();
  t.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 15s);
}

}  // namespace
}  // namespace sidecar::kafka::test
