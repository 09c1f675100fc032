//! The SQLite store: connections, pragmas, and the `Store` trait wired to
//! the per-topic modules.
//!
//! rusqlite is synchronous, so every call runs on tokio's blocking pool
//! (`spawn_blocking`) and never stalls the async workers. A file database has
//! one writer connection and one reader connection, each behind a
//! `std::sync::Mutex` (held only inside the blocking task, never across an
//! `.await`). In WAL mode the reader sees the last committed state while a
//! write is in progress, so loading the catalog does not wait for an import
//! and an import does not wait for a load. An in-memory database has a
//! single connection for both.
//!
//! Durability: `journal_mode=WAL` with `synchronous=FULL` syncs the log on
//! every commit, so a write whose call has returned survives `kill -9` and a
//! power cut. `foreign_keys=ON` makes deleting a source cascade to its items
//! and guide channels (its programmes go by rowid range, see `guide`).
//!
//! Change stamps: every write bumps a counter (`lines` or `catalog`)
//! inside the write's own transaction, so a server polling
//! [`Store::change_stamp`] sees exactly the committed changes of other
//! processes. Some writes do not bump: storing one verifier (done on a first
//! login; it is a cache of the password, and bumping would make every first
//! login reload every line), recording a refresh (no item changes), and
//! recording a device sighting or a refusal in the device audit, and the
//! denial log (nothing a decision reads changes). Device binding changes bump `lines`: the
//! bindings are reloaded with the lines.
//!
//! - [`migrate`]: the versioned schema.
//! - `lines`, `devices`, `refusals`, `sources`, `catalog`, `backups`, `guide`,
//!   `streams`, `admins`, `shared` (sessions, the key fingerprint): the SQL
//!   behind each group of trait methods.

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

use rusqlite::{Connection, OpenFlags, OptionalExtension};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tvgate_core::access::device::{Binding, BoundDevice, DeviceAudit, DevicePolicy, NewDevice};
use tvgate_core::access::refusal::{LoggedRefusal, Refusal, RefusalFilter};
use tvgate_core::access::Line;
use tvgate_core::admin::{Admin, AdminId, ApiToken, NewApiToken};
use tvgate_core::catalog::guide_plan::GuidePlan;
use tvgate_core::catalog::plan::CatalogPlan;
use tvgate_core::catalog::{Catalog, CatalogData, HeldRefresh, Source, XtreamAccount};
use tvgate_core::ids::{DeviceId, LineId, SourceId, StreamId};
use tvgate_core::ports::{
    ChangeStamp, ImportCounts, NewSource, RefreshRecord, SessionFace, SourcePatch, Store,
    StoreError, StoreResult, StoredSession, StreamPage, StreamQuery, UpsertCounts, UpsertFields,
};
use tvgate_core::stats::Sample;
use tvgate_core::timeline::LineEvent;
use tvgate_core::UnixTime;

/// How long a statement waits for another process's lock (an admin CLI
/// writing while the server runs) before giving up with "database is locked".
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The SQLite implementation of [`Store`]. Cheap to clone (an `Arc` inside).
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    writer: Mutex<Connection>,
    /// `None` for an in-memory database: the writer serves reads too.
    reader: Option<Mutex<Connection>>,
    /// `None` for an in-memory database.
    path: Option<PathBuf>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

/// Opens (creating if needed) the database file at `path` and brings its
/// schema up to date. The directory must exist.
///
/// Fails with a clear message when the file was written by a newer tvgate
/// (its schema version is unknown here).
pub async fn open_sqlite(path: &Path) -> Result<SqliteStore, StoreError> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || open_file(path))
        .await
        .map_err(|e| join_error("opening the database", e))?
}

/// A fresh, empty database in memory (for tests and demos). Nothing survives
/// the value.
pub fn open_in_memory() -> Result<SqliteStore, StoreError> {
    let mut conn = Connection::open_in_memory().ctx("opening an in-memory database")?;
    configure(&conn, false)?;
    migrate::migrate(&mut conn)?;
    Ok(SqliteStore {
        inner: Arc::new(Inner {
            writer: Mutex::new(conn),
            reader: None,
            path: None,
        }),
    })
}

