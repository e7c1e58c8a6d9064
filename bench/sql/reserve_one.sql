-- pgbench baseline for bench/reservation: one order of 3 lines as ONE statement, doing what the
-- order-reservation handler does in its transaction: record the key, record the decision, lock
-- the products in id order, check and take the stock, write the reservations and the outbox row.
\set p1 random(1, 333)
\set p2 random(334, 666)
\set p3 random(667, 999)
WITH o AS (
  SELECT nextval('bench_order_ids') AS id, gen_random_uuid() AS k
), key AS (
  INSERT INTO handled_keys (idempotent_key, topic, order_id) SELECT k, 'order', id FROM o
  RETURNING order_id
), lines (product_id, cnt) AS (
  VALUES (:p1::bigint, 1), (:p2::bigint, 2), (:p3::bigint, 1)
), locked AS (
  SELECT p.id, p.count FROM products p WHERE p.id IN (SELECT product_id FROM lines)
  ORDER BY p.id FOR UPDATE
), ok AS (
  SELECT count(*) = 3 AND bool_and(locked.count >= lines.cnt) AS ok
  FROM locked JOIN lines ON lines.product_id = locked.id
), upd AS (
  UPDATE products p SET count = p.count - l.cnt FROM lines l, ok
  WHERE ok.ok AND p.id = l.product_id RETURNING p.id
), res AS (
  INSERT INTO reservations (order_id, product_id, count)
  SELECT key.order_id, l.product_id, l.cnt FROM key, lines l, ok WHERE ok.ok RETURNING 1
), decision AS (
  INSERT INTO order_decisions (order_id, status)
  SELECT key.order_id, CASE WHEN ok.ok THEN 'CREATED' ELSE 'FAILED' END FROM key, ok RETURNING 1
)
INSERT INTO outbox (topic, key, payload)
SELECT 'inventory', key.order_id::text,
       json_build_object('idempotent_key', gen_random_uuid(), 'order_id', key.order_id,
                         'status', CASE WHEN ok.ok THEN 'CREATED' ELSE 'FAILED' END)::text
FROM key, ok;
