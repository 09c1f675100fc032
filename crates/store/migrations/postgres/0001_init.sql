-- 0001 (PostgreSQL): the whole schema as SQLite has it after version 8.
-- PostgreSQL support came after version 8 of the SQLite schema, so its
-- first version creates that shape at once and its files for versions 2
-- to 8 are comments pointing here. The comments of the SQLite files say
-- why each table and column is there; this file says what PostgreSQL does
-- differently.
--
-- - Ids that players see (sources, categories, series, streams) are
--   identity columns capped at 2^31 - 1 (players keep them in 32-bit
--   signed integers). A sequence never hands a value out twice, even after
--   a rollback or a delete, which is what SQLite's AUTOINCREMENT promises:
--   a player's favourite must never start pointing at another channel.
-- - Every integer is BIGINT and every flag BOOLEAN; blobs are BYTEA.
-- - A stream's key is unique within its source by its MD5 (see there).
-- - Programmes are keyed by (source_id, seq), seq being the programme's
--   index in its guide sorted by (channel, start), instead of SQLite's
--   rowid ranges. As there, no foreign key: a guide is millions of rows
--   written by COPY, and deleting a source deletes its programmes
--   explicitly (source ids are never reused).
-- - A trigger on change_stamps sends NOTIFY tvgate_changes ('lines' or
--   'catalog') when a counter moves; PostgreSQL delivers it when the
--   writing transaction commits, so a listening server reloads exactly
--   the committed changes of other nodes and processes.

CREATE TABLE lines (
    id              BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username        TEXT    NOT NULL,
    username_key    TEXT    NOT NULL UNIQUE,
    password_hash   TEXT    NOT NULL,
    verifier        BYTEA,
    status          TEXT    NOT NULL CHECK (status IN ('active', 'disabled', 'banned')),
    expires_at      BIGINT,
    is_trial        BOOLEAN NOT NULL DEFAULT FALSE,
    max_connections BIGINT  NOT NULL CHECK (max_connections BETWEEN 0 AND 4294967295),
    allowed_formats BIGINT  NOT NULL CHECK (allowed_formats BETWEEN 0 AND 7),
    created_at      BIGINT  NOT NULL,
    note            TEXT    NOT NULL DEFAULT '',
    package         TEXT,
    revision        BIGINT  NOT NULL DEFAULT 1,
    limit_policy    TEXT    CHECK (limit_policy IN ('refuse', 'newest_wins'))
);

CREATE TABLE sources (
    id               BIGINT  GENERATED ALWAYS AS IDENTITY (MAXVALUE 2147483647) PRIMARY KEY,
    kind             TEXT    NOT NULL CHECK (kind IN ('m3u', 'xmltv')),
    location         TEXT    NOT NULL,
    name             TEXT    NOT NULL,
    created_at       BIGINT  NOT NULL,
    enabled          BOOLEAN NOT NULL DEFAULT TRUE,
    last_refresh     BIGINT,
    item_count       BIGINT  NOT NULL DEFAULT 0,
    last_error       TEXT,
    diagnostic_count BIGINT  NOT NULL DEFAULT 0,
    max_connections  BIGINT  NOT NULL DEFAULT 0
        CHECK (max_connections BETWEEN 0 AND 4294967295),
    delivery         TEXT    NOT NULL DEFAULT 'proxy' CHECK (delivery IN ('proxy', 'redirect'))
);

CREATE TABLE source_diagnostics (
    source_id BIGINT NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    seq       BIGINT NOT NULL,
    line      BIGINT NOT NULL DEFAULT 0,
    message   TEXT   NOT NULL,
    PRIMARY KEY (source_id, seq)
);

CREATE TABLE categories (
    id   BIGINT GENERATED ALWAYS AS IDENTITY (MAXVALUE 2147483647) PRIMARY KEY,
    kind TEXT   NOT NULL CHECK (kind IN ('live', 'movie', 'series')),
    name TEXT   NOT NULL,
    UNIQUE (kind, name)
);

CREATE TABLE series (
    id            BIGINT GENERATED ALWAYS AS IDENTITY (MAXVALUE 2147483647) PRIMARY KEY,
    source_id     BIGINT NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    name          TEXT   NOT NULL,
    category_id   BIGINT REFERENCES categories (id),
    cover         TEXT   NOT NULL DEFAULT '',
    plot          TEXT   NOT NULL DEFAULT '',
    last_modified BIGINT NOT NULL,
    position      BIGINT NOT NULL,
    UNIQUE (source_id, name)
);
CREATE INDEX series_category ON series (category_id);

CREATE TABLE streams (
    id           BIGINT  GENERATED ALWAYS AS IDENTITY (MAXVALUE 2147483647) PRIMARY KEY,
    source_id    BIGINT  NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    key          TEXT    NOT NULL,
    kind         TEXT    NOT NULL CHECK (kind IN ('live', 'movie', 'episode')),
    position     BIGINT  NOT NULL,
    name         TEXT    NOT NULL,
    category_id  BIGINT  REFERENCES categories (id),
    epg_id       TEXT,
    logo         TEXT    NOT NULL DEFAULT '',
    url          TEXT    NOT NULL,
    container    TEXT    NOT NULL DEFAULT '',
    is_adult     BOOLEAN NOT NULL DEFAULT FALSE,
    archive_days BIGINT  NOT NULL DEFAULT 0,
    added        BIGINT  NOT NULL,
    plot         TEXT    NOT NULL DEFAULT '',
    year         BIGINT,
    rating       DOUBLE PRECISION,
    series_id    BIGINT  REFERENCES series (id) ON DELETE CASCADE,
    season       BIGINT,
    episode      BIGINT,
    enabled      BOOLEAN NOT NULL DEFAULT TRUE
);
-- A key is unique within its source. By its MD5: a B-tree entry holds at
-- most about 2.7 kB, and a key is a provider's URL, which may be longer
-- (signed tokens); one such URL must not fail an import.
CREATE UNIQUE INDEX streams_key ON streams (source_id, md5(key));
CREATE INDEX streams_order ON streams (kind, source_id, position);
CREATE INDEX streams_category ON streams (category_id);
CREATE INDEX streams_series ON streams (series_id);

