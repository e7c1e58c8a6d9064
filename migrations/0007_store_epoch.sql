-- One random id per database, made when this migration runs. Redis keys of handled messages are
-- namespaced by it, so that a database dropped and created again (a fresh dev database, a test
-- run) starts with no "seen" keys even when Redis kept the old ones: Redis is only a cache of
-- `handled_keys`, and a cache of another database must not answer for this one.
CREATE TABLE store_epoch (
  single boolean PRIMARY KEY DEFAULT true CHECK (single),
  epoch uuid NOT NULL DEFAULT gen_random_uuid()
);
INSERT INTO store_epoch DEFAULT VALUES;
