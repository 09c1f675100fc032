//! Subscriber lines on PostgreSQL: load, insert, update, bulk upsert,
//! delete, verifiers. The same rules as SQLite's `lines` (see there); what
//! differs is how a batch is written.
//!
//! A bulk upsert is planned in memory first: the batch's keys are looked
//! up in one query, then each key's rows are folded into one action (a
//! line to create, with the changes of its later rows applied; or an
//! existing line's flagged fields and how many updates it had), so a key
//! repeated in the batch creates the line once and then updates it, as on
//! SQLite. New lines go in by binary COPY; updates by COPY into a
//! temporary table and one `UPDATE … FROM` it. The whole batch is one
//! transaction that locks `lines` against other writers (readers go on),
//! so a key cannot be taken between the lookup and the write.

use super::{backend, bump, int, is_unique_violation, text, Context, Half};
use crate::codec::{decode_line, encode_package, LineRow};
use deadpool_postgres::Object;
use futures::pin_mut;
use std::borrow::Cow;
use std::collections::HashMap;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::Row;
use tvgate_core::access::Line;
use tvgate_core::ids::LineId;
use tvgate_core::ledger::LimitPolicy;
use tvgate_core::ports::{StoreError, StoreResult, UpsertCounts, UpsertFields};

const COLUMNS: &str = "id, username, password_hash, verifier, status, expires_at, is_trial, \
                       max_connections, allowed_formats, created_at, note, package, revision, \
                       limit_policy";

pub(super) async fn load(c: &Object) -> StoreResult<Vec<Line>> {
    const CONTEXT: &str = "loading lines";
    let rows = c
        .query(&format!("SELECT {COLUMNS} FROM lines ORDER BY id"), &[])
        .await
        .ctx(CONTEXT)?;
    rows.iter().map(|row| from_row(row).ctx(CONTEXT)).collect()
}

fn from_row(row: &Row) -> Result<Line, tokio_postgres::Error> {
    Ok(decode_line(LineRow {
        id: row.try_get(0)?,
        username: row.try_get(1)?,
        password_hash: row.try_get(2)?,
        verifier: row.try_get(3)?,
        status: row.try_get(4)?,
        expires_at: row.try_get(5)?,
        is_trial: row.try_get(6)?,
        max_connections: row.try_get(7)?,
        allowed_formats: row.try_get(8)?,
        created_at: row.try_get(9)?,
        note: row.try_get(10)?,
        package: row.try_get(11)?,
        revision: row.try_get(12)?,
        limit_policy: row.try_get(13)?,
    }))
}

fn conflict(key: &str) -> StoreError {
    StoreError::Conflict {
        what: "username",
        value: key.to_string(),
    }
}

fn not_found(id: LineId) -> StoreError {
    StoreError::NotFound {
        what: "line",
        id: id.to_string(),
    }
}

/// The columns a new line is written with, in `NEW_COLUMNS` order.
const NEW_COLUMNS: &str = "username, username_key, password_hash, verifier, status, expires_at, \
                           is_trial, max_connections, allowed_formats, created_at, note, \
                           package, revision, limit_policy";

const NEW_TYPES: &[Type] = &[
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::BYTEA,
    Type::TEXT,
    Type::INT8,
    Type::BOOL,
    Type::INT8,
    Type::INT8,
    Type::INT8,
    Type::TEXT,
    Type::TEXT,
    Type::INT8,
    Type::TEXT,
];

/// A line's values as the `lines` columns take them.
struct Values<'a> {
    username: Cow<'a, str>,
    key: Cow<'a, str>,
    password_hash: &'a str,
    verifier: Option<&'a [u8]>,
    status: &'static str,
    expires_at: Option<i64>,
    is_trial: bool,
    max_connections: i64,
    allowed_formats: i64,
    created_at: i64,
    note: Cow<'a, str>,
    package: Option<String>,
    revision: i64,
    limit_policy: Option<&'static str>,
}

impl<'a> Values<'a> {
    fn of(a: &'a Line, key: &'a str, revision: i64) -> Values<'a> {
        Values {
            username: text(&a.username),
            key: text(key),
            password_hash: &a.password_hash,
            verifier: a.verifier.as_ref().map(|v| &v[..]),
            status: a.status.as_str(),
            expires_at: a.expires_at,
            is_trial: a.is_trial,
            max_connections: int(a.max_connections),
            allowed_formats: i64::from(a.allowed_formats.bits()),
            created_at: a.created_at,
            note: text(&a.note),
            package: encode_package(a.package.as_deref()),
            revision,
            limit_policy: a.limit_policy.map(LimitPolicy::as_str),
        }
    }

    fn params(&self) -> [&(dyn ToSql + Sync); 14] {
        [
            &self.username,
            &self.key,
            &self.password_hash,
            &self.verifier,
            &self.status,
            &self.expires_at,
            &self.is_trial,
            &self.max_connections,
            &self.allowed_formats,
            &self.created_at,
            &self.note,
            &self.package,
            &self.revision,
            &self.limit_policy,
        ]
    }
}

