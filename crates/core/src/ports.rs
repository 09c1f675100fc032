//! The ports: what the domain needs from the outside, as traits the adapters
//! (`tvgate-store`, the binary) implement. `Arc<dyn Store>` travels in the
//! application state; async methods go through `async-trait` so the traits
//! stay dyn-compatible.

use crate::access::device::{Binding, BoundDevice, DeviceAudit, DevicePolicy, NewDevice};
use crate::access::refusal::{LoggedRefusal, Refusal, RefusalFilter};
use crate::access::Line;
use crate::admin::{Admin, AdminId, ApiToken, NewApiToken};
use crate::catalog::guide_plan::GuidePlan;
use crate::catalog::plan::CatalogPlan;
use crate::catalog::{
    Catalog, CatalogData, Delivery, HeldRefresh, Source, SourceKind, XtreamAccount,
};
use crate::ids::{DeviceId, LineId, SourceId, StreamId};
use crate::stats::Sample;
use crate::timeline::LineEvent;
use crate::UnixTime;
use futures_core::stream::BoxStream;
use tvgate_formats::Diagnostic;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A row the caller named does not exist.
    #[error("{what} {id} not found")]
    NotFound { what: &'static str, id: String },
    /// A unique value (a username) is taken.
    #[error("{what} {value:?} already exists")]
    Conflict { what: &'static str, value: String },
    /// The database failed; the message names the operation.
    #[error("database error while {context}: {message}")]
    Backend {
        context: &'static str,
        message: String,
    },
}

pub type StoreResult<T> = Result<T, StoreError>;

/// What a bulk upsert did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UpsertCounts {
    pub created: u64,
    pub updated: u64,
}

/// What replacing a source's items did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportCounts {
    pub live: u64,
    pub movies: u64,
    pub episodes: u64,
    pub series: u64,
    pub removed: u64,
}

/// A new source to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSource {
    pub kind: SourceKind,
    pub location: String,
    pub name: String,
    pub created_at: UnixTime,
    /// The provider's cap on simultaneous connections (0: unlimited).
    pub max_connections: u32,
    pub delivery: Delivery,
}

/// A change to a source's settings; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourcePatch {
    pub max_connections: Option<u32>,
    pub delivery: Option<Delivery>,
    /// A disabled source keeps its items in the store, but players see none
    /// of them (the catalog snapshot leaves them out).
    pub enabled: Option<bool>,
    /// `Some(None)`: back to tvgate's own user agent.
    pub user_agent: Option<Option<String>>,
    /// Replaces every extra header (`Some(vec![])`: none).
    pub headers: Option<Vec<crate::catalog::UpstreamHeader>>,
}

impl SourcePatch {
    pub fn is_empty(&self) -> bool {
        self.max_connections.is_none()
            && self.delivery.is_none()
            && self.enabled.is_none()
            && self.user_agent.is_none()
            && self.headers.is_none()
    }
}

/// Which stored streams an operator asks for (disabled ones included).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamQuery {
    /// Only this stream.
    pub stream: Option<StreamId>,
    pub source: Option<SourceId>,
    /// Case-insensitive part of the name; empty: every stream.
    pub search: String,
    /// Only enabled (`Some(true)`) or only disabled (`Some(false)`) ones.
    pub enabled: Option<bool>,
    pub offset: u32,
    pub limit: u32,
}

/// A stored stream as the operator sees it (not what players see: disabled
/// streams are here too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamRow {
    pub id: StreamId,
    pub source: SourceId,
    /// `live`, `movie` or `episode`.
    pub kind: String,
    pub name: String,
    /// The category's name, if it has one.
    pub category: Option<String>,
    pub enabled: bool,
}

/// One page of [`StreamRow`]s and how many match in all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamPage {
    pub total: u64,
    pub items: Vec<StreamRow>,
}

/// The outcome of a refresh, to record on the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshRecord {
    pub at: UnixTime,
    pub item_count: u64,
    pub error: Option<String>,
    /// Every diagnostic of the refresh; a store may keep only the first
    /// ones, but keeps their number ([`Source::diagnostic_count`]).
    pub diagnostics: Vec<Diagnostic>,
}

