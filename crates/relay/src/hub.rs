//! Per-channel fan-out: one upstream per key, shared by every viewer of it.
//!
//! The hub knows nothing of lines; callers decide who may watch before
//! they call [`Hub::subscribe`].
//!
//! * The first viewer of a key opens the upstream and spawns a pump task;
//!   later viewers share it.
//! * The pump keeps the chunks since the last keyframe (bounded) and the
//!   latest PAT and PMT packets. A new viewer first gets PAT+PMT, then the
//!   buffered chunks from the keyframe, then live chunks. The snapshot and
//!   the live subscription are taken under the same lock the pump holds
//!   while it sends, so nothing is lost or repeated at the seam.
//! * Each viewer reads its own receiver of a bounded `broadcast` channel
//!   (style convention 9): the pump never waits for a viewer. A viewer that
//!   falls behind (the ring overflowed, or it is more than
//!   [`HubConfig::max_lag_bytes`] or [`HubConfig::max_lag`] behind) jumps to
//!   the live edge (at the latest keyframe if that is newer than what it
//!   already has), counted in [`Hub::lagged_skips`]. The
//!   [`HubConfig::lag_strikes`]th jump within [`HubConfig::lag_window`]
//!   ends its stream instead (counted as `lagging_dropped`).
//! * When the last viewer leaves, the upstream keeps running for `linger`
//!   (a zap back is instant), then stops.
//!
//! Memory per channel: the ring holds `viewer_backlog` chunks shared by all
//! viewers (`Bytes`, never copied per viewer), plus the chunks since the last
//! keyframe (at most `max_buffer_bytes`, mostly the same chunks). With
//! upstream chunks of at most 64 KiB ([`crate::upstream`]) and the defaults
//! that is at most 16 MiB. A viewer adds no user-space buffer of its own
//! beyond the chunk it is writing.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};
use futures::stream::{BoxStream, Stream, StreamExt};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::time::Instant;
use tvgate_formats::mpegts::{self, PACKET_LEN, PID_PAT, SYNC_BYTE};

use crate::stats::{Counter, RelayStats};

/// Hub settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HubConfig {
    /// How long an upstream keeps running after its last viewer has left.
    pub linger: Duration,
    /// Chunks in the shared ring: a viewer this many chunks behind jumps to
    /// the live edge.
    pub viewer_backlog: usize,
    /// Most bytes kept since the last keyframe for new viewers. A GOP larger
    /// than this is dropped and new viewers start at the live edge.
    pub max_buffer_bytes: usize,
    /// A viewer this many bytes behind the newest chunk jumps to the live edge.
    pub max_lag_bytes: u64,
    /// A viewer reading a chunk older than this jumps to the live edge.
    pub max_lag: Duration,
    /// The jump that would be this many within `lag_window` disconnects the
    /// viewer instead. 0 never disconnects.
    pub lag_strikes: usize,
    /// See `lag_strikes`.
    pub lag_window: Duration,
}

impl HubConfig {
    /// Defaults for everything but `linger`.
    pub fn new(linger: Duration) -> HubConfig {
        HubConfig {
            linger,
            viewer_backlog: 256,
            max_buffer_bytes: 4 << 20,
            max_lag_bytes: 4 << 20,
            max_lag: Duration::from_secs(4),
            lag_strikes: 3,
            lag_window: Duration::from_secs(30),
        }
    }
}

/// One channel's state, for metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelInfo {
    /// The key it was subscribed under.
    pub key: String,
    /// Viewers right now (0 while lingering).
    pub viewers: usize,
    /// Bytes of whole packets received from its upstream.
    pub bytes_in: u64,
    /// When its upstream was opened (wall clock).
    pub opened_at: SystemTime,
    /// How long its upstream has been running.
    pub uptime: Duration,
}

/// Fans out one upstream per key to any number of [`Viewer`]s. Cheap to clone.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

impl fmt::Debug for Hub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hub")
            .field("config", &self.inner.config)
            .field("stats", &self.inner.stats.snapshot())
            .finish_non_exhaustive()
    }
}

struct Inner {
    config: HubConfig,
    channels: Mutex<HashMap<String, Arc<Channel>>>,
    stats: Arc<RelayStats>,
}

/// A chunk as the ring carries it.
#[derive(Clone)]
struct Item {
    /// Sequence number within the channel.
    seq: u64,
    /// Stream position of the chunk's first byte.
    offset: u64,
    /// When the pump published it.
    at: Instant,
    bytes: Bytes,
}

