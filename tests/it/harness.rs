//! A real tvgate on an ephemeral loopback port, with its own data directory,
//! stopped when dropped; on SQLite in that directory ([`TestServer::start`])
//! or on a PostgreSQL database of its own ([`TestServer::start_postgres`],
//! the machine's server; see `tvgate_store::postgres::testing`); or the
//! real binary as a process of its own ([`ServeProcess`], for what only a
//! process shows: a node killed with SIGKILL, several nodes side by side).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tvgate::settings::Settings;
use tvgate_core::access::OutputFormats;
use tvgate_core::catalog::{Source, SourceKind};
use tvgate_core::gate::{Gate, InlineKdf, LineSpec};
use tvgate_core::ports::NewSource;
use tvgate_http::{App, HttpSettings};
pub use tvgate_store::postgres::testing::TestDatabase;

pub const NOW: i64 = 1_800_000_000;

pub struct TestServer {
    pub addr: SocketAddr,
    pub gate: Arc<Gate>,
    pub settings: Settings,
    pub clock: Arc<AtomicI64>,
    pub dir: tempfile::TempDir,
    pub ledger: Arc<dyn tvgate_core::ledger::Ledger>,
    pub hub: tvgate_relay::Hub,
    /// The HTTPS listener beside the plain one (`start_tls`).
    pub https: Option<TestHttps>,
    stop: CancellationToken,
    /// The PostgreSQL database, dropped after the server (last field).
    pub db: Option<std::sync::Arc<TestDatabase>>,
}

/// The HTTPS side of a test server: its address, the certificate it
/// presents (self-signed for 127.0.0.1 and localhost, made at start) and
/// the handle that replaces it.
pub struct TestHttps {
    pub addr: SocketAddr,
    pub cert_pem: String,
    pub cert: Arc<tvgate_http::tls::ServerCert>,
}

/// A self-signed certificate for 127.0.0.1 and localhost: (certificate
/// PEM, PKCS#8 key PEM).
pub fn test_cert() -> (String, String) {
    let c = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
        .expect("test certificate");
    (c.cert.pem(), c.key_pair.serialize_pem())
}

/// How long the test servers wait for a TLS handshake.
pub const TEST_HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

