#include "reserve.hpp"

#include <set>
#include <stdexcept>

#include "inventory/batch.hpp"
#include "inventory/events.hpp"
#include "inventory/pg.hpp"

namespace sidecar::order_reservation {

namespace {

// The key claim of the single-order statement: a row when the message is new.
constexpr const char* kClaimKey =
    "INSERT INTO handled_keys (idempotent_key, topic, order_id)"
    " VALUES ($1::uuid, $2::text, $3::bigint) ON CONFLICT DO NOTHING RETURNING 1";
// In a fall-back run the message's key is claimed already (claim_fall_back_keys): always a row.
constexpr const char* kKeyClaimedBefore = "SELECT $1::uuid, $2::text";

// The single-order statement, with `claim` as its CTE `k`: the rest goes on only when it yields a
// row.
std::string reserve_order_sql(const char* claim) {
  return std::string(
             "WITH l AS (SELECT u.product_id, u.count"
             "  FROM unnest($7::bigint[], $8::int[]) AS u (product_id, count)"
             "  UNION ALL SELECT oi.product_id, oi.count FROM order_items oi"
             "  WHERE $4::boolean AND oi.order_id = $3::bigint),"
             " k AS (") +
         claim +
         "),"
         " c AS (SELECT pg_advisory_xact_lock(5365261, hashint8($3::bigint)) FROM k),"
         " locked AS (SELECT p.id, p.count FROM products p"
         "  WHERE p.id = ANY(ARRAY(SELECT product_id FROM l)) AND EXISTS (SELECT 1 FROM c)"
         "  ORDER BY p.id FOR UPDATE),"
         " v AS (SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM l) THEN 'no_items'"
         "  WHEN EXISTS (SELECT 1 FROM l WHERE l.product_id NOT IN (SELECT id FROM locked))"
         "   THEN 'unknown_product'"
         "  WHEN EXISTS (SELECT 1 FROM l JOIN locked ON locked.id = l.product_id"
         "   WHERE locked.count < l.count) THEN 'insufficient_stock' END AS reason),"
         " d AS (INSERT INTO order_decisions (order_id, status, reason)"
         "  SELECT $3::bigint, CASE WHEN v.reason IS NULL THEN 'CREATED' ELSE 'FAILED' END,"
         "   v.reason FROM k, v"
         "  WHERE NOT EXISTS (SELECT 1 FROM reservations WHERE order_id = $3::bigint)"
         "  ON CONFLICT DO NOTHING RETURNING status, reason),"
         " take AS (SELECT l.product_id, l.count FROM l"
         "  WHERE EXISTS (SELECT 1 FROM d WHERE d.status = 'CREATED')),"
         " p AS (UPDATE products SET count = products.count - take.count FROM take"
         "  WHERE products.id = ANY(ARRAY(SELECT product_id FROM take))"
         "   AND products.id = take.product_id RETURNING products.id),"
         " r AS (INSERT INTO reservations (order_id, product_id, count)"
         "  SELECT $3::bigint, product_id, count FROM take RETURNING 1),"
         " o AS (INSERT INTO outbox (topic, key, payload)"
         "  SELECT $9::text, $3::bigint::text, '{\"idempotent_key\":\"'"
         "   || CASE d.status WHEN 'CREATED' THEN $5::text ELSE $6::text END"
         "   || '\",\"order_id\":' || $3::bigint || ',\"status\":\"' || d.status || '\"'"
         "   || coalesce(',\"reason\":\"' || d.reason || '\"', '') || '}' FROM d RETURNING 1)"
         " SELECT coalesce((SELECT status FROM d), 'duplicate'), (SELECT reason FROM d),"
         "  (SELECT count(*) FROM p), (SELECT count(*) FROM take)";
}

}  // namespace

void prepare_reservation(pqxx::connection& conn) {
  // All of a batch's work in one round trip; see migrations/0005_reserve_orders.sql
  // (its current text: 0010_order_claim_lock.sql).
  conn.prepare("reserve_orders",
               "SELECT o_msg, o_status, o_reason FROM reserve_orders($1::uuid[], $2::text[],"
               " $3::bigint[], $4::boolean[], $5::text[], $6::text[], $7::int[], $8::bigint[],"
               " $9::int[], $10::text)");
  // One order in one statement: what reserve_orders() does for a batch, as plain SQL, because for
  // a single order the function's many statements cost about three times the CPU of this one
  // (measured: ~280 vs ~100 µs), which is what a batch of 1 competes with. The key is claimed
  // first, then the order's claim lock is taken (`c` waits for `k`, `locked` for `c`), then the
  // lines' products are locked, then the order is claimed with its decision, which reads the
  // locked counts: keys, order locks, products, as a batch takes them (migration 0010), so the
  // same message, or the same order under another key, handled here and in another sidecar's
  // batch at once waits instead of deadlocking. A duplicate key locks nothing. Keep its rules in
  // step with reserve_orders(): the tests run both (single messages and batches). Products are
  // found by `id = ANY(array)`, not by a join: the plan is made once per connection, and made on a
  // small table a join became a merge join walking the products index from its start, for every
  // order (measured on 999 products: 334 index entries read per lookup instead of 1).
  conn.prepare("reserve_order", reserve_order_sql(kClaimKey));
  // The same for a message of a fall-back run, whose key that run claimed before anything else.
  conn.prepare("reserve_order_claimed", reserve_order_sql(kKeyClaimedBefore));
  // Only for the run with savepoints, whose messages each run on their own: locking per message
  // would let two sidecars' batches deadlock. The orders' claim locks first, sorted by lock key as
  // reserve_orders() takes them, then the products: a single statement for one of these orders
  // under another key, which holds its order lock while it waits for a product, is then waited
  // for before any product is taken from it (the messages' statements take their order locks
  // again, which a transaction already holding them passes).
  // A fall-back run claims its keys before anything else, in key order as reserve_orders() does,
  // so that a redelivery of one of its messages in another sidecar, which claims its key first,
  // waits for this run instead of holding the key this run would wait for. The result: the
  // positions (1-based) of the messages that claimed their key, the first of each new key.
  conn.prepare("claim_fall_back_keys",
               "WITH u AS (SELECT * FROM unnest($1::uuid[], $2::text[], $3::bigint[])"
               "  WITH ORDINALITY AS u (k, t, o, x)),"
               " ins AS (INSERT INTO handled_keys (idempotent_key, topic, order_id)"
               "  SELECT k, t, o FROM u ORDER BY k, x ON CONFLICT DO NOTHING"
               "  RETURNING idempotent_key)"
               " SELECT min(u.x) FROM u JOIN ins ON ins.idempotent_key = u.k GROUP BY u.k");
  // The keys of the messages that will be tried again (failed, retried, or behind one that is).
  conn.prepare("release_fall_back_keys",
               "DELETE FROM handled_keys WHERE idempotent_key = ANY($1::uuid[])");
  conn.prepare("lock_batch_orders",
               "SELECT pg_advisory_xact_lock(5365261, c.h) FROM (SELECT DISTINCT hashint8(o) AS h"
               " FROM unnest($1::bigint[]) AS o ORDER BY 1) AS c");
  conn.prepare("lock_batch_products",
               "SELECT id FROM products WHERE id = ANY(ARRAY(SELECT unnest($1::bigint[])"
               " UNION SELECT product_id FROM order_items WHERE order_id = ANY($2::bigint[])))"
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

// One order in one statement ("reserve_order"): its decision, or nothing for a duplicate.
std::optional<Decision> reserve_order(pqxx::transaction_base& tx, const Message& msg,
                                      const inventory::OrderCreated& m,
                                      const std::string& emit_topic, bool key_claimed = false) {
  std::vector<std::int64_t> products;
  std::vector<std::int32_t> counts;
  if (m.items) {
    for (const auto& line : *m.items) {
      products.push_back(line.product_id);
      counts.push_back(line.count);
    }
  }
  pqxx::row r = tx.exec_prepared1(
      key_claimed ? "reserve_order_claimed" : "reserve_order", m.idempotent_key, msg.topic,
      m.order_id, !m.items, inventory::event_key(m.idempotent_key, "inventory.CREATED"),
      inventory::event_key(m.idempotent_key, "inventory.FAILED"), inventory::int_array(products),
      inventory::int_array(counts), emit_topic);
  if (r[2].as<std::int64_t>() != r[3].as<std::int64_t>()) {
    // Cannot happen while the rows are locked; refuse rather than reserve part of an order.
    throw std::runtime_error("product rows changed under lock");
  }
  std::string status = r[0].as<std::string>();
  if (status == "duplicate") return std::nullopt;
  return Decision{std::move(status), r[1].is_null() ? "" : r[1].as<std::string>()};
}

// Claims the keys of `todo` for a fall-back run; the keys it claimed (those not handled before).
std::set<std::string> claim_fall_back_keys(
    pqxx::transaction_base& tx, std::span<const Message> batch,
    const std::vector<std::optional<inventory::OrderCreated>>& msgs,
    const std::vector<std::size_t>& todo) {
  std::vector<std::string> keys, topics;
  std::vector<std::int64_t> orders;
  for (std::size_t i : todo) {
    keys.push_back(msgs[i]->idempotent_key);
    topics.push_back(batch[i].topic);
    orders.push_back(msgs[i]->order_id);
  }
  std::set<std::string> claimed;
  for (const auto& row :
       tx.exec_prepared("claim_fall_back_keys", inventory::text_array(keys),
                        inventory::text_array(topics), inventory::int_array(orders))) {
    auto x = row[0].as<std::size_t>();
    if (x < 1 || x > todo.size()) throw std::runtime_error("claim_fall_back_keys: bad position");
    claimed.insert(keys[x - 1]);
  }
  return claimed;
}

void lock_batch(pqxx::transaction_base& tx,
                const std::vector<std::optional<inventory::OrderCreated>>& msgs,
                const std::vector<std::size_t>& todo) {
  std::vector<std::int64_t> orders, products, stored_orders;
  for (std::size_t i : todo) {
    const auto& m = *msgs[i];
    orders.push_back(m.order_id);
    if (!m.items) {
      stored_orders.push_back(m.order_id);
      continue;
    }
    for (const auto& line : *m.items) products.push_back(line.product_id);
  }
  tx.exec_prepared("lock_batch_orders", inventory::int_array(orders));
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
    auto decided = todo.size() == 1
                       ? std::vector{reserve_order(tx, batch[todo[0]], *msgs[todo[0]], emit_topic)}
                       : reserve_orders(tx, batch, msgs, todo, emit_topic);
    for (std::size_t j = 0; j < todo.size(); ++j) {
      out[todo[j]] = decided[j] ? Outcome::ok() : Outcome::duplicate();
      decisions[todo[j]] = std::move(decided[j]);
    }
    return;
  }

  // Keys, order locks, products, then each message: the order a batch takes them in. A key this
  // run claimed stays open until a message of it goes through (handled, or its order decided
  // under another key); another message with the same key runs only if none has yet. The keys
  // still open at the end belong to messages that will come back, and are given back.
  std::set<std::string> open = claim_fall_back_keys(tx, batch, msgs, todo);
  lock_batch(tx, msgs, todo);
  inventory::KeyGate gate(batch);
  for (std::size_t i : todo) {
    const std::string& key = msgs[i]->idempotent_key;
    if (gate.blocked(i)) {
      out[i] = inventory::KeyGate::waiting();
    } else if (open.count(key) == 0) {
      out[i] = Outcome::duplicate();  // handled before this run, or by a message of it
    } else {
      std::optional<Decision> decided;
      Outcome o = inventory::one_message(tx, true, [&](pqxx::transaction_base& t) {
        decided = reserve_order(t, batch[i], *msgs[i], emit_topic, true);
        return decided ? Outcome::ok() : Outcome::duplicate();
      });
      gate.note(i, o);
      if (o.kind == OutcomeKind::handled || o.kind == OutcomeKind::duplicate) open.erase(key);
      if (o.kind == OutcomeKind::handled) decisions[i] = std::move(decided);
      out[i] = std::move(o);
    }
  }
  if (!open.empty()) {
    tx.exec_prepared("release_fall_back_keys",
                     inventory::text_array(std::vector<std::string>(open.begin(), open.end())));
  }
}

}  // namespace sidecar::order_reservation
