//! Backup URLs of live channels (`stream_backups`), set by the operator.
//!
//! Rows hang off the stream id, which a refresh keeps while the channel's
//! key is in the source (see `catalog`), so a refresh never touches them;
//! deleting the channel (gone from the source, or its source removed)
//! cascades to them. Replacing a list is one transaction and bumps the
//! catalog change stamp, so a running server picks it up.

use super::{bump, Context, Half};
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use tvgate_core::ids::StreamId;
use tvgate_core::ports::{StoreError, StoreResult};

pub(super) fn set(conn: &mut Connection, stream: StreamId, urls: Vec<String>) -> StoreResult<()> {
    const CONTEXT: &str = "setting a channel's backups";
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .ctx(CONTEXT)?;
    let kind: Option<String> = tx
        .query_row(
            "SELECT kind FROM streams WHERE id = ?1",
            [stream.0],
            |row| row.get(0),
        )
        .optional()
        .ctx(CONTEXT)?;
    if kind.as_deref() != Some("live") {
        return Err(StoreError::NotFound {
            what: "live channel",
            id: stream.to_string(),
        });
    }
    tx.execute(
        "DELETE FROM stream_backups WHERE stream_id = ?1",
        [stream.0],
    )
    .ctx(CONTEXT)?;
    {
        let mut add = tx
            .prepare("INSERT INTO stream_backups (stream_id, seq, url) VALUES (?1, ?2, ?3)")
            .ctx(CONTEXT)?;
        for (seq, url) in urls.iter().enumerate() {
            add.execute(params![stream.0, seq as i64, url])
                .ctx(CONTEXT)?;
        }
    }
    bump(&tx, Half::Catalog)?;
    tx.commit().ctx(CONTEXT)
}

/// Every live channel's backups, in order (inside the catalog's read
/// transaction).
pub(super) fn load(tx: &Transaction<'_>) -> StoreResult<Vec<(StreamId, Vec<Box<str>>)>> {
    const CONTEXT: &str = "loading channels' backups";
    let mut stmt = tx
        .prepare(
            "SELECT b.stream_id, b.url FROM stream_backups b
             JOIN streams s ON s.id = b.stream_id
             WHERE s.kind = 'live'
             ORDER BY b.stream_id, b.seq",
        )
        .ctx(CONTEXT)?;
    let mut rows = stmt.query([]).ctx(CONTEXT)?;
    let mut all: Vec<(StreamId, Vec<Box<str>>)> = Vec::new();
    while let Some(row) = rows.next().ctx(CONTEXT)? {
        let id = StreamId(row.get(0).ctx(CONTEXT)?);
        let url: String = row.get(1).ctx(CONTEXT)?;
        match all.last_mut() {
            Some((last, urls)) if *last == id => urls.push(url.into()),
            _ => all.push((id, vec![url.into()])),
        }
    }
    Ok(all)
}
