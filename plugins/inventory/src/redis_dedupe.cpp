#include "inventory/redis_dedupe.hpp"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <stdexcept>

#include "sidecar/host_services.hpp"

namespace sidecar::inventory {
namespace {

constexpr std::chrono::milliseconds kMinBackoff{100};
constexpr std::chrono::milliseconds kMaxBackoff{5000};
constexpr timeval kIoTimeout{0, 200'000};

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

Reply next_reply(redisContext* ctx) {
  void* raw = nullptr;
  if (redisGetReply(ctx, &raw) != REDIS_OK) return nullptr;
  return Reply(static_cast<redisReply*>(raw));
}

std::optional<int> parse_int(const std::string& s) {
  if (s.empty() || s.size() > 9) return std::nullopt;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

}  // namespace

std::optional<RedisAddress> parse_redis_url(const std::string& url) {
  const std::string scheme = "redis://";
  if (url.rfind(scheme, 0) != 0) return std::nullopt;
  std::string rest = url.substr(scheme.size());
  RedisAddress a;
  if (auto at = rest.rfind('@'); at != std::string::npos) {
    std::string auth = rest.substr(0, at);
    auto colon = auth.find(':');
    a.password = colon == std::string::npos ? auth : auth.substr(colon + 1);
    rest = rest.substr(at + 1);
  }
  if (auto slash = rest.find('/'); slash != std::string::npos) {
    std::string db = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
    if (!db.empty()) {
      auto n = parse_int(db);
      if (!n) return std::nullopt;
      a.db = *n;
    }
  }
  if (auto colon = rest.rfind(':'); colon != std::string::npos) {
    auto port = parse_int(rest.substr(colon + 1));
    if (!port || *port <= 0 || *port > 65535) return std::nullopt;
    a.port = *port;
    rest = rest.substr(0, colon);
  }
  if (rest.empty()) return std::nullopt;
  a.host = rest;
  return a;
}

RedisDedupe::RedisDedupe(const std::string& url, std::chrono::milliseconds ttl, HostServices* host)
    : host_(host) {
  if (url.empty()) return;
  address_ = parse_redis_url(url);
  if (!address_) throw std::invalid_argument("redis_url: expected redis://host:port[/db]");
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(ttl).count();
  ttl_seconds_ = std::to_string(std::max<long long>(1, secs));
}

RedisDedupe::~RedisDedupe() = default;

std::string RedisDedupe::redis_key(const std::string& idempotent_key) const {
  return "sidecar:idem:" + namespace_ + ":" + idempotent_key;
}

void RedisDedupe::ContextDeleter::operator()(redisContext* ctx) const noexcept { redisFree(ctx); }

void RedisDedupe::drop(const char* what) noexcept {
  if (host_ != nullptr && backoff_ == std::chrono::milliseconds{0}) {
    std::string msg = std::string("redis unavailable, running without the fast path: ") + what;
    host_->log(LogLevel::warn, msg);
  }
  ctx_.reset();
  unread_ = 0;
  backoff_ = std::clamp(backoff_ * 2, kMinBackoff, kMaxBackoff);
  next_attempt_ = std::chrono::steady_clock::now() + backoff_;
}

redisContext* RedisDedupe::connection() noexcept {
  if (!address_) return nullptr;
  if (ctx_) return ctx_.get();
  if (std::chrono::steady_clock::now() < next_attempt_) return nullptr;
  ctx_.reset(redisConnectWithTimeout(address_->host.c_str(), address_->port, kIoTimeout));
  if (!ctx_ || ctx_->err != 0) {
    std::string why = ctx_ ? ctx_->errstr : "out of memory";
    drop(why.c_str());
    return nullptr;
  }
  redisSetTimeout(ctx_.get(), kIoTimeout);
  auto setup = [&](std::vector<std::string> args) {
    std::vector<const char*> argv;
    std::vector<std::size_t> lens;
    for (const auto& a : args) {
      argv.push_back(a.c_str());
      lens.push_back(a.size());
    }
    Reply r(static_cast<redisReply*>(
        redisCommandArgv(ctx_.get(), static_cast<int>(argv.size()), argv.data(), lens.data())));
    return r && r->type != REDIS_REPLY_ERROR;
  };
  if ((!address_->password.empty() && !setup({"AUTH", address_->password})) ||
      (address_->db != 0 && !setup({"SELECT", std::to_string(address_->db)}))) {
    drop("AUTH or SELECT refused");
    return nullptr;
  }
  if (backoff_ != std::chrono::milliseconds{0} && host_ != nullptr) {
    host_->log(LogLevel::info, "redis reachable again");
  }
  backoff_ = std::chrono::milliseconds{0};
  return ctx_.get();
}

bool RedisDedupe::drain(redisContext* ctx) noexcept {
  while (unread_ > 0) {
    if (!next_reply(ctx)) {
      std::string why = ctx->errstr;
      drop(why.c_str());
      return false;
    }
    --unread_;
  }
  return true;
}

std::vector<bool> RedisDedupe::seen(const std::vector<std::string>& keys) noexcept {
  std::vector<bool> out(keys.size(), false);
  try {
    redisContext* ctx = keys.empty() || namespace_.empty() ? nullptr : connection();
    if (ctx == nullptr || !drain(ctx)) return out;
    // One MGET for the whole batch: one round trip, and one command for Redis to run instead of
    // an EXISTS per key (Redis's CPU is shared with everything else on a small machine).
    std::vector<std::string> rks;
    rks.reserve(keys.size());
    for (const auto& k : keys) rks.push_back(redis_key(k));
    std::vector<const char*> argv{"MGET"};
    std::vector<std::size_t> lens{4};
    for (const auto& rk : rks) {
      argv.push_back(rk.c_str());
      lens.push_back(rk.size());
    }
    if (redisAppendCommandArgv(ctx, static_cast<int>(argv.size()), argv.data(), lens.data()) !=
        REDIS_OK) {
      std::string why = ctx->errstr;
      drop(why.c_str());
      return std::vector<bool>(keys.size(), false);
    }
    Reply r = next_reply(ctx);
    if (!r) {
      std::string why = ctx->errstr;
      drop(why.c_str());
      return std::vector<bool>(keys.size(), false);
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != keys.size()) return out;
    for (std::size_t i = 0; i < keys.size(); ++i) {
      out[i] = r->element[i]->type != REDIS_REPLY_NIL;
    }
  } catch (...) {
    return std::vector<bool>(keys.size(), false);
  }
  return out;
}

void RedisDedupe::remember(const std::vector<std::string>& keys) noexcept {
  try {
    redisContext* ctx = keys.empty() || namespace_.empty() ? nullptr : connection();
    // Draining first keeps the unread replies to one batch's worth.
    if (ctx == nullptr || !drain(ctx)) return;
    for (const auto& k : keys) {
      std::string rk = redis_key(k);
      const char* argv[] = {"SET", rk.c_str(), "1", "EX", ttl_seconds_.c_str()};
      const std::size_t lens[] = {3, rk.size(), 1, 2, ttl_seconds_.size()};
      if (redisAppendCommandArgv(ctx, 5, argv, lens) != REDIS_OK) {
        std::string why = ctx->errstr;
        drop(why.c_str());
        return;
      }
    }
    unread_ += keys.size();
    // Only the write: the replies are read by the next seen() or remember() (drain()).
    int done = 0;
    while (done == 0) {
      if (redisBufferWrite(ctx, &done) != REDIS_OK) {
        std::string why = ctx->errstr;
        drop(why.c_str());
        return;
      }
    }
  } catch (...) {
    // Redis only speeds things up; losing a remember costs one database round trip later.
  }
}

}  // namespace sidecar::inventory
