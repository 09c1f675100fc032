//! Counters behind `/metrics` (Prometheus text format). Denials are counted
//! by their stable reason code.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use tvgate_core::access::Denial;

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
}

impl Metrics {
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
        ] {
            let _ = writeln!(
                out,
                "tvgate_leases_ended_total{{cause=\"{cause}\"}} {}",
                n.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(out, "# HELP tvgate_lines Subscriber lines loaded.\n# TYPE tvgate_lines gauge\ntvgate_lines {lines}");
        let _ = writeln!(out, "# HELP tvgate_catalog_entries Live channels, movies and episodes in the catalog.\n# TYPE tvgate_catalog_entries gauge\ntvgate_catalog_entries {catalog_entries}");
        out
    }
}
