//! What the nodes share beyond the domain, on PostgreSQL: console and
//! portal sessions (by the hash of their id; migration 0009) and the
//! verifier key's fingerprint (migration 0010). Ending a session sends
//! `NOTIFY tvgate_changes, 'sessions'`, so every node drops the sessions
//! it holds in memory and a logout holds everywhere at once.

use super::{int, Context};
use crate::codec::KEY_FINGERPRINT;
use deadpool_postgres::Object;
use tvgate_core::ports::{SessionFace, StoreError, StoreResult, StoredSession};
use tvgate_core::UnixTime;

pub(super) async fn insert(
    c: &mut Object,
    s: StoredSession,
    now: UnixTime,
    max: u32,
) -> StoreResult<()> {
    const CONTEXT: &str = "storing a session";
    let tx = c.transaction().await.ctx(CONTEXT)?;
    let face = s.face.as_str();
    tx.execute(
        "DELETE FROM sessions WHERE face = $1 AND expires_at <= $2",
        &[&face, &now],
    )
    .await
    .ctx(CONTEXT)?;
    // Beyond `max`, the sessions closest to expiry go (the newest stays).
    tx.execute(
        "DELETE FROM sessions WHERE id_hash IN (
             SELECT id_hash FROM sessions WHERE face = $1
             ORDER BY expires_at
             LIMIT GREATEST((SELECT COUNT(*) FROM sessions WHERE face = $1) - $2 + 1, 0))",
        &[&face, &int(max)],
    )
    .await
    .ctx(CONTEXT)?;
    tx.execute(
        "INSERT INTO sessions (id_hash, face, csrf, sealed, expires_at)
         VALUES ($1, $2, $3, $4, $5)",
        &[&&s.id_hash[..], &face, &s.csrf, &s.sealed, &s.expires],
    )
    .await
    .ctx(CONTEXT)?;
    tx.commit().await.ctx(CONTEXT)
}

pub(super) async fn get(
    c: &Object,
    face: SessionFace,
    id_hash: [u8; 32],
    now: UnixTime,
) -> StoreResult<Option<StoredSession>> {
    const CONTEXT: &str = "reading a session";
    let stmt = c
        .prepare_cached(
            "SELECT csrf, sealed, expires_at FROM sessions
             WHERE id_hash = $1 AND face = $2 AND expires_at > $3",
        )
        .await
        .ctx(CONTEXT)?;
    let Some(row) = c
        .query_opt(&stmt, &[&&id_hash[..], &face.as_str(), &now])
        .await
        .ctx(CONTEXT)?
    else {
        return Ok(None);
    };
    Ok(Some(StoredSession {
        id_hash,
        face,
        csrf: row.try_get(0).ctx(CONTEXT)?,
        sealed: row.try_get(1).ctx(CONTEXT)?,
        expires: row.try_get(2).ctx(CONTEXT)?,
    }))
}

pub(super) async fn delete(c: &Object, id_hash: [u8; 32]) -> StoreResult<()> {
    const CONTEXT: &str = "ending a session";
    // One statement (a data-modifying CTE always runs), so the
    // notification goes out with the delete's commit.
    c.execute(
        "WITH gone AS (DELETE FROM sessions WHERE id_hash = $1 RETURNING 1)
         SELECT pg_notify('tvgate_changes', 'sessions')",
        &[&&id_hash[..]],
    )
    .await
    .ctx(CONTEXT)?;
    Ok(())
}

pub(super) async fn claim_key_fingerprint(c: &Object, fingerprint: &str) -> StoreResult<String> {
    const CONTEXT: &str = "recording the verifier key's fingerprint";
    c.execute(
        "INSERT INTO store_facts (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        &[&KEY_FINGERPRINT, &fingerprint],
    )
    .await
    .ctx(CONTEXT)?;
    let row = c
        .query_opt(
            "SELECT value FROM store_facts WHERE name = $1",
            &[&KEY_FINGERPRINT],
        )
        .await
        .ctx(CONTEXT)?;
    match row {
        Some(row) => row.try_get(0).ctx(CONTEXT),
        None => Err(StoreError::Backend {
            context: CONTEXT,
            message: "the fingerprint was not stored".into(),
        }),
    }
}
