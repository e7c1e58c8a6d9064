#include "producer.hpp"

#include <fmt/format.h>

#include <array>
#include <variant>

#include "kafka_message.hpp"

namespace sidecar::kafka {

namespace {

constexpr auto kReachabilityEvery = std::chrono::seconds(2);
constexpr auto kMetadataTimeout = std::chrono::milliseconds(1000);
// How long produce() keeps retrying a full local queue before it fails the message.
constexpr auto kQueueFullPatience = std::chrono::seconds(5);

// Calls whichever callback `done` holds.
void call_back(Producer::Answer& done, const Status& status, std::int32_t partition,
               std::int64_t offset) {
  if (auto* delivered = std::get_if<Producer::Delivered>(&done)) {
    if (*delivered) (*delivered)(status, partition, offset);
  } else if (auto* published = std::get_if<PublishCallback>(&done)) {
    if (*published) (*published)(status);
  }
}

}  // namespace

Producer::Producer(HostServices* host) : ClientLog(host, "producer") {}

Producer::~Producer() { close(std::chrono::milliseconds(0)); }

Status Producer::open(const KafkaSettings& settings) {
  ConfResult conf = build_conf(settings, ClientRole::producer);
  if (!conf.conf) return Status::error("kafka producer: " + conf.error);
  for (const auto& w : conf.warnings) log(LogLevel::warn, w);
  install(conf.conf.get());
  rd_kafka_conf_set_dr_msg_cb(conf.conf.get(), &Producer::dr_cb);
  char errstr[512];
  // rd_kafka_new takes the configuration only when it succeeds.
  rk_.reset(rd_kafka_new(RD_KAFKA_PRODUCER, conf.conf.get(), errstr, sizeof errstr));
  if (!rk_) return Status::error(fmt::format("kafka producer: {}", errstr));
  (void)conf.conf.release();
  stop_ = false;
  poller_ = std::thread([this] { run(); });
  return Status::ok();
}

void Producer::run() noexcept {
  auto next_check = std::chrono::steady_clock::now();
  while (!stop_.load()) {
    if (std::chrono::steady_clock::now() >= next_check) {
      check_reachable();
      next_check = std::chrono::steady_clock::now() + kReachabilityEvery;
    }
    rd_kafka_poll(rk_.get(), 100);
    release_reported();
  }
}

void Producer::check_reachable() noexcept {
  const rd_kafka_metadata_t* md = nullptr;
  // No topic named: the answer carries just the brokers, which is all readiness needs.
  rd_kafka_resp_err_t err =
      rd_kafka_metadata(rk_.get(), 0, nullptr, &md, static_cast<int>(kMetadataTimeout.count()));
  MetadataHandle owned(md);
  bool up = err == RD_KAFKA_RESP_ERR_NO_ERROR && md != nullptr && md->broker_cnt > 0;
  if (up != reachable_.exchange(up)) {
    log(up ? LogLevel::info : LogLevel::warn,
        up ? std::string("brokers reachable")
           : fmt::format("brokers unreachable: {}", rd_kafka_err2str(err)));
  }
}

void Producer::on_error(rd_kafka_resp_err_t err) noexcept {
  // Not ready at once; the next successful metadata request says when it is again.
  if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) reachable_ = false;
  if (err == RD_KAFKA_RESP_ERR__FATAL) fatal_ = true;
}

void Producer::produce(const Message& msg, Answer done) noexcept {
  std::unique_ptr<Pending> pending;
  std::optional<rd_kafka_resp_err_t> refused;
  bool linked = false;
  try {
    pending = std::make_unique<Pending>();
    pending->done = std::move(done);
    std::shared_lock use(use_mu_);
    if (!rk_ || stop_.load()) {
      refused = RD_KAFKA_RESP_ERR__DESTROY;
    } else {
      link(pending.get());
      linked = true;
      refused = enqueue(msg, pending.get());
      if (!refused) {
        (void)pending.release();  // librdkafka holds it now; dr_cb takes it back
        return;
      }
    }
  } catch (...) {
    refused = RD_KAFKA_RESP_ERR__FAIL;
  }
  if (linked) unlink(pending.get());
  // Answered outside any lock, so that a callback may produce again.
  Status st = Status::error(*refused == RD_KAFKA_RESP_ERR__DESTROY
                                ? std::string("kafka: the producer is not running")
                                : produce_error(msg.topic, *refused));
  try {
    if (pending) {
      call_back(pending->done, st, -1, -1);
    } else {
      call_back(done, st, -1, -1);
    }
  } catch (...) {
  }
}

