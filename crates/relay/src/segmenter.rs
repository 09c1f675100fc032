//! Live HLS from any MPEG-TS channel, without transcoding: the channel's
//! stream, read from its one upstream in the hub like one more viewer, is
//! cut at keyframes into segments kept in memory, one copy shared by every
//! HLS viewer of the channel (refcounted [`Bytes`]), behind a sliding-window
//! playlist.
//!
//! * [`cut`]: where a segment ends and how long it is (pure).
//! * [`window`]: which segments are listed and kept, and the playlist's
//!   numbers (pure).
//! * This module: one segmenter task per channel, started by the first
//!   HLS request ([`Segmenters::get_or_start`]) and stopped once no HLS
//!   request has touched it for the idle window, which lets the hub's
//!   upstream go too when nobody else watches.
//!
//! The segmenter never slows the channel: it reads the hub's ring like any
//! viewer, and cutting a chunk is a scan of its packets and one copy into
//! the segment being filled.
//!
//! Media sequence numbers of a channel never go back on one server: a new
//! run continues where the previous one stopped (its first segment marked
//! discontinuous), and a first run starts from the wall clock (Unix seconds
//! divided by the segment duration), so two servers number the same
//! channel alike. Each run has a random id, carried by the segment links,
//! so a link from an earlier run or from another server is answered 404
//! rather than with another segment of the same number.

pub mod cut;
pub mod window;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt};
use tokio::sync::watch;
use tokio::time::Instant;
use tvgate_formats::hls_live::{LiveEntry, LiveHead};

pub use cut::{is_seam_marker, seam_marker, Cut, CutConfig, Cutter, Timing};
pub use window::Window;

/// Segmenter settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmenterConfig {
    /// Duration aimed at per segment (`hls_segment_secs`).
    pub segment: Duration,
    /// Segments listed at least (`hls_window_segments`).
    pub window: usize,
    /// A segmenter nobody has asked anything for this long stops.
    pub idle: Duration,
}

impl Default for SegmenterConfig {
    fn default() -> Self {
        SegmenterConfig {
            segment: Duration::from_secs(4),
            window: 6,
            idle: Duration::from_secs(12),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
struct Counters {
    running: AtomicU64,
    started: AtomicU64,
    segments: AtomicU64,
    forced: AtomicU64,
}

/// The counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SegmenterStats {
    /// Segmenters running now.
    pub running: u64,
    /// Segmenters started since the server started.
    pub started: u64,
    /// Segments cut.
    pub segments: u64,
    /// Segments cut without a keyframe (bad input).
    pub forced: u64,
}

/// The running segmenters, by channel key. Cheap to clone.
#[derive(Clone)]
pub struct Segmenters {
    inner: Arc<Registry>,
}

impl std::fmt::Debug for Segmenters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Segmenters")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

struct Registry {
    config: SegmenterConfig,
    running: Mutex<HashMap<String, Arc<LiveSegments>>>,
    /// Per channel: the media sequence number after the last run's.
    next_seq: Mutex<HashMap<String, u64>>,
    counters: Counters,
}

/// Where the segments stand, for requests waiting for the first one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Progress {
    segments: u64,
    ended: bool,
}

/// One channel's segments while its segmenter runs.
pub struct LiveSegments {
    run: u32,
    window: Mutex<Window>,
    progress: watch::Sender<Progress>,
    born: Instant,
    /// Milliseconds after `born` of the last request.
    used: AtomicU64,
    alive: AtomicBool,
}

impl std::fmt::Debug for LiveSegments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveSegments")
            .field("run", &self.run)
            .finish_non_exhaustive()
    }
}

/// A new run id: random across servers and restarts, distinct within one.
fn run_id() -> u32 {
    static NEXT: OnceLock<AtomicU32> = OnceLock::new();
    let next = NEXT.get_or_init(|| {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos() ^ (d.as_secs() as u32));
        AtomicU32::new(nanos ^ std::process::id().rotate_left(16))
    });
    // An odd step visits every value before repeating.
    next.fetch_add(0x9E37_79B9, Ordering::Relaxed)
}

