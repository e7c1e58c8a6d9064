// The plugin's exported manifest, option declarations and factory.
#include "sidecar/plugin.hpp"

#include "zeromq_transport.hpp"

SIDECAR_TRANSPORT_PLUGIN("zeromq", "1.0.0",
                         "ZeroMQ: requests on a ROUTER socket, answered once handled; events on a "
                         "PUB socket",
                         sidecar::zeromq::ZeromqTransport)
