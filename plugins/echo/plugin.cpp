// The plugin's exported manifest, option declarations and factory: one macro.
#include "echo_handler.hpp"
#include "sidecar/plugin.hpp"

SIDECAR_HANDLER_PLUGIN("echo", "1.0.0", "re-emits every message to the topic named by `to`",
                       sidecar::echo::EchoHandler)