pub(super) async fn insert(c: &mut Object, a: Line, username_key: &str) -> StoreResult<Line> {
    const CONTEXT: &str = "inserting a line";
    let tx = c.transaction().await.ctx(CONTEXT)?;
    let values = Values::of(&a, username_key, 1);
    let result = tx
        .query_one(
            &format!(
                "INSERT INTO lines ({NEW_COLUMNS})
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
                 RETURNING id"
            ),
            &values.params(),
        )
        .await;
    let id = match result {
        Ok(row) => LineId(row.try_get(0).ctx(CONTEXT)?),
        Err(e) if is_unique_violation(&e) => return Err(conflict(username_key)),
        Err(e) => return Err(backend(CONTEXT, &e)),
    };
    bump(&tx, Half::Lines).await?;
    tx.commit().await.ctx(CONTEXT)?;
    Ok(Line {
        id,
        revision: 1,
        ..a
    })
}

/// Writes every field, the revision included (the caller bumped it).
pub(super) async fn update(c: &mut Object, a: &Line, username_key: &str) -> StoreResult<()> {
    const CONTEXT: &str = "updating a line";
    let tx = c.transaction().await.ctx(CONTEXT)?;
    let values = Values::of(a, username_key, a.revision);
    let mut params: Vec<&(dyn ToSql + Sync)> = values.params().to_vec();
    params.push(&a.id.0);
    let result = tx
        .execute(
            "UPDATE lines SET username = $1, username_key = $2, password_hash = $3,
                 verifier = $4, status = $5, expires_at = $6, is_trial = $7,
                 max_connections = $8, allowed_formats = $9, created_at = $10, note = $11,
                 package = $12, revision = $13, limit_policy = $14
             WHERE id = $15",
            &params,
        )
        .await;
    match result {
        Ok(0) => Err(not_found(a.id)),
        Ok(_) => {
            bump(&tx, Half::Lines).await?;
            tx.commit().await.ctx(CONTEXT)
        }
        Err(e) if is_unique_violation(&e) => Err(conflict(username_key)),
        Err(e) => Err(backend(CONTEXT, &e)),
    }
}

/// What a batch does to one key.
enum Action<'a> {
    /// A new line: the row that created it, with the changes of the
    /// batch's later rows for the same key applied.
    Create { line: Line, key: &'a str },
    /// An existing line: the fields some row flagged (the last one wins)
    /// and how many rows updated it.
    Update {
        id: i64,
        line: Line,
        present: UpsertFields,
        updates: i64,
    },
}

/// Applies a later row's flagged fields to `into`.
fn apply(into: &mut Line, from: &Line, present: UpsertFields) {
    if present.password {
        into.password_hash = from.password_hash.clone();
        into.verifier = from.verifier;
    }
    if present.max_connections {
        into.max_connections = from.max_connections;
    }
    if present.expires {
        into.expires_at = from.expires_at;
    }
    if present.status {
        into.status = from.status;
    }
    if present.limit_policy {
        into.limit_policy = from.limit_policy;
    }
    if present.is_trial {
        into.is_trial = from.is_trial;
    }
    if present.note {
        into.note = from.note.clone();
    }
}

/// Flags set in either.
fn union(a: UpsertFields, b: UpsertFields) -> UpsertFields {
    UpsertFields {
        password: a.password || b.password,
        max_connections: a.max_connections || b.max_connections,
        expires: a.expires || b.expires,
        status: a.status || b.status,
        limit_policy: a.limit_policy || b.limit_policy,
        is_trial: a.is_trial || b.is_trial,
        note: a.note || b.note,
        only_new: false,
    }
}

