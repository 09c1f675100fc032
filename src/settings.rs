//! Every setting, defined once. The table below is the operator reference:
//! `docs/configuration.md` and `tvgate.example.toml` are generated from it
//! (a test fails when they are stale).
//!
//! Sources, lowest first: built-in defaults, the TOML file (`--config`),
//! `TVGATE_*` environment variables, command-line flags. The environment
//! comes in as a map, so tests never touch the process environment.

use serde::Deserialize;
use std::collections::HashMap;
use std::path::PathBuf;

/// The whole configuration surface.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub listen: String,
    pub tls_listen: String,
    pub tls_cert_file: String,
    pub tls_key_file: String,
    pub data_dir: PathBuf,
    pub store_url: String,
    pub store_pool_size: u32,
    pub public_url: String,
    pub alternate_urls: String,
    pub timezone: String,
    pub failed_login_response: String,
    pub unlimited_exp_date: String,
    pub message: String,
    pub case_insensitive_usernames: bool,
    pub kdf_memory_kib: u32,
    pub kdf_iterations: u32,
    pub kdf_parallelism: u32,
    pub import_kdf_memory_kib: u32,
    pub import_kdf_iterations: u32,
    pub login_failures_per_ip: u32,
    pub login_failure_ip_drain_secs: u32,
    pub login_failures_per_username: u32,
    pub login_failure_username_drain_secs: u32,
    pub verifier_key_file: String,
    pub connection_limit_policy: String,
    pub admission_wait_ms: u64,
    pub lease_ttl_secs: u32,
    pub stream_denials: String,
    pub device_reset_cooldown_secs: u32,
    pub denial_log_days: u32,
    pub source_refresh_hours: u32,
    pub refresh_shrink_guard: f64,
    pub stalker_portal: bool,
    pub stalker_login_required: bool,
    pub stalker_unknown_macs_per_minute: u32,
    pub stalker_scan_block_secs: u32,
    pub relay_linger_secs: u32,
    pub viewer_stall_secs: u32,
    pub vod_pause_secs: u32,
    pub upstream_stall_ms: u64,
    pub upstream_give_up_secs: u32,
    pub primary_recheck_secs: u32,
    pub upstream_keyframe_secs: u32,
    pub hls_idle_window_secs: u32,
    pub hls_token_ttl_secs: u32,
    pub hls_segment_secs: u32,
    pub hls_window_segments: u32,
    pub worker_threads: usize,
    pub log_format: String,
    pub ledger_url: String,
    pub ledger_key_prefix: String,
    pub ledger_unavailable: String,
    pub trusted_proxies: String,
    pub trusted_proxy_header: String,
    pub allowed_source_networks: String,
    pub request_header_timeout_secs: u32,
    pub request_body_timeout_secs: u32,
    pub max_request_header_bytes: u32,
    pub max_connections_per_address: u32,
}

/// The PEM files of the HTTPS listener (`tls_cert_file`, `tls_key_file`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// One row of the reference: name, default as written in TOML, meaning.
pub struct SettingDoc {
    pub name: &'static str,
    pub default: &'static str,
    pub doc: &'static str,
}

