//! The gate: the domain operations every face and the command line share.
//!
//! It owns the in-memory directory of lines, the failed-login limiter, the
//! verifier key and the current catalog snapshot, and writes through the
//! [`Store`] port. A face extracts a request, calls one operation here,
//! and renders the answer; the CLI calls the same operations, so there is no
//! second implementation of any rule.

use crate::access::credentials::{self, CredentialError};
use crate::access::directory::Directory;
use crate::access::limiter::{Limiter, LimiterSettings};
use crate::access::line::to_verifier;
use crate::access::proven::ProvenCache;
use crate::access::secrets::{self, KdfError, KdfParams, VerifierCheck, VerifierKey};
use crate::access::share::{LimitShare, SharedLimit};
use crate::access::{
    decide, AccessRequest, Decision, Line, LinePatch, OutputFormats, Proof, Status,
};
use crate::catalog::backups::check_backup_urls;
use crate::catalog::{Catalog, HeldRefresh, ShrinkGuard, Source, StreamRef};
use crate::ids::{CategoryId, LineId, SourceId, StreamId};
use crate::ledger::LimitPolicy;
use crate::ports::{
    Change, ChangeStamp, SessionFace, SourcePatch, Store, StoreError, StoredSession, UpsertCounts,
    UpsertFields,
};
use crate::UnixTime;
use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

mod admin;
mod bulk;
mod devices;
mod history;
mod import;
mod refusals;
mod sources;
pub use admin::AdminAuthn;
pub use bulk::{BulkSpec, MAX_BULK};
pub use devices::{DeviceOutcome, DevicePolicyPatch, SelfReset, DEFAULT_AUDIT_LIMIT};
pub use import::{AccountContent, ParsedSource, RefreshReport, SourceContent};
pub use refusals::check_reason;
pub use sources::{
    check_web_location, default_name, xtream_server, MAX_ACCOUNT_FIELD, MAX_SOURCE_LOCATION,
    MAX_SOURCE_NAME, MAX_STREAM_PAGE,
};

/// Runs the password KDF. The server runs it on a blocking thread so a 30 ms
/// hash never stalls other requests; tests and the CLI may run it inline.
#[async_trait::async_trait]
pub trait Kdf: Send + Sync + 'static {
    async fn hash(&self, password: String, params: KdfParams) -> Result<String, KdfError>;
    async fn verify(&self, password: String, phc: String) -> bool;
}

/// Runs the KDF on the calling thread.
#[derive(Debug, Default, Clone, Copy)]
pub struct InlineKdf;

#[async_trait::async_trait]
impl Kdf for InlineKdf {
    async fn hash(&self, password: String, params: KdfParams) -> Result<String, KdfError> {
        secrets::hash_password(&password, params)
    }
    async fn verify(&self, password: String, phc: String) -> bool {
        secrets::verify_password(&password, &phc)
    }
}

/// The gate's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GateSettings {
    /// Usernames match case-insensitively (unique by case-folded form).
    pub case_insensitive_usernames: bool,
    pub kdf: KdfParams,
    /// Cost for bulk imports; lines hashed at a lower cost are re-hashed at
    /// `kdf` on their first successful login (see [`Gate::upgrade_next`]).
    pub import_kdf: KdfParams,
    pub limiter: LimiterSettings,
    /// How often a subscriber may reset their own device binding
    /// (`device_reset_cooldown_secs`).
    pub device_reset_cooldown_secs: i64,
    /// The store is shared by several nodes (PostgreSQL): the first node
    /// records its verifier key's fingerprint there, and a node opened
    /// with another key is refused ([`GateError::KeyMismatch`]), since
    /// each node's verifiers and signed links would fail on the others.
    pub shared_store: bool,
    /// The share of a source's entries a refresh may remove before it is
    /// held for the operator (`refresh_shrink_guard`).
    pub refresh_shrink_guard: ShrinkGuard,
}

/// The default `device_reset_cooldown_secs`: once a day.
pub const DEFAULT_DEVICE_RESET_COOLDOWN_SECS: i64 = 86_400;

impl Default for GateSettings {
    fn default() -> Self {
        GateSettings {
            case_insensitive_usernames: true,
            kdf: KdfParams::default(),
            import_kdf: KdfParams::default(),
            limiter: LimiterSettings::default(),
            device_reset_cooldown_secs: DEFAULT_DEVICE_RESET_COOLDOWN_SECS,
            shared_store: false,
            refresh_shrink_guard: ShrinkGuard::DEFAULT,
        }
    }
}

