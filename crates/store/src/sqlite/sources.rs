//! Sources (playlists and guides) and the outcome of their last refresh.
//!
//! A refresh's diagnostics go to a child table, line number and message
//! apart (migration 0007), capped at [`MAX_DIAGNOSTICS`] rows with messages
//! of at most [`MAX_DIAGNOSTIC_LEN`] bytes, so a hopeless file cannot bloat
//! the database; the full count is kept on the source's row.
//!
//! A source's relay settings (the provider's connection cap, proxy or
//! redirect) and its `enabled` switch are columns of its row; changing them
//! bumps the catalog change stamp, since the server serves streams by them. A stored value this
//! build cannot read loads as proxied (the URL stays hidden) with a cap of
//! one connection, and a warning names the source.
//!
//! Recording a refresh does not bump the catalog change stamp: it changes
//! no item, and the server that refreshed reloads on its own.
//!
//! Deleting a source cascades (foreign keys) to its streams, series, guide
//! channels and diagnostics, deletes its programmes' rowid range, then
//! removes the categories nothing uses any more, unless a line's package
//! names them: a package must never silently lose a category, nor point at
//! an id reused for another one.

use super::{bump, Context, Half};
use crate::codec::{
    check_public_id, count_to_sql, held_from_sql, held_to_sql, truncate, MAX_DIAGNOSTICS,
    MAX_DIAGNOSTIC_LEN,
};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use std::collections::{HashMap, HashSet};
use tvgate_core::catalog::source::effective_cap;
use tvgate_core::catalog::{
    Delivery, HeldRefresh, Source, SourceKind, SourceSettings, XtreamAccount,
};
use tvgate_core::ids::SourceId;
use tvgate_core::ports::{NewSource, RefreshRecord, SourcePatch, StoreError, StoreResult};
use tvgate_formats::Diagnostic;

pub(super) fn not_found(id: SourceId) -> StoreError {
    StoreError::NotFound {
        what: "source",
        id: id.to_string(),
    }
}

/// `NotFound` unless the source exists.
pub(super) fn ensure_exists(conn: &Connection, id: SourceId) -> StoreResult<()> {
    conn.query_row("SELECT 1 FROM sources WHERE id = ?1", [id.0], |_| Ok(()))
        .optional()
        .ctx("looking up a source")?
        .ok_or_else(|| not_found(id))
}

pub(super) fn load(conn: &mut Connection) -> StoreResult<Vec<Source>> {
    const CONTEXT: &str = "loading sources";
    let tx = conn.transaction().ctx(CONTEXT)?;
    let mut diagnostics: HashMap<i64, Vec<Diagnostic>> = HashMap::new();
    {
        let mut stmt = tx
            .prepare(
                "SELECT source_id, line, message FROM source_diagnostics
                 ORDER BY source_id, seq",
            )
            .ctx(CONTEXT)?;
        let mut rows = stmt.query([]).ctx(CONTEXT)?;
        while let Some(row) = rows.next().ctx(CONTEXT)? {
            let id: i64 = row.get(0).ctx(CONTEXT)?;
            let line: i64 = row.get(1).ctx(CONTEXT)?;
            diagnostics.entry(id).or_default().push(Diagnostic {
                line: u64::try_from(line).unwrap_or(0),
                message: row.get(2).ctx(CONTEXT)?,
            });
        }
    }
    let mut sources = Vec::new();
    {
        let mut stmt = tx
            .prepare(
                "SELECT id, kind, location, name, created_at, enabled, last_refresh,
                        item_count, last_error, diagnostic_count, max_connections, delivery,
                        account_username, account_password, account_max_connections, held,
                        user_agent, request_headers
                 FROM sources ORDER BY id",
            )
            .ctx(CONTEXT)?;
        let mut rows = stmt.query([]).ctx(CONTEXT)?;
        while let Some(row) = rows.next().ctx(CONTEXT)? {
            let id: i64 = row.get(0).ctx(CONTEXT)?;
            let kind_text: String = row.get(1).ctx(CONTEXT)?;
            let item_count: i64 = row.get(7).ctx(CONTEXT)?;
            let total: i64 = row.get(9).ctx(CONTEXT)?;
            let (max_connections, delivery) = relay_settings(id, row, 10)?;
            let mut source = Source {
                id: SourceId(id),
                kind: SourceKind::M3u,
                location: row.get(2).ctx(CONTEXT)?,
                name: row.get(3).ctx(CONTEXT)?,
                created_at: row.get(4).ctx(CONTEXT)?,
                last_refresh: row.get(6).ctx(CONTEXT)?,
                item_count: u64::try_from(item_count).unwrap_or(0),
                last_error: row.get(8).ctx(CONTEXT)?,
                diagnostics: diagnostics.remove(&id).unwrap_or_default(),
                diagnostic_count: u64::try_from(total).unwrap_or(0),
                enabled: row.get(5).ctx(CONTEXT)?,
                max_connections,
                delivery,
                account: account(row, 12)?,
                held: row
                    .get::<_, Option<String>>(15)
                    .ctx(CONTEXT)?
                    .map(|text| held_from_sql(id, &text)),
                identity: crate::codec::identity_from_sql(
                    id,
                    row.get(16).ctx(CONTEXT)?,
                    row.get(17).ctx(CONTEXT)?,
                ),
            };
            match SourceKind::parse(&kind_text) {
                Some(kind) => source.kind = kind,
                None => {
                    // Fail closed: never refresh something we cannot name.
                    tracing::warn!(source = id, kind = %kind_text, "stored source has an unknown kind; loaded as disabled");
                    source.enabled = false;
                    source.last_error = Some(format!(
                        "the stored kind {kind_text:?} is unknown (expected m3u, xmltv or xtream)"
                    ));
                }
            }
            sources.push(source);
        }
    }
    tx.commit().ctx(CONTEXT)?;
    Ok(sources)
}