CREATE TABLE stream_backups (
    stream_id BIGINT NOT NULL REFERENCES streams (id) ON DELETE CASCADE,
    seq       BIGINT NOT NULL,
    url       TEXT   NOT NULL,
    PRIMARY KEY (stream_id, seq)
);

CREATE TABLE guide_channels (
    source_id  BIGINT NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    channel_id TEXT   NOT NULL,
    name       TEXT   NOT NULL,
    icon       TEXT   NOT NULL DEFAULT '',
    position   BIGINT NOT NULL,
    PRIMARY KEY (source_id, channel_id)
);

CREATE TABLE programmes (
    source_id  BIGINT NOT NULL,
    seq        BIGINT NOT NULL,
    channel_id TEXT   NOT NULL,
    start      BIGINT NOT NULL,
    stop       BIGINT NOT NULL,
    title      TEXT   NOT NULL,
    descr      TEXT   NOT NULL DEFAULT '',
    lang       TEXT   NOT NULL DEFAULT '',
    PRIMARY KEY (source_id, seq)
);

CREATE TABLE change_stamps (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    lines   BIGINT  NOT NULL,
    catalog BIGINT  NOT NULL
);
INSERT INTO change_stamps (id, lines, catalog) VALUES (1, 0, 0);

CREATE FUNCTION tvgate_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.lines IS DISTINCT FROM OLD.lines THEN
        PERFORM pg_notify('tvgate_changes', 'lines');
    END IF;
    IF NEW.catalog IS DISTINCT FROM OLD.catalog THEN
        PERFORM pg_notify('tvgate_changes', 'catalog');
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER change_stamps_notify AFTER UPDATE ON change_stamps
    FOR EACH ROW EXECUTE FUNCTION tvgate_notify_change();

CREATE TABLE device_policies (
    line_id         BIGINT PRIMARY KEY REFERENCES lines (id) ON DELETE CASCADE,
    device_limit    BIGINT NOT NULL DEFAULT 0 CHECK (device_limit BETWEEN 0 AND 4294967295),
    enrolment       TEXT   NOT NULL DEFAULT 'auto' CHECK (enrolment IN ('auto', 'operator')),
    ip_lock         TEXT   NOT NULL DEFAULT '',
    last_self_reset BIGINT
);

CREATE TABLE devices (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    line_id     BIGINT NOT NULL REFERENCES lines (id) ON DELETE CASCADE,
    kind        TEXT   NOT NULL CHECK (kind IN ('mac', 'stb', 'player')),
    identifier  TEXT   NOT NULL,
    label       TEXT   NOT NULL DEFAULT '',
    serial      TEXT,
    device_id   TEXT,
    device_id2  TEXT,
    first_seen  BIGINT NOT NULL,
    last_seen   BIGINT NOT NULL,
    last_ip     TEXT,
    UNIQUE (line_id, kind, identifier)
);
CREATE INDEX devices_identifier ON devices (kind, identifier);

CREATE TABLE device_audit (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    line_id     BIGINT NOT NULL,
    username    TEXT   NOT NULL,
    at          BIGINT NOT NULL,
    actor       TEXT   NOT NULL CHECK (actor IN ('operator', 'subscriber', 'system')),
    action      TEXT   NOT NULL
        CHECK (action IN ('bind', 'reset', 'refuse', 'add', 'remove', 'policy')),
    ip          TEXT,
    old_device  TEXT,
    new_device  TEXT,
    detail      TEXT   NOT NULL DEFAULT ''
);
CREATE INDEX device_audit_line ON device_audit (line_id, id);

CREATE TABLE admins (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          TEXT   NOT NULL UNIQUE,
    password_hash TEXT   NOT NULL,
    created_at    BIGINT NOT NULL
);

CREATE TABLE api_tokens (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    admin_id    BIGINT NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    name        TEXT   NOT NULL,
    token_hash  BYTEA  NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);

CREATE TABLE refusals (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at           BIGINT NOT NULL,
    reason       TEXT   NOT NULL,
    text         TEXT   NOT NULL,
    line_id      BIGINT,
    username     TEXT   NOT NULL,
    username_key TEXT   NOT NULL,
    ip           TEXT   NOT NULL,
    face         TEXT   NOT NULL
);
CREATE INDEX refusals_by_reason   ON refusals (reason, id);
CREATE INDEX refusals_by_line     ON refusals (line_id, id) WHERE line_id IS NOT NULL;
CREATE INDEX refusals_by_username ON refusals (username_key, id);
CREATE INDEX refusals_by_ip       ON refusals (ip, id);
CREATE INDEX refusals_by_time     ON refusals (at);
