//! Wiring: builds the store, the gate and the faces from the settings.
//! No business rules here.

use crate::settings::Settings;
use anyhow::{Context, Result};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use tvgate_core::access::limiter::{BucketLimit, LimiterSettings};
use tvgate_core::access::secrets::{KdfError, KdfParams, VerifierKey};
use tvgate_core::gate::{Gate, GateError, GateSettings, Kdf};
use tvgate_core::ports::Store;
use tvgate_http::{BuiltIns, FailedLoginStyle, HttpSettings, PublicUrl, UnlimitedExpiry};
use tvgate_store::StoreLocation;

/// Runs argon2 on one dedicated thread, so a 30 ms hash never holds up the
/// threads that answer players, a flood of first logins can use at most one
/// core, and the 19 MiB working memory of each hash is reused from one
/// allocator arena instead of piling up in one arena per blocking thread
/// (measured: 50 re-hashes on tokio's blocking pool grew RSS by 490 MB).
pub struct KdfThread {
    jobs: std::sync::Mutex<std::sync::mpsc::Sender<Box<dyn FnOnce() + Send>>>,
}

impl KdfThread {
    pub fn start() -> Result<KdfThread> {
        let (tx, rx) = std::sync::mpsc::channel::<Box<dyn FnOnce() + Send>>();
        std::thread::Builder::new()
            .name("tvgate-kdf".into())
            .spawn(move || {
                while let Ok(job) = rx.recv() {
                    job();
                }
            })
            .context("starting the password hashing thread")?;
        Ok(KdfThread {
            jobs: std::sync::Mutex::new(tx),
        })
    }

    async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Box<dyn FnOnce() + Send> = Box::new(move || {
            let _ = tx.send(f());
        });
        // std Mutex: held only to send.
        self.jobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(job)
            .ok()?;
        rx.await.ok()
    }
}

#[async_trait::async_trait]
impl Kdf for KdfThread {
    async fn hash(&self, password: String, params: KdfParams) -> Result<String, KdfError> {
        self.run(move || tvgate_core::access::secrets::hash_password(&password, params))
            .await
            .unwrap_or_else(|| Err(KdfError("the password hashing thread stopped".into())))
    }
    async fn verify(&self, password: String, phc: String) -> bool {
        self.run(move || tvgate_core::access::secrets::verify_password(&password, &phc))
            .await
            .unwrap_or(false)
    }
}

/// The gate's settings from the configuration.
pub fn gate_settings(s: &Settings) -> GateSettings {
    GateSettings {
        case_insensitive_usernames: s.case_insensitive_usernames,
        kdf: KdfParams {
            memory_kib: s.kdf_memory_kib,
            iterations: s.kdf_iterations,
            parallelism: s.kdf_parallelism,
        },
        import_kdf: KdfParams {
            memory_kib: s.import_kdf_memory_kib,
            iterations: s.import_kdf_iterations,
            parallelism: s.kdf_parallelism,
        },
        limiter: LimiterSettings {
            per_ip: BucketLimit {
                burst: s.login_failures_per_ip,
                drain_secs: s.login_failure_ip_drain_secs,
            },
            per_username: BucketLimit {
                burst: s.login_failures_per_username,
                drain_secs: s.login_failure_username_drain_secs,
            },
        },
        device_reset_cooldown_secs: i64::from(s.device_reset_cooldown_secs),
        shared_store: matches!(
            s.store_location(),
            Ok(tvgate_store::StoreLocation::Postgres(_))
        ),
        refresh_shrink_guard: tvgate_core::catalog::ShrinkGuard::from_fraction(
            s.refresh_shrink_guard,
        )
        .unwrap_or_default(),
    }
}

