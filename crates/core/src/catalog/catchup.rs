//! Catch-up (timeshift): how a channel's archive is reached upstream, and
//! the archive URL of one past moment.
//!
//! Providers publish an archive in one of a few conventions, which M3U
//! playlists name with `catchup="KIND"` (plus `catchup-days` and, for some
//! kinds, a `catchup-source` template) and Xtream accounts imply
//! (`tv_archive: 1` means the `xc` kind):
//!
//! | kind | the archive URL of a moment |
//! |---|---|
//! | `default` | `catchup-source` with its placeholders filled (the stream URL itself when there is no template and the URL has placeholders) |
//! | `append` | the stream URL followed by `catchup-source`, filled |
//! | `shift` | the stream URL with `utc=START&lutc=NOW` added to its query |
//! | `flussonic` | `…/NAME.m3u8` → `…/NAME-START-DURATION.m3u8`; `…/mpegts` or `….ts` → `…/timeshift_abs-START.ts` |
//! | `xc` | `…/live/U/P/ID.ext` or `…/U/P/ID` → `…/timeshift/U/P/MINUTES/YYYY-MM-DD:HH-MM/ID.ts` |
//!
//! Placeholders (the ones Kodi's IPTV Simple and TiviMate fill):
//! `{utc}`/`${start}` the start, `{utcend}`/`${end}` the end,
//! `{lutc}`/`${now}`/`${timestamp}` now (unix seconds); `{duration}` in
//! seconds and `{offset}` (now minus start) in seconds, each with an
//! optional divisor (`{duration:60}` in minutes); `{Y} {m} {d} {H} {M} {S}`
//! the start's date and time; `{utc:FORMAT}`, `{utcend:FORMAT}`,
//! `{lutc:FORMAT}` (also `${start:FORMAT}`...) with `Y m d H M S` in
//! FORMAT replaced (`{utc:Y-m-d:H-M}`). Unknown placeholders are left as
//! they are. Times are UTC (a provider whose `xc` archive reads its start
//! in another zone is not handled yet).
//!
//! Pure: the clock is a parameter, and a URL that cannot be derived is
//! `None`, never a panic.

use crate::UnixTime;
use chrono::{DateTime, Datelike, Timelike, Utc};
use std::fmt::Write as _;

/// An archive convention (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CatchupKind {
    Default,
    Append,
    Shift,
    Flussonic,
    Xc,
}

impl CatchupKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CatchupKind::Default => "default",
            CatchupKind::Append => "append",
            CatchupKind::Shift => "shift",
            CatchupKind::Flussonic => "flussonic",
            CatchupKind::Xc => "xc",
        }
    }

    /// The kind an M3U `catchup` attribute names, any case; `fs`,
    /// `flussonic-hls` and `flussonic-ts` are Flussonic, `timeshift` is
    /// `shift`.
    pub fn parse(s: &str) -> Option<CatchupKind> {
        match s.trim().to_ascii_lowercase().as_str() {
            "default" => Some(CatchupKind::Default),
            "append" => Some(CatchupKind::Append),
            "shift" | "timeshift" => Some(CatchupKind::Shift),
            "flussonic" | "flussonic-hls" | "flussonic-ts" | "fs" => Some(CatchupKind::Flussonic),
            "xc" => Some(CatchupKind::Xc),
            _ => None,
        }
    }
}

/// How one channel's archive is reached: the kind, and the template of
/// the kinds that take one (`default`, `append`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Catchup {
    pub kind: CatchupKind,
    /// `catchup-source`, when the playlist gave one.
    pub source: Option<Box<str>>,
}

/// Days of archive a channel gets when its playlist names a catch-up kind
/// but no `catchup-days`.
pub const DEFAULT_DAYS: u16 = 1;

impl Catchup {
    /// What a playlist says of a channel at `url`: the declared kind (any
    /// text), the template, the days. `None` when the channel has no
    /// archive tvgate can reach: no days and no kind, or a kind that
    /// cannot be built for this URL. Without a declared kind, a template
    /// means `default` and an Xtream-shaped URL means `xc`.
    pub fn from_playlist(
        declared: Option<&str>,
        source: Option<&str>,
        days: Option<u16>,
        url: &str,
    ) -> Option<(Catchup, u16)> {
        let source = source.map(str::trim).filter(|s| !s.is_empty());
        let declared = declared.map(str::trim).filter(|s| !s.is_empty());
        if matches!(declared, Some(d) if d.eq_ignore_ascii_case("disabled")) {
            return None;
        }
        let days = match (days, declared) {
            (Some(0), _) => return None,
            (Some(d), _) => d,
            (None, Some(_)) => DEFAULT_DAYS,
            (None, None) => return None,
        };
        let kind = match declared.and_then(CatchupKind::parse) {
            Some(kind) => kind,
            None if source.is_some() => CatchupKind::Default,
            None if xc_parts(url).is_some() => CatchupKind::Xc,
            None => return None,
        };
        let catchup = Catchup {
            kind,
            source: source.map(Into::into),
        };
        // Checked once here with a sample moment, so a channel is never
        // listed with an archive no request could reach.
        catchup
            .archive_url(url, 1_700_000_000, 3600, 1_700_003_600)
            .map(|_| (catchup, days))
    }

