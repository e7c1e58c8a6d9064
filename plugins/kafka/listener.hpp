#pragma once
// `sidecar listen`: prints a topic as it grows, in a consumer group of its own so that it takes
// every partition and disturbs no running sidecar.
#include <functional>
#include <string>

#include "kafka_options.hpp"
#include "sidecar/host_services.hpp"
#include "sidecar/message.hpp"
#include "sidecar/status.hpp"

namespace sidecar::kafka {

Status listen_topic(HostServices* host, const KafkaSettings& settings, const std::string& topic,
                    const std::function<bool(const Message&)>& on_message,
                    const std::function<bool()>& should_stop);

// A random hex token, for throwaway group ids and correlation ids.
std::string random_token();

}  // namespace sidecar::kafka
