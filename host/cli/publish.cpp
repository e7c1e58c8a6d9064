#include <iostream>

#include "bus/key_extract.hpp"
#include "cli/client_transport.hpp"
#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "log/logger.hpp"
#include "sidecar/option_parse.hpp"

namespace sidecar::host {

int cmd_publish(const CommandLine& cl) {
  if (cl.args.size() != 2) {
    std::cerr << "usage: sidecar publish -c FILE TOPIC JSON [--timeout 10s] [--key K]"
                 " [--header|-H NAME=VALUE ...]\n";
    return 2;
  }
  auto config = load_config_or_report(cl);
  if (!config) return 2;
  Logger::instance().set_level(LogLevel::warn);
  std::chrono::milliseconds timeout{0};  // 0: the transport's own default
  if (!cl.timeout.empty()) {
    auto t = parse_duration(cl.timeout);
    if (!t) {
      std::cerr << "sidecar publish: bad --timeout \"" << cl.timeout << "\"\n";
      return 2;
    }
    timeout = *t;
  }
  Metrics metrics;
  auto client = make_client_transport(*config, cl.args[0], true, metrics);
  if (!client) return 2;
  Message msg;
  msg.topic = cl.args[0];
  msg.payload = cl.args[1];
  // Keyed as the order service would key it, so a transport that partitions by key (Kafka) keeps
  // one order's messages in one partition, in order.
  if (cl.key) {
    msg.key = *cl.key;
  } else {
    for (const auto& r : config->routes) {
      if (r.topic == msg.topic && !r.key_field.empty()) {
        msg.key = extract_json_key(msg.payload, r.key_field);
        break;
      }
    }
  }
  for (const auto& [name, value] : cl.headers) msg.set_header(name, value);
  auto reply = client->instance.object->request(msg, timeout);
  std::cout << reply.status << (reply.detail.empty() ? "" : ": " + reply.detail) << "\n";
  if (reply.body) std::cout << *reply.body << "\n";
  if (reply.status == "ok" || reply.status == "duplicate") return 0;
  return reply.status == "dead-letter" ? 3 : 1;
}

}  // namespace sidecar::host
