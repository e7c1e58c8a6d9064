#include "config/config_loader.hpp"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <set>
#include <sstream>

#include "config/config_error.hpp"
#include "config/env_expand.hpp"
#include "config/host_port.hpp"
#include "log/logger.hpp"
#include "sidecar/option_parse.hpp"

namespace sidecar::host {

const PluginInstanceConfig* Config::transport(const std::string& name) const {
  for (const auto& t : transports)
    if (t.name == name) return &t;
  return nullptr;
}

const PluginInstanceConfig* Config::handler(const std::string& name) const {
  for (const auto& h : handlers)
    if (h.name == name) return &h;
  return nullptr;
}

std::string_view Config::output_for(const std::string& topic) const {
  if (auto it = outputs.find(topic); it != outputs.end()) return it->second;
  if (auto it = outputs.find("*"); it != outputs.end()) return it->second;
  return {};
}

namespace {

// Look-ups go through const nodes only: a non-const lookup inserts nodes (NOTES.md).
class Reader {
 public:
  explicit Reader(std::string file) : file_(std::move(file)) {}

  SourceMark mark(const YAML::Node& node, const std::string& key) const {
    SourceMark m;
    m.file = file_;
    m.key = key;
    auto ym = node.Mark();
    if (ym.line >= 0) {
      m.line = ym.line + 1;
      m.column = ym.column + 1;
    }
    return m;
  }

  [[noreturn]] void fail(const YAML::Node& node, const std::string& key,
                         const std::string& msg) const {
    throw ConfigError(mark(node, key), msg);
  }

  std::string scalar(const YAML::Node& node, const std::string& key) const {
    if (!node.IsScalar()) fail(node, key, "expected a single value");
    try {
      return expand_env(node.Scalar());
    } catch (const std::invalid_argument& e) {
      fail(node, key, e.what());
    }
  }

  std::int64_t integer(const YAML::Node& node, const std::string& key, std::int64_t min) const {
    auto text = scalar(node, key);
    auto v = parse_integer(text);
    if (!v) fail(node, key, "expected an integer, got \"" + text + "\"");
    if (*v < min) fail(node, key, "must be at least " + std::to_string(min));
    return *v;
  }

  std::chrono::milliseconds duration(const YAML::Node& node, const std::string& key) const {
    auto text = scalar(node, key);
    auto v = parse_duration(text);
    if (!v) fail(node, key, "expected a duration such as 250ms, 5s or 2m, got \"" + text + "\"");
    return *v;
  }

  void only_keys(const YAML::Node& map, const std::string& where,
                 const std::set<std::string>& allowed) const {
    for (auto it = map.begin(); it != map.end(); ++it) {
      auto k = it->first.Scalar();
      if (!allowed.count(k)) {
        std::string list;
        for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
        fail(it->first, where.empty() ? k : where + "." + k,
             "unknown key (expected one of: " + list + ")");
      }
    }
  }

  // yaml-cpp keeps both entries of a repeated key and look-ups find the first: a second
  // `handlers.reservations` block, or a repeated option, would be dropped without a word.
  // Walks at most kMaxNodesWalked nodes: aliases make a YAML tree a graph that can be
  // exponentially larger than its text, and the keys that matter (sections, instances, options)
  // come first.
  void no_repeated_keys(const YAML::Node& node, const std::string& where) const {
    std::size_t budget = kMaxNodesWalked;
    no_repeated_keys(node, where, budget);
  }
  void no_repeated_keys(const YAML::Node& node, const std::string& where,
                        std::size_t& budget) const {
    if (budget == 0) return;
    --budget;
    if (node.IsSequence()) {
      for (std::size_t i = 0; i < node.size(); ++i) {
        no_repeated_keys(node[i], where + "[" + std::to_string(i) + "]", budget);
      }
      return;
    }
    if (!node.IsMap()) return;
    std::set<std::string> seen;
    for (auto it = node.begin(); it != node.end(); ++it) {
      std::string key = it->first.IsScalar() ? it->first.Scalar() : std::string();
      std::string path = where.empty() ? key : where + "." + key;
      if (it->first.IsScalar() && !seen.insert(key).second) {
        fail(it->first, path, "repeated key (each key may appear once in a map)");
      }
      no_repeated_keys(it->second, path, budget);
    }
  }
  static constexpr std::size_t kMaxNodesWalked = 100'000;

  const std::string& file() const { return file_; }

