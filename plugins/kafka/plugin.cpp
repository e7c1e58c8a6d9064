// The plugin's exported manifest and factory; everything else is in the kafka_transport library.
#include "sidecar/plugin.hpp"
#include "kafka_transport.hpp"

SIDECAR_TRANSPORT_PLUGIN("kafka", "0.1.0",
                         "Apache Kafka: a consumer group in, an idempotent producer out",
                         sidecar::kafka::KafkaTransport)