void Producer::link(Pending* p) noexcept {
  std::lock_guard lock(mu_);
  p->next = pending_;
  if (pending_ != nullptr) pending_->prev = p;
  pending_ = p;
  ++outstanding_;
}

void Producer::unlink(Pending* p) noexcept {
  std::lock_guard lock(mu_);
  unlink_locked(p);
}

void Producer::unlink_locked(Pending* p) noexcept {
  if (p->prev != nullptr) p->prev->next = p->next;
  if (p->next != nullptr) p->next->prev = p->prev;
  if (pending_ == p) pending_ = p->next;
  p->prev = p->next = nullptr;
  --outstanding_;
}

std::optional<rd_kafka_resp_err_t> Producer::enqueue(const Message& msg, void* opaque) {
  Outgoing out = outgoing(msg);
  HeadersHandle& headers = out.headers;
  std::array<rd_kafka_vu_t, 6> vus{};
  vus[0].vtype = RD_KAFKA_VTYPE_TOPIC;
  vus[0].u.cstr = msg.topic.c_str();
  vus[1].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
  vus[1].u.i = RD_KAFKA_MSG_F_COPY;
  // An empty key is no key: librdkafka's partitioner then spreads such messages.
  vus[2].vtype = RD_KAFKA_VTYPE_KEY;
  vus[2].u.mem.ptr = msg.key.empty() ? nullptr : const_cast<char*>(msg.key.data());
  vus[2].u.mem.size = msg.key.size();
  // data() is never null, so an empty payload is produced as an empty value; a tombstone passed
  // on is produced as a null value.
  vus[3].vtype = RD_KAFKA_VTYPE_VALUE;
  vus[3].u.mem.ptr = out.tombstone ? nullptr : const_cast<char*>(msg.payload.data());
  vus[3].u.mem.size = msg.payload.size();
  vus[4].vtype = RD_KAFKA_VTYPE_OPAQUE;
  vus[4].u.ptr = opaque;
  std::size_t count = 5;
  if (headers) {
    vus[5].vtype = RD_KAFKA_VTYPE_HEADERS;
    vus[5].u.headers = headers.get();
    count = 6;
  }

  std::optional<std::chrono::steady_clock::time_point> give_up_at;
  for (;;) {
    ErrorHandle error(rd_kafka_produceva(rk_.get(), vus.data(), count));
    if (!error) {
      (void)headers.release();  // librdkafka owns the headers once the message is queued
      return std::nullopt;
    }
    rd_kafka_resp_err_t code = rd_kafka_error_code(error.get());
    if (code != RD_KAFKA_RESP_ERR__QUEUE_FULL) return code;
    auto now = std::chrono::steady_clock::now();
    if (!give_up_at) give_up_at = now + kQueueFullPatience;
    if (now >= *give_up_at) return code;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void Producer::dr_cb(rd_kafka_t* /*rk*/, const rd_kafka_message_t* m, void* opaque) {
  auto* self = static_cast<Producer*>(static_cast<ClientLog*>(opaque));
  auto* pending = static_cast<Pending*>(m->_private);
  if (pending == nullptr) return;
  if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    self->answer(pending, Status::ok(), m->partition, m->offset);
    return;
  }
  std::string topic = m->rkt != nullptr ? rd_kafka_topic_name(m->rkt) : "?";
  std::string why;
  try {
    why = produce_error(topic, m->err);
  } catch (...) {
    why = "kafka: delivery failed";
  }
  self->answer(pending, Status::error(why), m->partition, m->offset);
}

void Producer::answer(Pending* p, const Status& status, std::int32_t partition,
                      std::int64_t offset) noexcept {
  try {
    call_back(p->done, status, partition, offset);
  } catch (...) {
    log(LogLevel::error, "a delivery callback threw; ignored");
  }
  // The callback has run, so close() must not answer it again: the node stays linked only until
  // release_reported() after this poll. Without room to remember it, unlink it now.
  try {
    reported_.push_back(p);
  } catch (...) {
    unlink(p);
    std::unique_ptr<Pending> owned(p);
  }
}

void Producer::release_reported() noexcept {
  if (reported_.empty()) return;
  {
    std::lock_guard lock(mu_);
    for (Pending* p : reported_) unlink_locked(p);
  }
  for (Pending* p : reported_) {
    std::unique_ptr<Pending> owned(p);
  }
  reported_.clear();
}

std::size_t Producer::outstanding() noexcept {
  std::lock_guard lock(mu_);
  return outstanding_;
}

void Producer::fail_all(const std::string& why) noexcept {
  Pending* left = nullptr;
  {
    std::lock_guard lock(mu_);
    left = pending_;
    pending_ = nullptr;
    outstanding_ = 0;
  }
  while (left != nullptr) {
    std::unique_ptr<Pending> p(left);
    left = p->next;
    try {
      call_back(p->done, Status::error(why), -1, -1);
    } catch (...) {
    }
  }
}

void Producer::close(std::chrono::milliseconds timeout) noexcept {
  stop_ = true;
  if (poller_.joinable()) poller_.join();
  if (!rk_) return;
  // flush() serves the delivery reports itself now that the poll thread is gone.
  if (rd_kafka_flush(rk_.get(), static_cast<int>(timeout.count())) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_purge(rk_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_flush(rk_.get(), 500);
  }
  release_reported();
  std::size_t left = outstanding();
  if (left > 0) {
    log(LogLevel::warn, fmt::format("closing with {} message(s) unconfirmed", left));
  }
  std::unique_lock use(use_mu_);  // waits out produce() calls already past their check
  // Released first: the nodes of messages it never reported are then no longer its opaques.
  rk_.reset();
  release_reported();  // should destroying the client have served reports of its own
  fail_all("kafka: the producer stopped before the delivery was confirmed");
}

std::optional<int> Producer::partition_count(const std::string& topic,
                                             std::chrono::milliseconds timeout,
                                             std::string& error) noexcept {
  std::shared_lock use(use_mu_);
  if (!rk_) {
    error = "kafka: the producer is not running";
    return std::nullopt;
  }
  TopicHandle rkt(rd_kafka_topic_new(rk_.get(), topic.c_str(), nullptr));
  if (!rkt) {
    error = fmt::format("kafka: topic '{}': {}", topic, rd_kafka_err2str(rd_kafka_last_error()));
    return std::nullopt;
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  rd_kafka_resp_err_t last = RD_KAFKA_RESP_ERR__TIMED_OUT;
  while (std::chrono::steady_clock::now() < deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    const rd_kafka_metadata_t* md = nullptr;
    last = rd_kafka_metadata(rk_.get(), 0, rkt.get(), &md,
                             static_cast<int>(std::max<long>(left.count(), 1)));
    MetadataHandle owned(md);
    if (last == RD_KAFKA_RESP_ERR_NO_ERROR && md != nullptr && md->topic_cnt == 1) {
      const auto& t = md->topics[0];
      last = t.err;
      bool leaders = t.partition_cnt > 0;
      for (int i = 0; i < t.partition_cnt; ++i) leaders = leaders && t.partitions[i].leader >= 0;
      if (t.err == RD_KAFKA_RESP_ERR_NO_ERROR && leaders) return t.partition_cnt;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  error = produce_error(topic, last);
  return std::nullopt;
}

}  // namespace sidecar::kafka
