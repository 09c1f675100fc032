//! The stream step: a login that works is not a channel that plays. Open
//! one live channel the line can see and read a few hundred kilobytes:
//! MPEG-TS sync (0x47 every 188 bytes), time to first byte, bitrate; or an
//! HLS playlist and its first segment. Recognise a refusal status and
//! tvgate's denial slate (`200 video/mp2t` with `X-Tvgate-Reason`), whose
//! `X-Tvgate-Message` names what holds the connection slots.

use crate::account::{cause_of_reason, fix_for_reason};
use crate::check::{Cause, Check, Step, Verdict};
use crate::fetch::{html_title, FetchError, Http};
use futures::StreamExt;
use reqwest::Url;
use std::time::{Duration, Instant};

/// How long the bytes of a stream are read at most, once they flow.
pub const READ_WINDOW: Duration = Duration::from_secs(4);
/// How much of a playlist is read.
const PLAYLIST_LIMIT: usize = 1024 * 1024;

/// What a read of TS bytes showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TsSync {
    /// Offset of the first packet in sync.
    pub offset: usize,
    /// Packets that started with 0x47 where one was due.
    pub packets: usize,
    /// Places where the 0x47 was missing.
    pub lost: usize,
}

/// Checks 188-byte packet alignment; `None` when no run of three packets
/// in sync is found in the first 64 KB (not MPEG-TS).
pub fn ts_sync(data: &[u8]) -> Option<TsSync> {
    let search = data.len().min(64 * 1024);
    let offset =
        (0..search.min(188)).find(|&o| (0..3).all(|k| data.get(o + k * 188) == Some(&0x47)))?;
    let mut packets = 0;
    let mut lost = 0;
    let mut i = offset;
    while i + 188 <= data.len() {
        if data[i] == 0x47 {
            packets += 1;
        } else {
            lost += 1;
        }
        i += 188;
    }
    Some(TsSync {
        offset,
        packets,
        lost,
    })
}

fn stream_check(id: &str, title: impl Into<String>, verdict: Verdict) -> Check {
    Check::new(Step::Stream, id, title, verdict)
}

/// What opening a channel showed.
#[derive(Debug, Clone)]
pub struct Probe {
    pub checks: Vec<Check>,
    /// Refused the way a provider refuses an app it blocks (401/403 or a
    /// web page, without tvgate's reason): worth trying as another player.
    pub refused_as_app: bool,
}

/// Opens `url` (a live channel: `.ts`, `.m3u8` or whatever a playlist
/// listed) and reads up to `limit` bytes. `shown` names the channel.
pub async fn probe(http: &Http, url: &Url, shown: &str, limit: usize) -> Probe {
    let mut refused_as_app = false;
    let checks = probe_checks(http, url, shown, limit, &mut refused_as_app).await;
    Probe {
        checks,
        refused_as_app,
    }
}