    /// The archive URL of `duration` seconds from `start`, asked at `now`,
    /// for the channel whose stream URL is `url`.
    pub fn archive_url(
        &self,
        url: &str,
        start: UnixTime,
        duration: u32,
        now: UnixTime,
    ) -> Option<String> {
        let moment = Moment {
            start,
            duration: i64::from(duration),
            now,
        };
        match self.kind {
            CatchupKind::Default => {
                let template = match self.source.as_deref() {
                    Some(t) => t,
                    None if url.contains('{') => url,
                    None => return None,
                };
                fill(template, &moment)
            }
            CatchupKind::Append => {
                let template = self.source.as_deref()?;
                fill(&format!("{url}{template}"), &moment)
            }
            CatchupKind::Shift => {
                let (base, fragment) = split_fragment(url);
                let glue = if base.contains('?') { '&' } else { '?' };
                Some(format!(
                    "{base}{glue}utc={start}&lutc={now}{fragment}",
                    start = moment.start,
                    now = moment.now
                ))
            }
            CatchupKind::Flussonic => flussonic(url, &moment),
            CatchupKind::Xc => {
                let (base, user, pass, id) = xc_parts(url)?;
                let minutes = (moment.duration.max(1) + 59) / 60;
                let when = utc(moment.start)?;
                Some(format!(
                    "{base}/timeshift/{user}/{pass}/{minutes}/{}/{id}.ts",
                    when.format("%Y-%m-%d:%H-%M")
                ))
            }
        }
    }
}

/// Whether a moment is inside an archive of `days` days, asked at `now`:
/// started in the past, no earlier than `days` ago.
pub fn in_window(days: u16, start: UnixTime, now: UnixTime) -> bool {
    days > 0 && start < now && start >= now - i64::from(days) * 86_400
}

struct Moment {
    start: UnixTime,
    duration: i64,
    now: UnixTime,
}

fn utc(t: UnixTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t, 0)
}

/// `(before '#', '#...')`.
fn split_fragment(url: &str) -> (&str, &str) {
    match url.find('#') {
        Some(i) => url.split_at(i),
        None => (url, ""),
    }
}

/// The parts of an Xtream stream URL: `(scheme://host[:port][/prefix],
/// user, pass, id)` from `…/live/U/P/ID[.ext]` or `…/U/P/ID[.ext]`.
fn xc_parts(url: &str) -> Option<(&str, &str, &str, &str)> {
    let url = url.split(['?', '#']).next()?;
    let (scheme, rest) = url.split_once("://")?;
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return None;
    }
    let host_end = rest.find('/')?;
    let path = &rest[host_end + 1..];
    let segments: Vec<&str> = path.split('/').collect();
    let n = segments.len();
    if n < 3 {
        return None;
    }
    let file = segments[n - 1];
    let id = file.split('.').next().unwrap_or(file);
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (user, pass) = (segments[n - 3], segments[n - 2]);
    if user.is_empty() || pass.is_empty() {
        return None;
    }
    // What comes before `U/P/ID`: nothing (the short form) or `live`, with
    // any prefix the server is mounted under before it.
    let before = &segments[..n - 3];
    let prefix_len = match before.last() {
        Some(&"live") => before.len() - 1,
        Some(_) => return None,
        None => 0,
    };
    let prefix: usize = before[..prefix_len].iter().map(|s| s.len() + 1).sum();
    let base_len = scheme.len() + 3 + host_end + prefix;
    Some((&url[..base_len], user, pass, id))
}

/// Flussonic's archive URL of a stream URL (see the module doc).
fn flussonic(url: &str, m: &Moment) -> Option<String> {
    let (path, query) = match url.find(['?', '#']) {
        Some(i) => url.split_at(i),
        None => (url, ""),
    };
    let slash = path.rfind('/')?;
    if !path[..slash].contains("://") || path[..slash].ends_with('/') {
        return None;
    }
    let (dir, file) = (&path[..slash], &path[slash + 1..]);
    let lower = file.to_ascii_lowercase();
    if let Some(name) = lower.strip_suffix(".m3u8") {
        let name = &file[..name.len()];
        if name.is_empty() {
            return None;
        }
        Some(format!(
            "{dir}/{name}-{}-{}.m3u8{query}",
            m.start, m.duration
        ))
    } else if lower == "mpegts" || lower.ends_with(".ts") {
        Some(format!("{dir}/timeshift_abs-{}.ts{query}", m.start))
    } else {
        None
    }
}

