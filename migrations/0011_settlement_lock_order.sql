-- settle_payments() again, with the same signature, rules and results, and one more lock: after
-- the products a FAILED payment returns stock to, and before anything is changed, it locks every
-- held reservation of the batch's orders in (order_id, product_id) order. The hold-expiry sweep
-- (plugins/inventory/src/settlement.cpp, plugins/order-reservation/src/hold_expiry.cpp) locks
-- the held reservations of the orders it expires in the same order, after its product locks.
--
-- Why: a batch changed its orders' reservations one order at a time, in the order the payments
-- arrived, and the sweep one order at a time, oldest first. A batch [COMPLETED for Y, COMPLETED
-- for X] held Y's rows and waited for X's while the sweep, expiring X then Y, held X's and waited
-- for Y's: PostgreSQL broke the cycle by aborting one of them after deadlock_timeout, which
-- PRODUCT.md rules out ("never deadlock"). Lock order of both now: products (by id), then
-- reservations (by order, product), then each order's decision row, whose order's reservations
-- are then already held.
CREATE OR REPLACE FUNCTION settle_payments(p_keys uuid[], p_topics text[], p_orders bigint[],
                                p_completed boolean[])
RETURNS TABLE (o_msg int, o_key_new boolean, o_settled bigint, o_had_reservations boolean)
LANGUAGE plpgsql AS $$
DECLARE
  n int := coalesce(cardinality(p_keys), 0);
BEGIN
  PERFORM 1 FROM products
    WHERE id = ANY(ARRAY(SELECT r.product_id
                           FROM reservations r
                           JOIN unnest(p_orders, p_completed) AS u (o, c) ON r.order_id = u.o
                          WHERE NOT u.c AND r.status IS NULL AND r.order_id = ANY(p_orders)))
    ORDER BY id FOR UPDATE;
  -- Every held reservation of the batch's orders, in (order, product) order, before any is
  -- changed: the hold-expiry sweep takes them in the same order after the same product locks, so
  -- neither holds one order's rows while waiting for another's that the other holds.
  PERFORM 1 FROM reservations
    WHERE order_id = ANY(p_orders) AND status IS NULL
    ORDER BY order_id, product_id FOR UPDATE;
  FOR i IN 1..n LOOP
    o_msg := i;
    o_settled := 0;
    o_had_reservations := EXISTS (SELECT 1 FROM reservations WHERE order_id = p_orders[i]);
    INSERT INTO handled_keys (idempotent_key, topic, order_id)
      VALUES (p_keys[i], p_topics[i], p_orders[i]) ON CONFLICT DO NOTHING;
    o_key_new := FOUND;
    IF o_key_new THEN
      -- Only rows still held: the first decision (payment or hold expiry) wins.
      WITH s AS (UPDATE reservations SET status = p_completed[i]
                  WHERE order_id = p_orders[i] AND status IS NULL RETURNING product_id, count),
           b AS (UPDATE products SET count = products.count + s.count FROM s
                  WHERE products.id = s.product_id AND NOT p_completed[i]
                    AND products.id = ANY(ARRAY(SELECT product_id FROM s)) RETURNING products.id),
           d AS (UPDATE order_decisions
                    SET settlement = CASE WHEN p_completed[i] THEN 'COMPLETED' ELSE 'FAILED' END,
                        settled_at = now()
                  WHERE order_id = p_orders[i] AND settlement IS NULL AND EXISTS (SELECT 1 FROM s)
                  RETURNING order_id)
      SELECT count(*) INTO o_settled FROM s;
    END IF;
    RETURN NEXT;
  END LOOP;
END
$$;

-- CREATE OR REPLACE drops the setting 0009 gave the function.
ALTER FUNCTION settle_payments(uuid[], text[], bigint[], boolean[]) SET enable_seqscan = off;
