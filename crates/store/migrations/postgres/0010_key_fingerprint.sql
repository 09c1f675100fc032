-- 0010 (PostgreSQL): facts about the store itself, by name; see the SQLite
-- file of the same version.
CREATE TABLE store_facts (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
