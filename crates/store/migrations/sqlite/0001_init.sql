-- 0001: the first schema. Lines, sources, the catalog and the guide.
--
-- Ids that players see (categories, streams, series) use AUTOINCREMENT so a
-- deleted id is never handed out again: a player's favourite must never start
-- pointing at another channel. Times are unix seconds (UTC).

-- Subscriber lines.
CREATE TABLE accounts (
    id              INTEGER PRIMARY KEY,
    -- As the operator wrote it.
    username        TEXT    NOT NULL,
    -- What logins look up: the cleaned username, case-folded when the
    -- case-insensitive policy is on. The caller computes it.
    username_key    TEXT    NOT NULL UNIQUE,
    -- PHC string of the argon2id hash.
    password_hash   TEXT    NOT NULL,
    -- Keyed verifier of the password; NULL when none was made.
    verifier        BLOB,
    status          TEXT    NOT NULL CHECK (status IN ('active', 'disabled', 'banned')),
    -- NULL: never expires.
    expires_at      INTEGER,
    is_trial        INTEGER NOT NULL DEFAULT 0 CHECK (is_trial IN (0, 1)),
    -- 0: unlimited.
    max_connections INTEGER NOT NULL CHECK (max_connections BETWEEN 0 AND 4294967295),
    -- OutputFormats bits: 1 ts, 2 m3u8, 4 rtmp.
    allowed_formats INTEGER NOT NULL CHECK (allowed_formats BETWEEN 0 AND 7),
    created_at      INTEGER NOT NULL,
    note            TEXT    NOT NULL DEFAULT '',
    -- Comma-separated category ids ('' is an empty package); NULL: everything.
    package         TEXT,
    -- Bumped on every change; caches compare it.
    revision        INTEGER NOT NULL DEFAULT 1
);

-- Playlists and guides an operator added, with the outcome of the last refresh.
CREATE TABLE sources (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    kind             TEXT    NOT NULL CHECK (kind IN ('m3u', 'xmltv')),
    location         TEXT    NOT NULL,
    name             TEXT    NOT NULL,
    created_at       INTEGER NOT NULL,
    enabled          INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    last_refresh     INTEGER,
    item_count       INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT,
    -- How many diagnostics the last refresh produced; only the first ones are
    -- kept in source_diagnostics.
    diagnostic_count INTEGER NOT NULL DEFAULT 0
);

-- The first diagnostics of a source's last refresh, in order.
CREATE TABLE source_diagnostics (
    source_id INTEGER NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    seq       INTEGER NOT NULL,
    message   TEXT    NOT NULL,
    PRIMARY KEY (source_id, seq)
) WITHOUT ROWID;

-- Categories are shared by every source: one per (kind, name).
CREATE TABLE categories (
    id   INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('live', 'movie', 'series')),
    name TEXT NOT NULL,
    UNIQUE (kind, name)
);

-- One row per series name within a source; its id is the public series_id.
CREATE TABLE series (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    source_id     INTEGER NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    name          TEXT    NOT NULL,
    category_id   INTEGER REFERENCES categories (id),
    cover         TEXT    NOT NULL DEFAULT '',
    plot          TEXT    NOT NULL DEFAULT '',
    last_modified INTEGER NOT NULL,
    -- Playlist position of the series' first episode.
    position      INTEGER NOT NULL,
    UNIQUE (source_id, name)
);
CREATE INDEX series_category ON series (category_id);

-- Live channels, movies and episodes. The id is the public stream_id, stable
-- for as long as (source_id, key) is in the source.
CREATE TABLE streams (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    source_id    INTEGER NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    -- Identity within the source (the URL, made unique with '#2', '#3'...).
    key          TEXT    NOT NULL,
    kind         TEXT    NOT NULL CHECK (kind IN ('live', 'movie', 'episode')),
    -- Index in the playlist, so the operator's order is kept.
    position     INTEGER NOT NULL,
    name         TEXT    NOT NULL,
    -- Live and movies; an episode's category is its series'.
    category_id  INTEGER REFERENCES categories (id),
    epg_id       TEXT,
    logo         TEXT    NOT NULL DEFAULT '',
    url          TEXT    NOT NULL,
    container    TEXT    NOT NULL DEFAULT '',
    is_adult     INTEGER NOT NULL DEFAULT 0,
    archive_days INTEGER NOT NULL DEFAULT 0,
    added        INTEGER NOT NULL,
    -- Movies only (filled by richer sources later).
    plot         TEXT    NOT NULL DEFAULT '',
    year         INTEGER,
    rating       REAL,
    -- Episodes only.
    series_id    INTEGER REFERENCES series (id) ON DELETE CASCADE,
    season       INTEGER,
    episode      INTEGER,
    UNIQUE (source_id, key)
);
CREATE INDEX streams_order ON streams (kind, source_id, position);
CREATE INDEX streams_category ON streams (category_id);
CREATE INDEX streams_series ON streams (series_id);

-- XMLTV channels of a guide source.
CREATE TABLE guide_channels (
    source_id  INTEGER NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    channel_id TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    icon       TEXT    NOT NULL DEFAULT '',
    position   INTEGER NOT NULL,
    PRIMARY KEY (source_id, channel_id)
) WITHOUT ROWID;

-- Programmes of guide sources. The rowid carries the source:
-- id = source_id * 2^32 + n, where n is the programme's index in its guide
-- sorted by (channel, start). A source's programmes are one contiguous range,
-- so replacing or deleting them is a range delete, loading them in order
-- needs no sort, and the bulk insert pays for no secondary index and no
-- foreign-key check. Hence no foreign key here: deleting a source deletes
-- its range explicitly (and source ids are never reused).
CREATE TABLE programmes (
    id         INTEGER PRIMARY KEY,
    channel_id TEXT    NOT NULL,
    start      INTEGER NOT NULL,
    stop       INTEGER NOT NULL,
    title      TEXT    NOT NULL,
    descr      TEXT    NOT NULL DEFAULT '',
    lang       TEXT    NOT NULL DEFAULT ''
);

-- Change counters, one row: every write to lines bumps `accounts`, every
-- write to sources, the catalog or the guide bumps `catalog`, in the same
-- transaction. A running server polls them to notice what another process
-- (the CLI) wrote.
CREATE TABLE change_stamps (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    accounts INTEGER NOT NULL,
    catalog  INTEGER NOT NULL
);
INSERT INTO change_stamps (id, accounts, catalog) VALUES (1, 0, 0);
