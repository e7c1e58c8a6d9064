#include <iostream>

#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "log/logger.hpp"
#include "runtime/pipeline.hpp"

namespace sidecar::host {

int cmd_migrate(const CommandLine& cl) {
  auto config = load_config_or_report(cl);
  if (!config) return 2;
  Logger::instance().set_level(config->log_level);
  Metrics metrics;
  Pipeline pipeline(*config, metrics);
  if (!build_or_report(pipeline)) return 2;
  int failed = 0;
  for (auto& h : pipeline.handlers()) {
    InstanceServices services(h.name, metrics, nullptr);
    MigrateContext ctx{&services, config->migrations_dir};
    auto st = h.object->migrate(ctx);
    if (!st) {
      std::cerr << "sidecar migrate: " << h.name << ": " << st.message() << "\n";
      ++failed;
    }
  }
  return failed ? 1 : 0;
}

}  // namespace sidecar::host