/// A template with its placeholders filled; `None` when a time is out of
/// range.
fn fill(template: &str, m: &Moment) -> Option<String> {
    let start = utc(m.start)?;
    let end = utc(m.start + m.duration)?;
    let now = utc(m.now)?;
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}').map(|c| open + c) else {
            break;
        };
        let dollar = open > 0 && rest.as_bytes()[open - 1] == b'$';
        let inner = &rest[open + 1..close];
        let (name, arg) = match inner.split_once(':') {
            Some((n, a)) => (n, Some(a)),
            None => (inner, None),
        };
        let time = |name: &str| match name {
            "utc" | "start" => Some(start),
            "utcend" | "end" => Some(end),
            "lutc" | "now" | "timestamp" => Some(now),
            _ => None,
        };
        let divided = |value: i64| {
            let by = arg.and_then(|a| a.parse::<i64>().ok()).filter(|d| *d > 0);
            by.map_or(value, |d| value / d)
        };
        let filled = match (name, arg) {
            ("duration", _) => Some(divided(m.duration).to_string()),
            ("offset", _) => Some(divided(m.now - m.start).to_string()),
            (n, None) if time(n).is_some() => time(n).map(|t| t.timestamp().to_string()),
            (n, Some(format)) if time(n).is_some() => time(n).map(|t| date(t, format)),
            ("Y", None) => Some(format!("{:04}", start.year())),
            ("m", None) => Some(format!("{:02}", start.month())),
            ("d", None) => Some(format!("{:02}", start.day())),
            ("H", None) => Some(format!("{:02}", start.hour())),
            ("M", None) => Some(format!("{:02}", start.minute())),
            ("S", None) => Some(format!("{:02}", start.second())),
            _ => None,
        };
        match filled {
            Some(value) => {
                let before = if dollar { open - 1 } else { open };
                out.push_str(&rest[..before]);
                out.push_str(&value);
            }
            None => out.push_str(&rest[..=close]),
        }
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// `Y-m-d:H-M` and the like: each of `Y m d H M S` replaced by the time's
/// field, everything else kept.
fn date(t: DateTime<Utc>, format: &str) -> String {
    let mut out = String::with_capacity(format.len() + 8);
    for c in format.chars() {
        let _ = match c {
            'Y' => write!(out, "{:04}", t.year()),
            'm' => write!(out, "{:02}", t.month()),
            'd' => write!(out, "{:02}", t.day()),
            'H' => write!(out, "{:02}", t.hour()),
            'M' => write!(out, "{:02}", t.minute()),
            'S' => write!(out, "{:02}", t.second()),
            other => {
                out.push(other);
                Ok(())
            }
        };
    }
    out
}

