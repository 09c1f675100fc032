//! The dashboard's graphs, drawn here as inline SVG elements (no script,
//! no image, nothing loaded: the page's strict CSP holds). A window's
//! per-minute samples are put into at most [`COLUMNS`] buckets (a bucket's
//! viewers are its most, the other figures its sums), and each series is a
//! line over them; the first series also gets a faint area beneath.
//!
//! Every number in the drawing is computed here from counts: no text from
//! outside reaches the SVG except the series' names, which maud escapes.

use maud::{html, Markup};
use tvgate_core::stats::{dense, Sample};
use tvgate_core::UnixTime;

/// Most points a line has (24 h in 5-minute buckets).
pub const COLUMNS: usize = 288;

const WIDTH: f64 = 300.0;
const HEIGHT: f64 = 100.0;
/// Room at the left for the scale and at the bottom for the times.
const LEFT: f64 = 34.0;
const BOTTOM: f64 = 12.0;

/// One line of a graph.
pub struct Series {
    pub name: String,
    pub values: Vec<f64>,
}

/// A window's samples in buckets: `(minutes per bucket, buckets)`, each
/// bucket's figures summed except viewers (the most).
pub fn buckets(samples: &[Sample], from: UnixTime, to: UnixTime) -> (i64, Vec<Sample>) {
    let minutes = dense(samples, from, to);
    let per = minutes.len().div_ceil(COLUMNS).max(1);
    let out = minutes
        .chunks(per)
        .map(|chunk| {
            let mut b = Sample::new(chunk[0].minute);
            for s in chunk {
                let viewers = b.viewers.max(s.viewers);
                b.add(s);
                b.viewers = viewers;
            }
            b
        })
        .collect();
    (per as i64, out)
}

/// `n` with a unit's prefix: 1.2k, 3.4M.
pub fn si(n: f64) -> String {
    let (v, p) = if n >= 1e9 {
        (n / 1e9, "G")
    } else if n >= 1e6 {
        (n / 1e6, "M")
    } else if n >= 1e3 {
        (n / 1e3, "k")
    } else {
        (n, "")
    };
    if v >= 100.0 || v.fract() == 0.0 {
        format!("{v:.0}{p}")
    } else {
        format!("{v:.1}{p}")
    }
}

/// The smallest 1, 2 or 5 × 10^k at or above `max` (1 for nothing).
fn nice_top(max: f64) -> f64 {
    if max <= 0.0 || !max.is_finite() {
        return 1.0;
    }
    let mag = 10f64.powf(max.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|v| *v >= max)
        .unwrap_or(10.0 * mag)
}

/// HH:MM UTC of a time.
fn clock(t: UnixTime) -> String {
    let s = t.rem_euclid(86_400);
    format!("{:02}:{:02}", s / 3600, s % 3600 / 60)
}

/// How long ago a window started: "24 h ago", "90 min ago".
fn ago(secs: i64) -> String {
    if secs >= 3600 && secs % 3600 == 0 {
        format!("{} h ago", secs / 3600)
    } else {
        format!("{} min ago", secs / 60)
    }
}

