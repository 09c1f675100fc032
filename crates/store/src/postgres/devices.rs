//! Device binding on PostgreSQL: each line's policy, its bound devices and
//! the audit log, with SQLite's rules (see its `devices`): a change and
//! its audit entry are one transaction that bumps the lines' stamp; a
//! sighting or a refusal does not bump.

use super::{
    backend, bump, int, is_foreign_key_violation, is_unique_violation, opt_text, text, Context,
    Half,
};
use crate::codec::{
    decode_audit, decode_device, decode_policy, encode_ip_lock, AuditRow, DeviceRow,
};
use deadpool_postgres::{GenericClient, Object};
use std::collections::BTreeMap;
use tokio_postgres::Row;
use tvgate_core::access::device::{Binding, BoundDevice, DeviceAudit, DevicePolicy, NewDevice};
use tvgate_core::ids::{DeviceId, LineId};
use tvgate_core::ports::{StoreError, StoreResult};
use tvgate_core::UnixTime;

const DEVICE_COLUMNS: &str = "id, line_id, kind, identifier, label, serial, device_id, \
                              device_id2, first_seen, last_seen, last_ip";

pub(super) async fn load(c: &mut Object) -> StoreResult<Vec<(LineId, Binding)>> {
    const CONTEXT: &str = "loading device bindings";
    let tx = c
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .ctx(CONTEXT)?;
    let mut all: BTreeMap<i64, Binding> = BTreeMap::new();
    for row in tx
        .query(
            "SELECT line_id, device_limit, enrolment, ip_lock, last_self_reset
             FROM device_policies",
            &[],
        )
        .await
        .ctx(CONTEXT)?
    {
        let line: i64 = row.try_get(0).ctx(CONTEXT)?;
        let limit: i64 = row.try_get(1).ctx(CONTEXT)?;
        let enrolment: String = row.try_get(2).ctx(CONTEXT)?;
        let ip_lock: String = row.try_get(3).ctx(CONTEXT)?;
        let last_self_reset = row.try_get(4).ctx(CONTEXT)?;
        all.insert(
            line,
            decode_policy(line, limit, &enrolment, &ip_lock, last_self_reset),
        );
    }
    for row in tx
        .query(
            &format!("SELECT {DEVICE_COLUMNS} FROM devices ORDER BY line_id, id"),
            &[],
        )
        .await
        .ctx(CONTEXT)?
    {
        let line: i64 = row.try_get(1).ctx(CONTEXT)?;
        if let Some(device) = device_from_row(&row).ctx(CONTEXT)? {
            all.entry(line).or_default().devices.push(device);
        }
    }
    tx.commit().await.ctx(CONTEXT)?;
    Ok(all
        .into_iter()
        .map(|(id, binding)| (LineId(id), binding))
        .collect())
}

fn device_from_row(row: &Row) -> Result<Option<BoundDevice>, tokio_postgres::Error> {
    Ok(decode_device(DeviceRow {
        id: row.try_get(0)?,
        kind: row.try_get(2)?,
        identifier: row.try_get(3)?,
        label: row.try_get(4)?,
        serial: row.try_get(5)?,
        device_id: row.try_get(6)?,
        device_id2: row.try_get(7)?,
        first_seen: row.try_get(8)?,
        last_seen: row.try_get(9)?,
        last_ip: row.try_get(10)?,
    }))
}

pub(super) async fn insert_audit(c: &impl GenericClient, a: &DeviceAudit) -> StoreResult<()> {
    const CONTEXT: &str = "recording a device audit entry";
    let stmt = c
        .prepare_cached(
            "INSERT INTO device_audit (line_id, username, at, actor, action, ip, old_device,
                 new_device, detail)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .await
        .ctx(CONTEXT)?;
    c.execute(
        &stmt,
        &[
            &a.line.0,
            &text(&a.username),
            &a.at,
            &a.actor.as_str(),
            &a.action.as_str(),
            &a.ip.map(|ip| ip.to_string()),
            &opt_text(a.old_device.as_deref()),
            &opt_text(a.new_device.as_deref()),
            &text(&a.detail),
        ],
    )
    .await
    .ctx(CONTEXT)?;
    Ok(())
}

/// `NotFound` unless the line exists; locks it (`FOR KEY SHARE`) so it
/// cannot be deleted before the transaction ends.
async fn require_line(c: &impl GenericClient, line: LineId) -> StoreResult<()> {
    let found = c
        .query_opt(
            "SELECT 1 FROM lines WHERE id = $1 FOR KEY SHARE",
            &[&line.0],
        )
        .await
        .ctx("finding a line")?;
    match found {
        Some(_) => Ok(()),
        None => Err(StoreError::NotFound {
            what: "line",
            id: line.to_string(),
        }),
    }
}

pub(super) async fn set_policy(
    c: &mut Object,
    line: LineId,
    policy: DevicePolicy,
    audit: DeviceAudit,
) -> StoreResult<()> {
    const CONTEXT: &str = "setting a line's device policy";
    let tx = c.transaction().await.ctx(CONTEXT)?;
    require_line(&tx, line).await?;
    tx.execute(
        "INSERT INTO device_policies (line_id, device_limit, enrolment, ip_lock)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (line_id) DO UPDATE SET device_limit = excluded.device_limit,
             enrolment = excluded.enrolment, ip_lock = excluded.ip_lock",
        &[
            &line.0,
            &int(policy.limit),
            &policy.enrolment.as_str(),
            &encode_ip_lock(&policy.ip_lock),
        ],
    )
    .await
    .ctx(CONTEXT)?;
    insert_audit(&tx, &audit).await?;
    bump(&tx, Half::Lines).await?;
    tx.commit().await.ctx(CONTEXT)
}