struct Channel {
    tx: broadcast::Sender<Item>,
    state: Mutex<Buffer>,
    /// Bytes published so far (the stream position of the live edge).
    /// Shared with the viewers, which measure their lag against it.
    published: Arc<AtomicU64>,
    opened_at: SystemTime,
    opened: Instant,
}

/// What a new viewer needs to start near live: guarded by `Channel::state`,
/// which the pump also holds while it sends.
#[derive(Default)]
struct Buffer {
    /// Sequence number of the next chunk.
    next_seq: u64,
    /// Stream position of the next chunk.
    next_offset: u64,
    /// Chunks since the last keyframe; the first starts with the keyframe.
    /// Empty while no keyframe is known.
    since_key: VecDeque<(u64, Bytes)>,
    since_key_bytes: usize,
    /// Latest PAT packet (pid 0, section start).
    pat: Option<Bytes>,
    /// PMT pid learnt from the PAT.
    pmt_pid: Option<u16>,
    /// Latest PMT packet.
    pmt: Option<Bytes>,
    /// Video pid learnt from the PMT; keyframes are looked for on it only.
    video_pid: Option<u16>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Hub {
    /// A hub whose upstreams linger for `linger` after their last viewer.
    pub fn new(linger: Duration) -> Hub {
        Hub::with_config(HubConfig::new(linger))
    }

    /// A hub with explicit settings.
    pub fn with_config(config: HubConfig) -> Hub {
        Hub {
            inner: Arc::new(Inner {
                config: HubConfig {
                    viewer_backlog: config.viewer_backlog.max(1),
                    ..config
                },
                channels: Mutex::new(HashMap::new()),
                stats: Arc::new(RelayStats::new()),
            }),
        }
    }

    /// Watch `key`. If nobody watches it (and it is not lingering), `open` is
    /// called once to get the upstream and a pump task is spawned; otherwise
    /// the running upstream is shared. Must be called inside a tokio runtime.
    pub fn subscribe(&self, key: &str, open: impl FnOnce() -> BoxStream<'static, Bytes>) -> Viewer {
        match self.try_subscribe(key, || Ok::<_, std::convert::Infallible>(open())) {
            Ok(viewer) => viewer,
            Err(never) => match never {},
        }
    }

    /// Like [`Hub::subscribe`], but opening the upstream may fail (say, the
    /// source is at its connection cap): then nothing is opened and the
    /// error is returned. `open` is only called when no upstream runs for
    /// `key`; a running (or lingering) upstream is shared without asking.
    ///
    /// `open` runs under the hub's lock: it must be quick (acquire a permit,
    /// build a lazy stream such as [`crate::upstream::http_ts`]) and must not
    /// call back into the hub.
    pub fn try_subscribe<E>(
        &self,
        key: &str,
        open: impl FnOnce() -> Result<BoxStream<'static, Bytes>, E>,
    ) -> Result<Viewer, E> {
        let mut channels = lock(&self.inner.channels);
        let chan = match channels.get(key) {
            Some(chan) => Arc::clone(chan),
            None => {
                let upstream = open()?;
                let (tx, _) = broadcast::channel(self.inner.config.viewer_backlog);
                let chan = Arc::new(Channel {
                    tx,
                    state: Mutex::new(Buffer::default()),
                    published: Arc::new(AtomicU64::new(0)),
                    opened_at: SystemTime::now(),
                    opened: Instant::now(),
                });
                channels.insert(key.to_owned(), Arc::clone(&chan));
                self.inner.stats.add(Counter::UpstreamsOpened, 1);
                tokio::spawn(pump(
                    Arc::clone(&self.inner),
                    key.to_owned(),
                    Arc::clone(&chan),
                    upstream,
                ));
                chan
            }
        };
        // Subscribe while the map is locked, so the pump cannot give up
        // between our lookup and our subscription.
        let mut pending = VecDeque::new();
        let (rx, last_seq) = chan.join(&mut pending, true, None);
        drop(channels);
        // No program tables known yet (the first viewer of a cold channel):
        // start this viewer at the upstream's next PAT instead of mid-stream.
        let starts_with_pat = pending.front().is_some_and(|b| pat_offset(b) == Some(0));
        if !starts_with_pat {
            pending.clear();
        }
        Ok(Viewer {
            pending,
            last_seq,
            await_pat: if starts_with_pat { 0 } else { AWAIT_PAT_BYTES },
            recv: Some(Box::pin(recv(rx))),
            published: Arc::clone(&chan.published),
            chan: Arc::downgrade(&chan),
            inner: Arc::clone(&self.inner),
            strikes: VecDeque::new(),
        })
    }

    /// The hub's counters; hand the same `Arc` to the upstreams
    /// ([`crate::upstream::http_ts`]) so one snapshot covers both.
    pub fn stats(&self) -> Arc<RelayStats> {
        Arc::clone(&self.inner.stats)
    }

    /// Upstreams opened since the hub was made.
    pub fn upstreams_opened(&self) -> u64 {
        self.inner.stats.snapshot().upstreams_opened
    }

    /// Times a slow viewer jumped to the live edge.
    pub fn lagged_skips(&self) -> u64 {
        self.inner.stats.snapshot().lag_skips
    }

    /// Chunks slow viewers skipped in those jumps.
    pub fn skipped_chunks(&self) -> u64 {
        self.inner.stats.snapshot().skipped_chunks
    }

    /// Viewers disconnected for lagging repeatedly.
    pub fn lagging_dropped(&self) -> u64 {
        self.inner.stats.snapshot().lagging_dropped
    }

    /// Every open channel (watched or lingering), sorted by key.
    pub fn channels(&self) -> Vec<ChannelInfo> {
        let channels = lock(&self.inner.channels);
        let mut out: Vec<ChannelInfo> = channels
            .iter()
            .map(|(key, chan)| ChannelInfo {
                key: key.clone(),
                viewers: chan.tx.receiver_count(),
                bytes_in: chan.published.load(Ordering::Relaxed),
                opened_at: chan.opened_at,
                uptime: chan.opened.elapsed(),
            })
            .collect();
        drop(channels);
        out.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        out
    }

    /// Viewers of `key` right now (0 if lingering or not open).
    pub fn viewers(&self, key: &str) -> usize {
        lock(&self.inner.channels)
            .get(key)
            .map_or(0, |chan| chan.tx.receiver_count())
    }

    /// `true` while an upstream for `key` is running (watched or lingering).
    pub fn is_open(&self, key: &str) -> bool {
        lock(&self.inner.channels).contains_key(key)
    }
}

impl Channel {
    /// Takes the start-up snapshot and a live receiver under the state lock,
    /// so the snapshot ends exactly where the receiver begins. On a rejoin
    /// (`initial == false`) the keyframe's chunks are only queued if they are
    /// all newer than `after`, the last chunk the viewer already has.
    /// Returns the receiver and the sequence number of the last queued chunk.
    fn join(
        &self,
        pending: &mut VecDeque<Bytes>,
        initial: bool,
        after: Option<u64>,
    ) -> (broadcast::Receiver<Item>, Option<u64>) {
        let buf = lock(&self.state);
        let key_seq = buf.since_key.front().map(|(seq, _)| *seq);
        let useful = match (key_seq, after) {
            (Some(k), Some(a)) => k > a,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if initial || useful {
            if let (Some(pat), Some(pmt)) = (&buf.pat, &buf.pmt) {
                pending.push_back(pat.clone());
                pending.push_back(pmt.clone());
            }
        }
        let mut last = after;
        if useful {
            pending.extend(buf.since_key.iter().map(|(_, b)| b.clone()));
            last = buf.since_key.back().map(|(seq, _)| *seq);
        }
        (self.tx.subscribe(), last)
    }
}

type RecvFuture =
    Pin<Box<dyn Future<Output = (Result<Item, RecvError>, broadcast::Receiver<Item>)> + Send>>;

async fn recv(
    mut rx: broadcast::Receiver<Item>,
) -> (Result<Item, RecvError>, broadcast::Receiver<Item>) {
    let r = rx.recv().await;
    (r, rx)
}

/// One viewer's byte stream: whole TS packets. Dropping it unsubscribes.
pub struct Viewer {
    /// Start-up snapshot (PAT, PMT, chunks since the keyframe) not yet read.
    pending: VecDeque<Bytes>,
    /// Sequence number of the last chunk queued or handed out.
    last_seq: Option<u64>,
    recv: Option<RecvFuture>,
    /// The channel's live-edge position, to measure this viewer's lag.
    published: Arc<AtomicU64>,
    /// Weak, so the channel's sender goes away (and the viewer sees the end)
    /// once the pump has stopped.
    chan: Weak<Channel>,
    inner: Arc<Inner>,
    /// When this viewer recently jumped to the live edge.
    strikes: VecDeque<Instant>,
    /// Bytes this viewer may still skip while waiting for its first PAT
    /// (0: not waiting). A stream without program tables is passed on
    /// once the budget is spent.
    await_pat: usize,
}

/// How much a cold joiner skips at most while waiting for a PAT.
const AWAIT_PAT_BYTES: usize = 2 << 20;

/// Offset of the first packet of `chunk` that starts a PAT section.
fn pat_offset(chunk: &[u8]) -> Option<usize> {
    chunk
        .chunks_exact(PACKET_LEN)
        .position(|p| {
            p[0] == SYNC_BYTE && mpegts::pid(p) == Some(PID_PAT) && mpegts::payload_unit_start(p)
        })
        .map(|i| i * PACKET_LEN)
}

impl fmt::Debug for Viewer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Viewer")
            .field("pending", &self.pending.len())
            .field("last_seq", &self.last_seq)
            .finish_non_exhaustive()
    }
}

