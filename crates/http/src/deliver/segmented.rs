//! Live HLS cut here: a channel tvgate relays itself (MPEG-TS over HTTP,
//! or a built-in loop) asked for as `/live/U/P/ID.m3u8` gets a live media
//! playlist (RFC 8216) instead of an endless TS body, which strict HLS
//! clients (Apple's player, hls.js, streamlink, VLC's HLS path) cannot
//! play.
//!
//! * The channel's one upstream in the hub ([`super::live::join`]) also
//!   feeds one segmenter per channel (`tvgate_relay::segmenter`), started
//!   by the first HLS request and stopped once no HLS request has come for
//!   the idle window; the segments are in memory, one copy (refcounted
//!   `Bytes`) for every HLS viewer.
//! * The playlist's segment URIs are the signed links of proxied HLS,
//!   `/hls/{token}/{sequence}.ts`, with no credentials: one token per
//!   segment, whose target names the segmenter's run ([`SEGMENTER_TARGET`]
//!   set, the run id in the low bits) rather than an upstream URL, and the
//!   file the segment's media sequence number. The token is made from the
//!   segment alone (its expiry counts from the segment's cut, not from the
//!   request), so every reload lists a segment under the same URI: hls.js
//!   stops with "media sequence mismatch" when a listed segment's URI
//!   changes between reloads.
//! * The slot is an HLS lease, as for proxied HLS: a reload from the same
//!   address and player resumes it, every playlist and segment request
//!   renews it, and it ends after the idle window without one.
//! * A segment that has left the window, or a link from an earlier run of
//!   the segmenter (a restart, another server), gets 404 at once: players
//!   then reload the playlist.

use super::hls::{idle_window, playlist_response, recheck};
use super::live::{self, Upstream};
use super::plain;
use crate::access::Caller;
use crate::answer::{Face, Refused};
use crate::slots;
use crate::state::{App, HttpSettings};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use futures::StreamExt;
use std::time::Duration;
use tvgate_core::access::token::Claims;
use tvgate_core::access::{Denial, Line};
use tvgate_core::ids::StreamId;
use tvgate_core::ledger::LeaseKind;
use tvgate_formats::hls_live::write_live;
use tvgate_relay::SegmenterConfig;

/// Set in a token's target when it names a segmenter's run; proxied HLS
/// numbers its upstream URLs from 1 and never comes near it.
pub const SEGMENTER_TARGET: u64 = 1 << 63;

/// The segmenter run a token's target names, if it names one.
pub fn run_of(target: u64) -> Option<u32> {
    (target & SEGMENTER_TARGET != 0).then_some(target as u32)
}

/// The segmenters' settings from the face settings. A segmenter stops after
/// the same idle window as its viewers' leases.
pub fn segmenter_config(settings: &HttpSettings) -> SegmenterConfig {
    let segment = settings.hls_segment_secs.max(1);
    let idle = match settings.hls_idle_window_secs {
        0 => (3 * segment).clamp(6, 60),
        secs => secs,
    };
    SegmenterConfig {
        segment: Duration::from_secs(u64::from(segment)),
        window: settings.hls_window_segments.max(1) as usize,
        idle: Duration::from_secs(u64::from(idle)),
    }
}

/// How long a playlist request waits for the first segment of a segmenter
/// it started: a segment is cut at the longest after three durations
/// (bad input), and the upstream may take a few seconds to answer.
fn first_segment_wait(app: &App) -> Duration {
    app.segmenters.config().segment * 3 + Duration::from_secs(5)
}

