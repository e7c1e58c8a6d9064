-- The authoritative record of handled messages: a key is inserted in the same transaction as the
-- change it caused, so a message re-delivered after a crash finds it and changes nothing.
CREATE TABLE handled_keys (
  idempotent_key uuid PRIMARY KEY,
  topic text NOT NULL,
  order_id bigint NOT NULL,
  handled_at timestamptz NOT NULL DEFAULT now()
);

-- Old keys can be pruned by age without scanning the whole table.
CREATE INDEX handled_keys_handled_at ON handled_keys (handled_at);
