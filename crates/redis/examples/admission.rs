//! B7's load generator (`bench/b7_admission.sh`): connection admissions and
//! ends against one Redis from several nodes at once, or against the
//! in-process ledger, for the ratio between the two.
//!
//! ```text
//! admission local [--seconds S] [--lines L] [--max M]
//! admission redis URL PREFIX [--nodes N] [--rate R] [--seconds S] [--lines L]
//!                            [--max M] [--hold-ms H] [--concurrency C]
//! ```
//!
//! - `local`: one thread admits a lease on a random line and ends the one
//!   admitted 256 admissions before (fewer when the lines hold fewer than
//!   512), as fast as it can (`LocalLedger`, the one-box default): the
//!   single-node admission rate.
//! - `redis`: N nodes, each with its own connection and subscription as a
//!   `tvgate serve` has (`tvgate_redis::connect`), admit leases on L lines
//!   of M connections each (policy refuse, a distinct address and player
//!   per viewer), hold each admitted one for 0 to 2H ms, then end it. With
//!   `--rate R` the admissions are paced at R per second in total (open
//!   loop, launched every millisecond, so a slow answer does not slow the
//!   load); with `--rate 0` every node runs C viewers back to back (closed
//!   loop: the most it can do).
//!
//! The limit is checked twice: from the nodes' side (a count per line,
//! raised after an admission's answer and lowered before its end is sent,
//! so it can only be lower than the truth) and from Redis's side (every
//! 100 ms, the live leases of every line, as `count.lua` counts them). The
//! Redis CPU comes from `INFO cpu` before and after. Prints one line of
//! `key=value`; the keys under the prefix are deleted at the end.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tvgate_core::access::limiter::LimiterSettings;
use tvgate_core::ids::{LineId, StreamId};
use tvgate_core::ledger::local::LocalLedger;
use tvgate_core::ledger::{Admission, LeaseKind, LeaseRequest, Ledger, LimitPolicy};
use tvgate_redis::{Config, RedisLedger, ScanLimits, WhenUnavailable};

const TTL_SECS: u32 = 30;

struct Opts {
    nodes: usize,
    rate: f64,
    seconds: f64,
    lines: u64,
    max: u32,
    hold_ms: u64,
    concurrency: usize,
    /// Open loop: each admission launched at its own instant (`even`, from
    /// a pacing thread) or the ones due launched together every
    /// millisecond (`tick`, the first version: bursts of RATE/1000).
    pacing: Pacing,
    /// Whether Redis's side of the limit is sampled (off for callgrind
    /// counts, bench/b7_scripts.sh, where only the ledger's work counts).
    sample: bool,
}

#[derive(Clone, Copy, PartialEq)]
enum Pacing {
    Even,
    Tick,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: admission local [--seconds S] [--lines L] [--max M]\n       admission redis URL PREFIX [--nodes N] [--rate R] [--seconds S] [--lines L] [--max M] [--hold-ms H] [--concurrency C] [--pacing even|tick] [--sample 1|0]";
    let (mode, positional, flags) = match args.first().map(String::as_str) {
        Some("local") => ("local", Vec::new(), &args[1..]),
        Some("redis") if args.len() >= 3 => ("redis", args[1..3].to_vec(), &args[3..]),
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    };
    let opts = match parse(flags) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}\n{usage}");
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let line = match mode {
        "local" => runtime.block_on(local(&opts)),
        _ => runtime.block_on(redis_run(&positional[0], &positional[1], &opts)),
    };
    match line {
        Ok(line) => println!("{line}"),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}

fn parse(flags: &[String]) -> Result<Opts, String> {
    let mut o = Opts {
        nodes: 3,
        rate: 10_000.0,
        seconds: 10.0,
        lines: 1000,
        max: 2,
        hold_ms: 20,
        concurrency: 32,
        pacing: Pacing::Even,
        sample: true,
    };
    let mut it = flags.iter();
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--nodes" => o.nodes = number(flag, value)?,
            "--rate" => o.rate = number(flag, value)?,
            "--seconds" => o.seconds = number(flag, value)?,
            "--lines" => o.lines = number(flag, value)?,
            "--max" => o.max = number(flag, value)?,
            "--hold-ms" => o.hold_ms = number(flag, value)?,
            "--concurrency" => o.concurrency = number(flag, value)?,
            "--sample" => o.sample = value != "0",
            "--pacing" => {
                o.pacing = match value.as_str() {
                    "even" => Pacing::Even,
                    "tick" => Pacing::Tick,
                    _ => return Err(format!("--pacing {value}: even or tick")),
                }
            }
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    if o.nodes == 0 || o.lines == 0 || o.concurrency == 0 || o.seconds <= 0.0 {
        return Err("--nodes, --lines, --concurrency and --seconds must be above 0".into());
    }
    Ok(o)
}

