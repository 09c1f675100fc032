//! Stream URLs: `/live|movie|series/USER/PASS/ID[.EXT]`, the short live form
//! `/USER/PASS/ID[.EXT]`, and catch-up (`/timeshift/...`,
//! `/streaming/timeshift.php`). Each is authorized by the one decision, then
//! the player is handed the source: live channels are relayed (`live`, HLS
//! playlists through `hls`), movies and episodes proxied with ranges
//! (`vod`), and sources the operator set to `redirect` get a 302.
//!
//! The stream is looked up before the decision only to learn its category;
//! the answer to unproven credentials is the same whether the id exists or not.

use crate::access::{self, Ask, Caller};
use crate::answer::Face;
use crate::params::Params;
use crate::state::App;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use tvgate_core::access::OutputFormat;
use tvgate_core::catalog::{Delivery, StreamRef};
use tvgate_core::ids::StreamId;
use tvgate_core::UnixTime;

/// Which path a stream URL came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Live,
    Movie,
    Series,
}

/// `123.ts` → (123, Some("ts")); `123` → (123, None).
pub fn parse_file(file: &str) -> Option<(u32, Option<&str>)> {
    let (id, ext) = match file.split_once('.') {
        Some((id, ext)) => (id, Some(ext)),
        None => (file, None),
    };
    Some((id.parse().ok()?, ext.filter(|e| !e.is_empty())))
}