/// The reference table. Keep in the order of the struct.
pub const SETTINGS: &[SettingDoc] = &[
    SettingDoc { name: "listen", default: "\"127.0.0.1:8080\"", doc: "Address and port of the plain HTTP listener (`tls_listen` adds HTTPS beside it). Loopback by default: nothing listens beyond what the operator configures; set `0.0.0.0:8080` to serve a network." },
    SettingDoc { name: "tls_listen", default: "\"\"", doc: "Address and port of the HTTPS listener beside `listen` (e.g. `0.0.0.0:8443`), served by the same server: a player that came over HTTPS is answered with `https` links and this port, one that came over plain HTTP with `http` links and the plain port (unless `public_url` is set). Needs `tls_cert_file` and `tls_key_file`. Empty: no HTTPS." },
    SettingDoc { name: "tls_cert_file", default: "\"\"", doc: "PEM file with the HTTPS certificate, then its intermediates (e.g. Let's Encrypt's `fullchain.pem`). Read at start and again on SIGHUP (`systemctl reload tvgate`): new connections get the new certificate, open ones keep going; a file that does not load is logged and the old certificate kept." },
    SettingDoc { name: "tls_key_file", default: "\"\"", doc: "PEM file with the certificate's private key: PKCS#8 (`BEGIN PRIVATE KEY`), RSA (`BEGIN RSA PRIVATE KEY`) or SEC1 (`BEGIN EC PRIVATE KEY`), not encrypted. Reloaded with the certificate." },
    SettingDoc { name: "data_dir", default: "\"tvgate-data\"", doc: "Directory of the SQLite database (`tvgate.sqlite`) and the verifier key." },
    SettingDoc { name: "store_url", default: "\"\"", doc: "Where lines, sources and the catalog are stored: empty for SQLite in `data_dir` (one machine, nothing to set up), `sqlite://PATH` for another SQLite file, or `postgres://USER:PASSWORD@HOST:PORT/DATABASE` for a PostgreSQL database that several tvgate nodes share (docs/postgres.md). Also `--store`. A URL that cannot be used stops tvgate with a message naming it (the password shown as `***`); it never falls back to SQLite." },
    SettingDoc { name: "store_pool_size", default: "16", doc: "Connections a node keeps at most to a PostgreSQL store (logins and lists never wait on the database; writes, refreshes and the console do). Count it against the server's `max_connections` for every node, plus one each for change notifications. Ignored for SQLite." },
    SettingDoc { name: "public_url", default: "\"\"", doc: "How players reach this server, e.g. `http://tv.example.net:8080`: used for `server_info` and the URLs inside playlists, whichever listener a request came in through. Empty: taken from each request (the host and port of its `Host` header, `https` over `tls_listen`)." },
    SettingDoc { name: "alternate_urls", default: "\"\"", doc: "Other addresses of this server, comma-separated (`http://tv2.example.net:8080, http://203.0.113.5:8080`): a second domain, a bare IP. The subscriber portal lists them under the login details for subscribers whose internet provider's DNS blocks the main address. Empty: none." },
    SettingDoc { name: "timezone", default: "\"UTC\"", doc: "IANA time zone advertised in `server_info`; EPG date strings and catch-up start times are in this zone. UTC avoids client mistakes." },
    SettingDoc { name: "failed_login_response", default: "\"xtream\"", doc: "Answer to an unknown user or a wrong password on `player_api.php`: `xtream` (HTTP 200 `{\"user_info\":{\"auth\":0}}`), `401`, `403`, or `404` (XUI's fake page). Both causes always get the same bytes." },
    SettingDoc { name: "unlimited_exp_date", default: "\"null\"", doc: "`exp_date` of lines that never expire: `null` (as Xtream Codes) or `far_future` (2100-01-01; pyxtream and Hypnotix crash on null)." },
    SettingDoc { name: "message", default: "\"\"", doc: "Message of the day sent in `user_info.message` to active lines." },
    SettingDoc { name: "case_insensitive_usernames", default: "true", doc: "Usernames match regardless of case (and are unique by their case-folded form). Passwords always match exactly." },
    SettingDoc { name: "kdf_memory_kib", default: "19456", doc: "argon2id memory cost in KiB for new password hashes." },
    SettingDoc { name: "kdf_iterations", default: "2", doc: "argon2id passes for new password hashes." },
    SettingDoc { name: "kdf_parallelism", default: "1", doc: "argon2id lanes for new password hashes." },
    SettingDoc { name: "import_kdf_memory_kib", default: "4096", doc: "argon2id memory cost for `tvgate line import`, so 100,000 lines are hashed in minutes. Each imported line is re-hashed at the full cost above on its first successful login, in the background (one core at most). Set it to `kdf_memory_kib` to hash at full cost up front." },
    SettingDoc { name: "import_kdf_iterations", default: "1", doc: "argon2id passes for `tvgate line import` (see `import_kdf_memory_kib`)." },
    SettingDoc { name: "login_failures_per_ip", default: "20", doc: "Failed logins one client address may make in a burst before it is answered `rate_limited` unheard." },
    SettingDoc { name: "login_failure_ip_drain_secs", default: "30", doc: "Seconds for one failure of an address to be forgiven." },
    SettingDoc { name: "login_failures_per_username", default: "50", doc: "Failed logins for one username (from any address) in a burst; addresses that logged in to the line before are exempt, so an attack cannot lock a subscriber out." },
    SettingDoc { name: "login_failure_username_drain_secs", default: "60", doc: "Seconds for one failure of a username to be forgiven." },
    SettingDoc { name: "verifier_key_file", default: "\"\"", doc: "File holding the 32-byte key of the keyed password verifiers (docs/security.md). Empty: `DATA_DIR/verifier.key`, created on first start. Keep it out of database backups." },
    SettingDoc { name: "connection_limit_policy", default: "\"refuse\"", doc: "What a line at its connection limit gets: `refuse` (the newcomer is refused with the devices that hold the slots named) or `newest_wins` (the oldest connection is ended, same address and player first, then same address, as Xtream Codes does). A reconnect from the same address and player always replaces its own connection." },
    SettingDoc { name: "admission_wait_ms", default: "3000", doc: "Milliseconds a newcomer waits for a slot that is being released before it is refused, so changing channels never hits the limit." },
    SettingDoc { name: "lease_ttl_secs", default: "30", doc: "Time-to-live of a connection lease; the task serving the connection renews it every third of that. A lease that is not renewed (a crashed task) frees its slot after this long; a closed connection frees it at once." },
    SettingDoc { name: "stream_denials", default: "\"auto\"", doc: "How a refused live `.ts` request is answered: `auto` (a short MPEG-TS clip that shows the reason on screen when the client is a player, the HTTP status with a text body for browsers and tools), `slate` (the clip for every live TS request) or `status` (always the HTTP status). HLS, movies and playlists always get the status. See docs/denials.md." },
    SettingDoc { name: "device_reset_cooldown_secs", default: "86400", doc: "How often a subscriber may reset their own device binding (the next device then binds on its next contact); a reset within this many seconds is refused with the time left. The operator's `tvgate device reset` has no cooldown. See docs/devices.md." },
    SettingDoc { name: "denial_log_days", default: "30", doc: "Days the denial log (the console's and the API's refusals, the portal's recent refusals) keeps a refusal in the database; older ones are deleted at start and every hour. 0: kept forever. See docs/denials.md." },
    SettingDoc { name: "source_refresh_hours", default: "24", doc: "Hours between automatic re-imports of each enabled source (playlists and guides), counted from its last refresh; run in the background like a refresh started from the console. 0: only by hand (`tvgate source refresh`, the console, the API)." },
    SettingDoc { name: "refresh_shrink_guard", default: "0.3", doc: "The share of a source's entries (a guide's programmes) a refresh may remove before it is held instead of applied: a provider that answers half a list, an empty one or an account cut to a trial must not empty the catalog. A held refresh keeps the items stored before, shows its reason in `tvgate source list`, the console and the API, and is applied by the operator (`tvgate source refresh ID --accept-shrink`, the console's button, `POST /api/v1/sources/{id}/refresh?accept_shrink=true`). Between 0 and 1; 1: never hold. See docs/sources.md." },
    SettingDoc { name: "stalker_portal", default: "true", doc: "Serve the Stalker/Ministra portal for MAG boxes and emulators (`/portal.php`, `/c/portal.php`, `/server/load.php`, `/stalker_portal/...`); `false` answers 404 there. See docs/stalker.md." },
    SettingDoc { name: "stalker_login_required", default: "false", doc: "MAG boxes must also prove the line's username and password (`stb do_auth`) after the MAC identifies it." },
    SettingDoc { name: "stalker_unknown_macs_per_minute", default: "5", doc: "Distinct unknown MACs one address may try per minute before it is blocked as a MAC scan (0: no limit)." },
    SettingDoc { name: "stalker_scan_block_secs", default: "600", doc: "How long an address that scanned for MACs is blocked (logged once per block)." },
    SettingDoc { name: "relay_linger_secs", default: "5", doc: "Seconds a relayed channel's upstream connection stays open after its last viewer leaves, so zapping back is instant." },
    SettingDoc { name: "viewer_stall_secs", default: "5", doc: "Seconds a live viewer's connection may take no data while the channel has data for it before the viewer counts as frozen (a box that hung, a phone asleep, a stopped player): its stream is closed and its slot freed at once, counted in `/metrics` as `tvgate_leases_ended_total{cause=\"frozen\"}`. A slow viewer that still reads is moved to the live edge instead. 0: never (the kernel then ends such a connection after 30 s)." },
    SettingDoc { name: "vod_pause_secs", default: "300", doc: "Seconds a movie or episode may stay paused (the player reading nothing) and keep its slot; after that it is ended as frozen, like a live viewer after `viewer_stall_secs`. 0: never." },
    SettingDoc { name: "upstream_stall_ms", default: "5000", doc: "Milliseconds without a byte from a channel's upstream before the relay switches to the next source URL (the channel's backups, then the primary again)." },
    SettingDoc { name: "upstream_give_up_secs", default: "30", doc: "Seconds without good data from any of a channel's source URLs (reconnecting with backoff all along) before its viewers are disconnected." },
    SettingDoc { name: "primary_recheck_secs", default: "30", doc: "After a channel has failed over to a backup URL, its primary is probed in the background on one extra connection (within the source's `max_connections`; a failed probe waits longer before the next, 5 s doubling up to 2 min); once the primary has delivered clean packets for this many seconds the channel moves back to it at its next keyframe (PAT, PMT, then the keyframe, as a joining viewer starts), counted in `tvgate_upstream_returns_total`. 0: never move back (stay on the backup until it fails)." },
    SettingDoc { name: "upstream_keyframe_secs", default: "60", doc: "Seconds an upstream whose program has a video stream may send no keyframe before it counts as failed (`tvgate_upstream_failures_total{reason=\"no_keyframe\"}`) and the relay moves to the next source URL. 0: never." },
    SettingDoc { name: "hls_idle_window_secs", default: "0", doc: "Seconds after the last playlist or segment request at which an HLS viewer's connection slot is freed (HLS has no socket to watch). 0: three target durations of the channel's playlist, at least 6 s." },
    SettingDoc { name: "hls_token_ttl_secs", default: "300", doc: "Life of the signed links that replace segment and key URLs in a proxied HLS playlist (they carry no credentials and no upstream address; variant playlist links live a day, as players reload them all session)." },
    SettingDoc { name: "hls_segment_secs", default: "4", doc: "Seconds aimed at per segment when a channel tvgate relays as MPEG-TS (or a built-in one) is asked for as HLS (`/live/U/P/ID.m3u8`) and cut into a live playlist here, without transcoding: segments start at a keyframe, so they last from about this to the next keyframe. A channel that sends no keyframe for three times this long is cut there anyway (logged once). See docs/relay.md." },
    SettingDoc { name: "hls_window_segments", default: "6", doc: "Segments listed at least in such a live playlist (more while short segments span less than three target durations, as RFC 8216 asks). The segments that just left it are still served for a while; older ones get 404." },
    SettingDoc { name: "worker_threads", default: "0", doc: "Threads serving requests; 0 uses every core." },
    SettingDoc { name: "log_format", default: "\"text\"", doc: "`text` or `json` (one object per line on standard error)." },
    SettingDoc { name: "ledger_url", default: "\"\"", doc: "Where the connection ledger lives. Empty: in this process (one machine). `redis://[:PASSWORD@]HOST[:PORT][/DB]` (or `unix:///PATH`): in Redis, shared by every node of a deployment, so a line's connection limit holds across the nodes, a slot frees on every node the moment its viewer leaves, an eviction or an operator's end on one node cuts the stream on another at once, and failed-login and MAC-scan limits are one budget for all nodes. Also `serve --ledger URL`. See docs/redis.md." },
    SettingDoc { name: "ledger_key_prefix", default: "\"tvgate:\"", doc: "Put before every Redis key and channel tvgate uses, so several deployments can share one Redis: each its own prefix, every node of one deployment the same." },
    SettingDoc { name: "ledger_unavailable", default: "\"refuse\"", doc: "What a node does while Redis does not answer: `refuse` (no new connection is admitted: players get `ledger_unavailable`, HTTP 503, and retry; viewers already watching keep watching) or `admit_local` (new connections are admitted against the node's own ledger, so limits hold per node, not across the deployment, until Redis answers and takes the node's connections over). Also decides the start: with `refuse` an unreachable Redis stops it, with `admit_local` the node starts and says so once. See docs/redis.md." },
    SettingDoc { name: "trusted_proxies", default: "\"\"", doc: "Addresses or networks (CIDR, comma-separated: `127.0.0.1, 10.0.0.0/8, fd00::/8`) of the reverse proxies in front of tvgate. Only a connection from one of them may name the client in `trusted_proxy_header`; the client is then the rightmost address in it that is not itself a trusted proxy. From any other peer the header is ignored and the socket's address is the client, for failed-login limits, MAC-scan blocks, IP locks, the connection ledger and the logs. Trusted proxies are also exempt from `max_connections_per_address`. Empty: no proxy is trusted. See docs/security.md." },
    SettingDoc { name: "trusted_proxy_header", default: "\"x-forwarded-for\"", doc: "The header the `trusted_proxies` write the client's address in: `x-forwarded-for` (nginx's `$proxy_add_x_forwarded_for`, HAProxy's `option forwardfor`) or `forwarded` (RFC 7239, `for=`). Only this one is read: a proxy that appends to one passes a client's own copy of the other on untouched." },
    SettingDoc { name: "allowed_source_networks", default: "\"\"", doc: "Networks (CIDR, comma-separated) the server may fetch sources, backups, guides and streams from although they are not public: loopback, private ranges (10/8, 172.16/12, 192.168/16), CGNAT (100.64/10), link-local and the cloud metadata address (169.254.0.0/16), and their IPv6 counterparts (::1, fc00::/7, fe80::/10, IPv4-mapped). Checked on the addresses a name resolves to when each connection is made and at every redirect, so DNS rebinding and redirects cannot reach them. Empty: public addresses only. `tvgate source add/refresh` run by the operator on the command line fetches without this check. See docs/security.md." },
    SettingDoc { name: "request_header_timeout_secs", default: "10", doc: "Seconds a connection may take to send a request's headers, counted from when the server starts waiting for them (so also the idle time of a kept-alive connection between requests); a connection that takes longer is closed without an answer. Keeps slow or idle half-open connections (slowloris) from piling up." },
    SettingDoc { name: "request_body_timeout_secs", default: "30", doc: "Seconds a request's body (a form, JSON, an uploaded CSV) may take to arrive in full; a slower one is answered 408 and the connection closed." },
    SettingDoc { name: "max_request_header_bytes", default: "16384", doc: "Largest request line and headers accepted, in bytes (at least 4096); a larger request is answered 431. Bodies have their own limits: 2 MiB for forms and JSON, 32 MiB for a lines CSV import." },
    SettingDoc { name: "max_connections_per_address", default: "256", doc: "Open connections one client address may hold at once; the next is answered `429 Too Many Requests` (`too many connections from your address`, over TLS after the handshake) and closed. Counted by the socket's address, so a household or a carrier-grade NAT shares it: keep it well above what one address's players use. Trusted proxies are exempt. 0: no limit." },
];

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: "127.0.0.1:8080".into(),
            tls_listen: String::new(),
            tls_cert_file: String::new(),
            tls_key_file: String::new(),
            data_dir: PathBuf::from("tvgate-data"),
            store_url: String::new(),
            store_pool_size: 16,
            public_url: String::new(),
            alternate_urls: String::new(),
            timezone: "UTC".into(),
            failed_login_response: "xtream".into(),
            unlimited_exp_date: "null".into(),
            message: String::new(),
            case_insensitive_usernames: true,
            kdf_memory_kib: 19 * 1024,
            kdf_iterations: 2,
            kdf_parallelism: 1,
            import_kdf_memory_kib: 4096,
            import_kdf_iterations: 1,
            login_failures_per_ip: 20,
            login_failure_ip_drain_secs: 30,
            login_failures_per_username: 50,
            login_failure_username_drain_secs: 60,
            verifier_key_file: String::new(),
            connection_limit_policy: "refuse".into(),
            admission_wait_ms: 3000,
            lease_ttl_secs: 30,
            stream_denials: "auto".into(),
            device_reset_cooldown_secs: 86_400,
            denial_log_days: 30,
            source_refresh_hours: 24,
            refresh_shrink_guard: 0.3,
            stalker_portal: true,
            stalker_login_required: false,
            stalker_unknown_macs_per_minute: 5,
            stalker_scan_block_secs: 600,
            relay_linger_secs: 5,
            viewer_stall_secs: 5,
            vod_pause_secs: 300,
            upstream_stall_ms: 5000,
            upstream_give_up_secs: 30,
            primary_recheck_secs: 30,
            upstream_keyframe_secs: 60,
            hls_idle_window_secs: 0,
            hls_token_ttl_secs: 300,
            hls_segment_secs: 4,
            hls_window_segments: 6,
            worker_threads: 0,
            log_format: "text".into(),
            ledger_url: String::new(),
            ledger_key_prefix: "tvgate:".into(),
            ledger_unavailable: "refuse".into(),
            trusted_proxies: String::new(),
            trusted_proxy_header: "x-forwarded-for".into(),
            allowed_source_networks: String::new(),
            request_header_timeout_secs: 10,
            request_body_timeout_secs: 30,
            max_request_header_bytes: 16384,
            max_connections_per_address: 256,
        }
    }
}

