#include <gtest/gtest.h>
#include <stdlib.h>

#include "config/config_error.hpp"
#include "config/config_loader.hpp"

using sidecar::host::ConfigError;
using sidecar::host::load_config_text;

namespace {

const char* kGood = R"(log_level: debug
admin: 127.0.0.1:0
dead_letter: dead
bus:
  workers: 3
  backoff_initial: 5ms
transports:
  zmq:
    plugin: zeromq
    options:
      bind_in: tcp://127.0.0.1:1
      list: [a, b]
      nested: {x: "1"}
handlers:
  echo:
    plugin: echo
    batch_size: 16
    options:
      to: out
routes:
  - topic: in
    transport: zmq
    handler: echo
    key_field: order_id
outputs:
  "*": zmq
)";

// Returns the error text, or "" if the config loaded.
std::string error_of(const std::string& text) {
  try {
    load_config_text(text, "test.yaml");
    return "";
  } catch (const ConfigError& e) {
    return e.what();
  }
}

}  // namespace

TEST(Config, LoadsAWellFormedFile) {
  auto c = load_config_text(kGood, "test.yaml");
  EXPECT_EQ(c.bus.workers, 3u);
  EXPECT_EQ(c.bus.backoff_initial.count(), 5);
  EXPECT_EQ(c.dead_letter_topic, "dead");
  ASSERT_EQ(c.transports.size(), 1u);
  EXPECT_EQ(c.transports[0].plugin, "zeromq");
  EXPECT_EQ(c.transports[0].options.at("bind_in").scalar, "tcp://127.0.0.1:1");
  EXPECT_EQ(c.transports[0].options.at("list").items.size(), 2u);
  EXPECT_EQ(c.transports[0].options.at("nested").entries.at("x"), "1");
  EXPECT_EQ(c.transports[0].options.at("bind_in").mark.line, 11);
  ASSERT_EQ(c.handlers.size(), 1u);
  EXPECT_EQ(c.handlers[0].batch_size, 16u);
  ASSERT_EQ(c.routes.size(), 1u);
  EXPECT_EQ(c.routes[0].key_field, "order_id");
  EXPECT_EQ(c.output_for("anything"), "zmq");
}

TEST(Config, ARepeatedInstanceNameIsRefusedAtItsLine) {
  std::string text = kGood;
  text.replace(text.find("routes:"), 7, R"(  echo:
    plugin: payment-settlement
routes:)");
  auto err = error_of(text);
  EXPECT_NE(err.find("test.yaml:20:3: handlers.echo: repeated key"), std::string::npos) << err;
}

TEST(Config, ARepeatedOptionOrSectionIsRefusedAtItsLine) {
  auto option =
      error_of("handlers:\n  h:\n    plugin: p\n    options:\n      to: a\n      to: b\n");
  EXPECT_NE(option.find("test.yaml:6:7: handlers.h.options.to: repeated key"), std::string::npos)
      << option;
  auto section = error_of("log_level: info\nbus: {workers: 1}\nbus: {workers: 2}\n");
  EXPECT_NE(section.find("test.yaml:3:1: bus: repeated key"), std::string::npos) << section;
  auto in_route = error_of("routes:\n  - {topic: a, topic: b}\n");
  EXPECT_NE(in_route.find("routes[0].topic: repeated key"), std::string::npos) << in_route;
}

// Aliases nested ten deep stand for 10^10 nodes: the check for repeated keys walks a bounded
// number of them, and the file is refused for what it is (an unknown key) at once.
TEST(Config, ABillionAliasedNodesAreNotWalked) {
  std::string text = "l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i <= 10; ++i) {
    text += "l" + std::to_string(i) + ": &l" + std::to_string(i) + " [";
    for (int j = 0; j < 10; ++j) text += (j ? ", *l" : "*l") + std::to_string(i - 1);
    text += "]\n";
  }
  auto err = error_of(text);
  EXPECT_NE(err.find("test.yaml:1:1: l0: unknown key"), std::string::npos) << err;
}

TEST(Config, AnAdminAddressWithoutAPortIsRefusedAtItsLine) {
  auto err = error_of("log_level: info\nadmin: localhost\n");
  EXPECT_NE(err.find("test.yaml:2:8: admin: expected host:port"), std::string::npos) << err;
  EXPECT_NE(error_of("admin: 127.0.0.1:70000\n").find("admin: expected host:port"),
            std::string::npos);
  EXPECT_EQ(error_of("admin: \"[::1]:9464\"\n"), "");
  EXPECT_EQ(error_of("admin: :9464\n"), "");
}

