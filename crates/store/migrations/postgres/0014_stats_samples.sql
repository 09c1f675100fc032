-- 0014 (PostgreSQL): the dashboard's history; see the SQLite file of the
-- same version.

CREATE TABLE stats_samples (
    node      TEXT   NOT NULL,
    minute    BIGINT NOT NULL,
    viewers   BIGINT NOT NULL,
    bytes_out BIGINT NOT NULL,
    logins    BIGINT NOT NULL,
    refusals  TEXT   NOT NULL,
    PRIMARY KEY (node, minute)
);
CREATE INDEX stats_samples_by_minute ON stats_samples (minute);

CREATE TABLE line_events (
    id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    line_id BIGINT NOT NULL,
    kind    TEXT   NOT NULL,
    at      BIGINT NOT NULL,
    ended   BIGINT,
    channel TEXT   NOT NULL,
    player  TEXT   NOT NULL,
    ip      TEXT   NOT NULL,
    detail  TEXT   NOT NULL
);
CREATE INDEX line_events_by_line ON line_events (line_id, id);
CREATE INDEX line_events_by_time ON line_events (at);