/// One graph: its title, the largest value as `unit` says (the scale
/// shows plain numbers with a prefix), the lines, and times at both ends. `id` names the figure for tests and links;
/// `total` is what the window adds up to (`data-total`, the figure
/// `/metrics` and the API show).
pub fn graph(
    id: &str,
    title: &str,
    unit: &dyn Fn(f64) -> String,
    series: &[Series],
    total: u64,
    (from, to): (UnixTime, UnixTime),
) -> Markup {
    let max = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .fold(0.0, f64::max);
    let top = nice_top(max);
    let n = series.first().map_or(0, |s| s.values.len()).max(1);
    let plot_w = WIDTH - LEFT;
    let plot_h = HEIGHT - BOTTOM;
    let x = |i: usize| {
        if n == 1 {
            LEFT + plot_w
        } else {
            LEFT + plot_w * i as f64 / (n - 1) as f64
        }
    };
    let y = |v: f64| plot_h - (v / top).clamp(0.0, 1.0) * (plot_h - 2.0);
    let line = |values: &[f64]| -> String {
        let mut d = String::with_capacity(values.len() * 14);
        for (i, v) in values.iter().enumerate() {
            d.push_str(if i == 0 { "M" } else { "L" });
            d.push_str(&format!("{:.1},{:.1}", x(i), y(*v)));
        }
        d
    };
    let area = |values: &[f64]| -> String {
        let mut d = line(values);
        if !values.is_empty() {
            d.push_str(&format!(
                "L{:.1},{plot_h:.1}L{:.1},{plot_h:.1}Z",
                x(values.len() - 1),
                x(0)
            ));
        }
        d
    };
    let points: usize = series.iter().map(|s| s.values.len()).sum();
    html! {
        figure class="graph" id=(id) data-max=(max) data-total=(total) data-points=(points) {
            figcaption {
                span { (title) }
                span class="muted" { "peak " (unit(max)) }
            }
            svg viewBox={ "0 0 " (WIDTH) " " (HEIGHT) } role="img" aria-label=(title) {
                @for frac in [0.0, 0.5, 1.0] {
                    @let gy = y(top * frac);
                    line class="grid" x1=(LEFT) x2=(WIDTH) y1=(format!("{gy:.1}")) y2=(format!("{gy:.1}")) {}
                    text x=(LEFT - 3.0) y=(format!("{:.1}", gy + 3.0)) text-anchor="end" { (si(top * frac)) }
                }
                @if let Some(first) = series.first() {
                    path class="area s1" d=(area(&first.values)) {}
                }
                @for (i, s) in series.iter().enumerate() {
                    path class={ "line s" (i % 6 + 1) } d=(line(&s.values)) { title { (s.name) } }
                }
                text x=(LEFT) y=(HEIGHT - 1.0) { (ago(to - from + 60)) " (" (clock(from)) " UTC)" }
                text x=(WIDTH) y=(HEIGHT - 1.0) text-anchor="end" { "now" }
            }
            @if series.len() > 1 {
                ul class="legend" {
                    @for (i, s) in series.iter().enumerate() {
                        li class={ "s" (i % 6 + 1) } { span { (s.name) } }
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
    fn a_day_of_minutes_fits_in_five_minute_buckets() {
        let samples = vec![
            Sample {
                minute: 60,
                viewers: 3,
                bytes_out: 10,
                ..Sample::default()
            },
            Sample {
                minute: 120,
                viewers: 1,
                bytes_out: 5,
                ..Sample::default()
            },
        ];
        let (per, b) = buckets(&samples, 0, 86_400 - 60);
        assert_eq!(per, 5);
        assert_eq!(b.len(), COLUMNS);
        assert_eq!(b[0].viewers, 3, "the most in the bucket");
        assert_eq!(b[0].bytes_out, 15, "the sum");
        let (per, b) = buckets(&samples, 0, 3540);
        assert_eq!((per, b.len()), (1, 60));
    }

    #[test]
    fn scales_and_units_read_well() {
        assert_eq!(nice_top(0.0), 1.0);
        assert_eq!(nice_top(3.0), 5.0);
        assert_eq!(nice_top(120.0), 200.0);
        assert_eq!(si(1500.0), "1.5k");
        assert_eq!(si(2_000_000.0), "2M");
        assert_eq!(si(7.0), "7");
    }

    #[test]
    fn a_graph_is_svg_with_its_peak_and_escaped_names() {
        let s = vec![
            Series {
                name: "<b>".into(),
                values: vec![0.0, 2.0, 1.0],
            },
            Series {
                name: "two".into(),
                values: vec![1.0, 1.0, 1.0],
            },
        ];
        let svg = graph("g", "Viewers", &|v| si(v), &s, 3, (0, 180)).into_string();
        assert!(svg.contains("data-max=\"2\""), "{svg}");
        assert!(svg.contains("<path class=\"line s1\" d=\"M34.0,"), "{svg}");
        assert!(svg.contains("&lt;b&gt;"), "{svg}");
        assert!(!svg.contains("<b>"), "{svg}");
        assert!(
            !svg.contains("style="),
            "no inline style: the CSP forbids it"
        );
    }
}
