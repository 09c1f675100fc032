//! The operator's view of stored streams: every stream with its `enabled`
//! switch (migration 0005), searched and paged, and the switch itself.
//!
//! Unlike the catalog load this lists disabled streams too: the console and
//! the API must show what can be switched back on. Changing the switch bumps
//! the catalog change stamp (players stop or start seeing the stream).

use super::{bump, Context, Half};
use crate::codec::like_pattern;
use rusqlite::{params, Connection, TransactionBehavior};
use tvgate_core::ids::{SourceId, StreamId};
use tvgate_core::ports::{StoreError, StoreResult, StreamPage, StreamQuery, StreamRow};

pub(super) fn list(conn: &mut Connection, q: StreamQuery) -> StoreResult<StreamPage> {
    const CONTEXT: &str = "listing streams";
    let tx = conn.transaction().ctx(CONTEXT)?;
    let source = q.source.map(|s| s.0);
    let pattern = like_pattern(q.search.trim());
    // SQLite's LIKE folds ASCII case only; good enough for a search box.
    const FILTER: &str = "(?1 IS NULL OR s.source_id = ?1) AND s.name LIKE ?2 ESCAPE '\\'
        AND (?5 IS NULL OR s.id = ?5) AND (?6 IS NULL OR s.enabled = ?6)";
    let stream = q.stream.map(|s| s.0);
    let total: i64 = tx
        .query_row(
            &format!("SELECT COUNT(*) FROM streams s WHERE {FILTER}"),
            params![source, pattern, None::<i64>, None::<i64>, stream, q.enabled],
            |row| row.get(0),
        )
        .ctx(CONTEXT)?;
    let items = {
        let mut stmt = tx
            .prepare(&format!(
                "SELECT s.id, s.source_id, s.kind, s.name, COALESCE(c.name, sc.name), s.enabled
                 FROM streams s
                 LEFT JOIN categories c ON c.id = s.category_id
                 LEFT JOIN series se ON se.id = s.series_id
                 LEFT JOIN categories sc ON sc.id = se.category_id
                 WHERE {FILTER}
                 ORDER BY s.source_id, s.position, s.id
                 LIMIT ?3 OFFSET ?4"
            ))
            .ctx(CONTEXT)?;
        let rows = stmt
            .query_map(
                params![
                    source,
                    pattern,
                    i64::from(q.limit),
                    i64::from(q.offset),
                    stream,
                    q.enabled
                ],
                |row| {
                    Ok(StreamRow {
                        id: StreamId(row.get(0)?),
                        source: SourceId(row.get(1)?),
                        kind: row.get(2)?,
                        name: row.get(3)?,
                        category: row.get(4)?,
                        enabled: row.get(5)?,
                    })
                },
            )
            .ctx(CONTEXT)?;
        rows.collect::<Result<Vec<_>, _>>().ctx(CONTEXT)?
    };
    tx.commit().ctx(CONTEXT)?;
    Ok(StreamPage {
        total: u64::try_from(total).unwrap_or(0),
        items,
    })
}

pub(super) fn set_enabled(conn: &mut Connection, id: StreamId, enabled: bool) -> StoreResult<()> {
    const CONTEXT: &str = "switching a stream";
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .ctx(CONTEXT)?;
    let changed = tx
        .execute(
            "UPDATE streams SET enabled = ?2 WHERE id = ?1",
            params![id.0, enabled],
        )
        .ctx(CONTEXT)?;
    if changed == 0 {
        return Err(StoreError::NotFound {
            what: "stream",
            id: id.to_string(),
        });
    }
    bump(&tx, Half::Catalog)?;
    tx.commit().ctx(CONTEXT)
}