/// Why an operation failed.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error(transparent)]
    Credential(#[from] CredentialError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Kdf(#[from] KdfError),
    #[error("no line named {0:?}")]
    NoSuchLine(String),
    #[error("{0}")]
    Invalid(String),
    /// A source's refresh failed (reading or storing it); the error is
    /// recorded on the source.
    #[error("{0}")]
    ImportFailed(String),
    /// A refresh read so much less than the source has that the shrink
    /// guard held it back; the items stored before stay, and the hold is
    /// recorded on the source until the operator applies it.
    #[error("the refresh is held: {}", .0.reason)]
    RefreshHeld(HeldRefresh),
    /// The shared store recorded another verifier key than this node's:
    /// the key file must be copied from the first node.
    #[error("this node's verifier key (fingerprint {ours}) is not the one the shared store's first node recorded ({recorded})")]
    KeyMismatch { ours: String, recorded: String },
    /// A subscriber's own device reset within the cooldown.
    #[error("the device binding was reset less than {cooldown_secs} seconds ago; try again in {retry_after_secs} seconds")]
    ResetTooSoon {
        retry_after_secs: i64,
        cooldown_secs: i64,
    },
}

/// The result of checking presented credentials.
#[derive(Debug, Clone)]
pub enum Authn {
    /// Over the failure budget; nothing was checked.
    RateLimited { retry_after_secs: u32 },
    /// Unknown user or wrong password.
    NotProven,
    /// The credentials match. `username`/`password` are the cleaned values,
    /// which are exactly the line's real credentials (players build stream
    /// URLs from what `user_info` echoes).
    Proven {
        line: Arc<Line>,
        username: String,
        password: String,
    },
}

impl Authn {
    pub fn proof(&self) -> Proof<'_> {
        match self {
            Authn::RateLimited { retry_after_secs } => Proof::RateLimited {
                retry_after_secs: *retry_after_secs,
            },
            Authn::NotProven => Proof::NotProven,
            Authn::Proven { line, .. } => Proof::Proven(line),
        }
    }

    pub fn line(&self) -> Option<&Arc<Line>> {
        match self {
            Authn::Proven { line, .. } => Some(line),
            _ => None,
        }
    }
}

/// What an operator gives to create a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineSpec {
    pub username: String,
    /// `None`: generate one.
    pub password: Option<String>,
    pub status: Status,
    pub expires_at: Option<UnixTime>,
    pub is_trial: bool,
    pub max_connections: u32,
    /// `None`: the server-wide setting.
    pub limit_policy: Option<LimitPolicy>,
    pub allowed_formats: OutputFormats,
    pub note: String,
    pub package: Option<Vec<CategoryId>>,
}

impl LineSpec {
    pub fn new(username: impl Into<String>) -> Self {
        LineSpec {
            username: username.into(),
            password: None,
            status: Status::Active,
            expires_at: None,
            is_trial: false,
            max_connections: 1,
            limit_policy: None,
            allowed_formats: OutputFormats::DEFAULT,
            note: String::new(),
            package: None,
        }
    }
}

/// One row of a bulk import, already parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportRow {
    pub line: u64,
    pub username: String,
    /// Empty: generate (for new lines) or keep (for existing lines).
    pub password: String,
    pub max_connections: Option<u32>,
    pub expires_at: Option<Option<UnixTime>>,
    pub status: Option<Status>,
    /// `Some(None)`: back to the server-wide policy.
    pub limit_policy: Option<Option<LimitPolicy>>,
    pub is_trial: Option<bool>,
    pub note: Option<String>,
    /// Create only: refuse the batch if the line exists by the time it is
    /// written (see [`UpsertFields::only_new`]).
    pub only_new: bool,
}

/// A bulk-import row that was refused, with its line number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub line: u64,
    pub message: String,
}

/// What a bulk import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub counts: UpsertCounts,
    pub errors: Vec<RowError>,
    /// (username, generated password) for new lines given no password.
    pub generated: Vec<(String, String)>,
}

