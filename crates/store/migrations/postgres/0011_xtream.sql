-- 0011 (PostgreSQL): Xtream account sources and catch-up; see the SQLite
-- file of the same version. Here the CHECK is replaced in place.
ALTER TABLE sources DROP CONSTRAINT IF EXISTS sources_kind_check;
ALTER TABLE sources ADD CONSTRAINT sources_kind_check
    CHECK (kind IN ('m3u', 'xmltv', 'xtream'));
ALTER TABLE sources
    ADD COLUMN account_username        TEXT,
    ADD COLUMN account_password        TEXT,
    ADD COLUMN account_max_connections BIGINT NOT NULL DEFAULT 0
        CHECK (account_max_connections BETWEEN 0 AND 4294967295);

ALTER TABLE streams
    ADD COLUMN catchup        TEXT,
    ADD COLUMN catchup_source TEXT;
