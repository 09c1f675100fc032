//! A built-in file (the demo's movie and episodes) served as a file server
//! serves one: `Accept-Ranges`, a single byte range as `206` with
//! `Content-Range`, `416` for a range past the end, and HEAD with the
//! length and no body. Players seek in a film by asking for a range; without
//! these answers they cannot seek, and some (Kodi, the system players) show
//! no duration at all.
//!
//! A GET takes a `Vod` connection slot like a proxied movie, held while the
//! body is read and freed when the player goes; a HEAD moves no video and
//! takes none. A request for several ranges gets the whole file (`200`),
//! which RFC 9110 allows and every player handles; a `Range` header that
//! does not parse is ignored the same way.

use super::plain;
use crate::access::Caller;
use crate::answer::{Face, Refused};
use crate::slots;
use crate::state::App;
use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use futures::stream::{self, StreamExt};
use std::ops::RangeInclusive;
use tvgate_core::access::Line;
use tvgate_core::ids::StreamId;
use tvgate_core::ledger::LeaseKind;

/// Size of the pieces the body is handed to the socket in: small enough
/// that the slot's lease follows the player's reading, large enough to cost
/// nothing.
const PIECE: usize = 64 * 1024;

/// What a request's `Range` header asks of a file of a known length.
#[derive(Debug, PartialEq, Eq)]
pub enum Want {
    /// No range, several ranges, or a header that does not parse: the
    /// whole file.
    Whole,
    /// One satisfiable range (inclusive bounds).
    Part(RangeInclusive<u64>),
    /// A range that starts past the end.
    Unsatisfiable,
}

/// Reads `headers`' `Range` against a file of `len` bytes.
pub fn want(headers: &HeaderMap, len: u64) -> Want {
    let Some(value) = headers.get(header::RANGE) else {
        return Want::Whole;
    };
    let Ok(text) = value.to_str() else {
        return Want::Whole;
    };
    let Ok(parsed) = http_range_header::parse_range_header(text) else {
        return Want::Whole;
    };
    match parsed.validate(len) {
        Ok(ranges) if ranges.len() == 1 => Want::Part(ranges[0].clone()),
        Ok(_) => Want::Whole,
        Err(_) => Want::Unsatisfiable,
    }
}

/// Serves `bytes` (an authorized built-in file) for `method` and `headers`.
#[allow(clippy::too_many_arguments)]
pub async fn serve(
    app: &App,
    caller: &Caller,
    line: &Line,
    stream: StreamId,
    username: &str,
    method: &Method,
    headers: &HeaderMap,
    bytes: Bytes,
) -> Response {
    let head = *method == Method::HEAD;
    if !head && *method != Method::GET {
        let mut r = plain(StatusCode::METHOD_NOT_ALLOWED, "use GET or HEAD");
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let len = bytes.len() as u64;
    let (status, start, part) = match want(headers, len) {
        Want::Whole => (StatusCode::OK, 0, bytes),
        Want::Part(range) => {
            // validate() keeps both bounds inside the file.
            let (start, end) = (*range.start(), *range.end());
            let part = bytes.slice(start as usize..=end as usize);
            (StatusCode::PARTIAL_CONTENT, start, part)
        }
        Want::Unsatisfiable => return unsatisfiable(len),
    };
    let mut r = Response::new(Body::empty());
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("video/mp2t"));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(part.len() as u64));
    if status == StatusCode::PARTIAL_CONTENT {
        let value = format!("bytes {start}-{}/{len}", start + part.len() as u64 - 1);
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(header::CONTENT_RANGE, v);
        }
    }
    if head {
        return r;
    }
    match slots::admit(app, caller, line, stream, LeaseKind::Vod).await {
        Ok(guard) => {
            let pieces = stream::iter(
                (0..part.len())
                    .step_by(PIECE)
                    .map(move |at| part.slice(at..part.len().min(at + PIECE)))
                    .collect::<Vec<_>>(),
            )
            .boxed();
            let body = slots::leased(app, guard, pieces)
                .map(Ok::<Bytes, std::convert::Infallible>)
                .boxed();
            *r.body_mut() = Body::from_stream(body);
            r
        }
        Err(denial) => Refused::new(Face::Stream, denial, caller, username).answer(app),
    }
}

/// `416` with the file's length, as RFC 9110 asks.
fn unsatisfiable(len: u64) -> Response {
    let mut r = plain(
        StatusCode::RANGE_NOT_SATISFIABLE,
        "the range starts past the end of the file",
    );
    if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
        r.headers_mut().insert(header::CONTENT_RANGE, v);
    }
    r.headers_mut()
        .insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::RANGE, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn reads_the_forms_players_send() {
        assert_eq!(want(&HeaderMap::new(), 100), Want::Whole);
        assert_eq!(want(&range("bytes=0-"), 100), Want::Part(0..=99));
        assert_eq!(want(&range("bytes=10-19"), 100), Want::Part(10..=19));
        assert_eq!(want(&range("bytes=-10"), 100), Want::Part(90..=99));
        assert_eq!(want(&range("bytes=90-500"), 100), Want::Part(90..=99));
        assert_eq!(want(&range("bytes=100-"), 100), Want::Unsatisfiable);
        assert_eq!(want(&range("bytes=0-1,5-6"), 100), Want::Whole);
        assert_eq!(want(&range("pages=1-2"), 100), Want::Whole);
        assert_eq!(want(&range("bytes=oops"), 100), Want::Whole);
    }
}