 private:
  std::string file_;
};

// As the admin server will take it.
bool is_host_port(const std::string& address) {
  try {
    (void)split_host_port(address);
    return true;
  } catch (const std::invalid_argument&) {
    return false;
  }
}

RawOption read_option(const Reader& r, const YAML::Node& node, const std::string& key) {
  RawOption opt;
  opt.mark = r.mark(node, key);
  if (node.IsScalar()) {
    opt.kind = RawOption::Kind::scalar;
    opt.scalar = r.scalar(node, key);
  } else if (node.IsSequence()) {
    opt.kind = RawOption::Kind::sequence;
    for (std::size_t i = 0; i < node.size(); ++i) {
      const YAML::Node item = node[i];
      opt.items.push_back(r.scalar(item, key + "[" + std::to_string(i) + "]"));
    }
  } else if (node.IsMap()) {
    opt.kind = RawOption::Kind::map;
    for (auto it = node.begin(); it != node.end(); ++it) {
      auto k = it->first.Scalar();
      opt.entries[k] = r.scalar(it->second, key + "." + k);
    }
  } else {
    r.fail(node, key, "has no value");
  }
  return opt;
}

std::vector<PluginInstanceConfig> read_instances(const Reader& r, const YAML::Node& root,
                                                 const std::string& section, bool handlers) {
  std::vector<PluginInstanceConfig> out;
  const YAML::Node node = root[section];
  if (!node) return out;
  if (!node.IsMap()) r.fail(node, section, "expected a map of instance name to {plugin, options}");
  for (auto it = node.begin(); it != node.end(); ++it) {
    PluginInstanceConfig inst;
    inst.name = it->first.Scalar();
    std::string where = section + "." + inst.name;
    const YAML::Node body = it->second;
    inst.mark = r.mark(it->first, where);
    if (!body.IsMap()) r.fail(body, where, "expected a map with `plugin` and `options`");
    std::set<std::string> allowed{"plugin", "options"};
    if (handlers) allowed.insert("batch_size");
    r.only_keys(body, where, allowed);
    const YAML::Node plugin = body["plugin"];
    if (!plugin) r.fail(body, where + ".plugin", "missing required key");
    inst.plugin = r.scalar(plugin, where + ".plugin");
    inst.plugin_mark = r.mark(plugin, where + ".plugin");
    if (const YAML::Node bs = body["batch_size"]) {
      inst.batch_size = static_cast<std::size_t>(r.integer(bs, where + ".batch_size", 1));
    }
    if (const YAML::Node opts = body["options"]) {
      inst.options_mark = r.mark(opts, where + ".options");
      if (!opts.IsMap() && !opts.IsNull()) r.fail(opts, where + ".options", "expected a map");
      if (opts.IsMap()) {
        for (auto o = opts.begin(); o != opts.end(); ++o) {
          auto k = o->first.Scalar();
          inst.options[k] = read_option(r, o->second, where + ".options." + k);
          inst.options[k].mark = r.mark(o->first, where + ".options." + k);
        }
      }
    } else {
      inst.options_mark = inst.mark;
      inst.options_mark.key = where + ".options";
    }
    out.push_back(std::move(inst));
  }
  return out;
}

Config read(const Reader& r, const YAML::Node& root) {
  Config c;
  c.file = r.file();
  if (!root.IsMap()) r.fail(root, "", "the config must be a YAML map");
  r.no_repeated_keys(root, "");
  r.only_keys(root, "",
              {"log_level", "plugin_dir", "migrations", "admin", "max_message_bytes", "dead_letter",
               "bus", "transports", "handlers", "routes", "outputs"});
  if (const YAML::Node n = root["log_level"]) {
    auto text = r.scalar(n, "log_level");
    auto lvl = parse_log_level(text);
    if (!lvl) r.fail(n, "log_level", "expected debug, info, warn or error, got \"" + text + "\"");
    c.log_level = *lvl;
  }
  if (const YAML::Node n = root["plugin_dir"]) c.plugin_dir = r.scalar(n, "plugin_dir");
  if (const YAML::Node n = root["migrations"]) c.migrations_dir = r.scalar(n, "migrations");
  if (const YAML::Node n = root["admin"]) {
    c.admin_addr = r.scalar(n, "admin");
    if (!is_host_port(c.admin_addr)) {
      r.fail(n, "admin", "expected host:port (e.g. 127.0.0.1:9464), got \"" + c.admin_addr + "\"");
    }
  }
  if (const YAML::Node n = root["max_message_bytes"]) {
    c.max_message_bytes = static_cast<std::size_t>(r.integer(n, "max_message_bytes", 1));
  }
  c.dead_letter_mark = r.mark(root, "dead_letter");
  if (const YAML::Node n = root["dead_letter"]) {
    c.dead_letter_topic = r.scalar(n, "dead_letter");
    c.dead_letter_mark = r.mark(n, "dead_letter");
  }
  if (const YAML::Node bus = root["bus"]) {
    if (!bus.IsMap()) r.fail(bus, "bus", "expected a map");
    r.only_keys(bus, "bus",
                {"workers", "queue_capacity", "max_attempts", "backoff_initial", "backoff_max",
                 "drain_timeout"});
    if (const YAML::Node n = bus["workers"]) c.bus.workers = r.integer(n, "bus.workers", 1);
    if (const YAML::Node n = bus["queue_capacity"]) {
      c.bus.queue_capacity = r.integer(n, "bus.queue_capacity", 1);
    }
    if (const YAML::Node n = bus["max_attempts"]) {
      c.bus.max_attempts = static_cast<int>(r.integer(n, "bus.max_attempts", 1));
    }
    if (const YAML::Node n = bus["backoff_initial"]) {
      c.bus.backoff_initial = r.duration(n, "bus.backoff_initial");
      // 0 would retry without pause, a worker spinning on a backend that is down.
      if (c.bus.backoff_initial.count() < 1)
        r.fail(n, "bus.backoff_initial", "must be at least 1ms");
    }
    if (const YAML::Node n = bus["backoff_max"])
      c.bus.backoff_max = r.duration(n, "bus.backoff_max");
    if (const YAML::Node n = bus["drain_timeout"]) {
      c.bus.drain_timeout = r.duration(n, "bus.drain_timeout");
    }
  }
  c.transports = read_instances(r, root, "transports", false);
  c.handlers = read_instances(r, root, "handlers", true);
  for (const auto& h : c.handlers) {
    if (c.transport(h.name)) {
      throw ConfigError(h.mark,
                        "the name is used by a transport too; instance names must be unique");
    }
  }

  if (const YAML::Node routes = root["routes"]) {
    if (!routes.IsSequence())
      r.fail(routes, "routes", "expected a list of {topic, transport, handler}");
    for (std::size_t i = 0; i < routes.size(); ++i) {
      const YAML::Node n = routes[i];
      std::string where = "routes[" + std::to_string(i) + "]";
      if (!n.IsMap()) r.fail(n, where, "expected a map with topic, transport and handler");
      r.only_keys(n, where, {"topic", "transport", "handler", "key_field"});
      RouteConfig rc;
      rc.mark = r.mark(n, where);
      for (const char* req : {"topic", "transport", "handler"}) {
        if (!n[req]) r.fail(n, where + "." + req, "missing required key");
      }
      rc.topic = r.scalar(n["topic"], where + ".topic");
      rc.transport = r.scalar(n["transport"], where + ".transport");
      rc.handler = r.scalar(n["handler"], where + ".handler");
      if (const YAML::Node k = n["key_field"]) rc.key_field = r.scalar(k, where + ".key_field");
      if (!c.transport(rc.transport)) {
        r.fail(n["transport"], where + ".transport", "no transport named \"" + rc.transport + "\"");
      }
      if (!c.handler(rc.handler)) {
        r.fail(n["handler"], where + ".handler", "no handler named \"" + rc.handler + "\"");
      }
      for (const auto& other : c.routes) {
        if (other.topic == rc.topic && other.transport == rc.transport) {
          r.fail(
              n["topic"], where + ".topic",
              "topic \"" + rc.topic + "\" on transport \"" + rc.transport + "\" is routed twice");
        }
      }
      c.routes.push_back(std::move(rc));
    }
  }

  if (const YAML::Node outputs = root["outputs"]) {
    if (!outputs.IsMap())
      r.fail(outputs, "outputs", "expected a map of topic (or \"*\") to transport");
    for (auto it = outputs.begin(); it != outputs.end(); ++it) {
      auto topic = it->first.Scalar();
      std::string where = "outputs." + topic;
      auto transport = r.scalar(it->second, where);
      if (!c.transport(transport)) {
        r.fail(it->second, where, "no transport named \"" + transport + "\"");
      }
      c.outputs[topic] = transport;
      c.output_marks[topic] = r.mark(it->second, where);
    }
  }
  if (!c.routes.empty() && c.output_for(c.dead_letter_topic).empty()) {
    throw ConfigError(c.dead_letter_mark, "the dead-letter topic \"" + c.dead_letter_topic +
                                              "\" has no transport: add it (or \"*\") to outputs");
  }
  return c;
}

Config parse(const std::string& text, const std::string& name) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    SourceMark m;
    m.file = name;
    if (e.mark.line >= 0) {
      m.line = e.mark.line + 1;
      m.column = e.mark.column + 1;
    }
    throw ConfigError(m, "not valid YAML: " + e.msg);
  }
  Reader r(name);
  if (!root || root.IsNull()) {
    SourceMark m;
    m.file = name;
    throw ConfigError(m, "the config is empty");
  }
  return read(r, root);
}

}  // namespace

Config load_config_text(const std::string& text, const std::string& name) {
  return parse(text, name);
}

Config load_config_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    SourceMark m;
    m.file = path;
    throw ConfigError(m, "cannot read the config file");
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return parse(ss.str(), path);
}

}  // namespace sidecar::host
