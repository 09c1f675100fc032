//! The application state every handler receives, and the face settings.

use crate::metrics::Metrics;
use std::sync::Arc;
use tvgate_core::catalog::UpstreamIdentity;
use tvgate_core::gate::Gate;
use tvgate_core::ids::SourceId;
use tvgate_core::UnixTime;

/// How a failed login (unknown user or wrong password) is answered on
/// `player_api.php`. Real panels differ (protocols.md §1.2.2); players react
/// differently to each, so the operator chooses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailedLoginStyle {
    /// HTTP 200 with `{"user_info":{"auth":0}}` (Xtream Codes v2, the default).
    Xtream,
    /// HTTP 401 with the same body (Dispatcharr, m3u-editor).
    Unauthorized,
    /// HTTP 403 with the same body (tuliprox's default).
    Forbidden,
    /// HTTP 404 with an empty page (XUI.one / XC_VM).
    NotFound,
}

impl FailedLoginStyle {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "xtream" | "200" => Some(FailedLoginStyle::Xtream),
            "401" | "unauthorized" => Some(FailedLoginStyle::Unauthorized),
            "403" | "forbidden" => Some(FailedLoginStyle::Forbidden),
            "404" | "not_found" | "notfound" => Some(FailedLoginStyle::NotFound),
            _ => None,
        }
    }
}

/// How an unlimited line's `exp_date` is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnlimitedExpiry {
    /// `null`, as Xtream Codes does (pyxtream crashes on it).
    Null,
    /// A date far in the future (2100-01-01), as most emulators do.
    FarFuture,
}

/// The externally reachable address players are told about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl {
    pub scheme: String,
    pub host: String,
    pub port: u16,
}

impl PublicUrl {
    /// Parses `http(s)://host[:port][/]`.
    pub fn parse(s: &str) -> Result<PublicUrl, String> {
        let (scheme, rest) = s
            .split_once("://")
            .ok_or_else(|| format!("public URL {s:?} has no scheme (http:// or https://)"))?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(format!("public URL {s:?}: scheme must be http or https"));
        }
        let authority = rest.trim_end_matches('/');
        if authority.contains('/') {
            return Err(format!("public URL {s:?}: sub-paths are not supported"));
        }
        let default_port = if scheme == "https" { 443 } else { 80 };
        let (host, port) = split_host_port(authority, default_port)
            .ok_or_else(|| format!("public URL {s:?}: bad host or port"))?;
        Ok(PublicUrl { scheme, host, port })
    }

    /// `scheme://host[:port]` with the port only when it is not the default.
    pub fn base(&self) -> String {
        let default = if self.scheme == "https" { 443 } else { 80 };
        if self.port == default {
            format!("{}://{}", self.scheme, self.host)
        } else {
            format!("{}://{}:{}", self.scheme, self.host, self.port)
        }
    }
}

fn split_host_port(authority: &str, default_port: u16) -> Option<(String, u16)> {
    if authority.is_empty() {
        return None;
    }
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if after.is_empty() => default_port,
            None => return None,
        };
        return Some((format!("[{host}]"), port));
    }
    match authority.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => Some((h.to_string(), p.parse().ok()?)),
        Some(_) => None,
        None => Some((authority.to_string(), default_port)),
    }
}

