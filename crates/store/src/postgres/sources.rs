//! Sources and the outcome of their last refresh on PostgreSQL, with
//! SQLite's rules (see its `sources`): diagnostics capped at
//! [`MAX_DIAGNOSTICS`] rows of at most [`MAX_DIAGNOSTIC_LEN`] bytes with
//! the full count kept, settings changes bump the catalog stamp, a
//! refresh's record does not, and deleting a source takes its items,
//! series, guide and diagnostics with it (foreign keys), its programmes
//! (explicitly), and the categories nothing uses and no package names.

use super::{bump, int, lock_catalog, opt_text, text, Context, Half};
use crate::codec::{
    check_public_id, count_to_sql, held_from_sql, held_to_sql, relay_settings, truncate,
    MAX_DIAGNOSTICS, MAX_DIAGNOSTIC_LEN,
};
use deadpool_postgres::{GenericClient, Object};
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

/// `NotFound` unless the source exists; locks its row against deletion
/// until the transaction ends.
pub(super) async fn ensure_exists(c: &impl GenericClient, id: SourceId) -> StoreResult<()> {
    c.query_opt(
        "SELECT 1 FROM sources WHERE id = $1 FOR KEY SHARE",
        &[&id.0],
    )
    .await
    .ctx("looking up a source")?
    .map(|_| ())
    .ok_or_else(|| not_found(id))
}