/// The cap and delivery in columns `first` and `first + 1`, read leniently
/// (`codec::relay_settings`).
fn relay_settings(id: i64, row: &rusqlite::Row<'_>, first: usize) -> StoreResult<(u32, Delivery)> {
    const CONTEXT: &str = "loading a source's settings";
    let cap: i64 = row.get(first).ctx(CONTEXT)?;
    let delivery: String = row.get(first + 1).ctx(CONTEXT)?;
    Ok(crate::codec::relay_settings(id, cap, &delivery))
}

/// The account in columns `first` (username), `first + 1` (password) and
/// `first + 2` (the provider's cap); `None` without a username.
fn account(row: &rusqlite::Row<'_>, first: usize) -> StoreResult<Option<XtreamAccount>> {
    const CONTEXT: &str = "loading a source's account";
    let username: Option<String> = row.get(first).ctx(CONTEXT)?;
    let password: Option<String> = row.get(first + 1).ctx(CONTEXT)?;
    let cap: i64 = row.get(first + 2).ctx(CONTEXT)?;
    Ok(username.map(|username| XtreamAccount {
        username,
        password: password.unwrap_or_default(),
        max_connections: u32::try_from(cap).unwrap_or(0),
    }))
}

/// Every source's settings, for the catalog snapshot (inside its read
/// transaction). The cap is the operator's, else the account's.
pub(super) fn load_settings(conn: &Connection) -> StoreResult<Vec<SourceSettings>> {
    const CONTEXT: &str = "loading sources' settings";
    let mut stmt = conn
        .prepare(
            "SELECT id, name, max_connections, delivery, enabled, account_max_connections,
                    user_agent, request_headers
             FROM sources ORDER BY id",
        )
        .ctx(CONTEXT)?;
    let mut rows = stmt.query([]).ctx(CONTEXT)?;
    let mut all = Vec::new();
    while let Some(row) = rows.next().ctx(CONTEXT)? {
        let id: i64 = row.get(0).ctx(CONTEXT)?;
        let name: String = row.get(1).ctx(CONTEXT)?;
        let (max_connections, delivery) = relay_settings(id, row, 2)?;
        let account_cap: i64 = row.get(5).ctx(CONTEXT)?;
        all.push(SourceSettings {
            id: SourceId(id),
            name: name.into(),
            max_connections: effective_cap(
                max_connections,
                u32::try_from(account_cap).unwrap_or(0),
            ),
            delivery,
            enabled: row.get(4).ctx(CONTEXT)?,
            identity: crate::codec::identity_from_sql(
                id,
                row.get(6).ctx(CONTEXT)?,
                row.get(7).ctx(CONTEXT)?,
            ),
        });
    }
    Ok(all)
}

