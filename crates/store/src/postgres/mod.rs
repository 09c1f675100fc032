//! The PostgreSQL store: a small pool of connections, the `Store` trait
//! wired to the per-topic modules, and change notification.
//!
//! tokio-postgres is asynchronous, so nothing here blocks a worker thread.
//! Connections come from a deadpool pool (`store_pool_size`, 16 by
//! default; a node rarely needs more, as logins and lists never touch the
//! database). Prepared statements are cached per connection.
//!
//! Semantics are SQLite's, checked by the same conformance suite: ids that
//! players see come from identity columns that never hand a value out
//! twice; every write is one transaction, durable when the call returns
//! (PostgreSQL's default `synchronous_commit`); a write bumps the `lines`
//! or `catalog` change counter in its own transaction, and a trigger on the
//! counters sends `NOTIFY tvgate_changes`, which PostgreSQL delivers when
//! the transaction commits ([`watch`]). Bulk paths (a playlist's items, a
//! guide's programmes, lines in bulk) go through binary `COPY` into the
//! table or a temporary one, never a round trip per row, and loading the
//! catalog reads everything in one repeatable-read transaction.
//!
//! Concurrency: several nodes and CLI processes write at once. Writes that
//! rewrite a source's catalog (`replace_items`, `replace_guide`,
//! `delete_source`) take one transaction-scoped advisory lock, so two
//! imports run one after the other as they do on SQLite's single writer;
//! a bulk line import locks `lines` against other writers (readers go on).
//!
//! - [`migrate`]: the schema, under an advisory lock (several nodes start
//!   at once).
//! - [`watch`]: the LISTEN side of change notification.
//! - `lines`, `devices`, `refusals`, `sources`, `catalog`, `backups`,
//!   `guide`, `streams`, `admins`, `shared` (sessions, the key fingerprint):
//!   the SQL behind each group
//!   of trait methods.

mod admins;
mod backups;
mod catalog;
mod devices;
mod guide;
mod history;
mod lines;
pub mod migrate;
mod refusals;
mod shared;
mod sources;
mod streams;
#[doc(hidden)]
pub mod testing;
pub mod watch;

use crate::location::redact_store_url;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;
use tokio_postgres::error::SqlState;
use tokio_postgres::NoTls;
use tvgate_core::access::device::{Binding, BoundDevice, DeviceAudit, DevicePolicy, NewDevice};
use tvgate_core::access::refusal::{LoggedRefusal, Refusal, RefusalFilter};
use tvgate_core::access::Line;
use tvgate_core::admin::{Admin, AdminId, ApiToken, NewApiToken};
use tvgate_core::catalog::guide_plan::GuidePlan;
use tvgate_core::catalog::plan::CatalogPlan;
use tvgate_core::catalog::{Catalog, CatalogData, HeldRefresh, Source, XtreamAccount};
use tvgate_core::ids::{DeviceId, LineId, SourceId, StreamId};
use tvgate_core::ports::{
    Change, ChangeStamp, ImportCounts, NewSource, RefreshRecord, SessionFace, SourcePatch, Store,
    StoreError, StoreResult, StoredSession, StreamPage, StreamQuery, UpsertCounts, UpsertFields,
};
use tvgate_core::stats::Sample;
use tvgate_core::timeline::LineEvent;
use tvgate_core::UnixTime;

/// Connections a node keeps at most, unless `store_pool_size` says otherwise.
pub const DEFAULT_POOL_SIZE: usize = 16;

/// How long connecting may take when the URL sets no `connect_timeout`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a call waits for a free connection before failing.
const POOL_WAIT: Duration = Duration::from_secs(30);

/// The PostgreSQL implementation of [`Store`]. Cheap to clone.
#[derive(Clone)]
pub struct PgStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    /// For the listening connection, which lives outside the pool.
    config: tokio_postgres::Config,
    /// The URL as it may be shown (password redacted).
    shown: String,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("url", &self.inner.shown)
            .finish_non_exhaustive()
    }
}