/// Durable state: lines, sources, the catalog and the guide.
///
/// Every write is durable when the call returns (a crash right after loses
/// nothing). Implementations: SQLite (the default) and PostgreSQL
/// (several nodes), in `tvgate-store`.
#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    // ----- lines -----
    async fn load_lines(&self) -> StoreResult<Vec<Line>>;
    /// Creates a line (its `id` and `revision` are assigned here and
    /// returned); `Conflict` when the username key is taken.
    async fn insert_line(&self, line: Line, username_key: String) -> StoreResult<Line>;
    /// Writes every field of an existing line (matched by id).
    async fn update_line(&self, line: &Line, username_key: String) -> StoreResult<()>;
    /// Creates or updates many lines by username key, in one transaction.
    /// For an existing line, only the fields in the row's `present` set change.
    async fn upsert_lines(
        &self,
        rows: Vec<(Line, String, UpsertFields)>,
    ) -> StoreResult<UpsertCounts>;
    async fn delete_line(&self, id: LineId) -> StoreResult<()>;
    /// Stores (or clears) a line's keyed verifier.
    async fn set_verifier(&self, id: LineId, verifier: Option<Vec<u8>>) -> StoreResult<()>;
    /// Replaces a line's password hash and verifier for the same password
    /// (a re-hash at a higher cost). Unlike a password change it does not
    /// count as a change other processes must reload for: the password is
    /// the same, so the old hash and verifier keep proving it.
    async fn upgrade_password_hash(
        &self,
        id: LineId,
        hash: String,
        verifier: Vec<u8>,
    ) -> StoreResult<()>;
    /// Stores many verifiers at once (bulk import). The default writes them
    /// one by one; backends override it with one transaction.
    async fn set_verifiers(&self, rows: Vec<(LineId, Vec<u8>)>) -> StoreResult<()> {
        for (id, verifier) in rows {
            self.set_verifier(id, Some(verifier)).await?;
        }
        Ok(())
    }
    /// A value that changes whenever lines or the catalog change, so a
    /// running server notices what another process (the CLI) wrote.
    /// `None` when the backend cannot tell.
    async fn change_stamp(&self) -> StoreResult<Option<ChangeStamp>> {
        Ok(None)
    }
    /// What other nodes and processes change, as it happens: each item
    /// says which half (or the sessions) changed, once their transaction
    /// has committed. `None` when the backend cannot notify (SQLite): a
    /// server then polls [`Store::change_stamp`]. The stream never ends
    /// while the value lives (it reconnects behind the scenes and says
    /// [`Change::Resync`] when notifications may have been missed); a
    /// server keeps a slow stamp poll beside it all the same.
    ///
    /// A stream rather than a callback: the caller decides where and how
    /// the reloads run (the binary's watcher task selects over it, the
    /// poll and shutdown), and core names no runtime: `BoxStream` is
    /// `futures-core`'s, which has no executor in it.
    fn watch(&self) -> Option<BoxStream<'static, Change>> {
        None
    }

    // ----- devices (docs/devices.md) -----
    // Every change below is one transaction with its audit entry and bumps
    // the lines' change stamp (a running server reloads bindings with the
    // lines); recording a sighting or a refusal does not.
    /// Every line's binding (lines without one are left out).
    async fn load_bindings(&self) -> StoreResult<Vec<(LineId, Binding)>>;
    /// Sets a line's limit, enrolment and IP lock.
    async fn set_device_policy(
        &self,
        line: LineId,
        policy: DevicePolicy,
        audit: DeviceAudit,
    ) -> StoreResult<()>;
    /// Binds a device; `Conflict` when the line already has it.
    async fn add_device(
        &self,
        line: LineId,
        device: NewDevice,
        audit: DeviceAudit,
    ) -> StoreResult<BoundDevice>;
    /// Removes one device (`Some`) or every device of the line (`None`, a
    /// reset); `self_reset_at` records a reset by the subscriber. Returns how
    /// many were removed; `NotFound` for a device the line does not have.
    async fn remove_devices(
        &self,
        line: LineId,
        device: Option<DeviceId>,
        self_reset_at: Option<UnixTime>,
        audit: DeviceAudit,
    ) -> StoreResult<u64>;
    /// Records that a bound device was seen (time, address, and any serial
    /// or device ids it sent for the first time). Does not bump the stamp.
    async fn touch_device(&self, device: BoundDevice) -> StoreResult<()>;
    /// Appends an audit entry alone (a refusal). Does not bump the stamp.
    async fn record_device_audit(&self, audit: DeviceAudit) -> StoreResult<()>;
    /// The newest audit entries first, of one line or of all, at most `limit`.
    async fn device_audit(&self, line: Option<LineId>, limit: u32)
        -> StoreResult<Vec<DeviceAudit>>;

    // ----- the denial log (docs/denials.md) -----
    // None of these bumps the change stamp: nothing a decision reads changes.
    /// Appends refusals, in order, in one transaction.
    async fn insert_refusals(&self, refusals: Vec<Refusal>) -> StoreResult<()>;
    /// The refusals `filter` matches, newest (largest id) first, at most
    /// `filter.limit`.
    async fn refusals(&self, filter: RefusalFilter) -> StoreResult<Vec<LoggedRefusal>>;
    /// Deletes the refusals recorded before `before`; returns how many.
    async fn prune_refusals(&self, before: UnixTime) -> StoreResult<u64>;

    // ----- the dashboard's history (issue 18) -----
    // None of these bumps the change stamp.
    /// Writes a node's per-minute samples, each in place of that node's
    /// sample of the same minute.
    async fn save_samples(&self, node: String, samples: Vec<Sample>) -> StoreResult<()>;
    /// The samples of minutes from `since` on, oldest first: one node's
    /// (`Some`), or every node's summed per minute (`None`).
    async fn samples(&self, node: Option<String>, since: UnixTime) -> StoreResult<Vec<Sample>>;
    /// Deletes every node's samples of minutes before `before`; returns how many.
    async fn prune_samples(&self, before: UnixTime) -> StoreResult<u64>;
    /// Appends events to lines' timelines, in one transaction.
    async fn insert_line_events(&self, events: Vec<LineEvent>) -> StoreResult<()>;
    /// A line's events, newest (last recorded) first, at most `limit`.
    async fn line_events(&self, line: LineId, limit: u32) -> StoreResult<Vec<LineEvent>>;
    /// Deletes the events recorded before `before`; returns how many.
    async fn prune_line_events(&self, before: UnixTime) -> StoreResult<u64>;

    // ----- sources -----
    async fn sources(&self) -> StoreResult<Vec<Source>>;
    async fn insert_source(&self, source: NewSource) -> StoreResult<Source>;
    /// Removes a source with its items and programmes.
    async fn delete_source(&self, id: SourceId) -> StoreResult<()>;
    /// Records a refresh's outcome in place of the previous one's: its
    /// time, count and error, its first diagnostics (line and message
    /// apart; the suite expects the first 1000) and how many there were.
    /// Does not bump the change stamp. `NotFound` for an unknown source.
    /// Applying a refresh ends any hold: the source's held refresh is
    /// cleared.
    async fn record_refresh(&self, id: SourceId, record: RefreshRecord) -> StoreResult<()>;
    /// Records a refresh the shrink guard held back, in place of any held
    /// before, and its time as the source's last refresh (so the schedule
    /// waits a period before trying again); its items, count, error and
    /// diagnostics stay those of the last applied refresh. Does not bump
    /// the change stamp. `NotFound` for an unknown source.
    async fn hold_refresh(&self, id: SourceId, held: HeldRefresh) -> StoreResult<()>;
    /// Changes a source's cap or delivery; `NotFound` for an unknown id.
    async fn update_source(&self, id: SourceId, patch: SourcePatch) -> StoreResult<()>;
    /// Sets (or clears) the account of an Xtream source: its username,
    /// password and the cap its provider last said. Bumps the catalog
    /// change stamp. `NotFound` for an unknown id.
    async fn set_source_account(
        &self,
        id: SourceId,
        account: Option<XtreamAccount>,
    ) -> StoreResult<()>;
    /// Records the connection cap an account's provider said at a refresh,
    /// leaving its credentials as they are (a source without an account is
    /// left alone). Bumps the catalog change stamp when it changes.
    /// `NotFound` for an unknown id.
    async fn set_account_connections(&self, id: SourceId, max: u32) -> StoreResult<()>;

    // ----- catalog and guide -----
    /// Replaces a source's items with the plan's, in one transaction, by
    /// key: an item whose key the source has keeps its stream id, its
    /// `added` time and its `enabled` switch; a new key gets a new id and
    /// `added = now`; a key the plan lacks is deleted. Series go the same
    /// way by name (position, category and cover written from the plan),
    /// and categories are found or created by (kind, name) in the plan's
    /// order and never deleted here. A series' `last_modified` is `now`
    /// when it is created and becomes `now` when an episode joins or
    /// leaves it. Returns the plan's counts with the number of deleted
    /// items. `NotFound` for an unknown source.
    async fn replace_items(
        &self,
        source: SourceId,
        plan: CatalogPlan,
        now: UnixTime,
    ) -> StoreResult<ImportCounts>;
    /// Replaces a source's guide channels and programmes with the plan's,
    /// in one transaction: channels in the plan's order, programmes in the
    /// plan's order (by channel and start for a plan held in memory, guide
    /// order for a spooled one: the catalog orders each channel's
    /// programmes by start either way), taken from the plan one at a time
    /// and each written as planned. Returns how
    /// many programmes it wrote. `NotFound` for an unknown source; a
    /// backend may refuse a guide larger than its layout holds (SQLite:
    /// 2^32 programmes per source), with a `Backend` error.
    async fn replace_guide(&self, source: SourceId, plan: GuidePlan) -> StoreResult<u64>;
    /// Everything the catalog snapshot is built from: items, guide, every
    /// source's settings and the live channels' backups.
    async fn load_catalog(&self) -> StoreResult<CatalogData>;
    /// The catalog snapshot built from [`Store::load_catalog`]. A backend
    /// on an async runtime builds it where it does its blocking work (a
    /// million entries take a second or more), so the threads that serve
    /// players go on; this default builds it on the caller's thread.
    async fn load_snapshot(&self) -> StoreResult<Catalog> {
        Ok(Catalog::build(self.load_catalog().await?))
    }
    /// Replaces a live channel's backup URLs (an empty list clears them).
    /// They are kept by stream id, so a refresh that keeps the channel keeps
    /// them; they go with the channel. `NotFound` (what: `live channel`)
    /// when `stream` is not a live channel.
    async fn set_backups(&self, stream: StreamId, urls: Vec<String>) -> StoreResult<()>;
    /// The stored streams matching `query`, disabled ones included, in
    /// source and playlist order.
    async fn streams(&self, query: StreamQuery) -> StoreResult<StreamPage>;
    /// Switches one stream on or off for players; a refresh keeps the flag.
    /// `NotFound` (what: `stream`) for an unknown id.
    async fn set_stream_enabled(&self, stream: StreamId, enabled: bool) -> StoreResult<()>;

    // ----- console and portal sessions (shared by the nodes) -----
    // None of these bumps the change stamp; ending a session notifies
    // [`Change::Sessions`] where the backend can.
    /// Records a session. Expired sessions of its face are removed; beyond
    /// `max` sessions of the face, the ones closest to expiry go.
    async fn insert_session(
        &self,
        session: StoredSession,
        now: UnixTime,
        max: u32,
    ) -> StoreResult<()>;
    /// The live (not expired at `now`) session of `face` with this id hash.
    async fn session(
        &self,
        face: SessionFace,
        id_hash: [u8; 32],
        now: UnixTime,
    ) -> StoreResult<Option<StoredSession>>;
    /// Ends a session (a logout), wherever it was made; ending one that is
    /// not there is not an error.
    async fn delete_session(&self, id_hash: [u8; 32]) -> StoreResult<()>;

    // ----- the nodes' shared key (docs/security.md) -----
    /// Records `fingerprint` as the verifier key's when the store has none
    /// yet, and returns the one recorded: the first node's. The key itself
    /// is never stored (a database dump and the key together would make
    /// the keyed verifiers open to an offline search).
    async fn claim_key_fingerprint(&self, fingerprint: String) -> StoreResult<String>;

    // ----- operators (docs/admin-api.md) -----
    // Defaults refuse, so a backend without them still builds; SQLite has them.
    /// Creates an operator; `Conflict` when the name is taken.
    async fn insert_admin(
        &self,
        name: String,
        password_hash: String,
        created_at: UnixTime,
    ) -> StoreResult<Admin> {
        let _ = (name, password_hash, created_at);
        Err(no_admins())
    }
    async fn admin_by_name(&self, name: String) -> StoreResult<Option<Admin>> {
        let _ = name;
        Err(no_admins())
    }
    async fn admins(&self) -> StoreResult<Vec<Admin>> {
        Err(no_admins())
    }
    /// Replaces an operator's password hash; `NotFound` for an unknown id.
    async fn set_admin_password(&self, id: AdminId, password_hash: String) -> StoreResult<()> {
        let _ = (id, password_hash);
        Err(no_admins())
    }
    async fn insert_api_token(&self, token: NewApiToken) -> StoreResult<ApiToken> {
        let _ = token;
        Err(no_admins())
    }
    /// The token with this hash, revoked or not.
    async fn api_token_by_hash(&self, hash: Vec<u8>) -> StoreResult<Option<ApiToken>> {
        let _ = hash;
        Err(no_admins())
    }
    async fn api_tokens(&self) -> StoreResult<Vec<ApiToken>> {
        Err(no_admins())
    }
    /// Marks a token revoked; `NotFound` for an unknown id.
    async fn revoke_api_token(&self, id: i64, at: UnixTime) -> StoreResult<()> {
        let _ = (id, at);
        Err(no_admins())
    }
}

