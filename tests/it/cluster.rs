//! Three nodes, one truth (issue 12, docs/deploy.md "From one box to
//! three"): three real `tvgate serve` processes on loopback, sharing one
//! PostgreSQL database (a database of each test's own, created and
//! dropped) and one Redis (a key prefix of each test's own, deleted
//! afterwards; the outage test starts a `redis-server` of its own so it can
//! stop it). What only separate processes show is shown here:
//!
//! - a line's limit of 2 holds whichever nodes viewers reach, checked at
//!   every instant from the ledger's side (its live leases in Redis) and
//!   from the viewers' side (how many hold an admitted stream);
//! - a node killed with SIGKILL frees its viewers' slots within
//!   `lease_ttl_secs`;
//! - newest-wins decided on node 3 cuts the oldest viewer, on node 1,
//!   within a second;
//! - a Redis restart under load follows `ledger_unavailable = "refuse"`
//!   (newcomers get 503 `ledger_unavailable`, viewers keep watching, the
//!   nodes register their leases again when Redis is back) and loses no
//!   line data.
//!
//! The measured times are printed (`--nocapture`). The machine's
//! PostgreSQL and Redis must run (`bash tests/services.sh`); without them
//! these tests fail, saying so.

use crate::harness::{tvgate_on, ServeProcess, TestDatabase};
use crate::redis_support::{unix_now, OwnRedis, Space};
use rand::seq::SliceRandom;
use rand::Rng;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const LINE: &str = "tina";
const PASSWORD: &str = "pw-Cluster-22";

/// Three `tvgate serve` processes on one database and one key space, with
/// the line "tina" (2 connections) and one live channel (the built-in
/// loop). The nodes go first, so they are killed before the database is
/// dropped.
struct Cluster {
    nodes: Vec<ServeProcess>,
    /// The data directory of the CLI that seeded the store: it made the
    /// verifier key every node has a copy of.
    seed: tempfile::TempDir,
    db: TestDatabase,
    /// The live channel's stream id.
    stream: u64,
    /// The Redis key of tina's leases (a sorted set scored by expiry).
    line_key: String,
    redis_url: String,
}

impl Cluster {
    /// Seeds a fresh database through the CLI, then starts three nodes on
    /// it and on `space`, with `settings` (`TVGATE_…` variables) over the
    /// defaults below.
    async fn start(space: &Space, settings: &[(&str, &str)]) -> Cluster {
        let db = TestDatabase::create().await;
        let seed = tempfile::tempdir().expect("tempdir");
        let m3u = seed.path().join("cluster.m3u");
        std::fs::write(
            &m3u,
            "#EXTM3U\n#EXTINF:-1 tvg-id=\"news.c\" group-title=\"News\",News\nloop:demo?1\n",
        )
        .expect("write playlist");
        cli(
            &seed,
            &db.url,
            &[
                "line",
                "add",
                LINE,
                "--password",
                PASSWORD,
                "--max-connections",
                "2",
            ],
        )
        .await;
        let m3u = m3u.to_string_lossy().into_owned();
        cli(
            &seed,
            &db.url,
            &["source", "add", "m3u", &m3u, "--name", "cluster"],
        )
        .await;
        let mut env = vec![
            ("TVGATE_STORE_URL", db.url.as_str()),
            ("TVGATE_STORE_POOL_SIZE", "4"),
            ("TVGATE_LEDGER_URL", space.url.as_str()),
            ("TVGATE_LEDGER_KEY_PREFIX", space.prefix.as_str()),
            ("TVGATE_STREAM_DENIALS", "status"),
            ("TVGATE_ADMISSION_WAIT_MS", "200"),
            ("TVGATE_SOURCE_REFRESH_HOURS", "0"),
            ("TVGATE_WORKER_THREADS", "2"),
        ];
        for (k, v) in settings {
            env.retain(|(key, _)| key != k);
            env.push((k, v));
        }
        let mut nodes = Vec::new();
        for _ in 0..3 {
            let dir = tempfile::tempdir().expect("tempdir");
            std::fs::copy(
                seed.path().join("verifier.key"),
                dir.path().join("verifier.key"),
            )
            .expect("copy the verifier key");
            nodes.push(ServeProcess::start(dir, &env).await);
        }
        let streams = get_json(&nodes[0].url(&format!(
            "/player_api.php?username={LINE}&password={PASSWORD}&action=get_live_streams"
        )))
        .await;
        let stream = streams[0]["stream_id"]
            .as_u64()
            .unwrap_or_else(|| panic!("a live channel: {streams}"));
        let id = line_id(&db.url, LINE).await;
        Cluster {
            nodes,
            seed,
            db,
            stream,
            line_key: format!("{}leases:{id}", space.prefix),
            redis_url: space.url.clone(),
        }
    }

