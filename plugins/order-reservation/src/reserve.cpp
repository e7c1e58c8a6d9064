#include "reserve.hpp"

#include <algorithm>
#include <stdexcept>

#include "inventory/batch.hpp"
#include "inventory/events.hpp"
#include "inventory/pg.hpp"

namespace sidecar::order_reservation {

using inventory::OrderLine;

void prepare_reservation(pqxx::connection& conn) {
  conn.prepare("order_lines",
               "SELECT order_id, product_id, count FROM order_items"
               " WHERE order_id = ANY($1::bigint[]) ORDER BY order_id, product_id");
  conn.prepare(
      "lock_products",
      "SELECT id, count FROM products WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE");
  // One round trip per order. The key comes first: a known key stops everything else. The
  // decision row is the order's claim: an order decided before (or reserved by another tool),
  // whatever key it came with, changes nothing. Stock was checked under the locks already.
  conn.prepare("reserve_order",
               "WITH k AS (INSERT INTO handled_keys (idempotent_key, topic, order_id)"
               "  VALUES ($1::uuid, $2, $3) ON CONFLICT DO NOTHING RETURNING 1),"
               " d AS (INSERT INTO order_decisions (order_id, status, reason)"
               "  SELECT $3, $4::text, NULLIF($5::text, '') FROM k"
               "  WHERE NOT EXISTS (SELECT 1 FROM reservations WHERE order_id = $3)"
               "  ON CONFLICT DO NOTHING RETURNING order_id),"
               " l AS (SELECT u.product_id, u.count"
               "  FROM unnest($6::bigint[], $7::int[]) AS u (product_id, count)"
               "  WHERE $4::text = 'CREATED' AND EXISTS (SELECT 1 FROM d)),"
               " p AS (UPDATE products SET count = products.count - l.count FROM l"
               "  WHERE products.id = l.product_id RETURNING products.id),"
               " r AS (INSERT INTO reservations (order_id, product_id, count)"
               "  SELECT $3, product_id, count FROM l RETURNING product_id),"
               " o AS (INSERT INTO outbox (topic, key, payload)"
               "  SELECT $8, $9, $10 FROM d RETURNING id)"
               " SELECT EXISTS (SELECT 1 FROM k), EXISTS (SELECT 1 FROM d),"
               "  (SELECT count(*) FROM p)");
}

Decision decide(const std::vector<OrderLine>& lines,
                const std::map<std::int64_t, std::int64_t>& stock) {
  if (lines.empty()) return {"FAILED", "no_items"};
  bool short_of_stock = false;
  for (const auto& line : lines) {
    auto it = stock.find(line.product_id);
    if (it == stock.end()) return {"FAILED", "unknown_product"};
    if (it->second < line.count) short_of_stock = true;
  }
  if (short_of_stock) return {"FAILED", "insufficient_stock"};
  return {"CREATED", ""};
}

namespace {

std::map<std::int64_t, std::vector<OrderLine>> stored_lines(
    pqxx::dbtransaction& tx, const std::vector<std::optional<inventory::OrderCreated>>& msgs,
    const std::vector<std::size_t>& todo) {
  std::vector<std::int64_t> orders;
  for (std::size_t i : todo) {
    if (!msgs[i]->items) orders.push_back(msgs[i]->order_id);
  }
  std::map<std::int64_t, std::vector<OrderLine>> lines;
  if (orders.empty()) return lines;
  for (const auto& row : tx.exec_prepared("order_lines", inventory::int_array(orders))) {
    lines[row[0].as<std::int64_t>()].push_back(
        {row[1].as<std::int64_t>(), row[2].as<std::int32_t>()});
  }
  return lines;
}

std::map<std::int64_t, std::int64_t> lock_stock(pqxx::dbtransaction& tx,
                                                std::vector<std::int64_t> product_ids) {
  std::map<std::int64_t, std::int64_t> stock;
  std::sort(product_ids.begin(), product_ids.end());
  product_ids.erase(std::unique(product_ids.begin(), product_ids.end()), product_ids.end());
  if (product_ids.empty()) return stock;
  for (const auto& row : tx.exec_prepared("lock_products", inventory::int_array(product_ids))) {
    stock[row[0].as<std::int64_t>()] = row[1].as<std::int64_t>();
  }
  return stock;
}

}  // namespace

void reserve_batch(pqxx::dbtransaction& tx, std::span<const Message> batch,
                   const std::vector<std::optional<inventory::OrderCreated>>& msgs,
                   const std::vector<std::size_t>& todo, const std::string& emit_topic,
                   std::vector<Outcome>& out, std::vector<std::optional<Decision>>& decisions,
                   bool savepoints) {
  auto stored = stored_lines(tx, msgs, todo);
  std::vector<std::vector<OrderLine>> lines(batch.size());
  std::vector<std::int64_t> product_ids;
  for (std::size_t i : todo) {
    const auto& m = *msgs[i];
    lines[i] = m.items ? *m.items : stored[m.order_id];
    for (const auto& l : lines[i]) product_ids.push_back(l.product_id);
  }
  auto stock = lock_stock(tx, std::move(product_ids));

  inventory::KeyGate gate(batch);
  for (std::size_t i : todo) {
    if (gate.blocked(i)) {
      out[i] = inventory::KeyGate::waiting();
      continue;
    }
    const auto& m = *msgs[i];
    Decision d = decide(lines[i], stock);
    auto event = inventory::inventory_event(
        emit_topic, inventory::event_key(m.idempotent_key, "inventory." + d.status), m.order_id,
        d.status, d.reason);
    std::vector<std::int64_t> pids;
    std::vector<std::int32_t> counts;
    if (d.status == "CREATED") {
      for (const auto& l : lines[i]) {
        pids.push_back(l.product_id);
        counts.push_back(l.count);
      }
    }
    Outcome o = inventory::one_message(tx, savepoints, [&](pqxx::dbtransaction& t) {
      pqxx::row r =
          t.exec_prepared1("reserve_order", m.idempotent_key, batch[i].topic, m.order_id, d.status,
                           d.reason, inventory::int_array(pids), inventory::int_array(counts),
                           event.topic, event.key, event.payload);
      if (!r[0].as<bool>() || !r[1].as<bool>()) return Outcome::duplicate();
      if (r[2].as<std::size_t>() != pids.size()) {
        // Cannot happen while the rows are locked; refuse rather than reserve part of an order.
        throw std::runtime_error("product rows changed under lock");
      }
      return Outcome::ok();
    });
    gate.note(i, o);
    if (o.kind == OutcomeKind::handled) {
      for (std::size_t j = 0; j < pids.size(); ++j) stock[pids[j]] -= counts[j];
      decisions[i] = std::move(d);
    }
    out[i] = std::move(o);
  }
}

}  // namespace sidecar::order_reservation