fn number<T: std::str::FromStr>(flag: &str, value: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("{flag} {value}: not a number"))
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Viewer `i`'s request: a line picked from `i`, an address and a player
/// of its own (so an admission never replaces another viewer's lease).
fn request(i: u64, line: u64, max: u32) -> LeaseRequest {
    let ip = Ipv4Addr::from(0x0a00_0000u32 | (i as u32 & 0x00ff_ffff));
    LeaseRequest {
        line: LineId(line as i64),
        max_connections: max,
        policy: LimitPolicy::Refuse,
        stream: StreamId(1),
        ip: IpAddr::V4(ip),
        user_agent: format!("bench-{i}").into_boxed_str(),
        device: None,
        kind: LeaseKind::LiveTs,
    }
}

fn pick_line(lines: u64) -> u64 {
    rand::random::<u64>() % lines + 1
}

/// The in-process ledger, one thread, as fast as it goes.
async fn local(o: &Opts) -> Result<String, String> {
    let ledger = LocalLedger::new();
    // At most half of the slots held, so most admissions are granted.
    let ring = (o.lines * u64::from(o.max) / 2).clamp(1, 256) as usize;
    let mut held = std::collections::VecDeque::with_capacity(ring);
    let (mut admissions, mut admitted, mut ends) = (0u64, 0u64, 0u64);
    let started = Instant::now();
    let cpu0 = cpu_seconds();
    let mut i = 0u64;
    while started.elapsed().as_secs_f64() < o.seconds {
        // Check the clock every 1024 admissions only.
        for _ in 0..1024 {
            i += 1;
            let req = request(i, pick_line(o.lines), o.max);
            admissions += 1;
            if let Admission::Admitted { id, .. } = ledger.admit(&req, unix_now(), TTL_SECS).await {
                admitted += 1;
                held.push_back(id);
            }
            if held.len() >= ring {
                if let Some(id) = held.pop_front() {
                    ledger.end(id).await;
                    ends += 1;
                }
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    Ok(format!(
        "mode=local secs={secs:.2} admissions={admissions} admitted={admitted} ends={ends} rate={:.0} cpu_us_per_admission={:.3}",
        admissions as f64 / secs,
        cpu * 1e6 / admissions.max(1) as f64
    ))
}

/// This process's CPU time (user + system), in seconds.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    let Some(rest) = stat.rsplit(") ").next() else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<f64>().ok())
        .sum();
    ticks / 100.0
}

/// What every node's viewers add to.
struct Tally {
    admit_us: Mutex<Vec<u32>>,
    end_us: Mutex<Vec<u32>>,
    admissions: AtomicU64,
    admitted: AtomicU64,
    full: AtomicU64,
    unavailable: AtomicU64,
    ends: AtomicU64,
    /// Viewers per line as the nodes know them (index: line id).
    held: Vec<AtomicI64>,
    over_limit: AtomicU64,
    in_flight: AtomicI64,
}

/// One viewer: admitted (or not), held for `hold`, ended.
async fn viewer(
    ledger: Arc<RedisLedger>,
    tally: Arc<Tally>,
    i: u64,
    line: u64,
    max: u32,
    hold: Duration,
) {
    let req = request(i, line, max);
    let t0 = Instant::now();
    let answer = ledger.admit(&req, unix_now(), TTL_SECS).await;
    let us = t0.elapsed().as_micros().min(u32::MAX as u128) as u32;
    tally.admissions.fetch_add(1, Ordering::Relaxed);
    tally.admit_us.lock().expect("latencies").push(us);
    match answer {
        Admission::Admitted { id, .. } => {
            tally.admitted.fetch_add(1, Ordering::Relaxed);
            let held = &tally.held[line as usize];
            if held.fetch_add(1, Ordering::SeqCst) + 1 > i64::from(max) {
                tally.over_limit.fetch_add(1, Ordering::Relaxed);
            }
            if !hold.is_zero() {
                tokio::time::sleep(hold).await;
            }
            held.fetch_sub(1, Ordering::SeqCst);
            let t1 = Instant::now();
            ledger.end(id).await;
            let us = t1.elapsed().as_micros().min(u32::MAX as u128) as u32;
            tally.end_us.lock().expect("latencies").push(us);
            tally.ends.fetch_add(1, Ordering::Relaxed);
        }
        Admission::Full { .. } => {
            tally.full.fetch_add(1, Ordering::Relaxed);
        }
        Admission::Unavailable => {
            tally.unavailable.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn hold_time(hold_ms: u64) -> Duration {
    if hold_ms == 0 {
        return Duration::ZERO;
    }
    Duration::from_micros(rand::random::<u64>() % (2 * hold_ms * 1000))
}

async fn redis_run(url: &str, prefix: &str, o: &Opts) -> Result<String, String> {
    let client = redis::Client::open(url).map_err(|e| format!("{url}: {e}"))?;
    let mut probe = client
        .get_multiplexed_async_connection()
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    let mut nodes = Vec::new();
    for _ in 0..o.nodes {
        let config = Config {
            url: url.to_string(),
            prefix: prefix.to_string(),
            when_unavailable: WhenUnavailable::Refuse,
            login_limits: LimiterSettings::default(),
            scan_limits: ScanLimits {
                per_minute: 5,
                block_secs: 600,
            },
        };
        let node = tvgate_redis::connect(config, Arc::new(AtomicU64::new(0)))
            .await
            .map_err(|e| e.to_string())?;
        nodes.push(node);
    }
    let tally = Arc::new(Tally {
        admit_us: Mutex::new(Vec::new()),
        end_us: Mutex::new(Vec::new()),
        admissions: AtomicU64::new(0),
        admitted: AtomicU64::new(0),
        full: AtomicU64::new(0),
        unavailable: AtomicU64::new(0),
        ends: AtomicU64::new(0),
        held: (0..=o.lines).map(|_| AtomicI64::new(0)).collect(),
        over_limit: AtomicU64::new(0),
        in_flight: AtomicI64::new(0),
    });
    // Redis's side of the limit: every line's live leases, as `count.lua`
    // counts them, every 100 ms, a slice of the lines each millisecond (one
    // pipeline of every line at once would hold Redis for a millisecond and
    // show up in the admissions' tail).
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let (mut conn, stop, lines, sample) = (probe.clone(), stop.clone(), o.lines, o.sample);
        let keys: Vec<String> = (1..=lines).map(|l| format!("{prefix}leases:{l}")).collect();
        let slice = keys.len().div_ceil(100);
        let count = redis::Script::new(
            "local now, r = tonumber(ARGV[1]), 0 \
             for _, k in ipairs(KEYS) do local n = 0 \
             for _, v in ipairs(redis.call('HVALS', k)) do \
             if cmsgpack.unpack(v)[7] > now then n = n + 1 end end \
             if n > r then r = n end end return r",
        );
        tokio::spawn(async move {
            let (mut most, mut samples) = (0i64, 0u64);
            let mut tick = tokio::time::interval(Duration::from_millis(1));
            'sampling: while sample && !stop.load(Ordering::Relaxed) {
                for chunk in keys.chunks(slice) {
                    tick.tick().await;
                    if stop.load(Ordering::Relaxed) {
                        break 'sampling;
                    }
                    let mut call = count.prepare_invoke();
                    for key in chunk {
                        call.key(key);
                    }
                    if let Ok(n) = call.arg(unix_now()).invoke_async::<i64>(&mut conn).await {
                        most = most.max(n);
                    }
                }
                samples += 1;
            }
            (most, samples)
        })
    };
    let cpu0 = redis_cpu(&mut probe).await?;
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(o.seconds);
    let next_id = Arc::new(AtomicU64::new(0));
    let mut drivers = Vec::new();
    for node in &nodes {
        let ledger = node.ledger.clone();
        if o.rate > 0.0 {
            // Open loop: this node's share of the rate, launched every ms.
            let per_node = o.rate / o.nodes as f64;
            let (tally, next_id, lines, max, hold_ms) =
                (tally.clone(), next_id.clone(), o.lines, o.max, o.hold_ms);
            if o.pacing == Pacing::Even {
                // A thread of its own sleeps to each admission's instant and
                // hands it to the runtime: no bursts.
                let handle = tokio::runtime::Handle::current();
                let pacer = std::thread::spawn(move || {
                    let gap = Duration::from_secs_f64(1.0 / per_node);
                    let mut due = started;
                    while due < deadline {
                        let now = Instant::now();
                        if due > now {
                            std::thread::sleep(due - now);
                        }
                        due += gap;
                        let i = next_id.fetch_add(1, Ordering::Relaxed);
                        let (ledger, tally) = (ledger.clone(), tally.clone());
                        tally.in_flight.fetch_add(1, Ordering::SeqCst);
                        handle.spawn(async move {
                            let hold = hold_time(hold_ms);
                            viewer(ledger, tally.clone(), i, pick_line(lines), max, hold).await;
                            tally.in_flight.fetch_sub(1, Ordering::SeqCst);
                        });
                    }
                });
                drivers.push(tokio::task::spawn_blocking(move || {
                    pacer.join().unwrap_or_default();
                }));
                continue;
            }
            drivers.push(tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_millis(1));
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
                let mut launched = 0u64;
                while Instant::now() < deadline {
                    tick.tick().await;
                    let due = (started.elapsed().as_secs_f64() * per_node) as u64;
                    while launched < due {
                        launched += 1;
                        let i = next_id.fetch_add(1, Ordering::Relaxed);
                        let (ledger, tally) = (ledger.clone(), tally.clone());
                        tally.in_flight.fetch_add(1, Ordering::SeqCst);
                        tokio::spawn(async move {
                            let hold = hold_time(hold_ms);
                            viewer(ledger, tally.clone(), i, pick_line(lines), max, hold).await;
                            tally.in_flight.fetch_sub(1, Ordering::SeqCst);
                        });
                    }
                }
            }));
        } else {
            // Closed loop: C viewers one after the other, per node.
            for _ in 0..o.concurrency {
                let (ledger, tally, next_id, lines, max, hold_ms) = (
                    ledger.clone(),
                    tally.clone(),
                    next_id.clone(),
                    o.lines,
                    o.max,
                    o.hold_ms,
                );
                drivers.push(tokio::spawn(async move {
                    while Instant::now() < deadline {
                        let i = next_id.fetch_add(1, Ordering::Relaxed);
                        let hold = hold_time(hold_ms);
                        viewer(
                            ledger.clone(),
                            tally.clone(),
                            i,
                            pick_line(lines),
                            max,
                            hold,
                        )
                        .await;
                    }
                }));
            }
        }
    }
    for d in drivers {
        d.await.map_err(|e| e.to_string())?;
    }
    let wait_end = Instant::now();
    while tally.in_flight.load(Ordering::SeqCst) > 0 && wait_end.elapsed() < Duration::from_secs(30)
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let secs = started.elapsed().as_secs_f64();
    let cpu1 = redis_cpu(&mut probe).await?;
    stop.store(true, Ordering::Relaxed);
    let (most_in_redis, samples) = sampler.await.map_err(|e| e.to_string())?;
    let admissions = tally.admissions.load(Ordering::Relaxed);
    let ends = tally.ends.load(Ordering::Relaxed);
    let mut admit_us = std::mem::take(&mut *tally.admit_us.lock().expect("latencies"));
    let mut end_us = std::mem::take(&mut *tally.end_us.lock().expect("latencies"));
    admit_us.sort_unstable();
    end_us.sort_unstable();
    let redis_cpu = cpu1 - cpu0;
    let line = format!(
        "mode=redis nodes={} target_rate={} secs={secs:.2} admissions={admissions} admitted={} full={} unavailable={} ends={ends} rate={:.0} per_node={:.0} admit_p50_us={} admit_p99_us={} admit_p999_us={} admit_max_us={} end_p99_us={} over_limit_nodes={} max_live_per_line_redis={most_in_redis} redis_samples={samples} redis_cpu_s={redis_cpu:.3} redis_cpu_us_per_admission={:.2} redis_cpu_us_per_op={:.2}",
        o.nodes,
        o.rate,
        tally.admitted.load(Ordering::Relaxed),
        tally.full.load(Ordering::Relaxed),
        tally.unavailable.load(Ordering::Relaxed),
        admissions as f64 / secs,
        admissions as f64 / secs / o.nodes as f64,
        percentile(&admit_us, 0.50),
        percentile(&admit_us, 0.99),
        percentile(&admit_us, 0.999),
        admit_us.last().copied().unwrap_or(0),
        percentile(&end_us, 0.99),
        tally.over_limit.load(Ordering::Relaxed),
        redis_cpu * 1e6 / admissions.max(1) as f64,
        redis_cpu * 1e6 / (admissions + ends).max(1) as f64,
    );
    drop(nodes);
    clean(&mut probe, prefix).await;
    Ok(line)
}

fn percentile(sorted: &[u32], q: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Redis's CPU time so far (user + system, main thread and children).
async fn redis_cpu(conn: &mut redis::aio::MultiplexedConnection) -> Result<f64, String> {
    let info: String = redis::cmd("INFO")
        .arg("cpu")
        .query_async(conn)
        .await
        .map_err(|e| format!("INFO cpu: {e}"))?;
    Ok(info
        .lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(k, _)| *k == "used_cpu_sys" || *k == "used_cpu_user")
        .filter_map(|(_, v)| v.trim().parse::<f64>().ok())
        .sum())
}

/// Deletes every key under `prefix`.
async fn clean(conn: &mut redis::aio::MultiplexedConnection, prefix: &str) {
    let mut cursor: u64 = 0;
    loop {
        let Ok((next, keys)): redis::RedisResult<(u64, Vec<String>)> = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(conn)
            .await
        else {
            return;
        };
        if !keys.is_empty() {
            let _: redis::RedisResult<()> = redis::cmd("DEL").arg(keys).query_async(conn).await;
        }
        if next == 0 {
            return;
        }
        cursor = next;
    }
}
