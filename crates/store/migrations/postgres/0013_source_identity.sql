-- 0013 (PostgreSQL): a source's upstream identity; see the SQLite file of
-- the same version.
ALTER TABLE sources
    ADD COLUMN user_agent      TEXT,
    ADD COLUMN request_headers TEXT;
