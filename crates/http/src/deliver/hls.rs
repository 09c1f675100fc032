//! Proxied HLS: a live channel whose source is an HLS playlist is served as
//! a copy of that playlist whose every URI points back at tvgate,
//! `/hls/{token}/{n}.{ext}`, where the token is a short-lived signature
//! binding the line, the stream, the connection lease and which upstream URL
//! it stands for (`tvgate_core::access::token`). Neither the line's password
//! nor the upstream's URL (which often holds the provider's credentials)
//! appears in what the player receives: the upstream URLs stay here, in a
//! small map keyed by an opaque number.
//!
//! `GET /hls/{token}/{file}` ([`hls_file`]) serves what those URIs name.
//! The token stands in for the password, not for the decision: every
//! request asks the one decision again, so a line stopped since its
//! playlist was served is refused at its next segment.
//!
//! An HLS viewer has no socket to watch, so its slot is a lease with a short
//! idle window (about three target durations): every playlist reload and
//! segment request renews it, and a viewer that stops asking simply lets it
//! expire. A reload of `/live/U/P/ID.m3u8` from the same address and player
//! resumes the lease instead of taking a second slot.
//!
//! Segments are shared between the viewers of a channel: a small in-memory
//! cache of recent segments, bounded in bytes (least recently used goes
//! first), where concurrent requests for a segment not yet cached wait on one
//! upstream fetch.

use super::plain;
use crate::access::{self, Ask, Caller};
use crate::answer::{Face, Refused};
use crate::state::App;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use futures::future::{BoxFuture, FutureExt, Shared};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tvgate_core::access::token::{Claims, TokenKey};
use tvgate_core::access::{Line, OutputFormat};
use tvgate_core::ids::StreamId;
use tvgate_core::ledger::{LeaseId, LeaseKind};
use tvgate_core::UnixTime;
use tvgate_formats::hls::{self, Playlist, UriKind};
use tvgate_relay::hls_source::{fetch, FetchError, HlsToTsConfig, MAX_PLAYLIST_BYTES};

/// Tokens of variant playlists live this long: players keep reloading the
/// same variant URL for the whole session, so its real limit is the lease
/// (which ends after the idle window), not the token.
const VARIANT_TOKEN_TTL_SECS: i64 = 24 * 3600;

/// Most upstream URLs remembered at once; the least recently used go first.
const MAX_TARGETS: usize = 100_000;

/// Idle window bounds when it follows the target duration.
const MIN_IDLE_SECS: u32 = 6;
const MAX_IDLE_SECS: u32 = 60;

/// Shared state of proxied HLS.
pub struct HlsState {
    pub(super) key: TokenKey,
    targets: Mutex<Targets>,
    cache: SegmentCache,
}

impl std::fmt::Debug for HlsState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HlsState").finish_non_exhaustive()
    }
}

impl HlsState {
    pub fn new(key: TokenKey, cache_bytes: usize) -> HlsState {
        HlsState {
            key,
            targets: Mutex::new(Targets::default()),
            cache: SegmentCache::new(cache_bytes),
        }
    }