/// Serves the live playlist of `stream` to an authorized caller: takes or
/// resumes an HLS slot, starts the channel's segmenter if none runs (and
/// waits for its first segment), and writes the window with signed links.
pub async fn serve_playlist(
    app: &App,
    caller: &Caller,
    line: &Line,
    stream: StreamId,
    username: &str,
    upstream: Upstream,
) -> Response {
    let refuse = |denial: Denial| Refused::new(Face::Stream, denial, caller, username).answer(app);
    let idle = idle_window(app, Some(app.segmenters.config().segment.as_secs_f64()));
    let (lease, resumed) =
        match slots::admit_lease(app, caller, line, stream, LeaseKind::Hls, idle).await {
            Ok(admitted) => admitted,
            Err(denial) => return refuse(denial),
        };
    let key = live::channel_key(stream);
    let started = app.segmenters.get_or_start(&key, || {
        live::join(app, stream, upstream).map(|viewer| viewer.boxed())
    });
    let failed = match started {
        Ok(segments) => {
            if segments.first_segment(first_segment_wait(app)).await {
                if let Some((head, entries)) = segments.playlist() {
                    let idle = idle_window(app, Some(f64::from(head.target_duration)));
                    let now = app.now();
                    let ttl = i64::from(app.settings.hls_token_ttl_secs.max(1));
                    let wall = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
                    // The two clocks read a moment apart may straddle a
                    // second: that is no offset.
                    let offset = if (now - wall).abs() <= 2 {
                        0
                    } else {
                        now - wall
                    };
                    let base = app.public_url_for(caller).base();
                    let text = write_live(&head, &entries, |e| {
                        // One token per segment, a function of the segment
                        // alone: a reload lists the very same URI for it,
                        // which hls.js requires ("media sequence mismatch"
                        // otherwise). It lives `ttl` from the segment's cut
                        // (stamped by the wall clock, moved by the server
                        // clock's offset from it: none outside tests), and
                        // at least a target duration from now.
                        let cut = e.program_date_time_ms.div_euclid(1000) + offset;
                        let token = app.hls.key.sign(&Claims {
                            line: line.id,
                            stream,
                            lease,
                            expires: (cut + ttl).max(now + i64::from(head.target_duration)),
                            target: SEGMENTER_TARGET | u64::from(segments.run()),
                        });
                        format!("{base}/hls/{token}/{}.ts", e.sequence)
                    });
                    app.ledger.renew(lease, now, idle).await;
                    return playlist_response(text);
                }
            }
            plain(
                StatusCode::GATEWAY_TIMEOUT,
                "the channel sent nothing that could be cut into segments in time; try again",
            )
        }
        Err(denial) => refuse(denial),
    };
    // A fresh slot for a channel that cannot be watched is given back.
    if !resumed {
        app.ledger.end(lease).await;
    }
    failed
}

/// `GET /hls/{token}/{sequence}.ts` for a token naming segmenter run `run`:
/// the segment from memory while the window keeps it, else 404 at once.
pub async fn serve_segment(
    app: &App,
    caller: &Caller,
    claims: &Claims,
    run: u32,
    file: &str,
) -> Response {
    let gone = || {
        plain(
            StatusCode::NOT_FOUND,
            "this segment has left the live window; reload the playlist",
        )
    };
    let Some(sequence) = file.strip_suffix(".ts").and_then(|n| n.parse::<u64>().ok()) else {
        return plain(StatusCode::NOT_FOUND, "no such segment");
    };
    let key = live::channel_key(claims.stream);
    let segments = app.segmenters.find(&key).filter(|s| s.run() == run);
    let target = segments
        .as_ref()
        .map_or(app.segmenters.config().segment.as_secs_f64(), |s| {
            f64::from(s.target_duration())
        });
    if let Err(stop) = recheck(app, caller, claims, idle_window(app, Some(target))).await {
        return stop;
    }
    let Some(segments) = segments else {
        return gone();
    };
    segments.touch();
    match segments.segment(sequence) {
        Some(bytes) => {
            let mut r = Response::new(bytes.into());
            r.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("video/mp2t"));
            r
        }
        None => gone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_names_a_run_only_with_the_segmenter_bit() {
        assert_eq!(run_of(SEGMENTER_TARGET | 0xDEAD_BEEF), Some(0xDEAD_BEEF));
        assert_eq!(run_of(SEGMENTER_TARGET), Some(0));
        assert_eq!(run_of(1), None);
        assert_eq!(run_of(u64::from(u32::MAX)), None);
    }

    #[test]
    fn the_segmenter_idles_out_with_its_viewers_leases() {
        let mut s = HttpSettings::default();
        let c = segmenter_config(&s);
        assert_eq!(c.segment, Duration::from_secs(4));
        assert_eq!(c.window, 6);
        assert_eq!(c.idle, Duration::from_secs(12));
        s.hls_segment_secs = 1;
        assert_eq!(segmenter_config(&s).idle, Duration::from_secs(6));
        s.hls_idle_window_secs = 40;
        assert_eq!(segmenter_config(&s).idle, Duration::from_secs(40));
    }
}
