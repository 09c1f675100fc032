-- 0002: the relay (issue 3). A provider's cap and the delivery per source,
-- backup URLs per live channel, and the limit policy per line.

-- The provider's cap on simultaneous connections to this source; 0: unlimited.
ALTER TABLE sources ADD COLUMN max_connections INTEGER NOT NULL DEFAULT 0
    CHECK (max_connections BETWEEN 0 AND 4294967295);
-- 'proxy': tvgate relays the streams; 'redirect': players get a 302 to the
-- source URL. Every source, old ones included, is proxied unless the
-- operator says otherwise: only a relayed stream keeps the URL hidden and
-- the connection limits held.
ALTER TABLE sources ADD COLUMN delivery TEXT NOT NULL DEFAULT 'proxy'
    CHECK (delivery IN ('proxy', 'redirect'));

-- What a newcomer gets when the line is at its limit; NULL: the server-wide
-- connection_limit_policy.
ALTER TABLE accounts ADD COLUMN limit_policy TEXT
    CHECK (limit_policy IN ('refuse', 'newest_wins'));

-- Backup URLs of a live channel, tried in seq order when its own URL fails.
-- Keyed by stream id, which a refresh keeps as long as the channel is in
-- the source, so a refresh keeps them; they go with the channel.
CREATE TABLE stream_backups (
    stream_id INTEGER NOT NULL REFERENCES streams (id) ON DELETE CASCADE,
    seq       INTEGER NOT NULL,
    url       TEXT    NOT NULL,
    PRIMARY KEY (stream_id, seq)
) WITHOUT ROWID;
