-- 0003: device binding (issue 5, docs/devices.md). Per line: a device
-- limit, an enrolment mode and an IP lock; the bound devices; and the audit
-- log of every bind, reset, refusal and operator change.

-- A line's device rules. No row: binding off (limit 0, automatic
-- enrolment, no IP lock), which is every line until the operator says
-- otherwise.
CREATE TABLE device_policies (
    account_id      INTEGER PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    -- 0: binding off.
    device_limit    INTEGER NOT NULL DEFAULT 0 CHECK (device_limit BETWEEN 0 AND 4294967295),
    -- 'auto': a new device binds itself while a place is free;
    -- 'operator': only the operator registers devices.
    enrolment       TEXT    NOT NULL DEFAULT 'auto' CHECK (enrolment IN ('auto', 'operator')),
    -- Comma-separated address ranges (CIDR); '' : no lock.
    ip_lock         TEXT    NOT NULL DEFAULT '',
    -- When the subscriber last reset the binding (the cooldown counts from it).
    last_self_reset INTEGER
) WITHOUT ROWID;

-- Devices bound to a line. The identifier is normalised by the caller (a
-- MAC is 00:1A:79:AA:BB:CC), so the UNIQUE constraint sees one device once.
CREATE TABLE devices (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id  INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    kind        TEXT    NOT NULL CHECK (kind IN ('mac', 'stb', 'player')),
    identifier  TEXT    NOT NULL,
    label       TEXT    NOT NULL DEFAULT '',
    -- Pinned on first contact (MAG boxes): serial number and device ids.
    serial      TEXT,
    device_id   TEXT,
    device_id2  TEXT,
    first_seen  INTEGER NOT NULL,
    -- 0: registered by the operator and not seen yet.
    last_seen   INTEGER NOT NULL,
    last_ip     TEXT,
    UNIQUE (account_id, kind, identifier)
);
-- Finding the line of a MAC (the MAG portal) without a scan.
CREATE INDEX devices_identifier ON devices (kind, identifier);

-- Who changed a binding, when, from where, and the device before and after.
-- Kept when the line is deleted (no foreign key; the username is copied).
CREATE TABLE device_audit (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id  INTEGER NOT NULL,
    username    TEXT    NOT NULL,
    at          INTEGER NOT NULL,
    actor       TEXT    NOT NULL CHECK (actor IN ('operator', 'subscriber', 'system')),
    action      TEXT    NOT NULL CHECK (action IN ('bind', 'reset', 'refuse', 'add', 'remove', 'policy')),
    ip          TEXT,
    old_device  TEXT,
    new_device  TEXT,
    detail      TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX device_audit_account ON device_audit (account_id, id);
