-- 0010: facts about the store itself, by name (issue 12). The first is
-- `verifier_key_fingerprint`: a one-way fingerprint of the verifier key
-- (never the key: a database copy and the key together would make the
-- keyed verifiers open to an offline search), recorded by the first node
-- that opens a shared store, so a node started with another key file is
-- refused instead of signing links the others cannot check.
CREATE TABLE store_facts (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