fn open_file(path: PathBuf) -> Result<SqliteStore, StoreError> {
    create_private(&path)?;
    let mut writer = Connection::open(&path).map_err(|e| StoreError::Backend {
        context: "opening the database",
        message: format!("{}: {e}", path.display()),
    })?;
    configure(&writer, true)?;
    migrate::migrate(&mut writer)?;
    let reader = Connection::open_with_flags(
        &path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| StoreError::Backend {
        context: "opening the database for reading",
        message: format!("{}: {e}", path.display()),
    })?;
    reader
        .busy_timeout(BUSY_TIMEOUT)
        .ctx("configuring the reader connection")?;
    Ok(SqliteStore {
        inner: Arc::new(Inner {
            writer: Mutex::new(writer),
            reader: Some(Mutex::new(reader)),
            path: Some(path),
        }),
    })
}

/// Checks a database file that no server has open (after a crash, before
/// a restart): SQLite's `PRAGMA integrity_check` and `PRAGMA
/// foreign_key_check`. Opening it replays a write-ahead log a killed
/// process left, as the next server's open would. Returns the problems
/// found, one message each; empty when the file is sound.
pub fn check_file(path: &Path) -> StoreResult<Vec<String>> {
    const CONTEXT: &str = "checking the database";
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| StoreError::Backend {
        context: CONTEXT,
        message: format!("{}: {e}", path.display()),
    })?;
    conn.busy_timeout(BUSY_TIMEOUT).ctx(CONTEXT)?;
    let mut problems = Vec::new();
    let mut integrity = conn.prepare("PRAGMA integrity_check").ctx(CONTEXT)?;
    let mut rows = integrity.query([]).ctx(CONTEXT)?;
    while let Some(row) = rows.next().ctx(CONTEXT)? {
        let message: String = row.get(0).ctx(CONTEXT)?;
        if message != "ok" {
            problems.push(message);
        }
    }
    let mut keys = conn.prepare("PRAGMA foreign_key_check").ctx(CONTEXT)?;
    let mut rows = keys.query([]).ctx(CONTEXT)?;
    while let Some(row) = rows.next().ctx(CONTEXT)? {
        let table: String = row.get(0).ctx(CONTEXT)?;
        let parent: String = row.get(2).ctx(CONTEXT)?;
        problems.push(format!("a row of {table} points at a missing {parent}"));
    }
    Ok(problems)
}

/// Creates a missing database file readable by its owner only: it holds
/// password hashes. SQLite gives its `-wal` and `-shm` files the same mode.
/// An existing file keeps the mode the operator gave it.
fn create_private(path: &Path) -> StoreResult<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Backend {
            context: "creating the database file",
            message: format!("{}: {e}", path.display()),
        }),
    }
}

/// Sets the pragmas every writer connection needs.
fn configure(conn: &Connection, file: bool) -> StoreResult<()> {
    const CONTEXT: &str = "configuring the database connection";
    conn.busy_timeout(BUSY_TIMEOUT).ctx(CONTEXT)?;
    if file {
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .ctx(CONTEXT)?;
        if !mode.eq_ignore_ascii_case("wal") {
            // Still durable (rollback journal + FULL sync), only slower and
            // readers block behind writers. Happens on some network file systems.
            tracing::warn!(journal_mode = %mode, "SQLite refused WAL mode; using its rollback journal");
        }
    }
    conn.pragma_update(None, "synchronous", "FULL")
        .ctx(CONTEXT)?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .ctx(CONTEXT)?;
    let fk: i64 = conn
        .pragma_query_value(None, "foreign_keys", |row| row.get(0))
        .ctx(CONTEXT)?;
    if fk != 1 {
        return Err(StoreError::Backend {
            context: CONTEXT,
            message: "this SQLite build does not enforce foreign keys".into(),
        });
    }
    Ok(())
}

impl SqliteStore {
    /// The database file, `None` in memory.
    pub fn path(&self) -> Option<&Path> {
        self.inner.path.as_deref()
    }

    /// Runs `f` with the writer connection on the blocking pool.
    async fn write<T, F>(&self, context: &'static str, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || f(&mut lock(&inner.writer)))
            .await
            .map_err(|e| join_error(context, e))?
    }

    /// Runs `f` with the reader connection (the writer in memory).
    async fn read<T, F>(&self, context: &'static str, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let conn = inner.reader.as_ref().unwrap_or(&inner.writer);
            f(&mut lock(conn))
        })
        .await
        .map_err(|e| join_error(context, e))?
    }
}

