-- A whole batch of payments in one call, so that one round trip (and, called outside a transaction
-- block, one implicit transaction) settles it instead of one round trip per payment. Per message,
-- in batch order, it does what payment-settlement did with one statement per payment: record the
-- key (a key seen before, or earlier in the batch, changes nothing), settle the order's rows still
-- held (confirm, or release and give their counts back), and set order_decisions.settlement. The
-- products FAILED payments give stock back to are locked first, in ascending id, in one statement:
-- the lock order of reservations and of the hold expiry.
-- Returns one row per message, in order: whether its key was new, how many held rows it settled,
-- and whether the order had reservation rows at all (held or settled) before it.
CREATE FUNCTION settle_payments(p_keys uuid[], p_topics text[], p_orders bigint[],
                                p_completed boolean[])
RETURNS TABLE (o_msg int, o_key_new boolean, o_settled bigint, o_had_reservations boolean)
LANGUAGE plpgsql AS $$
DECLARE
  n int := coalesce(cardinality(p_keys), 0);
BEGIN
  PERFORM 1 FROM products
    WHERE id IN (SELECT r.product_id
                   FROM reservations r
                   JOIN unnest(p_orders, p_completed) AS u (o, c) ON r.order_id = u.o
                  WHERE NOT u.c AND r.status IS NULL)
    ORDER BY id FOR UPDATE;
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
                  WHERE products.id = s.product_id AND NOT p_completed[i] RETURNING products.id),
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