TEST(Config, ABackoffOfZeroIsRefused) {
  auto err = error_of("bus:\n  backoff_initial: 0ms\n");
  EXPECT_NE(err.find("test.yaml:2:20: bus.backoff_initial: must be at least 1ms"),
            std::string::npos)
      << err;
}

TEST(Config, NotYamlNamesFileAndLine) {
  auto err = error_of("transports:\n  zmq: [unclosed\n");
  EXPECT_EQ(err.rfind("test.yaml:", 0), 0u) << err;
  EXPECT_NE(err.find("not valid YAML"), std::string::npos) << err;
}

TEST(Config, UnknownTopLevelKeyNamesLineAndKey) {
  auto err = error_of("log_level: info\nroutez: []\n");
  EXPECT_NE(err.find("test.yaml:2:1: routez: unknown key"), std::string::npos) << err;
}

TEST(Config, WrongTypeNamesLineAndKey) {
  std::string text = kGood;
  text.replace(text.find("workers: 3"), 10, "workers: many");
  auto err = error_of(text);
  EXPECT_NE(err.find("test.yaml:5:12: bus.workers: expected an integer"), std::string::npos) << err;
}

TEST(Config, BadLogLevel) {
  auto err = error_of("log_level: loud\n");
  EXPECT_NE(err.find("test.yaml:1:12: log_level: expected debug, info, warn or error"),
            std::string::npos)
      << err;
}

TEST(Config, UndefinedVariableWithoutDefault) {
  unsetenv("SIDECAR_TEST_UNDEFINED");
  std::string text = kGood;
  text.replace(text.find("tcp://127.0.0.1:1"), 17, "${SIDECAR_TEST_UNDEFINED}");
  auto err = error_of(text);
  EXPECT_NE(err.find("test.yaml:11:16: transports.zmq.options.bind_in:"), std::string::npos) << err;
  EXPECT_NE(err.find("${SIDECAR_TEST_UNDEFINED} is not set"), std::string::npos) << err;
}

TEST(Config, VariableFromEnvironment) {
  setenv("SIDECAR_TEST_BIND", "ipc:///tmp/x", 1);
  std::string text = kGood;
  text.replace(text.find("tcp://127.0.0.1:1"), 17, "${SIDECAR_TEST_BIND}");
  auto c = load_config_text(text, "test.yaml");
  EXPECT_EQ(c.transports[0].options.at("bind_in").scalar, "ipc:///tmp/x");
}

TEST(Config, RouteToMissingHandler) {
  std::string text = kGood;
  text.replace(text.find("handler: echo"), 13, "handler: nope");
  auto err = error_of(text);
  EXPECT_NE(err.find("routes[0].handler: no handler named \"nope\""), std::string::npos) << err;
}

TEST(Config, RouteToMissingTransport) {
  std::string text = kGood;
  text.replace(text.find("transport: zmq"), 14, "transport: kafka");
  auto err = error_of(text);
  EXPECT_NE(err.find("routes[0].transport: no transport named \"kafka\""), std::string::npos)
      << err;
}

TEST(Config, MissingPluginKey) {
  auto err = error_of("transports:\n  zmq:\n    options: {}\n");
  EXPECT_NE(err.find("transports.zmq.plugin: missing required key"), std::string::npos) << err;
}

TEST(Config, UnknownKeyInInstance) {
  auto err = error_of("transports:\n  zmq:\n    plugin: zeromq\n    optoins: {}\n");
  EXPECT_NE(err.find("test.yaml:4:5: transports.zmq.optoins: unknown key"), std::string::npos)
      << err;
}

TEST(Config, DeadLetterTopicNeedsAnOutput) {
  std::string text = kGood;
  text.replace(text.find("\"*\": zmq"), 8, "other: zmq");
  auto err = error_of(text);
  EXPECT_NE(err.find("dead-letter topic \"dead\" has no transport"), std::string::npos) << err;
}

TEST(Config, EmptyFile) {
  auto err = error_of("");
  EXPECT_NE(err.find("the config is empty"), std::string::npos) << err;
}

TEST(Config, MissingFile) {
  try {
    sidecar::host::load_config_file("/nonexistent/sidecar.yaml");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot read the config file"), std::string::npos);
  }
}