/// One transaction for the whole batch; see the module doc.
pub(super) async fn upsert(
    c: &mut Object,
    rows: Vec<(Line, String, UpsertFields)>,
) -> StoreResult<UpsertCounts> {
    const CONTEXT: &str = "importing lines";
    let tx = c.transaction().await.ctx(CONTEXT)?;
    tx.batch_execute("LOCK TABLE lines IN SHARE ROW EXCLUSIVE MODE")
        .await
        .ctx(CONTEXT)?;
    let keys: Vec<_> = rows.iter().map(|(_, key, _)| text(key)).collect();
    let existing: HashMap<String, i64> = tx
        .query(
            "SELECT username_key, id FROM lines WHERE username_key = ANY($1)",
            &[&keys],
        )
        .await
        .ctx(CONTEXT)?
        .iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
        .collect::<Result<_, tokio_postgres::Error>>()
        .ctx(CONTEXT)?;

    let mut counts = UpsertCounts::default();
    let mut order: Vec<&str> = Vec::new();
    let mut actions: HashMap<&str, Action<'_>> = HashMap::new();
    for (line, key, present) in &rows {
        match actions.get_mut(key.as_str()) {
            Some(Action::Create { line: into, .. }) if !present.only_new => {
                apply(into, line, *present);
                into.revision += 1;
                counts.updated += 1;
            }
            Some(Action::Update {
                line: into,
                present: flags,
                updates,
                ..
            }) if !present.only_new => {
                apply(into, line, *present);
                *flags = union(*flags, *present);
                *updates += 1;
                counts.updated += 1;
            }
            Some(_) => {
                // Dropping the transaction rolls the batch back.
                return Err(StoreError::Conflict {
                    what: "line",
                    value: line.username.to_string(),
                });
            }
            None => match existing.get(key.as_str()) {
                Some(_) if present.only_new => {
                    return Err(StoreError::Conflict {
                        what: "line",
                        value: line.username.to_string(),
                    });
                }
                Some(&id) => {
                    order.push(key);
                    actions.insert(
                        key,
                        Action::Update {
                            id,
                            line: line.clone(),
                            present: union(*present, UpsertFields::default()),
                            updates: 1,
                        },
                    );
                    counts.updated += 1;
                }
                None => {
                    order.push(key);
                    let mut created = line.clone();
                    created.revision = 1;
                    actions.insert(key, Action::Create { line: created, key });
                    counts.created += 1;
                }
            },
        }
    }

    // New lines, in the batch's order (ids follow it).
    if counts.created > 0 {
        let sink = tx
            .copy_in(&format!(
                "COPY lines ({NEW_COLUMNS}) FROM STDIN (FORMAT binary)"
            ))
            .await
            .ctx(CONTEXT)?;
        let writer = BinaryCopyInWriter::new(sink, NEW_TYPES);
        pin_mut!(writer);
        for key in &order {
            if let Some(Action::Create { line, key }) = actions.get(key) {
                let values = Values::of(line, key, line.revision);
                writer.as_mut().write(&values.params()).await.ctx(CONTEXT)?;
            }
        }
        match writer.finish().await {
            Ok(_) => {}
            // Another process took a key the lookup did not see.
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::Conflict {
                    what: "line",
                    value: describe_conflict(&e),
                })
            }
            Err(e) => return Err(backend(CONTEXT, &e)),
        }
    }

    // Existing lines: each field changes only where some row flagged it.
    if actions.values().any(|a| matches!(a, Action::Update { .. })) {
        tx.batch_execute(
            "CREATE TEMPORARY TABLE line_updates (
                 id BIGINT, updates BIGINT,
                 set_password BOOLEAN, password_hash TEXT, verifier BYTEA,
                 set_max BOOLEAN, max_connections BIGINT,
                 set_expires BOOLEAN, expires_at BIGINT,
                 set_status BOOLEAN, status TEXT,
                 set_policy BOOLEAN, limit_policy TEXT,
                 set_trial BOOLEAN, is_trial BOOLEAN,
                 set_note BOOLEAN, note TEXT
             ) ON COMMIT DROP",
        )
        .await
        .ctx(CONTEXT)?;
        let sink = tx
            .copy_in("COPY line_updates FROM STDIN (FORMAT binary)")
            .await
            .ctx(CONTEXT)?;
        let types = [
            Type::INT8,
            Type::INT8,
            Type::BOOL,
            Type::TEXT,
            Type::BYTEA,
            Type::BOOL,
            Type::INT8,
            Type::BOOL,
            Type::INT8,
            Type::BOOL,
            Type::TEXT,
            Type::BOOL,
            Type::TEXT,
            Type::BOOL,
            Type::BOOL,
            Type::BOOL,
            Type::TEXT,
        ];
        let writer = BinaryCopyInWriter::new(sink, &types);
        pin_mut!(writer);
        for key in &order {
            let Some(Action::Update {
                id,
                line,
                present,
                updates,
            }) = actions.get(key)
            else {
                continue;
            };
            let verifier = line.verifier.as_ref().map(|v| &v[..]);
            let max = int(line.max_connections);
            let status = line.status.as_str();
            let policy = line.limit_policy.map(LimitPolicy::as_str);
            let hash: &str = &line.password_hash;
            let note = text(&line.note);
            writer
                .as_mut()
                .write(&[
                    id,
                    updates,
                    &present.password,
                    &hash,
                    &verifier,
                    &present.max_connections,
                    &max,
                    &present.expires,
                    &line.expires_at,
                    &present.status,
                    &status,
                    &present.limit_policy,
                    &policy,
                    &present.is_trial,
                    &line.is_trial,
                    &present.note,
                    &note,
                ])
                .await
                .ctx(CONTEXT)?;
        }
        writer.finish().await.ctx(CONTEXT)?;
        tx.execute(
            "UPDATE lines l SET
                 password_hash   = CASE WHEN u.set_password THEN u.password_hash ELSE l.password_hash END,
                 verifier        = CASE WHEN u.set_password THEN u.verifier ELSE l.verifier END,
                 max_connections = CASE WHEN u.set_max THEN u.max_connections ELSE l.max_connections END,
                 expires_at      = CASE WHEN u.set_expires THEN u.expires_at ELSE l.expires_at END,
                 status          = CASE WHEN u.set_status THEN u.status ELSE l.status END,
                 limit_policy    = CASE WHEN u.set_policy THEN u.limit_policy ELSE l.limit_policy END,
                 is_trial        = CASE WHEN u.set_trial THEN u.is_trial ELSE l.is_trial END,
                 note            = CASE WHEN u.set_note THEN u.note ELSE l.note END,
                 revision        = l.revision + u.updates
             FROM line_updates u WHERE l.id = u.id",
            &[],
        )
        .await
        .ctx(CONTEXT)?;
    }
    bump(&tx, Half::Lines).await?;
    tx.commit().await.ctx(CONTEXT)?;
    Ok(counts)
}

