#include "inventory/settings.hpp"

#include <stdexcept>

#include "inventory/redis_dedupe.hpp"

namespace sidecar::inventory {

std::vector<OptionSpec> common_option_specs(const std::vector<CommonOption>& which,
                                            const std::string& relay_default) {
  std::vector<OptionSpec> specs;
  for (CommonOption o : which) {
    switch (o) {
      case CommonOption::pg_dsn:
        specs.push_back({"pg_dsn", OptionType::string, "", true,
                         "PostgreSQL connection string (libpq URI or key=value)", true});
        break;
      case CommonOption::redis_url:
        specs.push_back({"redis_url", OptionType::string, "", false,
                         "redis://host:port[/db] for the duplicate fast path; empty = no Redis",
                         false});
        break;
      case CommonOption::dedupe_ttl:
        specs.push_back({"dedupe_ttl", OptionType::duration, "24h", false,
                         "how long Redis remembers a handled key (PostgreSQL keeps it for good)",
                         false});
        break;
      case CommonOption::max_message_bytes:
        specs.push_back({"max_message_bytes", OptionType::integer, "1048576", false,
                         "larger payloads are dead-lettered unread", false});
        break;
    }
  }
  if (!relay_default.empty()) {
    specs.push_back({"relay", OptionType::boolean, relay_default, false,
                     "run the outbox relay (publishes emitted events) in this instance", false});
  }
  return specs;
}

CommonSettings read_common_settings(const Options& options) {
  CommonSettings s;
  s.pg_dsn = options.get_string("pg_dsn");
  if (s.pg_dsn.empty()) throw std::invalid_argument("pg_dsn: must not be empty");
  if (options.has("redis_url")) s.redis_url = options.get_string("redis_url");
  if (!s.redis_url.empty() && !parse_redis_url(s.redis_url)) {
    throw std::invalid_argument("redis_url: expected redis://[:password@]host[:port][/db]");
  }
  if (options.has("dedupe_ttl")) {
    s.dedupe_ttl = options.get_duration("dedupe_ttl");
    if (!s.redis_url.empty() && s.dedupe_ttl < std::chrono::seconds(1)) {
      throw std::invalid_argument("dedupe_ttl: must be at least 1s");
    }
  }
  if (options.has("max_message_bytes")) {
    std::int64_t n = options.get_int("max_message_bytes");
    if (n <= 0) throw std::invalid_argument("max_message_bytes: must be positive");
    s.max_message_bytes = static_cast<std::size_t>(n);
  }
  if (options.has("relay")) s.relay = options.get_bool("relay");
  return s;
}

}  // namespace sidecar::inventory
