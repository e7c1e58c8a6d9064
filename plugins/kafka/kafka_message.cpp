#include "kafka_message.hpp"

#include <fmt/format.h>

#include <array>
#include <charconv>

namespace sidecar::kafka {

namespace {

// A number's decimal digits, without the allocation of std::to_string (this runs per message).
struct Decimal {
  std::array<char, 24> buf{};
  std::size_t len = 0;
  explicit Decimal(std::int64_t v) {
    len = static_cast<std::size_t>(std::to_chars(buf.data(), buf.data() + buf.size(), v).ptr -
                                   buf.data());
  }
  [[nodiscard]] std::string_view view() const { return {buf.data(), len}; }
};

std::string id_of(std::string_view topic, std::string_view partition, std::string_view offset) {
  std::string id;
  id.reserve(topic.size() + partition.size() + offset.size() + 2);
  id.append(topic).append(1, '/').append(partition).append(1, '@').append(offset);
  return id;
}

}  // namespace

Message to_message(const rd_kafka_message_t& m) {
  Message msg;
  msg.topic = m.rkt != nullptr ? rd_kafka_topic_name(m.rkt) : "";
  if (m.key != nullptr) msg.key.assign(static_cast<const char*>(m.key), m.key_len);
  if (m.payload != nullptr) msg.payload.assign(static_cast<const char*>(m.payload), m.len);
  const Decimal partition(m.partition);
  const Decimal offset(m.offset);
  msg.id = id_of(msg.topic, partition.view(), offset.view());

  rd_kafka_headers_t* hdrs = nullptr;  // owned by the message
  const bool has_headers =
      rd_kafka_message_headers(&m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR && hdrs != nullptr;
  // Room for the record's own headers and the four kafka.* ones below, in one allocation.
  msg.headers.reserve((has_headers ? rd_kafka_header_cnt(hdrs) : 0) + 4);
  if (has_headers) {
    const char* name = nullptr;
    const void* value = nullptr;
    size_t size = 0;
    for (size_t i = 0;
         rd_kafka_header_get_all(hdrs, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
         ++i) {
      msg.headers.emplace_back(name, value != nullptr
                                         ? std::string(static_cast<const char*>(value), size)
                                         : std::string());
    }
  }
  // A record header of the same name is replaced; with none, nothing needs looking for.
  auto put = [&msg, has_headers](const char* name, std::string value) {
    if (has_headers) {
      msg.set_header(name, std::move(value));
    } else {
      msg.headers.emplace_back(name, std::move(value));
    }
  };
  put(kPartitionHeader, std::string(partition.view()));
  put(kOffsetHeader, std::string(offset.view()));
  rd_kafka_timestamp_type_t ts_type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
  std::int64_t ts = rd_kafka_message_timestamp(&m, &ts_type);
  if (ts_type != RD_KAFKA_TIMESTAMP_NOT_AVAILABLE) put(kTimestampHeader, std::to_string(ts));
  // A null value (a compaction tombstone) and an empty one look alike in a std::string.
  if (m.payload == nullptr) put(kTombstoneHeader, "true");
  return msg;
}

Outgoing outgoing(const Message& msg) {
  const bool dead_letter = msg.header(kDeadLetterReasonHeader).has_value();
  Outgoing out;
  out.tombstone = !dead_letter && msg.payload.empty() && msg.header(kTombstoneHeader) == "true";
  std::size_t count = 0;
  for (const auto& h : msg.headers) {
    if (dead_letter || !h.first.starts_with(kTransportHeaderPrefix)) ++count;
  }
  if (count == 0) return out;
  out.headers.reset(rd_kafka_headers_new(count));
  for (const auto& [k, v] : msg.headers) {
    if (!dead_letter && k.starts_with(kTransportHeaderPrefix)) continue;
    rd_kafka_header_add(out.headers.get(), k.data(), static_cast<ssize_t>(k.size()), v.data(),
                        static_cast<ssize_t>(v.size()));
  }
  return out;
}

std::string produce_error(const std::string& topic, rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
      return fmt::format("kafka: topic '{}' does not exist ({})", topic, rd_kafka_err2str(err));
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
      return fmt::format("kafka: not authorized to write to topic '{}'", topic);
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
      return fmt::format("kafka: message to topic '{}' is too large ({})", topic,
                         rd_kafka_err2str(err));
    default:
      return fmt::format("kafka: producing to topic '{}' failed: {} ({})", topic,
                         rd_kafka_err2str(err), rd_kafka_err2name(err));
  }
}

}  // namespace sidecar::kafka
