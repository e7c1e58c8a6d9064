#include "config/options_validator.hpp"

#include "config/config_error.hpp"
#include "sidecar/option_parse.hpp"

namespace sidecar::host {

namespace {

const OptionSpec* find_spec(const std::vector<OptionSpec>& specs, const std::string& name) {
  for (const auto& s : specs)
    if (s.name == name) return &s;
  return nullptr;
}

// `librdkafka.bootstrap.servers: x` belongs to the map option `librdkafka`.
const OptionSpec* prefix_spec(const std::vector<OptionSpec>& specs, const std::string& key,
                              std::string* rest) {
  for (const auto& s : specs) {
    if (s.type != OptionType::map) continue;
    if (key.size() > s.name.size() + 1 && key.compare(0, s.name.size(), s.name) == 0 &&
        key[s.name.size()] == '.') {
      *rest = key.substr(s.name.size() + 1);
      return &s;
    }
  }
  return nullptr;
}

std::string a_type(OptionType type) {
  std::string t = to_string(type);
  return (t[0] == 'i' ? "an " : "a ") + t;
}

OptionValue scalar_value(const OptionSpec& spec, const RawOption& raw) {
  if (raw.kind != RawOption::Kind::scalar) {
    throw ConfigError(raw.mark, "expected " + a_type(spec.type) + " value");
  }
  auto v = parse_scalar_option(spec.type, raw.scalar);
  if (!v) {
    std::string hint;
    if (spec.type == OptionType::duration) hint = " (such as 250ms, 5s or 2m)";
    if (spec.type == OptionType::boolean) hint = " (true or false)";
    throw ConfigError(raw.mark,
                      "expected " + a_type(spec.type) + hint + ", got \"" + raw.scalar + "\"");
  }
  return *v;
}

std::string known_list(const std::vector<OptionSpec>& specs) {
  std::string out;
  for (const auto& s : specs) out += (out.empty() ? "" : ", ") + s.name;
  return out.empty() ? "none" : out;
}

}  // namespace

Options validate_options(const PluginInstanceConfig& instance,
                         const std::vector<OptionSpec>& specs) {
  Options out;
  std::map<std::string, std::map<std::string, std::string>> maps;
  for (const auto& [key, raw] : instance.options) {
    const OptionSpec* spec = find_spec(specs, key);
    std::string rest;
    if (!spec) {
      if (const OptionSpec* p = prefix_spec(specs, key, &rest)) {
        if (raw.kind != RawOption::Kind::scalar) {
          throw ConfigError(raw.mark, "expected a single value");
        }
        maps[p->name][rest] = raw.scalar;
        continue;
      }
      throw ConfigError(raw.mark, "unknown option for plugin \"" + instance.plugin +
                                      "\" (it takes: " + known_list(specs) + ")");
    }
    switch (spec->type) {
      case OptionType::string_list:
        if (raw.kind == RawOption::Kind::sequence) {
          out.set(key, raw.items);
        } else if (raw.kind == RawOption::Kind::scalar) {
          out.set(key, std::vector<std::string>{raw.scalar});
        } else {
          throw ConfigError(raw.mark, "expected a list of values");
        }
        break;
      case OptionType::map:
        if (raw.kind != RawOption::Kind::map) throw ConfigError(raw.mark, "expected a map");
        for (const auto& [k, v] : raw.entries) maps[key][k] = v;
        break;
      default: out.set(key, scalar_value(*spec, raw)); break;
    }
  }
  for (const auto& spec : specs) {
    if (spec.type == OptionType::map) {
      out.set(spec.name, maps[spec.name]);
      continue;
    }
    if (out.has(spec.name)) continue;
    if (spec.required) {
      SourceMark m = instance.options_mark;
      m.key = instance.options_mark.key + "." + spec.name;
      throw ConfigError(m, "missing required option (" + spec.description + ")");
    }
    if (spec.type == OptionType::string_list) {
      std::vector<std::string> items;
      std::string cur;
      for (char ch : spec.default_value) {
        if (ch == ',') {
          if (!cur.empty()) items.push_back(cur);
          cur.clear();
        } else {
          cur += ch;
        }
      }
      if (!cur.empty()) items.push_back(cur);
      out.set(spec.name, items);
      continue;
    }
    if (spec.default_value.empty() && spec.type != OptionType::string) continue;
    auto v = parse_scalar_option(spec.type, spec.default_value);
    if (!v) {
      throw ConfigError(
          instance.plugin_mark,
          "plugin \"" + instance.plugin + "\" declares an invalid default for " + spec.name);
    }
    out.set(spec.name, *v);
  }
  return out;
}

std::string describe_options(const Options& options, const std::vector<OptionSpec>& specs) {
  std::string out;
  for (const auto& [name, value] : options.values()) {
    const OptionSpec* spec = find_spec(specs, name);
    bool secret = spec && spec->secret;
    out += "  " + name + ": ";
    if (secret) {
      out += "<redacted>\n";
      continue;
    }
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::string>) {
            // Credentials inside a URL (redis://:pw@host, postgresql://u:pw@host) are secrets too.
            auto scheme = v.find("://");
            auto at = v.find('@', scheme == std::string::npos ? 0 : scheme);
            if (scheme != std::string::npos && at != std::string::npos) {
              out += v.substr(0, scheme + 3) + "<redacted>" + v.substr(at);
            } else {
              out += v;
            }
          } else if constexpr (std::is_same_v<T, bool>) {
            out += v ? "true" : "false";
          } else if constexpr (std::is_same_v<T, std::int64_t>) {
            out += std::to_string(v);
          } else if constexpr (std::is_same_v<T, std::chrono::milliseconds>) {
            out += std::to_string(v.count()) + "ms";
          } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
            out += "[";
            for (std::size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + v[i];
            out += "]";
          } else {
            out += "{";
            bool first = true;
            for (const auto& [k, val] : v) {
              out += (first ? "" : ", ") + k + ": " + (is_secret_key(k) ? "<redacted>" : val);
              first = false;
            }
            out += "}";
          }
        },
        value);
    out += "\n";
  }
  return out;
}

}  // namespace sidecar::host
