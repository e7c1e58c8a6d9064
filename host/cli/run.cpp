#include <fmt/format.h>

#include <chrono>
#include <iostream>
#include <thread>

#include "admin/admin_server.hpp"
#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "log/logger.hpp"
#include "runtime/pipeline.hpp"

namespace sidecar::host {

int cmd_run(const CommandLine& cl) {
  auto config = load_config_or_report(cl);
  if (!config) return 2;
  Logger::instance().set_level(config->log_level);
  Metrics metrics;
  Pipeline pipeline(*config, metrics);
  if (!build_or_report(pipeline)) return 2;
  AdminServer admin([&](std::string* why) { return pipeline.ready(why); },
                    [&] { return metrics.render(); });
  try {
    admin.start(config->admin_addr);
  } catch (const std::exception& e) {
    std::cerr << "sidecar: " << e.what() << "\n";
    return 1;
  }
  auto st = pipeline.start();
  if (!st) {
    log_error("start failed", {{"error", st.message()}});
    pipeline.stop();
    return 1;
  }
  log_info("sidecar running",
           {{"config", config->file}, {"admin", fmt::format("{}", admin.port())}});
  while (!stop_requested()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  log_info("stopping: draining in-flight messages");
  pipeline.stop();
  admin.stop();
  log_info("stopped");
  return 0;
}

}  // namespace sidecar::host