fn no_admins() -> StoreError {
    StoreError::Backend {
        context: "managing operators",
        message: "this store has no operator accounts".to_string(),
    }
}

/// What a store's notification says changed (see [`Store::watch`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Lines or their device bindings: reload the lines.
    Lines,
    /// Sources, items, the guide or a stream's settings: reload the catalog.
    Catalog,
    /// A session ended: sessions held in memory must be checked again.
    Sessions,
    /// Notifications may have been missed (the listening connection was
    /// made again): reload everything.
    Resync,
}

/// The face a stored session belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionFace {
    /// The operator console (`/admin/`).
    Console,
    /// The subscriber portal (`/portal/`).
    Portal,
}

impl SessionFace {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionFace::Console => "console",
            SessionFace::Portal => "portal",
        }
    }

    pub fn parse(text: &str) -> Option<SessionFace> {
        match text {
            "console" => Some(SessionFace::Console),
            "portal" => Some(SessionFace::Portal),
            _ => None,
        }
    }
}

/// A console or portal session as the store keeps it. Never the id the
/// browser holds: only its SHA-256, so a database dump opens no session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSession {
    pub id_hash: [u8; 32],
    pub face: SessionFace,
    /// The token the session's forms must echo.
    pub csrf: String,
    /// What the face keeps about the person, sealed under a key derived
    /// from the session id (which the store never sees), so a dump does
    /// not show it either (the portal keeps the subscriber's password).
    pub sealed: Vec<u8>,
    pub expires: UnixTime,
}

/// Change counters of the two halves of the store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChangeStamp {
    pub lines: i64,
    pub catalog: i64,
}

/// Which fields of an imported row were given (an update leaves the others).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UpsertFields {
    pub password: bool,
    pub max_connections: bool,
    pub expires: bool,
    pub status: bool,
    pub limit_policy: bool,
    pub is_trial: bool,
    pub note: bool,
    /// The row must create a line: a taken username fails the whole batch
    /// with `Conflict` and nothing is written (bulk creation, which must
    /// never change an existing line, even one made meanwhile).
    pub only_new: bool,
}
