//! Delivering a stream, for every face that hands out stream URLs (Xtream's
//! `/live|movie|series/...`, Stalker's channel links): [`authorize`] looks
//! the stream up once, asks the one decision, and resolves how the stream is
//! delivered into a [`Plan`]; [`hand_over`] carries the plan out.
//!
//! The plan follows the stream's feed as the catalog snapshot read it once
//! (`tvgate_core::catalog::Feed`: built in, fetched over HTTP or as HLS, or
//! redirected) and what the player asked for:
//! - a live channel over HTTP is relayed through the hub ([`live`]); asked
//!   for as `.m3u8`, an MPEG-TS one (or a built-in loop) is cut into
//!   segments here and served as a live playlist ([`segmented`]), an HLS
//!   one served as its own playlist rewritten ([`hls`]); an HLS one asked
//!   for as MPEG-TS is one continuous TS stream;
//! - a movie or an episode over HTTP is proxied with HEAD and byte ranges
//!   ([`vod`]);
//! - a built-in loop is relayed like a channel, a built-in clip served as
//!   a file, with HEAD and byte ranges ([`clip`]);
//! - anything else gets a 302 to its URL.
//!
//! Refusals on the way (the line's slots are all taken, the source is at
//! its cap) are answered as the stream's face answers them
//! (`crate::answer`). Deliberately absent: the URL forms of each face and
//! their credentials, which stay with the faces.

pub mod archive;
pub mod clip;
pub mod hls;
pub mod live;
pub mod segmented;
pub mod vod;

use crate::access::{self, Ask, Caller};
use crate::answer::{Face, Refused};
use crate::state::App;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tvgate_core::access::{Line, OutputFormat};
use tvgate_core::catalog::{Catalog, Feed, StreamRef};
use tvgate_core::ids::{SourceId, StreamId};

/// Which list a stream URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Live,
    Movie,
    Series,
    /// A past moment of a live channel (catch-up, [`archive`]): the same
    /// channel and decision as live, answered in plain text (a refusal is
    /// never a slate: a player would keep it as the recording).
    CatchUp,
}

/// `123.ts` → (123, Some("ts")); `123` → (123, None).
pub fn parse_file(file: &str) -> Option<(u32, Option<&str>)> {
    let (id, ext) = match file.split_once('.') {
        Some((id, ext)) => (id, Some(ext)),
        None => (file, None),
    };
    Some((id.parse().ok()?, ext.filter(|e| !e.is_empty())))
}

/// How the viewer proved who it is.
#[derive(Debug, Clone)]
pub enum Credentials<'a> {
    /// A username and password on this request (Xtream).
    Password {
        username: &'a str,
        password: &'a str,
    },
    /// A signed link already verified (a Stalker channel link): the line
    /// is proven, only the decision is asked.
    Link(Arc<Line>),
}

/// A stream request, as far as authorizing it goes.
#[derive(Debug, Clone)]
pub struct StreamAsk<'a> {
    pub kind: Kind,
    pub stream: StreamId,
    /// The container asked for (live only; movies and episodes are served
    /// in their own).
    pub output: Option<OutputFormat>,
    pub credentials: Credentials<'a>,
}

/// How an allowed stream reaches the viewer, with what that needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// A live MPEG-TS channel relayed from its URLs (its own, then its
    /// backups), within its source's connection cap.
    Relay {
        urls: Vec<String>,
        source: SourceId,
        cap: u32,
    },
    /// A live HLS channel asked for as MPEG-TS: the playlist polled and its
    /// segments relayed as one stream, within its source's cap.
    HlsAsTs {
        url: String,
        source: SourceId,
        cap: u32,
    },
    /// A live HLS channel asked for as `.m3u8`: its playlist, rewritten.
    HlsProxy { url: String },
    /// A built-in endless channel, relayed.
    Loop { name: String },
    /// A channel tvgate relays itself (over HTTP as MPEG-TS, or built in)
    /// asked for as `.m3u8`: cut into segments here and served as a live
    /// playlist ([`segmented`]).
    Segmented { from: Relayed },
    /// A built-in file, sent whole.
    Clip { name: String },
    /// A movie or an episode, proxied with HEAD and ranges.
    Vod { url: String },
    /// A 302 to the source URL.
    Redirect { url: String },
}