/// Settings of the faces.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// What players are told the server is; `None`: the request's Host header.
    pub public_url: Option<PublicUrl>,
    /// Other addresses of the server, shown in the portal's login details
    /// (for subscribers whose ISP's DNS blocks the main one).
    pub alternate_urls: Vec<PublicUrl>,
    /// IANA zone advertised in `server_info` and used for EPG date strings.
    pub timezone: chrono_tz::Tz,
    pub failed_login: FailedLoginStyle,
    /// Message of the day in `user_info.message` for active lines.
    pub message: String,
    pub unlimited_expiry: UnlimitedExpiry,
    /// What happens when a line is at its connection limit.
    pub limit_policy: tvgate_core::ledger::LimitPolicy,
    /// How long a newcomer waits for a slot that is being released.
    pub admission_wait: std::time::Duration,
    /// Lease time-to-live; the serving body renews it every second (so a
    /// lease ended by the operator stops its stream within a second).
    pub lease_ttl_secs: u32,
    /// How a refused stream is answered: a status with a text body, or a
    /// short video slate that shows the reason (`crate::slate`).
    pub stream_denials: crate::slate::StreamDenials,
    /// How long a relayed channel's upstream stays open after its last viewer.
    pub relay_linger: std::time::Duration,
    /// A live viewer whose socket takes no data for this long while data
    /// waits for it is frozen: its stream ends and its slot is freed
    /// (`crate::frozen`). Zero: never.
    pub viewer_stall: std::time::Duration,
    /// How long a film's viewer may pause (its socket taking nothing)
    /// before it is ended as frozen. Zero: never.
    pub vod_pause: std::time::Duration,
    /// Timeouts, backoff and chunking of upstream connections.
    pub upstream: tvgate_relay::UpstreamConfig,
    /// An HLS viewer's slot ends after this long without a playlist or
    /// segment request; 0: three target durations, within 6–60 s.
    pub hls_idle_window_secs: u32,
    /// Life of the signed links to segments and keys in a proxied playlist.
    pub hls_token_ttl_secs: u32,
    /// Memory for recent HLS segments shared between viewers of a channel.
    pub hls_cache_bytes: usize,
    /// Duration aimed at per segment when a TS channel is cut into live
    /// HLS (seconds).
    pub hls_segment_secs: u32,
    /// Segments listed at least in a live HLS playlist cut here.
    pub hls_window_segments: u32,
    /// Time limit of one upstream request (an HLS playlist or segment).
    pub upstream_timeout: std::time::Duration,
    /// The Stalker/Ministra portal (MAG boxes).
    pub stalker: crate::stalker::StalkerSettings,
    /// Days the denial log keeps a refusal (0: forever).
    pub denial_log_days: u32,
    /// Hours between scheduled refreshes of each enabled source (0: off).
    pub source_refresh_hours: u32,
    /// How often the schedule looks for due sources.
    pub source_refresh_check: std::time::Duration,
    /// The only directory whose files the console and the API may add as
    /// sources (`None`: URLs only); see `gate::check_web_location`.
    pub source_files_dir: Option<std::path::PathBuf>,
    /// The proxies whose forwarding header names the client
    /// (`crate::client_addr`); empty: the socket's peer is the client.
    pub trusted_proxies: crate::client_addr::TrustedProxies,
    /// Where upstream connections may go (the SSRF guard; default: public
    /// addresses only). Sources, backups and streams added from the web
    /// are checked against it when added, and every connection when made.
    pub egress: tvgate_relay::EgressGuard,
    /// Time and size limits of every connection and the cap per address
    /// (`crate::conn`).
    pub conn_limits: crate::conn::ConnLimits,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            public_url: None,
            alternate_urls: Vec::new(),
            timezone: chrono_tz::UTC,
            failed_login: FailedLoginStyle::Xtream,
            message: String::new(),
            unlimited_expiry: UnlimitedExpiry::Null,
            limit_policy: tvgate_core::ledger::LimitPolicy::Refuse,
            admission_wait: std::time::Duration::from_secs(3),
            lease_ttl_secs: 30,
            stream_denials: crate::slate::StreamDenials::Auto,
            relay_linger: std::time::Duration::from_secs(5),
            viewer_stall: std::time::Duration::from_secs(5),
            vod_pause: std::time::Duration::from_secs(300),
            upstream: tvgate_relay::UpstreamConfig::default(),
            hls_idle_window_secs: 0,
            hls_token_ttl_secs: 300,
            hls_cache_bytes: 64 << 20,
            hls_segment_secs: 4,
            hls_window_segments: 6,
            upstream_timeout: std::time::Duration::from_secs(15),
            stalker: crate::stalker::StalkerSettings::default(),
            denial_log_days: 30,
            source_files_dir: None,
            trusted_proxies: Default::default(),
            egress: tvgate_relay::EgressGuard::default(),
            conn_limits: crate::conn::ConnLimits::default(),
            source_refresh_hours: 24,
            source_refresh_check: std::time::Duration::from_secs(60),
        }
    }
}

/// The clock faces read (a parameter, so tests can move time).
pub type Clock = Arc<dyn Fn() -> UnixTime + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(|| chrono::Utc::now().timestamp())
}

/// A built-in live channel (the demo's looping clip): each call opens an
/// independent, endless byte stream for one viewer.
pub trait LiveSource: Send + Sync {
    fn open(&self) -> futures::stream::BoxStream<'static, bytes::Bytes>;
}

/// A built-in finite file (the demo's movie and episodes).
pub type FileSource = bytes::Bytes;

/// Built-in sources by name: `loop:NAME` (live) and `clip:NAME` (files).
#[derive(Default, Clone)]
pub struct BuiltIns {
    pub loops: std::collections::HashMap<String, Arc<dyn LiveSource>>,
    pub clips: std::collections::HashMap<String, FileSource>,
}

