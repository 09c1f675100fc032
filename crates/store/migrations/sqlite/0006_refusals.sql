-- 0006: the denial log (docs/denials.md): every refusal the faces record,
-- kept for `denial_log_days` and read newest first (by id) with filters.
-- Version 5 is another change; the runner applies every missing version,
-- so a database that has 6 before 5 still gets 5.

CREATE TABLE refusals (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    at           INTEGER NOT NULL,
    -- The stable code (docs/denials.md).
    reason       TEXT    NOT NULL,
    -- The refusal in plain words, as the subscriber was told.
    text         TEXT    NOT NULL,
    -- The line, when the username named one. Not a foreign key: the log
    -- outlives a deleted line.
    account_id   INTEGER,
    -- As presented (at most 64 characters) and its lowercase for the filter.
    username     TEXT    NOT NULL,
    username_key TEXT    NOT NULL,
    ip           TEXT    NOT NULL,
    face         TEXT    NOT NULL
);

-- Each filter reads newest first within its value; pruning reads by time.
CREATE INDEX refusals_by_reason   ON refusals (reason, id);
CREATE INDEX refusals_by_account  ON refusals (account_id, id) WHERE account_id IS NOT NULL;
CREATE INDEX refusals_by_username ON refusals (username_key, id);
CREATE INDEX refusals_by_ip       ON refusals (ip, id);
CREATE INDEX refusals_by_time     ON refusals (at);
