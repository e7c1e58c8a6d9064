#include "group_consumer.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstring>

#include "kafka_message.hpp"

namespace sidecar::kafka {

namespace {

constexpr const char* kLagMetric = "sidecar_consumer_lag";
// The same consumer error is logged again only after this long (e.g. a topic that is missing).
constexpr auto kErrorLogInterval = std::chrono::seconds(30);
// A final commit waits at least this long for its answer, even with revoke_timeout spent.
constexpr auto kMinFinalCommitWait = std::chrono::milliseconds(2000);

std::vector<TopicPartition> to_partitions(const rd_kafka_topic_partition_list_t* list) {
  std::vector<TopicPartition> out;
  if (list == nullptr) return out;
  out.reserve(static_cast<std::size_t>(list->cnt));
  for (int i = 0; i < list->cnt; ++i) {
    out.push_back({list->elems[i].topic, list->elems[i].partition});
  }
  return out;
}

PartitionList to_list(const std::vector<TopicPartition>& partitions) {
  PartitionList list = make_partition_list(static_cast<int>(partitions.size()));
  for (const auto& tp : partitions) {
    rd_kafka_topic_partition_list_add(list.get(), tp.topic.c_str(), tp.partition);
  }
  return list;
}

}  // namespace

GroupConsumer::GroupConsumer(HostServices* host, InboundSink* sink, KafkaSettings settings)
    : ClientLog(host, "consumer"), host_(host), sink_(sink), settings_(std::move(settings)) {}

GroupConsumer::~GroupConsumer() { close(); }

Status GroupConsumer::open(const std::vector<std::string>& topics) {
  ConfResult conf = build_conf(settings_, ClientRole::group_consumer);
  if (!conf.conf) return Status::error("kafka consumer: " + conf.error);
  for (const auto& w : conf.warnings) log(LogLevel::warn, w);
  install(conf.conf.get());
  rd_kafka_conf_set_rebalance_cb(conf.conf.get(), &GroupConsumer::rebalance_cb);
  rd_kafka_conf_set_offset_commit_cb(conf.conf.get(), &GroupConsumer::commit_cb);
  char errstr[512];
  rk_.reset(rd_kafka_new(RD_KAFKA_CONSUMER, conf.conf.get(), errstr, sizeof errstr));
  if (!rk_) return Status::error(fmt::format("kafka consumer: {}", errstr));
  (void)conf.conf.release();
  // Messages come from the consumer queue, not the main one, so one poll serves both.
  rd_kafka_poll_set_consumer(rk_.get());

  PartitionList subscription = make_partition_list(static_cast<int>(topics.size()));
  for (const auto& t : topics) {
    rd_kafka_topic_partition_list_add(subscription.get(), t.c_str(), RD_KAFKA_PARTITION_UA);
  }
  if (rd_kafka_resp_err_t err = rd_kafka_subscribe(rk_.get(), subscription.get())) {
    rk_.reset();
    return Status::error(fmt::format("kafka consumer: subscribe: {}", rd_kafka_err2str(err)));
  }
  log(LogLevel::info,
      fmt::format("group {} subscribed to {}", settings_.group_id, fmt::join(topics, ", ")));
  stop_ = false;
  poller_ = std::thread([this] { run(); });
  return Status::ok();
}

void GroupConsumer::run() noexcept {
  auto next_commit = std::chrono::steady_clock::now() + settings_.commit_interval;
  const int poll_ms = static_cast<int>(settings_.poll_timeout.count());
  std::vector<Message> burst;
  while (!stop_.load()) {
    if (!paused() && !fetched_.empty()) deliver(burst);
    if (held()) {
      // Soft pause: not polling leaves librdkafka's prefetched messages where they are, so a
      // short push-back costs nothing. Only a long one pauses the partitions, which drops the
      // prefetch and refetches on resume, and lets the poll serve rebalances again.
      std::unique_lock lock(pause_mu_);
      if (paused_ && !hard_paused_) {
        if (std::chrono::steady_clock::now() - held_since_ < kSoftPauseLimit) {
          resumed_.wait_for(lock, std::chrono::milliseconds(5));
          continue;
        }
        hard_paused_ = true;
        set_paused(book_->assigned(), true);
      }
    }
    MessageHandle m(rd_kafka_consumer_poll(rk_.get(), poll_ms));
    // What is already fetched is taken in one burst: the host then wakes each worker once.
    while (m) {
      if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        handle_error(*m);
      } else {
        fetch(*m);
      }
      if (fetched_.size() >= kBurst || stop_.load()) break;
      m.reset(rd_kafka_consumer_poll(rk_.get(), 0));
    }
    if (!paused() && !fetched_.empty()) deliver(burst);
    if (std::chrono::steady_clock::now() >= next_commit) {
      // Asynchronous: the answer comes through commit_cb on a later poll.
      commit({}, std::chrono::milliseconds(0));
      report_lag();
      next_commit = std::chrono::steady_clock::now() + settings_.commit_interval;
    }
  }
  // Whatever is still held was never tracked: not committed, the next owner reads it again.
  shutdown();
}

