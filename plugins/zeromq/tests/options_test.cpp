// Declared options: good config builds, bad config is refused (Envoy's config_test).
#include <gtest/gtest.h>

#include <stdexcept>

#include "envelope_table.hpp"
#include "sidecar/option_parse.hpp"
#include "test_support.hpp"
#include "zeromq_options.hpp"

namespace {

using sidecar::zeromq::connect_endpoint_for;
using sidecar::zeromq::EnvelopeTable;
using sidecar::zeromq::ZeromqOptions;
using namespace std::chrono_literals;

ZeromqOptions parse(std::map<std::string, sidecar::OptionValue> given) {
  return ZeromqOptions::from(zmqtest::transport_options(given));
}

TEST(ZeromqOptions, EveryOptionIsDocumentedAndItsDefaultParses) {
  auto specs = ZeromqOptions::specs();
  EXPECT_EQ(specs.size(), 8u);
  for (const auto& s : specs) {
    EXPECT_FALSE(s.description.empty()) << s.name;
    EXPECT_FALSE(s.secret) << s.name;
    if (!s.default_value.empty()) {
      EXPECT_TRUE(sidecar::parse_scalar_option(s.type, s.default_value)) << s.name;
    }
  }
}

TEST(ZeromqOptions, DefaultsApply) {
  auto o =
      parse({{"bind_in", std::string("tcp://*:5555")}, {"bind_out", std::string("tcp://*:5556")}});
  EXPECT_EQ(o.connect_in, "tcp://127.0.0.1:5555");
  EXPECT_EQ(o.connect_out, "tcp://127.0.0.1:5556");
  EXPECT_EQ(o.sndhwm, 10000);
  EXPECT_EQ(o.rcvhwm, 10000);
  EXPECT_EQ(o.request_timeout, 5s);
  EXPECT_EQ(o.linger, 1s);
}

TEST(ZeromqOptions, ExplicitConnectEndpointsWin) {
  auto o = parse({{"bind_in", std::string("tcp://*:5555")},
                  {"bind_out", std::string("tcp://*:5556")},
                  {"connect_in", std::string("tcp://sidecar:5555")},
                  {"connect_out", std::string("tcp://sidecar:5556")},
                  {"sndhwm", std::int64_t{0}},
                  {"linger", std::chrono::milliseconds(0)}});
  EXPECT_EQ(o.connect_in, "tcp://sidecar:5555");
  EXPECT_EQ(o.connect_out, "tcp://sidecar:5556");
  EXPECT_EQ(o.sndhwm, 0);
  EXPECT_EQ(o.linger, 0ms);
}

TEST(ZeromqOptions, BadValuesAreRefused) {
  const std::string in = "tcp://*:5555", out = "tcp://*:5556";
  EXPECT_THROW(parse({{"bind_out", out}}), std::invalid_argument);
  EXPECT_THROW(parse({{"bind_in", in}}), std::invalid_argument);
  EXPECT_THROW(parse({{"bind_in", in}, {"bind_out", in}}), std::invalid_argument);
  EXPECT_THROW(parse({{"bind_in", in}, {"bind_out", out}, {"sndhwm", std::int64_t{-1}}}),
               std::invalid_argument);
  EXPECT_THROW(parse({{"bind_in", in}, {"bind_out", out}, {"rcvhwm", std::int64_t{1} << 40}}),
               std::invalid_argument);
  EXPECT_THROW(
      parse(
          {{"bind_in", in}, {"bind_out", out}, {"request_timeout", std::chrono::milliseconds(0)}}),
      std::invalid_argument);
  EXPECT_THROW(
      parse({{"bind_in", in}, {"bind_out", out}, {"linger", std::chrono::milliseconds(-1)}}),
      std::invalid_argument);
}

TEST(ZeromqOptions, TheTransportConstructorRefusesBadOptions) {
  EXPECT_THROW(sidecar::zeromq::ZeromqTransport t(zmqtest::transport_options({})),
               std::invalid_argument);
}

TEST(ZeromqOptions, ConnectEndpointReplacesOnlyAWildcardHost) {
  EXPECT_EQ(connect_endpoint_for("tcp://*:5555"), "tcp://127.0.0.1:5555");
  EXPECT_EQ(connect_endpoint_for("tcp://0.0.0.0:5555"), "tcp://127.0.0.1:5555");
  EXPECT_EQ(connect_endpoint_for("tcp://10.1.2.3:5555"), "tcp://10.1.2.3:5555");
  EXPECT_EQ(connect_endpoint_for("tcp://eth0:5555"), "tcp://eth0:5555");
  EXPECT_EQ(connect_endpoint_for("ipc:///run/sidecar/in"), "ipc:///run/sidecar/in");
  EXPECT_EQ(connect_endpoint_for("inproc://in"), "inproc://in");
  EXPECT_EQ(connect_endpoint_for("tcp://*"), "tcp://*");
}

TEST(EnvelopeTable, TagsAreNonZeroUniqueAndNeverReusedWhileOpen) {
  EnvelopeTable table;
  auto a = table.insert("client-a", false);
  auto b = table.insert("client-b", true);
  EXPECT_NE(a, 0u);
  EXPECT_NE(b, 0u);
  EXPECT_NE(a, b);
  ASSERT_NE(table.find(b), nullptr);
  EXPECT_EQ(table.find(b)->routing_id, "client-b");
  EXPECT_TRUE(table.find(b)->delimiter);
  EXPECT_EQ(table.size(), 2u);

  table.release(a);
  EXPECT_EQ(table.find(a), nullptr);
  table.release(a);  // twice: no effect
  EXPECT_EQ(table.size(), 1u);

  // The slot is reused under a new generation: the stale tag still finds nothing.
  auto c = table.insert("client-c", false);
  EXPECT_NE(c, a);
  EXPECT_EQ(table.find(a), nullptr);
  ASSERT_NE(table.find(c), nullptr);
  EXPECT_EQ(table.find(c)->routing_id, "client-c");
  EXPECT_EQ(table.find(0), nullptr);
  EXPECT_EQ(table.find(0xffff'ffff'ffff'ffffull), nullptr);
}

}  // namespace
