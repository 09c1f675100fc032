//! Movies and episodes from an HTTP source, proxied rather than redirected:
//! the source URL (which often carries the provider's own credentials) stays
//! private, and the viewer holds a connection slot for exactly as long as
//! the download runs.
//!
//! Players seek in a film by asking for byte ranges, and many probe it with
//! HEAD first; both go to the source as they came (HEAD as HEAD, `Range`
//! and the conditional headers as given), and its answer comes back with
//! the headers that make seeking work (`206`, `Content-Range`,
//! `Accept-Ranges`). The body streams through in the chunks the source
//! sends, never held whole. Whatever the source does wrong (unreachable,
//! slow, an error status) the player gets a 502 with a short reason.

use super::plain;
use crate::access::Caller;
use crate::answer::{Face, Refused};
use crate::slots::{self, LeaseGuard};
use crate::state::App;
use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use futures::stream::{self, StreamExt};
use std::time::Duration;
use tvgate_core::access::Line;
use tvgate_core::ids::StreamId;
use tvgate_core::ledger::LeaseKind;
use tvgate_relay::SourcePermit;

/// Request headers passed on to the source: what seeking and revalidation
/// need, nothing that identifies the viewer.
const FORWARDED: [HeaderName; 4] = [
    header::RANGE,
    header::IF_RANGE,
    header::IF_NONE_MATCH,
    header::IF_MODIFIED_SINCE,
];

/// Response headers passed back to the player.
const RELAYED: [HeaderName; 6] = [
    header::CONTENT_TYPE,
    header::CONTENT_LENGTH,
    header::CONTENT_RANGE,
    header::ACCEPT_RANGES,
    header::ETAG,
    header::LAST_MODIFIED,
];

/// How long the source may take to start answering.
const ANSWER_WAIT: Duration = Duration::from_secs(15);

/// How long the source may go silent in the middle of a body before the
/// download is abandoned (the player sees the transfer cut, not a clean end).
const IDLE_LIMIT: Duration = Duration::from_secs(30);

/// Serves an authorized movie or episode: a GET takes a `Vod` connection
/// slot (refused as any stream is when the line is full) and is proxied; a
/// HEAD moves no video, so it is proxied without a slot and can neither be
/// refused by the limit nor end another connection.
#[allow(clippy::too_many_arguments)]
pub async fn serve(
    app: &App,
    caller: &Caller,
    line: &Line,
    stream: StreamId,
    username: &str,
    method: &Method,
    headers: &HeaderMap,
    upstream_url: &str,
) -> Response {
    if method == Method::HEAD {
        return head(app, stream, headers, upstream_url).await;
    }
    match slots::admit(app, caller, line, stream, LeaseKind::Vod).await {
        Ok(guard) => proxy(app, stream, method, headers, guard, upstream_url).await,
        // A film is never answered with a slate: the player would keep
        // three seconds of it as the film's length and resume point.
        Err(denial) => Refused::new(Face::Stream, denial, caller, username).answer(app),
    }
}

/// Proxies GET or HEAD to `upstream_url` on `guard`'s slot. The slot is
/// held by the response body and freed when the player disconnects or the
/// body ends; answers without a body (HEAD, 304, 416, errors) free it on
/// return.
pub async fn proxy(
    app: &App,
    stream: StreamId,
    method: &Method,
    headers: &HeaderMap,
    guard: LeaseGuard,
    upstream_url: &str,
) -> Response {
    forward(
        app,
        stream,
        method,
        headers,
        Some(guard),
        upstream_url,
        None,
    )
    .await
}

/// [`proxy`], also holding `permit` (a connection counted against the
/// source's cap) for as long as the body runs: a catch-up view is one
/// more connection to the provider, as a live channel's upstream is.
pub async fn proxy_holding(
    app: &App,
    stream: StreamId,
    method: &Method,
    headers: &HeaderMap,
    guard: LeaseGuard,
    upstream_url: &str,
    permit: SourcePermit,
) -> Response {
    forward(
        app,
        stream,
        method,
        headers,
        Some(guard),
        upstream_url,
        Some(permit),
    )
    .await
}

