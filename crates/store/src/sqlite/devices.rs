//! Device binding: each line's policy (`device_policies`), its bound
//! devices (`devices`) and the audit log (`device_audit`).
//!
//! A change to a binding and its audit entry are one transaction, and bump
//! the lines' change stamp, so a running server reloads bindings exactly
//! when the CLI changed one. Recording a sighting (last seen, address, a
//! serial seen for the first time) and recording a refusal do not bump:
//! nothing another process decides with changes.
//!
//! Reading back never fails on a damaged value: an unknown kind, a bad
//! address range or an out-of-range limit is skipped (a range) or read in
//! the way that fails closed (an unreadable limit keeps binding on at one
//! device), with a warning naming the line.

use super::{bump, is_unique_violation, Context, Half};
use crate::codec::{
    decode_audit, decode_device, decode_policy, encode_ip_lock, AuditRow, DeviceRow,
};
use rusqlite::{params, Connection, Row, TransactionBehavior};
use std::collections::BTreeMap;
use tvgate_core::access::device::{Binding, BoundDevice, DeviceAudit, DevicePolicy, NewDevice};
use tvgate_core::ids::{DeviceId, LineId};
use tvgate_core::ports::{StoreError, StoreResult};
use tvgate_core::UnixTime;

const DEVICE_COLUMNS: &str = "id, line_id, kind, identifier, label, serial, device_id, \
                              device_id2, first_seen, last_seen, last_ip";

pub(super) fn load(conn: &mut Connection) -> StoreResult<Vec<(LineId, Binding)>> {
    const CONTEXT: &str = "loading device bindings";
    let tx = conn.transaction().ctx(CONTEXT)?;
    let mut all: BTreeMap<i64, Binding> = BTreeMap::new();
    {
        let mut stmt = tx
            .prepare(
                "SELECT line_id, device_limit, enrolment, ip_lock, last_self_reset
                 FROM device_policies",
            )
            .ctx(CONTEXT)?;
        let mut rows = stmt.query([]).ctx(CONTEXT)?;
        while let Some(row) = rows.next().ctx(CONTEXT)? {
            let line: i64 = row.get(0).ctx(CONTEXT)?;
            let limit: i64 = row.get(1).ctx(CONTEXT)?;
            let enrolment: String = row.get(2).ctx(CONTEXT)?;
            let ip_lock: String = row.get(3).ctx(CONTEXT)?;
            let last_self_reset = row.get(4).ctx(CONTEXT)?;
            all.insert(
                line,
                decode_policy(line, limit, &enrolment, &ip_lock, last_self_reset),
            );
        }
    }
    {
        let mut stmt = tx
            .prepare(&format!(
                "SELECT {DEVICE_COLUMNS} FROM devices ORDER BY line_id, id"
            ))
            .ctx(CONTEXT)?;
        let mut rows = stmt.query([]).ctx(CONTEXT)?;
        while let Some(row) = rows.next().ctx(CONTEXT)? {
            let line: i64 = row.get(1).ctx(CONTEXT)?;
            if let Some(device) = device_from_row(row).ctx(CONTEXT)? {
                all.entry(line).or_default().devices.push(device);
            }
        }
    }
    Ok(all
        .into_iter()
        .map(|(id, binding)| (LineId(id), binding))
        .collect())
}

/// Decodes a device row; `None` (with a warning) for an unknown kind.
fn device_from_row(row: &Row<'_>) -> rusqlite::Result<Option<BoundDevice>> {
    Ok(decode_device(DeviceRow {
        id: row.get(0)?,
        kind: row.get(2)?,
        identifier: row.get(3)?,
        label: row.get(4)?,
        serial: row.get(5)?,
        device_id: row.get(6)?,
        device_id2: row.get(7)?,
        first_seen: row.get(8)?,
        last_seen: row.get(9)?,
        last_ip: row.get(10)?,
    }))
}

fn insert_audit(conn: &Connection, a: &DeviceAudit) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO device_audit (line_id, username, at, actor, action, ip, old_device,
             new_device, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            a.line.0,
            a.username,
            a.at,
            a.actor.as_str(),
            a.action.as_str(),
            a.ip.map(|ip| ip.to_string()),
            a.old_device,
            a.new_device,
            a.detail,
        ])
    })
    .ctx("recording a device audit entry")?;
    Ok(())
}

/// `NotFound` unless the line exists (inside the transaction).
fn require_line(conn: &Connection, line: LineId) -> StoreResult<()> {
    let found: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM lines WHERE id = ?1)",
            [line.0],
            |row| row.get(0),
        )
        .ctx("finding a line")?;
    if found {
        Ok(())
    } else {
        Err(StoreError::NotFound {
            what: "line",
            id: line.to_string(),
        })
    }
}

pub(super) fn set_policy(
    conn: &mut Connection,
    line: LineId,
    policy: DevicePolicy,
    audit: DeviceAudit,
) -> StoreResult<()> {
    const CONTEXT: &str = "setting a line's device policy";
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .ctx(CONTEXT)?;
    require_line(&tx, line)?;
    let ip_lock = encode_ip_lock(&policy.ip_lock);
    tx.execute(
        "INSERT INTO device_policies (line_id, device_limit, enrolment, ip_lock)
         VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (line_id) DO UPDATE SET device_limit = excluded.device_limit,
             enrolment = excluded.enrolment, ip_lock = excluded.ip_lock",
        params![line.0, policy.limit, policy.enrolment.as_str(), ip_lock],
    )
    .ctx(CONTEXT)?;
    insert_audit(&tx, &audit)?;
    bump(&tx, Half::Lines)?;
    tx.commit().ctx(CONTEXT)
}