pub(super) fn update(conn: &mut Connection, id: SourceId, patch: SourcePatch) -> StoreResult<()> {
    const CONTEXT: &str = "updating a source";
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .ctx(CONTEXT)?;
    let changed = tx
        .execute(
            "UPDATE sources SET
                 max_connections = COALESCE(?2, max_connections),
                 delivery        = COALESCE(?3, delivery),
                 enabled         = COALESCE(?4, enabled),
                 user_agent      = CASE WHEN ?5 THEN ?6 ELSE user_agent END,
                 request_headers = CASE WHEN ?7 THEN ?8 ELSE request_headers END
             WHERE id = ?1",
            params![
                id.0,
                patch.max_connections,
                patch.delivery.map(Delivery::as_str),
                patch.enabled,
                patch.user_agent.is_some(),
                patch.user_agent.clone().flatten(),
                patch.headers.is_some(),
                patch
                    .headers
                    .as_deref()
                    .and_then(crate::codec::headers_to_sql),
            ],
        )
        .ctx(CONTEXT)?;
    if changed == 0 {
        return Err(not_found(id));
    }
    bump(&tx, Half::Catalog)?;
    tx.commit().ctx(CONTEXT)
}

pub(super) fn insert(conn: &mut Connection, s: NewSource) -> StoreResult<Source> {
    const CONTEXT: &str = "inserting a source";
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .ctx(CONTEXT)?;
    tx.execute(
        "INSERT INTO sources (kind, location, name, created_at, max_connections, delivery)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            s.kind.as_str(),
            s.location,
            s.name,
            s.created_at,
            s.max_connections,
            s.delivery.as_str()
        ],
    )
    .ctx(CONTEXT)?;
    // Programme rowids are carved from the source id (see the migration).
    let id = SourceId(check_public_id(tx.last_insert_rowid(), "source")?);
    bump(&tx, Half::Catalog)?;
    tx.commit().ctx(CONTEXT)?;
    Ok(Source {
        id,
        kind: s.kind,
        location: s.location,
        name: s.name,
        created_at: s.created_at,
        last_refresh: None,
        item_count: 0,
        last_error: None,
        diagnostics: Vec::new(),
        diagnostic_count: 0,
        enabled: true,
        max_connections: s.max_connections,
        delivery: s.delivery,
        account: None,
        held: None,
        identity: Default::default(),
    })
}

pub(super) fn set_account(
    conn: &mut Connection,
    id: SourceId,
    account: Option<XtreamAccount>,
) -> StoreResult<()> {
    const CONTEXT: &str = "storing a source's account";
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .ctx(CONTEXT)?;
    let (username, password, cap) = match &account {
        Some(a) => (Some(&a.username), Some(&a.password), a.max_connections),
        None => (None, None, 0),
    };
    let changed = tx
        .execute(
            "UPDATE sources SET account_username = ?2, account_password = ?3,
                 account_max_connections = ?4
             WHERE id = ?1",
            params![id.0, username, password, cap],
        )
        .ctx(CONTEXT)?;
    if changed == 0 {
        return Err(not_found(id));
    }
    bump(&tx, Half::Catalog)?;
    tx.commit().ctx(CONTEXT)
}

pub(super) fn set_account_connections(
    conn: &mut Connection,
    id: SourceId,
    max: u32,
) -> StoreResult<()> {
    const CONTEXT: &str = "storing an account's connection cap";
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .ctx(CONTEXT)?;
    ensure_exists(&tx, id)?;
    let changed = tx
        .execute(
            "UPDATE sources SET account_max_connections = ?2
             WHERE id = ?1 AND account_username IS NOT NULL AND account_max_connections != ?2",
            params![id.0, max],
        )
        .ctx(CONTEXT)?;
    if changed > 0 {
        bump(&tx, Half::Catalog)?;
    }
    tx.commit().ctx(CONTEXT)
}