    /// Upstream fetches made for segments (cache misses), for tests and metrics.
    pub fn segment_fetches(&self) -> u64 {
        self.cache.lock().fetches
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// An upstream URL a token stands for.
struct Target {
    url: Arc<str>,
    kind: UriKind,
    stream: StreamId,
    /// The viewer's idle window, from the playlist that named this URL.
    idle_secs: u32,
    used: UnixTime,
}

/// Upstream URLs by opaque number, and the reverse, so every viewer of a
/// channel gets the same number (and the same cache entry) for a segment.
#[derive(Default)]
struct Targets {
    next: u64,
    by_id: HashMap<u64, Target>,
    by_url: HashMap<(StreamId, Arc<str>), u64>,
}

impl Targets {
    fn intern(
        &mut self,
        stream: StreamId,
        url: &str,
        kind: UriKind,
        idle_secs: u32,
        now: UnixTime,
    ) -> u64 {
        if let Some(id) = self.by_url.get(&(stream, Arc::from(url))).copied() {
            if let Some(t) = self.by_id.get_mut(&id) {
                t.used = now;
                t.idle_secs = idle_secs;
                t.kind = kind;
                return id;
            }
        }
        if self.by_id.len() >= MAX_TARGETS {
            self.forget_oldest();
        }
        self.next += 1;
        let id = self.next;
        let url: Arc<str> = Arc::from(url);
        self.by_url.insert((stream, url.clone()), id);
        self.by_id.insert(
            id,
            Target {
                url,
                kind,
                stream,
                idle_secs,
                used: now,
            },
        );
        id
    }

    /// Drops the least recently used tenth.
    fn forget_oldest(&mut self) {
        let mut ages: Vec<UnixTime> = self.by_id.values().map(|t| t.used).collect();
        let cut = ages.len() / 10;
        let (_, limit, _) = ages.select_nth_unstable(cut);
        let limit = *limit;
        let by_url = &mut self.by_url;
        self.by_id.retain(|_, t| {
            let keep = t.used > limit;
            if !keep {
                by_url.remove(&(t.stream, t.url.clone()));
            }
            keep
        });
    }
}

/// A refusal or an upstream failure, as the player sees it.
#[derive(Debug, Clone)]
struct Failure {
    status: StatusCode,
    message: &'static str,
}

impl From<&FetchError> for Failure {
    fn from(e: &FetchError) -> Self {
        if e.is_timeout() {
            Failure {
                status: StatusCode::GATEWAY_TIMEOUT,
                message: "the source did not answer in time",
            }
        } else {
            Failure {
                status: StatusCode::BAD_GATEWAY,
                message: "the source could not be reached or refused the request",
            }
        }
    }
}

impl Failure {
    fn response(&self) -> Response {
        plain(self.status, self.message)
    }
}

// ---------------------------------------------------------------------------
// Segment cache
// ---------------------------------------------------------------------------

/// A cached upstream response.
#[derive(Debug, Clone)]
struct Cached {
    body: Bytes,
    content_type: Option<Arc<str>>,
}

type Loading = Shared<BoxFuture<'static, Result<Cached, Failure>>>;

enum Entry {
    Ready { cached: Cached, used: u64 },
    Loading(Loading),
}

#[derive(Default)]
struct CacheState {
    entries: HashMap<Arc<str>, Entry>,
    bytes: usize,
    tick: u64,
    fetches: u64,
}

/// Recent segments by upstream URL, at most `budget` bytes. std mutex, held
/// for map operations only, never across `.await`.
#[derive(Clone)]
struct SegmentCache {
    state: Arc<Mutex<CacheState>>,
    budget: usize,
}

impl SegmentCache {
    fn new(budget: usize) -> SegmentCache {
        SegmentCache {
            state: Arc::new(Mutex::new(CacheState::default())),
            budget,
        }
    }

    fn lock(&self) -> MutexGuard<'_, CacheState> {
        lock(&self.state)
    }

    /// The body at `url`, from the cache, from a fetch already under way, or
    /// fetched now (by a task of its own, so a viewer who leaves does not
    /// cancel it for the others).
    async fn get(
        &self,
        client: &reqwest::Client,
        url: &str,
        timeout: Duration,
    ) -> Result<Cached, Failure> {
        let pending = {
            let mut st = self.lock();
            st.tick += 1;
            let tick = st.tick;
            match st.entries.get_mut(url) {
                Some(Entry::Ready { cached, used }) => {
                    *used = tick;
                    return Ok(cached.clone());
                }
                Some(Entry::Loading(pending)) => pending.clone(),
                None => {
                    st.fetches += 1;
                    let key: Arc<str> = Arc::from(url);
                    let task =
                        tokio::spawn(self.clone().load(client.clone(), key.clone(), timeout));
                    let pending = async move {
                        task.await.unwrap_or_else(|_| {
                            Err(Failure {
                                status: StatusCode::BAD_GATEWAY,
                                message: "the segment fetch failed",
                            })
                        })
                    }
                    .boxed()
                    .shared();
                    st.entries.insert(key, Entry::Loading(pending.clone()));
                    pending
                }
            }
        };
        pending.await
    }

    async fn load(
        self,
        client: reqwest::Client,
        url: Arc<str>,
        timeout: Duration,
    ) -> Result<Cached, Failure> {
        // A segment larger than a quarter of the budget is served but not kept.
        let max = (self.budget / 4).max(1 << 20);
        let result = fetch(&client, &url, timeout, max.max(32 << 20)).await;
        let mut st = self.lock();
        let cached = match result {
            Ok(f) => Cached {
                body: f.body,
                content_type: f.content_type.map(Arc::from),
            },
            Err(e) => {
                tracing::warn!(error = %e, "HLS segment fetch failed");
                st.entries.remove(&url);
                return Err(Failure::from(&e));
            }
        };
        if cached.body.len() > max {
            st.entries.remove(&url);
            return Ok(cached);
        }
        st.tick += 1;
        let used = st.tick;
        st.bytes += cached.body.len();
        st.entries.insert(
            url.clone(),
            Entry::Ready {
                cached: cached.clone(),
                used,
            },
        );
        while st.bytes > self.budget {
            let oldest = st
                .entries
                .iter()
                .filter_map(|(k, e)| match e {
                    Entry::Ready { used, .. } if **k != *url => Some((*used, k.clone())),
                    _ => None,
                })
                .min_by_key(|(used, _)| *used);
            let Some((_, k)) = oldest else { break };
            if let Some(Entry::Ready { cached, .. }) = st.entries.remove(&k) {
                st.bytes -= cached.body.len();
            }
        }
        Ok(cached)
    }
}

// ---------------------------------------------------------------------------
// Playlists
// ---------------------------------------------------------------------------

/// The idle window for a playlist with this target duration.
pub(super) fn idle_window(app: &App, target_duration: Option<f64>) -> u32 {
    if app.settings.hls_idle_window_secs != 0 {
        return app.settings.hls_idle_window_secs;
    }
    match target_duration {
        Some(d) => ((3.0 * d).ceil() as u32).clamp(MIN_IDLE_SECS, MAX_IDLE_SECS),
        None => MAX_IDLE_SECS,
    }
}

/// File extension of a rewritten URI: players sniff it.
fn extension(kind: UriKind, url: &str) -> &'static str {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let ext = path
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match kind {
        UriKind::Variant | UriKind::Rendition => "m3u8",
        UriKind::Key => "key",
        _ => match ext.as_str() {
            "ts" => "ts",
            "aac" => "aac",
            "m4s" => "m4s",
            "mp4" => "mp4",
            "m4a" => "m4a",
            "vtt" | "webvtt" => "vtt",
            "mp3" => "mp3",
            _ if kind == UriKind::Segment => "ts",
            _ => "bin",
        },
    }
}

