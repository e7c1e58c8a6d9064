#include "config/env_expand.hpp"

#include <cstdlib>
#include <stdexcept>

namespace sidecar::host {

std::string expand_env(const std::string& text, const EnvLookup& lookup) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c != '$' || i + 1 >= text.size()) {
      out += c;
      continue;
    }
    if (text[i + 1] == '$') {
      out += '$';
      ++i;
      continue;
    }
    if (text[i + 1] != '{') {
      out += c;
      continue;
    }
    auto close = text.find('}', i + 2);
    if (close == std::string::npos) {
      throw std::invalid_argument("unterminated ${ in \"" + text + "\"");
    }
    std::string inner = text.substr(i + 2, close - i - 2);
    std::string name = inner;
    std::optional<std::string> fallback;
    if (auto sep = inner.find(":-"); sep != std::string::npos) {
      name = inner.substr(0, sep);
      fallback = inner.substr(sep + 2);
    }
    if (name.empty()) throw std::invalid_argument("empty variable name in \"" + text + "\"");
    auto value = lookup(name);
    // As in the shell, ":-" also applies to a variable set to the empty string.
    if (value && !(value->empty() && fallback)) {
      out += *value;
    } else if (fallback) {
      out += *fallback;
    } else {
      throw std::invalid_argument("environment variable ${" + name +
                                  "} is not set and has no default");
    }
    i = close;
  }
  return out;
}

std::string expand_env(const std::string& text) {
  return expand_env(text, [](const std::string& name) -> std::optional<std::string> {
    if (const char* v = std::getenv(name.c_str())) return std::string(v);
    return std::nullopt;
  });
}

}  // namespace sidecar::host
