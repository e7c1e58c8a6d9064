-- reserve_orders() again, with the same signature, rules and results, and one more lock: before
-- it claims its orders, a batch takes a transaction advisory lock per candidate order, in the
-- order of the lock keys; the single-order statement (plugins/order-reservation/src/reserve.cpp)
-- takes its order's lock after its key and before its products. Lock order of a batch: keys,
-- order locks, order claims (decisions), products; of a single order: key, order lock, products,
-- order claim; of a batch's fall-back run with savepoints (plugins/order-reservation/src/
-- reserve.cpp): keys, order locks, products, then each message's claim. Whoever claims an order
-- holds its order lock from before any product lock until the commit.
--
-- Why: the single-order statement claims its order only after locking its products, because it
-- claims the order with the decision those products allow, while a batch claims its orders before
-- locking products (0009). The same order arriving under two keys at once, decided by one
-- sidecar's single statement and another's batch, could then deadlock over a product both take:
-- the single statement held the product and waited for the batch's claim of the order, the batch
-- held the claim and waited for the product. Now the second to come waits for the first's order
-- lock before it touches any product. (Tested:
-- ReservationTest.OneOrderUnderTwoKeysInASingleStatementAndABatchDoesNotDeadlock.)
--
-- The lock key is (5365261, hashint8(order_id)): a class of its own in the two-int4 key space
-- (which PostgreSQL keeps apart from the bigint keys of the migrations' and the outbox relay's
-- locks), and a 32-bit hash of the order id. Two orders that share a hash only wait for each
-- other; whoever takes several takes them sorted by that hash, so a shared hash cannot make them
-- wait in a cycle.
CREATE OR REPLACE FUNCTION reserve_orders(p_keys uuid[], p_topics text[], p_orders bigint[],
                               p_stored boolean[], p_created_keys text[], p_failed_keys text[],
                               p_line_msg int[], p_line_product bigint[], p_line_count int[],
                               p_emit_topic text)
RETURNS TABLE (o_msg int, o_status text, o_reason text)
LANGUAGE plpgsql SET enable_seqscan = off AS $$
DECLARE
  n int := coalesce(cardinality(p_keys), 0);
  l_msg int[] := coalesce(p_line_msg, '{}');
  l_prod bigint[] := coalesce(p_line_product, '{}');
  l_cnt int[] := coalesce(p_line_count, '{}');
  nl int;
  l_idx int[];
  l_take boolean[];
  ids bigint[];
  stock bigint[];
  new_keys uuid[];
  cand_orders bigint[] := '{}';
  cand boolean[] := array_fill(false, ARRAY[n]);
  claimed bigint[];
  st text[] := array_fill('duplicate'::text, ARRAY[n]);
  rs text[] := array_fill(NULL::text, ARRAY[n]);
  why text;
  j int := 1;
  s int;
  touched int;
  updated int;
