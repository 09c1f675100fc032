//! How the Xtream API (`player_api.php`, `panel_api.php`) answers: JSON
//! with its content type, and the answers to a login whose credentials
//! were not proven (protocols.md §1.2.2), which differ between real panels,
//! so the operator chooses (`failed_login_response`).

use crate::state::{FailedLoginStyle, HttpSettings};
use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use tvgate_core::access::{Denial, Line, Status};
use tvgate_core::UnixTime;

/// `Content-Type` of every JSON answer.
pub const JSON: HeaderValue = HeaderValue::from_static("application/json; charset=utf-8");

/// A JSON answer.
pub fn json(status: StatusCode, body: impl Into<Body>) -> Response {
    let mut r = Response::new(body.into());
    *r.status_mut() = status;
    r.headers_mut().insert(header::CONTENT_TYPE, JSON);
    r
}

/// The answer to unknown users and wrong passwords: the same bytes for both.
pub const FAILED_LOGIN_BODY: &[u8] = br#"{"user_info":{"auth":0}}"#;

/// The answer to a caller over the failure budget.
pub fn rate_limited_body(retry_after_secs: u32) -> Vec<u8> {
    format!(
        r#"{{"user_info":{{"auth":0}},"tvgate":{{"reason":"rate_limited","message":"Too many failed logins; try again in {retry_after_secs} seconds"}}}}"#
    )
    .into_bytes()
}

const NOT_FOUND_PAGE: &str = "<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found</h1></center>\r\n</body>\r\n</html>\r\n";

/// The answer to a caller whose credentials were not proven: 429 with
/// `Retry-After` over the failure budget, else `auth: 0` as the
/// `failed_login_response` setting says.
pub fn failed_login(settings: &HttpSettings, denial: &Denial) -> Response {
    if let Denial::RateLimited { retry_after_secs } = denial {
        let mut r = json(
            StatusCode::TOO_MANY_REQUESTS,
            rate_limited_body(*retry_after_secs),
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
        return r;
    }
    match settings.failed_login {
        FailedLoginStyle::Xtream => json(StatusCode::OK, FAILED_LOGIN_BODY),
        FailedLoginStyle::Unauthorized => json(StatusCode::UNAUTHORIZED, FAILED_LOGIN_BODY),
        FailedLoginStyle::Forbidden => json(StatusCode::FORBIDDEN, FAILED_LOGIN_BODY),
        FailedLoginStyle::NotFound => {
            let mut r = Response::new(Body::from(NOT_FOUND_PAGE));
            *r.status_mut() = StatusCode::NOT_FOUND;
            r.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
            r
        }
    }
}

/// The status word players read in `user_info.status` (and the portal
/// shows), consistent with the expiry: a line whose date has passed says
/// `Expired` even if the operator left it active. `denial` is the reason a
/// proven line is refused, if it is.
pub fn status_word(line: &Line, denial: Option<&Denial>, now: UnixTime) -> &'static str {
    match denial {
        Some(Denial::Banned) => "Banned",
        Some(Denial::Disabled) => "Disabled",
        Some(Denial::Expired { .. }) => "Expired",
        // Not a status of the line, but players only proceed on `Active`.
        Some(Denial::DeviceNotRegistered { .. }) => "Disabled",
        _ => match line.status {
            Status::Banned => "Banned",
            Status::Disabled => "Disabled",
            Status::Active if line.is_expired(now) => "Expired",
            Status::Active => "Active",
        },
    }
}
