#include "kafka_client.hpp"

#include <fmt/format.h>

#include <random>
#include <stdexcept>

namespace sidecar::test::kafka {

namespace {

struct ListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const {
    rd_kafka_topic_partition_list_destroy(l);
  }
};
struct MessageDeleter {
  void operator()(rd_kafka_message_t* m) const { rd_kafka_message_destroy(m); }
};
struct QueueDeleter {
  void operator()(rd_kafka_queue_t* q) const { rd_kafka_queue_destroy(q); }
};
struct EventDeleter {
  void operator()(rd_kafka_event_t* e) const { rd_kafka_event_destroy(e); }
};
struct NewTopicDeleter {
  void operator()(rd_kafka_NewTopic_t* t) const { rd_kafka_NewTopic_destroy(t); }
};
struct HeadersDeleter {
  void operator()(rd_kafka_headers_t* h) const { rd_kafka_headers_destroy(h); }
};
struct TopicDeleter {
  void operator()(rd_kafka_topic_t* t) const { rd_kafka_topic_destroy(t); }
};
struct MetadataDeleter {
  void operator()(const rd_kafka_metadata_t* m) const { rd_kafka_metadata_destroy(m); }
};
struct GroupListDeleter {
  void operator()(const rd_kafka_group_list* g) const { rd_kafka_group_list_destroy(g); }
};
using ListHandle = std::unique_ptr<rd_kafka_topic_partition_list_t, ListDeleter>;
using MessageHandle = std::unique_ptr<rd_kafka_message_t, MessageDeleter>;
using QueueHandle = std::unique_ptr<rd_kafka_queue_t, QueueDeleter>;
using EventHandle = std::unique_ptr<rd_kafka_event_t, EventDeleter>;
using NewTopicHandle = std::unique_ptr<rd_kafka_NewTopic_t, NewTopicDeleter>;
using HeadersHandle = std::unique_ptr<rd_kafka_headers_t, HeadersDeleter>;
using TopicHandle = std::unique_ptr<rd_kafka_topic_t, TopicDeleter>;
using MetadataHandle = std::unique_ptr<const rd_kafka_metadata_t, MetadataDeleter>;
using GroupListHandle = std::unique_ptr<const rd_kafka_group_list, GroupListDeleter>;

// A group consumer is closed (leaving its group) before it is destroyed.
struct ClosingConsumer {
  KafkaHandle rk;
  ~ClosingConsumer() {
    if (rk) rd_kafka_consumer_close(rk.get());
  }
};

void set(rd_kafka_conf_t* conf, const std::string& key, const std::string& value) {
  char errstr[512];
  if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), errstr, sizeof errstr) !=
      RD_KAFKA_CONF_OK) {
    throw std::runtime_error(fmt::format("librdkafka property {}={}: {}", key, value, errstr));
  }
}

KafkaHandle make(rd_kafka_type_t type, ConfHandle conf) {
  char errstr[512];
  KafkaHandle rk(rd_kafka_new(type, conf.get(), errstr, sizeof errstr));
  if (!rk) throw std::runtime_error(fmt::format("rd_kafka_new: {}", errstr));
  (void)conf.release();  // owned by the client once it is made
  return rk;
}

std::string random_suffix() {
  static std::mt19937_64 gen{std::random_device{}()};
  return fmt::format("{:016x}", gen());
}

ListHandle partition_list(const std::string& topic, int partitions) {
  ListHandle list(rd_kafka_topic_partition_list_new(partitions));
  for (int p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p);
  }
  return list;
}

}  // namespace

std::optional<std::string> Record::header(std::string_view name) const {
  std::optional<std::string> found;
  for (const auto& [k, v] : headers) {
    if (k == name) found = v;
  }
  return found;
}

