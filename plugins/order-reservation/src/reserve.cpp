#include "reserve.hpp"

#include <stdexcept>

#include "inventory/batch.hpp"
#include "inventory/events.hpp"
#include "inventory/pg.hpp"

namespace sidecar::order_reservation {

void prepare_reservation(pqxx::connection& conn) {
  // All of a batch's work in one round trip; see migrations/0005_reserve_orders.sql.
  conn.prepare("reserve_orders",
               "SELECT o_msg, o_status, o_reason FROM reserve_orders($1::uuid[], $2::text[],"
               " $3::bigint[], $4::boolean[], $5::text[], $6::text[], $7::int[], $8::bigint[],"
               " $9::int[], $10::text)");
  // Only for the run with savepoints, whose messages each call reserve_orders() on their own:
  // locking per message would let two sidecars' batches deadlock.
  conn.prepare("lock_batch_products",
               "SELECT id FROM products WHERE id IN (SELECT unnest($1::bigint[])"
               " UNION SELECT product_id FROM order_items WHERE order_id = ANY($2::bigint[]))"
               " ORDER BY id FOR UPDATE");
}

namespace {

// reserve_orders() for the messages `which`, in that order: a decision for each message that
// decided its order, nothing for a duplicate.
std::vector<std::optional<Decision>> reserve_orders(
    pqxx::transaction_base& tx, std::span<const Message> batch,
    const std::vector<std::optional<inventory::OrderCreated>>& msgs,
    const std::vector<std::size_t>& which, const std::string& emit_topic) {
  std::vector<std::string> keys, topics, created_keys, failed_keys;
  std::vector<std::int64_t> orders, line_products;
  std::vector<bool> stored;
  std::vector<std::int32_t> line_msgs, line_counts;
  for (std::size_t j = 0; j < which.size(); ++j) {
    const auto& m = *msgs[which[j]];
    keys.push_back(m.idempotent_key);
    topics.push_back(batch[which[j]].topic);
    orders.push_back(m.order_id);
    stored.push_back(!m.items);
    // The reason is only known in the database, so the keys of both possible events go there.
    created_keys.push_back(inventory::event_key(m.idempotent_key, "inventory.CREATED"));
    failed_keys.push_back(inventory::event_key(m.idempotent_key, "inventory.FAILED"));
    if (!m.items) continue;
    for (const auto& line : *m.items) {
      line_msgs.push_back(static_cast<std::int32_t>(j + 1));
      line_products.push_back(line.product_id);
      line_counts.push_back(line.count);
    }
  }
  pqxx::result rows =
      tx.exec_prepared("reserve_orders", inventory::text_array(keys), inventory::text_array(topics),
                       inventory::int_array(orders), inventory::bool_array(stored),
                       inventory::text_array(created_keys), inventory::text_array(failed_keys),
                       inventory::int_array(line_msgs), inventory::int_array(line_products),
                       inventory::int_array(line_counts), emit_topic);
  if (rows.size() != which.size()) throw std::runtime_error("reserve_orders: wrong row count");
  std::vector<std::optional<Decision>> decided(which.size());
  for (const auto& row : rows) {
    auto j = row[0].as<std::size_t>();
    if (j < 1 || j > which.size()) throw std::runtime_error("reserve_orders: bad message index");
    std::string status = row[1].as<std::string>();
    if (status == "duplicate") continue;
    decided[j - 1] = Decision{std::move(status), row[2].is_null() ? "" : row[2].as<std::string>()};
  }
  return decided;
}

void lock_batch_products(pqxx::transaction_base& tx,
                         const std::vector<std::optional<inventory::OrderCreated>>& msgs,
                         const std::vector<std::size_t>& todo) {
  std::vector<std::int64_t> products, stored_orders;
  for (std::size_t i : todo) {
    const auto& m = *msgs[i];
    if (!m.items) {
      stored_orders.push_back(m.order_id);
      continue;
    }
    for (const auto& line : *m.items) products.push_back(line.product_id);
  }
  tx.exec_prepared("lock_batch_products", inventory::int_array(products),
                   inventory::int_array(stored_orders));
}

}  // namespace

void reserve_batch(pqxx::transaction_base& tx, std::span<const Message> batch,
                   const std::vector<std::optional<inventory::OrderCreated>>& msgs,
                   const std::vector<std::size_t>& todo, const std::string& emit_topic,
                   std::vector<Outcome>& out, std::vector<std::optional<Decision>>& decisions,
                   bool savepoints) {
  if (!savepoints) {
    auto decided = reserve_orders(tx, batch, msgs, todo, emit_topic);
    for (std::size_t j = 0; j < todo.size(); ++j) {
      out[todo[j]] = decided[j] ? Outcome::ok() : Outcome::duplicate();
      decisions[todo[j]] = std::move(decided[j]);
    }
    return;
  }

  lock_batch_products(tx, msgs, todo);
  inventory::KeyGate gate(batch);
  for (std::size_t i : todo) {
    if (gate.blocked(i)) {
      out[i] = inventory::KeyGate::waiting();
      continue;
    }
    std::optional<Decision> decided;
    Outcome o = inventory::one_message(tx, true, [&](pqxx::transaction_base& t) {
      decided = std::move(reserve_orders(t, batch, msgs, {i}, emit_topic)[0]);
      return decided ? Outcome::ok() : Outcome::duplicate();
    });
    gate.note(i, o);
    if (o.kind == OutcomeKind::handled) decisions[i] = std::move(decided);
    out[i] = std::move(o);
  }
}

}  // namespace sidecar::order_reservation
