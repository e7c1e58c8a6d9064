#pragma once
// Redis as the fast path of the duplicate check: asked before the transaction, told after the
// commit. It is never the authority (the handled-keys table is), so every Redis fault is
// swallowed: the client backs off, reconnects later, and until then answers "not seen".
// One instance per worker: a hiredis context is not thread-safe.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

struct redisContext;

namespace sidecar {
class HostServices;
}

namespace sidecar::inventory {

struct RedisAddress {
  std::string host;
  int port = 6379;
  int db = 0;
  std::string password;
};

// redis://[[user]:password@]host[:port][/db]; nothing for anything else.
std::optional<RedisAddress> parse_redis_url(const std::string& url);

class RedisDedupe {
 public:
  // `url` empty: disabled, every key is "not seen". Throws std::invalid_argument on a bad URL.
  RedisDedupe(const std::string& url, std::chrono::milliseconds ttl, HostServices* host);
  ~RedisDedupe();
  RedisDedupe(const RedisDedupe&) = delete;
  RedisDedupe& operator=(const RedisDedupe&) = delete;

  // One answer per key: true only when Redis says the key was handled. One MGET.
  std::vector<bool> seen(const std::vector<std::string>& keys) noexcept;
  // After commit: these keys are handled (or known duplicates). Sends the SETs without waiting
  // for their replies, which are read at the next use of the connection: the messages' outcomes
  // do not wait a Redis round trip. Redis answers in order, so the next seen() on this
  // connection already sees them; another worker may not yet, and then asks the database.
  void remember(const std::vector<std::string>& keys) noexcept;

  [[nodiscard]] bool enabled() const noexcept { return address_.has_value(); }

  // The database's epoch (migrations/0007_store_epoch.sql), read when a worker connects to it.
  // Keys are namespaced by it; until it is known, every key is "not seen" and nothing is told.
  void set_namespace(std::string epoch) noexcept { namespace_ = std::move(epoch); }

 private:
  redisContext* connection() noexcept;
  // Reads the replies remember() left unread; false (connection dropped) when that fails.
  bool drain(redisContext* ctx) noexcept;
  void drop(const char* what) noexcept;

  [[nodiscard]] std::string redis_key(const std::string& idempotent_key) const;

  std::optional<RedisAddress> address_;
  std::string namespace_;
  std::string ttl_seconds_;
  HostServices* host_;
  struct ContextDeleter {
    void operator()(redisContext* ctx) const noexcept;
  };
  std::unique_ptr<redisContext, ContextDeleter> ctx_;
  std::chrono::steady_clock::time_point next_attempt_{};
  std::chrono::milliseconds backoff_{0};
  std::size_t unread_ = 0;  // replies to remember()'s SETs not read yet
};

}  // namespace sidecar::inventory
