//! The denial log on PostgreSQL: appended in batches (one statement per
//! batch), read newest first by id with optional filters, pruned by time.
//! Nothing here bumps the change stamp.

use super::{int, text, Context};
use deadpool_postgres::Object;
use std::net::{IpAddr, Ipv4Addr};
use tokio_postgres::types::ToSql;
use tvgate_core::access::refusal::{username_key, LoggedRefusal, Refusal, RefusalFilter};
use tvgate_core::ids::LineId;
use tvgate_core::ports::StoreResult;
use tvgate_core::UnixTime;

pub(super) async fn insert(c: &mut Object, refusals: Vec<Refusal>) -> StoreResult<()> {
    const CONTEXT: &str = "recording refusals";
    if refusals.is_empty() {
        return Ok(());
    }
    let at: Vec<i64> = refusals.iter().map(|r| r.at).collect();
    let reason: Vec<_> = refusals.iter().map(|r| text(&r.reason)).collect();
    let said: Vec<_> = refusals.iter().map(|r| text(&r.text)).collect();
    let line: Vec<Option<i64>> = refusals.iter().map(|r| r.line.map(|l| l.0)).collect();
    let username: Vec<_> = refusals.iter().map(|r| text(&r.username)).collect();
    let key: Vec<String> = refusals
        .iter()
        .map(|r| text(&username_key(&r.username)).into_owned())
        .collect();
    let ip: Vec<String> = refusals.iter().map(|r| r.ip.to_string()).collect();
    let face: Vec<_> = refusals.iter().map(|r| text(&r.face)).collect();
    // One statement, rows in the given order (ids follow it).
    c.execute(
        "INSERT INTO refusals (at, reason, text, line_id, username, username_key, ip, face)
         SELECT at, reason, text, line_id, username, username_key, ip, face
         FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::text[],
                     $6::text[], $7::text[], $8::text[])
              WITH ORDINALITY AS r(at, reason, text, line_id, username, username_key, ip,
                                   face, n)
         ORDER BY n",
        &[&at, &reason, &said, &line, &username, &key, &ip, &face],
    )
    .await
    .ctx(CONTEXT)?;
    Ok(())
}

pub(super) async fn query(c: &Object, f: RefusalFilter) -> StoreResult<Vec<LoggedRefusal>> {
    const CONTEXT: &str = "reading the denial log";
    // Only the given filters are in the statement, so the planner can use
    // the index of one of them.
    let mut clauses: Vec<String> = Vec::new();
    let mut values: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
    let mut add = |column: &str, op: &str, value: Option<Box<dyn ToSql + Sync + Send>>| {
        if let Some(v) = value {
            values.push(v);
            clauses.push(format!("{column} {op} ${}", values.len()));
        }
    };
    add(
        "reason",
        "=",
        f.reason.map(|v| Box::new(text(&v).into_owned()) as _),
    );
    add("line_id", "=", f.line.map(|a| Box::new(a.0) as _));
    add(
        "username_key",
        "=",
        f.username
            .as_deref()
            .map(|u| Box::new(text(&username_key(u)).into_owned()) as _),
    );
    add("ip", "=", f.ip.map(|ip| Box::new(ip.to_string()) as _));
    add("at", ">=", f.since.map(|v| Box::new(v) as _));
    add("at", "<=", f.until.map(|v| Box::new(v) as _));
    add("id", "<", f.before.map(|v| Box::new(v) as _));
    values.push(Box::new(int(f.limit)));
    let filter = if clauses.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", clauses.join(" AND "))
    };
    let sql = format!(
        "SELECT id, at, reason, text, line_id, username, ip, face FROM refusals{filter}
         ORDER BY id DESC LIMIT ${}",
        values.len()
    );
    let params: Vec<&(dyn ToSql + Sync)> =
        values.iter().map(|v| &**v as &(dyn ToSql + Sync)).collect();
    let rows = c.query(&sql, &params).await.ctx(CONTEXT)?;
    rows.iter()
        .map(|row| {
            let ip: String = row.try_get(6)?;
            Ok(LoggedRefusal {
                id: row.try_get(0)?,
                refusal: Refusal {
                    at: row.try_get(1)?,
                    reason: row.try_get(2)?,
                    text: row.try_get(3)?,
                    line: row.try_get::<_, Option<i64>>(4)?.map(LineId),
                    username: row.try_get(5)?,
                    // Written from an `IpAddr`; a row edited by hand reads
                    // as 0.0.0.0 rather than failing the page.
                    ip: ip.parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
                    face: row.try_get(7)?,
                },
            })
        })
        .collect::<Result<_, tokio_postgres::Error>>()
        .ctx(CONTEXT)
}

pub(super) async fn prune(c: &Object, before: UnixTime) -> StoreResult<u64> {
    c.execute("DELETE FROM refusals WHERE at < $1", &[&before])
        .await
        .ctx("pruning the denial log")
}
