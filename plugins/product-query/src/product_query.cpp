#include "product_query.hpp"

#include <nlohmann/json.hpp>

#include "inventory/batch.hpp"
#include "inventory/decode.hpp"

namespace sidecar::product_query {
namespace {

void prepare(pqxx::connection& conn) {
  // NULL ids: every product. LIMIT keeps one reply bounded on a huge table.
  conn.prepare("query_products",
               "SELECT id, name, count FROM products"
               " WHERE $1::bigint[] IS NULL OR id = ANY($1::bigint[]) ORDER BY id LIMIT $2");
}

}  // namespace

std::vector<OptionSpec> ProductQuery::option_specs() {
  return {
      {"pg_dsn", OptionType::string, "", true,
       "PostgreSQL connection string (libpq URI or key=value)", true},
      {"max_message_bytes", OptionType::integer, "1048576", false,
       "larger queries are dead-lettered unread", false},
      {"max_products", OptionType::integer, "10000", false,
       "at most this many products in one reply", false},
  };
}

ProductQuery::ProductQuery(const Options& options)
    : dsn_(options.get_string("pg_dsn")),
      max_message_bytes_(static_cast<std::size_t>(options.get_int("max_message_bytes"))),
      max_products_(static_cast<std::size_t>(options.get_int("max_products"))) {
  if (dsn_.empty()) throw std::invalid_argument("pg_dsn: must not be empty");
  if (options.get_int("max_message_bytes") <= 0) {
    throw std::invalid_argument("max_message_bytes: must be positive");
  }
  if (options.get_int("max_products") <= 0)
    throw std::invalid_argument("max_products: must be positive");
}

ProductQuery::~ProductQuery() { stop(); }

Status ProductQuery::start(const HandlerContext& ctx) noexcept {
  try {
    if (!sessions_.empty()) return Status::error("already started");
    for (std::size_t i = 0; i < std::max<std::size_t>(1, ctx.workers); ++i) {
      sessions_.push_back(std::make_unique<inventory::PgSession>(dsn_, prepare));
    }
    return Status::ok();
  } catch (const std::exception& e) {
    sessions_.clear();
    return Status::error(e.what());
  }
}

void ProductQuery::stop() noexcept { sessions_.clear(); }

std::vector<Outcome> ProductQuery::handle(std::span<const Message> batch,
                                          std::size_t worker) noexcept {
  std::vector<Outcome> out(batch.size());
  try {
    std::vector<std::optional<inventory::ProductQuery>> queries(batch.size());
    std::vector<std::size_t> todo;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      auto d = inventory::decode_query(batch[i].payload, max_message_bytes_);
      if (const auto* r = inventory::rejection(d)) {
        out[i] = Outcome::rejected(r->reason);
      } else {
        queries[i] = std::move(std::get<inventory::ProductQuery>(d));
        todo.push_back(i);
      }
    }
    if (todo.empty()) return out;
    if (worker >= sessions_.size()) {
      for (std::size_t i : todo) out[i] = Outcome::retry("handler not started");
      return out;
    }
    inventory::PgSession& pg = *sessions_[worker];
    inventory::in_transaction(pg, out, todo, [&](pqxx::dbtransaction& tx) {
      for (std::size_t i : todo) {
        std::optional<std::string> ids;
        if (queries[i]->ids) ids = inventory::int_array(*queries[i]->ids);
        auto rows =
            tx.exec_prepared("query_products", ids, static_cast<std::int64_t>(max_products_));
        nlohmann::ordered_json products = nlohmann::ordered_json::array();
        for (const auto& row : rows) {
          products.push_back({{"id", row[0].as<std::int64_t>()},
                              {"name", row[1].as<std::string>()},
                              {"count", row[2].as<std::int64_t>()}});
        }
        nlohmann::ordered_json body;
        body["products"] = std::move(products);
        out[i] =
            Outcome::with_body(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      }
    });
  } catch (const std::exception& e) {
    for (auto& o : out) {
      if (o.kind != OutcomeKind::rejected) o = Outcome::retry(e.what());
    }
  }
  return out;
}

}  // namespace sidecar::product_query
