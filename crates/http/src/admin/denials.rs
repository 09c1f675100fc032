//! The denial log for operators: one reading of the filter (`reason`,
//! `line`, `ip`, `since`, `until`, `before`, `limit`) shared by the console's
//! denials page and `GET /api/v1/denials`, so the two accept exactly the
//! same input and say the same thing about bad input; and the API's
//! handler. Both read through `crate::refusals::page` (every refusal
//! recorded before the request is in the answer).

use super::ApiError;
use super::Operator;
use crate::params::{Params, QueryParams};
use crate::state::App;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use tvgate_core::access::refusal::{LoggedRefusal, RefusalFilter, PAGE_MAX};
use tvgate_core::UnixTime;

/// Refusals on a page unless `limit` says otherwise.
pub const DEFAULT_LIMIT: u32 = 100;

/// The filter a query asks for; `Err` names the field that is wrong.
/// Absent and empty values filter nothing (a console form sends empty
/// fields).
pub fn parse_filter(query: &Params) -> Result<RefusalFilter, String> {
    let get = |name: &str| query.last_filled(name);
    let time = |name: &str| -> Result<Option<UnixTime>, String> {
        get(name)
            .map(|v| {
                v.parse::<UnixTime>()
                    .map_err(|_| format!("{name} must be a Unix time in seconds"))
            })
            .transpose()
    };
    let reason = match get("reason") {
        Some(code) => {
            tvgate_core::gate::check_reason(code).map_err(|e| e.to_string())?;
            Some(code.to_string())
        }
        None => None,
    };
    let ip = get("ip")
        .map(|v| {
            v.parse::<std::net::IpAddr>()
                .map_err(|_| format!("ip must be an IPv4 or IPv6 address, not {v:?}"))
        })
        .transpose()?;
    let before = get("before")
        .map(|v| {
            v.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                "before must be a refusal id (the next_before of a page)".to_string()
            })
        })
        .transpose()?;
    let limit = match get("limit") {
        None => DEFAULT_LIMIT,
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=PAGE_MAX).contains(n))
            .ok_or_else(|| format!("limit must be a whole number from 1 to {PAGE_MAX}"))?,
    };
    Ok(RefusalFilter {
        reason,
        line: None,
        username: get("line").map(str::to_string),
        ip,
        since: time("since")?,
        until: time("until")?,
        before,
        limit,
    })
}

/// One refusal as the API writes it: `line` is the line's username when
/// the refusal was recorded under a line that still exists, else `null`;
/// `username` is what the caller presented.
fn item_json(app: &App, r: &LoggedRefusal) -> Value {
    let line = r
        .refusal
        .line
        .and_then(|id| app.gate.line(id))
        .map(|a| a.username.to_string());
    json!({
        "id": r.id,
        "at": r.refusal.at,
        "reason": r.refusal.reason,
        "text": r.refusal.text,
        "line": line,
        "username": r.refusal.username,
        "ip": r.refusal.ip.to_string(),
        "face": r.refusal.face,
    })
}

/// `GET /api/v1/denials`: a page of the log, newest first.
pub async fn list_denials(
    State(app): State<App>,
    _op: Operator,
    QueryParams(query): QueryParams,
) -> Result<Response, ApiError> {
    let filter = parse_filter(&query).map_err(ApiError::bad_request)?;
    let page = crate::refusals::page(&app, filter).await?;
    let items: Vec<Value> = page.items.iter().map(|r| item_json(&app, r)).collect();
    Ok(Json(json!({"items": items, "next_before": page.next_before})).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(q: &str) -> Params {
        Params::from_query(Some(q))
    }

    #[test]
    fn every_field_is_read_and_empty_ones_filter_nothing() {
        let f = parse_filter(&pairs(
            "reason=expired&line=Dora&ip=10.0.0.1&since=5&until=9&before=77&limit=3",
        ))
        .expect("valid");
        assert_eq!(f.reason.as_deref(), Some("expired"));
        assert_eq!(f.username.as_deref(), Some("Dora"));
        assert_eq!(f.ip, Some([10, 0, 0, 1].into()));
        assert_eq!(
            (f.since, f.until, f.before, f.limit),
            (Some(5), Some(9), Some(77), 3)
        );
        let empty = parse_filter(&pairs("reason=&line=&ip=")).expect("valid");
        assert_eq!(
            empty,
            RefusalFilter {
                limit: DEFAULT_LIMIT,
                ..Default::default()
            }
        );
    }

    #[test]
    fn bad_input_names_the_field() {
        for (q, field) in [
            ("reason=nope", "expired"),
            ("ip=10.0.0", "ip"),
            ("since=yesterday", "since"),
            ("until=1.5", "until"),
            ("before=-1", "before"),
            ("limit=0", "limit"),
            ("limit=1001", "limit"),
        ] {
            let e = parse_filter(&pairs(q)).expect_err(q);
            assert!(e.contains(field), "{q}: {e}");
        }
    }
}
