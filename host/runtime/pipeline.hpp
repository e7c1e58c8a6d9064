#pragma once
// Everything `sidecar run` wires together from a config: plugin instances, the bus, the routed
// publisher. Start order: transports, handlers, bus workers; stop in reverse.
#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "admin/metrics.hpp"
#include "bus/bus.hpp"
#include "config/config.hpp"
#include "loader/plugin_library.hpp"
#include "runtime/instance_services.hpp"

namespace sidecar::host {

// The plugins a config names, loaded and with their options validated (what `check` verifies).
struct LoadedPlugins {
  struct Entry {
    const PluginInstanceConfig* config = nullptr;
    std::shared_ptr<PluginLibrary> library;
    Options options;
  };
  std::vector<Entry> transports;
  std::vector<Entry> handlers;
};

// Throws ConfigError (options, with file and line) or PluginError (loading, naming the plugin).
LoadedPlugins load_plugins(const Config& config);

// Makes each instance and drops it again (what `check` adds to load_plugins: the plugins' own
// checks of their options, which connect to nothing). Throws ConfigError at the option the
// refusal names (see refusal_mark), or at the instance's `plugin` key.
void try_instances(const LoadedPlugins& loaded);

// Where a plugin's refusal of its options points: the first option of the instance the message
// names as a word (`'to'`, `bind_out`, `pg_dsn:`), at its line when the config sets it and at
// the instance's `options` otherwise; the `plugin` key when it names none.
SourceMark refusal_mark(const PluginInstanceConfig& instance, const std::vector<OptionSpec>& specs,
                        const std::string& why);

class Pipeline {
 public:
  Pipeline(const Config& config, Metrics& metrics);
  ~Pipeline();
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // Makes every instance (throws on a plugin that refuses its options).
  void build();
  Status start();
  // Stops taking messages, drains in-flight work (bounded), stops everything in reverse order.
  void stop();
  [[nodiscard]] bool ready(std::string* why = nullptr) const;
  void publish(const Message& msg, PublishCallback done);

  // For `migrate`: the handler instances, made but not started.
  std::vector<PluginInstance<Handler>>& handlers() { return handlers_; }
  std::vector<PluginInstance<Transport>>& transports() { return transports_; }
  [[nodiscard]] Bus* bus() { return bus_.get(); }

 private:
  const Config& config_;
  Metrics& metrics_;
  std::vector<std::unique_ptr<InstanceServices>> services_;
  std::vector<PluginInstance<Transport>> transports_;
  std::vector<PluginInstance<Handler>> handlers_;
  // The transport config_.output_for names, or null. Asked twice per emitted message (the bus
  // checks there is one, then the publish goes there): one look-up in a map resolved by build().
  [[nodiscard]] Transport* output_for(const std::string& topic) const;
  std::map<std::string, Transport*, std::less<>> transport_by_name_;
  std::map<std::string, Transport*, std::less<>> output_by_topic_;
  Transport* default_output_ = nullptr;  // the "*" entry
  std::unique_ptr<Bus> bus_;
  std::size_t transports_started_ = 0;
  std::size_t handlers_started_ = 0;
  // Read by /readyz on the admin server's thread.
  std::atomic<bool> started_{false};
  std::atomic<bool> stopped_{false};
};

}  // namespace sidecar::host