/// Why the settings could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("configuration file: {0}")]
    File(#[from] toml::de::Error),
    #[error("{0}")]
    Invalid(String),
}

impl Settings {
    /// File first, then `TVGATE_*` variables on top.
    pub fn load(
        file: Option<&str>,
        env: &HashMap<String, String>,
    ) -> Result<Settings, SettingsError> {
        let mut table: toml::Table = match file {
            Some(text) => text.parse()?,
            None => toml::Table::new(),
        };
        for (key, raw) in env {
            let Some(name) = key.strip_prefix("TVGATE_") else {
                continue;
            };
            let name = name.to_ascii_lowercase();
            let Some(doc) = SETTINGS.iter().find(|d| d.name == name) else {
                // Read by the command line itself, not settings.
                if matches!(name.as_str(), "config" | "log" | "xtream_password") {
                    continue;
                }
                return Err(SettingsError::Invalid(format!(
                    "unknown setting in environment variable {key}"
                )));
            };
            // Numbers and booleans are typed by their default; everything else is a string.
            let value = if doc.default.starts_with('"') {
                toml::Value::String(raw.clone())
            } else {
                format!("v = {raw}")
                    .parse::<toml::Table>()
                    .ok()
                    .and_then(|mut t| t.remove("v"))
                    .ok_or_else(|| {
                        SettingsError::Invalid(format!("{key}={raw:?} is not a valid value"))
                    })?
            };
            table.insert(name, value);
        }
        let settings: Settings = table.try_into()?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), SettingsError> {
        if self.timezone.parse::<chrono_tz::Tz>().is_err() {
            return Err(SettingsError::Invalid(format!(
                "timezone {:?} is not an IANA zone name",
                self.timezone
            )));
        }
        if tvgate_http::FailedLoginStyle::parse(&self.failed_login_response).is_none() {
            return Err(SettingsError::Invalid(format!(
                "failed_login_response {:?}: use xtream, 401, 403 or 404",
                self.failed_login_response
            )));
        }
        if !matches!(self.unlimited_exp_date.as_str(), "null" | "far_future") {
            return Err(SettingsError::Invalid(format!(
                "unlimited_exp_date {:?}: use null or far_future",
                self.unlimited_exp_date
            )));
        }
        self.tls_files()?;
        if !self.public_url.is_empty() {
            tvgate_http::PublicUrl::parse(&self.public_url).map_err(SettingsError::Invalid)?;
        }
        for url in self.alternate_url_list() {
            tvgate_http::PublicUrl::parse(url).map_err(SettingsError::Invalid)?;
        }
        if !matches!(
            self.connection_limit_policy.as_str(),
            "refuse" | "newest_wins"
        ) {
            return Err(SettingsError::Invalid(format!(
                "connection_limit_policy {:?}: use refuse or newest_wins",
                self.connection_limit_policy
            )));
        }
        if tvgate_core::catalog::ShrinkGuard::from_fraction(self.refresh_shrink_guard).is_none() {
            return Err(SettingsError::Invalid(format!(
                "refresh_shrink_guard {}: use a share between 0 and 1 (0.3: a refresh may remove 30 % of a source's entries; 1: never hold)",
                self.refresh_shrink_guard
            )));
        }
        if self.lease_ttl_secs < 3 {
            return Err(SettingsError::Invalid(
                "lease_ttl_secs must be at least 3".into(),
            ));
        }
        if tvgate_http::slate::StreamDenials::parse(&self.stream_denials).is_none() {
            return Err(SettingsError::Invalid(format!(
                "stream_denials {:?}: use auto, slate or status",
                self.stream_denials
            )));
        }
        if !(1..=60).contains(&self.hls_segment_secs) {
            return Err(SettingsError::Invalid(format!(
                "hls_segment_secs {}: use 1 to 60",
                self.hls_segment_secs
            )));
        }
        if !(1..=1000).contains(&self.hls_window_segments) {
            return Err(SettingsError::Invalid(format!(
                "hls_window_segments {}: use 1 to 1000",
                self.hls_window_segments
            )));
        }
        if self.upstream_stall_ms < 100 {
            return Err(SettingsError::Invalid(
                "upstream_stall_ms must be at least 100".into(),
            ));
        }
        if !self.ledger_url.is_empty() {
            tvgate_redis::check_url(&self.ledger_url).map_err(SettingsError::Invalid)?;
        }
        if tvgate_redis::WhenUnavailable::parse(&self.ledger_unavailable).is_none() {
            return Err(SettingsError::Invalid(format!(
                "ledger_unavailable {:?}: use refuse or admit_local",
                self.ledger_unavailable
            )));
        }
        if self.ledger_key_prefix.is_empty()
            || self.ledger_key_prefix.chars().any(char::is_whitespace)
        {
            return Err(SettingsError::Invalid(format!(
                "ledger_key_prefix {:?}: use a word without spaces, e.g. \"tvgate:\"",
                self.ledger_key_prefix
            )));
        }
        tvgate_store::StoreLocation::parse(&self.store_url, &self.database_path())
            .map_err(|e| SettingsError::Invalid(e.to_string()))?;
        if self.store_pool_size < 2 {
            return Err(SettingsError::Invalid(
                "store_pool_size must be at least 2".into(),
            ));
        }
        for (name, list) in [
            ("trusted_proxies", &self.trusted_proxies),
            ("allowed_source_networks", &self.allowed_source_networks),
        ] {
            tvgate_formats::cidr::CidrList::parse(list)
                .map_err(|e| SettingsError::Invalid(format!("{name}: {e}")))?;
        }
        if tvgate_http::client_addr::ForwardedHeader::parse(&self.trusted_proxy_header).is_none() {
            return Err(SettingsError::Invalid(format!(
                "trusted_proxy_header {:?}: use x-forwarded-for or forwarded",
                self.trusted_proxy_header
            )));
        }
        if self.request_header_timeout_secs == 0 || self.request_body_timeout_secs == 0 {
            return Err(SettingsError::Invalid(
                "request_header_timeout_secs and request_body_timeout_secs must be at least 1"
                    .into(),
            ));
        }
        if self.max_request_header_bytes < 4096 {
            return Err(SettingsError::Invalid(
                "max_request_header_bytes must be at least 4096".into(),
            ));
        }
        if !matches!(self.log_format.as_str(), "text" | "json") {
            return Err(SettingsError::Invalid(format!(
                "log_format {:?}: use text or json",
                self.log_format
            )));
        }
        Ok(())
    }

