#include "inventory/settlement.hpp"

#include <stdexcept>

#include "inventory/pg.hpp"

namespace sidecar::inventory {

void prepare_settlement(pqxx::connection& conn) {
  // Products by `id = ANY(array)`, not by a join alone: a plan made on a small table (it lasts
  // as long as the connection) merge-joined the whole products index for every payment.
  conn.prepare("lock_held_products",
               "SELECT id FROM products WHERE id = ANY(ARRAY(SELECT product_id FROM reservations"
               " WHERE order_id = ANY($1::bigint[]) AND status IS NULL)) ORDER BY id FOR UPDATE");
  conn.prepare("lock_held_reservations",
               "SELECT 1 FROM reservations WHERE order_id = ANY($1::bigint[]) AND status IS NULL"
               " ORDER BY order_id, product_id FOR UPDATE");
  conn.prepare("settle_payments",
               "SELECT o_msg, o_key_new, o_settled, o_had_reservations FROM"
               " settle_payments($1::uuid[], $2::text[], $3::bigint[], $4::boolean[])");
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
               "  WHERE products.id = ANY(ARRAY(SELECT product_id FROM s))"
               "   AND products.id = s.product_id RETURNING products.id),"
               " d AS (UPDATE order_decisions SET settlement = 'EXPIRED', settled_at = now()"
               "  WHERE order_id = $1 AND settlement IS NULL AND EXISTS (SELECT 1 FROM s)"
               "  RETURNING order_id),"
               " o AS (INSERT INTO outbox (topic, key, payload) SELECT $2, $3, $4"
               "  WHERE EXISTS (SELECT 1 FROM s) RETURNING id)"
               " SELECT count(*) FROM s");
}

void lock_held_products(pqxx::transaction_base& tx, const std::vector<std::int64_t>& order_ids) {
  if (order_ids.empty()) return;
  tx.exec_prepared("lock_held_products", int_array(order_ids));
}

void lock_held_reservations(pqxx::transaction_base& tx,
                            const std::vector<std::int64_t>& order_ids) {
  if (order_ids.empty()) return;
  tx.exec_prepared("lock_held_reservations", int_array(order_ids));
}

std::vector<PaymentApplied> apply_payments(pqxx::transaction_base& tx,
                                           const std::vector<Payment>& payments) {
  std::vector<std::string> keys, topics;
  std::vector<std::int64_t> orders;
  std::vector<bool> completed;
  for (const auto& p : payments) {
    keys.push_back(p.idempotent_key);
    topics.push_back(p.topic);
    orders.push_back(p.order_id);
    completed.push_back(p.completed);
  }
  pqxx::result rows = tx.exec_prepared("settle_payments", text_array(keys), text_array(topics),
                                       int_array(orders), bool_array(completed));
  if (rows.size() != payments.size()) throw std::runtime_error("settle_payments: wrong row count");
  std::vector<PaymentApplied> applied(payments.size());
  for (const auto& row : rows) {
    auto j = row[0].as<std::size_t>();
    if (j < 1 || j > payments.size()) throw std::runtime_error("settle_payments: bad index");
    applied[j - 1] = {row[1].as<bool>(), row[2].as<std::int64_t>(), row[3].as<bool>()};
  }
  return applied;
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
