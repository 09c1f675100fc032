//! Catch-up: a past moment of a live channel, from its provider's archive.
//!
//! The face (`xtream/streams.rs`) reads the URL and authorizes the channel
//! with the one decision ([`super::authorize`], [`super::Kind::CatchUp`]);
//! this module checks the archive and hands the moment over:
//! - a channel without an archive, or a moment outside it (in the future,
//!   or older than the days it keeps), is refused `no_archive` (404, never
//!   a slate);
//! - the archive URL is the one `tvgate_core::catalog::catchup` builds for
//!   the channel's kind (`default`, `append`, `shift`, `flussonic`, `xc`);
//! - its source's delivery decides how it reaches the player, read as a
//!   stream URL is (`tvgate_core::catalog::Feed`): `redirect` sends a 302
//!   to it; `proxy` fetches it, an HLS archive (a Flussonic `.m3u8`) as
//!   proxied HLS with signed links and a short-idle lease, anything else
//!   through the VOD proxy (HEAD and byte ranges passed on).
//!
//! **Slots.** An archive view is a recording played back, so it holds a
//! connection slot as a film does (`LeaseKind::Vod`, in the same ledger
//! as every other stream of the line, with the same limit and policy); a
//! proxied one also counts against its source's connection cap for as
//! long as it runs, since it is one more connection to the provider. A
//! HEAD moves no video and takes neither.

use super::{plain, redirect, Grant};
use crate::access::Caller;
use crate::answer::{Face, Refused};
use crate::slots;
use crate::state::App;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use tvgate_core::access::Denial;
use tvgate_core::catalog::catchup::in_window;
use tvgate_core::catalog::Feed;
use tvgate_core::ledger::LeaseKind;
use tvgate_core::UnixTime;

/// A moment of a channel's archive: from `start`, `duration` seconds.
#[derive(Debug, Clone, Copy)]
pub struct Moment {
    pub start: UnixTime,
    pub duration: u32,
}

/// Where an allowed moment is fetched from, and how.
enum Reach {
    Proxy { url: String, source: u64, cap: u32 },
    Hls(String),
    Redirect(String),
}

/// Serves `moment` of the channel `grant` allows.
pub async fn serve(
    app: &App,
    caller: &Caller,
    grant: Grant,
    moment: Moment,
    method: &Method,
    headers: &HeaderMap,
) -> Response {
    let Grant {
        line,
        stream,
        username,
        ..
    } = grant;
    let refuse = |denial: Denial| Refused::new(Face::Stream, denial, caller, &username).answer(app);
    let now = app.now();
    let reach = {
        let catalog = app.gate.catalog();
        let Some(r) = catalog.stream(stream) else {
            return plain(StatusCode::NOT_FOUND, "no such stream");
        };
        let Some((days, catchup)) = catalog.archive(r) else {
            return refuse(Denial::NoArchive { days: 0 });
        };
        if !in_window(days, moment.start, now) {
            return refuse(Denial::NoArchive { days });
        }
        let built = catchup.archive_url(catalog.stream_url(r), moment.start, moment.duration, now);
        let Some(url) = built else {
            // Checked when the snapshot was built; only a moment out of
            // every calendar's range gets here.
            return refuse(Denial::NoArchive { days });
        };
        let (source, cap) = catalog.source_cap(r);
        match Feed::of(&url, catalog.delivery(r)) {
            Feed::Http(_) => Reach::Proxy {
                url,
                source: source.0 as u64,
                cap,
            },
            Feed::Hls(_) => Reach::Hls(url),
            Feed::Redirect(_) => Reach::Redirect(url),
            // A template that names a built-in is not an archive.
            Feed::Loop(_) | Feed::Clip(_) => return refuse(Denial::NoArchive { days: 0 }),
        }
    };
    match reach {
        Reach::Redirect(url) => redirect(&url),
        Reach::Hls(url) => super::hls::serve_playlist(app, caller, &line, stream, &url).await,
        Reach::Proxy { url, .. } if *method == Method::HEAD => {
            super::vod::head(app, stream, headers, &url).await
        }
        Reach::Proxy { url, source, cap } => {
            let guard = match slots::admit(app, caller, &line, stream, LeaseKind::Vod).await {
                Ok(guard) => guard,
                Err(denial) => return refuse(denial),
            };
            let Some(permit) = app.caps.try_acquire(source, cap) else {
                drop(guard);
                return refuse(Denial::SourceAtCapacity);
            };
            super::vod::proxy_holding(app, stream, method, headers, guard, &url, permit).await
        }
    }
}
