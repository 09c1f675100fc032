//! Stream URLs of the Xtream face: `/live|movie|series/USER/PASS/ID[.EXT]`,
//! the short live form `/USER/PASS/ID[.EXT]`, and catch-up (`/timeshift/...`,
//! `/streaming/timeshift.php`). This module reads the URL forms (the id, the
//! container asked for, the credentials in the path); authorizing the
//! stream and delivering it are the floor's (`crate::deliver`), shared with
//! the Stalker portal's channel links.

use crate::access::{self, Ask, Caller};
use crate::answer::Face;
use crate::deliver::archive::{self, Moment};
use crate::deliver::{self, parse_file, Credentials, Grant, Kind, Stop, StreamAsk};
use crate::params::Params;
use crate::state::App;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use tvgate_core::access::OutputFormat;
use tvgate_core::ids::StreamId;
use tvgate_core::UnixTime;

pub async fn live(
    State(app): State<App>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    Path((u, p, file)): Path<(String, String, String)>,
) -> Response {
    stream(&app, &caller, Kind::Live, &method, &headers, &u, &p, &file).await
}

pub async fn movie(
    State(app): State<App>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    Path((u, p, file)): Path<(String, String, String)>,
) -> Response {
    stream(&app, &caller, Kind::Movie, &method, &headers, &u, &p, &file).await
}

pub async fn series(
    State(app): State<App>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    Path((u, p, file)): Path<(String, String, String)>,
) -> Response {
    stream(
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

#[allow(clippy::too_many_arguments)]
async fn stream(
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
        Ok(grant) => deliver::hand_over(app, caller, grant, method, headers).await,
        Err(stop) => stop.answer(app),
    }
}

/// The URL's stream, authorized for its credentials.
async fn authorize(
    app: &App,
    caller: &Caller,
    kind: Kind,
    username: &str,
    password: &str,
    file: &str,
) -> Result<Grant, Stop> {
    let Some((id, ext)) = parse_file(file) else {
        return Err(Stop::NotFound("not found"));
    };
    let output = match kind {
        Kind::Live => match ext {
            None => Some(OutputFormat::Ts),
            Some(e) => match OutputFormat::from_name(e) {
                Some(f) => Some(f),
                None => return Err(Stop::NotFound("unknown stream extension; use .ts or .m3u8")),
            },
        },
        // Movies and episodes are served in their own container.
        _ => None,
    };
    let ask = StreamAsk {
        kind,
        stream: StreamId(id),
        output,
        credentials: Credentials::Password { username, password },
    };
    deliver::authorize(app, caller, ask).await
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
    method: Method,
    headers: HeaderMap,
    Path((u, p, minutes, start, file)): Path<(String, String, String, String, String)>,
) -> Response {
    let ask = CatchUpAsk {
        username: &u,
        password: &p,
        minutes: &minutes,
        start: &start,
        file: &file,
    };
    catch_up(&app, &caller, &method, &headers, ask).await
}

/// `/streaming/timeshift.php?username=&password=&stream=&start=&duration=`
/// (`extension=` optional, `ts` by default).
pub async fn timeshift_php(
    State(app): State<App>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    params: Params,
) -> Response {
    let file = format!(
        "{}.{}",
        params.str("stream"),
        params.get("extension").unwrap_or("ts")
    );
    let ask = CatchUpAsk {
        username: params.str("username"),
        password: params.str("password"),
        minutes: params.str("duration"),
        start: params.str("start"),
        file: &file,
    };
    catch_up(&app, &caller, &method, &headers, ask).await
}

/// A catch-up URL's parts, as text.
struct CatchUpAsk<'a> {
    username: &'a str,
    password: &'a str,
    minutes: &'a str,
    start: &'a str,
    file: &'a str,
}

/// Catch-up: the channel authorized by the one decision (as its live
/// stream would be), then the moment from its archive (`deliver::archive`:
/// `no_archive` when it has none or not that far back, a slot like a
/// film's, relayed or redirected per its source).
async fn catch_up(
    app: &App,
    caller: &Caller,
    method: &Method,
    headers: &HeaderMap,
    ask: CatchUpAsk<'_>,
) -> Response {
    let understood = (
        ask.minutes.parse::<u32>().ok().filter(|m| *m > 0),
        parse_start(ask.start, app.settings.timezone),
        parse_file(ask.file),
    );
    let (Some(minutes), Some(start), Some((id, ext))) = understood else {
        // Authenticate anyway so a malformed URL tells nothing to a stranger.
        let checked = access::check(
            app,
            caller,
            ask.username,
            ask.password,
            Ask::face(Face::Stream),
        )
        .await;
        if let Err(refused) = checked.allowed() {
            return refused.answer(app);
        }
        return deliver::plain(StatusCode::BAD_REQUEST, "catch-up URL not understood: expected /timeshift/USER/PASS/MINUTES/YYYY-MM-DD:HH-MM/ID.ts");
    };
    // The archive's own container comes back whatever is asked; the
    // extension only says which of the line's formats this counts as.
    let output = match ext.map(OutputFormat::from_name) {
        None => Some(OutputFormat::Ts),
        Some(Some(f)) => Some(f),
        Some(None) => {
            return deliver::plain(
                StatusCode::NOT_FOUND,
                "unknown stream extension; use .ts or .m3u8",
            )
        }
    };
    let stream_ask = StreamAsk {
        kind: Kind::CatchUp,
        stream: StreamId(id),
        output,
        credentials: Credentials::Password {
            username: ask.username,
            password: ask.password,
        },
    };
    match deliver::authorize(app, caller, stream_ask).await {
        Err(stop) => stop.answer(app),
        Ok(grant) => {
            let moment = Moment {
                start,
                duration: minutes.saturating_mul(60),
            };
            archive::serve(app, caller, grant, moment, method, headers).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts() {
        let utc = chrono_tz::UTC;
        assert_eq!(parse_start("2025-01-01:18-30", utc), Some(1_735_756_200));
        assert_eq!(parse_start("20250101-18", utc), Some(1_735_754_400));
        assert_eq!(parse_start("1735754400", utc), Some(1_735_754_400));
        assert_eq!(parse_start("tomorrow", utc), None);
    }
}