bool GroupConsumer::held() noexcept {
  std::lock_guard lock(pause_mu_);
  return paused_ && !hard_paused_;
}

bool GroupConsumer::paused() noexcept {
  std::lock_guard lock(pause_mu_);
  return paused_;
}

void GroupConsumer::fetch(const rd_kafka_message_t& m) noexcept {
  if (stop_.load()) return;
  try {
    fetched_.push_back({to_message(m), m.partition, m.offset});
  } catch (const std::exception& e) {
    log(LogLevel::error, fmt::format("dropping a message it could not copy: {}", e.what()));
  }
}

void GroupConsumer::deliver(std::vector<Message>& burst) noexcept {
  // Tracked only when handed over: a message that never reaches the host must not hold back
  // its partition's commit point.
  handover_.clear();
  for (const auto& f : fetched_) handover_.push_back({&f.msg.topic, f.partition, f.offset, 0});
  book_->track(handover_);
  for (std::size_t i = 0; i < fetched_.size(); ++i) {
    // No tag: its partition is being given up, and the next owner reads it again.
    if (handover_[i].tag == 0) continue;
    fetched_[i].msg.delivery_tag = handover_[i].tag;
    burst.push_back(std::move(fetched_[i].msg));
  }
  fetched_.clear();
  if (!burst.empty()) sink_->deliver_burst(burst);
  burst.clear();
}

void GroupConsumer::handle_error(const rd_kafka_message_t& m) noexcept {
  if (m.err == RD_KAFKA_RESP_ERR__PARTITION_EOF) return;
  try {
    std::string topic = m.rkt != nullptr ? rd_kafka_topic_name(m.rkt) : "";
    std::string text = topic.empty()
                           ? fmt::format("{}", rd_kafka_message_errstr(&m))
                           : fmt::format("topic '{}': {}", topic, rd_kafka_message_errstr(&m));
    auto now = std::chrono::steady_clock::now();
    if (text == last_error_ && now - last_error_at_ < kErrorLogInterval) return;
    last_error_ = text;
    last_error_at_ = now;
    log(LogLevel::warn, text);
  } catch (...) {
  }
}

bool GroupConsumer::cooperative() const noexcept {
  const char* protocol = rd_kafka_rebalance_protocol(rk_.get());
  return protocol != nullptr && std::strcmp(protocol, "COOPERATIVE") == 0;
}

void GroupConsumer::rebalance_cb(rd_kafka_t* /*rk*/, rd_kafka_resp_err_t err,
                                 rd_kafka_topic_partition_list_t* partitions, void* opaque) {
  auto* self = static_cast<GroupConsumer*>(static_cast<ClientLog*>(opaque));
  switch (err) {
    case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS: self->on_assign(partitions); break;
    case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS: self->on_revoke(partitions); break;
    default:
      self->log(LogLevel::error, fmt::format("rebalance failed: {}", rd_kafka_err2str(err)));
      // librdkafka's documented answer to a failed rebalance: drop the assignment.
      self->on_revoke(partitions);
      break;
  }
}

void GroupConsumer::on_assign(rd_kafka_topic_partition_list_t* partitions) noexcept {
  auto tps = to_partitions(partitions);
  std::lock_guard lock(pause_mu_);
  book_->assign(tps);
  if (cooperative()) {
    ErrorHandle error(rd_kafka_incremental_assign(rk_.get(), partitions));
    if (error) log(LogLevel::error, fmt::format("assign: {}", rd_kafka_error_string(error.get())));
  } else if (rd_kafka_resp_err_t err = rd_kafka_assign(rk_.get(), partitions)) {
    log(LogLevel::error, fmt::format("assign: {}", rd_kafka_err2str(err)));
  }
  // A partition that arrives while the host pushes back hard starts paused too, and any other
  // starts running: librdkafka keeps a partition's pause across its unassignment, so one that
  // was paused when it was taken away (a resume() during the revoke does not reach it, as it is
  // no longer assigned then) would otherwise come back paused for good.
  if (hard_paused_ || stop_.load()) {
    rd_kafka_pause_partitions(rk_.get(), partitions);
  } else {
    rd_kafka_resume_partitions(rk_.get(), partitions);
  }
  try {
    std::string names;
    for (const auto& tp : tps) names += fmt::format(" {}[{}]", tp.topic, tp.partition);
    log(LogLevel::info, "assigned" + names);
  } catch (...) {
  }
}

