#pragma once
// Reads a topic from its end at the moment open() returns, outside any consumer group: whatever
// is produced afterwards is seen, nothing before. A reply can then not be missed, however soon
// it arrives after the request.
#include <chrono>
#include <optional>
#include <string>

#include "client_log.hpp"
#include "kafka_handles.hpp"
#include "kafka_options.hpp"
#include "sidecar/message.hpp"
#include "sidecar/status.hpp"

namespace sidecar::kafka {

class TopicTail final : public ClientLog {
 public:
  TopicTail(HostServices* host, const KafkaSettings& settings);
  ~TopicTail() override;

  Status open(const std::string& topic, int partitions, std::chrono::milliseconds timeout);
  // The next message, or nothing when none came within the timeout.
  std::optional<Message> next(std::chrono::milliseconds timeout);

 private:
  const KafkaSettings& settings_;
  KafkaHandle rk_;
};

}  // namespace sidecar::kafka
