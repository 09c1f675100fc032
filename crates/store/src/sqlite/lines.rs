//! Subscriber lines: load, insert, update, bulk upsert, delete, verifier.
//!
//! The caller computes the username key (case-folded when the policy is on);
//! the `UNIQUE` constraint on it is what turns a taken name into
//! `StoreError::Conflict`, so two concurrent inserts cannot both win.
//!
//! Reading back never panics and never fails on a damaged value: a row whose
//! status, limit, formats or package cannot be understood is loaded as
//! `Disabled` (it fails closed) and a warning names the line and the field
//! (`codec::decode_line`, shared with PostgreSQL).
//!
//! A line's limit policy is stored by name (`refuse`, `newest_wins`), NULL
//! for the server-wide setting.

use super::{bump, is_unique_violation, Context, Half};
use crate::codec::{decode_line, encode_package, LineRow};
use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};
use tvgate_core::access::Line;
use tvgate_core::ids::LineId;
use tvgate_core::ledger::LimitPolicy;
use tvgate_core::ports::{StoreError, StoreResult, UpsertCounts, UpsertFields};

const COLUMNS: &str = "id, username, password_hash, verifier, status, expires_at, is_trial, \
                       max_connections, allowed_formats, created_at, note, package, revision, \
                       limit_policy";

pub(super) fn load(conn: &mut Connection) -> StoreResult<Vec<Line>> {
    let mut stmt = conn
        .prepare(&format!("SELECT {COLUMNS} FROM lines ORDER BY id"))
        .ctx("loading lines")?;
    let rows = stmt.query_map([], from_row).ctx("loading lines")?;
    rows.collect::<Result<Vec<_>, _>>().ctx("loading lines")
}

/// Decodes a row (see `codec::decode_line` for a damaged one).
fn from_row(row: &Row<'_>) -> rusqlite::Result<Line> {
    Ok(decode_line(LineRow {
        id: row.get(0)?,
        username: row.get(1)?,
        password_hash: row.get(2)?,
        verifier: row.get(3)?,
        status: row.get(4)?,
        expires_at: row.get(5)?,
        is_trial: row.get(6)?,
        max_connections: row.get(7)?,
        allowed_formats: row.get(8)?,
        created_at: row.get(9)?,
        note: row.get(10)?,
        package: row.get(11)?,
        revision: row.get(12)?,
        limit_policy: row.get(13)?,
    }))
}

fn conflict(key: &str) -> StoreError {
    StoreError::Conflict {
        what: "username",
        value: key.to_string(),
    }
}

pub(super) fn insert(conn: &mut Connection, a: Line, username_key: &str) -> StoreResult<Line> {
    const CONTEXT: &str = "inserting a line";
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .ctx(CONTEXT)?;
    let result = tx.execute(
        "INSERT INTO lines (username, username_key, password_hash, verifier, status,
             expires_at, is_trial, max_connections, allowed_formats, created_at, note,
             package, revision, limit_policy)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 1, ?13)",
        params![
            a.username,
            username_key,
            a.password_hash,
            a.verifier.as_ref().map(|v| &v[..]),
            a.status.as_str(),
            a.expires_at,
            a.is_trial,
            a.max_connections,
            a.allowed_formats.bits(),
            a.created_at,
            a.note,
            encode_package(a.package.as_deref()),
            a.limit_policy.map(LimitPolicy::as_str),
        ],
    );
    match result {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => return Err(conflict(username_key)),
        Err(e) => return Err(super::backend(CONTEXT, e)),
    }
    let id = LineId(tx.last_insert_rowid());
    bump(&tx, Half::Lines)?;
    tx.commit().ctx(CONTEXT)?;
    Ok(Line {
        id,
        revision: 1,
        ..a
    })
}

