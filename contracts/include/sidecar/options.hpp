#pragma once
// Declared options (Fluent Bit's config_map, Kafka Connect's ConfigDef): a plugin declares what it
// takes; the host validates the YAML against the declaration before the plugin is made, so a
// plugin reads typed values and never parses YAML itself.
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

namespace sidecar {

enum class OptionType {
  string,
  integer,
  boolean,
  duration,  // "250ms", "5s", "2m", "1h" or an integer of milliseconds
  string_list,
  map,  // a prefix option: `name: {k: v}` or flat `name.k: v`; values passed through untouched
};

const char* to_string(OptionType type);

struct OptionSpec {
  std::string name;
  OptionType type = OptionType::string;
  std::string default_value;  // as it would be written in YAML; empty with required = no default
  bool required = false;
  std::string description;
  bool secret = false;  // redacted wherever config is printed
};

using OptionValue = std::variant<std::string, std::int64_t, bool, std::chrono::milliseconds,
                                 std::vector<std::string>, std::map<std::string, std::string>>;

// The validated options of one plugin instance. Every declared option with a default is present.
class Options {
 public:
  Options() = default;
  explicit Options(std::map<std::string, OptionValue> values) : values_(std::move(values)) {}

  [[nodiscard]] bool has(const std::string& name) const { return values_.count(name) != 0; }
  [[nodiscard]] std::string get_string(const std::string& name) const {
    return get<std::string>(name);
  }
  [[nodiscard]] std::int64_t get_int(const std::string& name) const {
    return get<std::int64_t>(name);
  }
  [[nodiscard]] bool get_bool(const std::string& name) const { return get<bool>(name); }
  [[nodiscard]] std::chrono::milliseconds get_duration(const std::string& name) const {
    return get<std::chrono::milliseconds>(name);
  }
  [[nodiscard]] std::vector<std::string> get_list(const std::string& name) const {
    return get<std::vector<std::string>>(name);
  }
  [[nodiscard]] std::map<std::string, std::string> get_map(const std::string& name) const {
    return get<std::map<std::string, std::string>>(name);
  }
  [[nodiscard]] const std::map<std::string, OptionValue>& values() const { return values_; }
  void set(const std::string& name, OptionValue value) { values_[name] = std::move(value); }

 private:
  template <class T>
  T get(const std::string& name) const {
    auto it = values_.find(name);
    if (it == values_.end()) throw std::out_of_range("option not set: " + name);
    if (const T* v = std::get_if<T>(&it->second)) return *v;
    throw std::invalid_argument("option has another type: " + name);
  }
  std::map<std::string, OptionValue> values_;
};

inline const char* to_string(OptionType type) {
  switch (type) {
    case OptionType::string: return "string";
    case OptionType::integer: return "integer";
    case OptionType::boolean: return "boolean";
    case OptionType::duration: return "duration";
    case OptionType::string_list: return "string list";
    case OptionType::map: return "map";
  }
  return "unknown";
}

}  // namespace sidecar
