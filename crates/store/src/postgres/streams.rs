//! The operator's view of stored streams on PostgreSQL (see SQLite's
//! `streams`): every stream with its `enabled` switch, searched (ILIKE:
//! case folded beyond ASCII) and paged, and the switch itself, which bumps
//! the catalog stamp.

use super::{bump, int, text, Context, Half};
use crate::codec::like_pattern;
use deadpool_postgres::Object;
use tvgate_core::ids::{SourceId, StreamId};
use tvgate_core::ports::{StoreError, StoreResult, StreamPage, StreamQuery, StreamRow};

pub(super) async fn list(c: &mut Object, q: StreamQuery) -> StoreResult<StreamPage> {
    const CONTEXT: &str = "listing streams";
    let tx = c
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .ctx(CONTEXT)?;
    let source = q.source.map(|s| s.0);
    let pattern = text(&like_pattern(q.search.trim())).into_owned();
    let stream = q.stream.map(|s| i64::from(s.0));
    const FILTER: &str = "($1::bigint IS NULL OR s.source_id = $1)
        AND s.name ILIKE $2 ESCAPE '\\'
        AND ($3::bigint IS NULL OR s.id = $3) AND ($4::boolean IS NULL OR s.enabled = $4)";
    let total: i64 = tx
        .query_one(
            &format!("SELECT COUNT(*) FROM streams s WHERE {FILTER}"),
            &[&source, &pattern, &stream, &q.enabled],
        )
        .await
        .ctx(CONTEXT)?
        .try_get(0)
        .ctx(CONTEXT)?;
    let rows = tx
        .query(
            &format!(
                "SELECT s.id, s.source_id, s.kind, s.name, COALESCE(c.name, sc.name), s.enabled
                 FROM streams s
                 LEFT JOIN categories c ON c.id = s.category_id
                 LEFT JOIN series se ON se.id = s.series_id
                 LEFT JOIN categories sc ON sc.id = se.category_id
                 WHERE {FILTER}
                 ORDER BY s.source_id, s.position, s.id
                 LIMIT $5 OFFSET $6"
            ),
            &[
                &source,
                &pattern,
                &stream,
                &q.enabled,
                &int(q.limit),
                &int(q.offset),
            ],
        )
        .await
        .ctx(CONTEXT)?;
    let items = rows
        .iter()
        .map(|row| {
            let id: i64 = row.try_get(0)?;
            Ok(StreamRow {
                // Streams ids are below 2^31 (the identity's maximum).
                id: StreamId(u32::try_from(id).unwrap_or(u32::MAX)),
                source: SourceId(row.try_get(1)?),
                kind: row.try_get(2)?,
                name: row.try_get(3)?,
                category: row.try_get(4)?,
                enabled: row.try_get(5)?,
            })
        })
        .collect::<Result<Vec<_>, tokio_postgres::Error>>()
        .ctx(CONTEXT)?;
    tx.commit().await.ctx(CONTEXT)?;
    Ok(StreamPage {
        total: u64::try_from(total).unwrap_or(0),
        items,
    })
}

pub(super) async fn set_enabled(c: &mut Object, id: StreamId, enabled: bool) -> StoreResult<()> {
    const CONTEXT: &str = "switching a stream";
    let tx = c.transaction().await.ctx(CONTEXT)?;
    let changed = tx
        .execute(
            "UPDATE streams SET enabled = $2 WHERE id = $1",
            &[&i64::from(id.0), &enabled],
        )
        .await
        .ctx(CONTEXT)?;
    if changed == 0 {
        return Err(StoreError::NotFound {
            what: "stream",
            id: id.to_string(),
        });
    }
    bump(&tx, Half::Catalog).await?;
    tx.commit().await.ctx(CONTEXT)
}