/// The domain's shared state and operations.
pub struct Gate {
    store: Arc<dyn Store>,
    directory: Directory,
    // std Mutex: held for a hash-map update, never across .await.
    limiter: Mutex<Limiter>,
    /// Where failures and trusted addresses go when several nodes share
    /// their limits (`access::share`); unset on a node of its own.
    limit_share: std::sync::OnceLock<Arc<dyn LimitShare>>,
    key: VerifierKey,
    /// Tags of passwords the verifier proved (`access::proven`): a second
    /// login with the same password skips the verifier.
    proven: ProvenCache,
    kdf: Arc<dyn Kdf>,
    settings: GateSettings,
    /// The snapshot, with the number of the reload that made it.
    catalog: RwLock<(u64, Arc<Catalog>)>,
    /// Reloads of the catalog started so far (see [`Gate::reload_catalog`]).
    catalog_loads: AtomicU64,
    /// `m=..,t=..,p=..` of the current KDF settings, to spot older hashes.
    current_params: String,
    // Lines proven with a weaker hash, waiting to be re-hashed (id, password).
    // Bounded; held only for a push or a pop.
    upgrades: Mutex<Vec<(LineId, String)>>,
    /// Device bindings beside the directory (docs/devices.md).
    devices: devices::DeviceState,
    /// The line an unknown username is proven against (`Gate::authenticate`):
    /// it has a verifier under our key for a password nobody knows, so an
    /// unknown name takes the very path of a wrong password (tag, cache
    /// probe, verifier mismatch) rather than a look-alike of it.
    stand_in: Arc<Line>,
    /// The hash an unknown operator name is checked against (the console's
    /// login): the dummy hash at the configured cost, made once here.
    console_dummy_phc: String,
}

/// The id of the stand-in line; the store never assigns a negative id.
const STAND_IN_ID: LineId = LineId(-1);

/// A line no password proves, with a verifier made under `key` (so the
/// check is a mismatch, not the KDF) for a random password thrown away.
fn stand_in_line(key: &VerifierKey) -> Line {
    let secret = credentials::generate_password(&mut rand::thread_rng());
    let verifier = key.verifier(STAND_IN_ID, secrets::DUMMY_PHC, &secret);
    Line {
        id: STAND_IN_ID,
        username: "".into(),
        password_hash: secrets::DUMMY_PHC.into(),
        verifier: to_verifier(&verifier),
        status: Status::Disabled,
        expires_at: Some(0),
        is_trial: false,
        max_connections: 0,
        limit_policy: None,
        allowed_formats: OutputFormats::DEFAULT,
        created_at: 0,
        note: "".into(),
        package: None,
        revision: 0,
    }
}

/// Most lines waiting for a hash upgrade at once; more are picked up on a
/// later login.
const MAX_PENDING_UPGRADES: usize = 1024;

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gate")
            .field("lines", &self.directory.len())
            .field("settings", &self.settings)
            .finish()
    }
}

impl Gate {
    /// Loads the lines and the catalog from the store.
    pub async fn open(
        store: Arc<dyn Store>,
        key: VerifierKey,
        kdf: Arc<dyn Kdf>,
        settings: GateSettings,
    ) -> Result<Gate, GateError> {
        let stand_in = Arc::new(stand_in_line(&key));
        let gate = Gate {
            directory: Directory::new(settings.case_insensitive_usernames),
            limiter: Mutex::new(Limiter::new(settings.limiter)),
            limit_share: std::sync::OnceLock::new(),
            store,
            key,
            proven: ProvenCache::new(ProvenCache::DEFAULT_CAPACITY),
            kdf,
            settings,
            catalog: RwLock::new((0, Arc::new(Catalog::default()))),
            catalog_loads: AtomicU64::new(0),
            current_params: format!(
                "$m={},t={},p={}$",
                settings.kdf.memory_kib, settings.kdf.iterations, settings.kdf.parallelism
            ),
            upgrades: Mutex::new(Vec::new()),
            devices: devices::DeviceState::default(),
            stand_in,
            console_dummy_phc: secrets::DUMMY_PHC.replacen(
                "$m=19456,t=2,p=1$",
                &format!(
                    "$m={},t={},p={}$",
                    settings.kdf.memory_kib, settings.kdf.iterations, settings.kdf.parallelism
                ),
                1,
            ),
        };
        if settings.shared_store {
            let ours = gate.key.fingerprint();
            let recorded = gate.store.claim_key_fingerprint(ours.clone()).await?;
            if recorded != ours {
                return Err(GateError::KeyMismatch { ours, recorded });
            }
        }
        gate.reload_lines().await?;
        gate.reload_catalog().await?;
        Ok(gate)
    }

