// The plugin's exports; everything else is in the library the tests link too.
#include "sidecar/plugin.hpp"
#include "product_query.hpp"

SIDECAR_HANDLER_PLUGIN("product-query", "0.1.0",
                       "answers product queries ({\"ids\": [...]} or {}) with the stock",
                       sidecar::product_query::ProductQuery)
