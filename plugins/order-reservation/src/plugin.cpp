// The plugin's exports; everything else is in the library the tests link too.
#include "sidecar/plugin.hpp"
#include "order_reservation.hpp"

SIDECAR_HANDLER_PLUGIN("order-reservation", "0.1.0",
                       "reserves stock for order CREATED messages (PostgreSQL, Redis fast path)",
                       sidecar::order_reservation::OrderReservation)
