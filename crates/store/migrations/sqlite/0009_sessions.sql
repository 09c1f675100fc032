-- 0009: console and portal sessions kept in the store (issue 12), so a
-- restart does not log operators and subscribers out and a session made
-- on one node works on another. Only the SHA-256 of the id the browser
-- holds is kept, never the id: a copy of the database opens no session.
-- What the face keeps about the person is sealed under a key derived from
-- the id, so a copy does not show it either (the portal keeps the
-- subscriber's password to show it back).
CREATE TABLE sessions (
    id_hash    BLOB    PRIMARY KEY,
    face       TEXT    NOT NULL CHECK (face IN ('console', 'portal')),
    -- The token the session's forms must echo.
    csrf       TEXT    NOT NULL,
    sealed     BLOB    NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
-- Expired sessions are removed and the oldest found by face and expiry.
CREATE INDEX sessions_expiry ON sessions (face, expires_at);