impl Stream for Viewer {
    type Item = Bytes;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        let this = self.get_mut();
        if let Some(b) = this.pending.pop_front() {
            return Poll::Ready(Some(b));
        }
        loop {
            let Some(fut) = this.recv.as_mut() else {
                return Poll::Ready(None);
            };
            let (res, rx) = match fut.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(x) => x,
            };
            let skipped = match res {
                Ok(item) => {
                    if !this.is_lagging(&item) {
                        this.last_seq = Some(item.seq);
                        this.recv = Some(Box::pin(recv(rx)));
                        let mut bytes = item.bytes;
                        if this.await_pat > 0 {
                            match pat_offset(&bytes) {
                                Some(at) => {
                                    this.await_pat = 0;
                                    bytes = bytes.slice(at..);
                                }
                                None => {
                                    this.await_pat = this.await_pat.saturating_sub(bytes.len());
                                    if this.await_pat > 0 {
                                        continue;
                                    }
                                }
                            }
                        }
                        return Poll::Ready(Some(bytes));
                    }
                    0
                }
                Err(RecvError::Lagged(skipped)) => skipped,
                Err(RecvError::Closed) => {
                    this.recv = None;
                    return Poll::Ready(None);
                }
            };
            let Some(chan) = this.chan.upgrade() else {
                // The pump has stopped: read what is left, then end.
                this.recv = Some(Box::pin(recv(rx)));
                continue;
            };
            drop(rx);
            if this.strike(Instant::now()) {
                this.inner.stats.add(Counter::LaggingDropped, 1);
                tracing::debug!("viewer lagged repeatedly; disconnected");
                this.pending.clear();
                this.recv = None;
                return Poll::Ready(None);
            }
            this.inner.stats.add(Counter::LagSkips, 1);
            this.inner.stats.add(Counter::SkippedChunks, skipped);
            tracing::debug!(skipped, "slow viewer jumped to the live edge");
            // Jump to the newest data: a fresh receiver, preceded by the
            // latest keyframe's GOP if it is newer than what we had.
            let (rx, last) = chan.join(&mut this.pending, false, this.last_seq);
            this.last_seq = last;
            this.recv = Some(Box::pin(recv(rx)));
            if let Some(b) = this.pending.pop_front() {
                return Poll::Ready(Some(b));
            }
        }
    }
}

