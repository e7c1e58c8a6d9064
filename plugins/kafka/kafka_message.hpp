#pragma once
// Conversions between librdkafka's messages and sidecar::Message.
#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <string>
#include <vector>

#include "kafka_handles.hpp"
#include "sidecar/message.hpp"

namespace sidecar::kafka {

// Headers the transport adds to what it consumes, for the host's dead letters and for handlers.
inline constexpr const char* kPartitionHeader = "kafka.partition";
inline constexpr const char* kOffsetHeader = "kafka.offset";
inline constexpr const char* kTimestampHeader = "kafka.timestamp";
inline constexpr const char* kTombstoneHeader = "kafka.tombstone";
// Request/reply over Kafka (PRODUCT.md).
inline constexpr const char* kReplyToHeader = "reply_to";
inline constexpr const char* kCorrelationHeader = "correlation_id";
inline constexpr const char* kStatusHeader = "status";
inline constexpr const char* kDetailHeader = "detail";

std::string message_id(const std::string& topic, std::int32_t partition, std::int64_t offset);

// An owned copy of a consumed message; delivery_tag is left for the caller.
Message to_message(const rd_kafka_message_t& m);

// Headers to produce, or null when there are none.
HeadersHandle to_kafka_headers(const std::vector<Header>& headers);

// The error of a produce or a delivery report as a sentence that names the topic.
std::string produce_error(const std::string& topic, rd_kafka_resp_err_t err);

}  // namespace sidecar::kafka
