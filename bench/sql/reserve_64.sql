-- pgbench baseline for bench/reservation: 64 orders of 3 lines each as ONE statement. The
-- products of the whole batch are locked first, in id order (NOTES.md: per-order locking inside
-- a batch deadlocks). Stock is ample in the benchmark, so every order succeeds.
WITH o AS (
  SELECT nextval('bench_order_ids') AS id, gen_random_uuid() AS k FROM generate_series(1, 64)
), key AS (
  INSERT INTO handled_keys (idempotent_key, topic, order_id) SELECT k, 'order', id FROM o
  RETURNING order_id
), lines AS (
  SELECT key.order_id, 1 + (random() * 332)::bigint + 333 * j AS product_id, 1 + (j % 2) AS cnt
  FROM key, generate_series(0, 2) AS j
), need AS (
  SELECT product_id, sum(cnt)::int AS cnt FROM lines GROUP BY product_id
), locked AS (
  SELECT p.id FROM products p WHERE p.id IN (SELECT product_id FROM need) ORDER BY p.id FOR UPDATE
), upd AS (
  UPDATE products p SET count = p.count - need.cnt FROM need, (SELECT count(*) FROM locked) AS l
  WHERE p.id = need.product_id RETURNING p.id
), res AS (
  INSERT INTO reservations (order_id, product_id, count)
  SELECT order_id, product_id, sum(cnt) FROM lines GROUP BY order_id, product_id RETURNING 1
), decision AS (
  INSERT INTO order_decisions (order_id, status) SELECT order_id, 'CREATED' FROM key RETURNING 1
)
INSERT INTO outbox (topic, key, payload)
SELECT 'inventory', key.order_id::text,
       json_build_object('idempotent_key', gen_random_uuid(), 'order_id', key.order_id,
                         'status', 'CREATED')::text
FROM key;
