//! Crash consistency (issue 17, item 3): the real `tvgate serve` process is
//! killed with SIGKILL at random points of
//!
//! - a 100,000-line CSV import (`POST /api/v1/lines/import`),
//! - a source refresh that replaces catalog A by catalog B (a big M3U
//!   served by a loopback HTTP server of the test), and
//! - a burst of API edits (lines created, changed and deleted by four
//!   clients at once), on SQLite and on PostgreSQL,
//!
//! and after each kill the database must pass the store's check
//! (`PRAGMA integrity_check` and `foreign_key_check`, SQLite), a server
//! restarted on it must hold every change it acknowledged with a 2xx, the
//! import must be all or nothing, and what players are served (get.php and
//! player_api) must be catalog A whole or catalog B whole.
//!
//! By default each scenario kills a few times (CI). `CRASH_LONG=1` kills 25
//! times per scenario and prints the tally; `CRASH_SEED=N` repeats a run's
//! random kill points (every run prints its seed):
//!
//! ```text
//! CRASH_LONG=1 cargo test --test it crash_consistency -- --nocapture --test-threads 1
//! ```

use super::harness::{client, tvgate, tvgate_on, ServeProcess, TestDatabase};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How many kills per scenario, and the seed of the kill points.
struct Mode {
    kills: usize,
    seed: u64,
}

fn mode(scenario: &str) -> Mode {
    let long = std::env::var("CRASH_LONG").is_ok_and(|v| v == "1");
    let seed = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(17)
        });
    let kills = if long { 25 } else { 3 };
    println!(
        "crash_consistency {scenario}: seed {seed}, {kills} kills (CRASH_SEED={seed} repeats it)"
    );
    Mode { kills, seed }
}

/// Settings of every server here: imports hashed cheaply (100,000 lines in
/// seconds) and no scheduled refresh beside the test's own.
const ENV: &[(&str, &str)] = &[
    ("TVGATE_IMPORT_KDF_MEMORY_KIB", "8"),
    ("TVGATE_IMPORT_KDF_ITERATIONS", "1"),
    ("TVGATE_SOURCE_REFRESH_HOURS", "0"),
];

/// Where a server keeps its state: SQLite in its data directory, or a
/// PostgreSQL database of the test's own.
#[derive(Clone)]
enum Db {
    Sqlite,
    Postgres(Arc<TestDatabase>),
}

impl Db {
    fn env(&self) -> Vec<(&str, &str)> {
        let mut env: Vec<(&str, &str)> = ENV.to_vec();
        if let Db::Postgres(db) = self {
            env.push(("TVGATE_STORE_URL", db.url.as_str()));
        }
        env
    }

    /// An operator and an API token on the store of `dir` (the CLI).
    fn token(&self, dir: &std::path::Path) -> String {
        let run = |args: &[&str]| {
            let (code, out, err) = match self {
                Db::Sqlite => tvgate(dir, args),
                Db::Postgres(db) => tvgate_on(dir, &db.url, args),
            };
            assert_eq!(code, 0, "{args:?}: {err}");
            out
        };
        run(&["admin", "add", "op"]);
        run(&["admin", "token", "op"]).trim().to_string()
    }

    async fn start(&self, dir: tempfile::TempDir) -> ServeProcess {
        ServeProcess::start(dir, &self.env()).await
    }

    /// SIGKILL, then the store's check (SQLite: integrity and foreign
    /// keys; PostgreSQL has its own recovery, and the restart and the
    /// reads after it are the check), then a restart on the same store.
    async fn crash_and_restart(&self, node: ServeProcess) -> ServeProcess {
        let dir = node.crash();
        if let Db::Sqlite = self {
            let path = dir.path().join("tvgate.sqlite");
            let problems = tvgate_store::sqlite::check_file(&path).expect("check the database");
            assert!(problems.is_empty(), "the database is damaged: {problems:?}");
        }
        self.start(dir).await
    }
}

/// A random duration in `0..=max`.
fn random_delay(rng: &mut StdRng, max: Duration) -> Duration {
    Duration::from_micros(rng.gen_range(0..=max.as_micros().max(1) as u64))
}

async fn lines_total(node: &ServeProcess, token: &str) -> u64 {
    let r = client()
        .get(node.url("/api/v1/lines?limit=1"))
        .bearer_auth(token)
        .send()
        .await
        .expect("list lines");
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.expect("json");
    v["total"].as_u64().expect("total")
}