BEGIN
  IF true = ANY(p_stored) THEN
    SELECT coalesce(array_agg(u.m ORDER BY u.m, u.x, u.p), '{}'),
           coalesce(array_agg(u.p ORDER BY u.m, u.x, u.p), '{}'),
           coalesce(array_agg(u.c ORDER BY u.m, u.x, u.p), '{}')
      INTO l_msg, l_prod, l_cnt
      FROM (SELECT g.m, g.p, g.c, g.x
              FROM unnest(l_msg, l_prod, l_cnt) WITH ORDINALITY AS g (m, p, c, x)
            UNION ALL
            SELECT t.i::int, oi.product_id, oi.count, 0
              FROM unnest(p_orders, p_stored) WITH ORDINALITY AS t (order_id, stored, i)
              JOIN order_items oi ON oi.order_id = t.order_id
             WHERE t.stored AND oi.order_id = ANY(p_orders)) AS u;
  END IF;
  nl := coalesce(cardinality(l_msg), 0);
  l_take := array_fill(false, ARRAY[nl]);

  WITH k AS (INSERT INTO handled_keys (idempotent_key, topic, order_id)
             SELECT u.k, u.t, u.o
               FROM unnest(p_keys, p_topics, p_orders) WITH ORDINALITY AS u (k, t, o, x)
              ORDER BY u.k, u.x  -- a key twice: its first message's row, as before
             ON CONFLICT DO NOTHING RETURNING idempotent_key)
  SELECT coalesce(array_agg(idempotent_key), '{}') INTO new_keys FROM k;

  -- A key inserted now belongs to its first message; an order to the first such message.
  FOR i IN 1..n LOOP
    IF p_keys[i] = ANY(new_keys) AND NOT p_keys[i] = ANY(p_keys[1:i - 1])
       AND NOT p_orders[i] = ANY(cand_orders) THEN
      cand[i] := true;
      cand_orders := cand_orders || p_orders[i];
    END IF;
  END LOOP;

  -- The claim. Its status is provisional: the ones that fail are corrected below, once decided.
  -- The claim locks of the candidate orders, sorted by lock key as every batch takes them.
  PERFORM pg_advisory_xact_lock(5365261, c.h)
     FROM (SELECT DISTINCT hashint8(o) AS h FROM unnest(cand_orders) AS o ORDER BY 1) AS c;

  WITH d AS (INSERT INTO order_decisions (order_id, status)
             SELECT o, 'CREATED' FROM unnest(cand_orders) AS o
              WHERE NOT EXISTS (SELECT 1 FROM reservations r
                                 WHERE r.order_id = o AND r.order_id = ANY(cand_orders))
              ORDER BY o
             ON CONFLICT DO NOTHING RETURNING order_id)
  SELECT coalesce(array_agg(order_id), '{}') INTO claimed FROM d;

  SELECT array_agg(p.id ORDER BY p.id), array_agg(p.count::bigint ORDER BY p.id)
    INTO ids, stock
    FROM (SELECT id, count FROM products WHERE id = ANY(l_prod) ORDER BY id FOR UPDATE) AS p;
  -- Each line's place in `ids` (NULL: no such product), found by one hash join while the locks
  -- are held rather than by a search of `ids` per line.
  SELECT coalesce(array_agg(x.pos::int ORDER BY u.ord), '{}') INTO l_idx
    FROM unnest(l_prod) WITH ORDINALITY AS u (p, ord)
    LEFT JOIN unnest(ids) WITH ORDINALITY AS x (id, pos) ON x.id = u.p;

  FOR i IN 1..n LOOP
    s := j;
    WHILE j <= nl AND l_msg[j] = i LOOP
      j := j + 1;
    END LOOP;
    CONTINUE WHEN NOT (cand[i] AND p_orders[i] = ANY(claimed));
    why := NULL;
    IF j = s THEN
      why := 'no_items';
    ELSE
      -- Every line is checked before any is taken; an unknown product wins over short stock.
      FOR x IN s..j - 1 LOOP
        IF l_idx[x] IS NULL THEN
          why := 'unknown_product';
          EXIT;
        END IF;
        IF stock[l_idx[x]] < l_cnt[x] THEN
          why := 'insufficient_stock';
        END IF;
      END LOOP;
    END IF;
    IF why IS NULL THEN
      FOR x IN s..j - 1 LOOP
        stock[l_idx[x]] := stock[l_idx[x]] - l_cnt[x];
        l_take[x] := true;
      END LOOP;
      st[i] := 'CREATED';
    ELSE
      st[i] := 'FAILED';
      rs[i] := why;
    END IF;
  END LOOP;

  IF 'FAILED' = ANY(st) THEN
    UPDATE order_decisions d SET status = 'FAILED', reason = u.r
      FROM unnest(p_orders, st, rs) AS u (o, s, r)
     WHERE u.s = 'FAILED' AND d.order_id = u.o AND d.order_id = ANY(p_orders);
  END IF;

  IF true = ANY(l_take) THEN
    SELECT count(DISTINCT u.p) INTO touched FROM unnest(l_prod, l_take) AS u (p, t) WHERE u.t;
    UPDATE products SET count = products.count - need.c
      FROM (SELECT u.p, sum(u.c)::int AS c FROM unnest(l_prod, l_cnt, l_take) AS u (p, c, t)
             WHERE u.t GROUP BY u.p) AS need
     WHERE products.id = need.p AND products.id = ANY(l_prod);
    GET DIAGNOSTICS updated = ROW_COUNT;
    IF updated <> touched THEN
      -- Cannot happen while the rows are locked; refuse rather than reserve part of an order.
      RAISE EXCEPTION 'product rows changed under lock';
    END IF;
    INSERT INTO reservations (order_id, product_id, count)
    SELECT p_orders[u.m], u.p, u.c FROM unnest(l_msg, l_prod, l_cnt, l_take) AS u (m, p, c, t)
     WHERE u.t;
  END IF;

  IF 'CREATED' = ANY(st) OR 'FAILED' = ANY(st) THEN
    INSERT INTO outbox (topic, key, payload)
    SELECT p_emit_topic, p_orders[u.i]::text,
           '{"idempotent_key":"'
           || CASE u.s WHEN 'CREATED' THEN p_created_keys[u.i] ELSE p_failed_keys[u.i] END
           || '","order_id":' || p_orders[u.i] || ',"status":"' || u.s || '"'
           || coalesce(',"reason":"' || u.r || '"', '') || '}'
      FROM unnest(st, rs) WITH ORDINALITY AS u (s, r, i)
     WHERE u.s <> 'duplicate'
     ORDER BY u.i;
  END IF;

  RETURN QUERY SELECT u.i::int, u.s, u.r FROM unnest(st, rs) WITH ORDINALITY AS u (s, r, i);
END
$$;