    /// The certificate and key files of the HTTPS listener; `None` when
    /// `tls_listen` is empty. Both files are needed with it, and neither
    /// means anything without it.
    pub fn tls_files(&self) -> Result<Option<TlsFiles>, SettingsError> {
        let (cert, key) = (self.tls_cert_file.trim(), self.tls_key_file.trim());
        if self.tls_listen.trim().is_empty() {
            if !cert.is_empty() || !key.is_empty() {
                return Err(SettingsError::Invalid(
                    "tls_cert_file and tls_key_file are set but tls_listen is empty: \
                     set tls_listen (e.g. 0.0.0.0:8443) to serve HTTPS"
                        .into(),
                ));
            }
            return Ok(None);
        }
        match (cert.is_empty(), key.is_empty()) {
            (false, false) => Ok(Some(TlsFiles {
                cert: PathBuf::from(cert),
                key: PathBuf::from(key),
            })),
            (true, _) => Err(SettingsError::Invalid(
                "tls_listen is set but tls_cert_file is empty: HTTPS needs a certificate".into(),
            )),
            (false, true) => Err(SettingsError::Invalid(
                "tls_listen is set but tls_key_file is empty: HTTPS needs the certificate's key"
                    .into(),
            )),
        }
    }

    /// The verifier key's file.
    pub fn verifier_key_path(&self) -> PathBuf {
        if self.verifier_key_file.is_empty() {
            self.data_dir.join("verifier.key")
        } else {
            PathBuf::from(&self.verifier_key_file)
        }
    }