// ---------------------------------------------------------------------
// (a) a 100,000-line CSV import
// ---------------------------------------------------------------------

const IMPORT_LINES: u64 = 100_000;

fn import_csv() -> Vec<u8> {
    let mut csv = String::from("username,password,max_connections,note\n");
    for i in 0..IMPORT_LINES {
        csv.push_str(&format!("imp-{i:06},pw-{i:06}-x,2,batch\n"));
    }
    csv.into_bytes()
}

/// Starts the import; its answer (`true`: a 200 with every line created)
/// comes when the server answers, or `false` when it died first.
fn start_import(node: &ServeProcess, token: &str, csv: Vec<u8>) -> tokio::task::JoinHandle<bool> {
    let request = client()
        .post(node.url("/api/v1/lines/import"))
        .bearer_auth(token)
        .header("content-type", "text/csv")
        .body(csv);
    tokio::spawn(async move {
        let Ok(r) = request.send().await else {
            return false;
        };
        if r.status() != 200 {
            return false;
        }
        let Ok(v) = r.json::<Value>().await else {
            return false;
        };
        assert_eq!(v["created"], IMPORT_LINES, "{v}");
        true
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_during_a_csv_import_the_lines_are_all_there_or_none() {
    let mode = mode("import");
    let mut rng = StdRng::seed_from_u64(mode.seed);
    let csv = import_csv();
    let db = Db::Sqlite;

    // How long an import takes here, so the kills land inside one.
    let dir = tempfile::tempdir().expect("tempdir");
    let token = db.token(dir.path());
    let node = db.start(dir).await;
    let started = Instant::now();
    assert!(
        start_import(&node, &token, csv.clone())
            .await
            .expect("join"),
        "the uninterrupted import failed:\n{}",
        node.log()
    );
    let full = started.elapsed();
    assert_eq!(lines_total(&node, &token).await, IMPORT_LINES);
    drop(node);

    let (mut none, mut all, mut half, mut answered) = (0, 0, 0, 0);
    for kill in 0..mode.kills {
        let dir = tempfile::tempdir().expect("tempdir");
        let token = db.token(dir.path());
        let node = db.start(dir).await;
        let answer = start_import(&node, &token, csv.clone());
        let delay = random_delay(&mut rng, full.mul_f64(1.2));
        tokio::time::sleep(delay).await;
        let node = db.crash_and_restart(node).await;
        let acknowledged = answer.await.expect("join");
        answered += u32::from(acknowledged);
        let total = lines_total(&node, &token).await;
        match total {
            0 => none += 1,
            IMPORT_LINES => all += 1,
            _ => half += 1,
        }
        assert!(
            total == 0 || total == IMPORT_LINES,
            "kill {kill} after {delay:?}: {total} of {IMPORT_LINES} lines imported"
        );
        assert!(
            !acknowledged || total == IMPORT_LINES,
            "kill {kill}: the import was acknowledged and {total} lines are there"
        );
        if total == IMPORT_LINES {
            // The lines work: an imported password opens the playlist.
            let (status, _) = super::harness::get(
                &node.url("/get.php?username=imp-012345&password=pw-012345-x&type=m3u_plus"),
            )
            .await;
            assert_eq!(status, 200, "kill {kill}: an imported line cannot log in");
        }
    }
    println!(
        "crash_consistency import: {} kills during a {IMPORT_LINES}-line import \
         (uninterrupted: {:.1} s): none {none}, all {all} (answered before the kill: \
         {answered}), half {half}",
        mode.kills,
        full.as_secs_f64()
    );
}

// ---------------------------------------------------------------------
// (b) a source refresh from catalog A to catalog B
// ---------------------------------------------------------------------

const CATALOG_CHANNELS: usize = 40_000;

/// A playlist of `CATALOG_CHANNELS` live channels named `"{letter} NNNNN"`
/// with URLs of their own (so B replaces every stream of A).
fn playlist(letter: char) -> String {
    let lower = letter.to_ascii_lowercase();
    let mut m3u = String::from("#EXTM3U\n");
    for i in 0..CATALOG_CHANNELS {
        m3u.push_str(&format!(
            "#EXTINF:-1 tvg-id=\"{lower}{i}.t\" group-title=\"{letter} group {}\",{letter} {i:05}\n\
             http://127.0.0.1:9/{lower}/{i}.ts\n",
            i % 40
        ));
    }
    m3u
}

/// The provider: serves catalog A, or B once `b` is set.
async fn provider(b: Arc<AtomicBool>) -> String {
    let (a_text, b_text) = (playlist('A'), playlist('B'));
    let app = axum::Router::new().route(
        "/list.m3u",
        axum::routing::get(move || {
            let text = if b.load(Ordering::SeqCst) {
                b_text.clone()
            } else {
                a_text.clone()
            };
            async move { text }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/list.m3u")
}

const VIEWER: &str = "viewer";
const VIEWER_PASSWORD: &str = "viewer-pass-1";

/// Which catalog players are served: `'A'` or `'B'`, whole, in the
/// playlist and in player_api; a mix fails the test.
async fn served(node: &ServeProcess, context: &str) -> char {
    let (status, m3u) = super::harness::get(&node.url(&format!(
        "/get.php?username={VIEWER}&password={VIEWER_PASSWORD}&type=m3u_plus"
    )))
    .await;
    assert_eq!(status, 200, "{context}: {m3u}");
    let names: Vec<&str> = m3u
        .lines()
        .filter(|l| l.starts_with("#EXTINF"))
        .filter_map(|l| l.rsplit_once(',').map(|(_, name)| name))
        .collect();
    let letter = whole(&names, context, "get.php");
    let streams = super::harness::get_json(&node.url(&format!(
        "/player_api.php?username={VIEWER}&password={VIEWER_PASSWORD}&action=get_live_streams"
    )))
    .await;
    let names: Vec<&str> = streams
        .as_array()
        .expect("an array of streams")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(
        whole(&names, context, "player_api"),
        letter,
        "{context}: get.php and player_api serve different catalogs"
    );
    letter
}

/// The catalog letter of `names` when they are one catalog, whole.
fn whole(names: &[&str], context: &str, face: &str) -> char {
    let a = names.iter().filter(|n| n.starts_with("A ")).count();
    let b = names.iter().filter(|n| n.starts_with("B ")).count();
    match (a, b) {
        (CATALOG_CHANNELS, 0) if names.len() == CATALOG_CHANNELS => 'A',
        (0, CATALOG_CHANNELS) if names.len() == CATALOG_CHANNELS => 'B',
        _ => panic!(
            "{context}: {face} serves a mixed or partial catalog: {a} of A, {b} of B, {} in all",
            names.len()
        ),
    }
}

async fn api(node: &ServeProcess, token: &str, method: &str, path: &str, body: Value) -> Value {
    let url = node.url(path);
    let request = match method {
        "POST" => client().post(url),
        "GET" => client().get(url),
        _ => unreachable!("{method}"),
    };
    let request = if body.is_null() {
        request
    } else {
        request.json(&body)
    };
    let r = request.bearer_auth(token).send().await.expect("api");
    let status = r.status();
    let text = r.text().await.expect("body");
    assert!(status.is_success(), "{method} {path}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// Waits until the source's refresh job has ended; fails unless `done`.
async fn refreshed(node: &ServeProcess, token: &str, id: i64) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let job = api(
            node,
            token,
            "GET",
            &format!("/api/v1/sources/{id}/refresh"),
            Value::Null,
        )
        .await;
        match job["phase"].as_str() {
            Some("done") => return,
            Some("failed") => panic!("the refresh failed: {job}"),
            _ => {}
        }
        assert!(Instant::now() < deadline, "the refresh did not end: {job}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_during_a_refresh_players_see_the_old_catalog_or_the_new_never_a_mix() {
    let mode = mode("refresh");
    let mut rng = StdRng::seed_from_u64(mode.seed);
    let serve_b = Arc::new(AtomicBool::new(false));
    let url = provider(serve_b.clone()).await;
    let db = Db::Sqlite;
    let dir = tempfile::tempdir().expect("tempdir");
    let token = db.token(dir.path());
    let mut node = db.start(dir).await;
    api(
        &node,
        &token,
        "POST",
        "/api/v1/lines",
        json!({"username": VIEWER, "password": VIEWER_PASSWORD}),
    )
    .await;
    let source = api(
        &node,
        &token,
        "POST",
        "/api/v1/sources",
        json!({"kind": "m3u", "location": url, "name": "big"}),
    )
    .await;
    let id = source["id"].as_i64().expect("source id");
    refreshed(&node, &token, id).await;
    assert_eq!(served(&node, "after the first import").await, 'A');
    // A whole refresh from A to B, timed: the kills land within that time.
    serve_b.store(true, Ordering::SeqCst);
    let started = Instant::now();
    let path = format!("/api/v1/sources/{id}/refresh");
    api(&node, &token, "POST", &path, Value::Null).await;
    refreshed(&node, &token, id).await;
    let full = started.elapsed();
    let mut current = served(&node, "after an uninterrupted refresh").await;
    assert_eq!(current, 'B');

    let (mut old, mut new) = (0, 0);
    // The refresh job's phase the moment before each kill (`storing` is
    // where a mix could come from).
    let mut phases: BTreeMap<String, u32> = BTreeMap::new();
    for kill in 0..mode.kills {
        let next = if current == 'A' { 'B' } else { 'A' };
        serve_b.store(next == 'B', Ordering::SeqCst);
        let started = Instant::now();
        api(&node, &token, "POST", &path, Value::Null).await;
        let delay = random_delay(&mut rng, full.mul_f64(1.3));
        tokio::time::sleep(delay.saturating_sub(started.elapsed())).await;
        let job = api(&node, &token, "GET", &path, Value::Null).await;
        let phase = job["phase"].as_str().unwrap_or("unknown").to_string();
        *phases.entry(phase).or_default() += 1;
        node = db.crash_and_restart(node).await;
        let now = served(&node, &format!("kill {kill} after {delay:?}")).await;
        if now == current {
            old += 1;
        } else {
            new += 1;
        }
        current = now;
    }
    println!(
        "crash_consistency refresh: {} kills during a refresh of {CATALOG_CHANNELS} channels \
         (uninterrupted: {:.1} s): old {old}, new {new}, mixed 0; the job's phase \
         just before the kill: {phases:?}",
        mode.kills,
        full.as_secs_f64()
    );
}

// ---------------------------------------------------------------------
// (c) a burst of API edits
// ---------------------------------------------------------------------

/// A line as the edits leave it: (note, max_connections); `None`: deleted.
type LineState = Option<(String, u64)>;

/// What one client did: the state each acknowledged change left, and the
/// one change it had sent without an answer when the server died.
#[derive(Default)]
struct Client {
    lines: BTreeMap<String, LineState>,
    in_flight: Option<(String, LineState)>,
    /// Acknowledged changes per line since the last kill.
    acknowledged: BTreeMap<String, u64>,
    next: u64,
}

/// One client's edits, one after the other, until the server stops
/// answering: creates (a line of its own), changes (note and connection
/// cap) and deletes, each recorded once a 2xx acknowledged it.
async fn edit(url: String, token: String, me: usize, log: Arc<Mutex<Client>>, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let http = client();
    loop {
        let (name, method, body, after) = {
            let mut c = log.lock().expect("log");
            c.next += 1;
            let n = c.next;
            let live: Vec<String> = c
                .lines
                .iter()
                .filter(|(_, s)| s.is_some())
                .map(|(k, _)| k.clone())
                .collect();
            let roll = rng.gen_range(0..100);
            let note = format!("edit {me}.{n}");
            let cap = rng.gen_range(1..50u64);
            if live.len() < 3 || roll < 30 {
                let name = format!("e{me}-{n}");
                let body = json!({"username": name, "password": "edit-pass-1", "note": note, "max_connections": cap});
                (name, "POST", Some(body), Some((note, cap)))
            } else if roll < 85 {
                let name = live[rng.gen_range(0..live.len())].clone();
                let body = json!({"note": note, "max_connections": cap});
                (name, "PATCH", Some(body), Some((note, cap)))
            } else {
                let name = live[rng.gen_range(0..live.len())].clone();
                (name, "DELETE", None, None)
            }
        };
        log.lock().expect("log").in_flight = Some((name.clone(), after.clone()));
        let request = match method {
            "POST" => http.post(format!("{url}/api/v1/lines")),
            "PATCH" => http.patch(format!("{url}/api/v1/lines/{name}")),
            _ => http.delete(format!("{url}/api/v1/lines/{name}")),
        };
        let request = match body {
            Some(body) => request.json(&body),
            None => request,
        };
        let Ok(r) = request.bearer_auth(&token).send().await else {
            return;
        };
        let status = r.status();
        if r.bytes().await.is_err() {
            return;
        }
        assert!(status.is_success(), "{method} {name}: {status}");
        let mut c = log.lock().expect("log");
        *c.acknowledged.entry(name.clone()).or_default() += 1;
        c.lines.insert(name, after);
        c.in_flight = None;
    }
}

/// Every line whose name starts with `e` (the edits' lines), as stored.
async fn stored_lines(node: &ServeProcess, token: &str) -> BTreeMap<String, (String, u64)> {
    let mut out = BTreeMap::new();
    let mut offset = 0;
    loop {
        let page = api(
            node,
            token,
            "GET",
            &format!("/api/v1/lines?q=e&offset={offset}&limit=1000"),
            Value::Null,
        )
        .await;
        let items = page["items"].as_array().expect("items").clone();
        for item in &items {
            let name = item["username"].as_str().expect("username").to_string();
            let note = item["note"].as_str().expect("note").to_string();
            let cap = item["max_connections"].as_u64().expect("max_connections");
            out.insert(name, (note, cap));
        }
        offset += items.len();
        if items.is_empty() || offset as u64 >= page["total"].as_u64().expect("total") {
            return out;
        }
    }
}

async fn edits_survive_kills(db: Db, label: &str) {
    const CLIENTS: usize = 4;
    let mode = mode(label);
    let mut rng = StdRng::seed_from_u64(mode.seed);
    let dir = tempfile::tempdir().expect("tempdir");
    let token = db.token(dir.path());
    let mut node = db.start(dir).await;
    let clients: Vec<Arc<Mutex<Client>>> = (0..CLIENTS).map(|_| Default::default()).collect();
    let (mut acknowledged, mut present, mut applied, mut lost) = (0u64, 0u64, 0u64, 0u64);
    for kill in 0..mode.kills {
        let tasks: Vec<_> = clients
            .iter()
            .enumerate()
            .map(|(me, log)| {
                tokio::spawn(edit(
                    node.url(""),
                    token.clone(),
                    me,
                    log.clone(),
                    rng.gen(),
                ))
            })
            .collect();
        let delay = Duration::from_millis(100) + random_delay(&mut rng, Duration::from_millis(900));
        tokio::time::sleep(delay).await;
        node = db.crash_and_restart(node).await;
        for task in tasks {
            task.await.expect("an edit client failed");
        }
        let stored = stored_lines(&node, &token).await;
        for log in &clients {
            let mut c = log.lock().expect("log");
            let in_flight = c.in_flight.take();
            for (name, want) in c.lines.clone() {
                let have = stored.get(&name).cloned();
                let changes = c.acknowledged.get(&name).copied().unwrap_or(0);
                acknowledged += changes;
                if have == want {
                    present += changes;
                    continue;
                }
                // Only the change in flight may differ, and only by being done.
                match &in_flight {
                    // The last acknowledged change was there before the
                    // one in flight replaced it.
                    Some((n, after)) if *n == name && have == *after => present += changes,
                    _ => panic!(
                        "kill {kill} after {delay:?}: line {name} is {have:?}, \
                         its last acknowledged change left {want:?} (in flight: {in_flight:?})"
                    ),
                }
            }
            if let Some((name, after)) = in_flight {
                let have = stored.get(&name).cloned();
                if have == after {
                    applied += 1;
                } else {
                    lost += 1;
                }
                c.lines.insert(name, have);
            }
            c.acknowledged.clear();
        }
        // Nothing but the clients' lines.
        let known: usize = clients
            .iter()
            .map(|c| {
                c.lock()
                    .expect("log")
                    .lines
                    .values()
                    .filter(|s| s.is_some())
                    .count()
            })
            .sum();
        assert_eq!(stored.len(), known, "kill {kill}: lines nobody made");
    }
    assert!(acknowledged > 0, "no edit was acknowledged");
    println!(
        "crash_consistency {label}: {} kills during {CLIENTS} clients' edits: \
         acknowledged {acknowledged}, present {present}; in flight at the kill: \
         done {applied}, not done {lost}",
        mode.kills
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_during_api_edits_every_acknowledged_change_is_there() {
    edits_survive_kills(Db::Sqlite, "edits (SQLite)").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_during_api_edits_on_postgres_every_acknowledged_change_is_there() {
    let db = Arc::new(TestDatabase::create().await);
    edits_survive_kills(Db::Postgres(db), "edits (PostgreSQL)").await;
}
