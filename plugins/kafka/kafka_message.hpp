#pragma once
// Conversions between librdkafka's messages and sidecar::Message.
#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "kafka_handles.hpp"
#include "sidecar/message.hpp"

namespace sidecar::kafka {

// Headers the transport adds to what it consumes, for the host's dead letters and for handlers.
inline constexpr const char* kPartitionHeader = "kafka.partition";
inline constexpr const char* kOffsetHeader = "kafka.offset";
inline constexpr const char* kTimestampHeader = "kafka.timestamp";
inline constexpr const char* kTombstoneHeader = "kafka.tombstone";
inline constexpr std::string_view kTransportHeaderPrefix = "kafka.";
// The host marks a dead letter with this header (and its other sidecar.dlq.* context).
inline constexpr std::string_view kDeadLetterReasonHeader = "sidecar.dlq.reason";
// Request/reply over Kafka (PRODUCT.md).
inline constexpr const char* kReplyToHeader = "reply_to";
inline constexpr const char* kCorrelationHeader = "correlation_id";
inline constexpr const char* kStatusHeader = "status";
inline constexpr const char* kDetailHeader = "detail";

// An owned copy of a consumed message; delivery_tag is left for the caller.
Message to_message(const rd_kafka_message_t& m);

// What `msg` is produced with. The kafka.* headers tell where a message was read; on a message
// produced elsewhere (an echo, an emitted event) they would describe another topic's record, so
// they are not written, except on a dead letter, where they are its context. A message read as a
// tombstone and passed on with its empty payload is produced as a tombstone again.
struct Outgoing {
  HeadersHandle headers;  // null when there are none to write
  bool tombstone = false;
};
Outgoing outgoing(const Message& msg);

// The error of a produce or a delivery report as a sentence that names the topic.
std::string produce_error(const std::string& topic, rd_kafka_resp_err_t err);

}  // namespace sidecar::kafka
