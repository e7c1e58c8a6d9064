-- Demo data for `make dev` and the tests; never applied by `sidecar migrate`.
INSERT INTO products (id, name, count) VALUES
  (1, 'keyboard', 10),
  (2, 'mouse', 20),
  (3, 'monitor', 5),
  (4, 'headset', 8)
ON CONFLICT (id) DO NOTHING;

-- Order 111 is reserved and then paid; order 222 is reserved and its payment fails.
INSERT INTO order_items (order_id, product_id, count) VALUES
  (111, 1, 2),
  (111, 2, 1),
  (222, 3, 1),
  (222, 4, 2)
ON CONFLICT (order_id, product_id) DO NOTHING;