pub(super) async fn load(c: &mut Object) -> StoreResult<Vec<Source>> {
    const CONTEXT: &str = "loading sources";
    let tx = c
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .ctx(CONTEXT)?;
    let mut diagnostics: HashMap<i64, Vec<Diagnostic>> = HashMap::new();
    for row in tx
        .query(
            "SELECT source_id, line, message FROM source_diagnostics ORDER BY source_id, seq",
            &[],
        )
        .await
        .ctx(CONTEXT)?
    {
        let id: i64 = row.try_get(0).ctx(CONTEXT)?;
        let line: i64 = row.try_get(1).ctx(CONTEXT)?;
        diagnostics.entry(id).or_default().push(Diagnostic {
            line: u64::try_from(line).unwrap_or(0),
            message: row.try_get(2).ctx(CONTEXT)?,
        });
    }
    let mut sources = Vec::new();
    for row in tx
        .query(
            "SELECT id, kind, location, name, created_at, enabled, last_refresh,
                    item_count, last_error, diagnostic_count, max_connections, delivery,
                    account_username, account_password, account_max_connections, held,
                    user_agent, request_headers
             FROM sources ORDER BY id",
            &[],
        )
        .await
        .ctx(CONTEXT)?
    {
        let id: i64 = row.try_get(0).ctx(CONTEXT)?;
        let kind_text: String = row.try_get(1).ctx(CONTEXT)?;
        let item_count: i64 = row.try_get(7).ctx(CONTEXT)?;
        let total: i64 = row.try_get(9).ctx(CONTEXT)?;
        let cap: i64 = row.try_get(10).ctx(CONTEXT)?;
        let delivery: String = row.try_get(11).ctx(CONTEXT)?;
        let (max_connections, delivery) = relay_settings(id, cap, &delivery);
        let username: Option<String> = row.try_get(12).ctx(CONTEXT)?;
        let password: Option<String> = row.try_get(13).ctx(CONTEXT)?;
        let account_cap: i64 = row.try_get(14).ctx(CONTEXT)?;
        let account = username.map(|username| XtreamAccount {
            username,
            password: password.unwrap_or_default(),
            max_connections: u32::try_from(account_cap).unwrap_or(0),
        });
        let mut source = Source {
            id: SourceId(id),
            kind: SourceKind::M3u,
            location: row.try_get(2).ctx(CONTEXT)?,
            name: row.try_get(3).ctx(CONTEXT)?,
            created_at: row.try_get(4).ctx(CONTEXT)?,
            last_refresh: row.try_get(6).ctx(CONTEXT)?,
            item_count: u64::try_from(item_count).unwrap_or(0),
            last_error: row.try_get(8).ctx(CONTEXT)?,
            diagnostics: diagnostics.remove(&id).unwrap_or_default(),
            diagnostic_count: u64::try_from(total).unwrap_or(0),
            enabled: row.try_get(5).ctx(CONTEXT)?,
            max_connections,
            delivery,
            account,
            held: row
                .try_get::<_, Option<String>>(15)
                .ctx(CONTEXT)?
                .map(|text| held_from_sql(id, &text)),
            identity: crate::codec::identity_from_sql(
                id,
                row.try_get(16).ctx(CONTEXT)?,
                row.try_get(17).ctx(CONTEXT)?,
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
    tx.commit().await.ctx(CONTEXT)?;
    Ok(sources)
}

/// Every source's settings, for the catalog snapshot (inside its read
/// transaction).
pub(super) async fn load_settings(c: &impl GenericClient) -> StoreResult<Vec<SourceSettings>> {
    const CONTEXT: &str = "loading sources' settings";
    let rows = c
        .query(
            "SELECT id, name, max_connections, delivery, enabled, account_max_connections,
                    user_agent, request_headers
             FROM sources ORDER BY id",
            &[],
        )
        .await
        .ctx(CONTEXT)?;
    let mut all = Vec::with_capacity(rows.len());
    for row in rows {
        let id: i64 = row.try_get(0).ctx(CONTEXT)?;
        let name: String = row.try_get(1).ctx(CONTEXT)?;
        let cap: i64 = row.try_get(2).ctx(CONTEXT)?;
        let delivery: String = row.try_get(3).ctx(CONTEXT)?;
        let (max_connections, delivery) = relay_settings(id, cap, &delivery);
        let account_cap: i64 = row.try_get(5).ctx(CONTEXT)?;
        all.push(SourceSettings {
            id: SourceId(id),
            name: name.into(),
            max_connections: effective_cap(
                max_connections,
                u32::try_from(account_cap).unwrap_or(0),
            ),
            delivery,
            enabled: row.try_get(4).ctx(CONTEXT)?,
            identity: crate::codec::identity_from_sql(
                id,
                row.try_get(6).ctx(CONTEXT)?,
                row.try_get(7).ctx(CONTEXT)?,
            ),
        });
    }
    Ok(all)
}

pub(super) async fn update(c: &mut Object, id: SourceId, patch: SourcePatch) -> StoreResult<()> {
    const CONTEXT: &str = "updating a source";
    let tx = c.transaction().await.ctx(CONTEXT)?;
    let changed = tx
        .execute(
            "UPDATE sources SET
                 max_connections = COALESCE($2, max_connections),
                 delivery        = COALESCE($3, delivery),
                 enabled         = COALESCE($4, enabled),
                 user_agent      = CASE WHEN $5 THEN $6 ELSE user_agent END,
                 request_headers = CASE WHEN $7 THEN $8 ELSE request_headers END
             WHERE id = $1",
            &[
                &id.0,
                &patch.max_connections.map(int),
                &patch.delivery.map(Delivery::as_str),
                &patch.enabled,
                &patch.user_agent.is_some(),
                &patch.user_agent.clone().flatten(),
                &patch.headers.is_some(),
                &patch
                    .headers
                    .as_deref()
                    .and_then(crate::codec::headers_to_sql),
            ],
        )
        .await
        .ctx(CONTEXT)?;
    if changed == 0 {
        return Err(not_found(id));
    }
    bump(&tx, Half::Catalog).await?;
    tx.commit().await.ctx(CONTEXT)
}

pub(super) async fn insert(c: &mut Object, s: NewSource) -> StoreResult<Source> {
    const CONTEXT: &str = "inserting a source";
    let tx = c.transaction().await.ctx(CONTEXT)?;
    let row = tx
        .query_one(
            "INSERT INTO sources (kind, location, name, created_at, max_connections, delivery)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            &[
                &s.kind.as_str(),
                &text(&s.location),
                &text(&s.name),
                &s.created_at,
                &int(s.max_connections),
                &s.delivery.as_str(),
            ],
        )
        .await
        .ctx(CONTEXT)?;
    let id = SourceId(check_public_id(row.try_get(0).ctx(CONTEXT)?, "source")?);
    bump(&tx, Half::Catalog).await?;
    tx.commit().await.ctx(CONTEXT)?;
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

pub(super) async fn set_account(
    c: &mut Object,
    id: SourceId,
    account: Option<XtreamAccount>,
) -> StoreResult<()> {
    const CONTEXT: &str = "storing a source's account";
    let tx = c.transaction().await.ctx(CONTEXT)?;
    let (username, password, cap) = match &account {
        Some(a) => (
            Some(text(&a.username)),
            Some(text(&a.password)),
            a.max_connections,
        ),
        None => (None, None, 0),
    };
    let changed = tx
        .execute(
            "UPDATE sources SET account_username = $2, account_password = $3,
                 account_max_connections = $4
             WHERE id = $1",
            &[&id.0, &username, &password, &int(cap)],
        )
        .await
        .ctx(CONTEXT)?;
    if changed == 0 {
        return Err(not_found(id));
    }
    bump(&tx, Half::Catalog).await?;
    tx.commit().await.ctx(CONTEXT)
}

pub(super) async fn set_account_connections(
    c: &mut Object,
    id: SourceId,
    max: u32,
) -> StoreResult<()> {
    const CONTEXT: &str = "storing an account's connection cap";
    let tx = c.transaction().await.ctx(CONTEXT)?;
    ensure_exists(&tx, id).await?;
    let changed = tx
        .execute(
            "UPDATE sources SET account_max_connections = $2
             WHERE id = $1 AND account_username IS NOT NULL AND account_max_connections <> $2",
            &[&id.0, &int(max)],
        )
        .await
        .ctx(CONTEXT)?;
    if changed > 0 {
        bump(&tx, Half::Catalog).await?;
    }
    tx.commit().await.ctx(CONTEXT)
}

pub(super) async fn hold_refresh(
    c: &impl GenericClient,
    id: SourceId,
    held: &HeldRefresh,
) -> StoreResult<()> {
    let changed = c
        .execute(
            "UPDATE sources SET held = $2, last_refresh = $3 WHERE id = $1",
            &[&id.0, &text(&held_to_sql(held)), &held.at],
        )
        .await
        .ctx("holding a refresh")?;
    if changed == 0 {
        return Err(not_found(id));
    }
    Ok(())
}

pub(super) async fn record_refresh(
    c: &mut Object,
    id: SourceId,
    r: RefreshRecord,
) -> StoreResult<()> {
    const CONTEXT: &str = "recording a refresh";
    let tx = c.transaction().await.ctx(CONTEXT)?;
    let changed = tx
        .execute(
            "UPDATE sources SET last_refresh = $2, item_count = $3, last_error = $4,
                 diagnostic_count = $5, held = NULL
             WHERE id = $1",
            &[
                &id.0,
                &r.at,
                &count_to_sql(r.item_count),
                &opt_text(r.error.as_deref()),
                &count_to_sql(r.diagnostics.len() as u64),
            ],
        )
        .await
        .ctx(CONTEXT)?;
    if changed == 0 {
        return Err(not_found(id));
    }
    tx.execute(
        "DELETE FROM source_diagnostics WHERE source_id = $1",
        &[&id.0],
    )
    .await
    .ctx(CONTEXT)?;
    let kept = &r.diagnostics[..r.diagnostics.len().min(MAX_DIAGNOSTICS)];
    let lines: Vec<i64> = kept.iter().map(|d| count_to_sql(d.line)).collect();
    let messages: Vec<_> = kept
        .iter()
        .map(|d| text(truncate(&d.message, MAX_DIAGNOSTIC_LEN)))
        .collect();
    tx.execute(
        "INSERT INTO source_diagnostics (source_id, seq, line, message)
         SELECT $1, n - 1, line, message
         FROM unnest($2::bigint[], $3::text[]) WITH ORDINALITY AS d(line, message, n)",
        &[&id.0, &lines, &messages],
    )
    .await
    .ctx(CONTEXT)?;
    tx.commit().await.ctx(CONTEXT)
}

pub(super) async fn delete(c: &mut Object, id: SourceId) -> StoreResult<()> {
    const CONTEXT: &str = "deleting a source";
    let tx = c.transaction().await.ctx(CONTEXT)?;
    lock_catalog(&tx).await?;
    // Foreign keys cascade to streams, series, guide channels and
    // diagnostics; programmes have none (see the migration).
    tx.execute("DELETE FROM programmes WHERE source_id = $1", &[&id.0])
        .await
        .ctx(CONTEXT)?;
    if tx
        .execute("DELETE FROM sources WHERE id = $1", &[&id.0])
        .await
        .ctx(CONTEXT)?
        == 0
    {
        return Err(not_found(id));
    }
    delete_unused_categories(&tx).await?;
    bump(&tx, Half::Catalog).await?;
    tx.commit().await.ctx(CONTEXT)
}

/// Removes categories no stream or series uses and no package names.
async fn delete_unused_categories(c: &impl GenericClient) -> StoreResult<()> {
    const CONTEXT: &str = "removing unused categories";
    let mut named: HashSet<i64> = HashSet::new();
    for row in c
        .query(
            "SELECT package FROM lines WHERE package IS NOT NULL AND package != ''",
            &[],
        )
        .await
        .ctx(CONTEXT)?
    {
        let text: String = row.try_get(0).ctx(CONTEXT)?;
        named.extend(text.split(',').filter_map(|p| p.trim().parse::<i64>().ok()));
    }
    let named: Vec<i64> = named.into_iter().collect();
    c.execute(
        "DELETE FROM categories c
         WHERE NOT EXISTS (SELECT 1 FROM streams s WHERE s.category_id = c.id)
           AND NOT EXISTS (SELECT 1 FROM series s WHERE s.category_id = c.id)
           AND c.id <> ALL($1)",
        &[&named],
    )
    .await
    .ctx(CONTEXT)?;
    Ok(())
}
