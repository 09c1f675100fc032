-- 0014: the dashboard's history (issue 18).
--
-- `stats_samples`: what each node served, one row per node and minute
-- (viewers: the most seen in the minute; bytes out, logins; refusals by
-- reason as `code=N code=N`, codec.rs). Rows are written in place of
-- the node's row of the same minute, read summed over the nodes, and
-- pruned after a day. `node` is the node's own name (host and port).
--
-- `line_events`: a line's story for its console page: logins and the
-- streams it watched (channel, player, address, start, end and why it
-- ended). Not a foreign key: the history outlives a deleted line, and is
-- pruned with the denial log (`denial_log_days`).
-- Version 13 is another change; the runner applies every missing version.

CREATE TABLE stats_samples (
    node      TEXT    NOT NULL,
    minute    INTEGER NOT NULL,
    viewers   INTEGER NOT NULL,
    bytes_out INTEGER NOT NULL,
    logins    INTEGER NOT NULL,
    refusals  TEXT    NOT NULL,
    PRIMARY KEY (node, minute)
);
CREATE INDEX stats_samples_by_minute ON stats_samples (minute);

CREATE TABLE line_events (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    line_id INTEGER NOT NULL,
    -- `login` or `stream`.
    kind    TEXT    NOT NULL,
    at      INTEGER NOT NULL,
    -- When a stream ended (NULL for a login).
    ended   INTEGER,
    channel TEXT    NOT NULL,
    player  TEXT    NOT NULL,
    ip      TEXT    NOT NULL,
    -- Why a stream ended; the face of a login.
    detail  TEXT    NOT NULL
);
CREATE INDEX line_events_by_line ON line_events (line_id, id);
CREATE INDEX line_events_by_time ON line_events (at);
