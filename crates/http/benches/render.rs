//! Rendering cost of the two largest answers for a catalog like
//! bench/gen.py's (live channels only, 225 groups): `get.php` m3u_plus and
//! `player_api.php?action=get_live_streams`. Prints ns per entry, for the
//! fill functions alone and through the streamed response body.
//!
//! `CARGO_TARGET_DIR=target-perf cargo bench -p tvgate-http --bench render`
//! (env: `ENTRIES`, default 100000; `ROUNDS`, default 20; `ONLY`, run the
//! measures whose label contains it).

use axum::body::Body;
use http_body_util::BodyExt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tvgate_core::access::{Line, OutputFormat, OutputFormats, Status};
use tvgate_core::catalog::{Catalog, CatalogData, Category, CategoryKind, LiveChannel, LiveText};
use tvgate_core::ids::{CategoryId, LineId, SourceId, StreamId};
use tvgate_http::xtream::get_php::{Flavour, Playlist, UrlPrefixes};
use tvgate_http::xtream::lists;

const COUNTRIES: [&str; 15] = [
    "UK", "US", "DE", "FR", "ES", "IT", "PT", "NL", "PL", "TR", "AR", "IN", "CA", "AU", "SE",
];
const WORDS: [&str; 15] = [
    "News", "Sports", "Movies", "Kids", "Music", "Docs", "Drama", "Comedy", "Crime", "Nature",
    "History", "Travel", "Food", "Tech", "Weather",
];

fn catalog(n: usize) -> Catalog {
    let mut data = CatalogData::default();
    for (ci, cc) in COUNTRIES.iter().enumerate() {
        for (wi, w) in WORDS.iter().enumerate() {
            data.categories.push(Category {
                id: CategoryId((ci * WORDS.len() + wi + 1) as u32),
                kind: CategoryKind::Live,
                name: format!("{cc} | {w}").into(),
            });
        }
    }
    for i in 1..=n {
        let (ci, wi) = (i % COUNTRIES.len(), (i / 7) % WORDS.len());
        let (cc, w) = (COUNTRIES[ci], WORDS[wi]);
        let tid = format!("{}{i}.{}", w.to_lowercase(), cc.to_lowercase());
        data.live.push(LiveChannel {
            id: StreamId(i as u32),
            source: SourceId(1),
            category: Some(CategoryId((ci * WORDS.len() + wi + 1) as u32)),
            added: 1_700_000_000,
            is_adult: false,
            archive_days: 0,
            text: LiveText::new(
                &format!("{cc}: {w} {i} HD"),
                &format!("http://logos.example.test/picons/{tid}.png"),
                &format!("http://127.0.0.1:8080/live/alice/secret/{i}.ts"),
                Some(&tid),
            ),
        });
    }
    Catalog::build(data)
}

fn line() -> Arc<Line> {
    Arc::new(Line {
        id: LineId(1),
        username: "bench".into(),
        password_hash: "".into(),
        verifier: None,
        status: Status::Active,
        expires_at: None,
        is_trial: false,
        max_connections: 0,
        limit_policy: None,
        allowed_formats: OutputFormats::DEFAULT,
        created_at: 0,
        note: "".into(),
        package: None,
        revision: 0,
    })
}

/// Runs `fill` to the end; returns the bytes produced.
fn drain(mut fill: impl FnMut(&mut Vec<u8>) -> bool, buf: &mut Vec<u8>) -> usize {
    let mut total = 0;
    loop {
        buf.clear();
        let more = fill(buf);
        total += buf.len();
        if !more {
            return total;
        }
    }
}

fn drain_body(rt: &tokio::runtime::Runtime, mut body: Body) -> usize {
    rt.block_on(async move {
        let mut total = 0;
        while let Some(Ok(frame)) = body.frame().await {
            total += frame.data_ref().map_or(0, |d| d.len());
        }
        total
    })
}

/// Nanoseconds this thread has run on a CPU (`/proc/thread-self/schedstat`,
/// brought up to date at each scheduler tick), which, unlike wall time,
/// other processes on a shared machine barely skew.
fn cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Runs `f` `rounds` times; prints the mean on-CPU time (over all rounds,
/// so the tick granularity of schedstat averages out) and the best and
/// median wall times, in ns per entry.
fn measure(label: &str, rounds: usize, entries: usize, mut f: impl FnMut() -> usize) {
    if std::env::var("ONLY").is_ok_and(|only| !label.contains(&only)) {
        return;
    }
    let mut wall: Vec<Duration> = Vec::with_capacity(rounds);
    let mut bytes = 0;
    f(); // warm-up
    let cpu0 = cpu_ns();
    for _ in 0..rounds {
        let t = Instant::now();
        bytes = std::hint::black_box(f());
        wall.push(t.elapsed());
    }
    let cpu = cpu_ns().zip(cpu0).map(|(b, a)| (b - a) / rounds as u64);
    wall.sort_unstable();
    let per = |ns: u128| ns as f64 / entries as f64;
    println!(
        "{label:<24} {bytes:>9} B  cpu mean {:>5.1} ns/entry ({:>5.2} ms/list)  wall best {:>5.1} median {:>5.1} ns/entry",
        cpu.map_or(f64::NAN, |c| per(c.into())),
        cpu.map_or(f64::NAN, |c| c as f64 / 1e6),
        per(wall[0].as_nanos()),
        per(wall[rounds / 2].as_nanos()),
    );
}

fn main() {
    let env = |k: &str, d: usize| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let entries = env("ENTRIES", 100_000);
    let rounds = env("ROUNDS", 20).max(1);
    let catalog = Arc::new(catalog(entries));
    let line = line();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let base = "http://127.0.0.1:8080";
    let creds = "bench/bench-pass";
    let epg = format!("{base}/xmltv.php?username=bench&password=bench-pass");
    let mut buf = Vec::with_capacity(80 * 1024);
    let playlist = || {
        Playlist::new(
            catalog.clone(),
            &line,
            Flavour::Plus,
            UrlPrefixes::new(base, creds, OutputFormat::Ts),
            epg.clone(),
        )
    };
    println!("{entries} live channels, {rounds} rounds");
    measure("m3u_plus fill", rounds, entries, || {
        drain(playlist().into_fill(), &mut buf)
    });
    measure("m3u_plus body", rounds, entries, || {
        drain_body(&rt, tvgate_http::body::chunked(playlist().into_fill()))
    });
    measure("get_live_streams fill", rounds, entries, || {
        drain(
            lists::live_streams_fill(catalog.clone(), line.clone(), None),
            &mut buf,
        )
    });
    measure("get_live_streams body", rounds, entries, || {
        drain_body(
            &rt,
            lists::live_streams(catalog.clone(), line.clone(), None),
        )
    });
}