impl Viewer {
    /// `true` if `item` is further behind the live edge than allowed.
    fn is_lagging(&self, item: &Item) -> bool {
        let cfg = &self.inner.config;
        let behind = self
            .published
            .load(Ordering::Relaxed)
            .saturating_sub(item.offset);
        behind > cfg.max_lag_bytes || item.at.elapsed() > cfg.max_lag
    }

    /// Records a jump to the live edge at `now`; `true` if it is one too
    /// many within the window and the viewer must go.
    fn strike(&mut self, now: Instant) -> bool {
        let cfg = &self.inner.config;
        if cfg.lag_strikes == 0 {
            return false;
        }
        while self
            .strikes
            .front()
            .is_some_and(|t| now.duration_since(*t) >= cfg.lag_window)
        {
            self.strikes.pop_front();
        }
        self.strikes.push_back(now);
        self.strikes.len() >= cfg.lag_strikes
    }
}

/// Why a pump stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PumpEnd {
    UpstreamClosed,
    Idle,
}

async fn pump(
    inner: Arc<Inner>,
    key: String,
    chan: Arc<Channel>,
    mut upstream: BoxStream<'static, Bytes>,
) -> PumpEnd {
    // However the pump ends (upstream closed, idle, or a panic unwinding
    // through here), the channel leaves the map: its sender is then dropped
    // with the last `Arc`, every viewer's stream ends and each viewer's
    // connection slot is freed. Nothing waits on a dead channel.
    let _unlist = Unlist {
        inner: Arc::clone(&inner),
        key: key.clone(),
        chan: Arc::clone(&chan),
    };
    let linger = inner.config.linger;
    let max_buffer = inner.config.max_buffer_bytes;
    let mut carry = BytesMut::new();
    // None while someone watches; the deadline once the last viewer has left.
    let mut give_up_at: Option<Instant> = None;
    let end = loop {
        tokio::select! {
            chunk = upstream.next() => match chunk {
                // Keep reading while lingering, so a returning viewer gets the live edge.
                Some(bytes) => {
                    if let Some(aligned) = align(&mut carry, bytes) {
                        inner.stats.add(Counter::BytesIn, aligned.len() as u64);
                        publish(&chan, aligned, max_buffer);
                    }
                }
                None => break PumpEnd::UpstreamClosed,
            },
            () = chan.tx.closed(), if give_up_at.is_none() => {
                give_up_at = Some(Instant::now() + linger);
            }
            () = tokio::time::sleep_until(give_up_at.unwrap_or_else(Instant::now)), if give_up_at.is_some() => {
                // Decide under the map lock: `subscribe` joins under it too.
                let mut channels = lock(&inner.channels);
                if chan.tx.receiver_count() == 0 {
                    remove_if_same(&mut channels, &key, &chan);
                    break PumpEnd::Idle;
                }
                give_up_at = None; // someone zapped back in time
            }
        }
    };
    tracing::debug!(key, ?end, "upstream stopped");
    end
}

