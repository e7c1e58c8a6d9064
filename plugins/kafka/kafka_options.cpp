#include "kafka_options.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "sidecar/option_parse.hpp"

namespace sidecar::kafka {

namespace {

// Headroom above max_message_bytes for headers and batch framing, so that a message of the
// largest accepted size can still be produced (a dead letter carries its original bytes).
constexpr std::int64_t kFramingHeadroom = 64 * 1024;
constexpr int kQueuedMinMessages = 1'000'000;

// Properties the acknowledgement contract depends on: committing by hand, only what is final.
std::vector<std::pair<std::string, std::string>> forced_properties(ClientRole role) {
  switch (role) {
    case ClientRole::group_consumer:
    case ClientRole::listener:
      return {{"enable.auto.commit", "false"}, {"enable.auto.offset.store", "false"}};
    case ClientRole::producer: return {};
  }
  return {};
}

// Which clients a property is for, from librdkafka's own table (its C/P column: C consumers
// only, P producers only, * both). One `librdkafka` map configures all of the transport's
// clients; without this, each client would log a CONFWARN line at start for every property
// meant for the other kind.
const std::map<std::string, char>& property_scopes() {
  static const std::map<std::string, char> scopes = [] {
    std::map<std::string, char> out;
    char* raw = nullptr;
    size_t size = 0;
    FILE* stream = open_memstream(&raw, &size);
    if (stream == nullptr) return out;
    rd_kafka_conf_properties_show(stream);
    std::fclose(stream);
    std::unique_ptr<char, decltype(&std::free)> text(raw, &std::free);
    std::istringstream lines(std::string(text.get(), size));
    std::string line;
    while (std::getline(lines, line)) {
      auto bar = line.find('|');
      if (bar == std::string::npos || bar + 4 >= line.size()) continue;
      std::string name = line.substr(0, line.find_last_not_of(' ', bar - 1) + 1);
      char scope = line[bar + 3];  // "name | C | ..."
      if (scope != 'C' && scope != 'P' && scope != '*') continue;
      // A name listed twice (global and topic level) with different scopes is for both.
      auto [it, fresh] = out.emplace(name, scope);
      if (!fresh && it->second != scope) it->second = '*';
    }
    return out;
  }();
  return scopes;
}

bool meant_for_other_clients(const std::string& property, ClientRole role) {
  auto it = property_scopes().find(property);
  if (it == property_scopes().end()) return false;  // unknown: librdkafka says what is wrong
  return role == ClientRole::producer ? it->second == 'C' : it->second == 'P';
}

}  // namespace

std::vector<OptionSpec> option_specs() {
  return {
      {"brokers", OptionType::string, "", true, "Kafka bootstrap servers, host:port[,host:port...]",
       false},
      {"group_id", OptionType::string, "sidecar", false,
       "consumer group of `sidecar run`; its members share the partitions", false},
      {"client_id", OptionType::string, "sidecar", false, "client.id sent to the brokers", false},
      {"librdkafka", OptionType::map, "", false,
       "librdkafka properties passed through untouched (security.protocol, sasl.*, ssl.*, "
       "auto.offset.reset (default earliest), ...); enable.auto.commit and "
       "enable.auto.offset.store stay false",
       false},
      {"commit_interval", OptionType::duration, "1s", false,
       "how often finished offsets are committed", false},
      {"poll_timeout", OptionType::duration, "100ms", false,
       "how long one poll waits for messages; bounds how fast stop and pause take effect", false},
      {"revoke_timeout", OptionType::duration, "10s", false,
       "how long a rebalance or a stop waits for in-flight messages before giving up partitions",
       false},
      {"max_message_bytes", OptionType::integer, "1048576", false,
       "largest message produced or fetched", false},
      {"listen_offset_reset", OptionType::string, "latest", false,
       "where `sidecar listen` starts: latest or earliest", false},
  };
}

KafkaSettings parse_settings(const Options& options) {
  KafkaSettings s;
  s.brokers = options.get_string("brokers");
  if (s.brokers.empty()) throw std::invalid_argument("option brokers: must not be empty");
  if (options.has("group_id")) s.group_id = options.get_string("group_id");
  if (s.group_id.empty()) s.group_id = "sidecar";
  if (options.has("client_id")) s.client_id = options.get_string("client_id");
  if (s.client_id.empty()) s.client_id = "sidecar";
  if (options.has("librdkafka")) s.librdkafka = options.get_map("librdkafka");
  if (options.has("commit_interval")) s.commit_interval = options.get_duration("commit_interval");
  if (options.has("poll_timeout")) s.poll_timeout = options.get_duration("poll_timeout");
  if (options.has("revoke_timeout")) s.revoke_timeout = options.get_duration("revoke_timeout");
  if (options.has("max_message_bytes")) {
    s.max_message_bytes = options.get_int("max_message_bytes");
  }
  if (options.has("listen_offset_reset")) {
    s.listen_offset_reset = options.get_string("listen_offset_reset");
  }
  if (s.commit_interval.count() <= 0) {
    throw std::invalid_argument("option commit_interval: must be positive");
  }
  if (s.poll_timeout.count() <= 0) {
    throw std::invalid_argument("option poll_timeout: must be positive");
  }
  if (s.revoke_timeout.count() < 0) {
    throw std::invalid_argument("option revoke_timeout: must not be negative");
  }
  if (s.max_message_bytes <= 0 || s.max_message_bytes > 1'000'000'000 - kFramingHeadroom) {
    throw std::invalid_argument("option max_message_bytes: must be between 1 and 999934464");
  }
  if (s.listen_offset_reset != "latest" && s.listen_offset_reset != "earliest") {
    throw std::invalid_argument("option listen_offset_reset: must be latest or earliest");
  }
  return s;
}

std::string describe_properties(const std::map<std::string, std::string>& properties) {
  std::string out;
  for (const auto& [k, v] : properties) {
    if (!out.empty()) out += ", ";
    out += k;
    out += '=';
    out += is_secret_key(k) ? std::string("<redacted>") : v;
  }
  return out;
}

ConfResult build_conf(const KafkaSettings& settings, ClientRole role, const std::string& group_id) {
  ConfResult result;
  result.conf.reset(rd_kafka_conf_new());
  const std::int64_t max_bytes = settings.max_message_bytes + kFramingHeadroom;

  std::vector<std::pair<std::string, std::string>> props = {
      {"bootstrap.servers", settings.brokers},
      {"client.id", settings.client_id},
  };
  switch (role) {
    case ClientRole::group_consumer:
      props.emplace_back("group.id", group_id.empty() ? settings.group_id : group_id);
      // A new group reads what was produced before it joined, as a Kafka Connect sink does.
      props.emplace_back("auto.offset.reset", "earliest");
      props.emplace_back("fetch.message.max.bytes", std::to_string(max_bytes));
      // A subscribed topic created after the start is found at the next metadata refresh:
      // within seconds rather than librdkafka's default five minutes.
      props.emplace_back("topic.metadata.refresh.interval.ms", "10000");
      // librdkafka 2.0 stops fetching once this many messages wait in the consumer's queue and
      // looks again only a second later, whatever was taken meanwhile (2.2 made that second
      // fetch.queue.backoff.ms). The host takes
      // nothing while it pushes back, so the queue fills; with the default 100,000 it drains in
      // a fraction of that second and the sidecar idles for the rest (measured: bursts of 160,000
      // messages a second apart, 165,000 msgs/s; 600,000 with this). Memory stays bounded by
      // queued.max.messages.kbytes (64 MiB of messages by default).
      props.emplace_back("queued.min.messages", std::to_string(kQueuedMinMessages));
      break;
    case ClientRole::listener:
      if (!group_id.empty()) props.emplace_back("group.id", group_id);
      props.emplace_back("auto.offset.reset", settings.listen_offset_reset);
      props.emplace_back("fetch.message.max.bytes", std::to_string(max_bytes));
      // Someone watching a topic that is about to be created wants to see it at once.
      props.emplace_back("topic.metadata.refresh.interval.ms", "1000");
      break;
    case ClientRole::producer:
      props.emplace_back("enable.idempotence", "true");
      props.emplace_back("message.max.bytes",
                         std::to_string(std::max<std::int64_t>(max_bytes, 1'000'000)));
      break;
  }
  for (const auto& [k, v] : settings.librdkafka) {
    if (!meant_for_other_clients(k, role)) props.emplace_back(k, v);
  }
  for (const auto& [k, v] : forced_properties(role)) {
    auto it = settings.librdkafka.find(k);
    if (it != settings.librdkafka.end() && it->second != v) {
      result.warnings.push_back(fmt::format(
          "librdkafka property {}={} ignored: the transport commits only finished offsets", k,
          it->second));
    }
    props.emplace_back(k, v);
  }

  char errstr[512];
  for (const auto& [k, v] : props) {
    if (rd_kafka_conf_set(result.conf.get(), k.c_str(), v.c_str(), errstr, sizeof errstr) !=
        RD_KAFKA_CONF_OK) {
      result.error = is_secret_key(k) ? fmt::format("librdkafka property {}: refused", k)
                                      : fmt::format("librdkafka property {}={}: {}", k, v, errstr);
      result.conf.reset();
      return result;
    }
  }
  return result;
}

}  // namespace sidecar::kafka
