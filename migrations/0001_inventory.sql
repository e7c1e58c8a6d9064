-- The tables other tools read and write (PRODUCT.md, "Database").
CREATE TABLE products (
  id bigint PRIMARY KEY,
  name text NOT NULL,
  count integer NOT NULL CHECK (count >= 0)
);

-- status: NULL held, true confirmed, false released.
CREATE TABLE reservations (
  order_id bigint,
  product_id bigint REFERENCES products,
  count integer NOT NULL CHECK (count > 0),
  status boolean NULL,
  PRIMARY KEY (order_id, product_id)
);

-- The order lines, written by the order side; read when an order message carries no items.
CREATE TABLE order_items (
  order_id bigint,
  product_id bigint,
  count integer NOT NULL CHECK (count > 0),
  PRIMARY KEY (order_id, product_id)
);