/// Writes every field, the revision included (the caller bumped it).
pub(super) fn update(conn: &mut Connection, a: &Line, username_key: &str) -> StoreResult<()> {
    const CONTEXT: &str = "updating a line";
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .ctx(CONTEXT)?;
    let result = tx.execute(
        "UPDATE lines SET username = ?2, username_key = ?3, password_hash = ?4,
             verifier = ?5, status = ?6, expires_at = ?7, is_trial = ?8,
             max_connections = ?9, allowed_formats = ?10, created_at = ?11, note = ?12,
             package = ?13, revision = ?14, limit_policy = ?15
         WHERE id = ?1",
        params![
            a.id.0,
            a.username,
            username_key,
            a.password_hash,
            a.verifier.as_ref().map(|v| &v[..]),
            a.status.as_str(),
            a.expires_at,
            a.is_trial,
            a.max_connections,
            a.allowed_formats.bits(),
            a.created_at,
            a.note,
            encode_package(a.package.as_deref()),
            a.revision,
            a.limit_policy.map(LimitPolicy::as_str),
        ],
    );
    match result {
        Ok(0) => Err(not_found(a.id)),
        Ok(_) => {
            bump(&tx, Half::Lines)?;
            tx.commit().ctx(CONTEXT)
        }
        Err(e) if is_unique_violation(&e) => Err(conflict(username_key)),
        Err(e) => Err(super::backend(CONTEXT, e)),
    }
}

fn not_found(id: LineId) -> StoreError {
    StoreError::NotFound {
        what: "line",
        id: id.to_string(),
    }
}

/// One transaction for the whole batch, with prepared statements: 100,000
/// rows take well under a second. A key repeated in the batch creates the
/// line once and then updates it.
pub(super) fn upsert(
    conn: &mut Connection,
    rows: Vec<(Line, String, UpsertFields)>,
) -> StoreResult<UpsertCounts> {
    const CONTEXT: &str = "importing lines";
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .ctx(CONTEXT)?;
    let mut counts = UpsertCounts::default();
    {
        let mut find = tx
            .prepare("SELECT id FROM lines WHERE username_key = ?1")
            .ctx(CONTEXT)?;
        let mut create = tx
            .prepare(
                "INSERT INTO lines (username, username_key, password_hash, verifier, status,
                     expires_at, is_trial, max_connections, allowed_formats, created_at, note,
                     package, revision, limit_policy)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 1, ?13)",
            )
            .ctx(CONTEXT)?;
        // One statement for every combination of flags: each field keeps its
        // value unless its flag is set.
        let mut change = tx
            .prepare(
                "UPDATE lines SET
                     password_hash   = CASE WHEN ?2 THEN ?3 ELSE password_hash END,
                     verifier        = CASE WHEN ?2 THEN ?4 ELSE verifier END,
                     max_connections = CASE WHEN ?5 THEN ?6 ELSE max_connections END,
                     expires_at      = CASE WHEN ?7 THEN ?8 ELSE expires_at END,
                     status          = CASE WHEN ?9 THEN ?10 ELSE status END,
                     limit_policy    = CASE WHEN ?11 THEN ?12 ELSE limit_policy END,
                     is_trial        = CASE WHEN ?13 THEN ?14 ELSE is_trial END,
                     note            = CASE WHEN ?15 THEN ?16 ELSE note END,
                     revision        = revision + 1
                 WHERE id = ?1",
            )
            .ctx(CONTEXT)?;
        for (a, key, present) in &rows {
            let existing: Option<i64> = find
                .query_row([key], |row| row.get(0))
                .optional()
                .ctx(CONTEXT)?;
            match existing {
                None => {
                    create
                        .execute(params![
                            a.username,
                            key,
                            a.password_hash,
                            a.verifier,
                            a.status.as_str(),
                            a.expires_at,
                            a.is_trial,
                            a.max_connections,
                            a.allowed_formats.bits(),
                            a.created_at,
                            a.note,
                            encode_package(a.package.as_deref()),
                            a.limit_policy.map(LimitPolicy::as_str),
                        ])
                        .ctx(CONTEXT)?;
                    counts.created += 1;
                }
                Some(_) if present.only_new => {
                    // Dropping the transaction rolls the batch back.
                    return Err(StoreError::Conflict {
                        what: "line",
                        value: a.username.to_string(),
                    });
                }
                Some(id) => {
                    change
                        .execute(params![
                            id,
                            present.password,
                            a.password_hash,
                            a.verifier,
                            present.max_connections,
                            a.max_connections,
                            present.expires,
                            a.expires_at,
                            present.status,
                            a.status.as_str(),
                            present.limit_policy,
                            a.limit_policy.map(LimitPolicy::as_str),
                            present.is_trial,
                            a.is_trial,
                            present.note,
                            a.note,
                        ])
                        .ctx(CONTEXT)?;
                    counts.updated += 1;
                }
            }
        }
    }
    bump(&tx, Half::Lines)?;
    tx.commit().ctx(CONTEXT)?;
    Ok(counts)
}

