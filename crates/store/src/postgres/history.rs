//! The dashboard's history on PostgreSQL: per-minute samples by node
//! (written in place with one statement per batch, read one node's or
//! summed), and lines' timelines. Nothing here bumps the change stamp.

use super::{text, Context};
use crate::codec::{
    count_to_sql, decode_event, decode_sample, encode_refusal_counts, EventRow, SampleRow,
};
use deadpool_postgres::Object;
use tvgate_core::ids::LineId;
use tvgate_core::ports::StoreResult;
use tvgate_core::stats::{sum_by_minute, Sample};
use tvgate_core::timeline::LineEvent;
use tvgate_core::UnixTime;

pub(super) async fn save_samples(c: &Object, node: &str, samples: Vec<Sample>) -> StoreResult<()> {
    if samples.is_empty() {
        return Ok(());
    }
    let minute: Vec<i64> = samples.iter().map(|s| s.minute).collect();
    let viewers: Vec<i64> = samples.iter().map(|s| count_to_sql(s.viewers)).collect();
    let bytes: Vec<i64> = samples.iter().map(|s| count_to_sql(s.bytes_out)).collect();
    let logins: Vec<i64> = samples.iter().map(|s| count_to_sql(s.logins)).collect();
    let refusals: Vec<String> = samples
        .iter()
        .map(|s| text(&encode_refusal_counts(&s.refusals)).into_owned())
        .collect();
    let node = text(node).into_owned();
    c.execute(
        "INSERT INTO stats_samples (node, minute, viewers, bytes_out, logins, refusals)
         SELECT $1, minute, viewers, bytes_out, logins, refusals
         FROM unnest($2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::text[])
              AS s(minute, viewers, bytes_out, logins, refusals)
         ON CONFLICT (node, minute) DO UPDATE SET viewers = excluded.viewers,
           bytes_out = excluded.bytes_out, logins = excluded.logins,
           refusals = excluded.refusals",
        &[&node, &minute, &viewers, &bytes, &logins, &refusals],
    )
    .await
    .ctx("recording samples")?;
    Ok(())
}

pub(super) async fn samples(
    c: &Object,
    node: Option<&str>,
    since: UnixTime,
) -> StoreResult<Vec<Sample>> {
    const CONTEXT: &str = "reading samples";
    let node = node.map(|n| text(n).into_owned());
    let rows = c
        .query(
            "SELECT minute, viewers, bytes_out, logins, refusals FROM stats_samples
             WHERE minute >= $1 AND ($2::text IS NULL OR node = $2) ORDER BY minute",
            &[&since, &node],
        )
        .await
        .ctx(CONTEXT)?;
    let rows = rows
        .iter()
        .map(|row| {
            Ok(decode_sample(SampleRow {
                minute: row.try_get(0)?,
                viewers: row.try_get(1)?,
                bytes_out: row.try_get(2)?,
                logins: row.try_get(3)?,
                refusals: row.try_get(4)?,
            }))
        })
        .collect::<Result<Vec<_>, tokio_postgres::Error>>()
        .ctx(CONTEXT)?;
    Ok(sum_by_minute(rows))
}

pub(super) async fn prune_samples(c: &Object, before: UnixTime) -> StoreResult<u64> {
    c.execute("DELETE FROM stats_samples WHERE minute < $1", &[&before])
        .await
        .ctx("pruning samples")
}

pub(super) async fn insert_events(c: &Object, events: Vec<LineEvent>) -> StoreResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    let line: Vec<i64> = events.iter().map(|e| e.line.0).collect();
    let kind: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    let at: Vec<i64> = events.iter().map(|e| e.at).collect();
    let ended: Vec<Option<i64>> = events.iter().map(|e| e.ended).collect();
    let channel: Vec<_> = events.iter().map(|e| text(&e.channel)).collect();
    let player: Vec<_> = events.iter().map(|e| text(&e.player)).collect();
    let ip: Vec<String> = events.iter().map(|e| e.ip.to_string()).collect();
    let detail: Vec<_> = events.iter().map(|e| text(&e.detail)).collect();
    // One statement, rows in the given order (ids follow it).
    c.execute(
        "INSERT INTO line_events (line_id, kind, at, ended, channel, player, ip, detail)
         SELECT line_id, kind, at, ended, channel, player, ip, detail
         FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[], $5::text[],
                     $6::text[], $7::text[], $8::text[])
              WITH ORDINALITY AS e(line_id, kind, at, ended, channel, player, ip, detail, n)
         ORDER BY n",
        &[&line, &kind, &at, &ended, &channel, &player, &ip, &detail],
    )
    .await
    .ctx("recording lines' timelines")?;
    Ok(())
}

pub(super) async fn events(c: &Object, line: LineId, limit: u32) -> StoreResult<Vec<LineEvent>> {
    const CONTEXT: &str = "reading a line's timeline";
    let rows = c
        .query(
            "SELECT line_id, kind, at, ended, channel, player, ip, detail FROM line_events
             WHERE line_id = $1 ORDER BY id DESC LIMIT $2",
            &[&line.0, &i64::from(limit)],
        )
        .await
        .ctx(CONTEXT)?;
    rows.iter()
        .map(|row| {
            Ok(decode_event(EventRow {
                line: row.try_get(0)?,
                kind: row.try_get(1)?,
                at: row.try_get(2)?,
                ended: row.try_get(3)?,
                channel: row.try_get(4)?,
                player: row.try_get(5)?,
                ip: row.try_get(6)?,
                detail: row.try_get(7)?,
            }))
        })
        .collect::<Result<Vec<_>, tokio_postgres::Error>>()
        .ctx(CONTEXT)
}

pub(super) async fn prune_events(c: &Object, before: UnixTime) -> StoreResult<u64> {
    c.execute("DELETE FROM line_events WHERE at < $1", &[&before])
        .await
        .ctx("pruning lines' timelines")
}
