#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sidecar {

using Header = std::pair<std::string, std::string>;

// An owned value: nothing in it points into a transport's buffers, so it can cross threads and
// outlive the poll that produced it.
struct Message {
  std::string id;  // unique per delivery within a transport (e.g. "order/3@1042")
  std::string topic;
  std::string key;      // per-key order is kept for equal keys; empty = no ordering constraint
  std::string payload;  // raw bytes, usually UTF-8 JSON
  std::vector<Header> headers;
  // Set by the transport that delivered the message; handed back to it with the ack.
  std::uint64_t delivery_tag = 0;

  [[nodiscard]] std::optional<std::string> header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
      if (k == name) return v;
    }
    return std::nullopt;
  }
  void set_header(std::string name, std::string value) {
    for (auto& [k, v] : headers) {
      if (k == name) {
        v = std::move(value);
        return;
      }
    }
    headers.emplace_back(std::move(name), std::move(value));
  }
};

}  // namespace sidecar