pub(super) fn delete(conn: &mut Connection, id: LineId) -> StoreResult<()> {
    const CONTEXT: &str = "deleting a line";
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .ctx(CONTEXT)?;
    if tx
        .execute("DELETE FROM lines WHERE id = ?1", [id.0])
        .ctx(CONTEXT)?
        == 0
    {
        return Err(not_found(id));
    }
    bump(&tx, Half::Lines)?;
    tx.commit().ctx(CONTEXT)
}

/// The verifier is derived from the password (same password, current key),
/// so storing it is not a change of the line: neither the revision nor the
/// change stamp moves (a first login must not make servers reload every line).
pub(super) fn set_verifier(
    conn: &mut Connection,
    id: LineId,
    verifier: Option<&[u8]>,
) -> StoreResult<()> {
    match conn
        .execute(
            "UPDATE lines SET verifier = ?2 WHERE id = ?1",
            params![id.0, verifier],
        )
        .ctx("storing a verifier")?
    {
        0 => Err(not_found(id)),
        _ => Ok(()),
    }
}

/// A re-hash of the same password: hash and verifier together, without
/// bumping the change stamp (nothing another process holds became wrong).
pub(super) fn upgrade_hash(
    conn: &mut Connection,
    id: LineId,
    hash: &str,
    verifier: &[u8],
) -> StoreResult<()> {
    match conn
        .execute(
            "UPDATE lines SET password_hash = ?2, verifier = ?3 WHERE id = ?1",
            params![id.0, hash, verifier],
        )
        .ctx("storing an upgraded password hash")?
    {
        0 => Err(not_found(id)),
        _ => Ok(()),
    }
}

/// Many verifiers in one transaction (after a bulk import). All or none: a
/// missing line is `NotFound` and nothing is written. Unlike a single
/// verifier this bumps the change stamp, so a running server picks up the
/// verifiers another process (the CLI import) computed.
pub(super) fn set_verifiers(
    conn: &mut Connection,
    rows: Vec<(LineId, Vec<u8>)>,
) -> StoreResult<()> {
    const CONTEXT: &str = "storing verifiers";
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .ctx(CONTEXT)?;
    {
        let mut set = tx
            .prepare("UPDATE lines SET verifier = ?2 WHERE id = ?1")
            .ctx(CONTEXT)?;
        for (id, verifier) in &rows {
            if set.execute(params![id.0, verifier]).ctx(CONTEXT)? == 0 {
                return Err(not_found(*id));
            }
        }
    }
    if !rows.is_empty() {
        bump(&tx, Half::Lines)?;
    }
    tx.commit().ctx(CONTEXT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tvgate_core::access::Status;
    use tvgate_core::ids::CategoryId;

    #[test]
    fn a_damaged_row_loads_disabled() {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::migrate::migrate(&mut conn).unwrap();
        // Get past the CHECK constraints, as a hand edit of the file might.
        conn.execute_batch(
            "PRAGMA ignore_check_constraints = ON;
             INSERT INTO lines (username, username_key, password_hash, status,
                 max_connections, allowed_formats, created_at, package)
             VALUES ('a', 'a', 'h', 'paused', 2, 3, 0, '1,zz,2'),
                    ('b', 'b', 'h', 'active', -1, 3, 0, NULL),
                    ('c', 'c', 'h', 'ACTIVE', 2, 3, 0, '5');
             INSERT INTO lines (username, username_key, password_hash, status,
                 max_connections, allowed_formats, created_at, limit_policy)
             VALUES ('d', 'd', 'h', 'active', 2, 3, 0, 'oldest_wins'),
                    ('e', 'e', 'h', 'active', 2, 3, 0, 'newest_wins');",
        )
        .unwrap();
        let all = load(&mut conn).unwrap();
        assert_eq!(all[0].status, Status::Disabled);
        assert_eq!(
            all[0].package.as_deref(),
            Some(&[CategoryId(1), CategoryId(2)][..])
        );
        assert_eq!(all[1].status, Status::Disabled);
        assert_eq!(all[1].max_connections, 1);
        assert_eq!(all[2].status, Status::Active);
        assert_eq!(all[2].package.as_deref(), Some(&[CategoryId(5)][..]));
        assert_eq!(all[3].status, Status::Disabled);
        assert_eq!(all[3].limit_policy, None);
        assert_eq!(all[4].status, Status::Active);
        assert_eq!(all[4].limit_policy, Some(LimitPolicy::NewestWins));
    }
}