/// Shared state of every handler.
#[derive(Clone)]
pub struct App {
    pub gate: Arc<Gate>,
    pub settings: Arc<HttpSettings>,
    pub metrics: Arc<Metrics>,
    pub clock: Clock,
    pub builtins: Arc<BuiltIns>,
    /// Who holds which connection slot.
    pub ledger: Arc<dyn tvgate_core::ledger::Ledger>,
    /// One upstream per live channel, shared by its viewers.
    pub hub: tvgate_relay::Hub,
    /// Upstream connections open per source, against each source's cap.
    pub caps: tvgate_relay::SourceCaps,
    /// The HTTP client for upstreams (live TS, HLS, movies and episodes; one
    /// pool) of sources without an identity of their own.
    pub client: reqwest::Client,
    /// The clients of sources with a user agent or headers of their own
    /// ([`App::client_for_source`]).
    pub identity_clients: Arc<IdentityClients>,
    /// Proxied HLS: token key, upstream URLs behind tokens, segment cache.
    pub hls: Arc<crate::deliver::hls::HlsState>,
    /// Live HLS cut from TS channels: one segmenter per channel watched
    /// in HLS (`crate::deliver::segmented`).
    pub segmenters: tvgate_relay::Segmenters,
    /// Stalker portal sessions, scan limiter and link key.
    pub stalker: Arc<crate::stalker::StalkerState>,
    /// The operator console's sessions (`crate::admin::session`).
    pub admin_sessions: Arc<crate::admin::session::Sessions>,
    /// The denial log's queue (`crate::refusals`).
    pub refusals: Arc<crate::refusals::RefusalLog>,
    /// Subscriber portal sessions.
    pub portal: Arc<crate::portal::Sessions>,
    /// Bumped whenever a lease is ended from outside (a person here; with
    /// a shared ledger also an admission or a person on any node), so
    /// streaming bodies ask [`tvgate_core::ledger::Ledger::was_ended`] at
    /// once instead of waiting for their next renewal.
    pub lease_ends: Arc<std::sync::atomic::AtomicU64>,
    /// Lease ends that could not finish where their guard dropped
    /// (`crate::slots`).
    pub releases: Arc<crate::slots::Releases>,
    /// The streaming bodies watched for frozen viewers (`crate::frozen`).
    pub watchdog: Arc<crate::frozen::Watchdog>,
    /// The binary's source importer (`None`: refreshes cannot be started
    /// from the web).
    pub importer: Option<Arc<dyn crate::admin::importer::SourceImporter>>,
    /// The last refresh job of each source started from the web.
    pub refreshes: Arc<crate::admin::importer::Refreshes>,
    /// The dashboard's per-minute samples and lines' timelines (`crate::stats`).
    pub stats: Arc<crate::stats::Stats>,
}

/// tvgate's own user agent, sent to sources that set none.
pub const OWN_USER_AGENT: &str = concat!("tvgate/", env!("CARGO_PKG_VERSION"));

/// A source's identity as request headers: its user agent (if set) and
/// extra headers, the extra values marked sensitive (hyper never prints
/// them). Core checked them when they were set; one that no longer
/// converts is skipped with a warning naming it (never its value).
pub fn upstream_headers(identity: &UpstreamIdentity) -> reqwest::header::HeaderMap {
    use reqwest::header::{HeaderName, HeaderValue, USER_AGENT};
    let mut map = reqwest::header::HeaderMap::new();
    if let Some(ua) = identity.user_agent.as_deref() {
        match HeaderValue::from_str(ua) {
            Ok(v) => {
                map.insert(USER_AGENT, v);
            }
            Err(_) => tracing::warn!("a source's user agent cannot be sent; tvgate's own is used"),
        }
    }
    for h in &identity.headers {
        let name = HeaderName::from_bytes(h.name.as_bytes());
        let value = HeaderValue::from_str(&h.value);
        match (name, value) {
            (Ok(name), Ok(mut value)) => {
                value.set_sensitive(true);
                map.append(name, value);
            }
            _ => {
                tracing::warn!(header = %h.name, "a source's request header cannot be sent; skipped")
            }
        }
    }
    map
}