impl Segmenters {
    pub fn new(config: SegmenterConfig) -> Segmenters {
        Segmenters {
            inner: Arc::new(Registry {
                config,
                running: Mutex::new(HashMap::new()),
                next_seq: Mutex::new(HashMap::new()),
                counters: Counters::default(),
            }),
        }
    }

    pub fn config(&self) -> SegmenterConfig {
        self.inner.config
    }

    /// The segments of `key`, starting its segmenter if none runs: `open`
    /// is then called (under the registry's lock: it must be quick, such as
    /// joining the hub) for the channel's stream. Counts as a request.
    /// Must be called inside a tokio runtime.
    pub fn get_or_start<E>(
        &self,
        key: &str,
        open: impl FnOnce() -> Result<BoxStream<'static, Bytes>, E>,
    ) -> Result<Arc<LiveSegments>, E> {
        let mut running = lock(&self.inner.running);
        if let Some(seg) = running.get(key).filter(|s| s.alive.load(Ordering::Acquire)) {
            seg.touch();
            return Ok(Arc::clone(seg));
        }
        let stream = open()?;
        let cfg = self.inner.config;
        let (first_seq, continues) = match lock(&self.inner.next_seq).get(key) {
            Some(&n) => (n, true),
            None => {
                let secs = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                (secs / cfg.segment.as_secs().max(1), false)
            }
        };
        let seg = Arc::new(LiveSegments {
            run: run_id(),
            window: Mutex::new(Window::new(cfg.window, cfg.segment, first_seq, continues)),
            progress: watch::Sender::new(Progress::default()),
            born: Instant::now(),
            used: AtomicU64::new(0),
            alive: AtomicBool::new(true),
        });
        running.insert(key.to_owned(), Arc::clone(&seg));
        drop(running);
        self.inner.counters.started.fetch_add(1, Ordering::Relaxed);
        self.inner.counters.running.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(channel = key, run = seg.run, "HLS segmenter started");
        tokio::spawn(run(
            Arc::clone(&self.inner),
            key.to_owned(),
            Arc::clone(&seg),
            stream,
        ));
        Ok(seg)
    }

    /// The segments of `key` if its segmenter runs. Counts as a request.
    pub fn get(&self, key: &str) -> Option<Arc<LiveSegments>> {
        let running = lock(&self.inner.running);
        let seg = running.get(key)?;
        seg.touch();
        Some(Arc::clone(seg))
    }

    /// The segments of `key` if its segmenter runs, without counting as a
    /// request (for one that may yet be refused: [`LiveSegments::touch`]
    /// once it is served).
    pub fn find(&self, key: &str) -> Option<Arc<LiveSegments>> {
        lock(&self.inner.running).get(key).cloned()
    }

    /// `true` while a segmenter runs for `key`.
    pub fn is_running(&self, key: &str) -> bool {
        lock(&self.inner.running).contains_key(key)
    }

    pub fn stats(&self) -> SegmenterStats {
        let c = &self.inner.counters;
        SegmenterStats {
            running: c.running.load(Ordering::Relaxed),
            started: c.started.load(Ordering::Relaxed),
            segments: c.segments.load(Ordering::Relaxed),
            forced: c.forced.load(Ordering::Relaxed),
        }
    }
}

impl LiveSegments {
    /// This run's id (carried by segment links).
    pub fn run(&self) -> u32 {
        self.run
    }

    /// Records a request: the segmenter keeps running.
    pub fn touch(&self) {
        let ms = self.born.elapsed().as_millis() as u64;
        self.used.fetch_max(ms, Ordering::Relaxed);
    }

    fn idle_for(&self) -> Duration {
        let used = Duration::from_millis(self.used.load(Ordering::Relaxed));
        self.born.elapsed().saturating_sub(used)
    }

