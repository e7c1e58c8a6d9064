#pragma once
// The subcommands of `sidecar`. Each returns the process exit code.
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sidecar::host {

struct CommandLine {
  std::string command;
  std::string config;  // -c FILE
  std::vector<std::string> args;
  std::string timeout;  // --timeout for publish
  // publish: --key K (default: the route's key_field read from the JSON) and --header NAME=VALUE
  std::optional<std::string> key;
  std::vector<std::pair<std::string, std::string>> headers;
};

int cmd_run(const CommandLine& cl);
int cmd_check(const CommandLine& cl);
int cmd_plugins(const CommandLine& cl);
int cmd_migrate(const CommandLine& cl);
int cmd_publish(const CommandLine& cl);
int cmd_listen(const CommandLine& cl);

// Set by SIGTERM/SIGINT.
bool stop_requested();
// SIGPIPE ignored; SIGTERM and SIGINT set stop_requested() when `graceful` (run, listen), else
// left to end the process.
void install_stop_signals(bool graceful);

}  // namespace sidecar::host
