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
    upstream_probes: AtomicU64,
    upstream_probe_failures: AtomicU64,
    upstream_probes_at_cap: AtomicU64,
    upstream_returns: AtomicU64,
    failures_by_reason: [AtomicU64; FailureReason::ALL.len()],
}

/// Why an upstream connection (attempt) failed: the `reason` label of
/// `tvgate_upstream_failures_total` and the word in the log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureReason {
    /// Refused or reset while connecting (also a name that does not resolve).
    Connect,
    /// No response headers within the connect timeout.
    Timeout,
    /// A redirect refused: a loop, more hops than allowed, or a hop to a
    /// forbidden network.
    Redirect,
    /// The address is not one the server may connect to (the SSRF guard).
    Forbidden,
    /// Another request error.
    Request,
    /// A status other than 2xx.
    Status,
    /// The body ended before a single byte (a 0-byte body).
    Empty,
    /// The body ended (the provider closed the stream).
    Ended,
    /// The body failed mid-stream.
    Body,
    /// No whole packet for the stall timeout.
    Stalled,
    /// No good data from any URL in time.
    NoData,
    /// An HTML or XML page instead of MPEG-TS.
    Html,
    /// No MPEG-TS sync found.
    NoSync,
    /// A video stream without a keyframe for `upstream_keyframe_secs`.
    NoKeyframe,
}

impl FailureReason {
    /// Every reason, in the order `/metrics` lists them.
    pub const ALL: [FailureReason; 14] = [
        FailureReason::Connect,
        FailureReason::Timeout,
        FailureReason::Redirect,
        FailureReason::Forbidden,
        FailureReason::Request,
        FailureReason::Status,
        FailureReason::Empty,
        FailureReason::Ended,
        FailureReason::Body,
        FailureReason::Stalled,
        FailureReason::NoData,
        FailureReason::Html,
        FailureReason::NoSync,
        FailureReason::NoKeyframe,
    ];

    /// The label value (stable: dashboards and alerts use it).
    pub fn code(self) -> &'static str {
        match self {
            FailureReason::Connect => "connect",
            FailureReason::Timeout => "timeout",
            FailureReason::Redirect => "redirect",
            FailureReason::Forbidden => "forbidden",
            FailureReason::Request => "request",
            FailureReason::Status => "status",
            FailureReason::Empty => "empty",
            FailureReason::Ended => "ended",
            FailureReason::Body => "body",
            FailureReason::Stalled => "stalled",
            FailureReason::NoData => "no_data",
            FailureReason::Html => "html",
            FailureReason::NoSync => "no_sync",
            FailureReason::NoKeyframe => "no_keyframe",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
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
    /// Probes of a channel's primary URL started while it ran on a backup.
    pub upstream_probes: u64,
    /// Probes that failed (the next one waits longer).
    pub upstream_probe_failures: u64,
    /// Probes not started because the source was at its connection cap.
    pub upstream_probes_at_cap: u64,
    /// Returns from a backup to the primary after a clean probe.
    pub upstream_returns: u64,
    /// `upstream_failures` by reason, in [`FailureReason::ALL`]'s order.
    pub failures_by_reason: [u64; FailureReason::ALL.len()],
}

impl RelayStatsSnapshot {
    /// `(reason, failures)` for every reason, zeros included.
    pub fn failures_by_reason(&self) -> impl Iterator<Item = (FailureReason, u64)> + '_ {
        FailureReason::ALL
            .iter()
            .map(|r| (*r, self.failures_by_reason[r.index()]))
    }
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
            upstream_probes: get(&self.upstream_probes),
            upstream_probe_failures: get(&self.upstream_probe_failures),
            upstream_probes_at_cap: get(&self.upstream_probes_at_cap),
            upstream_returns: get(&self.upstream_returns),
            failures_by_reason: std::array::from_fn(|i| get(&self.failures_by_reason[i])),
        }
    }

    pub(crate) fn add(&self, counter: Counter, n: u64) {
        let c = match counter {
            Counter::UpstreamsOpened => &self.upstreams_opened,
            Counter::UpstreamConnects => &self.upstream_connects,
            Counter::UpstreamSwitches => &self.upstream_switches,
            Counter::UpstreamReconnects => &self.upstream_reconnects,
            Counter::UpstreamGaveUp => &self.upstream_gave_up,
            Counter::JunkBytesSkipped => &self.junk_bytes_skipped,
            Counter::BytesIn => &self.bytes_in,
            Counter::LagSkips => &self.lag_skips,
            Counter::SkippedChunks => &self.skipped_chunks,
            Counter::LaggingDropped => &self.lagging_dropped,
            Counter::UpstreamProbes => &self.upstream_probes,
            Counter::UpstreamProbeFailures => &self.upstream_probe_failures,
            Counter::UpstreamProbesAtCap => &self.upstream_probes_at_cap,
            Counter::UpstreamReturns => &self.upstream_returns,
        };
        c.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts one failed upstream connection (attempt) and its reason.
    pub(crate) fn failure(&self, reason: FailureReason) {
        self.upstream_failures.fetch_add(1, Ordering::Relaxed);
        self.failures_by_reason[reason.index()].fetch_add(1, Ordering::Relaxed);
    }
}

/// Names a counter for [`RelayStats::add`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum Counter {
    UpstreamsOpened,
    UpstreamConnects,
    UpstreamSwitches,
    UpstreamReconnects,
    UpstreamGaveUp,
    JunkBytesSkipped,
    BytesIn,
    LagSkips,
    SkippedChunks,
    LaggingDropped,
    UpstreamProbes,
    UpstreamProbeFailures,
    UpstreamProbesAtCap,
    UpstreamReturns,
}