/// What a [`Plan::Segmented`] channel is relayed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Relayed {
    /// Its URLs (its own, then its backups), within its source's cap.
    Ts {
        urls: Vec<String>,
        source: SourceId,
        cap: u32,
    },
    /// A built-in endless channel.
    Loop { name: String },
}

impl Plan {
    /// The plan for stream `r` of `catalog`, asked for as `output`.
    pub fn resolve(catalog: &Catalog, r: StreamRef, output: Option<OutputFormat>) -> Plan {
        let live = matches!(r, StreamRef::Live(_));
        let (source, cap) = catalog.source_cap(r);
        let hls = output == Some(OutputFormat::M3u8);
        match catalog.feed(r) {
            Feed::Loop(name) if hls => Plan::Segmented {
                from: Relayed::Loop { name: name.into() },
            },
            Feed::Loop(name) => Plan::Loop { name: name.into() },
            Feed::Clip(name) => Plan::Clip { name: name.into() },
            Feed::Redirect(url) => Plan::Redirect { url: url.into() },
            Feed::Http(url) | Feed::Hls(url) if !live => Plan::Vod { url: url.into() },
            Feed::Hls(url) if hls => Plan::HlsProxy { url: url.into() },
            Feed::Hls(url) => Plan::HlsAsTs {
                url: url.into(),
                source,
                cap,
            },
            // A TS source asked for as .m3u8 gets real HLS, cut here: strict
            // HLS clients (Apple's player, hls.js, streamlink) cannot play
            // an endless TS body.
            Feed::Http(_) if hls => Plan::Segmented {
                from: Relayed::Ts {
                    urls: catalog.upstream_urls(r).map(str::to_owned).collect(),
                    source,
                    cap,
                },
            },
            Feed::Http(_) => Plan::Relay {
                urls: catalog.upstream_urls(r).map(str::to_owned).collect(),
                source,
                cap,
            },
        }
    }
}

/// An authorized stream request: whose, which, and how it is delivered.
#[derive(Debug, Clone)]
pub struct Grant {
    pub line: Arc<Line>,
    pub stream: StreamId,
    /// The name refusals on the way are recorded under: as presented with
    /// a password, the line's own with a link.
    pub username: String,
    pub plan: Plan,
}

