// The consumer group against a real broker: delivery, commits of only what is finished, pause,
// rebalance and stop.
#include <gtest/gtest.h>

#include <algorithm>
#include <future>
#include <set>
#include <thread>

#include "kafka_test_support.hpp"
#include "kafka_transport.hpp"

namespace sidecar::kafka::test {
namespace {

using namespace std::chrono_literals;

class ConsumeTest : public KafkaTest {
 protected:
  void SetUp() override {
    KafkaTest::SetUp();
    if (HasFatalFailure()) return;
    broker_ = std::make_unique<Broker>(brokers_);
    topic_ = unique("in");
    group_ = unique("group");
  }

  std::unique_ptr<KafkaTransport> make(std::map<std::string, OptionValue> given = {}) {
    given.emplace("group_id", group_);
    given.emplace("commit_interval", std::chrono::milliseconds(100));
    return std::make_unique<KafkaTransport>(options(std::move(given)));
  }

  Status start(KafkaTransport& t, RecordingSink& sink) {
    TransportContext ctx;
    ctx.host = &host_;
    ctx.sink = &sink;
    ctx.topics = {topic_};
    return t.start(ctx);
  }

  Host host_;
  std::unique_ptr<Broker> broker_;
  std::string topic_;
  std::string group_;
};

TEST_F(ConsumeTest, DeliversMessagesAndCommitsAckedOffsets) {
  ASSERT_NO_FATAL_FAILURE(broker_->create_topic(topic_, 1));
  for (int i = 0; i < 3; ++i) {
    broker_->produce(topic_, "k" + std::to_string(i), "payload " + std::to_string(i),
                     {{"trace", "t" + std::to_string(i)}});
  }
  auto t = make();
  RecordingSink sink;
  ASSERT_TRUE(start(*t, sink));
  ASSERT_TRUE(sink.wait_for(3, 30s)) << "delivered " << sink.size();

  auto msgs = sink.messages();
  std::set<std::uint64_t> tags;
  for (int i = 0; i < 3; ++i) {
    const Message& m = msgs[static_cast<std::size_t>(i)];
    EXPECT_EQ(m.topic, topic_);
    EXPECT_EQ(m.key, "k" + std::to_string(i));
    EXPECT_EQ(m.payload, "payload " + std::to_string(i));
    EXPECT_EQ(m.id, topic_ + "/0@" + std::to_string(i));
    EXPECT_EQ(m.header("trace"), "t" + std::to_string(i));
    EXPECT_EQ(m.header("kafka.partition"), "0");
    EXPECT_EQ(m.header("kafka.offset"), std::to_string(i));
    EXPECT_FALSE(m.header("kafka.tombstone"));
    EXPECT_NE(m.delivery_tag, 0u);
    tags.insert(m.delivery_tag);
  }
  EXPECT_EQ(tags.size(), 3u) << "delivery tags must be distinct";
  EXPECT_EQ(broker_->committed(group_, topic_, 0), -1) << "nothing is committed before an ack";

  for (const auto& m : msgs) t->ack(m, {"ok", "", std::nullopt});
  EXPECT_EQ(broker_->wait_committed(group_, topic_, 0, 3, 10s), 3);
  t->stop();
}

TEST_F(ConsumeTest, OutOfOrderAcksCommitOnlyTheFinishedPrefix) {
  ASSERT_NO_FATAL_FAILURE(broker_->create_topic(topic_, 1));
  for (int i = 0; i < 5; ++i) broker_->produce(topic_, "k", "m" + std::to_string(i));
  auto t = make();
  RecordingSink sink;
  ASSERT_TRUE(start(*t, sink));
  ASSERT_TRUE(sink.wait_for(5, 30s));
  auto msgs = sink.messages();

  // Offset 2 is still being handled: 3 and 4 are done but must not be committed past it.
  for (int i : {4, 0, 3, 1}) t->ack(msgs[static_cast<std::size_t>(i)], {"ok", "", std::nullopt});
  EXPECT_EQ(broker_->wait_committed(group_, topic_, 0, 2, 10s), 2);
  std::this_thread::sleep_for(600ms);  // several commit intervals
  EXPECT_EQ(broker_->committed(group_, topic_, 0), 2);

  t->ack(msgs[2], {"ok", "", std::nullopt});
  EXPECT_EQ(broker_->wait_committed(group_, topic_, 0, 5, 10s), 5);
  t->stop();
}

TEST_F(ConsumeTest, TombstoneIsDeliveredWithAnEmptyPayload) {
  ASSERT_NO_FATAL_FAILURE(broker_->create_topic(topic_, 1));
  broker_->produce(topic_, "gone", std::nullopt);
  auto t = make();
  RecordingSink sink;
  ASSERT_TRUE(start(*t, sink));
  ASSERT_TRUE(sink.wait_for(1, 30s));
  auto m = sink.messages()[0];
  EXPECT_EQ(m.key, "gone");
  EXPECT_EQ(m.payload, "");
  EXPECT_EQ(m.header("kafka.tombstone"), "true");
  t->ack(m, {"dead-letter", "tombstone", std::nullopt});
  EXPECT_EQ(broker_->wait_committed(group_, topic_, 0, 1, 10s), 1);
  t->stop();
}

TEST_F(ConsumeTest, PauseStopsDeliveryAndResumeContinues) {
  ASSERT_NO_FATAL_FAILURE(broker_->create_topic(topic_, 1));
  broker_->produce(topic_, "k", "first");
  auto t = make();
  RecordingSink sink;
  ASSERT_TRUE(start(*t, sink));
  ASSERT_TRUE(sink.wait_for(1, 30s));

  t->pause();
  for (int i = 0; i < 3; ++i) broker_->produce(topic_, "k", "while paused");
  std::this_thread::sleep_for(2s);
  EXPECT_EQ(sink.size(), 1u) << "a paused transport delivered";

  t->resume();
  EXPECT_TRUE(sink.wait_for(4, 15s)) << "delivered after resume: " << sink.size();
  for (const auto& m : sink.messages()) t->ack(m, {"ok", "", std::nullopt});
  EXPECT_EQ(broker_->wait_committed(group_, topic_, 0, 4, 10s), 4);
  t->stop();
}

TEST_F(ConsumeTest, StopCommitsAndLeavesTheGroup) {
  ASSERT_NO_FATAL_FAILURE(broker_->create_topic(topic_, 4));
  std::map<std::int32_t, std::int64_t> produced;  // partition -> count
  for (int i = 0; i < 12; ++i) {
    auto [p, o] = broker_->produce(topic_, "key" + std::to_string(i), "m");
    produced[p] = std::max(produced[p], o + 1);
  }
  // No periodic commit: whatever is committed comes from stop().
  auto t = make({{"commit_interval", std::chrono::milliseconds(3'600'000)}});
  RecordingSink sink;
  ASSERT_TRUE(start(*t, sink));
  ASSERT_TRUE(sink.wait_for(12, 30s));
  for (const auto& m : sink.messages()) t->ack(m, {"ok", "", std::nullopt});
  EXPECT_EQ(broker_->group_state(group_).second, 1);

  t->stop();
  for (const auto& [p, count] : produced) {
    EXPECT_EQ(broker_->committed(group_, topic_, p), count) << "partition " << p;
  }
  auto [state, members] = broker_->group_state(group_);
  EXPECT_EQ(members, 0) << "state " << state;
  EXPECT_EQ(state, "Empty");
}

TEST_F(ConsumeTest, StopWaitsForInFlightMessages) {
  ASSERT_NO_FATAL_FAILURE(broker_->create_topic(topic_, 1));
  broker_->produce(topic_, "k", "a");
  broker_->produce(topic_, "k", "b");
  auto t = make({{"commit_interval", std::chrono::milliseconds(3'600'000)},
                 {"revoke_timeout", std::chrono::milliseconds(10'000)}});
  RecordingSink sink;
  ASSERT_TRUE(start(*t, sink));
  ASSERT_TRUE(sink.wait_for(2, 30s));
  auto msgs = sink.messages();
  // The host finishes its work while the transport is stopping.
  std::thread late([&] {
    std::this_thread::sleep_for(500ms);
    t->ack(msgs[1], {"ok", "", std::nullopt});
    std::this_thread::sleep_for(300ms);
    t->ack(msgs[0], {"ok", "", std::nullopt});
  });
  auto begin = std::chrono::steady_clock::now();
  t->stop();
  auto took = std::chrono::steady_clock::now() - begin;
  late.join();
  EXPECT_GE(took, 700ms) << "stop did not wait for the in-flight acks";
  EXPECT_LT(took, 10s);
  EXPECT_EQ(broker_->committed(group_, topic_, 0), 2);
}

TEST_F(ConsumeTest, RebalanceCommitsFinishedWorkBeforeGivingPartitionsUp) {
  ASSERT_NO_FATAL_FAILURE(broker_->create_topic(topic_, 4));
  std::map<std::int32_t, std::int64_t> produced;
  for (int i = 0; i < 16; ++i) {
    auto [p, o] = broker_->produce(topic_, "key" + std::to_string(i), "m");
    produced[p] = std::max(produced[p], o + 1);
  }
  auto never = std::chrono::milliseconds(3'600'000);
  auto first = make({{"commit_interval", never}});
  RecordingSink first_sink;
  ASSERT_TRUE(start(*first, first_sink));
  ASSERT_TRUE(first_sink.wait_for(16, 30s));
  for (const auto& m : first_sink.messages()) first->ack(m, {"ok", "", std::nullopt});

  // A second member joins: the first gives partitions up and must commit them first.
  auto second = make({{"commit_interval", never}});
  RecordingSink second_sink;
  ASSERT_TRUE(start(*second, second_sink));
  bool all = eventually(
      [&] {
        for (const auto& [p, count] : produced) {
          if (broker_->committed(group_, topic_, p) != count) return false;
        }
        return true;
      },
      30s, 250ms);
  EXPECT_TRUE(all) << "the rebalance did not commit the finished offsets";
  EXPECT_TRUE(eventually([&] { return broker_->group_state(group_).second == 2; }, 30s, 250ms));
  EXPECT_EQ(second_sink.size(), 0u) << "finished messages were delivered again";
  second->stop();
  first->stop();
}

// How many of the messages `sink` received carry `payload`.
std::size_t count_of(RecordingSink& sink, const std::string& payload) {
  auto msgs = sink.messages();
  return static_cast<std::size_t>(std::count_if(
      msgs.begin(), msgs.end(), [&](const Message& m) { return m.payload == payload; }));
}

// Heartbeats every 300 ms: a member learns of a rebalance within a second.
const std::map<std::string, std::string> kQuickHeartbeat{{"heartbeat.interval.ms", "300"}};

bool stable_with(Broker& broker, const std::string& group, int members) {
  return eventually(
      [&] {
        auto [state, n] = broker.group_state(group);
        return state == "Stable" && n == members;
      },
      30s, 100ms);
}

TEST_F(ConsumeTest, APartitionTakenAwayWhilePausedRunsAgainWhenItComesBack) {
  ASSERT_NO_FATAL_FAILURE(broker_->create_topic(topic_, 1));
  broker_->produce(topic_, "k", "in flight");
  auto a = make(
      {{"revoke_timeout", std::chrono::milliseconds(20'000)}, {"librdkafka", kQuickHeartbeat}});
  RecordingSink a_sink;
  ASSERT_TRUE(start(*a, a_sink));
  ASSERT_TRUE(a_sink.wait_for(1, 30s));
  const Message in_flight = a_sink.messages()[0];
  // Past the soft pause: the partition is paused in librdkafka.
  a->pause();
  std::this_thread::sleep_for(1500ms);

  auto b = make({{"librdkafka", kQuickHeartbeat}});
  RecordingSink b_sink;
  ASSERT_TRUE(start(*b, b_sink));
  // A's revoke waits for the message in flight; the host resumes meanwhile (its queue drains as
  // that revoke waits), then finishes the message.
  ASSERT_TRUE(eventually([&] { return broker_->group_state(group_).first == "PreparingRebalance"; },
                         30s, 50ms));
  std::this_thread::sleep_for(1500ms);  // several heartbeats: A is inside its revoke
  a->resume();
  a->ack(in_flight, {"ok", "", std::nullopt});
  ASSERT_TRUE(stable_with(*broker_, group_, 2));

  // B leaves: the partition is A's again, wherever it went meanwhile.
  b->stop();
  ASSERT_TRUE(stable_with(*broker_, group_, 1));
  broker_->produce(topic_, "k", "after");
  EXPECT_TRUE(eventually([&] { return count_of(a_sink, "after") == 1; }, 20s, 100ms))
      << "the partition came back paused: nothing delivered after the rebalance";
  for (const auto& m : a_sink.messages()) {
    if (m.payload == "after") a->ack(m, {"ok", "", std::nullopt});
  }
  EXPECT_EQ(broker_->wait_committed(group_, topic_, 0, 2, 10s), 2);
  a->stop();
}

TEST_F(ConsumeTest, MessagesHeldByAPauseAreDeliveredOnceWhenTheirPartitionComesBack) {
  ASSERT_NO_FATAL_FAILURE(broker_->create_topic(topic_, 1));
  broker_->produce(topic_, "k", "first");
  // A long poll: an idle member sits inside it, so the messages produced after the pause below
  // are polled by it and held, not handed over.
  auto a =
      make({{"poll_timeout", std::chrono::milliseconds(5'000)}, {"librdkafka", kQuickHeartbeat}});
  RecordingSink a_sink;
  ASSERT_TRUE(start(*a, a_sink));
  ASSERT_TRUE(a_sink.wait_for(1, 30s));
  a->ack(a_sink.messages()[0], {"ok", "", std::nullopt});
  EXPECT_EQ(broker_->wait_committed(group_, topic_, 0, 1, 10s), 1);

  a->pause();
  const std::vector<std::string> held{"held 1", "held 2", "held 3"};
  for (const auto& payload : held) broker_->produce(topic_, "k", payload);
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(a_sink.size(), 1u) << "a paused transport delivered";

  // A rebalance takes the partition away (the held messages are not acked, so it is committed at
  // 1), B leaves without acking what it may have got, and the partition is A's again.
  auto b =
      make({{"revoke_timeout", std::chrono::milliseconds(200)}, {"librdkafka", kQuickHeartbeat}});
  RecordingSink b_sink;
  ASSERT_TRUE(start(*b, b_sink));
  ASSERT_TRUE(stable_with(*broker_, group_, 2));
  b->stop();
  ASSERT_TRUE(stable_with(*broker_, group_, 1));

  a->resume();
  ASSERT_TRUE(eventually(
      [&] {
        return std::all_of(held.begin(), held.end(),
                           [&](const std::string& p) { return count_of(a_sink, p) >= 1; });
      },
      20s, 100ms))
      << "delivered: " << a_sink.size();
  std::this_thread::sleep_for(1s);  // a second copy would be right behind
  for (const auto& payload : held) {
    EXPECT_EQ(count_of(a_sink, payload), 1u) << payload << " was delivered more than once";
  }
  for (const auto& m : a_sink.messages()) {
    if (m.payload != "first") a->ack(m, {"ok", "", std::nullopt});
  }
  EXPECT_EQ(broker_->wait_committed(group_, topic_, 0, 4, 10s), 4);
  a->stop();
}

TEST_F(ConsumeTest, MissingTopicIsNamedAndConsumedOnceCreated) {
  auto t = make();
  RecordingSink sink;
  ASSERT_TRUE(start(*t, sink));
  bool named = eventually(
      [&] {
        auto logs = host_.log_lines();
        return std::any_of(logs.begin(), logs.end(), [&](const auto& line) {
          return line.level == LogLevel::warn && line.text.find(topic_) != std::string::npos;
        });
      },
      20s, 100ms);
  EXPECT_TRUE(named) << "no warning names the missing topic " << topic_;

  ASSERT_NO_FATAL_FAILURE(broker_->create_topic(topic_, 1));
  broker_->produce(topic_, "k", "late");
  ASSERT_TRUE(sink.wait_for(1, 40s)) << "the topic created after start was never consumed";
  t->ack(sink.messages()[0], {"ok", "", std::nullopt});
  EXPECT_EQ(broker_->wait_committed(group_, topic_, 0, 1, 10s), 1);
  t->stop();
}

TEST_F(ConsumeTest, ReportsConsumerLag) {
  ASSERT_NO_FATAL_FAILURE(broker_->create_topic(topic_, 1));
  broker_->produce(topic_, "k", "m");
  auto t = make();
  RecordingSink sink;
  ASSERT_TRUE(start(*t, sink));
  ASSERT_TRUE(sink.wait_for(1, 30s));
  EXPECT_TRUE(eventually([&] { return host_.gauges.count("sidecar_consumer_lag") == 1; }, 5s));
  t->ack(sink.messages()[0], {"ok", "", std::nullopt});
  t->stop();
}

TEST_F(ConsumeTest, RepliesToRequestsBeforeCommitting) {
  ASSERT_NO_FATAL_FAILURE(broker_->create_topic(topic_, 1));
  std::string replies = unique("replies");
  ASSERT_NO_FATAL_FAILURE(broker_->create_topic(replies, 1));
  broker_->produce(topic_, "7", R"({"ids":[1]})",
                   {{"reply_to", replies}, {"correlation_id", "abc-1"}});
  auto t = make();
  RecordingSink sink;
  ASSERT_TRUE(start(*t, sink));
  ASSERT_TRUE(sink.wait_for(1, 30s));
  t->ack(sink.messages()[0], {"ok", "handled", std::string(R"({"products":[]})")});

  auto got = broker_->read_all(replies, 1, 20s);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].payload, R"({"products":[]})");
  EXPECT_EQ(got[0].key, "7");
  EXPECT_EQ(got[0].header("correlation_id"), "abc-1");
  EXPECT_EQ(got[0].header("status"), "ok");
  EXPECT_EQ(broker_->wait_committed(group_, topic_, 0, 1, 10s), 1);
  t->stop();
}

}  // namespace
}  // namespace sidecar::kafka::test
