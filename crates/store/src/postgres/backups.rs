//! Backup URLs of live channels on PostgreSQL, with SQLite's rules (see
//! its `backups`): kept by stream id, so a refresh keeps them and deleting
//! the channel takes them; replacing a list bumps the catalog stamp.

use super::{bump, Context, Half};
use deadpool_postgres::{GenericClient, Object};
use tvgate_core::ids::StreamId;
use tvgate_core::ports::{StoreError, StoreResult};

pub(super) async fn set(c: &mut Object, stream: StreamId, urls: Vec<String>) -> StoreResult<()> {
    const CONTEXT: &str = "setting a channel's backups";
    let tx = c.transaction().await.ctx(CONTEXT)?;
    let kind: Option<String> = tx
        .query_opt(
            "SELECT kind FROM streams WHERE id = $1 FOR KEY SHARE",
            &[&i64::from(stream.0)],
        )
        .await
        .ctx(CONTEXT)?
        .map(|row| row.try_get(0))
        .transpose()
        .ctx(CONTEXT)?;
    if kind.as_deref() != Some("live") {
        return Err(StoreError::NotFound {
            what: "live channel",
            id: stream.to_string(),
        });
    }
    tx.execute(
        "DELETE FROM stream_backups WHERE stream_id = $1",
        &[&i64::from(stream.0)],
    )
    .await
    .ctx(CONTEXT)?;
    tx.execute(
        "INSERT INTO stream_backups (stream_id, seq, url)
         SELECT $1, n - 1, url FROM unnest($2::text[]) WITH ORDINALITY AS b(url, n)",
        &[&i64::from(stream.0), &urls],
    )
    .await
    .ctx(CONTEXT)?;
    bump(&tx, Half::Catalog).await?;
    tx.commit().await.ctx(CONTEXT)
}

/// Every live channel's backups, in order (inside the catalog's read
/// transaction).
pub(super) async fn load(c: &impl GenericClient) -> StoreResult<Vec<(StreamId, Vec<Box<str>>)>> {
    const CONTEXT: &str = "loading channels' backups";
    let rows = c
        .query(
            "SELECT b.stream_id, b.url FROM stream_backups b
             JOIN streams s ON s.id = b.stream_id
             WHERE s.kind = 'live'
             ORDER BY b.stream_id, b.seq",
            &[],
        )
        .await
        .ctx(CONTEXT)?;
    let mut all: Vec<(StreamId, Vec<Box<str>>)> = Vec::new();
    for row in rows {
        let id: i64 = row.try_get(0).ctx(CONTEXT)?;
        let id = StreamId(u32::try_from(id).unwrap_or(u32::MAX));
        let url: String = row.try_get(1).ctx(CONTEXT)?;
        match all.last_mut() {
            Some((last, urls)) if *last == id => urls.push(url.into()),
            _ => all.push((id, vec![url.into()])),
        }
    }
    Ok(all)
}
