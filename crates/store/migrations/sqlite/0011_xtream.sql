-- 0011: Xtream account sources and catch-up (issue 13).
--
-- A source may be an Xtream account: kind 'xtream', its location the
-- server's address, and the account's username and password in columns of
-- their own (needed in clear to log in upstream; never shown back), with
-- the connection cap the provider last said (the source's cap unless the
-- operator set one). SQLite cannot widen a CHECK in place, so the table is
-- rebuilt the documented way: the migration runner turns foreign keys off
-- while migrations run (the tables that point at `sources` keep pointing
-- at the new one, by name) and checks them before this commits.
--
-- Source ids are never reused (a source's programmes live in its rowid
-- range), so the AUTOINCREMENT counter of the old table is carried over.

CREATE TEMPORARY TABLE migration_0011_sequence AS
    SELECT seq FROM sqlite_sequence WHERE name = 'sources';

CREATE TABLE sources_0011 (
    id                      INTEGER PRIMARY KEY AUTOINCREMENT,
    kind                    TEXT    NOT NULL CHECK (kind IN ('m3u', 'xmltv', 'xtream')),
    location                TEXT    NOT NULL,
    name                    TEXT    NOT NULL,
    created_at              INTEGER NOT NULL,
    enabled                 INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    last_refresh            INTEGER,
    item_count              INTEGER NOT NULL DEFAULT 0,
    last_error              TEXT,
    diagnostic_count        INTEGER NOT NULL DEFAULT 0,
    max_connections         INTEGER NOT NULL DEFAULT 0
        CHECK (max_connections BETWEEN 0 AND 4294967295),
    delivery                TEXT    NOT NULL DEFAULT 'proxy'
        CHECK (delivery IN ('proxy', 'redirect')),
    -- An Xtream account's credentials (NULL for the other kinds).
    account_username        TEXT,
    account_password        TEXT,
    -- The account's max_connections at its last refresh (0: unlimited or
    -- not said).
    account_max_connections INTEGER NOT NULL DEFAULT 0
        CHECK (account_max_connections BETWEEN 0 AND 4294967295)
);

INSERT INTO sources_0011 (id, kind, location, name, created_at, enabled, last_refresh,
                          item_count, last_error, diagnostic_count, max_connections, delivery)
    SELECT id, kind, location, name, created_at, enabled, last_refresh,
           item_count, last_error, diagnostic_count, max_connections, delivery
    FROM sources;

DROP TABLE sources;
ALTER TABLE sources_0011 RENAME TO sources;

DELETE FROM sqlite_sequence WHERE name IN ('sources', 'sources_0011');
INSERT INTO sqlite_sequence (name, seq)
    SELECT 'sources', n FROM (
        SELECT MAX(n) AS n FROM (
            SELECT seq AS n FROM temp.migration_0011_sequence
            UNION ALL SELECT MAX(id) FROM sources
        )
    ) WHERE n IS NOT NULL;
DROP TABLE temp.migration_0011_sequence;

-- How a live channel's archive is reached (catalog/catchup.rs): the kind
-- ('default', 'append', 'shift', 'flussonic', 'xc') and the template of
-- the kinds that take one. NULL with archive_days > 0: derived from the
-- URL (an Xtream one is 'xc'), as for rows stored before this version.
ALTER TABLE streams ADD COLUMN catchup TEXT;
ALTER TABLE streams ADD COLUMN catchup_source TEXT;
