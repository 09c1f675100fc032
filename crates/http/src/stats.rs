//! The dashboard's history, kept by the node itself: a ring of per-minute
//! samples (`tvgate_core::stats::Sampler`) fed from the `/metrics`
//! counters, written to the store every minute under the node's name and
//! read back summed over every node sharing the store; and lines'
//! timelines (logins, streams), queued on the request path and written in
//! batches, as the denial log is (`crate::refusals`).
//!
//! - [`start`] names the node (host and port), puts back the samples it
//!   wrote before a restart and takes the counters' baseline, before the
//!   first request; [`run`] samples every [`SAMPLE_EVERY`], writes every
//!   [`WRITE_EVERY`] and once more at shutdown, and prunes hourly.
//! - Viewers are this node's open connection slots: the leases it granted
//!   that the ledger still holds (whoever ends them: the viewer, a
//!   reconnect, newest-wins, the operator, an HLS idle window), so nodes
//!   sharing a Redis ledger each count their own and the sum is everyone.
//! - Repeated logins coalesce: a login of the same line, from the same
//!   address, player and face within [`LOGIN_COALESCE_SECS`] of the one
//!   recorded is not recorded again (a player polling player_api would
//!   otherwise queue a write per poll). The key's hash is a few
//!   multiplications ([`FxHasher`]), not SipHash: it is on the login path.
//! - Readers ([`window`]) first sample and write the node's own minute,
//!   so a figure read is the counters' growth up to the moment of reading.

use crate::state::App;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tvgate_core::access::Denial;
use tvgate_core::ids::LineId;
use tvgate_core::ledger::LeaseId;
use tvgate_core::stats::{Counters, Sample, Sampler, MAX_WINDOW_SECS};
use tvgate_core::timeline::LineEvent;

/// How often the counters are sampled (the viewers' peak of a minute is
/// the most seen at these moments).
pub const SAMPLE_EVERY: Duration = Duration::from_secs(5);
/// How often the changed minutes are written to the store.
pub const WRITE_EVERY: Duration = Duration::from_secs(30);
/// How often timeline events waiting are written.
pub const EVENTS_EVERY: Duration = Duration::from_secs(1);
/// How often old samples and events are deleted.
pub const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// Timeline events waiting to be written, at most (more are dropped).
pub const EVENT_QUEUE: usize = 4096;
/// A login repeating one recorded this many seconds ago or less (same
/// line, address, player and face) is not recorded again.
pub const LOGIN_COALESCE_SECS: i64 = 60;
/// Logins remembered for coalescing, at most (past it, the stale ones are
/// forgotten, and all of them if none is stale).
const RECENT_LOGINS: usize = 65_536;

/// A login as coalescing compares it: the player by its text's hash (a
/// collision only merges two logins of one line from one address).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct LoginKey {
    line: LineId,
    ip: IpAddr,
    player: u64,
    face: &'static str,
}

