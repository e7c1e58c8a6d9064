// Faults around the real `sidecar` binary over Apache Kafka: SIGKILL mid-stream and restart, a
// second member that leaves with SIGTERM, a broker stopped and started again. After each, every
// input message is in the output (at least once) and the group's offsets reach the end.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "kafka_fixture.hpp"

using namespace std::chrono_literals;

namespace sidecar::test::kafka {
namespace {

constexpr int kPartitions = 4;

// Waits until the topic holds at least `count` messages while `proc` runs.
bool wait_output(Client& client, const std::string& topic, std::int64_t count, SidecarProcess& proc,
                 std::chrono::milliseconds timeout) {
  return eventually(
             [&] {
               return !proc.running() || count_or_minus_one(client, topic, kPartitions) >= count;
             },
             timeout, 20ms) &&
         proc.running();
}

TEST_F(KafkaPipeline, KilledMidStreamAndRestartedEveryMessageComesOutAtLeastOnce) {
  constexpr int kMessages = 20'000;
  constexpr int kKills = 3;
  EchoSetup s = fresh_setup();
  s.librdkafka = quick_session();
  throttle(s, 1024, 50);
  client_->create_topic(s.in, kPartitions);
  client_->create_topic(s.out, kPartitions);
  client_->create_topic(s.dlq, 1);
  produce_orders(*client_, s.in, kMessages, 500);

  SidecarProcess proc(s.yaml());
  for (int kill = 1; kill <= kKills; ++kill) {
    proc.start();
    ASSERT_TRUE(proc.wait_ready()) << proc.log();
    // Mid-stream: some more output than before, not all of it.
    const std::int64_t target = std::int64_t{kMessages} * kill / (kKills + 2);
    ASSERT_TRUE(wait_output(*client_, s.out, target, proc, 60s)) << proc.log();
    proc.kill_hard();
    auto out = client_->total(s.out, kPartitions);
    auto committed = client_->committed(s.group, s.in, kPartitions);
    std::int64_t done = 0;
    for (auto c : committed) done += std::max<std::int64_t>(c, 0);
    fmt::print("kill {}: {} in the output, {} committed\n", kill, out, done);
    EXPECT_LT(done, kMessages) << "the sidecar finished before it was killed: slow it down";
  }
  proc.start();
  ASSERT_TRUE(proc.wait_ready()) << proc.log();
  std::string why;
  ASSERT_TRUE(wait_all_committed(*client_, s.group, s.in, kPartitions, 120s, why)) << why << "\n"
                                                                                   << proc.log();
  EXPECT_EQ(proc.terminate(), 0) << proc.log();

  long duplicates = expect_complete(*client_, s.out, kPartitions, kMessages);
  fmt::print("{} messages, {} duplicates after {} kills (at-least-once)\n", kMessages, duplicates,
             kKills);
  RecordProperty("duplicates", static_cast<int>(duplicates));
  EXPECT_GE(duplicates, 0);
  EXPECT_EQ(client_->total(s.dlq, 1), 0);
}

TEST_F(KafkaPipeline, ScaleOutSecondMemberLeavesWithSigtermTheOtherTakesOver) {
  constexpr int kMessages = 20'000;
  EchoSetup s = fresh_setup();
  s.librdkafka = quick_session();
  throttle(s, 1024, 50);
  client_->create_topic(s.in, kPartitions);
  client_->create_topic(s.out, kPartitions);
  client_->create_topic(s.dlq, 1);

  SidecarProcess a(s.yaml());
  SidecarProcess b(s.yaml());
  a.start();
  b.start();
  ASSERT_TRUE(a.wait_ready()) << a.log();
  ASSERT_TRUE(b.wait_ready()) << b.log();
  // Both in the group before the input exists, so both get partitions of it.
  std::pair<std::string, int> state;
  ASSERT_TRUE(eventually(
      [&] {
        state = client_->group_state(s.group);
        return state.first == "Stable" && state.second == 2;
      },
      60s, 200ms))
      << state.first << " with " << state.second << " members\n"
      << a.log();
  produce_orders(*client_, s.in, kMessages, 500);

  ASSERT_TRUE(wait_output(*client_, s.out, kMessages / 4, a, 60s)) << a.log();
  // Each member took a share of the input partitions.
  EXPECT_NE(a.log().find("assigned " + s.in + "["), std::string::npos) << a.log();
  EXPECT_NE(b.log().find("assigned " + s.in + "["), std::string::npos) << b.log();
  EXPECT_EQ(a.terminate(), 0) << a.log();
  EXPECT_NE(a.log().find("left the group"), std::string::npos) << a.log();
  auto at_leave = client_->total(s.out, kPartitions);
  fmt::print("member a left with {} messages in the output\n", at_leave);
  EXPECT_LT(at_leave, kMessages) << "the stream ended before a member left: slow it down";

  std::string why;
  ASSERT_TRUE(wait_all_committed(*client_, s.group, s.in, kPartitions, 120s, why)) << why << "\n"
                                                                                   << b.log();
  EXPECT_EQ(b.terminate(), 0) << b.log();

  long duplicates = expect_complete(*client_, s.out, kPartitions, kMessages);
  fmt::print("{} messages, {} duplicates after a member left with SIGTERM\n", kMessages,
             duplicates);
  RecordProperty("duplicates", static_cast<int>(duplicates));
  // A graceful leave finishes and commits what it took before it gives partitions up.
  EXPECT_EQ(duplicates, 0);
}

TEST_F(KafkaPipeline, BrokerStoppedMidStreamNothingLostAndConsumptionResumes) {
  constexpr int kMessages = 10'000;
  PrivateBroker broker;
  broker.start();
  Client client(broker.brokers());
  EchoSetup s = fresh_setup();
  throttle(s, 1024, 50);
  client.create_topic(s.in, kPartitions);
  client.create_topic(s.out, kPartitions);
  client.create_topic(s.dlq, 1);
  produce_orders(client, s.in, kMessages, 500);

  SidecarProcess proc(s.yaml(), {{"KAFKA_BROKERS", broker.brokers()}});
  proc.start();
  ASSERT_TRUE(proc.wait_ready()) << proc.log();
  ASSERT_TRUE(wait_output(client, s.out, kMessages / 5, proc, 60s)) << proc.log();

  broker.stop();
  EXPECT_TRUE(
      eventually([&] { return http_get(proc.admin(), "/readyz").status == 503; }, 30s, 100ms))
      << proc.log();
  EXPECT_TRUE(proc.running()) << proc.log();

  broker.start();
  EXPECT_TRUE(
      eventually([&] { return http_get(proc.admin(), "/readyz").status == 200; }, 60s, 100ms))
      << proc.log();
  std::string why;
  ASSERT_TRUE(wait_all_committed(client, s.group, s.in, kPartitions, 120s, why)) << why << "\n"
                                                                                 << proc.log();
  EXPECT_EQ(proc.terminate(), 0) << proc.log();

  long duplicates = expect_complete(client, s.out, kPartitions, kMessages);
  fmt::print("{} messages, {} duplicates after a broker restart\n", kMessages, duplicates);
  RecordProperty("duplicates", static_cast<int>(duplicates));
  EXPECT_EQ(client.total(s.dlq, 1), 0);
}

}  // namespace
}  // namespace sidecar::test::kafka