/// The upstream HTTP client for requests made as `identity`: every
/// connection checked by `egress` (redirect hops included), the identity's
/// headers on every request and every redirect hop.
pub fn upstream_client(
    egress: &tvgate_relay::EgressGuard,
    identity: &UpstreamIdentity,
) -> reqwest::Client {
    egress
        .client_builder()
        .connect_timeout(std::time::Duration::from_secs(5))
        .user_agent(OWN_USER_AGENT)
        .default_headers(upstream_headers(identity))
        .build()
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "upstream HTTP client settings refused; using defaults");
            reqwest::Client::new()
        })
}

/// One upstream client per distinct source identity (sources with none
/// share [`App::client`]), built on first use. Bounded by the identities
/// operators set, a handful; a changed identity gets a new client and the
/// old one is dropped when the catalog no longer names it.
#[derive(Default)]
pub struct IdentityClients {
    // std Mutex: never held across an await.
    by_identity: std::sync::Mutex<std::collections::HashMap<UpstreamIdentity, reqwest::Client>>,
}

impl App {
    /// The client for requests to `source`'s provider: with its user agent
    /// and extra headers, if it has any.
    pub fn client_for_source(&self, source: SourceId) -> reqwest::Client {
        let catalog = self.gate.catalog();
        let Some(settings) = catalog.source(source) else {
            return self.client.clone();
        };
        if settings.identity.is_empty() {
            return self.client.clone();
        }
        let mut clients = self
            .identity_clients
            .by_identity
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(c) = clients.get(&settings.identity) {
            return c.clone();
        }
        // Forget the clients of identities no source has any more.
        clients.retain(|id, _| catalog.sources().iter().any(|s| &s.identity == id));
        let client = upstream_client(&self.settings.egress, &settings.identity);
        clients.insert(settings.identity.clone(), client.clone());
        client
    }

    /// The client for requests of `stream` (its source's, see
    /// [`App::client_for_source`]).
    pub fn client_for_stream(&self, stream: tvgate_core::ids::StreamId) -> reqwest::Client {
        let catalog = self.gate.catalog();
        match catalog.stream(stream) {
            Some(r) => {
                let (source, _) = catalog.source_cap(r);
                drop(catalog);
                self.client_for_source(source)
            }
            None => self.client.clone(),
        }
    }

    pub fn new(gate: Arc<Gate>, settings: HttpSettings, builtins: BuiltIns) -> App {
        let client = upstream_client(&settings.egress, &UpstreamIdentity::default());
        let hls = Arc::new(crate::deliver::hls::HlsState::new(
            gate.token_key(),
            settings.hls_cache_bytes,
        ));
        let stalker = Arc::new(crate::stalker::StalkerState::new(
            &settings.stalker,
            gate.token_key(),
        ));
        let segmenters =
            tvgate_relay::Segmenters::new(crate::deliver::segmented::segmenter_config(&settings));
        App {
            client,
            identity_clients: Arc::default(),
            hls,
            segmenters,
            stalker,
            admin_sessions: Arc::new(crate::web::Sessions::stored(
                gate.clone(),
                tvgate_core::ports::SessionFace::Console,
            )),
            portal: Arc::new(crate::web::Sessions::stored(
                gate.clone(),
                tvgate_core::ports::SessionFace::Portal,
            )),
            gate,
            metrics: Arc::new(Metrics::default()),
            clock: system_clock(),
            builtins: Arc::new(builtins),
            ledger: Arc::new(tvgate_core::ledger::local::LocalLedger::new()),
            hub: tvgate_relay::Hub::with_config(tvgate_relay::HubConfig::new(
                settings.relay_linger,
            )),
            caps: tvgate_relay::SourceCaps::new(),
            refusals: Arc::default(),
            lease_ends: Arc::default(),
            releases: Arc::default(),
            watchdog: Arc::default(),
            importer: None,
            refreshes: Arc::default(),
            stats: Arc::default(),
            settings: Arc::new(settings),
        }
    }

    pub fn now(&self) -> UnixTime {
        (self.clock)()
    }

    /// The public address for this request: configured, else the scheme
    /// of the listener it came in through and the host and port of its
    /// `Host` header (the port is the scheme's default when `Host` names
    /// none): the address the player used.
    pub fn public_url_for(&self, caller: &crate::access::Caller) -> PublicUrl {
        if let Some(p) = &self.settings.public_url {
            return p.clone();
        }
        let (scheme, default_port) = if caller.arrival.tls {
            ("https", 443)
        } else {
            ("http", 80)
        };
        let host = caller
            .host
            .as_ref()
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost");
        let (host, port) = split_host_port(host, default_port)
            .unwrap_or_else(|| ("localhost".to_string(), default_port));
        PublicUrl {
            scheme: scheme.to_string(),
            host,
            port,
        }
    }
}
