//! The command line: `serve`, `demo`, `line` (also `user`, its old name), `device`, `source`, `channel`, `doctor`.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "tvgate",
    version,
    about = "IPTV access server: Xtream Codes API, M3U and XMLTV, with precise and safe authorization"
)]
pub struct Cli {
    #[command(flatten)]
    pub common: Common,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every subcommand takes.
#[derive(Debug, Args)]
pub struct Common {
    /// Data directory (database and verifier key); overrides `data_dir`.
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// TOML configuration file (also `TVGATE_CONFIG`).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The store: sqlite://PATH or postgres://USER:PASSWORD@HOST:PORT/DATABASE;
    /// overrides `store_url` (prefer `TVGATE_STORE_URL` for a password).
    #[arg(long, global = true, value_name = "URL")]
    pub store: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve {
        /// Address to listen on, e.g. 0.0.0.0:8080; overrides `listen`.
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
        /// The connection ledger shared by several nodes, e.g.
        /// redis://10.0.0.5:6379; overrides `ledger_url` (docs/redis.md).
        #[arg(long, value_name = "URL")]
        ledger: Option<String>,
        #[command(flatten)]
        tls: TlsFlags,
    },
    /// Run the server with a ready demo: a subscriber, channels that play, a movie, a series and a guide.
    Demo {
        /// Address to listen on (port 0 picks a free one).
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
        /// Print the login details as one JSON object.
        #[arg(long)]
        json: bool,
        /// The demo subscriber's password (generated when not given).
        #[arg(long)]
        password: Option<String>,
        #[command(flatten)]
        tls: TlsFlags,
    },
    /// Manage subscriber lines (`user` is the old name of this command and still works).
    #[command(subcommand, alias = "user")]
    Line(LineCommand),
    /// Device binding of lines: bound devices, reset, audit log (docs/devices.md).
    #[command(subcommand)]
    Device(DeviceCommand),
    /// Manage catalog and guide sources.
    #[command(subcommand)]
    Source(SourceCommand),
    /// Operators of the console and their API tokens (docs/admin-api.md).
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Inspect the catalog.
    #[command(subcommand)]
    Channel(ChannelCommand),
    /// Find out why a player says "Failed to Authorize": checks typing, DNS,
    /// the connection, the line (an Xtream login, an M3U link, or a Stalker
    /// portal as a MAG box with --mac) and a stream, names the cause, and
    /// writes a support report (docs/doctor.md). Exit code: 0 works, 10 credentials,
    /// 11 subscription, 12 connection limit, 13 device binding, 14 DNS
    /// blocking, 15 server unreachable, 2 unusable input.
    Doctor(DoctorArgs),
}

/// The HTTPS listener's flags of `serve` and `demo` (docs/deploy.md).
#[derive(Debug, Clone, Default, Args)]
pub struct TlsFlags {
    /// Also serve HTTPS on this address, e.g. 0.0.0.0:8443; overrides `tls_listen`.
    #[arg(long, value_name = "ADDR")]
    pub tls_listen: Option<String>,
    /// The certificate (PEM, with its intermediates); overrides `tls_cert_file`.
    #[arg(long, value_name = "FILE")]
    pub tls_cert: Option<String>,
    /// The certificate's private key (PEM); overrides `tls_key_file`.
    #[arg(long, value_name = "FILE")]
    pub tls_key: Option<String>,
}

/// `tvgate doctor`: what a subscriber has, and how to check it.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// One pasted line from the welcome e-mail: a get.php link,
    /// "server user pass", "server/user/pass", http://host:port/user/pass/,
    /// or a portal URL with a MAC.
    #[arg(value_name = "LINE")]
    pub line: Option<String>,
    /// The server address (http://host:port).
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    #[arg(long, short = 'u')]
    pub username: Option<String>,
    /// The password (also `TVGATE_DOCTOR_PASSWORD`, which keeps it out of the
    /// shell history). Never printed: every output redacts it.
    #[arg(
        long,
        short = 'p',
        env = "TVGATE_DOCTOR_PASSWORD",
        hide_env_values = true
    )]
    pub password: Option<String>,
    /// An M3U link (get.php?username=...&password=...&type=..., or any playlist URL).
    #[arg(long, value_name = "URL")]
    pub m3u: Option<String>,
    /// The MAC the box or app shows: sent as a MAG box (portal) or an
    /// Xtream app (`mac=`) sends it, and named in the report.
    #[arg(long)]
    pub mac: Option<String>,
    /// The device id an Xtream app shows when it is not a MAC (sent as `device_id=`).
    #[arg(long, value_name = "ID")]
    pub device_id: Option<String>,
    /// A MAG box's serial number (sent to a portal as `sn`; only when given).
    #[arg(long, value_name = "SN")]
    pub serial: Option<String>,
    /// The user agent to log in with (a common player's by default).
    #[arg(long, value_name = "UA", default_value = tvgate_doctor::run::DEFAULT_USER_AGENT)]
    pub user_agent: String,
    /// Also ask this DNS server (repeatable), side by side with the system's.
    #[arg(long = "resolver", value_name = "IP[:PORT]")]
    pub resolvers: Vec<String>,
    /// A DNS-over-HTTPS endpoint to ask (repeatable; default: well-known public ones).
    #[arg(long = "doh", value_name = "URL")]
    pub doh: Vec<String>,
    /// Use this DNS server in place of the system's resolver (what the
    /// internet provider's resolver would be).
    #[arg(long, value_name = "IP:PORT")]
    pub system_resolver: Option<String>,
    /// An extra trusted certificate (PEM), for a corporate network or a test.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Print the report as JSON (docs/doctor.schema.json) instead of text.
    #[arg(long)]
    pub json: bool,
    /// Also write the support report to FILE (Markdown when it ends in .md).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Deadline of each network step, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub timeout: u64,
    /// The device, for the report (e.g. "Firestick 4K").
    #[arg(long)]
    pub device: Option<String>,
    /// The app and its version, for the report (e.g. "IPTV Smarters Pro 4.0").
    #[arg(long)]
    pub app: Option<String>,
    /// The exact error the player showed.
    #[arg(long, default_value = tvgate_doctor::run::DEFAULT_ERROR)]
    pub error: String,
}

