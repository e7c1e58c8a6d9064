// The plugin's exports; everything else is in the library the tests link too.
#include "sidecar/plugin.hpp"
#include "payment_settlement.hpp"

SIDECAR_HANDLER_PLUGIN("payment-settlement", "0.1.0",
                       "confirms or releases held reservations on payment COMPLETED / FAILED",
                       sidecar::payment_settlement::PaymentSettlement)
