//! What the nodes share beyond the domain, on SQLite: console and portal
//! sessions (by the hash of their id; migration 0009) and the verifier
//! key's fingerprint (migration 0010). Nothing here bumps the change
//! stamp; SQLite cannot notify, so a session ended by another process is
//! noticed when a server checks its cached sessions again.

use super::Context;
use crate::codec::KEY_FINGERPRINT;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use tvgate_core::ports::{SessionFace, StoreResult, StoredSession};
use tvgate_core::UnixTime;

pub(super) fn insert(
    conn: &mut Connection,
    s: StoredSession,
    now: UnixTime,
    max: u32,
) -> StoreResult<()> {
    const CONTEXT: &str = "storing a session";
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .ctx(CONTEXT)?;
    let face = s.face.as_str();
    tx.execute(
        "DELETE FROM sessions WHERE face = ?1 AND expires_at <= ?2",
        params![face, now],
    )
    .ctx(CONTEXT)?;
    // Beyond `max`, the sessions closest to expiry go (the newest stays).
    tx.execute(
        "DELETE FROM sessions WHERE id_hash IN (
             SELECT id_hash FROM sessions WHERE face = ?1
             ORDER BY expires_at
             LIMIT MAX((SELECT COUNT(*) FROM sessions WHERE face = ?1) - ?2 + 1, 0))",
        params![face, max],
    )
    .ctx(CONTEXT)?;
    tx.execute(
        "INSERT INTO sessions (id_hash, face, csrf, sealed, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![&s.id_hash[..], face, s.csrf, s.sealed, s.expires],
    )
    .ctx(CONTEXT)?;
    tx.commit().ctx(CONTEXT)
}

pub(super) fn get(
    conn: &mut Connection,
    face: SessionFace,
    id_hash: [u8; 32],
    now: UnixTime,
) -> StoreResult<Option<StoredSession>> {
    conn.prepare_cached(
        "SELECT csrf, sealed, expires_at FROM sessions
         WHERE id_hash = ?1 AND face = ?2 AND expires_at > ?3",
    )
    .and_then(|mut stmt| {
        stmt.query_row(params![&id_hash[..], face.as_str(), now], |row| {
            Ok(StoredSession {
                id_hash,
                face,
                csrf: row.get(0)?,
                sealed: row.get(1)?,
                expires: row.get(2)?,
            })
        })
        .optional()
    })
    .ctx("reading a session")
}

pub(super) fn delete(conn: &mut Connection, id_hash: [u8; 32]) -> StoreResult<()> {
    conn.execute("DELETE FROM sessions WHERE id_hash = ?1", [&id_hash[..]])
        .ctx("ending a session")?;
    Ok(())
}

pub(super) fn claim_key_fingerprint(
    conn: &mut Connection,
    fingerprint: &str,
) -> StoreResult<String> {
    const CONTEXT: &str = "recording the verifier key's fingerprint";
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .ctx(CONTEXT)?;
    tx.execute(
        "INSERT INTO store_facts (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
        params![KEY_FINGERPRINT, fingerprint],
    )
    .ctx(CONTEXT)?;
    let value: String = tx
        .query_row(
            "SELECT value FROM store_facts WHERE name = ?1",
            [KEY_FINGERPRINT],
            |row| row.get(0),
        )
        .ctx(CONTEXT)?;
    tx.commit().ctx(CONTEXT)?;
    Ok(value)
}
