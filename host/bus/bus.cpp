#include "bus/bus.hpp"

#include <fmt/format.h>

#include <functional>

#include "bus/backoff.hpp"
#include "bus/key_extract.hpp"
#include "log/logger.hpp"

namespace sidecar::host {

class Bus::Sink : public InboundSink {
 public:
  Sink(Bus& bus, std::size_t transport) : bus_(bus), transport_(transport) {}
  void deliver(Message msg) noexcept override {
    try {
      bus_.deliver(transport_, std::move(msg));
    } catch (const std::exception& e) {
      log_error("bus: deliver failed", {{"error", e.what()}});
    } catch (...) {
      log_error("bus: deliver failed", {{"error", "unknown exception"}});
    }
  }
  void deliver_burst(std::vector<Message>& msgs) noexcept override {
    try {
      bus_.deliver_burst(transport_, msgs);
    } catch (const std::exception& e) {
      log_error("bus: deliver failed", {{"error", e.what()}});
    } catch (...) {
      log_error("bus: deliver failed", {{"error", "unknown exception"}});
    }
  }

 private:
  Bus& bus_;
  std::size_t transport_;
};

Bus::Bus(BusOptions options, std::vector<Transport*> transports,
         std::vector<std::string> transport_names, std::vector<BusHandler> handlers,
         const std::vector<BusRoute>& routes, Publisher publisher, Metrics& metrics)
    : options_(std::move(options)),
      transports_(std::move(transports)),
      transport_names_(std::move(transport_names)),
      handlers_(std::move(handlers)),
      publisher_(std::move(publisher)),
      metrics_(metrics),
      in_flight_gauge_(&metrics.gauge("sidecar_bus_in_flight")),
      paused_gauge_(&metrics.gauge("sidecar_bus_paused")),
      unrouted_(&metrics.counter("sidecar_messages_unrouted_total")) {
  for (const auto& r : routes) {
    auto st = std::make_unique<RouteState>();
    st->route = r;
    Labels labels{{"topic", r.topic}, {"handler", handlers_[r.handler].name}};
    st->in = &metrics.counter("sidecar_messages_in_total", labels);
    st->handled = &metrics.counter("sidecar_messages_handled_total", labels);
    st->duplicates = &metrics.counter("sidecar_messages_duplicate_total", labels);
    st->dead = &metrics.counter("sidecar_messages_dead_lettered_total", labels);
    st->retries = &metrics.counter("sidecar_retries_total", labels);
    st->failures = &metrics.counter("sidecar_handler_failures_total", labels);
    st->latency = &metrics.histogram("sidecar_handler_duration_seconds",
                                     {{"handler", handlers_[r.handler].name}});
    if (routes_.size() <= r.transport) routes_.resize(r.transport + 1);
    routes_[r.transport][r.topic] = std::move(st);
  }
  for (std::size_t i = 0; i < transports_.size(); ++i)
    sinks_.push_back(std::make_unique<Sink>(*this, i));
  for (std::size_t i = 0; i < std::max<std::size_t>(1, options_.bus.workers); ++i) {
    workers_.push_back(std::make_unique<Worker>());
  }
}

Bus::~Bus() { stop(); }

InboundSink& Bus::sink(std::size_t transport) { return *sinks_[transport]; }

void Bus::start() {
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    workers_[i]->thread = std::thread([this, i] { worker_loop(i); });
  }
}

bool Bus::paused() const {
  std::lock_guard lock(pause_mu_);
  return paused_;
}

void Bus::set_paused(bool pause) {
  std::lock_guard lock(pause_mu_);
  if (pause == paused_) return;
  if (!pause && closing_) return;
  paused_ = pause;
  paused_hint_.store(pause, std::memory_order_relaxed);
  paused_gauge_->set(pause ? 1 : 0);
  for (auto* t : transports_) {
    if (pause) {
      t->pause();
    } else {
      t->resume();
    }
  }
}