/// HEAD of a proxied file: no slot, no permit (no video moves).
pub async fn head(
    app: &App,
    stream: StreamId,
    headers: &HeaderMap,
    upstream_url: &str,
) -> Response {
    forward(
        app,
        stream,
        &Method::HEAD,
        headers,
        None,
        upstream_url,
        None,
    )
    .await
}

/// The request goes with the stream's source's identity (its user agent
/// and headers, `App::client_for_stream`).
async fn forward(
    app: &App,
    stream: StreamId,
    method: &Method,
    headers: &HeaderMap,
    guard: Option<LeaseGuard>,
    upstream_url: &str,
    permit: Option<SourcePermit>,
) -> Response {
    let head = *method == Method::HEAD;
    if !head && *method != Method::GET {
        let mut r = plain(StatusCode::METHOD_NOT_ALLOWED, "use GET or HEAD");
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let mut request = app
        .client_for_stream(stream)
        .request(method.clone(), upstream_url)
        // The bytes as stored: a compressed answer would change the length
        // and the ranges the player asked for.
        .header(header::ACCEPT_ENCODING, "identity");
    for name in FORWARDED {
        for value in headers.get_all(&name) {
            request = request.header(name.clone(), value.clone());
        }
    }
    let upstream = match tokio::time::timeout(ANSWER_WAIT, request.send()).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(e)) => {
            // Never log the URL: it may hold the provider's credentials.
            tracing::info!(error = %e.without_url(), "video source unreachable");
            return plain(
                StatusCode::BAD_GATEWAY,
                "the source of this video cannot be reached",
            );
        }
        Err(_) => {
            tracing::info!("video source did not answer in time");
            return plain(
                StatusCode::BAD_GATEWAY,
                "the source of this video did not answer in time",
            );
        }
    };
    let status = upstream.status();
    if !matches!(status.as_u16(), 200 | 206 | 304 | 416) {
        tracing::info!(status = status.as_u16(), "video source refused");
        return plain(
            StatusCode::BAD_GATEWAY,
            &format!("the source of this video answered HTTP {}", status.as_u16()),
        );
    }
    let has_body = !head && matches!(status.as_u16(), 200 | 206);
    let mut r = Response::new(Body::empty());
    *r.status_mut() = status;
    for name in RELAYED {
        // Without a body the length is the representation's; say it only
        // where HTTP means it that way (HEAD).
        if name == header::CONTENT_LENGTH && !has_body && !head {
            continue;
        }
        for value in upstream.headers().get_all(&name) {
            r.headers_mut().append(name.clone(), value.clone());
        }
    }
    let Some(guard) = guard.filter(|_| has_body) else {
        return r;
    };
    let body = relay_body(upstream);
    let body = match permit {
        // The permit lives as long as the body is read.
        Some(held) => body
            .map(move |chunk| {
                let _held = &held;
                chunk
            })
            .boxed(),
        None => body,
    };
    let body = slots::leased(app, guard, body);
    *r.body_mut() = Body::from_stream(body);
    r
}

/// The source's body as it arrives; a failure or a silence longer than
/// [`IDLE_LIMIT`] ends it with an error, so the player's connection is cut
/// rather than ended as if the file were complete.
fn relay_body(
    upstream: reqwest::Response,
) -> futures::stream::BoxStream<'static, Result<Bytes, std::io::Error>> {
    let chunks = upstream.bytes_stream();
    stream::unfold(Some(chunks), |chunks| async move {
        let mut chunks = chunks?;
        match tokio::time::timeout(IDLE_LIMIT, chunks.next()).await {
            Ok(Some(Ok(bytes))) => Some((Ok(bytes), Some(chunks))),
            Ok(None) => None,
            Ok(Some(Err(e))) => {
                let e = e.without_url();
                tracing::info!(error = %e, "video source failed mid-file");
                Some((Err(std::io::Error::other(e)), None))
            }
            Err(_) => {
                tracing::info!("video source went silent mid-file");
                let e = std::io::Error::new(std::io::ErrorKind::TimedOut, "video source silent");
                Some((Err(e), None))
            }
        }
    })
    .boxed()
}