    /// `alternate_urls` split at commas, blanks dropped.
    pub fn alternate_url_list(&self) -> impl Iterator<Item = &str> {
        self.alternate_urls
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
    }

    /// The SQLite file an empty `store_url` means.
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("tvgate.sqlite")
    }

    /// Where the store is (`store_url`, already validated).
    pub fn store_location(&self) -> Result<tvgate_store::StoreLocation, SettingsError> {
        tvgate_store::StoreLocation::parse(&self.store_url, &self.database_path())
            .map_err(|e| SettingsError::Invalid(e.to_string()))
    }

    /// The directory whose playlist and guide files the console and the API
    /// may add as sources: `sources/` in the data directory.
    pub fn source_files_dir(&self) -> PathBuf {
        self.data_dir.join("sources")
    }
}

/// `docs/configuration.md`, generated from [`SETTINGS`].
pub fn configuration_markdown() -> String {
    let mut out = String::from(
        "# Configuration\n\n<!-- Generated from src/settings.rs by `cargo test`; do not edit by hand. -->\n\n\
         Settings come from, lowest first: the defaults below, a TOML file (`--config FILE` or `TVGATE_CONFIG`), \
         environment variables named `TVGATE_` plus the setting in upper case (`TVGATE_LISTEN=0.0.0.0:8080`), \
         and the command-line flags (`--listen`, `--tls-listen`, `--tls-cert`, `--tls-key`, `--data-dir`, `--store`, `--ledger`). An unknown key in the file or the environment is an error.\n\n\
         | setting | default | meaning |\n|---|---|---|\n",
    );
    for d in SETTINGS {
        out.push_str(&format!(
            "| `{}` | `{}` | {} |\n",
            d.name,
            d.default,
            d.doc.replace('|', "\\|")
        ));
    }
    out
}