/// FxHash (rustc's): one rotate, xor and multiply per word. Keys here
/// are the server's own (line ids, addresses), so flooding is no concern
/// beyond [`RECENT_LOGINS`]' bound.
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.write_u64(u64::from_le_bytes(w));
        }
        for &b in chunks.remainder() {
            self.write_u8(b);
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.write_u64(u64::from(i));
    }
    fn write_u16(&mut self, i: u16) {
        self.write_u64(u64::from(i));
    }
    fn write_u32(&mut self, i: u32) {
        self.write_u64(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type Fx = BuildHasherDefault<FxHasher>;

/// The node's samples, the leases it granted, and the events waiting.
#[derive(Default)]
pub struct Stats {
    node: OnceLock<String>,
    /// std Mutexes below: each held for one short operation, never across
    /// an await.
    sampler: Mutex<Sampler>,
    opened: Mutex<HashSet<LeaseId>>,
    events: Mutex<Vec<LineEvent>>,
    /// The logins recorded lately, with when: a repeat within
    /// [`LOGIN_COALESCE_SECS`] is not queued.
    recent_logins: Mutex<HashMap<LoginKey, i64, Fx>>,
    /// Held while samples or events go to the store, so a reader that
    /// flushes sees them committed.
    writing: tokio::sync::Mutex<()>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Stats {
    /// The name this node's samples are kept under.
    pub fn node(&self) -> &str {
        self.node.get().map_or("local", String::as_str)
    }

    /// A slot this node granted (counted as a viewer while the ledger holds it).
    pub fn opened(&self, id: LeaseId) {
        let mut opened = lock(&self.opened);
        // Bounded: a ledger that never answers cannot grow it without end.
        if opened.len() < 1_000_000 {
            opened.insert(id);
        }
    }

    /// Queues a timeline event; `false` when the queue is full.
    pub fn record(&self, event: LineEvent) -> bool {
        self.record_with(|| event)
    }

    /// Queues the event `make` builds, built only when the queue has room
    /// (a flood of logins fills it within the second: the rest cost nothing).
    pub fn record_with(&self, make: impl FnOnce() -> LineEvent) -> bool {
        let mut events = lock(&self.events);
        if events.len() >= EVENT_QUEUE {
            return false;
        }
        events.push(make());
        true
    }

    /// A login of `line`, for its timeline: queued unless the same login
    /// (line, address, player, face) was within [`LOGIN_COALESCE_SECS`].
    pub fn login(&self, line: LineId, at: i64, caller: &crate::access::Caller, face: &'static str) {
        let player = caller.user_agent();
        let mut h = FxHasher::default();
        h.write(player.as_bytes());
        let key = LoginKey {
            line,
            ip: caller.ip,
            player: h.finish(),
            face,
        };
        {
            let mut recent = lock(&self.recent_logins);
            match recent.get_mut(&key) {
                Some(last) if at >= *last && at - *last <= LOGIN_COALESCE_SECS => return,
                Some(last) => *last = at,
                None => {
                    if recent.len() >= RECENT_LOGINS {
                        recent.retain(|_, last| at - *last <= LOGIN_COALESCE_SECS);
                        if recent.len() >= RECENT_LOGINS {
                            recent.clear();
                        }
                    }
                    recent.insert(key, at);
                }
            }
        }
        let queued = self.record_with(|| LineEvent {
            line,
            kind: tvgate_core::timeline::EventKind::Login,
            at,
            ended: None,
            channel: String::new(),
            player: player.to_string(),
            ip: caller.ip,
            detail: face.to_string(),
        });
        if !queued {
            // Dropped (queue full): the next such login may try again.
            lock(&self.recent_logins).remove(&key);
        }
    }
}

/// This host's name and the port: a node's name that stays the same
/// across its restarts and differs between nodes on one machine.
pub fn node_name(port: Option<u16>) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string());
    match port {
        Some(port) => format!("{host}:{port}"),
        None => host,
    }
}

/// This node's viewers now: the slots it granted that the ledger still
/// holds. Forgets the others.
pub async fn viewers_now(app: &App) -> u64 {
    let live: HashSet<LeaseId> = app
        .ledger
        .all(app.now())
        .await
        .into_iter()
        .map(|l| l.id)
        .collect();
    let mut opened = lock(&app.stats.opened);
    opened.retain(|id| live.contains(id));
    opened.len() as u64
}

/// The counters as `/metrics` shows them now.
async fn counters(app: &App) -> Counters {
    let m = &app.metrics;
    Counters {
        viewers_now: viewers_now(app).await,
        bytes_out: m.viewer_bytes.load(Ordering::Relaxed),
        logins: m.logins_ok.load(Ordering::Relaxed),
        refusals: Denial::CODES.iter().map(|c| (*c, m.denials(c))).collect(),
    }
}

/// Samples the counters into the minute of now.
pub async fn observe(app: &App) {
    let counters = counters(app).await;
    let now = app.now();
    lock(&app.stats.sampler).observe(now, counters);
}

/// Names the node, puts back what it wrote before a restart and takes
/// the counters' baseline: run before the first request.
pub async fn start(app: &App, port: Option<u16>) {
    let _ = app.stats.node.set(node_name(port));
    let now = app.now();
    match app
        .gate
        .samples(Some(app.stats.node()), now - MAX_WINDOW_SECS)
        .await
    {
        Ok(own) => lock(&app.stats.sampler).restore(own, now),
        Err(e) => tracing::warn!(error = %e, "reading this node's samples failed"),
    }
    observe(app).await;
    prune(app).await;
}

/// Writes the changed minutes and the waiting events. A write the store
/// refuses is kept and tried again (samples) or dropped and logged (events).
pub async fn flush(app: &App) {
    let app = app.clone();
    // Its own task: a reader that goes away mid-write cannot leave a
    // batch half-handled under the lock.
    let _ = tokio::spawn(async move {
        let _writing = app.stats.writing.lock().await;
        let samples = lock(&app.stats.sampler).take_changed();
        if let Err(e) = app
            .gate
            .record_samples(app.stats.node(), samples.clone())
            .await
        {
            lock(&app.stats.sampler).unwritten(&samples);
            tracing::warn!(error = %e, "writing samples failed");
        }
        let events = std::mem::take(&mut *lock(&app.stats.events));
        let n = events.len();
        if let Err(e) = app.gate.record_line_events(events).await {
            tracing::warn!(error = %e, lost = n, "writing lines' timelines failed");
        }
    })
    .await;
}

/// Writes the events waiting (a line's page reads after it).
pub async fn flush_events(app: &App) {
    let app = app.clone();
    let _ = tokio::spawn(async move {
        let _writing = app.stats.writing.lock().await;
        let events = std::mem::take(&mut *lock(&app.stats.events));
        let n = events.len();
        if let Err(e) = app.gate.record_line_events(events).await {
            tracing::warn!(error = %e, lost = n, "writing lines' timelines failed");
        }
    })
    .await;
}

/// The samples of the last `secs` seconds (at most a day), every node's
/// summed per minute, oldest first; this node's own when the store fails.
pub async fn window(app: &App, secs: i64) -> Vec<Sample> {
    observe(app).await;
    flush(app).await;
    let since = app.now() - secs.clamp(60, MAX_WINDOW_SECS) + 60;
    let since = tvgate_core::stats::minute_of(since);
    match app.gate.samples(None, since).await {
        Ok(samples) => samples,
        Err(e) => {
            tracing::warn!(error = %e, "reading samples failed; showing this node's own");
            lock(&app.stats.sampler).since(since)
        }
    }
}

async fn prune(app: &App) {
    match app
        .gate
        .prune_history(app.now(), app.settings.denial_log_days)
        .await
    {
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "pruning samples and timelines failed"),
    }
}

/// The sampler and writer, beside the server until `shutdown`; then one
/// last sample and write.
pub async fn run(app: App, shutdown: CancellationToken) {
    let mut sample = tokio::time::interval(SAMPLE_EVERY);
    let mut write = tokio::time::interval(WRITE_EVERY);
    let mut events = tokio::time::interval(EVENTS_EVERY);
    let mut prune_tick = tokio::time::interval(PRUNE_EVERY);
    for t in [&mut sample, &mut write, &mut events, &mut prune_tick] {
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        t.reset();
    }
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = sample.tick() => observe(&app).await,
            _ = write.tick() => flush(&app).await,
            _ = events.tick() => flush_events(&app).await,
            _ = prune_tick.tick() => prune(&app).await,
        }
    }
    observe(&app).await;
    flush(&app).await;
}