fn content_type_for(ext: &str) -> &'static str {
    match ext {
        "m3u8" => "application/vnd.apple.mpegurl",
        "ts" => "video/mp2t",
        "aac" => "audio/aac",
        "m4s" | "mp4" => "video/mp4",
        "m4a" => "audio/mp4",
        "mp3" => "audio/mpeg",
        "vtt" => "text/vtt",
        _ => "application/octet-stream",
    }
}

/// Who the rewritten URIs are for.
struct Viewer<'a> {
    base: &'a str,
    line: tvgate_core::ids::LineId,
    stream: StreamId,
    lease: LeaseId,
}

/// Fetches the playlist at `url` and rewrites it for `viewer`. Returns the
/// playlist and the idle window its target duration implies.
async fn fetch_rewritten(
    app: &App,
    viewer: &Viewer<'_>,
    url: &str,
) -> Result<(String, u32), Failure> {
    let fetched = fetch(
        &app.client_for_stream(viewer.stream),
        url,
        app.settings.upstream_timeout,
        MAX_PLAYLIST_BYTES,
    )
    .await
    .map_err(|e| {
        tracing::warn!(stream = viewer.stream.0, error = %e, "HLS playlist fetch failed");
        Failure::from(&e)
    })?;
    let text = String::from_utf8_lossy(&fetched.body);
    let not_hls = |_| Failure {
        status: StatusCode::BAD_GATEWAY,
        message: "the source did not send an HLS playlist",
    };
    // A finished playlist (`#EXT-X-ENDLIST`) is not reloaded: its last
    // segment's link must outlive the time it takes to play up to it.
    let (target_duration, playing_time) =
        match hls::parse(&text, &fetched.final_url).map_err(not_hls)? {
            Playlist::Media(m) => {
                let total: f64 = m.segments.iter().map(|s| s.duration).sum();
                let playing = if m.ended {
                    total.min(86_400.0) as i64
                } else {
                    0
                };
                (m.target_duration_secs(), playing)
            }
            Playlist::Master(_) => (None, 0),
        };
    let idle = idle_window(app, target_duration);
    let now = app.now();
    let token_ttl = i64::from(app.settings.hls_token_ttl_secs.max(1)) + playing_time;
    let mut targets = lock(&app.hls.targets);
    let rewritten = hls::rewrite(&text, &fetched.final_url, |uri| {
        let id = targets.intern(viewer.stream, uri.resolved, uri.kind, idle, now);
        let ttl = match uri.kind {
            UriKind::Variant | UriKind::Rendition => VARIANT_TOKEN_TTL_SECS,
            _ => token_ttl,
        };
        let token = app.hls.key.sign(&Claims {
            line: viewer.line,
            stream: viewer.stream,
            lease: viewer.lease,
            expires: now + ttl,
            target: id,
        });
        format!(
            "{}/hls/{token}/{id}.{}",
            viewer.base,
            extension(uri.kind, uri.resolved)
        )
    })
    .map_err(not_hls)?;
    Ok((rewritten, idle))
}