    /// Waits until the first segment is cut, at most `wait`; `false` if
    /// there is none by then (or the stream ended first).
    pub async fn first_segment(&self, wait: Duration) -> bool {
        let mut rx = self.progress.subscribe();
        let ready = tokio::time::timeout(wait, rx.wait_for(|p| p.segments > 0 || p.ended)).await;
        matches!(ready, Ok(Ok(p)) if p.segments > 0)
    }

    /// The playlist's head and listed segments (`None` before the first).
    pub fn playlist(&self) -> Option<(LiveHead, Vec<LiveEntry>)> {
        lock(&self.window).playlist()
    }

    /// Segment `seq` while it is kept.
    pub fn segment(&self, seq: u64) -> Option<Bytes> {
        lock(&self.window).segment(seq)
    }

    /// The playlist's target duration.
    pub fn target_duration(&self) -> u32 {
        lock(&self.window).target_duration()
    }

    /// `false` once the segmenter has stopped.
    pub fn is_alive(&self) -> bool {
        self.alive.load(Ordering::Acquire)
    }
}

/// Takes a stopped segmenter out of the registry, also when its task
/// panics, and remembers where its numbering stopped.
struct Unlist {
    registry: Arc<Registry>,
    key: String,
    seg: Arc<LiveSegments>,
}

impl Drop for Unlist {
    fn drop(&mut self) {
        if std::thread::panicking() {
            tracing::error!(channel = %self.key, "HLS segmenter panicked; it restarts at the next request");
        }
        self.seg.alive.store(false, Ordering::Release);
        let next = lock(&self.seg.window).next_sequence();
        lock(&self.registry.next_seq).insert(self.key.clone(), next);
        let mut running = lock(&self.registry.running);
        if running
            .get(&self.key)
            .is_some_and(|s| Arc::ptr_eq(s, &self.seg))
        {
            running.remove(&self.key);
        }
        drop(running);
        self.registry
            .counters
            .running
            .fetch_sub(1, Ordering::Relaxed);
        self.seg.progress.send_modify(|p| p.ended = true);
    }
}

async fn run(
    registry: Arc<Registry>,
    key: String,
    seg: Arc<LiveSegments>,
    mut stream: BoxStream<'static, Bytes>,
) {
    let _unlist = Unlist {
        registry: Arc::clone(&registry),
        key: key.clone(),
        seg: Arc::clone(&seg),
    };
    let cfg = registry.config;
    let mut cutter = Cutter::new(CutConfig::new(cfg.segment), key.clone());
    let mut check = tokio::time::interval(Duration::from_millis(500).min(cfg.idle));
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let why = loop {
        tokio::select! {
            chunk = stream.next() => {
                let Some(chunk) = chunk else { break "the channel's stream ended" };
                let forced = cutter.forced_cuts();
                let cuts = cutter.push(&chunk, seg.born.elapsed(), SystemTime::now());
                registry
                    .counters
                    .forced
                    .fetch_add(cutter.forced_cuts() - forced, Ordering::Relaxed);
                if cuts.is_empty() {
                    continue;
                }
                let n = cuts.len() as u64;
                {
                    let mut window = lock(&seg.window);
                    for c in cuts {
                        window.push(c);
                    }
                }
                registry.counters.segments.fetch_add(n, Ordering::Relaxed);
                seg.progress.send_modify(|p| p.segments += n);
            }
            _ = check.tick() => {
                if seg.idle_for() < cfg.idle {
                    continue;
                }
                // Decide under the registry's lock: requests find the
                // segmenter under it too.
                let mut running = lock(&registry.running);
                if seg.idle_for() >= cfg.idle {
                    seg.alive.store(false, Ordering::Release);
                    if running.get(&key).is_some_and(|s| Arc::ptr_eq(s, &seg)) {
                        running.remove(&key);
                    }
                    break "no HLS request for the idle window";
                }
            }
        }
    };
    tracing::debug!(channel = %key, run = seg.run, why, "HLS segmenter stopped");
}

#[cfg(test)]
mod tests;
