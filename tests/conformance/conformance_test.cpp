// Every plugin in the build's plugin directory goes through the same checks: a sane manifest,
// documented options, bad options refused by the host's validation, start/stop twice, stop
// without start, and no exception escaping a call. A plugin's folder holds a conformance.yaml
// with options that make it (variables such as ${PG_DSN} come from `make test`).
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <atomic>
#include <filesystem>

#include "config/config_error.hpp"
#include "config/env_expand.hpp"
#include "config/options_validator.hpp"
#include "loader/plugin_library.hpp"
#include "sidecar/testkit.hpp"
#include "sidecar_process.hpp"

using namespace sidecar;
using namespace sidecar::host;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> plugin_names() {
  std::vector<std::string> names;
  for (const auto& f : list_plugin_files(sidecar::test::build_dir() + "/plugins")) {
    names.push_back(fs::path(f).stem().string());
  }
  return names;
}

class Sink : public InboundSink {
 public:
  void deliver(Message) noexcept override { ++delivered; }
  std::atomic<int> delivered{0};
};

class Conformance : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    dir_ = sidecar::test::temp_dir();
    setenv("CONFORMANCE_DIR", dir_.c_str(), 1);
    lib_ = PluginLibrary::load(sidecar::test::build_dir() + "/plugins/" + GetParam() + ".so");
  }
  void TearDown() override { fs::remove_all(dir_); }

  // The options from the plugin's conformance.yaml, as the host would read them.
  PluginInstanceConfig instance() {
    PluginInstanceConfig inst;
    inst.name = "under_test";
    inst.plugin = GetParam();
    inst.options_mark.file = "conformance.yaml";
    inst.options_mark.key = "options";
    auto path = sidecar::test::source_dir() + "/plugins/" + GetParam() + "/conformance.yaml";
    if (!fs::exists(path)) {
      ADD_FAILURE() << "plugin folder lacks conformance.yaml: " << path;
      return inst;
    }
    const YAML::Node root = YAML::LoadFile(path);
    const YAML::Node opts = root["options"];
    for (auto it = opts.begin(); it != opts.end(); ++it) {
      RawOption raw;
      raw.mark.key = "options." + it->first.Scalar();
      if (it->second.IsMap()) {
        raw.kind = RawOption::Kind::map;
        for (auto e = it->second.begin(); e != it->second.end(); ++e) {
          raw.entries[e->first.Scalar()] = expand_env(e->second.Scalar());
        }
      } else if (it->second.IsSequence()) {
        raw.kind = RawOption::Kind::sequence;
        for (const auto& item : it->second) raw.items.push_back(expand_env(item.Scalar()));
      } else {
        raw.scalar = expand_env(it->second.Scalar());
      }
      inst.options[it->first.Scalar()] = raw;
    }
    return inst;
  }

  std::string dir_;
  std::shared_ptr<PluginLibrary> lib_;
  testkit::Host host_;
};

}  // namespace

TEST_P(Conformance, ManifestAndOptionsAreDocumented) {
  EXPECT_EQ(lib_->name(), GetParam()) << "the manifest name must match the file name";
  EXPECT_FALSE(lib_->version().empty());
  EXPECT_FALSE(lib_->description().empty());
  for (const auto& spec : lib_->option_specs()) {
    EXPECT_FALSE(spec.description.empty()) << spec.name;
    if (spec.required) {
      EXPECT_TRUE(spec.default_value.empty()) << spec.name << ": required with a default";
    }
  }
}

TEST_P(Conformance, BadOptionsAreRefusedBeforeThePluginIsMade) {
  auto good = instance();
  auto unknown = good;
  unknown.options["no_such_option_anywhere"] = RawOption{};
  EXPECT_THROW(validate_options(unknown, lib_->option_specs()), ConfigError);
  for (const auto& spec : lib_->option_specs()) {
    if (spec.required) {
      auto missing = good;
      missing.options.erase(spec.name);
      EXPECT_THROW(validate_options(missing, lib_->option_specs()), ConfigError) << spec.name;
    }
    if (spec.type == OptionType::integer || spec.type == OptionType::duration ||
        spec.type == OptionType::boolean) {
      auto wrong = good;
      RawOption raw;
      raw.scalar = "not-a-value";
      wrong.options[spec.name] = raw;
      EXPECT_THROW(validate_options(wrong, lib_->option_specs()), ConfigError) << spec.name;
    }
  }
}

TEST_P(Conformance, EmptyOptionsGiveAnErrorValueNotACrash) {
  if (lib_->kind() == PluginKind::handler) {
    auto made = lib_->create_handler(Options{});
    if (!made.object) {
      EXPECT_FALSE(made.error.empty());
    }
  } else {
    auto made = lib_->create_transport(Options{});
    if (!made.object) {
      EXPECT_FALSE(made.error.empty());
    }
  }
}

TEST_P(Conformance, StartsAndStopsTwiceAndStopsWithoutStart) {
  auto options = validate_options(instance(), lib_->option_specs());
  if (lib_->kind() == PluginKind::handler) {
    {
      auto never_started = lib_->create_handler(options);
      ASSERT_TRUE(never_started.object) << never_started.error;
      never_started.object->stop();
    }
    for (int round = 0; round < 2; ++round) {
      auto made = lib_->create_handler(options);
      ASSERT_TRUE(made.object) << made.error;
      auto st = host_.start(*made.object, 2, 4);
      ASSERT_TRUE(st) << st.message();
      EXPECT_TRUE(host_.handle(*made.object, {}).empty());
      // Garbage is an outcome (usually rejected), never an exception or a crash.
      std::vector<Message> junk{testkit::message("junk", "", "\xff\xfe not json {")};
      std::vector<Outcome> outcomes;
      EXPECT_NO_THROW(outcomes = host_.handle(*made.object, junk));
      EXPECT_EQ(outcomes.size(), 1u);
      made.object->stop();
      made.object->stop();
    }
  } else {
    {
      auto never_started = lib_->create_transport(options);
      ASSERT_TRUE(never_started.object) << never_started.error;
      never_started.object->stop();
    }
    for (int round = 0; round < 2; ++round) {
      auto made = lib_->create_transport(options);
      ASSERT_TRUE(made.object) << made.error;
      Sink sink;
      TransportContext ctx{&host_, &sink, {"conformance"}};
      auto st = made.object->start(ctx);
      ASSERT_TRUE(st) << st.message();
      made.object->pause();
      made.object->resume();
      made.object->stop();
      made.object->stop();
      // A publish after stop is answered (with an error or not), exactly once, without a crash.
      std::atomic<int> answered{0};
      Message m;
      m.topic = "conformance";
      m.payload = "{}";
      made.object->publish(m, [&](const Status&) { ++answered; });
      for (int i = 0; i < 200 && answered == 0; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      EXPECT_EQ(answered.load(), 1);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Plugins, Conformance, ::testing::ValuesIn(plugin_names()),
                         [](const auto& param_info) {
                           std::string n = param_info.param;
                           for (auto& c : n)
                             if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           return n;
                         });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(Conformance);
