#pragma once
// The validated shape of a config file. Every field knows where it came from, so later checks
// (plugin options, routes) can name the file, line and key.
#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sidecar/host_services.hpp"

namespace YAML {
class Node;
}

namespace sidecar::host {

struct SourceMark {
  std::string file;
  int line = 0;     // 1-based; 0 = unknown
  int column = 0;   // 1-based
  std::string key;  // dotted path, e.g. transports.zmq.options.bind_in
};

// The raw YAML of one option, kept un-interpreted until the plugin's declaration is known.
struct RawOption {
  enum class Kind { scalar, sequence, map };
  Kind kind = Kind::scalar;
  std::string scalar;                          // env-expanded
  std::vector<std::string> items;              // sequence of scalars
  std::map<std::string, std::string> entries;  // map of scalars
  SourceMark mark;
};

struct PluginInstanceConfig {
  std::string name;    // instance name in the config
  std::string plugin;  // plugin name (file <plugin_dir>/<plugin>.so) or a path to a .so
  std::map<std::string, RawOption> options;
  std::size_t batch_size = 1;  // handlers only
  SourceMark mark;             // of the instance
  SourceMark plugin_mark;      // of its `plugin` key
  SourceMark options_mark;
};

struct RouteConfig {
  std::string topic;
  std::string transport;
  std::string handler;
  std::string key_field;  // JSON field the key is taken from when the message has none
  SourceMark mark;
};

struct BusConfig {
  std::size_t workers = 4;
  std::size_t queue_capacity = 1024;  // messages in flight across all workers before pausing
  int max_attempts = 5;               // for `failed` outcomes and exceptions
  std::chrono::milliseconds backoff_initial{100};
  std::chrono::milliseconds backoff_max{10'000};
  std::chrono::milliseconds drain_timeout{10'000};
};

struct Config {
  std::string file;
  LogLevel log_level = LogLevel::info;
  std::string plugin_dir;  // empty: next to the executable (../plugins)
  std::string migrations_dir = "migrations";
  std::string admin_addr = "127.0.0.1:9464";
  std::size_t max_message_bytes = 1 << 20;
  std::string dead_letter_topic = "dlq";
  BusConfig bus;
  std::vector<PluginInstanceConfig> transports;
  std::vector<PluginInstanceConfig> handlers;
  std::vector<RouteConfig> routes;
  std::map<std::string, std::string> outputs;  // topic (or "*") -> transport instance
  std::map<std::string, SourceMark> output_marks;
  SourceMark dead_letter_mark;

  [[nodiscard]] const PluginInstanceConfig* transport(const std::string& name) const;
  [[nodiscard]] const PluginInstanceConfig* handler(const std::string& name) const;
  // The transport instance an emitted topic goes to, or empty; a view into `outputs`.
  [[nodiscard]] std::string_view output_for(const std::string& topic) const;
};

}  // namespace sidecar::host
