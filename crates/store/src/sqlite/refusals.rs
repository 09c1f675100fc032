//! The denial log (`refusals`): appended in batches, read newest first by
//! id with optional filters, pruned by time. Nothing here bumps the change
//! stamp: no decision reads the log.

use super::Context;
use rusqlite::types::Value;
use rusqlite::{params, Connection};
use std::net::{IpAddr, Ipv4Addr};
use tvgate_core::access::refusal::{username_key, LoggedRefusal, Refusal, RefusalFilter};
use tvgate_core::ids::LineId;
use tvgate_core::ports::StoreResult;
use tvgate_core::UnixTime;

pub(super) fn insert(conn: &mut Connection, refusals: Vec<Refusal>) -> StoreResult<()> {
    const CONTEXT: &str = "recording refusals";
    let tx = conn.transaction().ctx(CONTEXT)?;
    {
        let mut stmt = tx
            .prepare_cached(
                "INSERT INTO refusals
                 (at, reason, text, line_id, username, username_key, ip, face)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .ctx(CONTEXT)?;
        for r in &refusals {
            stmt.execute(params![
                r.at,
                r.reason,
                r.text,
                r.line.map(|a| a.0),
                r.username,
                username_key(&r.username),
                r.ip.to_string(),
                r.face,
            ])
            .ctx(CONTEXT)?;
        }
    }
    tx.commit().ctx(CONTEXT)
}

pub(super) fn query(conn: &mut Connection, f: RefusalFilter) -> StoreResult<Vec<LoggedRefusal>> {
    const CONTEXT: &str = "reading the denial log";
    // Only the given filters are in the statement, so SQLite can use the
    // index of one of them (`x IS NULL OR col = x` would scan the table).
    let mut clauses: Vec<&str> = Vec::new();
    let mut values: Vec<Value> = Vec::new();
    let mut add = |clause, value: Option<Value>| {
        if let Some(v) = value {
            clauses.push(clause);
            values.push(v);
        }
    };
    add("reason = ?", f.reason.map(Value::Text));
    add("line_id = ?", f.line.map(|a| Value::Integer(a.0)));
    add(
        "username_key = ?",
        f.username.as_deref().map(|u| Value::Text(username_key(u))),
    );
    add("ip = ?", f.ip.map(|ip| Value::Text(ip.to_string())));
    add("at >= ?", f.since.map(Value::Integer));
    add("at <= ?", f.until.map(Value::Integer));
    add("id < ?", f.before.map(Value::Integer));
    values.push(Value::Integer(i64::from(f.limit)));
    let filter = if clauses.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", clauses.join(" AND "))
    };
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT id, at, reason, text, line_id, username, ip, face FROM refusals{filter}
             ORDER BY id DESC LIMIT ?"
        ))
        .ctx(CONTEXT)?;
    let rows = stmt
        .query_map(rusqlite::params_from_iter(values), |row| {
            let ip: String = row.get(6)?;
            Ok(LoggedRefusal {
                id: row.get(0)?,
                refusal: Refusal {
                    at: row.get(1)?,
                    reason: row.get(2)?,
                    text: row.get(3)?,
                    line: row.get::<_, Option<i64>>(4)?.map(LineId),
                    username: row.get(5)?,
                    // Written from an `IpAddr`; a row edited by hand
                    // reads as 0.0.0.0 rather than failing the page.
                    ip: ip.parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
                    face: row.get(7)?,
                },
            })
        })
        .ctx(CONTEXT)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().ctx(CONTEXT)
}

pub(super) fn prune(conn: &mut Connection, before: UnixTime) -> StoreResult<u64> {
    let n = conn
        .execute("DELETE FROM refusals WHERE at < ?1", [before])
        .ctx("pruning the denial log")?;
    Ok(n as u64)
}