pub(super) fn record_refresh(
    conn: &mut Connection,
    id: SourceId,
    r: RefreshRecord,
) -> StoreResult<()> {
    const CONTEXT: &str = "recording a refresh";
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .ctx(CONTEXT)?;
    let changed = tx
        .execute(
            "UPDATE sources SET last_refresh = ?2, item_count = ?3, last_error = ?4,
                 diagnostic_count = ?5, held = NULL
             WHERE id = ?1",
            params![
                id.0,
                r.at,
                count_to_sql(r.item_count),
                r.error,
                count_to_sql(r.diagnostics.len() as u64),
            ],
        )
        .ctx(CONTEXT)?;
    if changed == 0 {
        return Err(not_found(id));
    }
    tx.execute(
        "DELETE FROM source_diagnostics WHERE source_id = ?1",
        [id.0],
    )
    .ctx(CONTEXT)?;
    {
        let mut add = tx
            .prepare(
                "INSERT INTO source_diagnostics (source_id, seq, line, message)
                 VALUES (?1, ?2, ?3, ?4)",
            )
            .ctx(CONTEXT)?;
        for (seq, d) in r.diagnostics.iter().take(MAX_DIAGNOSTICS).enumerate() {
            add.execute(params![
                id.0,
                seq as i64,
                count_to_sql(d.line),
                truncate(&d.message, MAX_DIAGNOSTIC_LEN)
            ])
            .ctx(CONTEXT)?;
        }
    }
    tx.commit().ctx(CONTEXT)
}

pub(super) fn hold_refresh(
    conn: &mut Connection,
    id: SourceId,
    held: &HeldRefresh,
) -> StoreResult<()> {
    let changed = conn
        .execute(
            "UPDATE sources SET held = ?2, last_refresh = ?3 WHERE id = ?1",
            params![id.0, held_to_sql(held), held.at],
        )
        .ctx("holding a refresh")?;
    if changed == 0 {
        return Err(not_found(id));
    }
    Ok(())
}

pub(super) fn delete(conn: &mut Connection, id: SourceId) -> StoreResult<()> {
    const CONTEXT: &str = "deleting a source";
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .ctx(CONTEXT)?;
    // Foreign keys cascade to streams, series, guide channels and
    // diagnostics; programmes have none (see the migration).
    super::guide::delete_programmes(&tx, id)?;
    if tx
        .execute("DELETE FROM sources WHERE id = ?1", [id.0])
        .ctx(CONTEXT)?
        == 0
    {
        return Err(not_found(id));
    }
    delete_unused_categories(&tx)?;
    bump(&tx, Half::Catalog)?;
    tx.commit().ctx(CONTEXT)
}

/// Removes categories no stream or series uses and no package names.
fn delete_unused_categories(conn: &Connection) -> StoreResult<()> {
    const CONTEXT: &str = "removing unused categories";
    let mut named: HashSet<i64> = HashSet::new();
    {
        let mut stmt = conn
            .prepare("SELECT package FROM lines WHERE package IS NOT NULL AND package != ''")
            .ctx(CONTEXT)?;
        let mut rows = stmt.query([]).ctx(CONTEXT)?;
        while let Some(row) = rows.next().ctx(CONTEXT)? {
            let text: String = row.get(0).ctx(CONTEXT)?;
            named.extend(text.split(',').filter_map(|p| p.trim().parse::<i64>().ok()));
        }
    }
    let unused: Vec<i64> = {
        let mut stmt = conn
            .prepare(
                "SELECT id FROM categories c
                 WHERE NOT EXISTS (SELECT 1 FROM streams s WHERE s.category_id = c.id)
                   AND NOT EXISTS (SELECT 1 FROM series s WHERE s.category_id = c.id)",
            )
            .ctx(CONTEXT)?;
        let rows = stmt.query_map([], |row| row.get(0)).ctx(CONTEXT)?;
        rows.collect::<Result<_, _>>().ctx(CONTEXT)?
    };
    let mut delete = conn
        .prepare("DELETE FROM categories WHERE id = ?1")
        .ctx(CONTEXT)?;
    for id in unused.into_iter().filter(|id| !named.contains(id)) {
        delete.execute([id]).ctx(CONTEXT)?;
    }
    Ok(())
}