/// The faces' settings from the configuration (already validated).
pub fn http_settings(s: &Settings) -> Result<HttpSettings> {
    Ok(HttpSettings {
        public_url: if s.public_url.is_empty() {
            None
        } else {
            Some(PublicUrl::parse(&s.public_url).map_err(anyhow::Error::msg)?)
        },
        alternate_urls: s
            .alternate_url_list()
            .map(PublicUrl::parse)
            .collect::<Result<_, _>>()
            .map_err(anyhow::Error::msg)?,
        timezone: s
            .timezone
            .parse()
            .map_err(|_| anyhow::anyhow!("bad timezone {}", s.timezone))?,
        failed_login: FailedLoginStyle::parse(&s.failed_login_response)
            .unwrap_or(FailedLoginStyle::Xtream),
        message: s.message.clone(),
        unlimited_expiry: if s.unlimited_exp_date == "far_future" {
            UnlimitedExpiry::FarFuture
        } else {
            UnlimitedExpiry::Null
        },
        limit_policy: if s.connection_limit_policy == "newest_wins" {
            tvgate_core::ledger::LimitPolicy::NewestWins
        } else {
            tvgate_core::ledger::LimitPolicy::Refuse
        },
        admission_wait: std::time::Duration::from_millis(s.admission_wait_ms),
        lease_ttl_secs: s.lease_ttl_secs,
        stream_denials: tvgate_http::slate::StreamDenials::parse(&s.stream_denials)
            .unwrap_or(tvgate_http::slate::StreamDenials::Auto),
        relay_linger: std::time::Duration::from_secs(u64::from(s.relay_linger_secs)),
        viewer_stall: std::time::Duration::from_secs(u64::from(s.viewer_stall_secs)),
        vod_pause: std::time::Duration::from_secs(u64::from(s.vod_pause_secs)),
        upstream: tvgate_relay::UpstreamConfig {
            stall_timeout: std::time::Duration::from_millis(s.upstream_stall_ms),
            give_up_after: std::time::Duration::from_secs(u64::from(s.upstream_give_up_secs)),
            primary_recheck: std::time::Duration::from_secs(u64::from(s.primary_recheck_secs)),
            keyframe_timeout: std::time::Duration::from_secs(u64::from(s.upstream_keyframe_secs)),
            ..tvgate_relay::UpstreamConfig::default()
        },
        hls_idle_window_secs: s.hls_idle_window_secs,
        hls_token_ttl_secs: s.hls_token_ttl_secs.max(10),
        hls_segment_secs: s.hls_segment_secs,
        hls_window_segments: s.hls_window_segments,
        stalker: tvgate_http::stalker::StalkerSettings {
            enabled: s.stalker_portal,
            login_required: s.stalker_login_required,
            scan_unknown_per_minute: s.stalker_unknown_macs_per_minute,
            scan_block_secs: s.stalker_scan_block_secs,
            ..tvgate_http::stalker::StalkerSettings::default()
        },
        denial_log_days: s.denial_log_days,
        source_files_dir: Some(s.source_files_dir()),
        source_refresh_hours: s.source_refresh_hours,
        trusted_proxies: tvgate_http::client_addr::TrustedProxies {
            networks: tvgate_formats::cidr::CidrList::parse(&s.trusted_proxies)?,
            header: tvgate_http::client_addr::ForwardedHeader::parse(&s.trusted_proxy_header)
                .unwrap_or_default(),
        },
        egress: egress_guard(s)?,
        conn_limits: tvgate_http::conn::ConnLimits {
            header_timeout: std::time::Duration::from_secs(u64::from(
                s.request_header_timeout_secs,
            )),
            body_timeout: std::time::Duration::from_secs(u64::from(s.request_body_timeout_secs)),
            max_header_bytes: s.max_request_header_bytes as usize,
            per_address: s.max_connections_per_address,
        },
        ..HttpSettings::default()
    })
}

/// The server's SSRF guard: public addresses and `allowed_source_networks`.
pub fn egress_guard(s: &Settings) -> Result<tvgate_relay::EgressGuard> {
    Ok(tvgate_relay::EgressGuard::public_only(
        tvgate_formats::cidr::CidrList::parse(&s.allowed_source_networks)?,
    ))
}

/// Connects the node to the Redis of `ledger_url`: the app's ledger
/// becomes the shared one (its ends and evictions wake this node's
/// streaming bodies through `lease_ends`), and the gate's failed-login
/// limiter and the Stalker scan limiter share what they count; what other
/// nodes share is applied by a task of its own. An unreachable Redis is an
/// error naming it (without its password) unless `ledger_unavailable` is
/// `admit_local`.
pub async fn share_through_redis(settings: &Settings, app: &mut tvgate_http::App) -> Result<()> {
    let when_unavailable = tvgate_redis::WhenUnavailable::parse(&settings.ledger_unavailable)
        .unwrap_or(tvgate_redis::WhenUnavailable::Refuse);
    let config = tvgate_redis::Config {
        url: settings.ledger_url.clone(),
        prefix: settings.ledger_key_prefix.clone(),
        when_unavailable,
        login_limits: gate_settings(settings).limiter,
        scan_limits: tvgate_redis::ScanLimits {
            per_minute: settings.stalker_unknown_macs_per_minute,
            block_secs: settings.stalker_scan_block_secs,
        },
    };
    let node = tvgate_redis::connect(config, app.lease_ends.clone()).await?;
    app.ledger = node.ledger.clone();
    app.gate.share_limits(node.limits.clone());
    app.stalker.scan.share(node.limits.clone());
    let (gate, stalker, clock) = (app.gate.clone(), app.stalker.clone(), app.clock.clone());
    let mut incoming = node.incoming;
    tokio::spawn(async move {
        while let Some(limit) = incoming.recv().await {
            match limit {
                tvgate_core::access::share::SharedLimit::ScanBlocked { ip, until } => {
                    if stalker.scan.block(ip, until, clock()) {
                        tracing::warn!(%ip, until, "address blocked as a MAC scan on another node");
                    }
                }
                other => gate.apply_shared_limit(&other),
            }
        }
    });
    tracing::info!(
        url = %tvgate_formats::redact_url(&settings.ledger_url),
        prefix = %settings.ledger_key_prefix,
        ledger_unavailable = %settings.ledger_unavailable,
        "connection ledger and login limits shared through Redis"
    );
    Ok(())
}