/// Connects to the database `url` names (libpq's URL form), brings its
/// schema up to date and returns the store, with at most `pool_size`
/// connections. Fails with one clear message (the password redacted) when
/// the URL is malformed, the server cannot be reached or refuses the
/// login, or the database was written by a newer tvgate.
pub async fn open_postgres(url: &str, pool_size: usize) -> Result<PgStore, StoreError> {
    let shown = redact_store_url(url);
    let mut config: tokio_postgres::Config = url.parse().map_err(|e| StoreError::Backend {
        context: "reading the PostgreSQL URL",
        message: format!("{shown}: {}", describe(&e)),
    })?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if config.get_application_name().is_none() {
        config.application_name("tvgate");
    }
    let manager = Manager::from_config(
        config.clone(),
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let pool = Pool::builder(manager)
        .max_size(pool_size.max(2))
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(POOL_WAIT))
        .build()
        .map_err(|e| StoreError::Backend {
            context: "creating the PostgreSQL connection pool",
            message: e.to_string(),
        })?;
    // The schema first, on a connection of its own: the migration lock is
    // held by the connection, so it goes with it however the run ends,
    // and never reaches the pool.
    {
        let (mut client, connection) =
            config
                .connect(NoTls)
                .await
                .map_err(|e| StoreError::Backend {
                    context: "connecting to PostgreSQL",
                    message: format!("{shown}: {}", describe(&e)),
                })?;
        let driver = tokio::spawn(connection);
        let migrated = migrate::migrate(&mut client).await;
        drop(client);
        let _ = driver.await;
        migrated?;
    }
    Ok(PgStore {
        inner: Arc::new(Inner {
            pool,
            config,
            shown,
        }),
    })
}

impl PgStore {
    /// The URL as it may be shown (password redacted).
    pub fn shown_url(&self) -> &str {
        &self.inner.shown
    }

    /// A pooled connection.
    async fn client(&self, context: &'static str) -> StoreResult<deadpool_postgres::Object> {
        self.inner
            .pool
            .get()
            .await
            .map_err(|e| StoreError::Backend {
                context,
                message: pool_error(&e),
            })
    }
}

fn pool_error(e: &deadpool_postgres::PoolError) -> String {
    match e {
        deadpool_postgres::PoolError::Backend(e) => describe(e),
        other => other.to_string(),
    }
}

/// What went wrong, in one line: the server's message (and detail) for an
/// error the server sent, tokio-postgres' own words (with their cause)
/// otherwise.
pub(crate) fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => match db.detail() {
            Some(detail) => format!("{}: {detail}", db.message()),
            None => db.message().to_string(),
        },
        None => {
            // tokio-postgres says what it was doing; the cause says why
            // (connection refused, a timeout, which option is malformed).
            let mut text = e.to_string();
            let mut cause = std::error::Error::source(e);
            while let Some(c) = cause {
                text.push_str(": ");
                text.push_str(&c.to_string());
                cause = c.source();
            }
            text
        }
    }
}

/// Attaches what we were doing to a tokio-postgres error.
pub(crate) trait Context<T> {
    fn ctx(self, context: &'static str) -> StoreResult<T>;
}

impl<T> Context<T> for Result<T, tokio_postgres::Error> {
    fn ctx(self, context: &'static str) -> StoreResult<T> {
        self.map_err(|e| backend(context, &e))
    }
}

pub(crate) fn backend(context: &'static str, e: &tokio_postgres::Error) -> StoreError {
    StoreError::Backend {
        context,
        message: describe(e),
    }
}

/// True when `e` is a UNIQUE or PRIMARY KEY violation.
pub(crate) fn is_unique_violation(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

/// True when `e` is a foreign key violation (a row named a line or source
/// another process deleted meanwhile).
pub(crate) fn is_foreign_key_violation(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::FOREIGN_KEY_VIOLATION)
}

/// Which change counter a write bumps.
#[derive(Clone, Copy)]
pub(crate) enum Half {
    Lines,
    Catalog,
}

/// Bumps a change counter; call inside the write's transaction. The
/// trigger on `change_stamps` turns it into a NOTIFY sent at commit.
pub(crate) async fn bump(tx: &deadpool_postgres::Transaction<'_>, half: Half) -> StoreResult<()> {
    let sql = match half {
        Half::Lines => "UPDATE change_stamps SET lines = lines + 1 WHERE id = 1",
        Half::Catalog => "UPDATE change_stamps SET catalog = catalog + 1 WHERE id = 1",
    };
    let stmt = tx.prepare_cached(sql).await.ctx("recording a change")?;
    tx.execute(&stmt, &[]).await.ctx("recording a change")?;
    Ok(())
}

/// The advisory lock (transaction-scoped) that serialises writes to the
/// catalog's structure across nodes: two imports never interleave.
pub(crate) async fn lock_catalog(tx: &deadpool_postgres::Transaction<'_>) -> StoreResult<()> {
    // An arbitrary constant, the same in every tvgate: "tvgc".
    const CATALOG_LOCK: i64 = 0x7476_6763;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&CATALOG_LOCK])
        .await
        .ctx("waiting for another catalog write")?;
    Ok(())
}