/// Takes a connection. A poisoned lock only means a task panicked while
/// holding it; its open transaction was rolled back when it unwound, so the
/// connection is still sound.
fn lock(conn: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn join_error(context: &'static str, e: tokio::task::JoinError) -> StoreError {
    StoreError::Backend {
        context,
        message: format!("the database task failed: {e}"),
    }
}

/// Attaches what we were doing to a rusqlite error.
pub(crate) trait Context<T> {
    fn ctx(self, context: &'static str) -> StoreResult<T>;
}

impl<T> Context<T> for rusqlite::Result<T> {
    fn ctx(self, context: &'static str) -> StoreResult<T> {
        self.map_err(|e| backend(context, e))
    }
}

pub(crate) fn backend(context: &'static str, e: rusqlite::Error) -> StoreError {
    StoreError::Backend {
        context,
        message: e.to_string(),
    }
}

/// True when `e` is a UNIQUE or PRIMARY KEY violation.
pub(crate) fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    )
}

/// Which change counter a write bumps.
#[derive(Clone, Copy)]
pub(crate) enum Half {
    Lines,
    Catalog,
}

/// Bumps a change counter; call inside the write's transaction.
pub(crate) fn bump(conn: &Connection, half: Half) -> StoreResult<()> {
    let sql = match half {
        Half::Lines => "UPDATE change_stamps SET lines = lines + 1",
        Half::Catalog => "UPDATE change_stamps SET catalog = catalog + 1",
    };
    conn.prepare_cached(sql)
        .and_then(|mut stmt| stmt.execute([]))
        .ctx("recording a change")?;
    Ok(())
}

