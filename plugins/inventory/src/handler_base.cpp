#include "inventory/handler_base.hpp"

#include "inventory/migrations.hpp"

namespace sidecar::inventory {

InventoryHandler::InventoryHandler(CommonSettings settings, PgSession::Prepare prepare)
    : settings_(std::move(settings)), prepare_(std::move(prepare)) {}

InventoryHandler::~InventoryHandler() = default;

Status InventoryHandler::start(const HandlerContext& ctx) noexcept {
  try {
    if (ctx.host == nullptr) return Status::error("no host services");
    if (!workers_.empty()) return Status::error("already started");
    host_ = ctx.host;
    max_batch_ = ctx.max_batch;
    for (std::size_t i = 0; i < std::max<std::size_t>(1, ctx.workers); ++i) {
      workers_.push_back(std::make_unique<Worker>(settings_, prepare_, host_));
    }
    // Every worker connects now rather than at its first message: a new backend's first
    // statements load its catalog caches (measured ~100 ms), which the first orders would wait.
    // A database that is down at start is not fatal: messages are retried until it is back,
    // and ready() says so meanwhile.
    bool any = false;
    std::string why;
    for (auto& w : workers_) {
      try {
        w->pg.get();
        any = true;
      } catch (const std::exception& e) {
        why = e.what();
      }
    }
    note_db(any);
    if (!why.empty()) {
      host_->log(LogLevel::warn, "database not reachable yet by every worker: " + why);
    }
    if (settings_.relay) {
      relay_ = std::make_unique<OutboxRelay>(RelayConfig{settings_.pg_dsn}, host_);
      relay_->start();
    }
    return start_more();
  } catch (const std::exception& e) {
    stop();
    return Status::error(e.what());
  }
}

void InventoryHandler::stop() noexcept {
  stop_more();
  if (relay_) {
    relay_->stop();
    relay_.reset();
  }
  workers_.clear();
}

Status InventoryHandler::migrate(const MigrateContext& ctx) noexcept {
  try {
    run_migrations(settings_.pg_dsn, ctx.migrations_dir, ctx.host);
    return Status::ok();
  } catch (const std::exception& e) {
    return Status::error(e.what());
  }
}

void InventoryHandler::Worker::check_epoch() noexcept {
  if (!redis.enabled()) return;
  if (!pg.connected()) {
    redis.set_namespace({});
    return;
  }
  auto now = std::chrono::steady_clock::now();
  if (now - epoch_read_at < kEpochRecheck) return;
  try {
    redis.set_namespace(read_store_epoch(pg.get()));
    epoch_read_at = now;
  } catch (const pqxx::undefined_table&) {
    // Not migrated (yet): no Redis, and look again a recheck later.
    redis.set_namespace({});
    epoch_read_at = now;
  } catch (const std::exception&) {
    // Most likely the connection broke (a database dropped under it): the next statement
    // reconnects and reads the epoch anew.
    pg.reset();
    redis.set_namespace({});
  }
}

InventoryHandler::Worker* InventoryHandler::worker(std::size_t index) noexcept {
  if (index >= workers_.size()) return nullptr;
  return workers_[index].get();
}

void InventoryHandler::note_db(bool ok) noexcept {
  if (db_ok_.exchange(ok) != ok && host_ != nullptr) {
    host_->log(ok ? LogLevel::info : LogLevel::warn,
               ok ? "database reachable" : "database unreachable: messages are retried");
  }
}

}  // namespace sidecar::inventory