/// Text as PostgreSQL can keep it. Its `text` cannot hold NUL (SQLite's
/// can), so a NUL in text from outside (a playlist's name, a username a
/// player sent) is stored as U+FFFD: one such character must never fail a
/// whole write (a refresh, a batch of the denial log).
pub(crate) fn text(s: &str) -> Cow<'_, str> {
    if s.contains('\0') {
        Cow::Owned(s.replace('\0', "\u{FFFD}"))
    } else {
        Cow::Borrowed(s)
    }
}

/// [`text`] of an optional value.
pub(crate) fn opt_text(s: Option<&str>) -> Option<Cow<'_, str>> {
    s.map(text)
}

/// `u32` values as the BIGINT columns keep them.
pub(crate) fn int(n: u32) -> i64 {
    i64::from(n)
}

#[async_trait::async_trait]
impl Store for PgStore {
    async fn insert_admin(
        &self,
        name: String,
        password_hash: String,
        created_at: UnixTime,
    ) -> StoreResult<Admin> {
        let c = self.client("inserting an operator").await?;
        admins::insert(&c, &name, &password_hash, created_at).await
    }

    async fn admin_by_name(&self, name: String) -> StoreResult<Option<Admin>> {
        let c = self.client("reading an operator").await?;
        admins::by_name(&c, &name).await
    }

    async fn admins(&self) -> StoreResult<Vec<Admin>> {
        let c = self.client("listing operators").await?;
        admins::all(&c).await
    }

    async fn set_admin_password(&self, id: AdminId, password_hash: String) -> StoreResult<()> {
        let c = self.client("changing an operator's password").await?;
        admins::set_password(&c, id, &password_hash).await
    }

    async fn insert_api_token(&self, token: NewApiToken) -> StoreResult<ApiToken> {
        let c = self.client("inserting an API token").await?;
        admins::insert_token(&c, token).await
    }

    async fn api_token_by_hash(&self, hash: Vec<u8>) -> StoreResult<Option<ApiToken>> {
        let c = self.client("reading an API token").await?;
        admins::token_by_hash(&c, &hash).await
    }

    async fn api_tokens(&self) -> StoreResult<Vec<ApiToken>> {
        let c = self.client("listing API tokens").await?;
        admins::tokens(&c).await
    }

    async fn revoke_api_token(&self, id: i64, at: UnixTime) -> StoreResult<()> {
        let c = self.client("revoking an API token").await?;
        admins::revoke_token(&c, id, at).await
    }

    async fn load_lines(&self) -> StoreResult<Vec<Line>> {
        let c = self.client("loading lines").await?;
        lines::load(&c).await
    }

    async fn insert_line(&self, line: Line, username_key: String) -> StoreResult<Line> {
        let mut c = self.client("inserting a line").await?;
        lines::insert(&mut c, line, &username_key).await
    }

    async fn update_line(&self, line: &Line, username_key: String) -> StoreResult<()> {
        let mut c = self.client("updating a line").await?;
        lines::update(&mut c, line, &username_key).await
    }

    async fn upsert_lines(
        &self,
        rows: Vec<(Line, String, UpsertFields)>,
    ) -> StoreResult<UpsertCounts> {
        let mut c = self.client("importing lines").await?;
        lines::upsert(&mut c, rows).await
    }

    async fn delete_line(&self, id: LineId) -> StoreResult<()> {
        let mut c = self.client("deleting a line").await?;
        lines::delete(&mut c, id).await
    }

    async fn set_verifier(&self, id: LineId, verifier: Option<Vec<u8>>) -> StoreResult<()> {
        let c = self.client("storing a verifier").await?;
        lines::set_verifier(&c, id, verifier).await
    }

    async fn upgrade_password_hash(
        &self,
        id: LineId,
        hash: String,
        verifier: Vec<u8>,
    ) -> StoreResult<()> {
        let c = self.client("storing an upgraded password hash").await?;
        lines::upgrade_hash(&c, id, &hash, &verifier).await
    }