fn plain(status: StatusCode, text: &str) -> Response {
    let mut r = Response::new(format!("{text}\n").into());
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

pub async fn live(
    State(app): State<App>,
    caller: Caller,
    Path((u, p, file)): Path<(String, String, String)>,
) -> Response {
    stream(&app, &caller, Kind::Live, &u, &p, &file).await
}

pub async fn movie(
    State(app): State<App>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    Path((u, p, file)): Path<(String, String, String)>,
) -> Response {
    vod_stream(&app, &caller, Kind::Movie, &method, &headers, &u, &p, &file).await
}

pub async fn series(
    State(app): State<App>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    Path((u, p, file)): Path<(String, String, String)>,
) -> Response {
    vod_stream(
        &app,
        &caller,
        Kind::Series,
        &method,
        &headers,
        &u,
        &p,
        &file,
    )
    .await
}

/// A movie or an episode: from an HTTP source it is proxied with HEAD and
/// byte ranges (`super::vod`); a built-in one is handed over as any stream.
#[allow(clippy::too_many_arguments)]
async fn vod_stream(
    app: &App,
    caller: &Caller,
    kind: Kind,
    method: &Method,
    headers: &HeaderMap,
    username: &str,
    password: &str,
    file: &str,
) -> Response {
    match authorize(app, caller, kind, username, password, file).await {
        Outcome::Refused(r) => r,
        Outcome::Allowed {
            url,
            account,
            stream,
            ..
        } => {
            app.metrics
                .streams_started
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if super::vod::is_http(&url) && !redirected(app, stream) {
                super::vod::serve(
                    app, caller, &account, stream, username, method, headers, &url,
                )
                .await
            } else {
                hand_over(app, caller, &account, stream, username, &url, None).await
            }
        }
    }
}

/// True when the operator chose redirects (302) for the stream's source.
fn redirected(app: &App, stream: StreamId) -> bool {
    let catalog = app.gate.catalog();
    catalog
        .stream(stream)
        .is_some_and(|r| catalog.delivery(r) == Delivery::Redirect)
}

/// What authorization found: the allowed stream's source URL.
enum Outcome {
    Allowed {
        url: String,
        account: std::sync::Arc<tvgate_core::access::Account>,
        stream: StreamId,
        /// The container asked for (live only).
        output: Option<OutputFormat>,
    },
    Refused(Response),
}

async fn authorize(
    app: &App,
    caller: &Caller,
    kind: Kind,
    username: &str,
    password: &str,
    file: &str,
) -> Outcome {
    let Some((id, ext)) = parse_file(file) else {
        return Outcome::Refused(plain(StatusCode::NOT_FOUND, "not found"));
    };
    let catalog = app.gate.catalog();
    let found = catalog.stream(StreamId(id)).filter(|r| {
        matches!(
            (kind, r),
            (Kind::Live, StreamRef::Live(_))
                | (Kind::Movie, StreamRef::Movie(_))
                | (Kind::Series, StreamRef::Episode(..))
        )
    });
    let output = match kind {
        Kind::Live => match ext {
            None => Some(OutputFormat::Ts),
            Some(e) => match OutputFormat::from_name(e) {
                Some(f) => Some(f),
                None => {
                    return Outcome::Refused(plain(
                        StatusCode::NOT_FOUND,
                        "unknown stream extension; use .ts or .m3u8",
                    ))
                }
            },
        },
        // Movies and episodes are served in their own container.
        _ => None,
    };
    // Only a live stream asked for as MPEG-TS may be refused with the slate.
    let face = match (kind, output) {
        (Kind::Live, Some(OutputFormat::Ts)) => Face::LiveTs,
        _ => Face::Stream,
    };
    let ask = Ask {
        face,
        output,
        item_category: found.map(|r| catalog.stream_category(r)),
    };
    let proven = match access::check(app, caller, username, password, ask)
        .await
        .allowed()
    {
        Ok(proven) => proven,
        Err(refused) => return Outcome::Refused(refused.answer(app)),
    };
    match found {
        Some(r) => Outcome::Allowed {
            url: catalog.stream_url(r).to_string(),
            account: proven.account,
            stream: StreamId(id),
            output,
        },
        None => Outcome::Refused(plain(StatusCode::NOT_FOUND, "no such stream")),
    }
}

async fn stream(
    app: &App,
    caller: &Caller,
    kind: Kind,
    username: &str,
    password: &str,
    file: &str,
) -> Response {
    match authorize(app, caller, kind, username, password, file).await {
        Outcome::Refused(r) => r,
        Outcome::Allowed {
            url,
            account,
            stream,
            output,
        } => {
            app.metrics
                .streams_started
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            hand_over(app, caller, &account, stream, username, &url, output).await
        }
    }
}

/// Gives the player a live channel (or a built-in file): relayed from its
/// source on a connection slot that frees the moment the player leaves, or
/// redirected to when the operator chose that for the source.
pub(crate) async fn hand_over(
    app: &App,
    caller: &Caller,
    account: &tvgate_core::access::Account,
    stream: StreamId,
    username: &str,
    url: &str,
    output: Option<OutputFormat>,
) -> Response {
    // Built-in names may carry a query (`loop:demo?ch=2`) to keep catalog
    // entries distinct; it is not part of the name.
    let builtin = |rest: &str| rest.split('?').next().unwrap_or(rest).to_string();
    if let Some(name) = url.strip_prefix("loop:").map(builtin) {
        return match app.builtins.loops.get(&name) {
            Some(source) => {
                let upstream = super::live::Upstream::Builtin(source.clone());
                super::live::serve(app, caller, account, stream, username, upstream).await
            }
            None => plain(
                StatusCode::NOT_FOUND,
                "this built-in channel does not exist",
            ),
        };
    }
    if let Some(name) = url.strip_prefix("clip:").map(builtin) {
        return match app.builtins.clips.get(&name) {
            Some(bytes) => {
                let mut r = Response::new(axum::body::Body::from(bytes.clone()));
                r.headers_mut()
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static("video/mp2t"));
                r
            }
            None => plain(StatusCode::NOT_FOUND, "this built-in file does not exist"),
        };
    }
    if super::vod::is_http(url) && !redirected(app, stream) {
        use super::live::{is_hls_url, serve, Upstream};
        return match (is_hls_url(url), output) {
            (true, Some(OutputFormat::M3u8)) => {
                super::hls::serve_playlist(app, caller, account, stream, url).await
            }
            (true, _) => serve(app, caller, account, stream, username, Upstream::Hls).await,
            // A TS source asked for as .m3u8 is still served as TS: players
            // that ask for HLS (VLC, ffmpeg, mpv, ExoPlayer) sniff the body.
            (false, _) => serve(app, caller, account, stream, username, Upstream::Ts).await,
        };
    }
    let mut r = plain(StatusCode::FOUND, "redirecting to the source");
    match HeaderValue::from_str(url) {
        Ok(v) => {
            r.headers_mut().insert(header::LOCATION, v);
            r
        }
        Err(_) => plain(
            StatusCode::BAD_GATEWAY,
            "the source URL of this stream is not valid",
        ),
    }
}