pub(super) async fn add(
    c: &mut Object,
    line: LineId,
    d: NewDevice,
    audit: DeviceAudit,
) -> StoreResult<BoundDevice> {
    const CONTEXT: &str = "binding a device";
    let tx = c.transaction().await.ctx(CONTEXT)?;
    require_line(&tx, line).await?;
    let result = tx
        .query_one(
            "INSERT INTO devices (line_id, kind, identifier, label, serial, device_id,
                 device_id2, first_seen, last_seen, last_ip)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             RETURNING id",
            &[
                &line.0,
                &d.kind.as_str(),
                &text(&d.identifier),
                &text(&d.label),
                &opt_text(d.serial.as_deref()),
                &opt_text(d.device_id.as_deref()),
                &opt_text(d.device_id2.as_deref()),
                &d.first_seen,
                &d.last_seen,
                &d.last_ip.map(|ip| ip.to_string()),
            ],
        )
        .await;
    let id = match result {
        Ok(row) => DeviceId(row.try_get(0).ctx(CONTEXT)?),
        Err(e) if is_unique_violation(&e) => {
            return Err(StoreError::Conflict {
                what: "device",
                value: format!("{} {}", d.kind, d.identifier),
            })
        }
        Err(e) if is_foreign_key_violation(&e) => {
            return Err(StoreError::NotFound {
                what: "line",
                id: line.to_string(),
            })
        }
        Err(e) => return Err(backend(CONTEXT, &e)),
    };
    insert_audit(&tx, &audit).await?;
    bump(&tx, Half::Lines).await?;
    tx.commit().await.ctx(CONTEXT)?;
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

pub(super) async fn remove(
    c: &mut Object,
    line: LineId,
    device: Option<DeviceId>,
    self_reset_at: Option<UnixTime>,
    audit: DeviceAudit,
) -> StoreResult<u64> {
    const CONTEXT: &str = "removing devices";
    let tx = c.transaction().await.ctx(CONTEXT)?;
    require_line(&tx, line).await?;
    let removed = match device {
        Some(id) => {
            let n = tx
                .execute(
                    "DELETE FROM devices WHERE id = $1 AND line_id = $2",
                    &[&id.0, &line.0],
                )
                .await
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
            .execute("DELETE FROM devices WHERE line_id = $1", &[&line.0])
            .await
            .ctx(CONTEXT)?,
    };
    if let Some(at) = self_reset_at {
        tx.execute(
            "INSERT INTO device_policies (line_id, last_self_reset) VALUES ($1, $2)
             ON CONFLICT (line_id) DO UPDATE SET last_self_reset = excluded.last_self_reset",
            &[&line.0, &at],
        )
        .await
        .ctx(CONTEXT)?;
    }
    insert_audit(&tx, &audit).await?;
    bump(&tx, Half::Lines).await?;
    tx.commit().await.ctx(CONTEXT)?;
    Ok(removed)
}

pub(super) async fn touch(c: &Object, d: BoundDevice) -> StoreResult<()> {
    const CONTEXT: &str = "recording a device sighting";
    let stmt = c
        .prepare_cached(
            "UPDATE devices SET last_seen = $2, last_ip = $3,
                 serial = COALESCE(serial, $4), device_id = COALESCE(device_id, $5),
                 device_id2 = COALESCE(device_id2, $6)
             WHERE id = $1",
        )
        .await
        .ctx(CONTEXT)?;
    c.execute(
        &stmt,
        &[
            &d.id.0,
            &d.last_seen,
            &d.last_ip.map(|ip| ip.to_string()),
            &opt_text(d.serial.as_deref()),
            &opt_text(d.device_id.as_deref()),
            &opt_text(d.device_id2.as_deref()),
        ],
    )
    .await
    .ctx(CONTEXT)?;
    Ok(())
}

pub(super) async fn audit(
    c: &Object,
    line: Option<LineId>,
    limit: u32,
) -> StoreResult<Vec<DeviceAudit>> {
    const CONTEXT: &str = "reading the device audit log";
    let rows = c
        .query(
            "SELECT line_id, username, at, actor, action, ip, old_device, new_device, detail
             FROM device_audit WHERE $1::bigint IS NULL OR line_id = $1
             ORDER BY id DESC LIMIT $2",
            &[&line.map(|a| a.0), &int(limit)],
        )
        .await
        .ctx(CONTEXT)?;
    rows.iter()
        .map(|row| {
            Ok(decode_audit(AuditRow {
                line: row.try_get(0)?,
                username: row.try_get(1)?,
                at: row.try_get(2)?,
                actor: row.try_get(3)?,
                action: row.try_get(4)?,
                ip: row.try_get(5)?,
                old_device: row.try_get(6)?,
                new_device: row.try_get(7)?,
                detail: row.try_get(8)?,
            }))
        })
        .collect::<Result<_, tokio_postgres::Error>>()
        .ctx(CONTEXT)
}
