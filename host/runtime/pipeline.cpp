#include "runtime/pipeline.hpp"

#include <cctype>

#include <fmt/format.h>

#include "config/config_error.hpp"
#include "config/options_validator.hpp"
#include "log/logger.hpp"

namespace sidecar::host {

namespace {

LoadedPlugins::Entry load_entry(const Config& config, const PluginInstanceConfig& inst,
                                PluginKind kind) {
  std::string dir = config.plugin_dir.empty() ? default_plugin_dir() : config.plugin_dir;
  auto path = plugin_path(dir, inst.plugin);
  std::shared_ptr<PluginLibrary> lib;
  try {
    lib = PluginLibrary::load(path);
  } catch (const PluginError& e) {
    throw ConfigError(inst.plugin_mark, e.what());
  }
  if (lib->kind() != kind) {
    throw ConfigError(inst.plugin_mark, fmt::format("plugin \"{}\" is a {}, not a {}", lib->name(),
                                                    to_string(lib->kind()), to_string(kind)));
  }
  LoadedPlugins::Entry e;
  e.config = &inst;
  e.library = std::move(lib);
  e.options = validate_options(inst, e.library->option_specs());
  return e;
}

}  // namespace

LoadedPlugins load_plugins(const Config& config) {
  LoadedPlugins out;
  for (const auto& t : config.transports)
    out.transports.push_back(load_entry(config, t, PluginKind::transport));
  for (const auto& h : config.handlers)
    out.handlers.push_back(load_entry(config, h, PluginKind::handler));
  return out;
}

namespace {

bool word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; }

// Where `word` first stands in `text` on its own, not as part of a longer name; npos if nowhere.
std::size_t named_at(const std::string& text, const std::string& word) {
  for (auto pos = text.find(word); pos != std::string::npos; pos = text.find(word, pos + 1)) {
    bool before = pos == 0 || !word_char(text[pos - 1]);
    bool after = pos + word.size() == text.size() || !word_char(text[pos + word.size()]);
    if (before && after) return pos;
  }
  return std::string::npos;
}

[[noreturn]] void refuse(const LoadedPlugins::Entry& e, const std::string& why) {
  throw ConfigError(refusal_mark(*e.config, e.library->option_specs(), why),
                    fmt::format("plugin \"{}\" refused its options: {}", e.library->name(), why));
}

}  // namespace

SourceMark refusal_mark(const PluginInstanceConfig& instance, const std::vector<OptionSpec>& specs,
                        const std::string& why) {
  // The earliest name in the message: "bind_in and bind_out must differ" points at bind_in.
  std::size_t best_at = std::string::npos;
  std::string best;
  auto consider = [&](const std::string& name) {
    auto at = name.empty() ? std::string::npos : named_at(why, name);
    if (at < best_at) {
      best_at = at;
      best = name;
    }
  };
  for (const auto& [name, raw] : instance.options) consider(name);
  for (const auto& spec : specs) consider(spec.name);
  if (best.empty()) return instance.plugin_mark;
  if (auto it = instance.options.find(best); it != instance.options.end()) return it->second.mark;
  SourceMark m = instance.options_mark;
  m.key += "." + best;
  return m;
}

void try_instances(const LoadedPlugins& loaded) {
  for (const auto& e : loaded.transports) {
    auto made = e.library->create_transport(e.options);
    if (!made.object) refuse(e, made.error);
  }
  for (const auto& e : loaded.handlers) {
    auto made = e.library->create_handler(e.options);
    if (!made.object) refuse(e, made.error);
  }
}

Pipeline::Pipeline(const Config& config, Metrics& metrics) : config_(config), metrics_(metrics) {}

Pipeline::~Pipeline() {
  stop();
  // Objects before libraries: each PluginInstance destroys its object first (member order);
  // the bus holds raw pointers into them, so it goes first.
  bus_.reset();
  handlers_.clear();
  transports_.clear();
}

void Pipeline::publish(const Message& msg, PublishCallback done) {
  if (Transport* t = output_for(msg.topic)) {
    t->publish(msg, std::move(done));
    return;
  }
  if (done) done(Status::error("no output transport for topic \"" + msg.topic + "\""));
}

Transport* Pipeline::output_for(const std::string& topic) const {
  auto it = output_by_topic_.find(topic);
  return it != output_by_topic_.end() ? it->second : default_output_;
}

