//! Counters behind `/metrics` (Prometheus text format). Denials are counted
//! by their stable reason code. Everything is an atomic: bumping a counter
//! or observing a latency from a stream's body never takes a lock.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tvgate_core::access::Denial;
use tvgate_core::ledger::LeaseKind;

/// Seconds between two log lines for the same rate-limited address.
pub const RATE_LIMITED_LOG_SECS: i64 = 10;

/// Process-wide counters. Cheap to bump from any handler.
#[derive(Debug, Default)]
pub struct Metrics {
    // (last logged, refusals since) per rate-limited address; std Mutex held
    // for one map operation.
    rate_limited_log: std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, (i64, u64)>>,
    denials: [AtomicU64; 16],
    pub logins_ok: AtomicU64,
    pub playlists: AtomicU64,
    pub streams_started: AtomicU64,
    pub leases_opened: AtomicU64,
    /// Leases ended because the viewer's connection closed.
    pub leases_closed: AtomicU64,
    /// Leases replaced by a reconnect from the same address and player.
    pub leases_replaced: AtomicU64,
    /// Leases ended by newest-wins.
    pub leases_evicted: AtomicU64,
    /// Leases found past their time-to-live when their stream ended (the
    /// serving task stalled longer than the lease lives).
    pub leases_expired: AtomicU64,
    /// Leases ended because their viewer froze: its socket took no data
    /// for `viewer_stall` (a film: `vod_pause`) while data waited for it.
    pub leases_frozen: AtomicU64,
    /// Streams stopped because renewing their lease failed: it had been
    /// ended elsewhere (replaced, evicted, expired, by the operator).
    pub streams_cut: AtomicU64,
    /// Bytes the served streams handed to viewers' connections.
    pub viewer_bytes: AtomicU64,
    /// Streams served on a connection slot, by kind.
    streams_live_ts: AtomicU64,
    streams_hls: AtomicU64,
    streams_vod: AtomicU64,
    /// From a stream's last chunk to its slot being freed: how long after
    /// the viewer went away the slot stayed taken.
    pub lease_release: Histogram,
    /// Refusals the denial log lost: its queue was full, or the store
    /// refused a batch (`crate::refusals`).
    pub refusals_dropped: AtomicU64,
}

/// Upper bounds, in seconds, of the lease release latency buckets.
pub const RELEASE_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// A Prometheus histogram over [`RELEASE_BUCKETS`], lock-free: each
/// observation bumps one bucket, the count and the sum.
#[derive(Debug, Default)]
pub struct Histogram {
    /// Observations per bucket (not cumulative); the last one is `+Inf`.
    buckets: [AtomicU64; RELEASE_BUCKETS.len() + 1],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = RELEASE_BUCKETS
            .iter()
            .position(|le| secs <= *le)
            .unwrap_or(RELEASE_BUCKETS.len());
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (i, n) in self.buckets.iter().enumerate() {
            cumulative += n.load(Ordering::Relaxed);
            match RELEASE_BUCKETS.get(i) {
                Some(le) => {
                    let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {cumulative}");
                }
                None => {
                    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {cumulative}");
                }
            }
        }
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {cumulative}");
    }
}

impl Metrics {
    /// One more stream served on a slot.
    pub fn count_stream(&self, kind: LeaseKind) {
        self.streams_of(kind).fetch_add(1, Ordering::Relaxed);
    }

    pub fn streams(&self, kind: LeaseKind) -> u64 {
        self.streams_of(kind).load(Ordering::Relaxed)
    }

    fn streams_of(&self, kind: LeaseKind) -> &AtomicU64 {
        match kind {
            LeaseKind::LiveTs => &self.streams_live_ts,
            LeaseKind::Hls => &self.streams_hls,
            LeaseKind::Vod => &self.streams_vod,
        }
    }

