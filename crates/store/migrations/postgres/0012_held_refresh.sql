-- 0012 (PostgreSQL): refreshes held by the shrink guard; see the SQLite
-- file of the same version.
ALTER TABLE sources ADD COLUMN held TEXT;