void GroupConsumer::on_revoke(rd_kafka_topic_partition_list_t* partitions) noexcept {
  auto tps = to_partitions(partitions);
  book_->revoke(tps);
  // Held messages of these partitions were never tracked: handing them over after the
  // partition comes back would deliver them twice, as it is read again from the commit point.
  std::erase_if(fetched_, [&tps](const Fetched& f) {
    return std::any_of(tps.begin(), tps.end(), [&f](const TopicPartition& tp) {
      return tp.partition == f.partition && tp.topic == f.msg.topic;
    });
  });
  const bool lost = rd_kafka_assignment_lost(rk_.get()) != 0;
  // On stop, shutdown() has already waited for the host; waiting again would double the bound.
  if (!lost && !tps.empty() && !stop_.load()) {
    auto deadline = std::chrono::steady_clock::now() + settings_.revoke_timeout;
    if (!book_->wait_idle(tps, deadline)) {
      log(LogLevel::warn,
          fmt::format("giving up partitions with messages still in flight after {} ms; the "
                      "unfinished ones will be delivered again",
                      settings_.revoke_timeout.count()));
    }
  }
  if (!lost && !tps.empty()) commit(tps, kMinFinalCommitWait);
  if (cooperative()) {
    ErrorHandle error(rd_kafka_incremental_unassign(rk_.get(), partitions));
    if (error) {
      log(LogLevel::error, fmt::format("unassign: {}", rd_kafka_error_string(error.get())));
    }
  } else {
    rd_kafka_assign(rk_.get(), nullptr);
  }
  for (const auto& tp : tps) {
    // Another member owns it now and reports its lag.
    host_->gauge_set(kLagMetric, {{"topic", tp.topic}, {"partition", std::to_string(tp.partition)}},
                     0);
  }
  book_->drop(tps);
  if (!tps.empty()) log(LogLevel::info, fmt::format("revoked {} partition(s)", tps.size()));
}

void GroupConsumer::commit(const std::vector<TopicPartition>& partitions,
                           std::chrono::milliseconds wait) noexcept {
  auto points = book_->commit_points(partitions);
  if (points.empty()) return;
  PartitionList list = make_partition_list(static_cast<int>(points.size()));
  for (const auto& p : points) {
    rd_kafka_topic_partition_list_add(list.get(), p.tp.topic.c_str(), p.tp.partition)->offset =
        p.offset;
  }
  if (wait.count() == 0) {
    if (rd_kafka_resp_err_t err = rd_kafka_commit(rk_.get(), list.get(), 1)) {
      log(LogLevel::warn, fmt::format("commit: {}", rd_kafka_err2str(err)));
    }
    return;
  }
  // A queue of our own, so the wait for the answer is bounded (a synchronous commit waits for
  // the coordinator however long it is away).
  QueueHandle queue(rd_kafka_queue_new(rk_.get()));
  if (rd_kafka_resp_err_t err =
          rd_kafka_commit_queue(rk_.get(), list.get(), queue.get(), &GroupConsumer::commit_cb,
                                static_cast<ClientLog*>(this))) {
    log(LogLevel::warn, fmt::format("commit: {}", rd_kafka_err2str(err)));
    return;
  }
  auto deadline = std::chrono::steady_clock::now() + wait;
  while (std::chrono::steady_clock::now() < deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (rd_kafka_queue_poll_callback(queue.get(), static_cast<int>(left.count()) + 1) > 0) return;
  }
  log(LogLevel::warn, fmt::format("commit not confirmed within {} ms", wait.count()));
}