    pub fn settings(&self) -> &GateSettings {
        &self.settings
    }

    /// The key HLS segment tokens are signed with, derived from the verifier key.
    pub fn token_key(&self) -> crate::access::token::TokenKey {
        crate::access::token::TokenKey::from_verifier(&self.key)
    }

    /// Re-reads every line and its device binding from the store (after
    /// another process changed them).
    ///
    /// A reload may run beside this gate's own writes (another node's
    /// change is notified while an operator works here): what was changed
    /// here after the store was read is kept as it is here, so a reload
    /// never brings an older line back.
    pub async fn reload_lines(&self) -> Result<(), GateError> {
        let (lines_since, devices_since) = (self.directory.seq(), self.devices.seq());
        let lines = self.store.load_lines().await?;
        let bindings = self.store.load_bindings().await?;
        self.directory.load_since(lines, lines_since);
        self.devices.load_since(bindings, devices_since);
        Ok(())
    }

    /// The store's change stamp: a server polls it to notice what another
    /// process (the CLI) wrote, then reloads the half that changed with
    /// [`Gate::reload_lines`] or [`Gate::reload_catalog`]. `None` when
    /// the store cannot tell.
    pub async fn change_stamp(&self) -> Result<Option<ChangeStamp>, GateError> {
        Ok(self.store.change_stamp().await?)
    }