void Pipeline::build() {
  auto loaded = load_plugins(config_);
  auto publish_fn = [this](const Message& m, PublishCallback d) { publish(m, std::move(d)); };
  for (auto& e : loaded.transports) {
    auto made = e.library->create_transport(e.options);
    if (!made.object) refuse(e, made.error);
    transports_.push_back({e.library, std::move(made.object), e.config->name});
  }
  // publish() runs for every emitted message: found by name, not by a scan of the instances.
  for (auto& t : transports_) transport_by_name_[t.name] = t.object.get();
  // config_.output_for's answer for every topic, resolved to its transport once.
  for (const auto& [topic, name] : config_.outputs) {
    auto t = transport_by_name_.find(name);
    Transport* to = t == transport_by_name_.end() ? nullptr : t->second;
    if (topic == "*") {
      default_output_ = to;
    } else {
      output_by_topic_[topic] = to;
    }
  }
  for (auto& e : loaded.handlers) {
    auto made = e.library->create_handler(e.options);
    if (!made.object) refuse(e, made.error);
    handlers_.push_back({e.library, std::move(made.object), e.config->name});
  }
  for (const auto& t : config_.transports) {
    services_.push_back(std::make_unique<InstanceServices>(t.name, metrics_, publish_fn));
  }
  for (const auto& h : config_.handlers) {
    services_.push_back(std::make_unique<InstanceServices>(h.name, metrics_, publish_fn));
  }

  std::vector<Transport*> tptrs;
  std::vector<std::string> tnames;
  for (auto& t : transports_) {
    tptrs.push_back(t.object.get());
    tnames.push_back(t.name);
  }
  std::vector<BusHandler> hs;
  for (std::size_t i = 0; i < handlers_.size(); ++i) {
    hs.push_back({handlers_[i].name, handlers_[i].object.get(), config_.handlers[i].batch_size});
  }
  auto index_of = [](const auto& list, const std::string& name) {
    for (std::size_t i = 0; i < list.size(); ++i)
      if (list[i].name == name) return i;
    return list.size();
  };
  std::vector<BusRoute> routes;
  for (const auto& r : config_.routes) {
    routes.push_back(
        {r.topic, index_of(transports_, r.transport), index_of(handlers_, r.handler), r.key_field});
  }
  BusOptions bo{config_.bus, config_.max_message_bytes, config_.dead_letter_topic,
                [this](const std::string& topic) { return output_for(topic) != nullptr; }};
  bus_ = std::make_unique<Bus>(bo, tptrs, tnames, hs, routes, publish_fn, metrics_);
}

Status Pipeline::start() {
  std::size_t workers = std::max<std::size_t>(1, config_.bus.workers);
  for (std::size_t i = 0; i < transports_.size(); ++i) {
    TransportContext ctx;
    ctx.host = services_[i].get();
    ctx.sink = &bus_->sink(i);
    for (const auto& r : config_.routes) {
      if (r.transport == transports_[i].name) ctx.topics.push_back(r.topic);
    }
    auto st = transports_[i].object->start(ctx);
    if (!st)
      return Status::error(
          fmt::format("transport {} failed to start: {}", transports_[i].name, st.message()));
    ++transports_started_;
    log_info("transport started",
             {{"name", transports_[i].name}, {"plugin", transports_[i].library->name()}});
  }
  for (std::size_t i = 0; i < handlers_.size(); ++i) {
    HandlerContext ctx;
    ctx.host = services_[transports_.size() + i].get();
    ctx.workers = workers;
    ctx.max_batch = config_.handlers[i].batch_size;
    auto st = handlers_[i].object->start(ctx);
    if (!st)
      return Status::error(
          fmt::format("handler {} failed to start: {}", handlers_[i].name, st.message()));
    ++handlers_started_;
    log_info("handler started",
             {{"name", handlers_[i].name}, {"plugin", handlers_[i].library->name()}});
  }
  bus_->start();
  started_ = true;
  return Status::ok();
}

void Pipeline::stop() {
  if (stopped_ || !bus_) return;
  stopped_ = true;
  // Closed first: an acknowledgement that brought the bus under its resume mark could otherwise
  // resume a transport right after the pause below.
  bus_->close();
  for (std::size_t i = 0; i < transports_started_; ++i) transports_[i].object->pause();
  if (started_) {
    bool drained = bus_->drain(config_.bus.drain_timeout);
    if (!drained) {
      log_warn("drain timed out; unfinished messages stay unacknowledged",
               {{"in_flight", std::to_string(bus_->in_flight())}});
    }
  }
  bus_->stop();
  for (std::size_t i = handlers_started_; i-- > 0;) {
    handlers_[i].object->stop();
    log_info("handler stopped", {{"name", handlers_[i].name}});
  }
  for (std::size_t i = transports_started_; i-- > 0;) {
    transports_[i].object->stop();
    log_info("transport stopped", {{"name", transports_[i].name}});
  }
}

bool Pipeline::ready(std::string* why) const {
  if (!started_ || stopped_) {
    if (why) *why = stopped_ ? "stopping" : "starting";
    return false;
  }
  for (const auto& t : transports_) {
    if (!t.object->ready()) {
      if (why) *why = "transport " + t.name + " not ready";
      return false;
    }
  }
  for (const auto& h : handlers_) {
    if (!h.object->ready()) {
      if (why) *why = "handler " + h.name + " not ready";
      return false;
    }
  }
  return true;
}

}  // namespace sidecar::host