std::optional<std::size_t> Bus::admit(std::size_t transport, Message& msg, Item& item) {
  RouteState* route = nullptr;
  if (transport < routes_.size()) {
    if (auto it = routes_[transport].find(msg.topic); it != routes_[transport].end()) {
      route = it->second.get();
    }
  }
  if (route == nullptr) {
    unrouted_->add(1);
    in_flight_.fetch_add(1);
    ack(transport, msg, Reply{"error", "no route for topic \"" + msg.topic + "\"", std::nullopt});
    return std::nullopt;
  }
  route->in->add(1);
  auto n = in_flight_.fetch_add(1) + 1;
  in_flight_gauge_->set(static_cast<double>(n));
  if (n >= options_.bus.queue_capacity) set_paused(true);

  item = Item{std::move(msg), transport, route, 0};
  if (item.msg.payload.size() > options_.max_message_bytes) {
    auto reason = fmt::format("too_large: {} bytes exceeds max_message_bytes {}",
                              item.msg.payload.size(), options_.max_message_bytes);
    dead_letter(std::move(item), std::move(reason), handlers_[route->route.handler].name);
    return std::nullopt;
  }
  if (item.msg.key.empty() && !route->route.key_field.empty()) {
    item.msg.key = extract_json_key(item.msg.payload, route->route.key_field);
  }
  return item.msg.key.empty() ? round_robin_.fetch_add(1) % workers_.size()
                              : std::hash<std::string>{}(item.msg.key) % workers_.size();
}

void Bus::enqueue(std::size_t w, Item item) {
  auto& worker = *workers_[w];
  bool wake = false;
  {
    std::lock_guard lock(worker.mu);
    worker.queue.push_back(std::move(item));
    wake = worker.idle;
  }
  // A busy worker takes the queue when it is done; waking it costs a system call per message.
  if (wake) worker.cv.notify_one();
}

void Bus::deliver(std::size_t transport, Message msg) {
  Item item;
  if (auto w = admit(transport, msg, item)) enqueue(*w, std::move(item));
}

void Bus::deliver_burst(std::size_t transport, std::vector<Message>& msgs) {
  // Sorted into per-worker runs first, so each worker's lock is taken, and the worker woken,
  // once per burst; per-key order holds because a key's messages keep their relative order.
  // The runs are the delivering thread's own and keep their capacity from burst to burst; they
  // are emptied before use, which also drops what a burst cut short by an exception left behind.
  thread_local std::vector<std::vector<Item>> runs;
  if (runs.size() < workers_.size()) runs.resize(workers_.size());
  for (auto& run : runs) run.clear();
  for (auto& m : msgs) {
    Item item;
    if (auto w = admit(transport, m, item)) runs[*w].push_back(std::move(item));
  }
  msgs.clear();
  for (std::size_t w = 0; w < workers_.size(); ++w) {
    if (runs[w].empty()) continue;
    auto& worker = *workers_[w];
    bool wake = false;
    {
      std::lock_guard lock(worker.mu);
      for (auto& item : runs[w]) worker.queue.push_back(std::move(item));
      wake = worker.idle;
    }
    if (wake) worker.cv.notify_one();
  }
}

void Bus::worker_loop(std::size_t index) {
  auto& w = *workers_[index];
  std::vector<Item> batch;
  while (true) {
    {
      std::unique_lock lock(w.mu);
      w.idle = true;
      w.cv.wait(lock, [&] { return !w.queue.empty() || stopping_.load(); });
      w.idle = false;
      if (stopping_) return;
      std::size_t handler = w.queue.front().route->route.handler;
      std::size_t max = handlers_[handler].batch_size;
      while (!w.queue.empty() && batch.size() < max &&
             w.queue.front().route->route.handler == handler) {
        batch.push_back(std::move(w.queue.front()));
        w.queue.pop_front();
      }
    }
    process(batch, index);
    batch.clear();  // keeps its capacity for the next batch
  }
}

