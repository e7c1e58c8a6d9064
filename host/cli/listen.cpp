#include <iostream>

#include "cli/client_transport.hpp"
#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "log/logger.hpp"

namespace sidecar::host {

int cmd_listen(const CommandLine& cl) {
  if (cl.args.size() != 1) {
    std::cerr << "usage: sidecar listen -c FILE TOPIC\n";
    return 2;
  }
  auto config = load_config_or_report(cl);
  if (!config) return 2;
  Logger::instance().set_level(LogLevel::warn);
  Metrics metrics;
  auto client = make_client_transport(*config, cl.args[0], false, metrics);
  if (!client) return 2;
  auto st = client->instance.object->listen(
      cl.args[0],
      [](const Message& m) {
        std::cout << m.payload << std::endl;  // flushed: listeners are often piped
        return true;
      },
      [] { return stop_requested(); });
  if (!st) {
    std::cerr << "sidecar listen: " << st.message() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace sidecar::host
