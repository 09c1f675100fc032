//! Relay counters for `/metrics`, shared by the hub and its upstreams.
//!
//! One `Arc<RelayStats>` per hub ([`crate::Hub::stats`]); the caller hands
//! the same `Arc` to [`crate::upstream::http_ts`], so one snapshot shows both
//! sides. Plain relaxed atomics: each counter is independent and only ever
//! grows, so no ordering between them is promised.

use std::sync::atomic::{AtomicU64, Ordering};

/// Monotonic relay counters. See [`RelayStatsSnapshot`] for their meaning.
#[derive(Debug, Default)]
pub struct RelayStats {
    upstreams_opened: AtomicU64,
    upstream_connects: AtomicU64,
    upstream_failures: AtomicU64,
    upstream_switches: AtomicU64,
    upstream_reconnects: AtomicU64,
    upstream_gave_up: AtomicU64,
    junk_bytes_skipped: AtomicU64,
    bytes_in: AtomicU64,
    lag_skips: AtomicU64,
    skipped_chunks: AtomicU64,
    lagging_dropped: AtomicU64,
}

/// The counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayStatsSnapshot {
    /// Upstreams the hub opened (first viewer of a channel not lingering).
    pub upstreams_opened: u64,
    /// HTTP upstream connections that answered 2xx.
    pub upstream_connects: u64,
    /// Upstream attempts or connections that failed (refused, non-2xx,
    /// stall, junk, body error or end).
    pub upstream_failures: u64,
    /// Failures after which a different URL (a backup) was tried next.
    pub upstream_switches: u64,
    /// Connection attempts after the first one of an upstream.
    pub upstream_reconnects: u64,
    /// Upstreams ended because no URL gave good data for `give_up_after`.
    pub upstream_gave_up: u64,
    /// Bytes dropped because they were not part of aligned TS packets.
    pub junk_bytes_skipped: u64,
    /// Bytes of whole packets the hub received from its upstreams.
    pub bytes_in: u64,
    /// Times a lagging viewer was moved to the live edge.
    pub lag_skips: u64,
    /// Chunks those viewers skipped (when the ring overflowed; a move by the
    /// byte/time bound does not know the count and adds nothing).
    pub skipped_chunks: u64,
    /// Viewers disconnected for lagging repeatedly.
    pub lagging_dropped: u64,
}

impl RelayStats {
    /// All counters at zero.
    pub fn new() -> RelayStats {
        RelayStats::default()
    }

    /// Reads every counter.
    pub fn snapshot(&self) -> RelayStatsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        RelayStatsSnapshot {
            upstreams_opened: get(&self.upstreams_opened),
            upstream_connects: get(&self.upstream_connects),
            upstream_failures: get(&self.upstream_failures),
            upstream_switches: get(&self.upstream_switches),
            upstream_reconnects: get(&self.upstream_reconnects),
            upstream_gave_up: get(&self.upstream_gave_up),
            junk_bytes_skipped: get(&self.junk_bytes_skipped),
            bytes_in: get(&self.bytes_in),
            lag_skips: get(&self.lag_skips),
            skipped_chunks: get(&self.skipped_chunks),
            lagging_dropped: get(&self.lagging_dropped),
        }
    }

    pub(crate) fn add(&self, counter: Counter, n: u64) {
        let c = match counter {
            Counter::UpstreamsOpened => &self.upstreams_opened,
            Counter::UpstreamConnects => &self.upstream_connects,
            Counter::UpstreamFailures => &self.upstream_failures,
            Counter::UpstreamSwitches => &self.upstream_switches,
            Counter::UpstreamReconnects => &self.upstream_reconnects,
            Counter::UpstreamGaveUp => &self.upstream_gave_up,
            Counter::JunkBytesSkipped => &self.junk_bytes_skipped,
            Counter::BytesIn => &self.bytes_in,
            Counter::LagSkips => &self.lag_skips,
            Counter::SkippedChunks => &self.skipped_chunks,
            Counter::LaggingDropped => &self.lagging_dropped,
        };
        c.fetch_add(n, Ordering::Relaxed);
    }
}

/// Names a counter for [`RelayStats::add`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum Counter {
    UpstreamsOpened,
    UpstreamConnects,
    UpstreamFailures,
    UpstreamSwitches,
    UpstreamReconnects,
    UpstreamGaveUp,
    JunkBytesSkipped,
    BytesIn,
    LagSkips,
    SkippedChunks,
    LaggingDropped,
}
