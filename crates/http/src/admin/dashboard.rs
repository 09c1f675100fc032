//! The figures an operator checks first, for the console's dashboard and
//! `GET /api/v1/stats` alike ([`overview`]): viewers and upstreams now,
//! bandwidth out, lines by state, refusals of the last hour, and the
//! window's per-minute samples (`crate::stats`), summed over every node
//! sharing the store. Counts only: with 100,000 lines nothing here lists
//! a line.

use super::graphs::Series;
use super::live::UpstreamRow;
use crate::present::line::LineState;
use crate::state::App;
use maud::{html, Markup};
use tvgate_core::stats::{totals, Sample, MAX_WINDOW_SECS};
use tvgate_core::UnixTime;

/// Lines by state.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LineCounts {
    pub total: u64,
    pub active: u64,
    /// Active lines that expire within the next 7 days.
    pub expiring_7d: u64,
    pub expired: u64,
    pub disabled: u64,
    pub banned: u64,
}

/// An upstream source now, against its cap.
pub struct SourceNow {
    pub row: UpstreamRow,
    /// Its connection cap (0: unlimited).
    pub cap: u32,
}

/// Everything the dashboard and the API's stats show.
pub struct Overview {
    pub now: UnixTime,
    pub window_secs: i64,
    /// Connections open now, on every node sharing the ledger.
    pub viewers: u64,
    /// Upstream connections this node holds, by source, against its cap.
    pub sources: Vec<SourceNow>,
    /// Bytes a second handed to viewers over the last complete minute.
    pub bandwidth_bytes_per_sec: u64,
    pub lines: LineCounts,
    /// Refusals of the last 60 minutes, by reason (sorted by code).
    pub refusals_last_hour: Vec<(String, u64)>,
    /// The window's samples, oldest first, only minutes that saw any.
    pub samples: Vec<Sample>,
    /// The window's sums (viewers: the most in any minute).
    pub totals: Sample,
}

/// `24h`, `90m`, `3600s` or a number of seconds, at most a day.
pub fn parse_window(text: &str) -> Result<i64, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(MAX_WINDOW_SECS);
    }
    let (digits, unit) = match text.char_indices().last() {
        Some((i, 'h')) => (&text[..i], 3600),
        Some((i, 'm')) => (&text[..i], 60),
        Some((i, 's')) => (&text[..i], 1),
        _ => (text, 1),
    };
    let secs = digits
        .parse::<i64>()
        .ok()
        .and_then(|n| n.checked_mul(unit))
        .filter(|s| (60..=MAX_WINDOW_SECS).contains(s));
    secs.ok_or_else(|| {
        format!("window must be a duration from 1m to 24h (like 24h, 90m, 3600s), not {text:?}")
    })
}

/// Lines by state at `now`.
pub fn line_counts(app: &App, now: UnixTime) -> LineCounts {
    let mut c = LineCounts::default();
    let week = now + 7 * 86_400;
    for line in app.gate.lines() {
        c.total += 1;
        match LineState::of(&line, now) {
            LineState::Active => {
                c.active += 1;
                if line.expires_at.is_some_and(|e| e <= week) {
                    c.expiring_7d += 1;
                }
            }
            LineState::Expired => c.expired += 1,
            LineState::Disabled => c.disabled += 1,
            LineState::Banned => c.banned += 1,
        }
    }
    c
}

/// The overview over the last `window_secs` seconds.
pub async fn overview(app: &App, window_secs: i64) -> Overview {
    let samples = crate::stats::window(app, window_secs).await;
    let now = app.now();
    let viewers = app.ledger.all(now).await.len() as u64;
    let (upstreams, _) = super::live::snapshot(app).await;
    let all_sources = app.gate.sources().await.unwrap_or_default();
    let sources = upstreams
        .into_iter()
        .map(|row| SourceNow {
            cap: all_sources
                .iter()
                .find(|s| u64::try_from(s.id.0).ok() == Some(row.source))
                .map_or(0, |s| s.cap()),
            row,
        })
        .collect();
    let this_minute = tvgate_core::stats::minute_of(now);
    let last_full = samples
        .iter()
        .find(|s| s.minute == this_minute - 60)
        .map_or(0, |s| s.bytes_out);
    let hour_ago = this_minute - 59 * 60;
    let last_hour: Vec<Sample> = samples
        .iter()
        .filter(|s| s.minute >= hour_ago)
        .cloned()
        .collect();
    Overview {
        now,
        window_secs,
        viewers,
        sources,
        bandwidth_bytes_per_sec: last_full / 60,
        lines: line_counts(app, now),
        refusals_last_hour: totals(&last_hour).refusals,
        totals: totals(&samples),
        samples,
    }
}

/// Bytes a second as bits a second, readable.
fn bits_per_sec(bytes_per_sec: f64) -> String {
    format!("{}bit/s", super::graphs::si(bytes_per_sec * 8.0))
}

/// A tile: a big number, what it counts, and where to look closer.
fn tile(id: &str, n: impl std::fmt::Display, label: &str, href: &str) -> Markup {
    html! {
        a class="tile" id=(id) href=(href) {
            span class="n" { (n) }
            span class="l" { (label) }
        }
    }
}

