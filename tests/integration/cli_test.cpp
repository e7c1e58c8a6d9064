// `sidecar check`, `plugins` and the refusals a user sees: exact causes, non-zero exits, no crash.
#include <gtest/gtest.h>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "sidecar_process.hpp"

using namespace sidecar::test;

namespace {

const char* kBase = R"(plugin_dir: PLUGIN_DIR
transports:
  zmq:
    plugin: zeromq
    options:
      bind_in: tcp://127.0.0.1:1
      bind_out: tcp://127.0.0.1:2
handlers:
  echo:
    plugin: echo
    options:
      to: echoed
routes:
  - topic: in
    transport: zmq
    handler: echo
outputs:
  "*": zmq
)";

class Cli : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = temp_dir(); }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string write(const std::string& text, const std::string& name = "c.yaml") {
    std::string t = text;
    for (auto pos = t.find("PLUGIN_DIR"); pos != std::string::npos; pos = t.find("PLUGIN_DIR")) {
      t.replace(pos, 10, build_dir() + "/plugins");
    }
    auto path = dir_ + "/" + name;
    std::ofstream(path) << t;
    return path;
  }
  static std::string replace(std::string text, const std::string& from, const std::string& to) {
    auto pos = text.find(from);
    EXPECT_NE(pos, std::string::npos) << from;
    return text.replace(pos, from.size(), to);
  }
  RunResult check(const std::string& text) { return run_sidecar({"check", "-c", write(text)}); }

  std::string dir_;
};

}  // namespace

TEST_F(Cli, CheckAcceptsAGoodConfig) {
  auto r = check(kBase);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(": ok (1 transports, 1 handlers, 1 routes)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("handlers.echo: echo "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  to: echoed\n"), std::string::npos) << r.out;
}

