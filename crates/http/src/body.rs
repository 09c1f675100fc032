//! Streamed response bodies: large lists are rendered chunk by chunk while
//! the socket drains, never built whole in memory.

use axum::body::Body;
use bytes::Bytes;

/// Bytes rendered per chunk before it is handed to the socket.
pub const CHUNK: usize = 256 * 1024;

/// A body produced by `fill`, called repeatedly with an empty buffer; it
/// appends up to about [`CHUNK`] bytes and returns `true` while more remains.
pub fn chunked<F>(fill: F) -> Body
where
    F: FnMut(&mut Vec<u8>) -> bool + Send + 'static,
{
    let stream = futures::stream::unfold(Some(fill), |state| async move {
        let mut fill = state?;
        let mut buf = Vec::with_capacity(CHUNK + 4096);
        let more = fill(&mut buf);
        Some((
            Ok::<Bytes, std::convert::Infallible>(Bytes::from(buf)),
            more.then_some(fill),
        ))
    });
    Body::from_stream(stream)
}