/// The dashboard's body: numbers first, then the last 24 hours in graphs.
pub async fn page(app: &App, session: &super::session::Session) -> Markup {
    let o = overview(app, MAX_WINDOW_SECS).await;
    let upstreams: usize = o.sources.iter().map(|s| s.row.open).sum();
    let refused_hour: u64 = o.refusals_last_hour.iter().map(|(_, n)| n).sum();
    let to = tvgate_core::stats::minute_of(o.now);
    let from = to - MAX_WINDOW_SECS + 60;
    let (per, buckets) = super::graphs::buckets(&o.samples, from, to);
    let secs = (per * 60) as f64;
    let values = |f: &dyn Fn(&Sample) -> f64| buckets.iter().map(f).collect::<Vec<_>>();
    // The reasons of the window, most refused first; the rest as "other".
    let mut reasons = o.totals.refusals.clone();
    reasons.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let shown: Vec<String> = reasons.iter().take(5).map(|(r, _)| r.clone()).collect();
    let mut refusal_series: Vec<Series> = shown
        .iter()
        .map(|r| Series {
            name: r.clone(),
            values: values(&|s| s.refused_for(r) as f64),
        })
        .collect();
    if reasons.len() > shown.len() {
        refusal_series.push(Series {
            name: "other".into(),
            values: values(&|s| {
                (s.refused() - shown.iter().map(|r| s.refused_for(r)).sum::<u64>()) as f64
            }),
        });
    }
    if refusal_series.is_empty() {
        refusal_series.push(Series {
            name: "refusals".into(),
            values: values(&|s| s.refused() as f64),
        });
    }
    let per_label = if per == 1 {
        "a minute".to_string()
    } else {
        format!("{per} minutes")
    };
    let count = |n: f64| super::graphs::si(n);
    html! {
        (super::console::nav())
        header {
            h1 { "Dashboard" }
            form method="post" action="/admin/logout" class="row" {
                span class="muted" { "Logged in as " (session.admin) "." }
                input type="hidden" name="csrf" value=(session.csrf);
                button type="submit" { "Log out" }
            }
        }
        div class="tiles" {
            (tile("viewers-now", o.viewers, "viewers now", "/admin/live"))
            (tile("upstreams-now", upstreams, "upstream connections", "/admin/live"))
            (tile("bandwidth-out", bits_per_sec(o.bandwidth_bytes_per_sec as f64), "out, last minute", "/admin/live"))
            (tile("lines-active", o.lines.active, "lines active", "/admin/lines"))
            (tile("lines-expiring", o.lines.expiring_7d, "expiring in 7 days", "/admin/lines"))
            (tile("lines-expired", o.lines.expired, "expired", "/admin/lines"))
            (tile("refusals-hour", refused_hour, "refusals, last hour", "/admin/denials"))
        }
        p class="muted" {
            span id="lines-total" { (o.lines.total) } " lines in all ("
            (o.lines.disabled) " disabled, " (o.lines.banned) " banned)."
        }
        div class="graphs" {
            (super::graphs::graph("graph-viewers", "Viewers", &count,
                &[Series { name: "viewers".into(), values: values(&|s| s.viewers as f64) }],
                o.totals.viewers, (from, to)))
            (super::graphs::graph("graph-bandwidth", "Bandwidth out (bit/s)", &|v| format!("{}bit/s", super::graphs::si(v)),
                &[Series { name: "out".into(), values: values(&|s| s.bytes_out as f64 * 8.0 / secs) }],
                o.totals.bytes_out, (from, to)))
            (super::graphs::graph("graph-refusals", "Refusals by reason", &count, &refusal_series,
                o.totals.refused(), (from, to)))
            (super::graphs::graph("graph-logins", "Logins", &count,
                &[Series { name: "logins".into(), values: values(&|s| s.logins as f64) }],
                o.totals.logins, (from, to)))
        }
        p class="muted" {
            "The last 24 hours, " (per_label) " a point (viewers: the most seen; the others: counts), every node sharing the store. "
            "The same figures as JSON: " code { "GET /api/v1/stats?window=24h" } "."
        }
        div class="graphs" {
            section {
                h2 { "Upstream connections by source" }
                @if o.sources.is_empty() {
                    p class="muted" { "None open now." }
                } @else {
                    table class="sortable" id="sources-now" {
                        thead { tr { th { "Source" } th class="n" { "Open" } th class="n" { "Cap" } th {} } }
                        tbody {
                            @for s in &o.sources {
                                tr {
                                    td { (s.row.name) }
                                    td class="n" { (s.row.open) }
                                    td class="n" { @if s.cap == 0 { "none" } @else { (s.cap) } }
                                    td {
                                        @if s.cap > 0 {
                                            meter min="0" max=(s.cap) high=(f64::from(s.cap) * 0.9) value=(s.row.open) {}
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            section {
                h2 { "Refusals in the last hour" }
                @if o.refusals_last_hour.is_empty() {
                    p class="muted" { "None." }
                } @else {
                    table class="sortable" id="refusals-hour-by-reason" {
                        thead { tr { th { "Reason" } th class="n" { "Refusals" } } }
                        tbody {
                            @for (reason, n) in &o.refusals_last_hour {
                                tr {
                                    td { a href={ "/admin/denials?reason=" (super::console::qv(reason)) } { (reason) } }
                                    td class="n" { (n) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_read_as_durations_within_a_day() {
        assert_eq!(parse_window(""), Ok(86_400));
        assert_eq!(parse_window("24h"), Ok(86_400));
        assert_eq!(parse_window("90m"), Ok(5400));
        assert_eq!(parse_window("3600s"), Ok(3600));
        assert_eq!(parse_window("600"), Ok(600));
        for bad in [
            "25h",
            "0m",
            "59s",
            "h",
            "-1h",
            "1d",
            "99999999999999999999h",
        ] {
            assert!(parse_window(bad).is_err(), "{bad}");
        }
    }
}