/// The detail of a unique violation (names the key), for a conflict.
fn describe_conflict(e: &tokio_postgres::Error) -> String {
    e.as_db_error()
        .and_then(|db| db.detail())
        .unwrap_or("a username in the batch")
        .to_string()
}

pub(super) async fn delete(c: &mut Object, id: LineId) -> StoreResult<()> {
    const CONTEXT: &str = "deleting a line";
    let tx = c.transaction().await.ctx(CONTEXT)?;
    if tx
        .execute("DELETE FROM lines WHERE id = $1", &[&id.0])
        .await
        .ctx(CONTEXT)?
        == 0
    {
        return Err(not_found(id));
    }
    bump(&tx, Half::Lines).await?;
    tx.commit().await.ctx(CONTEXT)
}

/// A first login's verifier: no revision, no change stamp (see SQLite's).
pub(super) async fn set_verifier(
    c: &Object,
    id: LineId,
    verifier: Option<Vec<u8>>,
) -> StoreResult<()> {
    const CONTEXT: &str = "storing a verifier";
    let stmt = c
        .prepare_cached("UPDATE lines SET verifier = $2 WHERE id = $1")
        .await
        .ctx(CONTEXT)?;
    match c.execute(&stmt, &[&id.0, &verifier]).await.ctx(CONTEXT)? {
        0 => Err(not_found(id)),
        _ => Ok(()),
    }
}

/// A re-hash of the same password, without bumping the change stamp.
pub(super) async fn upgrade_hash(
    c: &Object,
    id: LineId,
    hash: &str,
    verifier: &[u8],
) -> StoreResult<()> {
    const CONTEXT: &str = "storing an upgraded password hash";
    match c
        .execute(
            "UPDATE lines SET password_hash = $2, verifier = $3 WHERE id = $1",
            &[&id.0, &hash, &verifier],
        )
        .await
        .ctx(CONTEXT)?
    {
        0 => Err(not_found(id)),
        _ => Ok(()),
    }
}

/// Many verifiers in one statement, all or none; bumps the stamp (see
/// SQLite's).
pub(super) async fn set_verifiers(c: &mut Object, rows: Vec<(LineId, Vec<u8>)>) -> StoreResult<()> {
    const CONTEXT: &str = "storing verifiers";
    let tx = c.transaction().await.ctx(CONTEXT)?;
    let ids: Vec<i64> = rows.iter().map(|(id, _)| id.0).collect();
    let verifiers: Vec<&[u8]> = rows.iter().map(|(_, v)| &v[..]).collect();
    let found: std::collections::HashSet<i64> = tx
        .query(
            "UPDATE lines l SET verifier = v.verifier
             FROM unnest($1::bigint[], $2::bytea[]) AS v(id, verifier)
             WHERE l.id = v.id RETURNING l.id",
            &[&ids, &verifiers],
        )
        .await
        .ctx(CONTEXT)?
        .iter()
        .map(|row| row.try_get(0))
        .collect::<Result<_, _>>()
        .ctx(CONTEXT)?;
    if let Some(missing) = ids.iter().find(|id| !found.contains(id)) {
        // Dropping the transaction rolls the others back.
        return Err(not_found(LineId(*missing)));
    }
    if !rows.is_empty() {
        bump(&tx, Half::Lines).await?;
    }
    tx.commit().await.ctx(CONTEXT)
}
