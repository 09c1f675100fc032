//! What a Stalker client reads back: the `{"js": ...}` JSON envelope, the
//! three bare-text refusals whose exact bodies clients compare against
//! (protocols.md §3.1): the stock portal JS and Kodi's pvr.stalker
//! re-authenticate only on the exact body `Authorization failed.`, so these
//! strings are part of the protocol and must not be reworded; and the
//! shapes of a refused profile and a refused channel link.
//!
//! It sits in the floor because refusals are answered here
//! ([`super::Refused`]); the portal's own answers (`crate::stalker`) use
//! the same envelope.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

/// A bad, missing or expired token: the client handshakes again.
pub const AUTHORIZATION_FAILED: &str = "Authorization failed.";
/// A line that may not be served (disabled, banned, expired).
pub const ACCESS_DENIED: &str = "Access denied.";
/// A request without the box's `mac` cookie.
pub const UNAUTHORIZED_REQUEST: &str = "Unauthorized request.";

/// `200 {"js": payload}` as `application/json`.
pub fn js(payload: Value) -> Response {
    let body = serde_json::json!({ "js": payload }).to_string();
    let mut r = Response::new(body.into());
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// One of the bare-text refusals, with HTTP 200 as real portals send them.
pub fn text(body: &'static str) -> Response {
    let mut r = Response::new(body.into());
    *r.status_mut() = StatusCode::OK;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

/// A small static JavaScript file (`/c/version.js`, `/c/xpcom.common.js`).
pub fn javascript(body: &'static str) -> Response {
    let mut r = Response::new(body.into());
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/javascript; charset=utf-8"),
    );
    r
}

/// `stb get_profile` for a box that may not watch: status 1 and why, as
/// the stock UI shows it (also the answer to an unknown MAC).
pub fn refused_profile(msg: &str) -> Value {
    json!({
        "id": null, "name": "", "status": 1, "msg": msg, "block_msg": msg,
        "watchdog_timeout": 120, "timeslot": 60, "store_auth_data_on_stb": false,
    })
}

/// `itv create_link` for a channel the line may not watch: no link.
pub fn refused_link(channel: u32) -> Value {
    json!({"id": channel, "cmd": "", "error": "access_denied"})
}