std::vector<Outcome> Bus::call_handler(const BusHandler& h, std::vector<Item>& items,
                                       std::size_t worker) {
  // The handler sees the messages contiguously; they are moved out and back, never copied.
  std::vector<Message> msgs;
  msgs.reserve(items.size());
  for (auto& it : items) msgs.push_back(std::move(it.msg));
  struct MoveBack {
    std::vector<Item>& items;
    std::vector<Message>& msgs;
    ~MoveBack() {
      for (std::size_t i = 0; i < items.size(); ++i) items[i].msg = std::move(msgs[i]);
    }
  } move_back{items, msgs};
  std::vector<Outcome> outcomes;
  try {
    outcomes = h.handler->handle(std::span<const Message>(msgs.data(), msgs.size()), worker);
  } catch (const std::exception& e) {
    // handle() may throw (handler.hpp): the whole batch then counts as `failed`, retried and in
    // the end dead-lettered, and the host goes on.
    outcomes.assign(items.size(), Outcome::failed(std::string("exception: ") + e.what()));
  } catch (...) {
    outcomes.assign(items.size(), Outcome::failed("exception: unknown"));
  }
  if (outcomes.size() != items.size()) {
    auto why = fmt::format("handler {} returned {} outcomes for {} messages", h.name,
                           outcomes.size(), items.size());
    outcomes.assign(items.size(), Outcome::failed(why));
  }
  return outcomes;
}

void Bus::process(std::vector<Item>& batch, std::size_t worker) {
  const BusHandler& h = handlers_[batch.front().route->route.handler];
  Backoff backoff(options_.bus.backoff_initial, options_.bus.backoff_max);
  while (!batch.empty()) {
    auto t0 = std::chrono::steady_clock::now();
    auto outcomes = call_handler(h, batch, worker);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    batch.front().route->latency->observe(secs, batch.size());
    std::size_t i = 0;
    std::chrono::milliseconds hint{0};
    for (; i < batch.size(); ++i) {
      auto& item = batch[i];
      auto& o = outcomes[i];
      if (o.kind == OutcomeKind::retry) {
        hint = o.retry_after;
        item.route->retries->add(1);
        log_warn("handler asked to retry",
                 {{"handler", h.name}, {"id", item.msg.id}, {"reason", o.reason}});
        break;
      }
      if (o.kind == OutcomeKind::failed) {
        item.route->failures->add(1);
        if (++item.failures < options_.bus.max_attempts) {
          item.route->retries->add(1);
          log_warn("handler failed; will retry", {{"handler", h.name},
                                                  {"id", item.msg.id},
                                                  {"reason", o.reason},
                                                  {"attempt", std::to_string(item.failures)}});
          break;
        }
        auto reason = fmt::format("failed after {} attempts: {}", item.failures, o.reason);
        dead_letter(std::move(item), std::move(reason), h.name);
        continue;
      }
      finish(item, o);
    }
    if (i == batch.size()) return;
    // Messages behind the one that must be retried wait for it: they may share its key.
    batch.erase(batch.begin(), batch.begin() + static_cast<std::ptrdiff_t>(i));
    auto delay = hint.count() > 0 ? hint : backoff.next();
    if (!sleep_for(delay)) return;  // stopping: left unacknowledged, a broker re-delivers
  }
}

void Bus::finish(Item& item, Outcome& o) {
  if (o.kind == OutcomeKind::rejected) {
    const std::string& handler = handlers_[item.route->route.handler].name;
    dead_letter(std::move(item), o.reason, handler);
    return;
  }
  for (const auto& e : o.emits) {
    if (!e.topic.empty() && (!options_.has_output || options_.has_output(e.topic))) continue;
    auto reason =
        e.topic.empty()
            ? std::string("no_output: the handler emitted a message without a topic")
            : fmt::format("no_output: no transport for the emitted topic \"{}\" in outputs",
                          e.topic);
    dead_letter(std::move(item), std::move(reason), handlers_[item.route->route.handler].name);
    return;
  }
  bool dup = o.kind == OutcomeKind::duplicate;
  (dup ? item.route->duplicates : item.route->handled)->add(1);
  Reply reply{dup ? "duplicate" : "ok", dup ? "duplicate" : "handled", std::move(o.body)};
  if (o.emits.empty()) {
    ack(item, reply);
    return;
  }
  // Ack only once every emitted message is confirmed by its transport.
  if (o.emits.size() == 1) {
    auto a = new_attempt(std::move(o.emits.front()));
    a->own.item = std::move(item);
    a->own.reply = std::move(reply);
    attempt_publish(std::move(a));
    return;
  }
  auto pending = std::make_shared<PendingAck>();
  pending->left = o.emits.size();
  pending->item = std::move(item);
  pending->reply = std::move(reply);
  for (auto& e : o.emits) {
    auto a = new_attempt(std::move(e));
    a->shared = pending;
    attempt_publish(std::move(a));
  }
}

