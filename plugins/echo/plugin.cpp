// The plugin's exported manifest, option declarations and factory: one macro.
#include "sidecar/plugin.hpp"

#include "echo_handler.hpp"

SIDECAR_HANDLER_PLUGIN("echo", "1.0.0", "re-emits every message to the topic named by `to`",
                       sidecar::echo::EchoHandler)