    /// What other nodes and processes change, as they commit it (see
    /// [`Store::watch`]); `None` when the store cannot notify and a server
    /// must poll [`Gate::change_stamp`].
    pub fn watch(&self) -> Option<futures_core::stream::BoxStream<'static, Change>> {
        self.store.watch()
    }

    // ------------------------------------------------------------------
    // Console and portal sessions, kept in the store so that every node
    // and a restarted one know them. The faces seal and hash; the gate
    // only passes them through, so no caller writes beside it.
    // ------------------------------------------------------------------

    /// Records a session (see [`Store::insert_session`]).
    pub async fn save_session(
        &self,
        session: StoredSession,
        now: UnixTime,
        max: u32,
    ) -> Result<(), GateError> {
        Ok(self.store.insert_session(session, now, max).await?)
    }

    /// The live session of `face` with this id hash.
    pub async fn find_session(
        &self,
        face: SessionFace,
        id_hash: [u8; 32],
        now: UnixTime,
    ) -> Result<Option<StoredSession>, GateError> {
        Ok(self.store.session(face, id_hash, now).await?)
    }

    /// Ends a session everywhere.
    pub async fn end_session(&self, id_hash: [u8; 32]) -> Result<(), GateError> {
        Ok(self.store.delete_session(id_hash).await?)
    }

    /// Re-reads the catalog and swaps in a new snapshot.
    ///
    /// Reloads may overlap (another node's change is notified while this
    /// gate reloads after its own write): each takes a number before it
    /// reads the store, and a snapshot is swapped in only if no reload
    /// that started later was swapped in first, so an older catalog never
    /// replaces a newer one.
    pub async fn reload_catalog(&self) -> Result<(), GateError> {
        let ticket = self.catalog_loads.fetch_add(1, Ordering::SeqCst) + 1;
        // Read and built where the store does its blocking work (see
        // `Store::load_snapshot`): players go on being served the old one.
        let catalog = Arc::new(self.store.load_snapshot().await?);
        let old = {
            let mut current = self.catalog.write().unwrap_or_else(|p| p.into_inner());
            if ticket > current.0 {
                std::mem::replace(&mut *current, (ticket, catalog)).1
            } else {
                catalog
            }
        };
        // The swap is a pointer under the lock; the snapshot it replaced
        // (a million entries take a while to free) is freed after the
        // lock is released, on a thread of its own when this was the last
        // reference, so no request waits for it.
        if Arc::strong_count(&old) == 1 {
            let _ = std::thread::Builder::new()
                .name("catalog-drop".into())
                .spawn(move || drop(old));
        }
        Ok(())
    }

    /// The current catalog snapshot.
    pub fn catalog(&self) -> Arc<Catalog> {
        self.catalog
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .1
            .clone()
    }

    fn limiter(&self) -> std::sync::MutexGuard<'_, Limiter> {
        self.limiter.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Shares this node's failed logins and trusted addresses with other
    /// nodes from now on (set once, at start; a second call is ignored).
    /// Logins still decide from this node's limiter alone: a failure is
    /// handed over after it is counted, a success only when it trusts an
    /// address for a username being guessed.
    pub fn share_limits(&self, share: Arc<dyn LimitShare>) {
        let _ = self.limit_share.set(share);
    }

    /// Applies what another node shared (a scan block is not the gate's:
    /// the Stalker face applies it).
    pub fn apply_shared_limit(&self, limit: &SharedLimit) {
        match limit {
            SharedLimit::Failures {
                ip,
                ip_level_milli,
                username_key,
                username_level_milli,
                at,
            } => self.limiter().apply_shared(
                *ip,
                *ip_level_milli,
                username_key,
                *username_level_milli,
                *at,
            ),
            SharedLimit::Trusted { ip, username_key } => self.limiter().trust(*ip, username_key),
            SharedLimit::ScanBlocked { .. } => {}
        }
    }

    /// Counts a failed login here, and hands it to the other nodes.
    fn login_failed(&self, ip: IpAddr, key: &str, now: UnixTime) {
        self.limiter().record_failure(ip, key, now);
        if let Some(share) = self.limit_share.get() {
            share.login_failed(ip, key, now);
        }
    }

    /// Counts a successful login here; an address newly trusted for a
    /// username being guessed is trusted by the other nodes too.
    fn login_proven(&self, ip: IpAddr, key: &str) {
        if self.limiter().record_success(ip, key) {
            if let Some(share) = self.limit_share.get() {
                share.login_trusted(ip, key);
            }
        }
    }

    // ------------------------------------------------------------------
    // Login
    // ------------------------------------------------------------------

    /// Checks presented credentials, as a player sent them.
    ///
    /// Surrounding white space and invisible characters are stripped first
    /// (lossless: no real credential has them). An unknown username is
    /// proven against a stand-in line by the same code as a wrong password
    /// (not a copy of its work), so the two cannot be told apart by timing.
    pub async fn authenticate(
        &self,
        raw_username: &str,
        raw_password: &str,
        ip: IpAddr,
        now: UnixTime,
    ) -> Authn {
        let username = credentials::clean_presented(raw_username);
        let password = credentials::clean_presented(raw_password);
        let key = self.directory.key(&username).into_owned();
        if let Some(retry_after_secs) = self.limiter().check(ip, &key, now) {
            return Authn::RateLimited { retry_after_secs };
        }
        // An unknown name is proven against the stand-in, by the same
        // code as a wrong password; whatever it says, it proves nothing.
        let line = self.directory.find_or(&username, &self.stand_in);
        let is_stand_in = Arc::ptr_eq(&line, &self.stand_in);
        let proven = self.prove(line, &password).await.filter(|_| !is_stand_in);
        match proven {
            Some(line) => {
                self.login_proven(ip, &key);
                Authn::Proven {
                    line,
                    username: username.into_owned(),
                    password: password.into_owned(),
                }
            }
            None => {
                self.login_failed(ip, &key, now);
                Authn::NotProven
            }
        }
    }

    async fn prove(&self, line: Arc<Line>, password: &str) -> Option<Arc<Line>> {
        // Proven before with this password against this very verifier (a
        // new password or hash replaces the verifier, hence the tag): the
        // verifier would say `Match` again.
        let tag = line
            .verifier
            .as_ref()
            .map(|v| self.proven.tag(line.id, v, password));
        if tag.is_some_and(|tag| self.proven.contains(tag)) {
            if !self.hash_is_current(&line.password_hash) {
                self.queue_upgrade(&line, password);
            }
            return Some(line);
        }
        match self.key.check(
            line.verifier.as_ref().map(|v| &v[..]),
            line.id,
            &line.password_hash,
            password,
        ) {
            VerifierCheck::Match => {
                if let Some(tag) = tag {
                    self.proven.insert(tag);
                }
                if !self.hash_is_current(&line.password_hash) {
                    self.queue_upgrade(&line, password);
                }
                Some(line)
            }
            VerifierCheck::Mismatch => None,
            VerifierCheck::Unknown => {
                // First proof under this key: pay the KDF once, then remember.
                if !self
                    .kdf
                    .verify(password.to_string(), line.password_hash.to_string())
                    .await
                {
                    return None;
                }
                let verifier = self.key.verifier(line.id, &line.password_hash, password);
                if let Err(e) = self
                    .store
                    .set_verifier(line.id, Some(verifier.clone()))
                    .await
                {
                    // Still a valid login; the next one pays the KDF again.
                    let _ = e;
                    return Some(line);
                }
                let mut updated = (*line).clone();
                updated.verifier = to_verifier(&verifier);
                let updated = Arc::new(updated);
                self.directory.put((*updated).clone());
                Some(updated)
            }
        }
    }

    /// Whether a PHC string carries the current KDF settings (else the line
    /// is re-hashed in the background after a login).
    fn hash_is_current(&self, phc: &str) -> bool {
        // `$argon2id$v=19$m=..,t=..,p=..$...`: compare in place first.
        const PREFIX: &str = "$argon2id$v=19";
        match phc.strip_prefix(PREFIX) {
            Some(rest) if rest.starts_with(&self.current_params) => true,
            _ => phc.contains(&self.current_params),
        }
    }

    fn queue_upgrade(&self, line: &Line, password: &str) {
        let mut queue = self.upgrades.lock().unwrap_or_else(|p| p.into_inner());
        if queue.len() < MAX_PENDING_UPGRADES && !queue.iter().any(|(id, _)| *id == line.id) {
            queue.push((line.id, password.to_string()));
        }
    }

    /// Lines waiting for a hash upgrade.
    pub fn pending_upgrades(&self) -> usize {
        self.upgrades
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }

    /// Re-hashes one line that was imported (or hashed) at a lower cost, now
    /// that a login has shown its password. The caller runs this from one
    /// background task, so upgrades use at most one core and never delay a
    /// login. Returns false when nothing was waiting.
    pub async fn upgrade_next(&self) -> Result<bool, GateError> {
        let next = self
            .upgrades
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop();
        let Some((id, password)) = next else {
            return Ok(false);
        };
        let Some(before) = self.directory.get(id) else {
            return Ok(true);
        };
        let hash = self.kdf.hash(password.clone(), self.settings.kdf).await?;
        // The line may have changed while we hashed; only replace the hash
        // it was proven against.
        let Some(current) = self.directory.get(id) else {
            return Ok(true);
        };
        if current.password_hash != before.password_hash {
            return Ok(true);
        }
        let verifier = self.key.verifier(id, &hash, &password);
        self.store
            .upgrade_password_hash(id, hash.clone(), verifier.clone())
            .await?;
        let mut line = (*current).clone();
        line.password_hash = hash.into();
        line.verifier = to_verifier(&verifier);
        self.directory.put(line);
        Ok(true)
    }

    /// Decides the request without the device step (no binding is
    /// written); faces use [`Gate::authorize`].
    pub fn decide(&self, authn: &Authn, req: &AccessRequest<'_>, now: UnixTime) -> Decision {
        decide(authn.proof(), req, now)
    }

    // ------------------------------------------------------------------
    // Lines
    // ------------------------------------------------------------------

    pub fn find_line(&self, username: &str) -> Option<Arc<Line>> {
        self.directory.find(&credentials::clean_presented(username))
    }

    pub fn line(&self, id: LineId) -> Option<Arc<Line>> {
        self.directory.get(id)
    }

    pub fn lines(&self) -> Vec<Arc<Line>> {
        self.directory.all()
    }

    fn line_named(&self, username: &str) -> Result<Arc<Line>, GateError> {
        self.find_line(username)
            .ok_or_else(|| GateError::NoSuchLine(username.to_string()))
    }

    /// Creates a line. Returns it and the password when one was generated.
    pub async fn create_line(
        &self,
        spec: LineSpec,
        now: UnixTime,
    ) -> Result<(Line, Option<String>), GateError> {
        credentials::validate("username", &spec.username)?;
        let (password, generated) = match spec.password {
            Some(p) => {
                credentials::validate("password", &p)?;
                (p, false)
            }
            None => (
                credentials::generate_password(&mut rand::thread_rng()),
                true,
            ),
        };
        let hash = self.kdf.hash(password.clone(), self.settings.kdf).await?;
        let new = Line {
            id: LineId::UNSAVED,
            username: spec.username.as_str().into(),
            password_hash: hash.into(),
            verifier: None,
            status: spec.status,
            expires_at: spec.expires_at,
            is_trial: spec.is_trial,
            max_connections: spec.max_connections,
            limit_policy: spec.limit_policy,
            allowed_formats: spec.allowed_formats,
            created_at: now,
            note: spec.note.into(),
            package: spec.package.map(Vec::into_boxed_slice),
            revision: 0,
        };
        let key = self.directory.key(&spec.username).into_owned();
        let mut line = self.store.insert_line(new, key.clone()).await?;
        // The verifier needs the id, which the store just assigned.
        let verifier = self.key.verifier(line.id, &line.password_hash, &password);
        self.store
            .set_verifier(line.id, Some(verifier.clone()))
            .await?;
        line.verifier = to_verifier(&verifier);
        self.directory.put(line.clone());
        Ok((line, generated.then_some(password)))
    }

    /// Changes fields of a line.
    pub async fn update_line(&self, username: &str, patch: LinePatch) -> Result<Line, GateError> {
        let current = self.line_named(username)?;
        let mut line = (*current).clone();
        patch.apply(&mut line);
        let key = self.directory.key(&line.username).into_owned();
        self.store.update_line(&line, key).await?;
        self.directory.put(line.clone());
        Ok(line)
    }

    /// Sets a new password (generated when `None`); returns it.
    pub async fn set_password(
        &self,
        username: &str,
        password: Option<String>,
    ) -> Result<(Line, String), GateError> {
        let current = self.line_named(username)?;
        let password = match password {
            Some(p) => {
                credentials::validate("password", &p)?;
                p
            }
            None => credentials::generate_password(&mut rand::thread_rng()),
        };
        let hash = self.kdf.hash(password.clone(), self.settings.kdf).await?;
        let verifier = self.key.verifier(current.id, &hash, &password);
        let patch = LinePatch {
            password: Some((hash, Some(verifier))),
            ..Default::default()
        };
        let line = self.update_line(username, patch).await?;
        Ok((line, password))
    }

    pub async fn delete_line(&self, username: &str) -> Result<Line, GateError> {
        let current = self.line_named(username)?;
        self.store.delete_line(current.id).await?;
        self.directory.remove(current.id);
        self.devices.forget(current.id);
        Ok((*current).clone())
    }

    /// Creates or updates many lines. Passwords are hashed on every core by
    /// `hash_all` (the caller supplies the parallelism and progress display);
    /// bad rows are reported by line number and the rest go on.
    ///
    /// `hash_all` returns a future so a server can hash on a blocking
    /// thread (`secrets::hash_many` inside `spawn_blocking`) while the CLI
    /// hashes in place with its progress bar.
    pub async fn import_lines<F, Fut>(
        &self,
        rows: Vec<ImportRow>,
        now: UnixTime,
        hash_all: F,
    ) -> Result<ImportReport, GateError>
    where
        F: FnOnce(Vec<String>, KdfParams) -> Fut,
        Fut: std::future::Future<Output = Vec<Result<String, KdfError>>>,
    {
        let mut report = ImportReport::default();
        let mut accepted: Vec<(ImportRow, String, bool)> = Vec::with_capacity(rows.len());
        let mut seen = std::collections::HashSet::new();
        for mut row in rows {
            row.username = credentials::clean_presented(&row.username).into_owned();
            if let Err(e) = credentials::validate("username", &row.username) {
                report.errors.push(RowError {
                    line: row.line,
                    message: e.to_string(),
                });
                continue;
            }
            let key = self.directory.key(&row.username).into_owned();
            if !seen.insert(key) {
                report.errors.push(RowError {
                    line: row.line,
                    message: format!(
                        "username {:?} appears twice in the file; the first row wins",
                        row.username
                    ),
                });
                continue;
            }
            let exists = self.directory.find(&row.username).is_some();
            let generated = row.password.is_empty() && !exists;
            if generated {
                row.password = credentials::generate_password(&mut rand::thread_rng());
            } else if !row.password.is_empty() {
                if let Err(e) = credentials::validate("password", &row.password) {
                    report.errors.push(RowError {
                        line: row.line,
                        message: e.to_string(),
                    });
                    continue;
                }
            }
            let username = row.username.clone();
            accepted.push((row, username, generated));
        }
        let to_hash: Vec<String> = accepted
            .iter()
            .filter(|(r, _, _)| !r.password.is_empty())
            .map(|(r, _, _)| r.password.clone())
            .collect();
        let mut hashes = hash_all(to_hash, self.settings.import_kdf)
            .await
            .into_iter();
        let mut batch = Vec::with_capacity(accepted.len());
        for (row, username, generated) in accepted {
            let hash = if row.password.is_empty() {
                None
            } else {
                match hashes.next() {
                    Some(Ok(h)) => Some(h),
                    Some(Err(e)) => {
                        report.errors.push(RowError {
                            line: row.line,
                            message: e.to_string(),
                        });
                        continue;
                    }
                    None => {
                        return Err(GateError::Invalid(
                            "hashing returned fewer results than asked".into(),
                        ))
                    }
                }
            };
            let fields = UpsertFields {
                password: hash.is_some(),
                max_connections: row.max_connections.is_some(),
                expires: row.expires_at.is_some(),
                status: row.status.is_some(),
                limit_policy: row.limit_policy.is_some(),
                is_trial: row.is_trial.is_some(),
                note: row.note.is_some(),
                only_new: row.only_new,
            };
            let new = Line {
                id: LineId::UNSAVED,
                username: username.as_str().into(),
                password_hash: hash.clone().unwrap_or_default().into(),
                verifier: None,
                status: row.status.unwrap_or(Status::Active),
                expires_at: row.expires_at.flatten(),
                is_trial: row.is_trial.unwrap_or(false),
                max_connections: row.max_connections.unwrap_or(1),
                limit_policy: row.limit_policy.flatten(),
                allowed_formats: OutputFormats::DEFAULT,
                created_at: now,
                note: row.note.clone().unwrap_or_default().into(),
                package: None,
                revision: 0,
            };
            if generated {
                report
                    .generated
                    .push((username.clone(), row.password.clone()));
            }
            let key = self.directory.key(&username).into_owned();
            batch.push((new, key, fields, row.password));
        }
        let store_rows = batch
            .iter()
            .map(|(n, k, f, _)| (n.clone(), k.clone(), *f))
            .collect();
        report.counts = self.store.upsert_lines(store_rows).await?;
        self.reload_lines().await?;
        // Verifiers need the ids the store assigned; compute them now that we
        // know them, while the plaintext is still in hand.
        let mut verifiers = Vec::new();
        for (new, _, fields, password) in batch {
            if !fields.password {
                continue;
            }
            if let Some(line) = self.directory.find(&new.username) {
                let verifier = self.key.verifier(line.id, &line.password_hash, &password);
                verifiers.push((line.id, verifier.clone()));
                let mut updated = (*line).clone();
                updated.verifier = to_verifier(&verifier);
                self.directory.put(updated);
            }
        }
        self.store.set_verifiers(verifiers).await?;
        Ok(report)
    }

    // ------------------------------------------------------------------
    // Sources and channels (the relay's settings)
    // ------------------------------------------------------------------

    /// Changes a source's connection cap or delivery and reloads the
    /// catalog; returns the source as stored.
    pub async fn update_source(
        &self,
        id: SourceId,
        patch: SourcePatch,
    ) -> Result<Source, GateError> {
        if patch.is_empty() {
            return Err(GateError::Invalid(
                "nothing to change: give a connection cap, a delivery, enabled, a user agent or headers".into(),
            ));
        }
        let mut patch = patch;
        if let Some(Some(ua)) = &patch.user_agent {
            let ua = crate::catalog::identity::check_user_agent(ua).map_err(GateError::Invalid)?;
            patch.user_agent = Some(Some(ua));
        }
        if let Some(headers) = &patch.headers {
            crate::catalog::identity::check_headers(headers).map_err(GateError::Invalid)?;
        }
        self.store.update_source(id, patch).await?;
        self.reload_catalog().await?;
        self.source(id).await
    }

    /// Replaces a live channel's backup URLs (empty: clears them) after
    /// checking them (see [`check_backup_urls`]), and reloads the catalog.
    pub async fn set_backups(&self, stream: StreamId, urls: Vec<String>) -> Result<(), GateError> {
        let catalog = self.catalog();
        match catalog.stream(stream) {
            None => {
                return Err(GateError::Invalid(format!(
                    "no stream {stream} (see `tvgate channel list`)"
                )))
            }
            Some(StreamRef::Live(i)) => {
                check_backup_urls(catalog.live[i].url(), &urls).map_err(GateError::Invalid)?
            }
            Some(StreamRef::Movie(_)) | Some(StreamRef::Episode(..)) => {
                return Err(GateError::Invalid(format!(
                    "stream {stream} is not a live channel; backups are for live channels"
                )))
            }
        }
        self.store.set_backups(stream, urls).await?;
        self.reload_catalog().await
    }
}

/// Cleans a raw credential the way login does (exposed for faces that echo it).
pub fn clean(raw: &str) -> Cow<'_, str> {
    credentials::clean_presented(raw)
}