/// Parses a catch-up start as clients send it: `YYYY-MM-DD:HH-MM` (the common
/// one), `YYYYMMDD-HH`, or unix seconds. Non-numeric forms are in the
/// server's advertised time zone (protocols.md §1.14).
pub fn parse_start(s: &str, tz: chrono_tz::Tz) -> Option<UnixTime> {
    use chrono::{NaiveDate, NaiveDateTime, TimeZone};
    if s.len() >= 9 && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse().ok();
    }
    let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%d:%H-%M")
        .ok()
        .or_else(|| {
            let (date, hour) = s.split_once('-')?;
            let d = NaiveDate::parse_from_str(date, "%Y%m%d").ok()?;
            d.and_hms_opt(hour.parse().ok()?, 0, 0)
        })?;
    tz.from_local_datetime(&naive)
        .earliest()
        .map(|t| t.timestamp())
}

/// `/timeshift/USER/PASS/MINUTES/START/ID.EXT`.
pub async fn timeshift(
    State(app): State<App>,
    caller: Caller,
    Path((u, p, minutes, start, file)): Path<(String, String, String, String, String)>,
) -> Response {
    catch_up(&app, &caller, &u, &p, &minutes, &start, &file).await
}

/// `/streaming/timeshift.php?username=&password=&stream=&start=&duration=`.
pub async fn timeshift_php(State(app): State<App>, caller: Caller, params: Params) -> Response {
    let file = format!(
        "{}.{}",
        params.str("stream"),
        params.get("extension").unwrap_or("ts")
    );
    catch_up(
        &app,
        &caller,
        params.str("username"),
        params.str("password"),
        params.str("duration"),
        params.str("start"),
        &file,
    )
    .await
}

async fn catch_up(
    app: &App,
    caller: &Caller,
    username: &str,
    password: &str,
    minutes: &str,
    start: &str,
    file: &str,
) -> Response {
    let (Some(_minutes), Some(_start)) = (
        minutes.parse::<u32>().ok().filter(|m| *m > 0),
        parse_start(start, app.settings.timezone),
    ) else {
        // Authenticate anyway so a malformed URL tells nothing to a stranger.
        let checked = access::check(app, caller, username, password, Ask::face(Face::Stream)).await;
        if let Err(refused) = checked.allowed() {
            return refused.answer(app);
        }
        return plain(StatusCode::BAD_REQUEST, "catch-up URL not understood: expected /timeshift/USER/PASS/MINUTES/YYYY-MM-DD:HH-MM/ID.ts");
    };
    match authorize(app, caller, Kind::Live, username, password, file).await {
        Outcome::Refused(r) => r,
        Outcome::Allowed { .. } => plain(
            StatusCode::NOT_FOUND,
            "catch-up is not recorded for this channel",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_and_starts() {
        assert_eq!(parse_file("12.ts"), Some((12, Some("ts"))));
        assert_eq!(parse_file("12"), Some((12, None)));
        assert_eq!(parse_file("x.ts"), None);
        let utc = chrono_tz::UTC;
        assert_eq!(parse_start("2025-01-01:18-30", utc), Some(1_735_756_200));
        assert_eq!(parse_start("20250101-18", utc), Some(1_735_754_400));
        assert_eq!(parse_start("1735754400", utc), Some(1_735_754_400));
        assert_eq!(parse_start("tomorrow", utc), None);
    }
}