void GroupConsumer::commit_cb(rd_kafka_t* /*rk*/, rd_kafka_resp_err_t err,
                              rd_kafka_topic_partition_list_t* offsets, void* opaque) {
  // Registered both with the configuration (opaque: the ClientLog) and per commit (opaque: this);
  // both are the same object seen through different types.
  auto* self = static_cast<GroupConsumer*>(static_cast<ClientLog*>(opaque));
  if (err == RD_KAFKA_RESP_ERR__NO_OFFSET) return;  // nothing to commit
  if (offsets == nullptr) return;
  try {
    std::vector<CommitPoint> done;
    for (int i = 0; i < offsets->cnt; ++i) {
      const auto& e = offsets->elems[i];
      if (e.err == RD_KAFKA_RESP_ERR_NO_ERROR && err == RD_KAFKA_RESP_ERR_NO_ERROR &&
          e.offset >= 0) {
        done.push_back({{e.topic, e.partition}, e.offset});
      } else {
        self->log(LogLevel::warn, fmt::format("commit of {}[{}] at {}: {}", e.topic, e.partition,
                                              e.offset, rd_kafka_err2str(e.err ? e.err : err)));
      }
    }
    self->book_->committed(done);
  } catch (...) {
  }
}

void GroupConsumer::report_lag() noexcept {
  try {
    auto tps = book_->assigned();
    if (tps.empty()) return;
    PartitionList list = to_list(tps);
    rd_kafka_position(rk_.get(), list.get());
    for (int i = 0; i < list->cnt; ++i) {
      const auto& e = list->elems[i];
      std::int64_t low = -1;
      std::int64_t high = -1;
      // Cached from the last fetch: no broker round trip on the poll thread.
      if (rd_kafka_get_watermark_offsets(rk_.get(), e.topic, e.partition, &low, &high) !=
              RD_KAFKA_RESP_ERR_NO_ERROR ||
          high < 0) {
        continue;
      }
      std::int64_t position = e.offset;
      if (position < 0) position = book_->last_committed({e.topic, e.partition}).value_or(-1);
      if (position < 0) continue;
      host_->gauge_set(kLagMetric, {{"topic", e.topic}, {"partition", std::to_string(e.partition)}},
                       static_cast<double>(std::max<std::int64_t>(0, high - position)));
    }
  } catch (...) {
  }
}

void GroupConsumer::set_paused(const std::vector<TopicPartition>& partitions,
                               bool paused) noexcept {
  if (partitions.empty() || !rk_) return;
  try {
    PartitionList list = to_list(partitions);
    rd_kafka_resp_err_t err = paused ? rd_kafka_pause_partitions(rk_.get(), list.get())
                                     : rd_kafka_resume_partitions(rk_.get(), list.get());
    if (err) log(LogLevel::warn, fmt::format("pause/resume: {}", rd_kafka_err2str(err)));
  } catch (...) {
  }
}

void GroupConsumer::pause() noexcept {
  std::lock_guard lock(pause_mu_);
  if (paused_) return;
  paused_ = true;
  held_since_ = std::chrono::steady_clock::now();
}

void GroupConsumer::resume() noexcept {
  {
    std::lock_guard lock(pause_mu_);
    if (!paused_) return;
    paused_ = false;
    if (hard_paused_ && !stop_.load()) set_paused(book_->assigned(), false);
    hard_paused_ = false;
  }
  resumed_.notify_all();
}

void GroupConsumer::shutdown() noexcept {
  {
    std::lock_guard lock(pause_mu_);
    // Fetching stops at once; the rest of the shutdown only waits for the host.
    set_paused(book_->assigned(), true);
    hard_paused_ = true;
  }
  auto everything = book_->assigned();
  book_->revoke(everything);
  if (!book_->wait_idle(everything, std::chrono::steady_clock::now() + settings_.revoke_timeout)) {
    log(LogLevel::warn, fmt::format("stopping with {} message(s) still in flight after {} ms; "
                                    "they will be delivered again",
                                    book_->in_flight(), settings_.revoke_timeout.count()));
  }
  commit(everything, std::max(settings_.revoke_timeout, kMinFinalCommitWait));
  // Leaves the group; the revoke callback it triggers finds nothing left to wait for.
  if (rd_kafka_resp_err_t err = rd_kafka_consumer_close(rk_.get())) {
    log(LogLevel::warn, fmt::format("close: {}", rd_kafka_err2str(err)));
  }
  book_->clear();
  log(LogLevel::info, "left the group");
}

void GroupConsumer::close() noexcept {
  stop_ = true;
  if (poller_.joinable()) poller_.join();
  rk_.reset();
}

}  // namespace sidecar::kafka