/// Reads the verifier key, creating it (mode 0600) on first start.
pub fn load_or_create_key(path: &Path) -> Result<VerifierKey> {
    if let Ok(text) = std::fs::read_to_string(path) {
        let hex = text.trim();
        let mut key = [0u8; 32];
        if hex.len() != 64 {
            anyhow::bail!("verifier key {} must hold 64 hex digits", path.display());
        }
        for (i, byte) in key.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[i * 2..i * 2 + 2], 16)
                .with_context(|| format!("verifier key {} is not hex", path.display()))?;
        }
        return Ok(VerifierKey::from_bytes(key));
    }
    let key = VerifierKey::generate();
    let hex: String = key.bytes().iter().map(|b| format!("{b:02x}")).collect();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("creating verifier key {}", path.display()))?;
    writeln!(file, "{hex}").with_context(|| format!("writing verifier key {}", path.display()))?;
    file.sync_all()
        .with_context(|| format!("writing verifier key {}", path.display()))?;
    Ok(key)
}

/// Opens the store `store_url` names (SQLite in the data directory when
/// it is empty). A store that cannot be opened is an error naming it, the
/// password redacted; there is no fallback to another store.
pub async fn open_store(settings: &Settings) -> Result<Arc<dyn Store>> {
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("creating data directory {}", settings.data_dir.display()))?;
    let files = settings.source_files_dir();
    std::fs::create_dir_all(&files).with_context(|| format!("creating {}", files.display()))?;
    match settings.store_location()? {
        StoreLocation::Sqlite(path) => {
            let store = tvgate_store::open_sqlite(&path)
                .await
                .with_context(|| format!("opening {}", path.display()))?;
            Ok(Arc::new(store))
        }
        StoreLocation::Postgres(url) => {
            // The error names the URL (redacted) already.
            let pool = usize::try_from(settings.store_pool_size).unwrap_or(usize::MAX);
            let store = tvgate_store::open_postgres(&url, pool)
                .await
                .context("opening the store")?;
            Ok(Arc::new(store))
        }
    }
}

/// Opens the store and the gate. On a shared store, a node whose verifier
/// key is not the first node's is refused with what to do about it.
pub async fn open_gate(settings: &Settings) -> Result<Arc<Gate>> {
    let store = open_store(settings).await?;
    let key_path = settings.verifier_key_path();
    let key = load_or_create_key(&key_path)?;
    let gate = match Gate::open(
        store,
        key,
        Arc::new(KdfThread::start()?),
        gate_settings(settings),
    )
    .await
    {
        Ok(gate) => gate,
        Err(GateError::KeyMismatch { ours, recorded }) => anyhow::bail!(
            "the verifier key {} (fingerprint {}…) is not the one the store's first node \
             recorded ({}…): copy the key file from the first node to {} on this one \
             (docs/security.md)",
            key_path.display(),
            &ours[..12.min(ours.len())],
            &recorded[..12.min(recorded.len())],
            key_path.display()
        ),
        Err(e) => return Err(anyhow::Error::new(e).context("loading lines and catalog")),
    };
    Ok(Arc::new(gate))
}

/// The importer the console and the admin API run (the CLI's
/// `sources::refresh`, in the background): set on `App::importer`.
pub fn importer(
    gate: Arc<Gate>,
    settings: &Settings,
    egress: tvgate_relay::EgressGuard,
) -> Arc<dyn tvgate_http::admin::importer::SourceImporter> {
    Arc::new(crate::sources::Importer {
        gate,
        data_dir: settings.data_dir.clone(),
        egress,
    })
}

/// A looping built-in channel.
struct LoopChannel(Arc<tvgate_relay::loop_source::LoopClip>);

impl tvgate_http::state::LiveSource for LoopChannel {
    fn open(&self) -> futures::stream::BoxStream<'static, bytes::Bytes> {
        Box::pin(self.0.stream())
    }
}

/// The built-in sources: `loop:demo` (the bundled clip as an endless live
/// channel) and `clip:demo` (the clip as a file, for the demo's movie and
/// episodes).
pub fn builtins() -> Result<BuiltIns> {
    let bytes = tvgate_relay::loop_source::demo_clip();
    let clip = tvgate_relay::loop_source::LoopClip::parse(bytes.clone())
        .context("parsing the bundled demo clip")?;
    let mut b = BuiltIns::default();
    b.loops
        .insert("demo".to_string(), Arc::new(LoopChannel(Arc::new(clip))));
    b.clips.insert("demo.ts".to_string(), bytes);
    Ok(b)
}
