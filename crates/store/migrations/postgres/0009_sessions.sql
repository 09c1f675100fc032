-- 0009 (PostgreSQL): console and portal sessions; see the SQLite file of
-- the same version for why only a hash of the id and a sealed payload
-- are kept.
CREATE TABLE sessions (
    id_hash    BYTEA  PRIMARY KEY,
    face       TEXT   NOT NULL CHECK (face IN ('console', 'portal')),
    csrf       TEXT   NOT NULL,
    sealed     BYTEA  NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (face, expires_at);