TEST_F(Cli, NotYaml) {
  auto r = check("transports: [\n  {unclosed\n");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("c.yaml:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("not valid YAML"), std::string::npos) << r.err;
}

TEST_F(Cli, UnknownOptionKey) {
  auto r = check(replace(kBase, "      to: echoed\n", "      to: echoed\n      colour: red\n"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(
      r.err.find("c.yaml:13:7: handlers.echo.options.colour: unknown option for plugin \"echo\""),
      std::string::npos)
      << r.err;
}

TEST_F(Cli, WrongType) {
  auto r = check(replace(kBase, "plugin_dir:", "bus:\n  workers: lots\nplugin_dir:"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("c.yaml:2:12: bus.workers: expected an integer, got \"lots\""),
            std::string::npos)
      << r.err;
}

TEST_F(Cli, MissingRequiredOption) {
  auto r = check(replace(kBase, "      to: echoed\n", "      {}\n"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("handlers.echo.options.to: missing required option"), std::string::npos)
      << r.err;
}

TEST_F(Cli, UndefinedVariable) {
  auto r = check(replace(kBase, "tcp://127.0.0.1:1", "${SIDECAR_SURELY_UNDEFINED_VAR}"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("c.yaml:6:16: transports.zmq.options.bind_in: environment variable "
                       "${SIDECAR_SURELY_UNDEFINED_VAR} is not set and has no default"),
            std::string::npos)
      << r.err;
}

TEST_F(Cli, RouteToMissingHandler) {
  auto r = check(replace(kBase, "    handler: echo", "    handler: nobody"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("routes[0].handler: no handler named \"nobody\""), std::string::npos)
      << r.err;
}

TEST_F(Cli, MissingPluginFile) {
  auto r = check(replace(kBase, "plugin: echo", "plugin: no-such-plugin"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("handlers.echo.plugin: plugin file not found:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("no-such-plugin.so"), std::string::npos) << r.err;
}

TEST_F(Cli, NotASharedLibrary) {
  auto fake = write("just text", "fake.so");
  auto r = check(replace(kBase, "plugin: echo", "plugin: " + fake));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("not a shared library: " + fake), std::string::npos) << r.err;
}

TEST_F(Cli, OtherAbiVersion) {
  auto so = build_dir() + "/test-plugins/fixture-old-abi.so";
  auto r = check(replace(kBase, "plugin: echo", "plugin: " + so));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("plugin \"fixture-old-abi\" (" + so + ") was built for SDK ABI version 999"),
            std::string::npos)
      << r.err;
}

TEST_F(Cli, NoManifest) {
  auto so = build_dir() + "/test-plugins/fixture-no-manifest.so";
  auto r = check(replace(kBase, "plugin: echo", "plugin: " + so));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("not a sidecar plugin"), std::string::npos) << r.err;
}

TEST_F(Cli, TransportUsedAsHandler) {
  auto r = check(replace(kBase, "plugin: echo", "plugin: zeromq"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("plugin \"zeromq\" is a transport, not a handler"), std::string::npos)
      << r.err;
}

TEST_F(Cli, PluginsListsTheShippedPluginsWithOptions) {
  auto r = run_sidecar({"plugins", "-c", write(kBase)});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("zeromq  transport"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("echo  handler"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("- bind_in (string, required)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("- to (string, required)"), std::string::npos) << r.out;
}

TEST_F(Cli, UnknownCommandAndMissingConfig) {
  EXPECT_EQ(run_sidecar({"frobnicate"}).exit_code, 2);
  auto r = run_sidecar({"check"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("a config is required (-c FILE)"), std::string::npos);
}

// What a plugin checks itself (beyond the declared types) is checked by `check` too, and the
// refusal points at the option it names.
TEST_F(Cli, CheckRefusesWhatThePluginRefusesAtTheOptionItNames) {
  auto same = check(replace(kBase, "bind_out: tcp://127.0.0.1:2", "bind_out: tcp://127.0.0.1:1"));
  EXPECT_EQ(same.exit_code, 2);
  EXPECT_NE(same.err.find("c.yaml:6:7: transports.zmq.options.bind_in: plugin \"zeromq\" refused "
                          "its options: zeromq: bind_in and bind_out must differ"),
            std::string::npos)
      << same.err;
  auto empty = check(replace(kBase, "to: echoed", "to: \"\""));
  EXPECT_EQ(empty.exit_code, 2);
  EXPECT_NE(empty.err.find("c.yaml:12:7: handlers.echo.options.to: plugin \"echo\" refused its "
                           "options: echo: option 'to' must name a topic"),
            std::string::npos)
      << empty.err;
}

TEST_F(Cli, PublishOptionsNeedAValueAndBelongToPublish) {
  auto cfg = write(kBase);
  auto last = run_sidecar({"publish", "-c", cfg, "in", "{}", "--key"});
  EXPECT_EQ(last.exit_code, 2);
  EXPECT_NE(last.err.find("--key needs a value"), std::string::npos) << last.err;
  auto elsewhere = run_sidecar({"check", "-c", cfg, "-H", "reply_to=x"});
  EXPECT_EQ(elsewhere.exit_code, 2);
  EXPECT_NE(elsewhere.err.find("-H is an option of publish only"), std::string::npos)
      << elsewhere.err;
}

TEST_F(Cli, PublishRefusesAHeaderWithoutNameAndValue) {
  for (const char* bad : {"reply_to", "=product-replies"}) {
    auto r = run_sidecar({"publish", "-c", write(kBase), "--header", bad, "in", "{}"});
    EXPECT_EQ(r.exit_code, 2) << bad;
    EXPECT_NE(r.err.find("--header wants NAME=VALUE"), std::string::npos) << r.err;
  }
}

// Ctrl-C ends a publish that waits for a sidecar that is not there, instead of its timeout.
TEST_F(Cli, PublishStopsOnAnInterruptWhileItWaits) {
  auto cfg = write(kBase);
  std::string binary = build_dir() + "/bin/sidecar";
  std::vector<std::string> args{binary, "publish", "-c", cfg, "in", "{}", "--timeout", "60s"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  // SIGINT at its default in the child even where this runner ignores it (a shell's background
  // job does), as it is for a user at a terminal.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGINT);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  int spawned = posix_spawn(&pid, binary.c_str(), nullptr, &attr, argv.data(), environ);
  posix_spawnattr_destroy(&attr);
  ASSERT_EQ(spawned, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(700));  // inside its wait for a reply
  ASSERT_EQ(::kill(pid, SIGINT), 0);
  int status = 0;
  bool ended = false;
  for (int i = 0; i < 50 && !ended; ++i) {
    ended = ::waitpid(pid, &status, WNOHANG) == pid;
    if (!ended) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (!ended) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
  }
  EXPECT_TRUE(ended) << "publish went on waiting after SIGINT";
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGINT) << "status " << status;
}
