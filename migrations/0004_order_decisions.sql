-- One row per order the inventory has decided, whatever key its messages carried: an order is
-- reserved (or refused) at most once, and settled (confirmed, released or expired) at most once.
-- A FAILED reservation leaves no rows in `reservations`, so this table is what remembers it.
CREATE TABLE order_decisions (
  order_id bigint PRIMARY KEY,
  status text NOT NULL CHECK (status IN ('CREATED', 'FAILED')),
  reason text NULL,
  decided_at timestamptz NOT NULL DEFAULT now(),
  settlement text NULL CHECK (settlement IN ('COMPLETED', 'FAILED', 'EXPIRED')),
  settled_at timestamptz NULL
);

-- The hold-expiry sweep looks only at reserved orders not yet settled, oldest first.
CREATE INDEX order_decisions_open_holds ON order_decisions (decided_at)
  WHERE status = 'CREATED' AND settlement IS NULL;
