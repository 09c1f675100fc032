//! Several nodes sharing one Redis (`ledger_url`, docs/redis.md): two real
//! servers in one test, each with its own store holding the same line,
//! and the binary started with a ledger it cannot use.
//!
//! They use the Redis of `TEST_REDIS_URL` (default 127.0.0.1:6379) under a
//! key prefix of their own, deleted at the end; a test that cannot reach
//! it fails and says so.

use crate::harness::*;
use crate::redis_support::Space;
use std::net::IpAddr;
use std::time::{Duration, Instant};
use tvgate_core::gate::Authn;
use tvgate_core::ledger::LimitPolicy;

/// A node of `space` with the line "tina" (one connection) and the
/// small catalog.
async fn node(space: &Space, policy: LimitPolicy) -> TestServer {
    let srv = TestServer::start_on_redis(&space.url, &space.prefix, |h| {
        h.limit_policy = policy;
        h.admission_wait = Duration::from_millis(300);
        h.stream_denials = tvgate_http::slate::StreamDenials::Status;
    })
    .await;
    srv.add_line("tina", "pw-11", |s| s.max_connections = 1)
        .await;
    srv.with_catalog().await;
    srv
}

async fn open(srv: &TestServer, ua: &str) -> reqwest::Response {
    client()
        .get(srv.url("/live/tina/pw-11/1.ts"))
        .header("user-agent", ua)
        .send()
        .await
        .expect("request")
}

/// Reads until the stream ends; how long that took.
async fn ends_within(limit: Duration, stream: &mut reqwest::Response) -> Duration {
    let t0 = Instant::now();
    let ended = tokio::time::timeout(limit, async {
        while let Ok(Some(_)) = stream.chunk().await {}
    })
    .await;
    assert!(ended.is_ok(), "the stream still runs after {limit:?}");
    t0.elapsed()
}

/// One line's limit holds across two nodes; a slot freed on one is free on
/// the other at once.
#[tokio::test]
async fn a_line_limit_holds_across_nodes() {
    let space = Space::new();
    let a = node(&space, LimitPolicy::Refuse).await;
    let b = node(&space, LimitPolicy::Refuse).await;
    assert_eq!(
        a.gate.find_line("tina").map(|l| l.id),
        b.gate.find_line("tina").map(|l| l.id),
        "the same line on both nodes"
    );
    let mut tv = open(&a, "LivingRoomTV/1.0").await;
    assert_eq!(tv.status(), 200);
    assert!(tv.chunk().await.expect("chunk").is_some());
    let phone = open(&b, "Phone/2.0").await;
    assert_eq!(phone.status(), 403);
    let body = phone.text().await.expect("body");
    assert!(
        body.starts_with(
            "connection_limit: Connection limit reached: 1 of 1 in use by LivingRoomTV/1.0"
        ),
        "the other node's holder is named: {body}"
    );
    let v = get_json(&b.url("/player_api.php?username=tina&password=pw-11")).await;
    assert_eq!(
        v["user_info"]["active_cons"], "1",
        "counted on the other node"
    );
    drop(tv);
    let t0 = Instant::now();
    let mut phone = open(&b, "Phone/2.0").await;
    assert_eq!(phone.status(), 200, "admitted on B after the viewer left A");
    assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
    assert!(phone.chunk().await.expect("chunk").is_some());
}

/// Newest-wins decided on one node cuts the oldest viewer on the other,
/// and so does an operator's end, each within a second.
#[tokio::test]
async fn an_eviction_or_an_end_on_one_node_cuts_the_stream_on_another() {
    let space = Space::new();
    let a = node(&space, LimitPolicy::NewestWins).await;
    let b = node(&space, LimitPolicy::NewestWins).await;
    // The subscriptions are up before anything is announced.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut old = open(&a, "TV").await;
    assert!(old.chunk().await.expect("chunk").is_some());
    let mut new = open(&b, "Phone").await;
    assert_eq!(new.status(), 200);
    assert!(new.chunk().await.expect("chunk").is_some());
    // No clock moves: no renewal runs; the announcement alone cuts it.
    let took = ends_within(Duration::from_secs(1), &mut old).await;
    eprintln!("evicted viewer cut after {took:?}");

    let line = b.gate.find_line("tina").expect("line").id;
    let held = a.ledger.holders(line, NOW).await;
    assert_eq!(held.len(), 1);
    assert!(a.ledger.cut(held[0].id).await.is_some(), "ended on A");
    let took = ends_within(Duration::from_secs(1), &mut new).await;
    eprintln!("ended viewer cut on B after {took:?}");
}