/// `tvgate.example.toml`, generated from [`SETTINGS`].
pub fn example_toml() -> String {
    let mut out = String::from("# tvgate configuration: every setting with its default.\n# Generated from src/settings.rs by `cargo test`; do not edit by hand.\n");
    for d in SETTINGS {
        out.push('\n');
        for line in wrap(d.doc, 78) {
            out.push_str("# ");
            out.push_str(&line);
            out.push('\n');
        }
        out.push_str(&format!("#{} = {}\n", d.name, d.default));
    }
    out
}

fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split_whitespace() {
        let last = lines.last_mut().map(|l| l.len()).unwrap_or(0);
        if last > 0 && last + 1 + word.len() > width {
            lines.push(String::new());
        }
        if let Some(line) = lines.last_mut() {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_file_and_environment() {
        let env: HashMap<String, String> = [
            ("TVGATE_LISTEN".to_string(), "0.0.0.0:9000".to_string()),
            ("TVGATE_KDF_ITERATIONS".to_string(), "3".to_string()),
            ("PATH".to_string(), "/bin".to_string()),
        ]
        .into();
        let s = Settings::load(
            Some("timezone = \"Europe/London\"\nlisten = \"127.0.0.1:1\""),
            &env,
        )
        .expect("valid");
        assert_eq!(s.listen, "0.0.0.0:9000", "environment wins over the file");
        assert_eq!(s.timezone, "Europe/London");
        assert_eq!(s.kdf_iterations, 3);
        assert_eq!(s.kdf_memory_kib, 19 * 1024);
    }

    #[test]
    fn typos_are_errors() {
        assert!(Settings::load(Some("lisen = \"x\""), &HashMap::new()).is_err());
        let env: HashMap<String, String> = [("TVGATE_LISEN".to_string(), "x".to_string())].into();
        assert!(Settings::load(None, &env).is_err());
        let env: HashMap<String, String> = [(
            "TVGATE_ALTERNATE_URLS".to_string(),
            "http://tv2.example:8080, ftp://nope".to_string(),
        )]
        .into();
        assert!(Settings::load(None, &env).is_err(), "a bad alternate URL");
        assert!(Settings::load(Some("timezone = \"Mars/Olympus\""), &HashMap::new()).is_err());
    }

    #[test]
    fn https_needs_its_address_certificate_and_key_together() {
        let load = |text: &str| Settings::load(Some(text), &HashMap::new());
        let s = load(
            "tls_listen = \"0.0.0.0:8443\"\ntls_cert_file = \"c.pem\"\ntls_key_file = \"k.pem\"",
        )
        .expect("complete");
        assert_eq!(
            s.tls_files().expect("valid"),
            Some(TlsFiles {
                cert: "c.pem".into(),
                key: "k.pem".into()
            })
        );
        assert_eq!(Settings::default().tls_files().expect("valid"), None);
        for (text, names) in [
            (
                "tls_listen = \"0.0.0.0:8443\"\ntls_key_file = \"k.pem\"",
                "tls_cert_file",
            ),
            (
                "tls_listen = \"0.0.0.0:8443\"\ntls_cert_file = \"c.pem\"",
                "tls_key_file",
            ),
            (
                "tls_cert_file = \"c.pem\"\ntls_key_file = \"k.pem\"",
                "tls_listen",
            ),
        ] {
            let e = load(text).expect_err(text).to_string();
            assert!(e.contains(names), "{text}: {e}");
        }
    }

    #[test]
    fn every_field_is_documented_with_its_real_default() {
        let mut text = String::new();
        for d in SETTINGS {
            text.push_str(&format!("{} = {}\n", d.name, d.default));
        }
        let from_docs: Settings = toml::from_str(&text).expect("documented defaults parse");
        assert_eq!(from_docs, Settings::default());
    }

    #[test]
    fn generated_docs_are_current() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        for (path, want) in [
            ("docs/configuration.md", configuration_markdown()),
            ("tvgate.example.toml", example_toml()),
        ] {
            let file = root.join(path);
            let have = std::fs::read_to_string(&file).unwrap_or_default();
            if have != want {
                if std::env::var_os("UPDATE_EXPECT").is_some() {
                    std::fs::write(&file, &want).expect("write generated doc");
                } else {
                    panic!("{path} is stale: run `UPDATE_EXPECT=1 cargo test generated_docs` and commit it");
                }
            }
        }
    }
}