/// Removes a pump's channel from the hub when the pump ends, also by panic.
struct Unlist {
    inner: Arc<Inner>,
    key: String,
    chan: Arc<Channel>,
}

impl Drop for Unlist {
    fn drop(&mut self) {
        if std::thread::panicking() {
            tracing::error!(key = %self.key, "relay task panicked; the channel's viewers are disconnected");
        }
        remove_if_same(&mut lock(&self.inner.channels), &self.key, &self.chan);
    }
}

fn remove_if_same(channels: &mut HashMap<String, Arc<Channel>>, key: &str, chan: &Arc<Channel>) {
    if channels.get(key).is_some_and(|c| Arc::ptr_eq(c, chan)) {
        channels.remove(key);
    }
}

/// Returns whole packets from `bytes`, keeping a partial packet in `carry`.
/// Aligned chunks (the usual case) pass through without a copy.
fn align(carry: &mut BytesMut, bytes: Bytes) -> Option<Bytes> {
    if carry.is_empty() && bytes.len() % PACKET_LEN == 0 && bytes.first() == Some(&SYNC_BYTE) {
        return Some(bytes);
    }
    carry.extend_from_slice(&bytes);
    if carry.first() != Some(&SYNC_BYTE) {
        match mpegts::find_sync(carry) {
            Some(at) => {
                let _ = carry.split_to(at);
            }
            None => {
                // Not enough data to find sync yet: keep only a tail that
                // could still hold the start of three packets.
                let keep = 2 * PACKET_LEN;
                if carry.len() > keep {
                    let _ = carry.split_to(carry.len() - keep);
                }
                return None;
            }
        }
    }
    let whole = carry.len() / PACKET_LEN * PACKET_LEN;
    (whole > 0).then(|| carry.split_to(whole).freeze())
}