pub(super) fn playlist_response(text: String) -> Response {
    let mut r = Response::new(text.into());
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/vnd.apple.mpegurl"),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// Serves the HLS channel `stream` (source playlist at `upstream_url`) to an
/// authorized caller: takes or resumes an HLS slot, fetches the upstream
/// playlist and hands back a copy whose URIs carry tokens.
pub async fn serve_playlist(
    app: &App,
    caller: &Caller,
    line: &Line,
    stream: StreamId,
    upstream_url: &str,
) -> Response {
    // The window is known once the playlist is read; until then the lease
    // gets the longest one, so it cannot lapse during the fetch.
    let provisional = idle_window(app, None);
    let (lease, resumed) =
        match crate::slots::admit_lease(app, caller, line, stream, LeaseKind::Hls, provisional)
            .await
        {
            Ok(admitted) => admitted,
            Err(denial) => {
                return Refused::new(Face::Stream, denial, caller, &line.username).answer(app)
            }
        };
    let base = app.public_url_for(caller).base();
    let viewer = Viewer {
        base: &base,
        line: line.id,
        stream,
        lease,
    };
    match fetch_rewritten(app, &viewer, upstream_url).await {
        Ok((text, idle)) => {
            app.ledger.renew(lease, app.now(), idle).await;
            playlist_response(text)
        }
        Err(failure) => {
            // A fresh slot for a channel that cannot be watched is given back.
            if !resumed {
                app.ledger.end(lease).await;
            }
            failure.response()
        }
    }
}

/// The relay configuration for reading an HLS source as one TS stream
/// (`tvgate_relay::hls_source::hls_to_ts`), from the face settings.
pub fn ts_config(app: &App) -> HlsToTsConfig {
    HlsToTsConfig {
        fetch_timeout: app.settings.upstream_timeout,
        ..HlsToTsConfig::default()
    }
}

/// What every request through a signed link asks again: the line still
/// exists and the one decision still allows it the channel (the token
/// stands in for the password, not for the decision: a line disabled,
/// expired or restricted since its playlist was served stops here, on its
/// next segment), and its lease is renewed for `idle` seconds (`410` when
/// it has ended meanwhile).
pub(super) async fn recheck(
    app: &App,
    caller: &Caller,
    claims: &Claims,
    idle: u32,
) -> Result<(), Response> {
    let Some(line) = app.gate.line(claims.line) else {
        return Err(plain(StatusCode::FORBIDDEN, "invalid or expired link"));
    };
    let catalog = app.gate.catalog();
    let ask = Ask {
        face: Face::Stream,
        output: Some(OutputFormat::M3u8),
        item_category: catalog
            .stream(claims.stream)
            .map(|r| catalog.stream_category(r)),
    };
    drop(catalog);
    if let Err(refused) = access::decide_proven(app, caller, &line, ask) {
        return Err(refused.answer(app));
    }
    if !app.ledger.renew(claims.lease, app.now(), idle).await {
        return Err(plain(
            StatusCode::GONE,
            "this viewing session has ended (another connection took its place, or it was idle too long); open the channel again",
        ));
    }
    Ok(())
}

/// `GET /hls/{token}/{file}`: a segment, key, init section or variant
/// playlist of a proxied HLS channel, or a segment of a live playlist cut
/// here ([`super::segmented`]).
pub async fn hls_file(
    State(app): State<App>,
    caller: Caller,
    Path((token, file)): Path<(String, String)>,
) -> Response {
    let now = app.now();
    // One answer for every kind of bad token: nothing to learn from it.
    let Ok(claims) = app.hls.key.verify(&token, now) else {
        return plain(StatusCode::FORBIDDEN, "invalid or expired link");
    };
    // Segments of a live playlist cut here, not upstream URLs.
    if let Some(run) = super::segmented::run_of(claims.target) {
        return super::segmented::serve_segment(&app, &caller, &claims, run, &file).await;
    }
    let target = {
        let mut targets = lock(&app.hls.targets);
        targets.by_id.get_mut(&claims.target).map(|t| {
            t.used = now;
            (t.url.clone(), t.kind, t.stream, t.idle_secs)
        })
    };
    let Some((url, kind, stream, idle)) = target.filter(|t| t.2 == claims.stream) else {
        return plain(
            StatusCode::GONE,
            "this part of the stream is no longer available",
        );
    };
    if let Err(stop) = recheck(&app, &caller, &claims, idle).await {
        return stop;
    }
    match kind {
        UriKind::Variant | UriKind::Rendition => {
            let base = app.public_url_for(&caller).base();
            let viewer = Viewer {
                base: &base,
                line: claims.line,
                stream,
                lease: claims.lease,
            };
            match fetch_rewritten(&app, &viewer, &url).await {
                Ok((text, idle)) => {
                    app.ledger.renew(claims.lease, app.now(), idle).await;
                    playlist_response(text)
                }
                Err(f) => f.response(),
            }
        }
        _ => match app
            .hls
            .cache
            .get(
                &app.client_for_stream(stream),
                &url,
                app.settings.upstream_timeout,
            )
            .await
        {
            Ok(cached) => {
                let ext = file.rsplit_once('.').map_or("", |(_, e)| e);
                let content_type = cached
                    .content_type
                    .as_deref()
                    .and_then(|c| HeaderValue::from_str(c).ok())
                    .unwrap_or_else(|| HeaderValue::from_static(content_type_for(ext)));
                let mut r = Response::new(cached.body.into());
                r.headers_mut().insert(header::CONTENT_TYPE, content_type);
                r
            }
            Err(f) => f.response(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_follow_the_kind_and_the_upstream_path() {
        assert_eq!(
            extension(UriKind::Segment, "http://u/a/seg1.TS?x=1.m3u8"),
            "ts"
        );
        assert_eq!(extension(UriKind::Segment, "http://u/a/seg1"), "ts");
        assert_eq!(extension(UriKind::Segment, "http://u/a/s.aac"), "aac");
        assert_eq!(extension(UriKind::Map, "http://u/init.mp4"), "mp4");
        assert_eq!(extension(UriKind::Map, "http://u/init"), "bin");
        assert_eq!(extension(UriKind::Key, "http://u/k.php?id=1"), "key");
        assert_eq!(extension(UriKind::Variant, "http://u/v.php"), "m3u8");
    }

    #[test]
    fn targets_are_shared_per_stream_and_bounded() {
        let mut t = Targets::default();
        let a = t.intern(StreamId(1), "http://u/s1.ts", UriKind::Segment, 12, 100);
        assert_eq!(
            t.intern(StreamId(1), "http://u/s1.ts", UriKind::Segment, 12, 101),
            a
        );
        assert_ne!(
            t.intern(StreamId(2), "http://u/s1.ts", UriKind::Segment, 12, 101),
            a
        );
        for i in 0..MAX_TARGETS as i64 {
            t.intern(
                StreamId(3),
                &format!("http://u/{i}.ts"),
                UriKind::Segment,
                12,
                200 + i,
            );
        }
        assert!(t.by_id.len() <= MAX_TARGETS);
        assert_eq!(t.by_id.len(), t.by_url.len());
        assert!(
            !t.by_id.contains_key(&a),
            "the least recently used went first"
        );
    }
}