    pub fn count_denial(&self, denial: &Denial) {
        if let Some(i) = Denial::CODES.iter().position(|c| *c == denial.code()) {
            self.denials[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Whether to log a rate-limited refusal from `ip` now: `Some(n)` with
    /// the refusals not logged since the last line, or `None` to stay quiet.
    pub fn throttle_rate_limited_log(&self, ip: std::net::IpAddr, now: i64) -> Option<u64> {
        let mut map = self
            .rate_limited_log
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if map.len() > 10_000 {
            map.retain(|_, (last, _)| now - *last < RATE_LIMITED_LOG_SECS);
        }
        let entry = map.entry(ip).or_insert((i64::MIN, 0));
        if now.saturating_sub(entry.0) >= RATE_LIMITED_LOG_SECS {
            let suppressed = entry.1;
            *entry = (now, 0);
            Some(suppressed)
        } else {
            entry.1 += 1;
            None
        }
    }

    pub fn denials(&self, code: &str) -> u64 {
        Denial::CODES
            .iter()
            .position(|c| *c == code)
            .map(|i| self.denials[i].load(Ordering::Relaxed))
            .unwrap_or(0)
    }

    /// The Prometheus text exposition.
    pub fn render(&self, lines: usize, catalog_entries: usize) -> String {
        let mut out = String::new();
        out.push_str("# HELP tvgate_denials_total Requests refused, by reason code (docs/denials.md).\n# TYPE tvgate_denials_total counter\n");
        for (i, code) in Denial::CODES.iter().enumerate() {
            let _ = writeln!(
                out,
                "tvgate_denials_total{{reason=\"{code}\"}} {}",
                self.denials[i].load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(out, "# HELP tvgate_refusals_dropped_total Refusals counted above but missing from the denial log (its write queue was full, or the database refused a batch).\n# TYPE tvgate_refusals_dropped_total counter\ntvgate_refusals_dropped_total {}", self.refusals_dropped.load(Ordering::Relaxed));
        let _ = writeln!(out, "# HELP tvgate_logins_total Successful player_api logins.\n# TYPE tvgate_logins_total counter\ntvgate_logins_total {}", self.logins_ok.load(Ordering::Relaxed));
        let _ = writeln!(out, "# HELP tvgate_playlists_total Playlists served.\n# TYPE tvgate_playlists_total counter\ntvgate_playlists_total {}", self.playlists.load(Ordering::Relaxed));
        let _ = writeln!(out, "# HELP tvgate_streams_started_total Stream requests allowed.\n# TYPE tvgate_streams_started_total counter\ntvgate_streams_started_total {}", self.streams_started.load(Ordering::Relaxed));
        let _ = writeln!(
            out,
            "# HELP tvgate_leases_opened_total Connection slots granted.\n# TYPE tvgate_leases_opened_total counter\ntvgate_leases_opened_total {}",
            self.leases_opened.load(Ordering::Relaxed)
        );
        let _ = writeln!(out, "# HELP tvgate_leases_ended_total Connection slots freed, by cause.\n# TYPE tvgate_leases_ended_total counter");
        for (cause, n) in [
            ("closed", &self.leases_closed),
            ("replaced", &self.leases_replaced),
            ("evicted", &self.leases_evicted),
            ("expired", &self.leases_expired),
            ("frozen", &self.leases_frozen),
        ] {
            let _ = writeln!(
                out,
                "tvgate_leases_ended_total{{cause=\"{cause}\"}} {}",
                n.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(out, "# HELP tvgate_streams_cut_total Streams stopped because their lease had been ended elsewhere (replaced, evicted, expired, by the operator); the lease itself is counted once in tvgate_leases_ended_total.\n# TYPE tvgate_streams_cut_total counter\ntvgate_streams_cut_total {}", self.streams_cut.load(Ordering::Relaxed));
        self.lease_release.render(
            &mut out,
            "tvgate_lease_release_seconds",
            "Time from a served stream's last chunk to its connection slot being freed: how long a slot outlives its viewer.",
        );
        let _ = writeln!(out, "# HELP tvgate_viewer_bytes_total Bytes served streams handed to viewers' connections.\n# TYPE tvgate_viewer_bytes_total counter\ntvgate_viewer_bytes_total {}", self.viewer_bytes.load(Ordering::Relaxed));
        let _ = writeln!(out, "# HELP tvgate_streams_served_total Streams served on a connection slot, by kind (live_ts, hls, vod).\n# TYPE tvgate_streams_served_total counter");
        for (kind, name) in [
            (LeaseKind::LiveTs, "live_ts"),
            (LeaseKind::Hls, "hls"),
            (LeaseKind::Vod, "vod"),
        ] {
            let _ = writeln!(
                out,
                "tvgate_streams_served_total{{kind=\"{name}\"}} {}",
                self.streams(kind)
            );
        }
        let _ = writeln!(out, "# HELP tvgate_lines Subscriber lines loaded.\n# TYPE tvgate_lines gauge\ntvgate_lines {lines}");
        let _ = writeln!(out, "# HELP tvgate_catalog_entries Live channels, movies and episodes in the catalog.\n# TYPE tvgate_catalog_entries gauge\ntvgate_catalog_entries {catalog_entries}");
        out
    }
}

/// The relay's figures: viewers per channel, upstream connections per
/// source, and the upstream and lag counters. Channels are labelled by
/// stream id and sources by source id: never by URL, which may hold a
/// provider's credentials.
pub fn render_relay(
    out: &mut String,
    hub: &tvgate_relay::Hub,
    caps: &tvgate_relay::SourceCaps,
    hls_segment_fetches: u64,
    segmenters: tvgate_relay::segmenter::SegmenterStats,
) {
    let _ = writeln!(out, "# HELP tvgate_channel_viewers Viewers of each relayed live channel now (0 while lingering).\n# TYPE tvgate_channel_viewers gauge");
    let mut channels = hub.channels();
    channels.sort_by(|a, b| a.key.cmp(&b.key));
    for c in &channels {
        let _ = writeln!(
            out,
            "tvgate_channel_viewers{{channel=\"{}\"}} {}",
            c.key.replace(['"', '\\', '\n'], "_"),
            c.viewers
        );
    }
    let _ = writeln!(out, "# HELP tvgate_source_upstreams Upstream connections open to each source now (held against its max_connections).\n# TYPE tvgate_source_upstreams gauge");
    let mut sources = caps.snapshot();
    sources.sort_unstable();
    for (source, open) in sources {
        let _ = writeln!(out, "tvgate_source_upstreams{{source=\"{source}\"}} {open}");
    }
    let s = hub.stats().snapshot();
    let _ = writeln!(out, "# HELP tvgate_upstream_failures_total Upstream attempts or connections that failed, by reason (connect, timeout, redirect, forbidden, request, status, empty, ended, body, stalled, no_data, html, no_sync, no_keyframe).\n# TYPE tvgate_upstream_failures_total counter");
    for (reason, n) in s.failures_by_reason() {
        let _ = writeln!(
            out,
            "tvgate_upstream_failures_total{{reason=\"{}\"}} {n}",
            reason.code()
        );
    }
    for (name, help, value) in [
        ("tvgate_upstreams_opened_total", "Channel upstreams opened (a first viewer of a channel not lingering).", s.upstreams_opened),
        ("tvgate_upstream_connects_total", "Upstream HTTP connections that answered 2xx.", s.upstream_connects),
        ("tvgate_upstream_switches_total", "Moves of a channel to another source URL: failures after which another URL (a backup) was tried, and returns to the primary.", s.upstream_switches),
        ("tvgate_upstream_probes_total", "Probes of a channel's primary URL started while a backup served it.", s.upstream_probes),
        ("tvgate_upstream_probe_failures_total", "Probes of a primary that failed (the next waits longer).", s.upstream_probe_failures),
        ("tvgate_upstream_probes_at_cap_total", "Probes of a primary not started because its source was at its connection cap.", s.upstream_probes_at_cap),
        ("tvgate_upstream_returns_total", "Returns of a channel from a backup to its primary after the primary delivered clean packets for primary_recheck_secs.", s.upstream_returns),
        ("tvgate_upstream_reconnects_total", "Upstream connection attempts after an upstream's first.", s.upstream_reconnects),
        ("tvgate_upstream_gave_up_total", "Channels whose viewers were disconnected because no source URL gave data.", s.upstream_gave_up),
        ("tvgate_upstream_junk_bytes_total", "Bytes dropped from upstreams because they were not whole MPEG-TS packets.", s.junk_bytes_skipped),
        ("tvgate_upstream_bytes_total", "Bytes of whole packets read from upstreams (each read once, whatever the viewers).", s.bytes_in),
        ("tvgate_viewer_lag_skips_total", "Times a slow viewer was moved to the live edge.", s.lag_skips),
        ("tvgate_viewers_dropped_lagging_total", "Viewers disconnected for falling behind again and again.", s.lagging_dropped),
        ("tvgate_hls_segment_fetches_total", "HLS segments fetched from upstreams (shared by the viewers of a channel).", hls_segment_fetches),
        ("tvgate_hls_segmenters_started_total", "Live HLS segmenters started (a first HLS viewer of a TS channel no segmenter ran for).", segmenters.started),
        ("tvgate_hls_segments_cut_total", "Live HLS segments cut from TS channels (one copy shared by their HLS viewers).", segmenters.segments),
        ("tvgate_hls_segments_forced_total", "Live HLS segments cut without a keyframe because the channel sent none for three segment durations.", segmenters.forced),
    ] {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}");
    }
    let _ = writeln!(
        out,
        "# HELP tvgate_hls_segmenters Live HLS segmenters running now (one per TS channel watched in HLS).\n# TYPE tvgate_hls_segmenters gauge\ntvgate_hls_segmenters {}",
        segmenters.running
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_release_histogram_is_cumulative_with_sum_and_count() {
        let m = Metrics::default();
        m.lease_release.observe(Duration::from_millis(3));
        m.lease_release.observe(Duration::from_millis(30));
        m.lease_release.observe(Duration::from_secs(60));
        let text = m.render(0, 0);
        assert!(text.contains("# TYPE tvgate_lease_release_seconds histogram\n"));
        assert!(text.contains("tvgate_lease_release_seconds_bucket{le=\"0.005\"} 1\n"));
        assert!(text.contains("tvgate_lease_release_seconds_bucket{le=\"0.025\"} 1\n"));
        assert!(text.contains("tvgate_lease_release_seconds_bucket{le=\"0.05\"} 2\n"));
        assert!(text.contains("tvgate_lease_release_seconds_bucket{le=\"10\"} 2\n"));
        assert!(text.contains("tvgate_lease_release_seconds_bucket{le=\"+Inf\"} 3\n"));
        assert!(text.contains("tvgate_lease_release_seconds_sum 60.033\n"));
        assert!(text.contains("tvgate_lease_release_seconds_count 3\n"));
    }

    #[test]
    fn every_family_has_help_and_type() {
        let m = Metrics::default();
        m.count_stream(LeaseKind::Vod);
        let text = m.render(0, 0);
        assert!(text.contains("tvgate_streams_served_total{kind=\"vod\"} 1\n"));
        assert!(text.contains("tvgate_leases_ended_total{cause=\"expired\"} 0\n"));
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let name = line.split(['{', ' ']).next().unwrap_or("");
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s).filter(|f| f.ends_with("_seconds")))
                .unwrap_or(name);
            assert!(text.contains(&format!("# TYPE {family} ")), "{line}");
            assert!(text.contains(&format!("# HELP {family} ")), "{line}");
        }
    }
}