/// Settings for tests: a cheap KDF so creating lines is fast.
pub fn test_settings(dir: &std::path::Path) -> Settings {
    Settings {
        data_dir: dir.to_path_buf(),
        kdf_memory_kib: 64,
        kdf_iterations: 1,
        // Tests move the clock by days: no scheduled refresh runs beside
        // their own unless a test turns the schedule on.
        source_refresh_hours: 0,
        // The fake providers and upstreams of the tests listen on
        // loopback, which the SSRF guard refuses unless listed
        // (`tests/it/ssrf.rs` tests the guard with this list empty).
        allowed_source_networks: "127.0.0.0/8, ::1".into(),
        ..Settings::default()
    }
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut HttpSettings)) -> TestServer {
        let dir = tempfile::tempdir().expect("tempdir");
        Self::start_in(dir, tweak, true).await
    }

    /// A server with an HTTPS listener beside the plain one.
    pub async fn start_tls(tweak: impl FnOnce(&mut HttpSettings)) -> TestServer {
        let dir = tempfile::tempdir().expect("tempdir");
        Self::start_full(dir, tweak, true, true).await
    }

    pub async fn start_in(
        dir: tempfile::TempDir,
        tweak: impl FnOnce(&mut HttpSettings),
        case_insensitive: bool,
    ) -> TestServer {
        Self::start_full(dir, tweak, case_insensitive, false).await
    }

    async fn start_full(
        dir: tempfile::TempDir,
        tweak: impl FnOnce(&mut HttpSettings),
        case_insensitive: bool,
        tls: bool,
    ) -> TestServer {
        let mut settings = test_settings(dir.path());
        settings.case_insensitive_usernames = case_insensitive;
        Self::start_configured(dir, settings, tweak, None, tls).await
    }

    /// A node whose ledger and login limits are shared through the Redis
    /// at `url` under `prefix` (`ledger_url`, docs/redis.md).
    pub async fn start_on_redis(
        url: &str,
        prefix: &str,
        tweak: impl FnOnce(&mut HttpSettings),
    ) -> TestServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut settings = test_settings(dir.path());
        settings.ledger_url = url.to_string();
        settings.ledger_key_prefix = prefix.to_string();
        Self::start_configured(dir, settings, tweak, None, false).await
    }

    /// A server on a fresh PostgreSQL database of its own, which also
    /// listens for the changes other processes make (as `tvgate serve`
    /// does), so it sees what the CLI or another server writes at once.
    pub async fn start_postgres() -> TestServer {
        Self::start_postgres_with(|_| {}).await
    }

    pub async fn start_postgres_with(tweak: impl FnOnce(&mut HttpSettings)) -> TestServer {
        let db = std::sync::Arc::new(TestDatabase::create().await);
        let dir = tempfile::tempdir().expect("tempdir");
        Self::start_on(&db, dir, tweak).await
    }

    /// Another node on the database of `db` (its own data directory, the
    /// same verifier key, as a deployment copies it).
    pub async fn start_postgres_node(
        db: &std::sync::Arc<TestDatabase>,
        key_from: &TestServer,
    ) -> TestServer {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::copy(
            key_from.settings.verifier_key_path(),
            dir.path().join("verifier.key"),
        )
        .expect("copy the verifier key");
        Self::start_on(db, dir, |_| {}).await
    }

    async fn start_on(
        db: &std::sync::Arc<TestDatabase>,
        dir: tempfile::TempDir,
        tweak: impl FnOnce(&mut HttpSettings),
    ) -> TestServer {
        let mut settings = test_settings(dir.path());
        settings.store_url = db.url.clone();
        settings.store_pool_size = 4;
        Self::start_configured(dir, settings, tweak, Some(db.clone()), false).await
    }

    /// Stops this server and starts a new one on the same data directory
    /// and store (a restart).
    pub async fn restart(mut self) -> TestServer {
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("tempdir"));
        let settings = self.settings.clone();
        let db = self.db.take();
        let tls = self.https.is_some();
        drop(self);
        Self::start_configured(dir, settings, |_| {}, db, tls).await
    }

    async fn start_configured(
        dir: tempfile::TempDir,
        settings: Settings,
        tweak: impl FnOnce(&mut HttpSettings),
        db: Option<std::sync::Arc<TestDatabase>>,
        tls: bool,
    ) -> TestServer {
        let store = tvgate::startup::open_store(&settings).await.expect("store");
        let key = tvgate::startup::load_or_create_key(&settings.verifier_key_path()).expect("key");
        let gate = Gate::open(
            store,
            key,
            Arc::new(InlineKdf),
            tvgate::startup::gate_settings(&settings),
        )
        .await
        .expect("gate");
        let gate = Arc::new(gate);
        let mut http = tvgate::startup::http_settings(&settings).expect("http settings");
        tweak(&mut http);
        let mut app = App::new(gate.clone(), http, test_builtins());
        app.importer = Some(tvgate::startup::importer(
            gate.clone(),
            &settings,
            app.settings.egress.clone(),
        ));
        let clock = Arc::new(AtomicI64::new(NOW));
        let c = clock.clone();
        app.clock = Arc::new(move || c.load(Ordering::Relaxed));
        if !settings.ledger_url.is_empty() {
            tvgate::startup::share_through_redis(&settings, &mut app)
                .await
                .expect("the shared ledger");
        }
        let ledger = app.ledger.clone();
        let hub = app.hub.clone();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let stop = CancellationToken::new();
        if let Some(db) = &db {
            let before = listeners(&db.url).await;
            let sessions = (app.admin_sessions.clone(), app.portal.clone());
            tokio::spawn(tvgate::watch_store(gate.clone(), stop.clone(), move || {
                sessions.0.forget_all();
                sessions.1.forget_all();
            }));
            // Tests write right after the start and expect this server to
            // be told: wait (a little) until it listens.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
            while listeners(&db.url).await <= before && std::time::Instant::now() < deadline {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
        let (https, https_listener) = if tls {
            let (cert_pem, key_pem) = test_cert();
            let key = tvgate_http::tls::certified_key(cert_pem.as_bytes(), key_pem.as_bytes())
                .expect("test certificate loads");
            let cert = tvgate_http::tls::ServerCert::new(key);
            let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let addr = tcp.local_addr().expect("addr");
            let listener = tvgate_http::tls::HttpsListener::new(tcp, cert.clone())
                .expect("TLS settings")
                .with_handshake_timeout(TEST_HANDSHAKE_TIMEOUT);
            let https = TestHttps {
                addr,
                cert_pem,
                cert,
            };
            (Some(https), Some(listener))
        } else {
            (None, None)
        };
        tokio::spawn(tvgate_http::serve_with_tls(
            listener,
            https_listener,
            app,
            stop.clone(),
        ));
        TestServer {
            https,
            addr,
            gate,
            settings,
            clock,
            dir,
            ledger,
            hub,
            stop,
            db,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// A URL on the HTTPS listener (`start_tls`).
    pub fn https_url(&self, path: &str) -> String {
        let https = self
            .https
            .as_ref()
            .expect("a server started with start_tls");
        format!("https://{}{}", https.addr, path)
    }

    /// Creates a line with a known password.
    pub async fn add_line(
        &self,
        username: &str,
        password: &str,
        tweak: impl FnOnce(&mut LineSpec),
    ) {
        let mut spec = LineSpec::new(username);
        spec.password = Some(password.to_string());
        spec.expires_at = Some(NOW + 30 * 86_400);
        spec.allowed_formats = OutputFormats::DEFAULT;
        tweak(&mut spec);
        self.gate
            .create_line(spec, NOW - 86_400)
            .await
            .expect("create line");
    }

    /// Writes `text` to a file and imports it as a source.
    pub async fn add_source(
        &self,
        kind: SourceKind,
        name: &str,
        text: &str,
    ) -> (Source, tvgate::sources::RefreshReport) {
        let path: PathBuf = self.dir.path().join(name);
        std::fs::write(&path, text).expect("write source");
        let source = self
            .gate
            .add_source(NewSource {
                kind,
                location: path.to_string_lossy().into_owned(),
                name: name.into(),
                created_at: NOW,
                max_connections: 0,
                delivery: Default::default(),
            })
            .await
            .expect("insert source");
        let report = tvgate::sources::refresh(
            &self.gate,
            &source,
            self.dir.path(),
            tvgate::sources::quiet(),
        )
        .await
        .expect("refresh");
        (source, report)
    }

    /// The small catalog most tests use: two live channels in two
    /// categories, a movie and a two-episode series, with a guide.
    pub async fn with_catalog(&self) {
        let m3u = "#EXTM3U\n\
            #EXTINF:-1 tvg-id=\"news.t\" tvg-name=\"News One\" tvg-logo=\"http://logo/n.png\" group-title=\"News\",News One\nloop:demo?1\n\
            #EXTINF:-1 tvg-id=\"sport.t\" tvg-name=\"Sport One\" group-title=\"Sports\",Sport One\nhttp://127.0.0.1:9/upstream/sport.ts\n\
            #EXTINF:-1 tvg-type=\"movie\" group-title=\"Films\",A Film (2020)\nclip:demo.ts?m\n\
            #EXTINF:-1 group-title=\"Shows\",The Show S01E01\nhttp://127.0.0.1:9/show/e1.mkv\n\
            #EXTINF:-1 group-title=\"Shows\",The Show S01E02\nhttp://127.0.0.1:9/show/e2.mkv\n";
        self.add_source(SourceKind::M3u, "catalog.m3u", m3u).await;
        let mut xml = String::from("<?xml version=\"1.0\"?><tv><channel id=\"news.t\"><display-name>News One</display-name></channel>");
        for i in 0..6 {
            let start = NOW - 3600 + i * 1800;
            xml.push_str(&format!(
                "<programme start=\"{}\" stop=\"{}\" channel=\"news.t\"><title>Show {i} &amp; more</title><desc>Über {i}</desc></programme>",
                tvgate_formats::xmltv::format_time(start, 0),
                tvgate_formats::xmltv::format_time(start + 1800, 0)
            ));
        }
        xml.push_str("</tv>");
        self.add_source(SourceKind::Xmltv, "guide.xml", &xml).await;
    }
}

/// The real built-ins plus `loop:panic`, a channel whose upstream task
/// panics after its first chunk (to show a panic cannot leak a slot).
fn test_builtins() -> tvgate_http::BuiltIns {
    struct PanicSource;
    impl tvgate_http::state::LiveSource for PanicSource {
        fn open(&self) -> futures::stream::BoxStream<'static, bytes::Bytes> {
            use futures::StreamExt;
            let first = tvgate_relay::demo_clip().slice(..188 * 100);
            futures::stream::iter([Some(first), None])
                .then(|chunk| async move {
                    match chunk {
                        Some(c) => c,
                        None => {
                            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                            panic!("deliberate panic in an upstream task (test)")
                        }
                    }
                })
                .boxed()
        }
    }
    let mut b = tvgate::startup::builtins().expect("builtins");
    b.loops.insert("panic".into(), Arc::new(PanicSource));
    b
}

/// How many connections listen for changes on the database at `url`.
async fn listeners(url: &str) -> i64 {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect to the test database");
    tokio::spawn(connection);
    client
        .query_one(
            "SELECT COUNT(*) FROM pg_stat_activity
             WHERE datname = current_database() AND query = 'LISTEN tvgate_changes'",
            &[],
        )
        .await
        .expect("count listeners")
        .get(0)
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// GET and return (status, body).
pub async fn get(url: &str) -> (u16, String) {
    let r = client().get(url).send().await.expect("request");
    let status = r.status().as_u16();
    (status, r.text().await.expect("body"))
}

pub async fn get_json(url: &str) -> serde_json::Value {
    let (status, body) = get(url).await;
    assert_eq!(status, 200, "{url}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{url}: not JSON ({e}): {body}"))
}

/// Runs the real binary on `dir` with a cheap KDF: (exit code, stdout, stderr).
pub fn tvgate(dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    run_tvgate(dir, None, args)
}

/// Runs the real binary on `dir` and the store `store_url` names (given as
/// `TVGATE_STORE_URL`, as a deployment would, keeping the password out of
/// the command line).
pub fn tvgate_on(dir: &std::path::Path, store_url: &str, args: &[&str]) -> (i32, String, String) {
    run_tvgate(dir, Some(store_url), args)
}

/// `tvgate serve` as a process of its own (the real binary, as a
/// deployment runs it) on an ephemeral loopback port, on its data
/// directory `dir`. Its settings come from `TVGATE_…` variables (`env`,
/// over the cheap KDF of [`tvgate`]); its log, as JSON, goes to `serve.log`
/// in `dir`. Killed with SIGKILL when dropped, also when the test fails.
pub struct ServeProcess {
    pub addr: SocketAddr,
    /// Removed after the process is killed (`Drop` runs first).
    _dir: tempfile::TempDir,
    log: PathBuf,
    child: Option<std::process::Child>,
}

impl ServeProcess {
    /// Starts the process and waits (up to 30 s) until it listens; fails
    /// the test with its log when it exits first.
    pub async fn start(dir: tempfile::TempDir, env: &[(&str, &str)]) -> ServeProcess {
        let log = dir.path().join("serve.log");
        let file = std::fs::File::create(&log).expect("create serve.log");
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_tvgate"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path())
            .env("TVGATE_KDF_MEMORY_KIB", "64")
            .env("TVGATE_KDF_ITERATIONS", "1")
            .env("TVGATE_LOG_FORMAT", "json")
            .env("TVGATE_ALLOWED_SOURCE_NETWORKS", "127.0.0.0/8, ::1")
            .envs(env.iter().copied())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(file)
            .spawn()
            .expect("spawn tvgate serve");
        let mut node = ServeProcess {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            _dir: dir,
            log,
            child: Some(child),
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            if let Some(addr) = node.listening() {
                node.addr = addr;
                return node;
            }
            if let Some(status) = node
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "tvgate serve exited ({status}) before it listened:\n{}",
                    node.log()
                );
            }
            assert!(
                std::time::Instant::now() < deadline,
                "tvgate serve did not listen within 30 s:\n{}",
                node.log()
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// The address of the log's "tvgate listening" line.
    fn listening(&self) -> Option<SocketAddr> {
        let text = std::fs::read_to_string(&self.log).ok()?;
        text.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|v| v["fields"]["message"] == "tvgate listening")
            .and_then(|v| v["fields"]["addr"].as_str()?.parse().ok())
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// What the process logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL, as a crash: nothing of the process runs afterwards.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl ServeProcess {
    /// SIGKILL, and the data directory back, for a restart on it.
    pub fn crash(mut self) -> tempfile::TempDir {
        self.kill();
        let spare = tempfile::tempdir().expect("tempdir");
        std::mem::replace(&mut self._dir, spare)
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

fn run_tvgate(
    dir: &std::path::Path,
    store_url: Option<&str>,
    args: &[&str],
) -> (i32, String, String) {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_tvgate"));
    command
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env("TVGATE_KDF_MEMORY_KIB", "64")
        .env("TVGATE_KDF_ITERATIONS", "1");
    if let Some(url) = store_url {
        command.env("TVGATE_STORE_URL", url);
    }
    let out = command.output().expect("run tvgate");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
