#include "kafka_test_support.hpp"

#include <fmt/format.h>

#include <cstdlib>
#include <iostream>
#include <random>
#include <stdexcept>
#include <thread>

#include "kafka_message.hpp"
#include "kafka_options.hpp"

namespace sidecar::kafka::test {

namespace {

ConfHandle base_conf(const std::string& brokers) {
  ConfHandle conf(rd_kafka_conf_new());
  char errstr[512];
  rd_kafka_conf_set(conf.get(), "bootstrap.servers", brokers.c_str(), errstr, sizeof errstr);
  return conf;
}

void set(rd_kafka_conf_t* conf, const char* key, const std::string& value) {
  char errstr[512];
  if (rd_kafka_conf_set(conf, key, value.c_str(), errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
    throw std::runtime_error(fmt::format("{}: {}", key, errstr));
  }
}

KafkaHandle make_client(rd_kafka_type_t type, ConfHandle conf) {
  char errstr[512];
  KafkaHandle rk(rd_kafka_new(type, conf.get(), errstr, sizeof errstr));
  if (!rk) throw std::runtime_error(errstr);
  (void)conf.release();
  return rk;
}

struct DeliveryResult {
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__IN_PROGRESS;
  std::int32_t partition = -1;
  std::int64_t offset = -1;
};

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void*) {
  auto* r = static_cast<DeliveryResult*>(m->_private);
  r->err = m->err;
  r->partition = m->partition;
  r->offset = m->offset;
}

}  // namespace

void KafkaTest::SetUp() {
  const char* b = std::getenv("KAFKA_BROKERS");
  ASSERT_TRUE(b != nullptr && *b != '\0')
      << "KAFKA_BROKERS is not set: these tests need a Kafka broker. Start one with "
         "`tests/kafka/broker.sh start` and `eval \"$(tests/kafka/broker.sh env)\"`.";
  brokers_ = b;
}

std::string KafkaTest::unique(const std::string& prefix) const {
  static std::mt19937_64 gen{std::random_device{}()};
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return fmt::format("{}-{}-{:08x}", prefix, info != nullptr ? info->name() : "test",
                     static_cast<std::uint32_t>(gen()));
}

Options KafkaTest::options(std::map<std::string, OptionValue> given) const {
  given.emplace("brokers", brokers_);
  return testkit::Host::options_for(option_specs(), given);
}

void Host::log(LogLevel level, std::string_view text) noexcept {
  if (const char* v = std::getenv("KAFKA_TEST_VERBOSE"); v != nullptr && *v == '1') {
    std::cerr << "[" << static_cast<int>(level) << "] " << text << "\n";
  }
  std::lock_guard lock(copy_mu_);
  lines_.push_back({level, std::string(text)});
}

std::vector<testkit::Host::LogLine> Host::log_lines() {
  std::lock_guard lock(copy_mu_);
  return lines_;
}

void RecordingSink::deliver(Message msg) noexcept {
  if (on_deliver) on_deliver(msg);
  {
    std::lock_guard lock(mu_);
    messages_.push_back(std::move(msg));
  }
  cv_.notify_all();
}

bool RecordingSink::wait_for(std::size_t count, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return messages_.size() >= count; });
}

std::vector<Message> RecordingSink::messages() {
  std::lock_guard lock(mu_);
  return messages_;
}

std::size_t RecordingSink::size() {
  std::lock_guard lock(mu_);
  return messages_.size();
}

Broker::Broker(std::string brokers) : brokers_(std::move(brokers)) {
  ConfHandle conf = base_conf(brokers_);
  rd_kafka_conf_set_dr_msg_cb(conf.get(), &on_delivery);
  producer_ = make_client(RD_KAFKA_PRODUCER, std::move(conf));
}