/// The derived `xc` kind an Xtream account's channel with `tv_archive`
/// gets.
pub fn xc() -> Catchup {
    Catchup {
        kind: CatchupKind::Xc,
        source: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2023-11-14 22:13:20 UTC, one hour, asked two hours later.
    const START: UnixTime = 1_700_000_000;
    const NOW: UnixTime = START + 7200;

    fn url(kind: CatchupKind, source: Option<&str>, stream: &str) -> Option<String> {
        Catchup {
            kind,
            source: source.map(Into::into),
        }
        .archive_url(stream, START, 3600, NOW)
    }

    #[test]
    fn every_kind() {
        use CatchupKind::*;
        assert_eq!(
            url(
                Default,
                Some("http://arc/ch1?s={utc}&e={utcend}&n={lutc}&d={duration:60}"),
                "http://up/1.ts"
            )
            .as_deref(),
            Some("http://arc/ch1?s=1700000000&e=1700003600&n=1700007200&d=60")
        );
        assert_eq!(
            url(
                Default,
                Some("http://arc/${start}/${end}/${timestamp}/{offset}/{Y}{m}{d}-{H}{M}{S}"),
                "x"
            )
            .as_deref(),
            Some("http://arc/1700000000/1700003600/1700007200/7200/20231114-221320")
        );
        assert_eq!(
            url(
                Default,
                Some("http://arc/{utc:Y-m-d:H-M}/{utcend:YmdHMS}/{unknown}/{"),
                "x"
            )
            .as_deref(),
            Some("http://arc/2023-11-14:22-13/20231114231320/{unknown}/{")
        );
        assert_eq!(
            url(Default, None, "http://up/ch?from={utc}").as_deref(),
            Some("http://up/ch?from=1700000000")
        );
        assert_eq!(url(Default, None, "http://up/1.ts"), None);
        assert_eq!(
            url(Append, Some("?utc={utc}&lutc={lutc}"), "http://up/1.ts").as_deref(),
            Some("http://up/1.ts?utc=1700000000&lutc=1700007200")
        );
        assert_eq!(url(Append, None, "http://up/1.ts"), None);
        assert_eq!(
            url(Shift, None, "http://up/1.ts").as_deref(),
            Some("http://up/1.ts?utc=1700000000&lutc=1700007200")
        );
        assert_eq!(
            url(Shift, None, "http://up/1.ts?token=a#x").as_deref(),
            Some("http://up/1.ts?token=a&utc=1700000000&lutc=1700007200#x")
        );
        assert_eq!(
            url(Flussonic, None, "http://fl/ch1/index.m3u8?token=a").as_deref(),
            Some("http://fl/ch1/index-1700000000-3600.m3u8?token=a")
        );
        assert_eq!(
            url(Flussonic, None, "http://fl/ch1/video.M3U8").as_deref(),
            Some("http://fl/ch1/video-1700000000-3600.m3u8")
        );
        assert_eq!(
            url(Flussonic, None, "http://fl/ch1/mpegts").as_deref(),
            Some("http://fl/ch1/timeshift_abs-1700000000.ts")
        );
        assert_eq!(url(Flussonic, None, "http://fl/ch1/stream"), None);
        assert_eq!(
            url(Xc, None, "http://xc:8080/live/u/p/42.ts").as_deref(),
            Some("http://xc:8080/timeshift/u/p/60/2023-11-14:22-13/42.ts")
        );
        assert_eq!(
            url(Xc, None, "https://xc/prefix/live/u/p/42.m3u8?x=1").as_deref(),
            Some("https://xc/prefix/timeshift/u/p/60/2023-11-14:22-13/42.ts")
        );
        assert_eq!(
            url(Xc, None, "http://xc/u/p/42").as_deref(),
            Some("http://xc/timeshift/u/p/60/2023-11-14:22-13/42.ts")
        );
        for not_xc in [
            "http://xc/movie/u/p/42.mp4",
            "http://xc/u/p/abc",
            "http://xc/42.ts",
            "rtmp://xc/live/u/p/1",
        ] {
            assert_eq!(url(Xc, None, not_xc), None, "{not_xc}");
        }
    }

    #[test]
    fn a_short_duration_is_a_whole_minute() {
        let c = xc();
        assert_eq!(
            c.archive_url("http://xc/live/u/p/1.ts", START, 61, NOW)
                .as_deref(),
            Some("http://xc/timeshift/u/p/2/2023-11-14:22-13/1.ts")
        );
        assert_eq!(
            c.archive_url("http://xc/live/u/p/1.ts", START, 0, NOW)
                .as_deref(),
            Some("http://xc/timeshift/u/p/1/2023-11-14:22-13/1.ts")
        );
    }

    #[test]
    fn what_a_playlist_says() {
        let xc_url = "http://xc/live/u/p/7.ts";
        let from = Catchup::from_playlist;
        assert_eq!(from(None, None, None, xc_url), None, "no days, no kind");
        assert_eq!(from(Some("xc"), None, Some(0), xc_url), None);
        assert_eq!(from(Some("disabled"), None, Some(3), xc_url), None);
        assert_eq!(from(None, None, Some(3), xc_url), Some((xc(), 3)));
        assert_eq!(
            from(None, None, Some(3), "http://up/1.ts"),
            None,
            "days but nothing to build an archive URL from"
        );
        assert_eq!(
            from(Some("Flussonic"), None, None, "http://fl/ch/mpegts"),
            Some((
                Catchup {
                    kind: CatchupKind::Flussonic,
                    source: None
                },
                DEFAULT_DAYS
            ))
        );
        assert_eq!(
            from(None, Some(" http://arc/{utc} "), Some(2), "http://up/1.ts")
                .map(|(c, d)| (c.kind, c.source, d)),
            Some((CatchupKind::Default, Some("http://arc/{utc}".into()), 2))
        );
        assert_eq!(from(Some("append"), None, Some(2), "http://up/1.ts"), None);
        assert_eq!(from(Some("flussonic"), None, Some(2), "http://up/1"), None);
        assert_eq!(
            from(Some("unheard-of"), None, Some(2), xc_url).map(|(c, _)| c.kind),
            Some(CatchupKind::Xc)
        );
    }

    #[test]
    fn windows() {
        assert!(in_window(1, NOW - 3600, NOW));
        assert!(in_window(1, NOW - 86_400, NOW));
        assert!(!in_window(1, NOW - 86_401, NOW));
        assert!(!in_window(1, NOW, NOW), "not recorded yet");
        assert!(!in_window(0, NOW - 60, NOW));
    }

    #[test]
    fn kinds_round_trip() {
        use CatchupKind::*;
        for k in [Default, Append, Shift, Flussonic, Xc] {
            assert_eq!(CatchupKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(CatchupKind::parse("FS"), Some(Flussonic));
        assert_eq!(CatchupKind::parse("vod"), None);
    }
}
