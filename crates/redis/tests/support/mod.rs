//! What the Redis tests share: the Redis to use (`TEST_REDIS_URL`, by
//! default the machine's at 127.0.0.1:6379), a key prefix of each test's
//! own (its keys are deleted when the test ends, also when it fails), and
//! a throw-away `redis-server` on an ephemeral port for tests that stop
//! and restart Redis.
//!
//! A test that cannot reach Redis fails and says so; it never passes
//! without having run.

#![allow(dead_code)]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tvgate_core::access::limiter::LimiterSettings;
use tvgate_redis::{Config, Node, ScanLimits, WhenUnavailable};

/// The shared Redis of the tests.
pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_string())
}

/// Keys under a prefix of one test's own, deleted when dropped.
pub struct Space {
    pub url: String,
    pub prefix: String,
}

impl Space {
    /// A fresh prefix on the shared Redis; fails the test, saying how to
    /// fix it, when that Redis does not answer.
    pub fn new() -> Space {
        let url = redis_url();
        let reachable = redis::Client::open(url.as_str())
            .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(2)))
            .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c));
        if let Err(e) = reachable {
            panic!(
                "these tests need Redis at {url} (set TEST_REDIS_URL to use another; `redis-server --daemonize yes` starts one): {e}"
            );
        }
        Space::on(&url)
    }

    /// A fresh prefix on the Redis at `url` (which must answer).
    pub fn on(url: &str) -> Space {
        let tag: u64 = rand::random();
        Space {
            url: url.to_string(),
            prefix: format!("tvgate-test:{tag:016x}:"),
        }
    }

    pub fn config(&self, when_unavailable: WhenUnavailable) -> Config {
        Config {
            url: self.url.clone(),
            prefix: self.prefix.clone(),
            when_unavailable,
            login_limits: LimiterSettings::default(),
            scan_limits: ScanLimits {
                per_minute: 3,
                block_secs: 600,
            },
        }
    }

    /// A node of this space (its own connection, subscription and ledger).
    pub async fn node(&self, when_unavailable: WhenUnavailable) -> (Node, Arc<AtomicU64>) {
        let ends = Arc::new(AtomicU64::new(0));
        let node = tvgate_redis::connect(self.config(when_unavailable), ends.clone())
            .await
            .expect("connect to Redis");
        (node, ends)
    }

    /// The keys under the prefix.
    pub fn keys(&self) -> Vec<String> {
        let Ok(mut conn) = redis::Client::open(self.url.as_str())
            .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(2)))
        else {
            return Vec::new();
        };
        redis::cmd("KEYS")
            .arg(format!("{}*", self.prefix))
            .query(&mut conn)
            .unwrap_or_default()
    }

    /// Runs a command on this space's Redis.
    pub fn query<T: redis::FromRedisValue>(&self, cmd: &mut redis::Cmd) -> T {
        let mut conn = redis::Client::open(self.url.as_str())
            .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(2)))
            .expect("connect");
        cmd.query(&mut conn).expect("query")
    }
}

impl Drop for Space {
    fn drop(&mut self) {
        // Twice: a node's background task may still write what it was
        // handed just before the test ended.
        for pass in 0..2 {
            if pass == 1 {
                std::thread::sleep(Duration::from_millis(300));
            }
            let keys = self.keys();
            if keys.is_empty() {
                continue;
            }
            if let Ok(mut conn) = redis::Client::open(self.url.as_str())
                .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(2)))
            {
                let _: Result<(), _> = redis::cmd("DEL").arg(keys).query(&mut conn);
            }
        }
    }
}

/// A `redis-server` of one test's own on a free loopback port, keeping
/// nothing on disk; stopped (by its PID) when dropped, also when the test
/// fails.
pub struct OwnRedis {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl OwnRedis {
    pub fn start() -> OwnRedis {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut own = OwnRedis {
            port,
            dir: tempfile::tempdir().expect("tempdir"),
            child: None,
        };
        own.resume();
        own
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server again on the same port (empty: it kept nothing).
    pub fn resume(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed (the tests need /usr/bin/redis-server)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        let url = self.url();
        loop {
            let ping = redis::Client::open(url.as_str())
                .and_then(|c| c.get_connection_with_timeout(Duration::from_millis(200)))
                .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c));
            if ping.is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "redis-server on port {} did not start",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the server (SIGKILL: as a crash).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Waits up to `limit` for `check`, polling every 10 ms; how long it took.
pub async fn within(limit: Duration, what: &str, mut check: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    start.elapsed()
}

/// The time now, in seconds (the ledger's `now`).
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
