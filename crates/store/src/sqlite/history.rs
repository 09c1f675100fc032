//! The dashboard's history on SQLite: per-minute samples by node (written
//! in place, read one node's or summed), and lines' timelines. Nothing
//! here bumps the change stamp.

use super::Context;
use crate::codec::{
    count_to_sql, decode_event, decode_sample, encode_refusal_counts, EventRow, SampleRow,
};
use rusqlite::{params, Connection};
use tvgate_core::ids::LineId;
use tvgate_core::ports::StoreResult;
use tvgate_core::stats::{sum_by_minute, Sample};
use tvgate_core::timeline::LineEvent;
use tvgate_core::UnixTime;

pub(super) fn save_samples(
    conn: &mut Connection,
    node: &str,
    samples: Vec<Sample>,
) -> StoreResult<()> {
    const CONTEXT: &str = "recording samples";
    let tx = conn.transaction().ctx(CONTEXT)?;
    {
        let mut stmt = tx
            .prepare_cached(
                "INSERT INTO stats_samples (node, minute, viewers, bytes_out, logins, refusals)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (node, minute) DO UPDATE SET viewers = excluded.viewers,
                   bytes_out = excluded.bytes_out, logins = excluded.logins,
                   refusals = excluded.refusals",
            )
            .ctx(CONTEXT)?;
        for s in &samples {
            stmt.execute(params![
                node,
                s.minute,
                count_to_sql(s.viewers),
                count_to_sql(s.bytes_out),
                count_to_sql(s.logins),
                encode_refusal_counts(&s.refusals),
            ])
            .ctx(CONTEXT)?;
        }
    }
    tx.commit().ctx(CONTEXT)
}

pub(super) fn samples(
    conn: &mut Connection,
    node: Option<&str>,
    since: UnixTime,
) -> StoreResult<Vec<Sample>> {
    const CONTEXT: &str = "reading samples";
    let mut stmt = conn
        .prepare_cached(
            "SELECT minute, viewers, bytes_out, logins, refusals FROM stats_samples
             WHERE minute >= ?1 AND (?2 IS NULL OR node = ?2) ORDER BY minute",
        )
        .ctx(CONTEXT)?;
    let rows = stmt
        .query_map(params![since, node], |row| {
            Ok(decode_sample(SampleRow {
                minute: row.get(0)?,
                viewers: row.get(1)?,
                bytes_out: row.get(2)?,
                logins: row.get(3)?,
                refusals: row.get(4)?,
            }))
        })
        .ctx(CONTEXT)?;
    let rows = rows.collect::<rusqlite::Result<Vec<_>>>().ctx(CONTEXT)?;
    Ok(sum_by_minute(rows))
}

pub(super) fn prune_samples(conn: &mut Connection, before: UnixTime) -> StoreResult<u64> {
    let n = conn
        .execute("DELETE FROM stats_samples WHERE minute < ?1", [before])
        .ctx("pruning samples")?;
    Ok(n as u64)
}

pub(super) fn insert_events(conn: &mut Connection, events: Vec<LineEvent>) -> StoreResult<()> {
    const CONTEXT: &str = "recording lines' timelines";
    let tx = conn.transaction().ctx(CONTEXT)?;
    {
        let mut stmt = tx
            .prepare_cached(
                "INSERT INTO line_events (line_id, kind, at, ended, channel, player, ip, detail)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .ctx(CONTEXT)?;
        for e in &events {
            stmt.execute(params![
                e.line.0,
                e.kind.as_str(),
                e.at,
                e.ended,
                e.channel,
                e.player,
                e.ip.to_string(),
                e.detail,
            ])
            .ctx(CONTEXT)?;
        }
    }
    tx.commit().ctx(CONTEXT)
}

pub(super) fn events(
    conn: &mut Connection,
    line: LineId,
    limit: u32,
) -> StoreResult<Vec<LineEvent>> {
    const CONTEXT: &str = "reading a line's timeline";
    let mut stmt = conn
        .prepare_cached(
            "SELECT line_id, kind, at, ended, channel, player, ip, detail FROM line_events
             WHERE line_id = ?1 ORDER BY id DESC LIMIT ?2",
        )
        .ctx(CONTEXT)?;
    let rows = stmt
        .query_map(params![line.0, limit], |row| {
            Ok(decode_event(EventRow {
                line: row.get(0)?,
                kind: row.get(1)?,
                at: row.get(2)?,
                ended: row.get(3)?,
                channel: row.get(4)?,
                player: row.get(5)?,
                ip: row.get(6)?,
                detail: row.get(7)?,
            }))
        })
        .ctx(CONTEXT)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().ctx(CONTEXT)
}

pub(super) fn prune_events(conn: &mut Connection, before: UnixTime) -> StoreResult<u64> {
    let n = conn
        .execute("DELETE FROM line_events WHERE at < ?1", [before])
        .ctx("pruning lines' timelines")?;
    Ok(n as u64)
}
