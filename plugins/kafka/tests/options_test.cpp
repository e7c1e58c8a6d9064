// The declared options and the configurations made from them; no broker needed.
#include <gtest/gtest.h>

#include <algorithm>

#include "kafka_options.hpp"
#include "kafka_transport.hpp"
// testkit.hpp's Host::counter_add and gauge_set take a parameter `name` that shadows its member
// `name` (-Wshadow); silenced here until the SDK renames one of them.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"
#include "sidecar/option_parse.hpp"
#include "sidecar/testkit.hpp"
#pragma GCC diagnostic pop

namespace sidecar::kafka {
namespace {

Options with(std::map<std::string, OptionValue> given) {
  return testkit::Host::options_for(option_specs(), given);
}

TEST(KafkaOptions, DeclaresWhatTheIssueAsksFor) {
  auto specs = option_specs();
  auto find = [&](const std::string& name) {
    return std::find_if(specs.begin(), specs.end(), [&](const auto& s) { return s.name == name; });
  };
  for (const char* name : {"brokers", "group_id", "librdkafka", "commit_interval", "poll_timeout",
                           "revoke_timeout", "max_message_bytes", "client_id"}) {
    EXPECT_NE(find(name), specs.end()) << name;
  }
  EXPECT_TRUE(find("brokers")->required);
  EXPECT_EQ(find("librdkafka")->type, OptionType::map);
  EXPECT_EQ(find("commit_interval")->type, OptionType::duration);
  EXPECT_EQ(find("max_message_bytes")->default_value, "1048576");
  for (const auto& s : specs) EXPECT_FALSE(s.description.empty()) << s.name;
}

TEST(KafkaOptions, DefaultsApply) {
  KafkaSettings s = parse_settings(with({{"brokers", std::string("b:9092")}}));
  EXPECT_EQ(s.brokers, "b:9092");
  EXPECT_EQ(s.group_id, "sidecar");
  EXPECT_EQ(s.commit_interval, std::chrono::seconds(1));
  EXPECT_EQ(s.max_message_bytes, 1048576);
}

TEST(KafkaOptions, BadValuesAreRefusedNamingTheOption) {
  try {
    KafkaTransport t(
        with({{"brokers", std::string("b:9092")}, {"listen_offset_reset", std::string("middle")}}));
    FAIL() << "accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("listen_offset_reset"), std::string::npos);
  }
  EXPECT_THROW(KafkaTransport(with({{"brokers", std::string("")}})), std::invalid_argument);
  EXPECT_THROW(KafkaTransport(with({{"brokers", std::string("b:1")},
                                    {"commit_interval", std::chrono::milliseconds(0)}})),
               std::invalid_argument);
}

TEST(KafkaOptions, UnknownLibrdkafkaPropertyFailsStartNamingIt) {
  KafkaTransport t(
      with({{"brokers", std::string("127.0.0.1:1")},
            {"librdkafka", std::map<std::string, std::string>{{"no.such.property", "1"}}}}));
  testkit::Host host;
  TransportContext ctx;
  ctx.host = &host;
  Status st = t.start(ctx);
  ASSERT_FALSE(st);
  EXPECT_NE(st.message().find("no.such.property"), std::string::npos) << st.message();
}

TEST(KafkaOptions, SecretsAreRedacted) {
  EXPECT_TRUE(is_secret_key("sasl.password"));
  EXPECT_TRUE(is_secret_key("ssl.key.password"));
  EXPECT_TRUE(is_secret_key("sasl.oauthbearer.client.secret"));
  EXPECT_FALSE(is_secret_key("sasl.username"));
  std::string text = describe_properties({{"sasl.username", "me"}, {"sasl.password", "hunter2"}});
  EXPECT_NE(text.find("sasl.username=me"), std::string::npos);
  EXPECT_EQ(text.find("hunter2"), std::string::npos) << text;
}

TEST(KafkaOptions, AutoCommitCannotBeTurnedOn) {
  KafkaSettings s = parse_settings(with(
      {{"brokers", std::string("b:1")},
       {"librdkafka", std::map<std::string, std::string>{{"enable.auto.commit", "true"},
                                                         {"security.protocol", "plaintext"}}}}));
  ConfResult r = build_conf(s, ClientRole::group_consumer);
  ASSERT_TRUE(r.conf) << r.error;
  char value[64];
  size_t size = sizeof value;
  ASSERT_EQ(rd_kafka_conf_get(r.conf.get(), "enable.auto.commit", value, &size), RD_KAFKA_CONF_OK);
  EXPECT_STREQ(value, "false");
  size = sizeof value;
  ASSERT_EQ(rd_kafka_conf_get(r.conf.get(), "security.protocol", value, &size), RD_KAFKA_CONF_OK);
  EXPECT_STREQ(value, "plaintext");
  EXPECT_EQ(r.warnings.size(), 1u);
}

std::string conf_value(const ConfResult& r, const char* key) {
  char value[64];
  size_t size = sizeof value;
  if (rd_kafka_conf_get(r.conf.get(), key, value, &size) != RD_KAFKA_CONF_OK) return "<unset>";
  return value;
}

// The group consumer prefetches deeply unless told otherwise: librdkafka 2.0 re-checks a full
// queue only about once a second, so the default 100,000 starved a sidecar that had pushed back.
TEST(KafkaOptions, TheGroupConsumerPrefetchesDeeplyUnlessTold) {
  KafkaSettings plain = parse_settings(with({{"brokers", std::string("b:1")}}));
  ConfResult consumer = build_conf(plain, ClientRole::group_consumer);
  ASSERT_TRUE(consumer.conf) << consumer.error;
  EXPECT_EQ(conf_value(consumer, "queued.min.messages"), "1000000");
  ConfResult listener = build_conf(plain, ClientRole::listener);
  ASSERT_TRUE(listener.conf) << listener.error;
  EXPECT_EQ(conf_value(listener, "queued.min.messages"), "100000");

  KafkaSettings told = parse_settings(
      with({{"brokers", std::string("b:1")},
            {"librdkafka", std::map<std::string, std::string>{{"queued.min.messages", "5000"}}}}));
  ConfResult mine = build_conf(told, ClientRole::group_consumer);
  ASSERT_TRUE(mine.conf) << mine.error;
  EXPECT_EQ(conf_value(mine, "queued.min.messages"), "5000");
  EXPECT_TRUE(mine.warnings.empty());
}

// One `librdkafka` map serves every client: each takes only what librdkafka's table says is for
// its kind (so neither logs a CONFWARN at start); what is for both, and names librdkafka does
// not know, reach all of them.
TEST(KafkaOptions, EachClientTakesThePropertiesMeantForItsKind) {
  KafkaSettings s = parse_settings(
      with({{"brokers", std::string("b:1")},
            {"librdkafka", std::map<std::string, std::string>{{"queued.min.messages", "5000"},
                                                              {"linger.ms", "7"},
                                                              {"socket.timeout.ms", "12345"}}}}));
  ConfResult producer = build_conf(s, ClientRole::producer);
  ASSERT_TRUE(producer.conf) << producer.error;
  EXPECT_EQ(conf_value(producer, "linger.ms"), "7");
  EXPECT_EQ(conf_value(producer, "queued.min.messages"), "100000");  // librdkafka's default
  EXPECT_EQ(conf_value(producer, "socket.timeout.ms"), "12345");
  for (ClientRole role : {ClientRole::group_consumer, ClientRole::listener}) {
    ConfResult consumer = build_conf(s, role);
    ASSERT_TRUE(consumer.conf) << consumer.error;
    EXPECT_EQ(conf_value(consumer, "queued.min.messages"), "5000");
    EXPECT_EQ(conf_value(consumer, "linger.ms"), "5");  // librdkafka's default
    EXPECT_EQ(conf_value(consumer, "socket.timeout.ms"), "12345");
  }

  KafkaSettings bad = parse_settings(
      with({{"brokers", std::string("b:1")},
            {"librdkafka", std::map<std::string, std::string>{{"no.such.property", "1"}}}}));
  ConfResult refused = build_conf(bad, ClientRole::producer);
  EXPECT_FALSE(refused.conf);
  EXPECT_NE(refused.error.find("no.such.property"), std::string::npos) << refused.error;
}

}  // namespace
}  // namespace sidecar::kafka