pub(super) fn add(
    conn: &mut Connection,
    line: LineId,
    d: NewDevice,
    audit: DeviceAudit,
) -> StoreResult<BoundDevice> {
    const CONTEXT: &str = "binding a device";
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .ctx(CONTEXT)?;
    require_line(&tx, line)?;
    let result = tx.execute(
        "INSERT INTO devices (line_id, kind, identifier, label, serial, device_id,
             device_id2, first_seen, last_seen, last_ip)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            line.0,
            d.kind.as_str(),
            &*d.identifier,
            &*d.label,
            d.serial.as_deref(),
            d.device_id.as_deref(),
            d.device_id2.as_deref(),
            d.first_seen,
            d.last_seen,
            d.last_ip.map(|ip| ip.to_string()),
        ],
    );
    match result {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => {
            return Err(StoreError::Conflict {
                what: "device",
                value: format!("{} {}", d.kind, d.identifier),
            })
        }
        Err(e) => return Err(super::backend(CONTEXT, e)),
    }
    let id = DeviceId(tx.last_insert_rowid());
    insert_audit(&tx, &audit)?;
    bump(&tx, Half::Lines)?;
    tx.commit().ctx(CONTEXT)?;
    Ok(BoundDevice {
        id,
        kind: d.kind,
        identifier: d.identifier,
        label: d.label,
        serial: d.serial,
        device_id: d.device_id,
        device_id2: d.device_id2,
        first_seen: d.first_seen,
        last_seen: d.last_seen,
        last_ip: d.last_ip,
    })
}

pub(super) fn remove(
    conn: &mut Connection,
    line: LineId,
    device: Option<DeviceId>,
    self_reset_at: Option<UnixTime>,
    audit: DeviceAudit,
) -> StoreResult<u64> {
    const CONTEXT: &str = "removing devices";
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .ctx(CONTEXT)?;
    require_line(&tx, line)?;
    let removed = match device {
        Some(id) => {
            let n = tx
                .execute(
                    "DELETE FROM devices WHERE id = ?1 AND line_id = ?2",
                    [id.0, line.0],
                )
                .ctx(CONTEXT)?;
            if n == 0 {
                return Err(StoreError::NotFound {
                    what: "device",
                    id: id.to_string(),
                });
            }
            n
        }
        None => tx
            .execute("DELETE FROM devices WHERE line_id = ?1", [line.0])
            .ctx(CONTEXT)?,
    };
    if let Some(at) = self_reset_at {
        tx.execute(
            "INSERT INTO device_policies (line_id, last_self_reset) VALUES (?1, ?2)
             ON CONFLICT (line_id) DO UPDATE SET last_self_reset = excluded.last_self_reset",
            [line.0, at],
        )
        .ctx(CONTEXT)?;
    }
    insert_audit(&tx, &audit)?;
    bump(&tx, Half::Lines)?;
    tx.commit().ctx(CONTEXT)?;
    Ok(removed as u64)
}

pub(super) fn touch(conn: &mut Connection, d: BoundDevice) -> StoreResult<()> {
    conn.prepare_cached(
        "UPDATE devices SET last_seen = ?2, last_ip = ?3,
             serial = COALESCE(serial, ?4), device_id = COALESCE(device_id, ?5),
             device_id2 = COALESCE(device_id2, ?6)
         WHERE id = ?1",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            d.id.0,
            d.last_seen,
            d.last_ip.map(|ip| ip.to_string()),
            d.serial.as_deref(),
            d.device_id.as_deref(),
            d.device_id2.as_deref(),
        ])
    })
    .ctx("recording a device sighting")?;
    Ok(())
}

pub(super) fn record_audit(conn: &mut Connection, audit: DeviceAudit) -> StoreResult<()> {
    insert_audit(conn, &audit)
}

pub(super) fn audit(
    conn: &mut Connection,
    line: Option<LineId>,
    limit: u32,
) -> StoreResult<Vec<DeviceAudit>> {
    const CONTEXT: &str = "reading the device audit log";
    let mut stmt = conn
        .prepare(
            "SELECT line_id, username, at, actor, action, ip, old_device, new_device, detail
             FROM device_audit WHERE ?1 IS NULL OR line_id = ?1
             ORDER BY id DESC LIMIT ?2",
        )
        .ctx(CONTEXT)?;
    let rows = stmt
        .query_map(params![line.map(|a| a.0), limit], |row| {
            Ok(decode_audit(AuditRow {
                line: row.get(0)?,
                username: row.get(1)?,
                at: row.get(2)?,
                actor: row.get(3)?,
                action: row.get(4)?,
                ip: row.get(5)?,
                old_device: row.get(6)?,
                new_device: row.get(7)?,
                detail: row.get(8)?,
            }))
        })
        .ctx(CONTEXT)?;
    rows.collect::<Result<Vec<_>, _>>().ctx(CONTEXT)
}
