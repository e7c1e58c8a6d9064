#include "config/options_validator.hpp"

#include <gtest/gtest.h>

#include "config/config_error.hpp"
#include "config/config_loader.hpp"

using namespace sidecar;
using namespace sidecar::host;

namespace {

std::vector<OptionSpec> specs() {
  return {{"to", OptionType::string, "", true, "topic to emit to", false},
          {"count", OptionType::integer, "3", false, "a number", false},
          {"flag", OptionType::boolean, "false", false, "a flag", false},
          {"wait", OptionType::duration, "250ms", false, "a duration", false},
          {"tags", OptionType::string_list, "a,b", false, "tags", false},
          {"password", OptionType::string, "", false, "a secret", true},
          {"librdkafka", OptionType::map, "", false, "passed through", false}};
}

PluginInstanceConfig instance(const std::string& options_yaml) {
  auto cfg =
      load_config_text("handlers:\n  h:\n    plugin: p\n    options:\n" + options_yaml, "o.yaml");
  return cfg.handlers.at(0);
}

std::string error_of(const std::string& options_yaml) {
  try {
    validate_options(instance(options_yaml), specs());
    return "";
  } catch (const ConfigError& e) {
    return e.what();
  }
}

}  // namespace

TEST(OptionsValidator, AppliesDefaultsAndTypes) {
  auto o = validate_options(instance("      to: out\n      wait: 2s\n      flag: true\n"), specs());
  EXPECT_EQ(o.get_string("to"), "out");
  EXPECT_EQ(o.get_int("count"), 3);
  EXPECT_TRUE(o.get_bool("flag"));
  EXPECT_EQ(o.get_duration("wait").count(), 2000);
  EXPECT_EQ(o.get_list("tags"), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(o.get_map("librdkafka").empty());
}

TEST(OptionsValidator, PrefixOptionsPassThroughBothForms) {
  auto o = validate_options(
      instance("      to: out\n      librdkafka:\n        security.protocol: SASL_SSL\n"
               "      librdkafka.sasl.mechanism: PLAIN\n"),
      specs());
  auto m = o.get_map("librdkafka");
  EXPECT_EQ(m.at("security.protocol"), "SASL_SSL");
  EXPECT_EQ(m.at("sasl.mechanism"), "PLAIN");
}

TEST(OptionsValidator, UnknownOptionNamesLineAndKey) {
  auto err = error_of("      to: out\n      colour: blue\n");
  EXPECT_NE(err.find("o.yaml:6:7: handlers.h.options.colour: unknown option for plugin \"p\""),
            std::string::npos)
      << err;
}

TEST(OptionsValidator, WrongTypeNamesLine) {
  auto err = error_of("      to: out\n      count: lots\n");
  EXPECT_NE(err.find("o.yaml:6:7: handlers.h.options.count: expected an integer, got \"lots\""),
            std::string::npos)
      << err;
  err = error_of("      to: out\n      wait: soon\n");
  EXPECT_NE(err.find("expected a duration (such as 250ms, 5s or 2m), got \"soon\""),
            std::string::npos)
      << err;
}

TEST(OptionsValidator, MissingRequiredOption) {
  auto err = error_of("      count: 1\n");
  EXPECT_NE(err.find("handlers.h.options.to: missing required option (topic to emit to)"),
            std::string::npos)
      << err;
}

TEST(OptionsValidator, SecretsAreRedactedWhenPrinted) {
  auto o = validate_options(instance("      to: out\n      password: hunter2\n"), specs());
  auto text = describe_options(o, specs());
  EXPECT_EQ(text.find("hunter2"), std::string::npos) << text;
  EXPECT_NE(text.find("password: <redacted>"), std::string::npos) << text;
}

TEST(OptionsValidator, CredentialsPassedThroughAMapAreRedactedWhenPrinted) {
  auto o = validate_options(instance("      to: out\n"
                                     "      librdkafka:\n"
                                     "        ssl.key.pem: BEGIN-PRIVATE-KEY-abc\n"
                                     "        sasl.oauthbearer.config: clientSecret=xyz\n"
                                     "        sasl.jaas.config: jaas-text\n"
                                     "        sasl.username: alice\n"),
                            specs());
  auto text = describe_options(o, specs());
  for (const char* hidden : {"BEGIN-PRIVATE-KEY-abc", "clientSecret=xyz", "jaas-text"}) {
    EXPECT_EQ(text.find(hidden), std::string::npos) << hidden << " printed in: " << text;
  }
  EXPECT_NE(text.find("ssl.key.pem: <redacted>"), std::string::npos) << text;
  EXPECT_NE(text.find("sasl.username: alice"), std::string::npos) << text;
}

TEST(OptionsValidator, CredentialsInUrlsAreRedactedWhenPrinted) {
  auto o = validate_options(instance("      to: redis://:pw123@cache:6379/0\n"), specs());
  auto text = describe_options(o, specs());
  EXPECT_EQ(text.find("pw123"), std::string::npos) << text;
  EXPECT_NE(text.find("to: redis://<redacted>@cache:6379/0"), std::string::npos) << text;
}