    async fn set_verifiers(&self, rows: Vec<(LineId, Vec<u8>)>) -> StoreResult<()> {
        let mut c = self.client("storing verifiers").await?;
        lines::set_verifiers(&mut c, rows).await
    }

    async fn change_stamp(&self) -> StoreResult<Option<ChangeStamp>> {
        const CONTEXT: &str = "reading the change stamp";
        let c = self.client(CONTEXT).await?;
        let row = c
            .query_opt("SELECT lines, catalog FROM change_stamps WHERE id = 1", &[])
            .await
            .ctx(CONTEXT)?;
        row.map(|row| {
            Ok(ChangeStamp {
                lines: row.try_get(0).ctx(CONTEXT)?,
                catalog: row.try_get(1).ctx(CONTEXT)?,
            })
        })
        .transpose()
    }

    fn watch(&self) -> Option<futures::stream::BoxStream<'static, Change>> {
        Some(watch::listen(
            self.inner.config.clone(),
            self.inner.shown.clone(),
        ))
    }

    async fn load_bindings(&self) -> StoreResult<Vec<(LineId, Binding)>> {
        let mut c = self.client("loading device bindings").await?;
        devices::load(&mut c).await
    }

    async fn set_device_policy(
        &self,
        line: LineId,
        policy: DevicePolicy,
        audit: DeviceAudit,
    ) -> StoreResult<()> {
        let mut c = self.client("setting a line's device policy").await?;
        devices::set_policy(&mut c, line, policy, audit).await
    }

    async fn add_device(
        &self,
        line: LineId,
        device: NewDevice,
        audit: DeviceAudit,
    ) -> StoreResult<BoundDevice> {
        let mut c = self.client("binding a device").await?;
        devices::add(&mut c, line, device, audit).await
    }

    async fn remove_devices(
        &self,
        line: LineId,
        device: Option<DeviceId>,
        self_reset_at: Option<UnixTime>,
        audit: DeviceAudit,
    ) -> StoreResult<u64> {
        let mut c = self.client("removing devices").await?;
        devices::remove(&mut c, line, device, self_reset_at, audit).await
    }

    async fn touch_device(&self, device: BoundDevice) -> StoreResult<()> {
        let c = self.client("recording a device sighting").await?;
        devices::touch(&c, device).await
    }

    async fn record_device_audit(&self, audit: DeviceAudit) -> StoreResult<()> {
        let c = self.client("recording a device audit entry").await?;
        devices::insert_audit(&c, &audit).await
    }

    async fn device_audit(
        &self,
        line: Option<LineId>,
        limit: u32,
    ) -> StoreResult<Vec<DeviceAudit>> {
        let c = self.client("reading the device audit log").await?;
        devices::audit(&c, line, limit).await
    }

    async fn insert_refusals(&self, rows: Vec<Refusal>) -> StoreResult<()> {
        let mut c = self.client("recording refusals").await?;
        refusals::insert(&mut c, rows).await
    }

    async fn refusals(&self, filter: RefusalFilter) -> StoreResult<Vec<LoggedRefusal>> {
        let c = self.client("reading the denial log").await?;
        refusals::query(&c, filter).await
    }

    async fn prune_refusals(&self, before: UnixTime) -> StoreResult<u64> {
        let c = self.client("pruning the denial log").await?;
        refusals::prune(&c, before).await
    }

    async fn save_samples(&self, node: String, samples: Vec<Sample>) -> StoreResult<()> {
        let c = self.client("recording samples").await?;
        history::save_samples(&c, &node, samples).await
    }

    async fn samples(&self, node: Option<String>, since: UnixTime) -> StoreResult<Vec<Sample>> {
        let c = self.client("reading samples").await?;
        history::samples(&c, node.as_deref(), since).await
    }

    async fn prune_samples(&self, before: UnixTime) -> StoreResult<u64> {
        let c = self.client("pruning samples").await?;
        history::prune_samples(&c, before).await
    }

    async fn insert_line_events(&self, events: Vec<LineEvent>) -> StoreResult<()> {
        let c = self.client("recording lines' timelines").await?;
        history::insert_events(&c, events).await
    }

    async fn line_events(&self, line: LineId, limit: u32) -> StoreResult<Vec<LineEvent>> {
        let c = self.client("reading a line's timeline").await?;
        history::events(&c, line, limit).await
    }

    async fn prune_line_events(&self, before: UnixTime) -> StoreResult<u64> {
        let c = self.client("pruning lines' timelines").await?;
        history::prune_events(&c, before).await
    }

    async fn sources(&self) -> StoreResult<Vec<Source>> {
        let mut c = self.client("loading sources").await?;
        sources::load(&mut c).await
    }

    async fn insert_source(&self, source: NewSource) -> StoreResult<Source> {
        let mut c = self.client("inserting a source").await?;
        sources::insert(&mut c, source).await
    }

    async fn delete_source(&self, id: SourceId) -> StoreResult<()> {
        let mut c = self.client("deleting a source").await?;
        sources::delete(&mut c, id).await
    }

    async fn record_refresh(&self, id: SourceId, record: RefreshRecord) -> StoreResult<()> {
        let mut c = self.client("recording a refresh").await?;
        sources::record_refresh(&mut c, id, record).await
    }

    async fn hold_refresh(&self, id: SourceId, held: HeldRefresh) -> StoreResult<()> {
        let c = self.client("holding a refresh").await?;
        sources::hold_refresh(&c, id, &held).await
    }

    async fn update_source(&self, id: SourceId, patch: SourcePatch) -> StoreResult<()> {
        let mut c = self.client("updating a source").await?;
        sources::update(&mut c, id, patch).await
    }

    async fn set_source_account(
        &self,
        id: SourceId,
        account: Option<XtreamAccount>,
    ) -> StoreResult<()> {
        let mut c = self.client("storing a source's account").await?;
        sources::set_account(&mut c, id, account).await
    }

    async fn set_account_connections(&self, id: SourceId, max: u32) -> StoreResult<()> {
        let mut c = self.client("storing an account's connection cap").await?;
        sources::set_account_connections(&mut c, id, max).await
    }

    async fn set_backups(&self, stream: StreamId, urls: Vec<String>) -> StoreResult<()> {
        let mut c = self.client("setting a channel's backups").await?;
        backups::set(&mut c, stream, urls).await
    }

    async fn streams(&self, query: StreamQuery) -> StoreResult<StreamPage> {
        let mut c = self.client("listing streams").await?;
        streams::list(&mut c, query).await
    }

    async fn set_stream_enabled(&self, stream: StreamId, enabled: bool) -> StoreResult<()> {
        let mut c = self.client("switching a stream").await?;
        streams::set_enabled(&mut c, stream, enabled).await
    }

    async fn replace_items(
        &self,
        source: SourceId,
        plan: CatalogPlan,
        now: UnixTime,
    ) -> StoreResult<ImportCounts> {
        let mut c = self.client("replacing a source's items").await?;
        catalog::replace_items(&mut c, source, &plan, now).await
    }

    async fn replace_guide(&self, source: SourceId, plan: GuidePlan) -> StoreResult<u64> {
        let mut c = self.client("replacing a source's guide").await?;
        guide::replace_guide(&mut c, source, plan).await
    }

    async fn load_catalog(&self) -> StoreResult<CatalogData> {
        let mut c = self.client("loading the catalog").await?;
        catalog::load(&mut c).await
    }

    async fn load_snapshot(&self) -> StoreResult<Catalog> {
        let data = self.load_catalog().await?;
        // Built on the blocking pool: the runtime's workers go on serving
        // while a large catalog is built.
        tokio::task::spawn_blocking(move || Catalog::build(data))
            .await
            .map_err(|e| StoreError::Backend {
                context: "building the catalog",
                message: e.to_string(),
            })
    }

    async fn insert_session(
        &self,
        session: StoredSession,
        now: UnixTime,
        max: u32,
    ) -> StoreResult<()> {
        let mut c = self.client("storing a session").await?;
        shared::insert(&mut c, session, now, max).await
    }

    async fn session(
        &self,
        face: SessionFace,
        id_hash: [u8; 32],
        now: UnixTime,
    ) -> StoreResult<Option<StoredSession>> {
        let c = self.client("reading a session").await?;
        shared::get(&c, face, id_hash, now).await
    }

    async fn delete_session(&self, id_hash: [u8; 32]) -> StoreResult<()> {
        let c = self.client("ending a session").await?;
        shared::delete(&c, id_hash).await
    }

    async fn claim_key_fingerprint(&self, fingerprint: String) -> StoreResult<String> {
        let c = self
            .client("recording the verifier key's fingerprint")
            .await?;
        shared::claim_key_fingerprint(&c, &fingerprint).await
    }
}