    /// The live channel's URL for `line` on node `n`.
    fn live(&self, n: usize, line: &str, password: &str) -> String {
        self.nodes[n].url(&format!("/live/{line}/{password}/{}.ts", self.stream))
    }

    /// How many live leases tina holds in Redis now (what admission counts).
    fn leases(&self) -> i64 {
        live_leases(&self.redis_url, &self.line_key).unwrap_or(-1)
    }
}

/// Runs the CLI on the database at `url`; it must succeed.
async fn cli(dir: &tempfile::TempDir, url: &str, args: &[&str]) {
    let (dir, url) = (dir.path().to_path_buf(), url.to_string());
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let (code, out, err) = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        tvgate_on(&dir, &url, &args)
    })
    .await
    .expect("cli");
    assert_eq!(code, 0, "tvgate {out} {err}");
}

/// The id of the line named `username` in the database at `url`.
async fn line_id(url: &str, username: &str) -> i64 {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect to the test database");
    tokio::spawn(connection);
    client
        .query_one("SELECT id FROM lines WHERE username = $1", &[&username])
        .await
        .expect("the line's id")
        .get(0)
}

/// The leases in the line's hash `key` whose expiry is after now: the live
/// leases, as the ledger's own `count.lua` counts them (a lease is a
/// MessagePack array whose 7th item is its expiry).
fn live_leases(url: &str, key: &str) -> redis::RedisResult<i64> {
    let mut conn = redis::Client::open(url)?.get_connection_with_timeout(Duration::from_secs(2))?;
    live_leases_on(&mut conn, key)
}

fn live_leases_on(conn: &mut redis::Connection, key: &str) -> redis::RedisResult<i64> {
    redis::cmd("EVAL")
        .arg(
            "local n = 0 for _, v in ipairs(redis.call('HVALS', KEYS[1])) do \
             if cmsgpack.unpack(v)[7] > tonumber(ARGV[1]) then n = n + 1 end end return n",
        )
        .arg(1)
        .arg(key)
        .arg(unix_now())
        .query(conn)
}

/// Samples tina's live leases in Redis every few milliseconds on a thread
/// of its own until stopped: the most it saw, and how often it looked.
struct LedgerWatch {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<(i64, u64)>,
}

impl LedgerWatch {
    fn start(cluster: &Cluster) -> LedgerWatch {
        let (url, key) = (cluster.redis_url.clone(), cluster.line_key.clone());
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut conn = redis::Client::open(url.as_str())
                .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(2)))
                .expect("connect to Redis");
            let (mut most, mut samples) = (0i64, 0u64);
            while !stopped.load(Ordering::Relaxed) {
                let n = live_leases_on(&mut conn, &key).expect("count the live leases");
                most = most.max(n);
                samples += 1;
                std::thread::sleep(Duration::from_millis(3));
            }
            (most, samples)
        });
        LedgerWatch { stop, thread }
    }

    fn finish(self) -> (i64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("the ledger watch")
    }
}

/// A client whose connections come from the loopback address `from`.
fn client_from(from: IpAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(from)
        .connect_timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

async fn get_json(url: &str) -> serde_json::Value {
    let r = client_from(IpAddr::from([127, 0, 0, 1]))
        .get(url)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200, "{url}");
    r.json().await.expect("JSON")
}

/// Opens a viewer: the response, whatever its status.
async fn open(url: &str, from: IpAddr, player: &str) -> reqwest::Response {
    client_from(from)
        .get(url)
        .header("user-agent", player)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"))
}

/// The next chunk of a stream within `limit`: `None` when it ended.
async fn next_chunk(stream: &mut reqwest::Response, limit: Duration) -> Option<bytes::Bytes> {
    match tokio::time::timeout(limit, stream.chunk()).await {
        Ok(Ok(chunk)) => chunk,
        Ok(Err(_)) => None,
        Err(_) => panic!("no chunk and no end within {limit:?}"),
    }
}