Client::Client(std::string brokers, const Properties& producer) : brokers_(std::move(brokers)) {
  ConfHandle conf(rd_kafka_conf_new());
  set(conf.get(), "bootstrap.servers", brokers_);
  set(conf.get(), "enable.idempotence", "true");
  set(conf.get(), "linger.ms", "5");
  for (const auto& [k, v] : producer) set(conf.get(), k, v);
  rd_kafka_conf_set_dr_msg_cb(conf.get(), &Client::on_delivery);
  rd_kafka_conf_set_opaque(conf.get(), this);
  producer_ = make(RD_KAFKA_PRODUCER, std::move(conf));
}

Client::~Client() {
  if (producer_) rd_kafka_flush(producer_.get(), 10'000);
}

void Client::on_delivery(rd_kafka_t* /*rk*/, const rd_kafka_message_t* m, void* opaque) {
  if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) return;
  auto* self = static_cast<Client*>(opaque);
  std::lock_guard lock(self->mu_);
  if (self->failures_++ == 0) {
    self->first_failure_ = fmt::format(
        "{}: {}", m->rkt != nullptr ? rd_kafka_topic_name(m->rkt) : "?", rd_kafka_err2str(m->err));
  }
}

void Client::create_topic(const std::string& topic, int partitions, const Properties& configs) {
  char errstr[512];
  NewTopicHandle spec(rd_kafka_NewTopic_new(topic.c_str(), partitions, 1, errstr, sizeof errstr));
  if (!spec) throw std::runtime_error(fmt::format("topic {}: {}", topic, errstr));
  for (const auto& [k, v] : configs) {
    if (rd_kafka_NewTopic_set_config(spec.get(), k.c_str(), v.c_str()) != 0) {
      throw std::runtime_error(fmt::format("topic {}: config {}={} refused", topic, k, v));
    }
  }
  QueueHandle queue(rd_kafka_queue_new(producer_.get()));
  rd_kafka_NewTopic_t* specs[] = {spec.get()};
  rd_kafka_CreateTopics(producer_.get(), specs, 1, nullptr, queue.get());
  EventHandle ev(rd_kafka_queue_poll(queue.get(), 30'000));
  if (!ev) throw std::runtime_error(fmt::format("topic {}: CreateTopics timed out", topic));
  const rd_kafka_CreateTopics_result_t* res = rd_kafka_event_CreateTopics_result(ev.get());
  if (res == nullptr || rd_kafka_event_error(ev.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw std::runtime_error(
        fmt::format("topic {}: CreateTopics: {}", topic, rd_kafka_event_error_string(ev.get())));
  }
  size_t n = 0;
  const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(res, &n);
  if (n != 1 || rd_kafka_topic_result_error(results[0]) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw std::runtime_error(fmt::format(
        "topic {}: CreateTopics: {}", topic,
        n == 1 ? rd_kafka_topic_result_error_string(results[0]) : "no result for the topic"));
  }
  // Every partition with a leader, so that the first produce does not race the creation.
  TopicHandle rkt(rd_kafka_topic_new(producer_.get(), topic.c_str(), nullptr));
  bool ready = eventually(
      [&] {
        const rd_kafka_metadata_t* raw = nullptr;
        if (rd_kafka_metadata(producer_.get(), 0, rkt.get(), &raw, 5000) != 0) return false;
        MetadataHandle md(raw);
        if (md->topic_cnt != 1 || md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR ||
            md->topics[0].partition_cnt != partitions) {
          return false;
        }
        for (int i = 0; i < partitions; ++i) {
          if (md->topics[0].partitions[i].leader < 0) return false;
        }
        return true;
      },
      std::chrono::seconds(30), std::chrono::milliseconds(100));
  if (!ready) throw std::runtime_error(fmt::format("topic {}: no leaders after 30 s", topic));
}

void Client::produce(const std::string& topic, const std::optional<std::string>& key,
                     const std::optional<std::string>& value,
                     const std::vector<std::pair<std::string, std::string>>& headers,
                     std::int32_t partition) {
  HeadersHandle hdrs(rd_kafka_headers_new(headers.size()));
  for (const auto& [k, v] : headers) {
    rd_kafka_header_add(hdrs.get(), k.data(), static_cast<ssize_t>(k.size()), v.data(),
                        static_cast<ssize_t>(v.size()));
  }
  // The RD_KAFKA_V_ macros cast their arguments unparenthesized: pass plain variables.
  void* value_ptr = value ? const_cast<char*>(value->data()) : nullptr;
  size_t value_size = value ? value->size() : 0;
  const void* key_ptr = key ? key->data() : nullptr;
  size_t key_size = key ? key->size() : 0;
  rd_kafka_headers_t* raw_headers = hdrs.get();
  for (;;) {
    rd_kafka_resp_err_t err = rd_kafka_producev(
        producer_.get(), RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key_ptr, key_size),
        RD_KAFKA_V_VALUE(value_ptr, value_size), RD_KAFKA_V_HEADERS(raw_headers), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      (void)hdrs.release();  // librdkafka owns the headers once the message is queued
      break;
    }
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      throw std::runtime_error(fmt::format("produce to {}: {}", topic, rd_kafka_err2str(err)));
    }
    rd_kafka_poll(producer_.get(), 10);  // the local queue drains as deliveries are reported
  }
  rd_kafka_poll(producer_.get(), 0);
}

void Client::flush(std::chrono::milliseconds timeout) {
  if (rd_kafka_resp_err_t err =
          rd_kafka_flush(producer_.get(), static_cast<int>(timeout.count()))) {
    throw std::runtime_error(fmt::format("flush: {}", rd_kafka_err2str(err)));
  }
  std::lock_guard lock(mu_);
  if (failures_ > 0) {
    throw std::runtime_error(
        fmt::format("{} deliveries failed, the first: {}", failures_, first_failure_));
  }
}

std::vector<std::int64_t> Client::high_watermarks(const std::string& topic, int partitions) {
  std::vector<std::int64_t> out;
  for (int p = 0; p < partitions; ++p) {
    std::int64_t low = -1;
    std::int64_t high = -1;
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
    // A leader change (a broker restart) answers with a retriable error for a moment.
    bool ok = eventually(
        [&] {
          err = rd_kafka_query_watermark_offsets(producer_.get(), topic.c_str(), p, &low, &high,
                                                 5000);
          return err == RD_KAFKA_RESP_ERR_NO_ERROR;
        },
        std::chrono::seconds(20), std::chrono::milliseconds(200));
    if (!ok) {
      throw std::runtime_error(
          fmt::format("watermarks of {}[{}]: {}", topic, p, rd_kafka_err2str(err)));
    }
    out.push_back(high);
  }
  return out;
}

std::int64_t Client::total(const std::string& topic, int partitions) {
  std::int64_t sum = 0;
  for (auto high : high_watermarks(topic, partitions)) sum += high;
  return sum;
}

KafkaHandle Client::consumer(const std::string& group) const {
  ConfHandle conf(rd_kafka_conf_new());
  set(conf.get(), "bootstrap.servers", brokers_);
  set(conf.get(), "group.id", group);
  set(conf.get(), "enable.auto.commit", "false");
  set(conf.get(), "enable.auto.offset.store", "false");
  set(conf.get(), "enable.partition.eof", "true");
  set(conf.get(), "fetch.message.max.bytes", "4194304");
  return make(RD_KAFKA_CONSUMER, std::move(conf));
}

std::vector<std::int64_t> Client::committed(const std::string& group, const std::string& topic,
                                            int partitions) {
  // Asks the group coordinator; this consumer never joins the group.
  ClosingConsumer c{consumer(group)};
  ListHandle list = partition_list(topic, partitions);
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
  // A coordinator that is loading or moving (a fresh or restarted broker) answers with a
  // retriable error for a moment.
  if (!eventually(
          [&] {
            err = rd_kafka_committed(c.rk.get(), list.get(), 10'000);
            return err == RD_KAFKA_RESP_ERR_NO_ERROR;
          },
          std::chrono::seconds(30), std::chrono::milliseconds(200))) {
    throw std::runtime_error(
        fmt::format("committed offsets of group {}: {}", group, rd_kafka_err2str(err)));
  }
  std::vector<std::int64_t> out(static_cast<std::size_t>(partitions), -1);
  for (int i = 0; i < list->cnt; ++i) {
    const auto& e = list->elems[i];
    out[static_cast<std::size_t>(e.partition)] = e.offset < 0 ? -1 : e.offset;
  }
  return out;
}

std::vector<Record> Client::read_all(const std::string& topic, int partitions,
                                     std::chrono::milliseconds timeout) {
  auto highs = high_watermarks(topic, partitions);
  ClosingConsumer c{consumer("sidecar-test-reader-" + random_suffix())};
  ListHandle list = partition_list(topic, partitions);
  for (int i = 0; i < list->cnt; ++i) list->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
  if (rd_kafka_resp_err_t err = rd_kafka_assign(c.rk.get(), list.get())) {
    throw std::runtime_error(fmt::format("assign {}: {}", topic, rd_kafka_err2str(err)));
  }
  std::vector<std::vector<Record>> by_partition(static_cast<std::size_t>(partitions));
  auto done = [&](int p) {
    const auto& got = by_partition[static_cast<std::size_t>(p)];
    auto high = highs[static_cast<std::size_t>(p)];
    return high <= 0 || (!got.empty() && got.back().offset + 1 >= high);
  };
  auto all_done = [&] {
    for (int p = 0; p < partitions; ++p) {
      if (!done(p)) return false;
    }
    return true;
  };
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!all_done()) {
    if (std::chrono::steady_clock::now() > deadline) {
      std::string state;
      for (int p = 0; p < partitions; ++p) {
        state += fmt::format(" [{}] {}/{}", p, by_partition[static_cast<std::size_t>(p)].size(),
                             highs[static_cast<std::size_t>(p)]);
      }
      throw std::runtime_error(fmt::format("reading {} timed out:{}", topic, state));
    }
    MessageHandle m(rd_kafka_consumer_poll(c.rk.get(), 200));
    if (!m || m->err != RD_KAFKA_RESP_ERR_NO_ERROR) continue;
    if (m->partition < 0 || m->partition >= partitions) continue;
    auto& got = by_partition[static_cast<std::size_t>(m->partition)];
    if (m->offset >= highs[static_cast<std::size_t>(m->partition)]) continue;
    Record r;
    r.partition = m->partition;
    r.offset = m->offset;
    if (m->key != nullptr) r.key.emplace(static_cast<const char*>(m->key), m->key_len);
    if (m->payload != nullptr) r.value.emplace(static_cast<const char*>(m->payload), m->len);
    rd_kafka_headers_t* hdrs = nullptr;  // owned by the message
    if (rd_kafka_message_headers(m.get(), &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      const char* name = nullptr;
      const void* v = nullptr;
      size_t size = 0;
      for (size_t i = 0;
           rd_kafka_header_get_all(hdrs, i, &name, &v, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
        r.headers.emplace_back(name, v != nullptr ? std::optional<std::string>(std::string(
                                                        static_cast<const char*>(v), size))
                                                  : std::nullopt);
      }
    }
    got.push_back(std::move(r));
  }
  std::vector<Record> out;
  for (auto& part : by_partition) {
    for (auto& r : part) out.push_back(std::move(r));
  }
  return out;
}

std::pair<std::string, int> Client::group_state(const std::string& group) {
  const rd_kafka_group_list* raw = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_list_groups(producer_.get(), group.c_str(), &raw, 10'000);
  GroupListHandle list(raw);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR || !list) {
    return {fmt::format("error: {}", rd_kafka_err2str(err)), -1};
  }
  if (list->group_cnt != 1) return {"missing", 0};
  return {list->groups[0].state, list->groups[0].member_cnt};
}

}  // namespace sidecar::test::kafka
