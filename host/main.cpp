// `sidecar`: command line and wiring only; each subcommand lives in cli/.
#include <iostream>
#include <string>

#include "cli/commands.hpp"
#include "sidecar/version.hpp"

namespace {

const char* kUsage = R"(usage: sidecar <command> [options]

commands:
  run -c FILE                  run the configured pipeline until SIGTERM or SIGINT
  check -c FILE                validate the config without connecting (exit 0 or 2)
  plugins [-c FILE]            list the plugins found, with their options
  migrate -c FILE              apply the pending migrations to the configured database
  publish -c FILE TOPIC JSON   send one message through the configured transport, print its outcome
          [--timeout 10s] [--key K] [--header|-H NAME=VALUE ...]
  listen -c FILE TOPIC         print the messages of a topic as they arrive, one JSON a line
  version                      print the version and SDK build tag
)";

}  // namespace

int main(int argc, char** argv) {
  using namespace sidecar::host;
  if (argc < 2) {
    std::cerr << kUsage;
    return 2;
  }
  CommandLine cl;
  cl.command = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    const bool takes_value = a == "-c" || a == "--config" || a == "--timeout" || a == "--key" ||
                             a == "--header" || a == "-H";
    if (takes_value && i + 1 >= argc) {
      std::cerr << "sidecar: " << a << " needs a value\n";
      return 2;
    }
    if ((a == "--key" || a == "--header" || a == "-H") && cl.command != "publish") {
      std::cerr << "sidecar: " << a << " is an option of publish only\n";
      return 2;
    }
    if ((a == "-c" || a == "--config") && i + 1 < argc) {
      cl.config = argv[++i];
    } else if (a == "--timeout" && i + 1 < argc) {
      cl.timeout = argv[++i];
    } else if (a == "--key" && i + 1 < argc) {
      cl.key = argv[++i];
    } else if ((a == "--header" || a == "-H") && i + 1 < argc) {
      std::string h = argv[++i];
      auto eq = h.find('=');
      if (eq == std::string::npos || eq == 0) {
        std::cerr << "sidecar: --header wants NAME=VALUE, got \"" << h << "\"\n";
        return 2;
      }
      cl.headers.emplace_back(h.substr(0, eq), h.substr(eq + 1));
    } else if (a == "-h" || a == "--help") {
      std::cout << kUsage;
      return 0;
    } else {
      cl.args.push_back(a);
    }
  }
  install_stop_signals(cl.command == "run" || cl.command == "listen");
  if (cl.command == "run") return cmd_run(cl);
  if (cl.command == "check") return cmd_check(cl);
  if (cl.command == "plugins") return cmd_plugins(cl);
  if (cl.command == "migrate") return cmd_migrate(cl);
  if (cl.command == "publish") return cmd_publish(cl);
  if (cl.command == "listen") return cmd_listen(cl);
  if (cl.command == "version" || cl.command == "--version") {
    std::cout << "sidecar " SIDECAR_SDK_VERSION " (" SIDECAR_BUILD_TAG ", ABI "
              << sidecar::kAbiVersion << ")\n";
    return 0;
  }
  if (cl.command == "-h" || cl.command == "--help" || cl.command == "help") {
    std::cout << kUsage;
    return 0;
  }
  std::cerr << "sidecar: unknown command \"" << cl.command << "\"\n" << kUsage;
  return 2;
}