fn read_stamp(conn: &mut Connection) -> StoreResult<Option<ChangeStamp>> {
    conn.query_row(
        "SELECT lines, catalog FROM change_stamps WHERE id = 1",
        [],
        |row| {
            Ok(ChangeStamp {
                lines: row.get(0)?,
                catalog: row.get(1)?,
            })
        },
    )
    .optional()
    .ctx("reading the change stamp")
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    async fn insert_admin(
        &self,
        name: String,
        password_hash: String,
        created_at: UnixTime,
    ) -> StoreResult<Admin> {
        self.write("inserting an operator", move |c| {
            admins::insert(c, &name, &password_hash, created_at)
        })
        .await
    }

    async fn admin_by_name(&self, name: String) -> StoreResult<Option<Admin>> {
        self.read("reading an operator", move |c| admins::by_name(c, &name))
            .await
    }

    async fn admins(&self) -> StoreResult<Vec<Admin>> {
        self.read("listing operators", admins::all).await
    }

    async fn set_admin_password(&self, id: AdminId, password_hash: String) -> StoreResult<()> {
        self.write("changing an operator's password", move |c| {
            admins::set_password(c, id, &password_hash)
        })
        .await
    }

    async fn insert_api_token(&self, token: NewApiToken) -> StoreResult<ApiToken> {
        self.write("inserting an API token", move |c| {
            admins::insert_token(c, token)
        })
        .await
    }

    async fn api_token_by_hash(&self, hash: Vec<u8>) -> StoreResult<Option<ApiToken>> {
        self.read("reading an API token", move |c| {
            admins::token_by_hash(c, &hash)
        })
        .await
    }

    async fn api_tokens(&self) -> StoreResult<Vec<ApiToken>> {
        self.read("listing API tokens", admins::tokens).await
    }

    async fn revoke_api_token(&self, id: i64, at: UnixTime) -> StoreResult<()> {
        self.write("revoking an API token", move |c| {
            admins::revoke_token(c, id, at)
        })
        .await
    }

    async fn load_lines(&self) -> StoreResult<Vec<Line>> {
        self.read("loading lines", lines::load).await
    }

    async fn insert_line(&self, line: Line, username_key: String) -> StoreResult<Line> {
        self.write("inserting a line", move |c| {
            lines::insert(c, line, &username_key)
        })
        .await
    }

    async fn update_line(&self, line: &Line, username_key: String) -> StoreResult<()> {
        let line = line.clone();
        self.write("updating a line", move |c| {
            lines::update(c, &line, &username_key)
        })
        .await
    }

    async fn upsert_lines(
        &self,
        rows: Vec<(Line, String, UpsertFields)>,
    ) -> StoreResult<UpsertCounts> {
        self.write("importing lines", move |c| lines::upsert(c, rows))
            .await
    }

    async fn delete_line(&self, id: LineId) -> StoreResult<()> {
        self.write("deleting a line", move |c| lines::delete(c, id))
            .await
    }

    async fn set_verifier(&self, id: LineId, verifier: Option<Vec<u8>>) -> StoreResult<()> {
        self.write("storing a verifier", move |c| {
            lines::set_verifier(c, id, verifier.as_deref())
        })
        .await
    }

    async fn upgrade_password_hash(
        &self,
        id: LineId,
        hash: String,
        verifier: Vec<u8>,
    ) -> StoreResult<()> {
        self.write("storing an upgraded password hash", move |c| {
            lines::upgrade_hash(c, id, &hash, &verifier)
        })
        .await
    }

    async fn set_verifiers(&self, rows: Vec<(LineId, Vec<u8>)>) -> StoreResult<()> {
        self.write("storing verifiers", move |c| lines::set_verifiers(c, rows))
            .await
    }

    async fn change_stamp(&self) -> StoreResult<Option<ChangeStamp>> {
        self.read("reading the change stamp", read_stamp).await
    }

    async fn load_bindings(&self) -> StoreResult<Vec<(LineId, Binding)>> {
        self.read("loading device bindings", devices::load).await
    }

    async fn set_device_policy(
        &self,
        line: LineId,
        policy: DevicePolicy,
        audit: DeviceAudit,
    ) -> StoreResult<()> {
        self.write("setting a line's device policy", move |c| {
            devices::set_policy(c, line, policy, audit)
        })
        .await
    }

    async fn add_device(
        &self,
        line: LineId,
        device: NewDevice,
        audit: DeviceAudit,
    ) -> StoreResult<BoundDevice> {
        self.write("binding a device", move |c| {
            devices::add(c, line, device, audit)
        })
        .await
    }

    async fn remove_devices(
        &self,
        line: LineId,
        device: Option<DeviceId>,
        self_reset_at: Option<UnixTime>,
        audit: DeviceAudit,
    ) -> StoreResult<u64> {
        self.write("removing devices", move |c| {
            devices::remove(c, line, device, self_reset_at, audit)
        })
        .await
    }

    async fn touch_device(&self, device: BoundDevice) -> StoreResult<()> {
        self.write("recording a device sighting", move |c| {
            devices::touch(c, device)
        })
        .await
    }

    async fn record_device_audit(&self, audit: DeviceAudit) -> StoreResult<()> {
        self.write("recording a device audit entry", move |c| {
            devices::record_audit(c, audit)
        })
        .await
    }

    async fn device_audit(
        &self,
        line: Option<LineId>,
        limit: u32,
    ) -> StoreResult<Vec<DeviceAudit>> {
        self.read("reading the device audit log", move |c| {
            devices::audit(c, line, limit)
        })
        .await
    }

    async fn insert_refusals(&self, rows: Vec<Refusal>) -> StoreResult<()> {
        self.write("recording refusals", move |c| refusals::insert(c, rows))
            .await
    }

    async fn refusals(&self, filter: RefusalFilter) -> StoreResult<Vec<LoggedRefusal>> {
        self.read("reading the denial log", move |c| {
            refusals::query(c, filter)
        })
        .await
    }

    async fn prune_refusals(&self, before: UnixTime) -> StoreResult<u64> {
        self.write("pruning the denial log", move |c| {
            refusals::prune(c, before)
        })
        .await
    }

    async fn save_samples(&self, node: String, samples: Vec<Sample>) -> StoreResult<()> {
        self.write("recording samples", move |c| {
            history::save_samples(c, &node, samples)
        })
        .await
    }

    async fn samples(&self, node: Option<String>, since: UnixTime) -> StoreResult<Vec<Sample>> {
        self.read("reading samples", move |c| {
            history::samples(c, node.as_deref(), since)
        })
        .await
    }

    async fn prune_samples(&self, before: UnixTime) -> StoreResult<u64> {
        self.write("pruning samples", move |c| {
            history::prune_samples(c, before)
        })
        .await
    }

    async fn insert_line_events(&self, events: Vec<LineEvent>) -> StoreResult<()> {
        self.write("recording lines' timelines", move |c| {
            history::insert_events(c, events)
        })
        .await
    }

    async fn line_events(&self, line: LineId, limit: u32) -> StoreResult<Vec<LineEvent>> {
        self.read("reading a line's timeline", move |c| {
            history::events(c, line, limit)
        })
        .await
    }

    async fn prune_line_events(&self, before: UnixTime) -> StoreResult<u64> {
        self.write("pruning lines' timelines", move |c| {
            history::prune_events(c, before)
        })
        .await
    }

    async fn sources(&self) -> StoreResult<Vec<Source>> {
        self.read("loading sources", sources::load).await
    }

    async fn insert_source(&self, source: NewSource) -> StoreResult<Source> {
        self.write("inserting a source", move |c| sources::insert(c, source))
            .await
    }

    async fn delete_source(&self, id: SourceId) -> StoreResult<()> {
        self.write("deleting a source", move |c| sources::delete(c, id))
            .await
    }

    async fn record_refresh(&self, id: SourceId, record: RefreshRecord) -> StoreResult<()> {
        self.write("recording a refresh", move |c| {
            sources::record_refresh(c, id, record)
        })
        .await
    }

    async fn hold_refresh(&self, id: SourceId, held: HeldRefresh) -> StoreResult<()> {
        self.write("holding a refresh", move |c| {
            sources::hold_refresh(c, id, &held)
        })
        .await
    }

    async fn update_source(&self, id: SourceId, patch: SourcePatch) -> StoreResult<()> {
        self.write("updating a source", move |c| sources::update(c, id, patch))
            .await
    }

    async fn set_source_account(
        &self,
        id: SourceId,
        account: Option<XtreamAccount>,
    ) -> StoreResult<()> {
        self.write("storing a source's account", move |c| {
            sources::set_account(c, id, account)
        })
        .await
    }

    async fn set_account_connections(&self, id: SourceId, max: u32) -> StoreResult<()> {
        self.write("storing an account's connection cap", move |c| {
            sources::set_account_connections(c, id, max)
        })
        .await
    }

    async fn set_backups(&self, stream: StreamId, urls: Vec<String>) -> StoreResult<()> {
        self.write("setting a channel's backups", move |c| {
            backups::set(c, stream, urls)
        })
        .await
    }

    async fn streams(&self, query: StreamQuery) -> StoreResult<StreamPage> {
        self.read("listing streams", move |c| streams::list(c, query))
            .await
    }

    async fn set_stream_enabled(&self, stream: StreamId, enabled: bool) -> StoreResult<()> {
        self.write("switching a stream", move |c| {
            streams::set_enabled(c, stream, enabled)
        })
        .await
    }

    async fn replace_items(
        &self,
        source: SourceId,
        plan: CatalogPlan,
        now: UnixTime,
    ) -> StoreResult<ImportCounts> {
        self.write("replacing a source's items", move |c| {
            catalog::replace_items(c, source, &plan, now)
        })
        .await
    }

    async fn replace_guide(&self, source: SourceId, plan: GuidePlan) -> StoreResult<u64> {
        self.write("replacing a source's guide", move |c| {
            guide::replace_guide(c, source, plan)
        })
        .await
    }

    async fn load_catalog(&self) -> StoreResult<CatalogData> {
        self.read("loading the catalog", catalog::load).await
    }

    async fn load_snapshot(&self) -> StoreResult<Catalog> {
        // Read and built on the blocking pool: the runtime's workers go on
        // serving while a large catalog is built.
        self.read("loading the catalog", |c| {
            catalog::load(c).map(Catalog::build)
        })
        .await
    }

    async fn insert_session(
        &self,
        session: StoredSession,
        now: UnixTime,
        max: u32,
    ) -> StoreResult<()> {
        self.write("storing a session", move |c| {
            shared::insert(c, session, now, max)
        })
        .await
    }

    async fn session(
        &self,
        face: SessionFace,
        id_hash: [u8; 32],
        now: UnixTime,
    ) -> StoreResult<Option<StoredSession>> {
        self.read("reading a session", move |c| {
            shared::get(c, face, id_hash, now)
        })
        .await
    }

    async fn delete_session(&self, id_hash: [u8; 32]) -> StoreResult<()> {
        self.write("ending a session", move |c| shared::delete(c, id_hash))
            .await
    }

    async fn claim_key_fingerprint(&self, fingerprint: String) -> StoreResult<String> {
        self.write("recording the verifier key's fingerprint", move |c| {
            shared::claim_key_fingerprint(c, &fingerprint)
        })
        .await
    }
}
