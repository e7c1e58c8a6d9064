#pragma once
// The `product-query` handler: the original service's "get products" as a request/reply route.
// {"ids": [1, 2]} or {} (all) is answered with {"products": [{"id", "name", "count"}, ...]} by id.
#include <memory>
#include <vector>

#include "inventory/pg.hpp"
#include "sidecar/handler.hpp"
#include "sidecar/options.hpp"

namespace sidecar::product_query {

class ProductQuery : public Handler {
 public:
  static std::vector<OptionSpec> option_specs();
  explicit ProductQuery(const Options& options);
  ~ProductQuery() override;

  Status start(const HandlerContext& ctx) noexcept override;
  void stop() noexcept override;
  std::vector<Outcome> handle(std::span<const Message> batch, std::size_t worker) noexcept override;

 private:
  std::string dsn_;
  std::size_t max_message_bytes_;
  std::size_t max_products_;
  std::vector<std::unique_ptr<inventory::PgSession>> sessions_;
};

}  // namespace sidecar::product_query