/// A refusal's reason (`X-Tvgate-Reason`) and its status.
fn refusal(r: &reqwest::Response) -> (u16, String) {
    let reason = r
        .headers()
        .get("x-tvgate-reason")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (r.status().as_u16(), reason)
}

/// Viewers open the channel against all three nodes at random for a few
/// seconds: never more than 2 admitted at any instant, as Redis counts
/// and as the viewers see it. Then a node holding both slots is killed
/// with SIGKILL: its slots are free on the other nodes within
/// `lease_ttl_secs`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_hold_one_limit_and_a_killed_node_frees_its_slots() {
    const TTL_SECS: u64 = 3;
    let space = Space::new();
    let mut cluster = Cluster::start(&space, &[("TVGATE_LEASE_TTL_SECS", "3")]).await;
    let watch = LedgerWatch::start(&cluster);
    let watching = Arc::new(AtomicI64::new(0));
    let most_watching = Arc::new(AtomicI64::new(0));
    // 36 viewers, 12 per node in a random order, arriving over 2.5 s and
    // watching for 150 to 600 ms each.
    let mut plan: Vec<(usize, u64, u64)> = {
        let mut rng = rand::thread_rng();
        (0..36)
            .map(|i| (i % 3, rng.gen_range(0..2500), rng.gen_range(150..600)))
            .collect()
    };
    plan.shuffle(&mut rand::thread_rng());
    let mut viewers = Vec::new();
    for (i, (n, delay, hold)) in plan.into_iter().enumerate() {
        let url = cluster.live(n, LINE, PASSWORD);
        let (watching, most_watching) = (watching.clone(), most_watching.clone());
        viewers.push(tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(delay)).await;
            let mut r = open(&url, IpAddr::from([127, 0, 0, 1]), &format!("viewer-{i}")).await;
            if r.status() != 200 {
                let (status, reason) = refusal(&r);
                let body = r.text().await.unwrap_or_default();
                assert_eq!(
                    (status, reason.as_str()),
                    (403, "connection_limit"),
                    "{body}"
                );
                return (n, false);
            }
            let now = watching.fetch_add(1, Ordering::SeqCst) + 1;
            most_watching.fetch_max(now, Ordering::SeqCst);
            let until = Instant::now() + Duration::from_millis(hold);
            while Instant::now() < until {
                assert!(
                    next_chunk(&mut r, Duration::from_secs(5)).await.is_some(),
                    "an admitted viewer's stream ended"
                );
            }
            // No longer watching before the connection closes (which ends
            // the lease): the viewers' count never runs ahead of the ledger.
            watching.fetch_sub(1, Ordering::SeqCst);
            drop(r);
            (n, true)
        }));
    }
    let mut tally = [[0u32; 2]; 3];
    for v in viewers {
        let (n, admitted) = v.await.expect("a viewer");
        tally[n][usize::from(admitted)] += 1;
    }
    let (most_leases, samples) = watch.finish();
    let most_viewers = most_watching.load(Ordering::SeqCst);
    eprintln!(
        "admitted/refused per node: {:?}; most live leases in Redis {most_leases} ({samples} samples); most viewers watching at once {most_viewers}",
        tally.map(|[refused, admitted]| (admitted, refused))
    );
    assert!(
        samples > 100,
        "the ledger was looked at {samples} times only"
    );
    assert!(most_leases <= 2, "Redis held {most_leases} leases at once");
    assert!(most_viewers <= 2, "{most_viewers} viewers watched at once");
    let admitted: u32 = tally.iter().map(|t| t[1]).sum();
    let refused: u32 = tally.iter().map(|t| t[0]).sum();
    assert!(
        admitted >= 3 && refused >= 1,
        "the limit was not reached: {admitted} admitted, {refused} refused"
    );

    // Node 1 holds both slots; node 2 refuses a third viewer.
    let home = IpAddr::from([127, 0, 0, 1]);
    let mut a = open(&cluster.live(0, LINE, PASSWORD), home, "TV").await;
    let mut b = open(&cluster.live(0, LINE, PASSWORD), home, "Phone").await;
    for s in [&mut a, &mut b] {
        assert_eq!(s.status(), 200);
        assert!(next_chunk(s, Duration::from_secs(5)).await.is_some());
    }
    let settled = Instant::now();
    while cluster.leases() != 2 {
        assert!(
            settled.elapsed() < Duration::from_secs(3),
            "{} leases, want 2",
            cluster.leases()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let third = open(&cluster.live(1, LINE, PASSWORD), home, "Tablet").await;
    assert_eq!(refusal(&third), (403, "connection_limit".to_string()));
    drop(third);

    cluster.nodes[0].kill();
    let killed = Instant::now();
    drop((a, b));
    // From the ledger's side: the leases run out.
    while cluster.leases() > 0 {
        assert!(
            killed.elapsed() < Duration::from_secs(TTL_SECS + 2),
            "the killed node's leases are still live after {:?}",
            killed.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let freed = killed.elapsed();
    // From a viewer's side: another node admits again.
    let mut next = loop {
        let r = open(&cluster.live(1, LINE, PASSWORD), home, "Tablet").await;
        if r.status() == 200 {
            break r;
        }
        assert_eq!(refusal(&r), (403, "connection_limit".to_string()));
        assert!(
            killed.elapsed() < Duration::from_secs(TTL_SECS + 2),
            "no slot free after {:?}",
            killed.elapsed()
        );
    };
    let admitted_after = killed.elapsed();
    assert!(next_chunk(&mut next, Duration::from_secs(5))
        .await
        .is_some());
    eprintln!(
        "kill -9: slots free in Redis after {freed:?}, a viewer admitted on node 2 after {admitted_after:?} (lease_ttl_secs = {TTL_SECS})"
    );
    // The lease's expiry is counted in whole seconds of the last renewal,
    // which happened before the kill: at most the TTL after it (plus the
    // sampling's few milliseconds).
    assert!(
        freed <= Duration::from_millis(TTL_SECS * 1000 + 100),
        "slots freed after {freed:?}, lease_ttl_secs = {TTL_SECS}"
    );
}

/// Newest-wins decided on node 3 cuts the oldest viewer, served by node 1,
/// within a second; the other viewer, on node 2, keeps watching.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn newest_wins_on_node_three_cuts_the_oldest_viewer_on_node_one() {
    let space = Space::new();
    let cluster =
        Cluster::start(&space, &[("TVGATE_CONNECTION_LIMIT_POLICY", "newest_wins")]).await;
    // Three devices at three addresses: the oldest lease is the one to go.
    let mut oldest = open(
        &cluster.live(0, LINE, PASSWORD),
        IpAddr::from([127, 0, 0, 2]),
        "TV",
    )
    .await;
    assert_eq!(oldest.status(), 200);
    assert!(next_chunk(&mut oldest, Duration::from_secs(5))
        .await
        .is_some());
    let mut second = open(
        &cluster.live(1, LINE, PASSWORD),
        IpAddr::from([127, 0, 0, 3]),
        "Phone",
    )
    .await;
    assert_eq!(second.status(), 200);
    assert!(next_chunk(&mut second, Duration::from_secs(5))
        .await
        .is_some());
    let mut newest = open(
        &cluster.live(2, LINE, PASSWORD),
        IpAddr::from([127, 0, 0, 4]),
        "Tablet",
    )
    .await;
    assert_eq!(newest.status(), 200, "newest-wins admits the newcomer");
    let admitted = Instant::now();
    assert!(next_chunk(&mut newest, Duration::from_secs(5))
        .await
        .is_some());
    // The oldest stream ends: whatever it had in flight, then its end.
    let cut = tokio::time::timeout(Duration::from_secs(1), async {
        while next_chunk(&mut oldest, Duration::from_secs(1))
            .await
            .is_some()
        {}
    })
    .await;
    let took = admitted.elapsed();
    assert!(
        cut.is_ok(),
        "the oldest viewer on node 1 still watches {took:?} after node 3 admitted"
    );
    eprintln!("newest-wins on node 3 cut the oldest viewer on node 1 after {took:?}");
    for s in [&mut second, &mut newest] {
        assert!(
            next_chunk(s, Duration::from_secs(5)).await.is_some(),
            "the other viewers keep watching"
        );
    }
    assert_eq!(cluster.leases(), 2);
}

/// Where the outage test is: Redis answers, then it is killed, then it
/// answers again.
const BEFORE: u8 = 0;
const DOWN: u8 = 1;
const BACK: u8 = 2;

/// Every one of `logins` logs in on every node (each within 3 s: a node
/// hears of a line the CLI wrote through PostgreSQL's notification).
async fn logs_in_everywhere(cluster: &Cluster, logins: &[(String, String)]) {
    let home = IpAddr::from([127, 0, 0, 1]);
    for node in &cluster.nodes {
        for (user, password) in logins {
            let url = node.url(&format!(
                "/player_api.php?username={user}&password={password}"
            ));
            let deadline = Instant::now() + Duration::from_secs(3);
            loop {
                let r = client_from(home).get(&url).send().await.expect("login");
                let v: serde_json::Value = r.json().await.unwrap_or_default();
                if v["user_info"]["auth"] == 1 {
                    break;
                }
                assert!(Instant::now() < deadline, "{user} on {}: {v}", node.addr);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// What a viewer of the load got, and in which phases it asked and was
/// answered.
#[derive(Debug)]
struct Attempt {
    asked: u8,
    answered: u8,
    status: u16,
    reason: String,
}

/// Redis is killed and started again, empty, while viewers come and go on
/// every node. Under `ledger_unavailable = "refuse"`: newcomers get 503
/// `ledger_unavailable`, viewers already watching keep watching, and once
/// Redis answers the nodes register their leases again, so the limit still
/// counts them. No line written to the store before or during the outage
/// is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_restart_under_load_refuses_newcomers_and_loses_nothing() {
    let mut redis = OwnRedis::start();
    let space = Space::on(&redis.url());
    let cluster = Cluster::start(
        &space,
        &[
            ("TVGATE_LEDGER_UNAVAILABLE", "refuse"),
            ("TVGATE_ADMISSION_WAIT_MS", "300"),
        ],
    )
    .await;
    // 40 more lines, committed before the outage (the nodes hear of them).
    let csv = cluster.seed.path().join("lines.csv");
    let mut text = String::from("username,password,max_connections\n");
    for i in 1..=40 {
        text.push_str(&format!("l{i:02},pw-Line-{i:02},2\n"));
    }
    std::fs::write(&csv, text).expect("write CSV");
    let csv = csv.to_string_lossy().into_owned();
    cli(&cluster.seed, &cluster.db.url, &["line", "import", &csv]).await;
    let imported: Vec<(String, String)> = (1..=40)
        .map(|i| (format!("l{i:02}"), format!("pw-Line-{i:02}")))
        .collect();
    logs_in_everywhere(&cluster, &imported).await;

    let home = IpAddr::from([127, 0, 0, 1]);
    let mut a = open(&cluster.live(0, LINE, PASSWORD), home, "TV").await;
    let mut b = open(&cluster.live(1, LINE, PASSWORD), home, "Phone").await;
    for s in [&mut a, &mut b] {
        assert_eq!(s.status(), 200);
        assert!(next_chunk(s, Duration::from_secs(5)).await.is_some());
    }

    // The load: three loops opening short viewers of lines l01 to l08 on
    // random nodes, before, during and after the outage.
    let phase = Arc::new(AtomicU8::new(BEFORE));
    let stop = Arc::new(AtomicBool::new(false));
    let attempts = Arc::new(Mutex::new(Vec::<Attempt>::new()));
    let mut load = Vec::new();
    for _ in 0..3 {
        let urls: Vec<Vec<String>> = (1..=8)
            .map(|i| {
                (0..3)
                    .map(|n| cluster.live(n, &format!("l{i:02}"), &format!("pw-Line-{i:02}")))
                    .collect()
            })
            .collect();
        let (phase, stop, attempts) = (phase.clone(), stop.clone(), attempts.clone());
        load.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let (url, hold) = {
                    let mut rng = rand::thread_rng();
                    let line = &urls[rng.gen_range(0..urls.len())];
                    (line[rng.gen_range(0..3)].clone(), rng.gen_range(50..300))
                };
                let asked = phase.load(Ordering::SeqCst);
                let mut r = open(&url, home, "load").await;
                let answered = phase.load(Ordering::SeqCst);
                let (status, reason) = refusal(&r);
                if status == 200 {
                    let _ = next_chunk(&mut r, Duration::from_secs(5)).await;
                    tokio::time::sleep(Duration::from_millis(hold)).await;
                }
                drop(r);
                attempts.lock().expect("attempts").push(Attempt {
                    asked,
                    answered,
                    status,
                    reason,
                });
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;

    // The phase turns once Redis is gone: an admission that reached Redis
    // just before the kill is not one "admitted without Redis".
    redis.kill();
    phase.store(DOWN, Ordering::SeqCst);
    let down = Instant::now();
    // A newcomer (a line nobody watches) is refused with the reason.
    let refused = loop {
        let r = open(&cluster.live(2, "l40", "pw-Line-40"), home, "new").await;
        let (status, reason) = refusal(&r);
        if status == 503 {
            let body = r.text().await.unwrap_or_default();
            assert_eq!(reason, "ledger_unavailable", "{body}");
            assert!(body.starts_with("ledger_unavailable: "), "{body}");
            break down.elapsed();
        }
        assert_eq!(status, 200, "{reason}");
        assert!(
            down.elapsed() < Duration::from_secs(5),
            "still admitting {:?} after Redis went away",
            down.elapsed()
        );
        drop(r);
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // A line written during the outage: the store does not need Redis.
    cli(
        &cluster.seed,
        &cluster.db.url,
        &["line", "add", "late", "--password", "pw-Late-1"],
    )
    .await;
    // The viewers already watching keep watching.
    let watched = Instant::now();
    while watched.elapsed() < Duration::from_millis(1500) {
        for s in [&mut a, &mut b] {
            assert!(
                next_chunk(s, Duration::from_secs(5)).await.is_some(),
                "a viewer was cut during the outage"
            );
        }
    }

    redis.resume();
    phase.store(BACK, Ordering::SeqCst);
    let up = Instant::now();
    // The nodes register their leases again (Redis came back empty).
    while cluster.leases() != 2 {
        assert!(
            up.elapsed() < Duration::from_secs(5),
            "{} of tina's 2 leases back in Redis after {:?}",
            cluster.leases(),
            up.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let restored = up.elapsed();
    // They count: a third viewer of tina is refused, by the limit.
    let third = open(&cluster.live(2, LINE, PASSWORD), home, "Tablet").await;
    assert_eq!(refusal(&third), (403, "connection_limit".to_string()));
    drop(third);
    // And newcomers are admitted through Redis again.
    let mut fresh = open(&cluster.live(2, "l40", "pw-Line-40"), home, "new").await;
    assert_eq!(fresh.status(), 200, "{:?}", refusal(&fresh));
    assert!(next_chunk(&mut fresh, Duration::from_secs(5))
        .await
        .is_some());
    for s in [&mut a, &mut b] {
        assert!(
            next_chunk(s, Duration::from_secs(5)).await.is_some(),
            "a viewer was cut when Redis came back"
        );
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    for task in load {
        task.await.expect("a load loop");
    }
    let attempts = std::mem::take(&mut *attempts.lock().expect("attempts"));
    let count = |asked: u8, answered: u8, status: u16| {
        attempts
            .iter()
            .filter(|a| a.asked == asked && a.answered == answered && a.status == status)
            .count()
    };
    eprintln!(
        "Redis restart: a newcomer refused with ledger_unavailable {refused:?} after the kill; leases registered again {restored:?} after Redis answered; the load: before {} admitted, {} at the limit; during the outage {} refused 503, {} admitted; after {} admitted, {} at the limit",
        count(BEFORE, BEFORE, 200),
        count(BEFORE, BEFORE, 403),
        count(DOWN, DOWN, 503),
        count(DOWN, DOWN, 200),
        count(BACK, BACK, 200),
        count(BACK, BACK, 403),
    );
    for a in attempts.iter() {
        match (a.status, a.reason.as_str()) {
            (200, _) | (403, "connection_limit") | (503, "ledger_unavailable") => {}
            _ => panic!("the load got {a:?}"),
        }
        // Asked and answered while Redis was down: never admitted.
        assert!(
            !(a.asked == DOWN && a.answered == DOWN && a.status == 200),
            "admitted without Redis under refuse: {a:?}"
        );
    }
    assert!(
        count(BEFORE, BEFORE, 200) > 0 && count(DOWN, DOWN, 503) > 0 && count(BACK, BACK, 200) > 0,
        "the load ran in every phase"
    );

    // No line data lost: every line logs in on every node, and the store
    // holds them all.
    let mut logins = vec![(LINE.to_string(), PASSWORD.to_string())];
    logins.extend(imported);
    logins.push(("late".into(), "pw-Late-1".into()));
    logs_in_everywhere(&cluster, &logins).await;
    let (client, connection) = tokio_postgres::connect(&cluster.db.url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    let stored: i64 = client
        .query_one("SELECT COUNT(*) FROM lines", &[])
        .await
        .expect("count lines")
        .get(0);
    assert_eq!(stored, logins.len() as i64);
}