async fn probe_checks(
    http: &Http,
    url: &Url,
    shown: &str,
    limit: usize,
    refused_as_app: &mut bool,
) -> Vec<Check> {
    let (response, ttfb) = match http.open(url).await {
        Ok(r) => r,
        Err(e) => {
            return vec![stream_check("stream.open", format!("The channel {shown} does not open"), Verdict::Fault)
                .evidence(e.to_string())
                .points_to(Cause::ServerUnreachable)
                .fix(match e {
                    FetchError::Timeout(_) => "The stream server does not answer: try another channel; if none plays, the provider's stream server is down or blocked here.",
                    FetchError::Failed(_) => "The stream server cannot be reached: it is down or blocked on this network (try mobile data).",
                })]
        }
    };
    let status = response.status().as_u16();
    let header = |n: &str| {
        response
            .headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let reason = header("x-tvgate-reason");
    let message = header("x-tvgate-message");
    let ctype = header("content-type")
        .unwrap_or_default()
        .to_ascii_lowercase();
    if let Some(code) = reason {
        let slate = response.status().is_success();
        let mut c = stream_check(
            "stream.refusal",
            format!("The server refuses the channel: {code}"),
            Verdict::Fault,
        )
        .evidence(if slate {
            format!(
                "HTTP {status} with a denial slate (a short clip that shows the reason on screen)"
            )
        } else {
            format!("HTTP {status}")
        })
        .evidence(format!("X-Tvgate-Reason: {code}"))
        .points_to(cause_of_reason(&code))
        .fix(fix_for_reason(&code));
        if let Some(m) = message {
            c = c.evidence(format!("X-Tvgate-Message: {m}"));
        } else if !slate {
            let body = read_some(response, 2048).await;
            c = c.evidence(format!("body: {}", String::from_utf8_lossy(&body).trim()));
        }
        return vec![c];
    }
    if !response.status().is_success() {
        *refused_as_app = matches!(status, 400 | 401 | 403 | 406 | 444) || ctype.contains("html");
        let body = read_some(response, 2048).await;
        let text = String::from_utf8_lossy(&body)
            .split_whitespace()
            .take(40)
            .collect::<Vec<_>>()
            .join(" ");
        let (cause, fix) = match status {
            401 | 403 => (Cause::Subscription, "The line may not watch this channel (or the subscription ended): ask the provider."),
            429 => (Cause::Credentials, "Too many attempts: wait a few minutes."),
            _ => (Cause::ServerUnreachable, "The stream server has trouble: try another channel, and tell the provider if none plays."),
        };
        return vec![stream_check(
            "stream.refusal",
            format!("The channel {shown} is refused (HTTP {status})"),
            Verdict::Fault,
        )
        .evidence(format!("HTTP {status}: {text}"))
        .points_to(cause)
        .fix(fix)];
    }
    let is_hls = url.path().ends_with(".m3u8") || ctype.contains("mpegurl");
    if is_hls {
        return hls(http, response, url, shown, limit, ttfb).await;
    }
    if ctype.contains("html") {
        *refused_as_app = true;
        let body = read_some(response, 64 * 1024).await;
        return vec![stream_check("stream.open", format!("A web page answered instead of the channel {shown}"), Verdict::Fault)
            .evidence(format!("an HTML page titled \"{}\"", html_title(&body).unwrap_or_default()))
            .points_to(Cause::ServerUnreachable)
            .fix("Something answers in the stream server's place (a block page or a portal): try mobile data.")];
    }
    let (data, read_ms) = read_window(response, limit).await;
    let mut checks = vec![stream_check(
        "stream.open",
        format!("The channel {shown} opens"),
        Verdict::Ok,
    )
    .evidence(format!("HTTP {status}, first answer after {ttfb} ms"))
    .millis(ttfb)];
    checks.push(ts_check(&data, read_ms));
    checks
}

/// The verdict on bytes that should be MPEG-TS.
fn ts_check(data: &[u8], read_ms: u64) -> Check {
    let rate = (data.len() as u64 * 8)
        .checked_div(read_ms)
        .map(|kbps| format!(", about {kbps} kbit/s"))
        .unwrap_or_default();
    let read = format!("{} KB read in {} ms{rate}", data.len() / 1024, read_ms);
    if data.is_empty() {
        return stream_check("stream.ts", "The channel sends no data", Verdict::Fault)
            .evidence(read)
            .points_to(Cause::ServerUnreachable)
            .fix("The channel opens but stays silent: try another channel; if none plays, tell the provider.");
    }
    match ts_sync(data) {
        Some(s) if s.lost == 0 => stream_check("stream.ts", "The picture data is valid MPEG-TS", Verdict::Ok)
            .evidence(format!("TS sync: {} packets of 188 bytes in a row, first at byte {}", s.packets, s.offset))
            .evidence(read)
            .millis(read_ms),
        Some(s) => stream_check("stream.ts", "The stream loses MPEG-TS sync", Verdict::Warning)
            .evidence(format!("TS sync lost {} times in {} packets", s.lost, s.packets + s.lost))
            .evidence(read)
            .fix("The channel's data is damaged on the way: expect glitches. Try another channel; tell the provider if it lasts.")
            .millis(read_ms),
        None => stream_check("stream.ts", "The channel's data is not MPEG-TS", Verdict::Fault)
            .evidence(format!("no 0x47 sync byte every 188 bytes; it starts: {:02x?}", &data[..data.len().min(8)]))
            .evidence(read)
            .points_to(Cause::ServerUnreachable)
            .fix("The server sends something other than video here: tell the provider."),
    }
}

async fn read_some(response: reqwest::Response, limit: usize) -> Vec<u8> {
    read_window(response, limit).await.0
}

/// Reads until `limit` bytes, the read window after the first byte, or
/// silence for the window's length.
async fn read_window(response: reqwest::Response, limit: usize) -> (Vec<u8>, u64) {
    let mut data = Vec::new();
    let mut stream = response.bytes_stream();
    let mut first: Option<Instant> = None;
    loop {
        let wait = match first {
            Some(t) => READ_WINDOW.saturating_sub(t.elapsed()),
            None => READ_WINDOW,
        };
        match tokio::time::timeout(wait, stream.next()).await {
            Ok(Some(Ok(chunk))) => {
                first.get_or_insert_with(Instant::now);
                let room = limit.saturating_sub(data.len());
                data.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if data.len() >= limit {
                    break;
                }
            }
            _ => break,
        }
    }
    let ms = first.map(|t| t.elapsed().as_millis() as u64).unwrap_or(0);
    (data, ms)
}

/// An HLS channel: the playlist (following a master playlist's first
/// variant), then its first segment.
async fn hls(
    http: &Http,
    response: reqwest::Response,
    url: &Url,
    shown: &str,
    limit: usize,
    ttfb: u64,
) -> Vec<Check> {
    let mut checks = Vec::new();
    let final_url = response.url().clone();
    let mut text = String::from_utf8_lossy(&read_some(response, PLAYLIST_LIMIT).await).into_owned();
    let mut base = final_url;
    if text.contains("#EXT-X-STREAM-INF") {
        let variant = first_uri(&text).and_then(|u| base.join(&u).ok());
        let Some(variant) = variant else {
            return vec![stream_check(
                "stream.hls",
                "The HLS playlist lists no variant",
                Verdict::Fault,
            )
            .points_to(Cause::ServerUnreachable)];
        };
        match http.get(&variant, PLAYLIST_LIMIT).await {
            Ok(f) if f.status.is_success() => {
                text = String::from_utf8_lossy(&f.body).into_owned();
                base = f.final_url;
            }
            Ok(f) => {
                return vec![stream_check(
                    "stream.hls",
                    "The HLS variant playlist is refused",
                    Verdict::Fault,
                )
                .evidence(format!("HTTP {}", f.status.as_u16()))
                .points_to(Cause::ServerUnreachable)]
            }
            Err(e) => {
                return vec![stream_check(
                    "stream.hls",
                    "The HLS variant playlist does not load",
                    Verdict::Fault,
                )
                .evidence(e.to_string())
                .points_to(Cause::ServerUnreachable)]
            }
        }
    }
    if !text.trim_start().starts_with("#EXTM3U") {
        return vec![stream_check(
            "stream.hls",
            format!("The channel {shown} does not give an HLS playlist"),
            Verdict::Fault,
        )
        .evidence(format!("from {}", url.path()))
        .points_to(Cause::ServerUnreachable)];
    }
    let segments = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .count();
    checks.push(
        stream_check(
            "stream.open",
            format!("The channel {shown} opens (HLS)"),
            Verdict::Ok,
        )
        .evidence(format!(
            "playlist after {ttfb} ms, {segments} segments listed"
        ))
        .millis(ttfb),
    );
    let Some(segment) = first_uri(&text).and_then(|u| base.join(&u).ok()) else {
        checks.push(
            stream_check(
                "stream.ts",
                "The HLS playlist lists no segment",
                Verdict::Fault,
            )
            .points_to(Cause::ServerUnreachable)
            .fix("The channel has nothing to play right now: try another one."),
        );
        return checks;
    };
    match http.open(&segment).await {
        Ok((r, _)) if r.status().is_success() => {
            let (data, ms) = read_window(r, limit).await;
            checks.push(ts_check(&data, ms));
        }
        Ok((r, _)) => checks.push(
            stream_check(
                "stream.ts",
                "The first HLS segment is refused",
                Verdict::Fault,
            )
            .evidence(format!("HTTP {}", r.status().as_u16()))
            .points_to(Cause::ServerUnreachable),
        ),
        Err(e) => checks.push(
            stream_check(
                "stream.ts",
                "The first HLS segment does not load",
                Verdict::Fault,
            )
            .evidence(e.to_string())
            .points_to(Cause::ServerUnreachable),
        ),
    }
    checks
}

fn first_uri(playlist: &str) -> Option<String> {
    playlist
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_is_found_after_a_torn_start_and_losses_are_counted() {
        let mut data = vec![0u8; 5];
        for _ in 0..10 {
            let mut p = vec![0u8; 188];
            p[0] = 0x47;
            data.extend(p);
        }
        let s = ts_sync(&data).expect("sync");
        assert_eq!((s.offset, s.packets, s.lost), (5, 10, 0));
        data[5 + 188 * 5] = 0;
        assert_eq!(ts_sync(&data).expect("sync").lost, 1);
        assert_eq!(ts_sync(b"<html>not video</html>"), None);
    }
}
