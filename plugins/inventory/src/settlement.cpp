#include "inventory/settlement.hpp"

#include "inventory/pg.hpp"

namespace sidecar::inventory {

void prepare_settlement(pqxx::connection& conn) {
  conn.prepare("lock_held_products",
               "SELECT id FROM products WHERE id IN (SELECT product_id FROM reservations"
               " WHERE order_id = ANY($1::bigint[]) AND status IS NULL) ORDER BY id FOR UPDATE");
  // The final EXISTS reads the statement's snapshot, i.e. the rows as they were before it.
  conn.prepare("apply_payment",
               "WITH k AS (INSERT INTO handled_keys (idempotent_key, topic, order_id)"
               "  VALUES ($1::uuid, $2, $3) ON CONFLICT DO NOTHING RETURNING 1),"
               " s AS (UPDATE reservations SET status = $4::boolean"
               "  WHERE order_id = $3 AND status IS NULL AND EXISTS (SELECT 1 FROM k)"
               "  RETURNING product_id, count),"
               " b AS (UPDATE products SET count = products.count + s.count FROM s"
               "  WHERE products.id = s.product_id AND NOT $4::boolean RETURNING products.id),"
               " d AS (UPDATE order_decisions SET settlement = $5::text, settled_at = now()"
               "  WHERE order_id = $3 AND settlement IS NULL AND EXISTS (SELECT 1 FROM s)"
               "  RETURNING order_id)"
               " SELECT EXISTS (SELECT 1 FROM k), (SELECT count(*) FROM s),"
               "  EXISTS (SELECT 1 FROM reservations WHERE order_id = $3)");
  conn.prepare("expired_holds",
               "SELECT d.order_id FROM order_decisions d"
               " WHERE d.status = 'CREATED' AND d.settlement IS NULL"
               "  AND d.decided_at < now() - $1::bigint * interval '1 millisecond'"
               "  AND EXISTS (SELECT 1 FROM reservations r"
               "   WHERE r.order_id = d.order_id AND r.status IS NULL)"
               " ORDER BY d.decided_at LIMIT $2");
  conn.prepare("expire_hold",
               "WITH s AS (UPDATE reservations SET status = false"
               "  WHERE order_id = $1 AND status IS NULL RETURNING product_id, count),"
               " b AS (UPDATE products SET count = products.count + s.count FROM s"
               "  WHERE products.id = s.product_id RETURNING products.id),"
               " d AS (UPDATE order_decisions SET settlement = 'EXPIRED', settled_at = now()"
               "  WHERE order_id = $1 AND settlement IS NULL AND EXISTS (SELECT 1 FROM s)"
               "  RETURNING order_id),"
               " o AS (INSERT INTO outbox (topic, key, payload) SELECT $2, $3, $4"
               "  WHERE EXISTS (SELECT 1 FROM s) RETURNING id)"
               " SELECT count(*) FROM s");
}

void lock_held_products(pqxx::dbtransaction& tx, const std::vector<std::int64_t>& order_ids) {
  if (order_ids.empty()) return;
  tx.exec_prepared("lock_held_products", int_array(order_ids));
}

PaymentApplied apply_payment(pqxx::dbtransaction& tx, const std::string& idempotent_key,
                             const std::string& topic, std::int64_t order_id, bool completed) {
  pqxx::row r = tx.exec_prepared1("apply_payment", idempotent_key, topic, order_id, completed,
                                  std::string(completed ? "COMPLETED" : "FAILED"));
  return {r[0].as<bool>(), r[1].as<std::int64_t>(), r[2].as<bool>()};
}

std::vector<std::int64_t> expired_holds(pqxx::dbtransaction& tx, std::int64_t timeout_ms,
                                        std::int64_t limit) {
  std::vector<std::int64_t> ids;
  for (const auto& row : tx.exec_prepared("expired_holds", timeout_ms, limit)) {
    ids.push_back(row[0].as<std::int64_t>());
  }
  return ids;
}

std::int64_t expire_hold(pqxx::dbtransaction& tx, std::int64_t order_id, const OutboxEvent& event) {
  return tx.exec_prepared1("expire_hold", order_id, event.topic, event.key, event.payload)[0]
      .as<std::int64_t>();
}

}  // namespace sidecar::inventory