/// Fields of a line that `add` and `set` take.
#[derive(Debug, Args, Default)]
pub struct LineFields {
    /// Simultaneous connections allowed (0: unlimited).
    #[arg(long, value_name = "N")]
    pub max_connections: Option<u32>,
    /// At the limit: `refuse` the newcomer, or `newest-wins` (end the oldest
    /// connection); `default` follows the server's `connection_limit_policy`.
    #[arg(long, value_name = "refuse|newest-wins|default")]
    pub limit_policy: Option<String>,
    /// Expiry date (YYYY-MM-DD, end of that day UTC, or a full RFC 3339 time), or `never`.
    #[arg(long, value_name = "DATE|never")]
    pub expires: Option<String>,
    /// active, disabled or banned.
    #[arg(long, value_name = "STATUS")]
    pub status: Option<String>,
    /// Mark the line as a trial (true/false).
    #[arg(long, value_name = "BOOL")]
    pub trial: Option<bool>,
    /// Allowed output formats, e.g. `ts,m3u8`.
    #[arg(long, value_name = "LIST")]
    pub formats: Option<String>,
    /// Operator note.
    #[arg(long)]
    pub note: Option<String>,
    /// Categories (ids or names) the line may see, comma-separated; `all` for everything.
    #[arg(long, value_name = "LIST")]
    pub package: Option<String>,
    /// How many devices may be bound to the line (0: binding off, the default).
    #[arg(long, value_name = "N")]
    pub device_limit: Option<u32>,
    /// `auto`: a new device binds itself while a place is free; `operator`:
    /// only `tvgate device add` registers devices.
    #[arg(long, value_name = "auto|operator")]
    pub device_enrolment: Option<String>,
    /// Address ranges the line may be used from by players that are not a
    /// bound device (comma-separated CIDR, e.g. 192.0.2.0/24); `none` removes the lock.
    #[arg(long, value_name = "CIDR,...|none")]
    pub ip_lock: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum DeviceCommand {
    /// Show a line's device rules and bound devices.
    List {
        username: String,
        #[arg(long)]
        json: bool,
    },
    /// Register a device for a line (give exactly one identifier).
    Add {
        username: String,
        /// A MAC in any format (00:1A:79:AA:BB:CC, 00-1a-79-aa-bb-cc, 001A79AABBCC).
        #[arg(long, group = "identifier")]
        mac: Option<String>,
        /// A set-top box's serial number (or firmware device id).
        #[arg(long, group = "identifier")]
        serial: Option<String>,
        /// The device id an Xtream player sends (`device_id=` or `X-Device-Id`).
        #[arg(long = "player-id", group = "identifier")]
        player_id: Option<String>,
        /// A name the subscriber recognises ("Living room").
        #[arg(long, default_value = "")]
        label: String,
        #[arg(long)]
        json: bool,
    },
    /// Remove one device (its id is in `tvgate device list USER`).
    Remove { username: String, id: i64 },
    /// Unbind every device of a line: the next device binds on its next contact.
    Reset { username: String },
    /// Show the audit log (binds, resets, refusals, changes), newest first.
    Audit {
        /// Only this line.
        username: Option<String>,
        /// At most this many entries.
        #[arg(long, default_value_t = tvgate_core::gate::DEFAULT_AUDIT_LIMIT)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum LineCommand {
    /// Create a line (a password is generated when none is given).
    Add {
        username: String,
        #[arg(long)]
        password: Option<String>,
        #[command(flatten)]
        fields: LineFields,
        #[arg(long)]
        json: bool,
    },
    /// List lines.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one line.
    Show {
        username: String,
        #[arg(long)]
        json: bool,
    },
    /// Change fields of a line.
    Set {
        username: String,
        #[command(flatten)]
        fields: LineFields,
        #[arg(long)]
        json: bool,
    },
    /// Set a new password (generated when none is given).
    Passwd {
        username: String,
        #[arg(long)]
        password: Option<String>,
    },
    /// Suspend a line.
    Disable { username: String },
    /// Re-activate a line.
    Enable { username: String },
    /// Block a line.
    Ban { username: String },
    /// Extend a line's subscription.
    Extend {
        username: String,
        /// Days to add (from the current expiry, or from today if it has passed).
        #[arg(long, conflicts_with = "until")]
        days: Option<u32>,
        /// New expiry date (YYYY-MM-DD).
        #[arg(long)]
        until: Option<String>,
    },
    /// Delete a line.
    Delete { username: String },
    /// Create or update many lines from a CSV file (header: `username` and any of `password,max_connections,expires,status,limit_policy,is_trial,note`).
    Import {
        file: PathBuf,
        /// Write generated passwords to this CSV file instead of standard output.
        #[arg(long, value_name = "FILE")]
        passwords_out: Option<PathBuf>,
    },
    /// Create COUNT lines named PREFIX001, PREFIX002, ... with generated passwords (printed once as CSV); taken names are skipped.
    Bulk {
        /// How many lines (1 to 1000).
        #[arg(long)]
        count: u32,
        /// The username prefix, e.g. hotel-.
        #[arg(long)]
        prefix: String,
        /// Valid for this many days; without it the lines never expire.
        #[arg(long)]
        days: Option<u32>,
        #[arg(long, default_value_t = 1)]
        max_connections: u32,
        /// Mark the lines as trials.
        #[arg(long)]
        trial: bool,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Write every line as CSV (no passwords), in the columns `line import` reads.
    Export {
        /// The file to write; standard output when omitted.
        file: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an operator; the generated password is printed once.
    Add { name: String },
    /// Give an operator a new generated password, printed once.
    Passwd { name: String },
    /// Make an API token for an operator, printed once (only its hash is kept).
    Token {
        /// The operator who owns the token.
        name: String,
        /// What the token is for (shown in `tvgate admin list`).
        #[arg(long, default_value = "api")]
        label: String,
    },
    /// Revoke an API token by its id (see `tvgate admin list`).
    Revoke { id: i64 },
    /// List operators and their tokens.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum SourceCommand {
    /// Add a source and import it: `m3u FILE|URL`, `xmltv FILE|URL`, or
    /// `xtream SERVER_URL --username U --password P`.
    Add {
        /// m3u, xmltv or xtream.
        kind: String,
        /// A file path or an http(s) URL (for xtream, the server's address).
        location: String,
        #[arg(long)]
        name: Option<String>,
        /// The Xtream account's username (xtream only).
        #[arg(long)]
        username: Option<String>,
        /// The Xtream account's password (xtream only; stored, never shown
        /// back). From the environment, it stays out of the shell history.
        #[arg(long, env = "TVGATE_XTREAM_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        /// The provider's cap on simultaneous connections to this source (0: unlimited).
        #[arg(long, value_name = "N", default_value_t = 0)]
        max_connections: u32,
        /// Send players a redirect to the source URL instead of relaying the stream.
        #[arg(long)]
        redirect: bool,
    },
    /// Change a source's connection cap, delivery, upstream identity (user agent, request headers), or an Xtream account's credentials.
    Set {
        id: i64,
        /// The User-Agent sent on every request to this source (the relay,
        /// HLS, films, refreshes); "" for tvgate's own.
        #[arg(long, value_name = "UA")]
        user_agent: Option<String>,
        /// An extra request header `Name: value`, sent on every request to
        /// this source (repeat for more; replaces every header set before).
        /// Values are never shown back.
        #[arg(long = "header", value_name = "NAME: VALUE")]
        headers: Vec<String>,
        /// Read the extra headers from FILE, one `Name: value` a line
        /// (keeps tokens out of the process list); replaces every header
        /// set before.
        #[arg(long, value_name = "FILE", conflicts_with = "headers")]
        header_file: Option<PathBuf>,
        /// Remove every extra request header.
        #[arg(long, conflicts_with_all = ["headers", "header_file"])]
        clear_headers: bool,
        /// The provider's cap on simultaneous connections to this source
        /// (0: unlimited; for an Xtream account, 0 uses the account's own).
        #[arg(long, value_name = "N")]
        max_connections: Option<u32>,
        /// `proxy` (tvgate relays the stream) or `redirect` (players get a 302 to the source URL).
        #[arg(long, value_name = "proxy|redirect")]
        delivery: Option<String>,
        /// A new username for an Xtream account (used from the next refresh).
        #[arg(long)]
        username: Option<String>,
        /// A new password for an Xtream account (used from the next refresh).
        #[arg(long, env = "TVGATE_XTREAM_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
    /// List sources and their last refresh.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Re-import one source (by id) or all.
    Refresh {
        id: Option<i64>,
        /// Apply the refresh even when it removes more of the source's
        /// entries than refresh_shrink_guard allows (a held refresh is
        /// applied this way; needs an ID).
        #[arg(long, requires = "id")]
        accept_shrink: bool,
    },
    /// Show a source's items to players again.
    Enable { id: i64 },
    /// Hide a source's items from players (they stay stored; no refresh needed to enable it again).
    Disable { id: i64 },
    /// Remove a source and everything it brought.
    Remove { id: i64 },
}

#[derive(Debug, Subcommand)]
pub enum ChannelCommand {
    /// List live channels, movies and episodes.
    List {
        #[arg(long)]
        json: bool,
        /// List the streams switched off for players instead (`tvgate channel enable ID`).
        #[arg(long)]
        disabled: bool,
    },
    /// Show a channel (movie, episode) to players again.
    Enable {
        /// The stream id (see `tvgate channel list`).
        id: u32,
    },
    /// Hide a channel (movie, episode) from players; a refresh keeps it hidden.
    Disable {
        /// The stream id (see `tvgate channel list`).
        id: u32,
    },
    /// Set a live channel's backup URLs, tried in order when its own fails
    /// (replaces the list); without URLs, show them.
    Backup {
        /// The channel's stream id (see `tvgate channel list`).
        id: u32,
        /// Backup URLs, in the order to try them.
        #[arg(value_name = "URL", conflicts_with = "clear")]
        urls: Vec<String>,
        /// Remove every backup of the channel.
        #[arg(long)]
        clear: bool,
        #[arg(long)]
        json: bool,
    },
}
