-- A whole batch of order reservations in one call, so that one round trip (and, called outside a
-- transaction block, one implicit transaction) holds the product locks instead of one round trip
-- per order. It does what order-reservation did one statement per order, in the same lock order:
--   1. the lines: the messages' own items, or `order_items` for those flagged `p_stored`;
--   2. every product of the batch locked, in ascending id, in one statement;
--   3. the keys claimed in `handled_keys` (a key seen before, or earlier in the batch, changes
--      nothing);
--   4. the orders claimed in `order_decisions` (an order decided before, reserved by another tool,
--      or earlier in the batch, changes nothing);
--   5. each claimed order decided in batch order against the running stock, so an earlier order
--      takes stock first: `unknown_product` (checked first), `insufficient_stock`, `no_items`;
--   6. stock, reservations, the decisions' final status and one outbox row per decided order.
-- Returns one row per message, in order: o_status 'duplicate', 'CREATED' or 'FAILED' (with
-- o_reason). Lines must be sorted by p_line_msg (1-based message index). The event payload is
-- built here byte for byte as inventory_event() builds it in C++ (tested), because the reason is
-- only known here; the event keys (UUIDv5, computed in C++) come in for both outcomes.
CREATE FUNCTION reserve_orders(p_keys uuid[], p_topics text[], p_orders bigint[],
                               p_stored boolean[], p_created_keys text[], p_failed_keys text[],
                               p_line_msg int[], p_line_product bigint[], p_line_count int[],
                               p_emit_topic text)
RETURNS TABLE (o_msg int, o_status text, o_reason text)
LANGUAGE plpgsql AS $$
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
             WHERE t.stored) AS u;
  END IF;
  nl := coalesce(cardinality(l_msg), 0);
  l_idx := array_fill(NULL::int, ARRAY[nl]);
  l_take := array_fill(false, ARRAY[nl]);

  SELECT array_agg(p.id ORDER BY p.id), array_agg(p.count::bigint ORDER BY p.id)
    INTO ids, stock
    FROM (SELECT id, count FROM products WHERE id = ANY(l_prod) ORDER BY id FOR UPDATE) AS p;

  WITH k AS (INSERT INTO handled_keys (idempotent_key, topic, order_id)
             SELECT u.k, u.t, u.o FROM unnest(p_keys, p_topics, p_orders) AS u (k, t, o)
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
  WITH d AS (INSERT INTO order_decisions (order_id, status)
             SELECT o, 'CREATED' FROM unnest(cand_orders) AS o
              WHERE NOT EXISTS (SELECT 1 FROM reservations r WHERE r.order_id = o)
             ON CONFLICT DO NOTHING RETURNING order_id)
  SELECT coalesce(array_agg(order_id), '{}') INTO claimed FROM d;

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
        l_idx[x] := array_position(ids, l_prod[x]);
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
     WHERE u.s = 'FAILED' AND d.order_id = u.o;
  END IF;

  IF true = ANY(l_take) THEN
    SELECT count(DISTINCT u.p) INTO touched FROM unnest(l_prod, l_take) AS u (p, t) WHERE u.t;
    UPDATE products SET count = products.count - need.c
      FROM (SELECT u.p, sum(u.c)::int AS c FROM unnest(l_prod, l_cnt, l_take) AS u (p, c, t)
             WHERE u.t GROUP BY u.p) AS need
     WHERE products.id = need.p;
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