void Bus::dead_letter(Item item, std::string reason, const std::string& handler) {
  item.route->dead->add(1);
  log_warn("dead-lettering message",
           {{"id", item.msg.id}, {"topic", item.msg.topic}, {"reason", reason}});
  Message dl;
  dl.topic = options_.dead_letter_topic;
  dl.key = item.msg.key;
  dl.payload = item.msg.payload;
  dl.headers = item.msg.headers;
  dl.set_header("sidecar.dlq.reason", reason);
  dl.set_header("sidecar.dlq.source_topic", item.msg.topic);
  dl.set_header("sidecar.dlq.source_id", item.msg.id);
  dl.set_header("sidecar.dlq.handler", handler);
  dl.set_header("sidecar.dlq.transport", transport_names_[item.transport]);
  auto a = new_attempt(std::move(dl));
  a->own.item = std::move(item);
  a->own.reply = Reply{"dead-letter", std::move(reason), std::nullopt};
  attempt_publish(std::move(a));
}

std::shared_ptr<Bus::PublishAttempt> Bus::new_attempt(Message msg) {
  auto a = std::make_shared<PublishAttempt>();
  a->bus = this;
  a->msg = std::move(msg);
  a->backoff = Backoff(options_.bus.backoff_initial, options_.bus.backoff_max);
  return a;
}

void Bus::attempt_publish(std::shared_ptr<PublishAttempt> attempt) {
  // The callback owns the attempt through `self`, not through a capture: a lambda holding only a
  // pointer fits in std::function's own storage, one holding a shared_ptr cost an allocation per
  // message. A transport calls it exactly once (transport.hpp); nothing here touches the attempt
  // after publishing, as the callback may already have run and released it.
  PublishAttempt* raw = attempt.get();
  raw->self = std::move(attempt);
  publisher_(raw->msg, [raw](const Status& st) {
    std::shared_ptr<PublishAttempt> a = std::move(raw->self);
    Bus& bus = *a->bus;
    if (st) {
      PendingAck& p = a->pending();
      if (p.left.fetch_sub(1) == 1) bus.ack(p.item, p.reply);
      return;
    }
    log_warn("publish failed; will retry", {{"topic", a->msg.topic}, {"error", st.message()}});
    if (bus.stopping_) return;
    bus.scheduler_.after(a->backoff.next(), [a] { a->bus->attempt_publish(a); });
  });
}

void Bus::ack(const Item& item, const Reply& reply) { ack(item.transport, item.msg, reply); }

void Bus::ack(std::size_t transport, const Message& msg, const Reply& reply) {
  transports_[transport]->ack(msg, reply);
  auto n = in_flight_.fetch_sub(1) - 1;
  in_flight_gauge_->set(static_cast<double>(n));
  if (n <= options_.bus.queue_capacity / 2 && paused_hint_.load(std::memory_order_relaxed)) {
    set_paused(false);
  }
  if (n == 0) {
    std::lock_guard lock(idle_mu_);
    idle_cv_.notify_all();
  }
}

bool Bus::sleep_for(std::chrono::milliseconds d) {
  std::unique_lock lock(sleep_mu_);
  return !sleep_cv_.wait_for(lock, d, [&] { return stopping_.load(); });
}

void Bus::close() {
  // Under the lock a resume holds while it checks closing_ and resumes: one under way finishes
  // before this returns.
  std::lock_guard lock(pause_mu_);
  closing_ = true;
}

bool Bus::drain(std::chrono::milliseconds timeout) {
  closing_ = true;
  std::unique_lock lock(idle_mu_);
  return idle_cv_.wait_for(lock, timeout, [&] { return in_flight_.load() == 0; });
}

void Bus::stop() {
  closing_ = true;
  if (stopping_.exchange(true)) return;
  { std::lock_guard lock(sleep_mu_); }
  sleep_cv_.notify_all();
  for (auto& w : workers_) {
    { std::lock_guard lock(w->mu); }
    w->cv.notify_all();
  }
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
  scheduler_.stop();
}

}  // namespace sidecar::host