/// Splits `chunk` (whole packets) at keyframes, records PAT/PMT, buffers
/// and sends each piece, all under the state lock.
fn publish(chan: &Channel, chunk: Bytes, max_buffer: usize) {
    let mut buf = lock(&chan.state);
    let mut start = 0;
    let mut starts_key = false;
    for (i, pkt) in chunk.chunks_exact(PACKET_LEN).enumerate() {
        let off = i * PACKET_LEN;
        if pkt[0] != SYNC_BYTE {
            continue;
        }
        let Some(pid) = mpegts::pid(pkt) else {
            continue;
        };
        if pid == PID_PAT && mpegts::payload_unit_start(pkt) {
            buf.pmt_pid = pat_pmt_pid(pkt).or(buf.pmt_pid);
            // A copy, so the PSI does not keep a whole chunk alive.
            buf.pat = Some(Bytes::copy_from_slice(pkt));
        } else if Some(pid) == buf.pmt_pid && mpegts::payload_unit_start(pkt) {
            buf.video_pid = pmt_video_pid(pkt).or(buf.video_pid);
            buf.pmt = Some(Bytes::copy_from_slice(pkt));
        } else if mpegts::is_keyframe_start(pkt) && buf.video_pid.is_none_or(|v| v == pid) {
            if off > start {
                push(
                    chan,
                    &mut buf,
                    chunk.slice(start..off),
                    starts_key,
                    max_buffer,
                );
            }
            start = off;
            starts_key = true;
        }
    }
    if chunk.len() > start {
        push(chan, &mut buf, chunk.slice(start..), starts_key, max_buffer);
    }
}

fn push(chan: &Channel, buf: &mut Buffer, piece: Bytes, starts_key: bool, max_buffer: usize) {
    let seq = buf.next_seq;
    buf.next_seq += 1;
    let offset = buf.next_offset;
    buf.next_offset += piece.len() as u64;
    chan.published.store(buf.next_offset, Ordering::Relaxed);
    if starts_key {
        buf.since_key.clear();
        buf.since_key.push_back((seq, piece.clone()));
        buf.since_key_bytes = piece.len();
    } else if !buf.since_key.is_empty() {
        buf.since_key_bytes += piece.len();
        buf.since_key.push_back((seq, piece.clone()));
        if buf.since_key_bytes > max_buffer {
            buf.since_key.clear();
            buf.since_key_bytes = 0;
        }
    }
    // No receivers is fine: the upstream is lingering.
    let _ = chan.tx.send(Item {
        seq,
        offset,
        at: Instant::now(),
        bytes: piece,
    });
}

/// The PSI section of a single-packet table: starts after the pointer field.
fn section(pkt: &[u8]) -> Option<&[u8]> {
    let payload = mpegts::payload(pkt)?;
    let pointer = usize::from(*payload.first()?);
    let sec = payload.get(1 + pointer..)?;
    let len = usize::from(u16::from_be_bytes([*sec.get(1)?, *sec.get(2)?]) & 0x0FFF);
    // Section without the 4-byte CRC.
    sec.get(..(3 + len).checked_sub(4)?)
}

/// The PMT pid of the first program in a PAT packet.
fn pat_pmt_pid(pkt: &[u8]) -> Option<u16> {
    let sec = section(pkt)?;
    if sec.first() != Some(&0x00) {
        return None;
    }
    sec.get(8..)?.chunks_exact(4).find_map(|e| {
        let program = u16::from_be_bytes([e[0], e[1]]);
        (program != 0).then(|| u16::from_be_bytes([e[2], e[3]]) & 0x1FFF)
    })
}

/// The pid of the first video elementary stream in a PMT packet.
fn pmt_video_pid(pkt: &[u8]) -> Option<u16> {
    let sec = section(pkt)?;
    if sec.first() != Some(&0x02) {
        return None;
    }
    let info_len = usize::from(u16::from_be_bytes([*sec.get(10)?, *sec.get(11)?]) & 0x0FFF);
    let mut es = sec.get(12 + info_len..)?;
    while es.len() >= 5 {
        let stream_type = es[0];
        let pid = u16::from_be_bytes([es[1], es[2]]) & 0x1FFF;
        let es_info = usize::from(u16::from_be_bytes([es[3], es[4]]) & 0x0FFF);
        // MPEG-1/2, MPEG-4 part 2, H.264, H.265, AVS2/3, VC-1 (0xEA).
        if matches!(
            stream_type,
            0x01 | 0x02 | 0x10 | 0x1B | 0x24 | 0x42 | 0xD2 | 0xD4 | 0xEA
        ) {
            return Some(pid);
        }
        es = es.get(5 + es_info..)?;
    }
    None
}

#[cfg(test)]
mod tests;
