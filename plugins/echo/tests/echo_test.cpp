#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "echo_handler.hpp"
#include "sidecar/testkit.hpp"

namespace {

using sidecar::Message;
using sidecar::OutcomeKind;
using sidecar::echo::EchoHandler;
using sidecar::testkit::Host;
using sidecar::testkit::message;

sidecar::Options options(std::map<std::string, sidecar::OptionValue> given) {
  return Host::options_for(EchoHandler::option_specs(), given);
}

TEST(Echo, DeclaresEveryOptionWithADescription) {
  auto specs = EchoHandler::option_specs();
  ASSERT_EQ(specs.size(), 3u);
  for (const auto& s : specs) {
    EXPECT_FALSE(s.description.empty()) << s.name;
    EXPECT_EQ(s.type, sidecar::OptionType::string) << s.name;
  }
  EXPECT_TRUE(specs[0].required);
  EXPECT_EQ(specs[0].name, "to");
}

TEST(Echo, RefusesAMissingTarget) {
  EXPECT_THROW(EchoHandler h(options({})), std::invalid_argument);
  EXPECT_THROW(EchoHandler h(options({{"to", std::string()}})), std::invalid_argument);
}

TEST(Echo, EmitsTheMessageToTheTargetTopic) {
  Host host;
  EchoHandler h(options({{"to", std::string("out")}}));
  ASSERT_TRUE(host.start(h));
  Message in = message("in", "order-7", R"({"a":1})");
  in.set_header("correlation_id", "c-1");

  auto outcomes = host.handle(h, {in});
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_EQ(outcomes[0].kind, OutcomeKind::handled);
  EXPECT_FALSE(outcomes[0].body.has_value());
  ASSERT_EQ(outcomes[0].emits.size(), 1u);
  const Message& out = outcomes[0].emits[0];
  EXPECT_EQ(out.topic, "out");
  EXPECT_EQ(out.key, "order-7");
  EXPECT_EQ(out.payload, R"({"a":1})");
  EXPECT_EQ(out.header("correlation_id"), "c-1");
  h.stop();
}

TEST(Echo, AnswersEveryMessageOfABatchInOrder) {
  Host host;
  EchoHandler h(options({{"to", std::string("out")}}));
  ASSERT_TRUE(host.start(h, 2, 16));
  std::vector<Message> batch;
  for (int i = 0; i < 10; ++i) batch.push_back(message("in", "k", std::to_string(i)));
  auto outcomes = host.handle(h, batch, 1);
  ASSERT_EQ(outcomes.size(), batch.size());
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    ASSERT_EQ(outcomes[i].emits.size(), 1u);
    EXPECT_EQ(outcomes[i].emits[0].payload, std::to_string(i));
  }
  EXPECT_TRUE(host.handle(h, {}).empty());
}

TEST(Echo, FailOnFailsOnlyThatMessage) {
  Host host;
  EchoHandler h(options({{"to", std::string("out")}, {"fail_on", std::string("boom")}}));
  ASSERT_TRUE(host.start(h));
  auto outcomes = host.handle(
      h, {message("in", "a", "fine"), message("in", "b", "boom"), message("in", "c", "fine")});
  ASSERT_EQ(outcomes.size(), 3u);
  EXPECT_EQ(outcomes[0].kind, OutcomeKind::handled);
  EXPECT_EQ(outcomes[1].kind, OutcomeKind::failed);
  EXPECT_NE(outcomes[1].reason.find("fail_on"), std::string::npos);
  EXPECT_TRUE(outcomes[1].emits.empty());
  EXPECT_EQ(outcomes[2].kind, OutcomeKind::handled);
}

TEST(Echo, ThrowOnIsCaughtAtTheBoundaryAndFailsOnlyThatMessage) {
  Host host;
  EchoHandler h(options({{"to", std::string("out")}, {"throw_on", std::string("kaboom")}}));
  ASSERT_TRUE(host.start(h));
  auto outcomes = host.handle(h, {message("in", "a", "kaboom"), message("in", "b", "fine")});
  ASSERT_EQ(outcomes.size(), 2u);
  EXPECT_EQ(outcomes[0].kind, OutcomeKind::failed);
  EXPECT_NE(outcomes[0].reason.find("throw_on"), std::string::npos);
  EXPECT_TRUE(outcomes[0].emits.empty());
  EXPECT_EQ(outcomes[1].kind, OutcomeKind::handled);
}

TEST(Echo, EmptyTestAidsNeverMatch) {
  Host host;
  EchoHandler h(options({{"to", std::string("out")}}));
  ASSERT_TRUE(host.start(h));
  auto outcomes = host.handle(h, {message("in", "k", "")});
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_EQ(outcomes[0].kind, OutcomeKind::handled);
  ASSERT_EQ(outcomes[0].emits.size(), 1u);
  EXPECT_EQ(outcomes[0].emits[0].payload, "");
}

}  // namespace