void Broker::create_topic(const std::string& topic, int partitions) {
  char errstr[512];
  std::unique_ptr<rd_kafka_NewTopic_t, decltype(&rd_kafka_NewTopic_destroy)> spec(
      rd_kafka_NewTopic_new(topic.c_str(), partitions, 1, errstr, sizeof errstr),
      &rd_kafka_NewTopic_destroy);
  ASSERT_TRUE(spec) << errstr;
  QueueHandle queue(rd_kafka_queue_new(producer_.get()));
  rd_kafka_NewTopic_t* specs[] = {spec.get()};
  rd_kafka_CreateTopics(producer_.get(), specs, 1, nullptr, queue.get());
  std::unique_ptr<rd_kafka_event_t, decltype(&rd_kafka_event_destroy)> ev(
      rd_kafka_queue_poll(queue.get(), 30'000), &rd_kafka_event_destroy);
  ASSERT_TRUE(ev) << "CreateTopics timed out";
  const rd_kafka_CreateTopics_result_t* res = rd_kafka_event_CreateTopics_result(ev.get());
  ASSERT_TRUE(res != nullptr) << rd_kafka_event_error_string(ev.get());
  size_t n = 0;
  const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(res, &n);
  ASSERT_EQ(n, 1u);
  ASSERT_EQ(rd_kafka_topic_result_error(results[0]), RD_KAFKA_RESP_ERR_NO_ERROR)
      << rd_kafka_topic_result_error_string(results[0]);
  // Wait until every partition has a leader, so the first produce does not race the creation.
  TopicHandle rkt(rd_kafka_topic_new(producer_.get(), topic.c_str(), nullptr));
  bool ready = eventually(
      [&] {
        const rd_kafka_metadata_t* md = nullptr;
        if (rd_kafka_metadata(producer_.get(), 0, rkt.get(), &md, 5000) != 0) return false;
        MetadataHandle owned(md);
        if (md->topic_cnt != 1 || md->topics[0].err || md->topics[0].partition_cnt != partitions) {
          return false;
        }
        for (int i = 0; i < partitions; ++i) {
          if (md->topics[0].partitions[i].leader < 0) return false;
        }
        return true;
      },
      std::chrono::seconds(30), std::chrono::milliseconds(100));
  ASSERT_TRUE(ready) << "topic " << topic << " has no leaders";
}

std::pair<std::int32_t, std::int64_t> Broker::produce(const std::string& topic,
                                                      const std::string& key,
                                                      const std::optional<std::string>& payload,
                                                      const std::vector<Header>& headers,
                                                      std::int32_t partition) {
  DeliveryResult result;
  // Test input exactly as given: not through the plugin's own header rules.
  HeadersHandle hdrs(rd_kafka_headers_new(headers.size()));
  for (const auto& [k, v] : headers) {
    rd_kafka_header_add(hdrs.get(), k.data(), static_cast<ssize_t>(k.size()), v.data(),
                        static_cast<ssize_t>(v.size()));
  }
  rd_kafka_headers_t* raw_headers = hdrs.get();
  // The RD_KAFKA_V_ macros cast their arguments unparenthesized: pass plain variables.
  void* value = payload ? const_cast<char*>(payload->data()) : nullptr;
  size_t value_size = payload ? payload->size() : 0;
  const void* key_ptr = key.empty() ? nullptr : key.data();
  size_t key_size = key.size();
  rd_kafka_resp_err_t err = rd_kafka_producev(
      producer_.get(), RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key_ptr, key_size),
      RD_KAFKA_V_VALUE(value, value_size), RD_KAFKA_V_HEADERS(raw_headers),
      RD_KAFKA_V_OPAQUE(&result), RD_KAFKA_V_END);
  if (err) throw std::runtime_error(rd_kafka_err2str(err));
  (void)hdrs.release();
  rd_kafka_flush(producer_.get(), 30'000);
  if (result.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw std::runtime_error(fmt::format("produce to {}: {}", topic, rd_kafka_err2str(result.err)));
  }
  return {result.partition, result.offset};
}

std::int64_t Broker::committed(const std::string& group, const std::string& topic,
                               std::int32_t partition) {
  ConfHandle conf = base_conf(brokers_);
  set(conf.get(), "group.id", group);
  KafkaHandle consumer = make_client(RD_KAFKA_CONSUMER, std::move(conf));
  PartitionList list = make_partition_list(1);
  rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), partition);
  rd_kafka_resp_err_t err = rd_kafka_committed(consumer.get(), list.get(), 10'000);
  rd_kafka_consumer_close(consumer.get());
  if (err) return -2;
  return list->elems[0].offset < 0 ? -1 : list->elems[0].offset;
}

std::int64_t Broker::wait_committed(const std::string& group, const std::string& topic,
                                    std::int32_t partition, std::int64_t expected,
                                    std::chrono::milliseconds timeout) {
  std::int64_t last = -1;
  eventually(
      [&] {
        last = committed(group, topic, partition);
        return last == expected;
      },
      timeout, std::chrono::milliseconds(200));
  return last;
}

std::pair<std::string, int> Broker::group_state(const std::string& group) {
  const rd_kafka_group_list* list = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_list_groups(producer_.get(), group.c_str(), &list, 10'000);
  if (err || list == nullptr) return {fmt::format("error: {}", rd_kafka_err2str(err)), -1};
  std::unique_ptr<const rd_kafka_group_list, decltype(&rd_kafka_group_list_destroy)> owned(
      list, &rd_kafka_group_list_destroy);
  if (list->group_cnt != 1) return {"missing", 0};
  return {list->groups[0].state, list->groups[0].member_cnt};
}

std::vector<Message> Broker::read_all(const std::string& topic, std::size_t count,
                                      std::chrono::milliseconds timeout) {
  ConfHandle conf = base_conf(brokers_);
  set(conf.get(), "group.id", fmt::format("reader-{}", topic));
  set(conf.get(), "auto.offset.reset", "earliest");
  set(conf.get(), "enable.auto.commit", "false");
  KafkaHandle consumer = make_client(RD_KAFKA_CONSUMER, std::move(conf));
  rd_kafka_poll_set_consumer(consumer.get());
  PartitionList sub = make_partition_list(1);
  rd_kafka_topic_partition_list_add(sub.get(), topic.c_str(), RD_KAFKA_PARTITION_UA);
  rd_kafka_subscribe(consumer.get(), sub.get());
  std::vector<Message> out;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (out.size() < count && std::chrono::steady_clock::now() < deadline) {
    MessageHandle m(rd_kafka_consumer_poll(consumer.get(), 200));
    if (m && m->err == RD_KAFKA_RESP_ERR_NO_ERROR) out.push_back(to_message(*m));
  }
  rd_kafka_consumer_close(consumer.get());
  return out;
}

}  // namespace sidecar::kafka::test
