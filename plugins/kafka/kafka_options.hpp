#pragma once
// The kafka plugin's declared options and how they become librdkafka configurations.
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "kafka_handles.hpp"
#include "sidecar/options.hpp"

namespace sidecar::kafka {

struct KafkaSettings {
  std::string brokers;
  std::string group_id;
  std::string client_id;
  std::map<std::string, std::string> librdkafka;
  std::chrono::milliseconds commit_interval{1000};
  std::chrono::milliseconds poll_timeout{100};
  std::chrono::milliseconds revoke_timeout{10'000};
  std::int64_t max_message_bytes = 1'048'576;
  std::string listen_offset_reset = "latest";
};

std::vector<OptionSpec> option_specs();

// Throws std::invalid_argument naming the option when a value cannot be used.
KafkaSettings parse_settings(const Options& options);

enum class ClientRole {
  group_consumer,  // `sidecar run`: the consumer group, offsets committed by hand
  producer,
  listener,  // `sidecar listen` and request replies: no commits, starts at the end
};

struct ConfResult {
  ConfHandle conf;
  std::string error;  // set when a property was refused; names the property
  std::vector<std::string> warnings;
};

// Our defaults for the role, then `librdkafka` passed through, then the few properties the
// transport's guarantees depend on. `group_id` overrides settings.group_id when not empty.
ConfResult build_conf(const KafkaSettings& settings, ClientRole role,
                      const std::string& group_id = {});

// "k=v, k=v" with secret values redacted, for a debug log line.
std::string describe_properties(const std::map<std::string, std::string>& properties);

}  // namespace sidecar::kafka