/// Failed logins spread over two nodes meet one budget, and an address
/// that proves a password on one node while its username is being guessed
/// is trusted on the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guessing_run_spread_over_nodes_meets_one_budget() {
    let space = Space::new();
    let a = node(&space, LimitPolicy::Refuse).await;
    let b = node(&space, LimitPolicy::Refuse).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let guesser: IpAddr = "203.0.113.9".parse().expect("ip");
    // 20 failures per address in a burst (login_failures_per_ip): 10 on each.
    for srv in [&a, &b] {
        for i in 0..10 {
            let answer = srv
                .gate
                .authenticate("tina", &format!("guess-{i}"), guesser, NOW)
                .await;
            assert!(matches!(answer, Authn::NotProven), "{answer:?}");
        }
    }
    for srv in [&a, &b] {
        let t0 = Instant::now();
        loop {
            match srv.gate.authenticate("tina", "pw-11", guesser, NOW).await {
                Authn::RateLimited { .. } => break,
                other => {
                    assert!(matches!(other, Authn::Proven { .. }));
                    assert!(t0.elapsed() < Duration::from_secs(1), "never shared");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
    }
    // Usernames: 50 failures in a burst, from any address. A few from
    // addresses on B: A learns that "tina" is being guessed.
    for i in 0..5u8 {
        b.gate
            .authenticate("tina", "wrong", IpAddr::from([198, 51, 100, i]), NOW)
            .await;
    }
    let home: IpAddr = "192.0.2.77".parse().expect("ip");
    let stranger: IpAddr = "192.0.2.78".parse().expect("ip");
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The subscriber's own box logs in on A meanwhile: trusted for "tina",
    // on every node.
    assert!(matches!(
        a.gate.authenticate("tina", "pw-11", home, NOW).await,
        Authn::Proven { .. }
    ));
    // The guessing goes on, on both nodes, past the budget together, each
    // under it alone (with the address's guesses: 10 + 28 on A, 10 + 5 + 27
    // on B, of 50).
    for i in 5..60u8 {
        let srv = if i % 2 == 0 { &a } else { &b };
        srv.gate
            .authenticate("tina", "wrong", IpAddr::from([198, 51, 100, i]), NOW)
            .await;
    }
    let t0 = Instant::now();
    while !matches!(
        b.gate.authenticate("tina", "pw-11", stranger, NOW).await,
        Authn::RateLimited { .. }
    ) {
        assert!(
            t0.elapsed() < Duration::from_secs(1),
            "the username block never reached B"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The home box, which never logged in on B, still gets in there.
    let t0 = Instant::now();
    while !matches!(
        b.gate.authenticate("tina", "pw-11", home, NOW).await,
        Authn::Proven { .. }
    ) {
        assert!(
            t0.elapsed() < Duration::from_secs(1),
            "the trust never reached B"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// `tvgate serve` with `args` and `env`: its exit code and standard error,
/// or `None` when it was still running after `wait` (then it is killed).
fn serve(args: &[&str], env: &[(&str, &str)], wait: Duration) -> (Option<i32>, String) {
    use std::io::Read;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tvgate"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .args(args)
        .envs(env.iter().copied())
        .env("TVGATE_LOG_FORMAT", "text")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn serve");
    let t0 = Instant::now();
    let code = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status.code();
        }
        if t0.elapsed() > wait {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    if let Some(mut stderr) = child.stderr.take() {
        let _ = stderr.read_to_string(&mut err);
    }
    (code, err)
}

/// A ledger the server cannot use stops the start with one line naming
/// what failed, the password left out; never a panic.
#[test]
fn a_ledger_that_cannot_be_used_stops_the_start_with_one_clear_line() {
    let port = closed_port();
    let url = format!("redis://:hunter2@127.0.0.1:{port}/0");
    let (code, err) = serve(&["--ledger", &url], &[], Duration::from_secs(20));
    assert_eq!(code, Some(1), "{err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.contains("error")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].starts_with(&format!(
            "error: cannot reach the ledger at redis://127.0.0.1:{port}/0: "
        )),
        "{err}"
    );
    assert!(
        !err.contains("hunter2") && !err.contains("panicked"),
        "{err}"
    );

    let (code, err) = serve(
        &["--ledger", "http://127.0.0.1/"],
        &[],
        Duration::from_secs(20),
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.starts_with("error: ledger URL http://127.0.0.1/: "),
        "{err}"
    );

    let (code, err) = serve(
        &[],
        &[("TVGATE_LEDGER_UNAVAILABLE", "sometimes")],
        Duration::from_secs(20),
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("ledger_unavailable \"sometimes\": use refuse or admit_local"),
        "{err}"
    );
}

/// Under `ledger_unavailable = admit_local` the server starts without its
/// Redis and says so once.
#[test]
fn admit_local_starts_without_redis_and_says_so() {
    let url = format!("redis://127.0.0.1:{}", closed_port());
    let (code, err) = serve(
        &[],
        &[
            ("TVGATE_LEDGER_URL", url.as_str()),
            ("TVGATE_LEDGER_UNAVAILABLE", "admit_local"),
        ],
        Duration::from_secs(3),
    );
    assert_eq!(code, None, "still serving: {err}");
    assert_eq!(
        err.matches("the ledger does not answer: starting with this node's own ledger")
            .count(),
        1,
        "{err}"
    );
    assert!(err.contains("tvgate listening"), "{err}");
}