/// Why a stream request is not served.
#[derive(Debug)]
pub enum Stop {
    /// The one decision said no.
    Refused(Refused),
    /// Nothing to serve: the text says what.
    NotFound(&'static str),
}

impl Stop {
    pub fn answer(self, app: &App) -> Response {
        match self {
            Stop::Refused(refused) => refused.answer(app),
            Stop::NotFound(what) => plain(StatusCode::NOT_FOUND, what),
        }
    }
}

/// Authorizes a stream request: looks the stream up (once), asks the one
/// decision and resolves the [`Plan`].
///
/// With a password the decision comes first, so the answer to unproven
/// credentials is the same whether the id exists or not (the stream is
/// looked up before only to learn its category). A link's line is proven
/// already, so a stream that is gone is said at once.
pub async fn authorize(app: &App, caller: &Caller, ask: StreamAsk<'_>) -> Result<Grant, Stop> {
    let catalog = app.gate.catalog();
    let found = catalog.stream(ask.stream).filter(|r| {
        matches!(
            (ask.kind, r),
            (Kind::Live | Kind::CatchUp, StreamRef::Live(_))
                | (Kind::Movie, StreamRef::Movie(_))
                | (Kind::Series, StreamRef::Episode(..))
        )
    });
    // Only a live stream asked for as MPEG-TS may be refused with the slate.
    let face = match (ask.kind, ask.output) {
        (Kind::Live, Some(OutputFormat::Ts)) => Face::LiveTs,
        _ => Face::Stream,
    };
    let decision = Ask {
        face,
        output: ask.output,
        item_category: found.map(|r| catalog.stream_category(r)),
    };
    let (line, username) = match ask.credentials {
        Credentials::Password { username, password } => {
            let checked = access::check(app, caller, username, password, decision).await;
            let proven = checked.allowed().map_err(Stop::Refused)?;
            (proven.line, username.to_string())
        }
        Credentials::Link(line) => {
            if found.is_none() {
                return Err(Stop::NotFound("no such channel"));
            }
            access::decide_proven(app, caller, &line, decision).map_err(Stop::Refused)?;
            let username = line.username.to_string();
            (line, username)
        }
    };
    let Some(r) = found else {
        return Err(Stop::NotFound("no such stream"));
    };
    Ok(Grant {
        line,
        stream: ask.stream,
        username,
        plan: Plan::resolve(&catalog, r, ask.output),
    })
}

/// Carries out a grant's plan. `method` and `headers` are the request's:
/// a movie's HEAD and byte ranges go to its source.
pub async fn hand_over(
    app: &App,
    caller: &Caller,
    grant: Grant,
    method: &Method,
    headers: &HeaderMap,
) -> Response {
    app.metrics.streams_started.fetch_add(1, Ordering::Relaxed);
    let Grant {
        line,
        stream,
        username,
        plan,
    } = grant;
    let relay = |upstream| live::serve(app, caller, &line, stream, &username, upstream);
    match plan {
        Plan::Relay { urls, source, cap } => relay(live::Upstream::Ts { urls, source, cap }).await,
        Plan::HlsAsTs { url, source, cap } => relay(live::Upstream::Hls { url, source, cap }).await,
        Plan::Loop { name } => match app.builtins.loops.get(&name) {
            Some(source) => relay(live::Upstream::Builtin(source.clone())).await,
            None => plain(
                StatusCode::NOT_FOUND,
                "this built-in channel does not exist",
            ),
        },
        Plan::Clip { name } => match app.builtins.clips.get(&name) {
            Some(bytes) => {
                let bytes = bytes.clone();
                clip::serve(
                    app, caller, &line, stream, &username, method, headers, bytes,
                )
                .await
            }
            None => plain(StatusCode::NOT_FOUND, "this built-in file does not exist"),
        },
        Plan::HlsProxy { url } => hls::serve_playlist(app, caller, &line, stream, &url).await,
        Plan::Segmented { from } => {
            let upstream = match from {
                Relayed::Ts { urls, source, cap } => live::Upstream::Ts { urls, source, cap },
                Relayed::Loop { name } => match app.builtins.loops.get(&name) {
                    Some(source) => live::Upstream::Builtin(source.clone()),
                    None => {
                        return plain(
                            StatusCode::NOT_FOUND,
                            "this built-in channel does not exist",
                        )
                    }
                },
            };
            segmented::serve_playlist(app, caller, &line, stream, &username, upstream).await
        }
        Plan::Vod { url } => {
            vod::serve(app, caller, &line, stream, &username, method, headers, &url).await
        }
        Plan::Redirect { url } => redirect(&url),
    }
}

/// The 302 to a source the operator set to `redirect`.
fn redirect(url: &str) -> Response {
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

/// A short plain-text answer (`text\n`).
pub(crate) fn plain(status: StatusCode, text: &str) -> Response {
    let mut r = Response::new(format!("{text}\n").into());
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use tvgate_core::catalog::{
        CatalogData, Delivery, Episode, LiveChannel, LiveText, Movie, Series, SourceSettings,
    };
    use tvgate_core::ids::SeriesId;

    #[test]
    fn files() {
        assert_eq!(parse_file("12.ts"), Some((12, Some("ts"))));
        assert_eq!(parse_file("12"), Some((12, None)));
        assert_eq!(parse_file("12."), Some((12, None)));
        assert_eq!(parse_file("x.ts"), None);
    }

    fn channel(id: u32, source: i64, url: &str) -> LiveChannel {
        LiveChannel {
            id: StreamId(id),
            source: SourceId(source),
            category: None,
            added: 0,
            is_adult: false,
            archive_days: 0,
            text: LiveText::new("C", "", url, None),
        }
    }

    fn movie(id: u32, source: i64, url: &str) -> Movie {
        Movie {
            id: StreamId(id),
            source: SourceId(source),
            name: "M".into(),
            category: None,
            logo: "".into(),
            url: url.into(),
            container: "mp4".into(),
            added: 0,
            is_adult: false,
            plot: "".into(),
            year: None,
            rating: None,
        }
    }

    fn source(id: i64, cap: u32, delivery: Delivery) -> SourceSettings {
        SourceSettings {
            id: SourceId(id),
            name: "S".into(),
            max_connections: cap,
            delivery,
            enabled: true,
            identity: Default::default(),
        }
    }

    #[test]
    fn plans_follow_the_feed_and_the_container_asked_for() {
        let catalog = Catalog::build(CatalogData {
            live: vec![
                channel(1, 1, "http://up/1.ts"),
                channel(2, 1, "http://up/2/index.m3u8"),
                channel(3, 2, "http://up/3.ts"),
                channel(4, 1, "loop:demo?ch=4"),
            ],
            movies: vec![
                movie(10, 1, "http://up/m.mkv"),
                movie(11, 1, "clip:film.ts"),
                movie(12, 1, "http://up/m.m3u8"),
            ],
            series: vec![Series {
                id: SeriesId(1),
                source: SourceId(2),
                name: "S".into(),
                category: None,
                cover: "".into(),
                plot: "".into(),
                last_modified: 0,
                episodes: vec![Episode {
                    id: StreamId(20),
                    season: 1,
                    episode: 1,
                    title: "E".into(),
                    url: "http://up/e.mp4".into(),
                    container: "mp4".into(),
                    added: 0,
                }],
            }],
            sources: vec![
                source(1, 3, Delivery::Proxy),
                source(2, 0, Delivery::Redirect),
            ],
            backups: vec![(StreamId(1), vec!["http://backup/1.ts".into()])],
            ..CatalogData::default()
        });
        let plan = |id, output| {
            let r = catalog.stream(StreamId(id)).expect("in the catalog");
            Plan::resolve(&catalog, r, output)
        };
        let (ts, m3u8) = (Some(OutputFormat::Ts), Some(OutputFormat::M3u8));
        let relay = Plan::Relay {
            urls: vec!["http://up/1.ts".into(), "http://backup/1.ts".into()],
            source: SourceId(1),
            cap: 3,
        };
        assert_eq!(plan(1, ts), relay);
        assert_eq!(plan(1, None), relay);
        assert_eq!(
            plan(1, m3u8),
            Plan::Segmented {
                from: Relayed::Ts {
                    urls: vec!["http://up/1.ts".into(), "http://backup/1.ts".into()],
                    source: SourceId(1),
                    cap: 3,
                }
            },
            "a TS source asked for as HLS is cut into segments"
        );
        assert_eq!(
            plan(2, ts),
            Plan::HlsAsTs {
                url: "http://up/2/index.m3u8".into(),
                source: SourceId(1),
                cap: 3
            }
        );
        assert_eq!(
            plan(2, m3u8),
            Plan::HlsProxy {
                url: "http://up/2/index.m3u8".into()
            }
        );
        assert_eq!(
            plan(3, ts),
            Plan::Redirect {
                url: "http://up/3.ts".into()
            }
        );
        assert_eq!(
            plan(4, ts),
            Plan::Loop {
                name: "demo".into()
            }
        );
        assert_eq!(
            plan(4, m3u8),
            Plan::Segmented {
                from: Relayed::Loop {
                    name: "demo".into()
                }
            }
        );
        assert_eq!(
            plan(10, None),
            Plan::Vod {
                url: "http://up/m.mkv".into()
            }
        );
        assert_eq!(
            plan(11, None),
            Plan::Clip {
                name: "film.ts".into()
            }
        );
        assert_eq!(
            plan(12, None),
            Plan::Vod {
                url: "http://up/m.m3u8".into()
            },
            "a film is a file, whatever its URL"
        );
        assert_eq!(
            plan(20, None),
            Plan::Redirect {
                url: "http://up/e.mp4".into()
            }
        );
    }
}
