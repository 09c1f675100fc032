//! `/api/v1/lines/...` beyond one line's fields: CSV import and export,
//! bulk creation and a line's device policy. Same parsing conventions as
//! [`super::api`] (a 400 naming the field), same shared code as the console
//! ([`super::lines`]).

use super::api::{find_line, object, ok, ApiResult, Fields};
use super::lines;
use super::ApiError;
use super::Operator;
use crate::present::line::device_policy_json;
use crate::state::App;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde_json::{json, Value};
use tvgate_core::access::device::{Enrolment, IpRange};
use tvgate_core::gate::{BulkSpec, DevicePolicyPatch, MAX_BULK};

/// `POST /api/v1/lines/import` (body: the CSV, `text/csv`).
pub(super) async fn import(
    State(app): State<App>,
    _op: Operator,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let kind = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("text/csv")
        .to_ascii_lowercase();
    if !(kind.starts_with("text/csv") || kind.starts_with("text/plain")) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the CSV itself as the body with Content-Type: text/csv",
        ));
    }
    if body.is_empty() {
        return Err(ApiError::bad_request(
            "the body must be a CSV with a header row",
        ));
    }
    let report = lines::import_csv(&app, &body).await?;
    ok(json!({
        "created": report.counts.created,
        "updated": report.counts.updated,
        "errors": report.errors.iter().map(|e| json!({"line": e.line, "message": e.message})).collect::<Vec<_>>(),
        "generated": report.generated.iter().map(|(u, p)| json!({"username": u, "password": p})).collect::<Vec<_>>(),
    }))
}

/// `GET /api/v1/lines/export`: every line as CSV, never a password.
pub(super) async fn export(State(app): State<App>, _op: Operator) -> ApiResult {
    let csv = lines::export_csv(&app)?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"lines.csv\"",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        csv,
    )
        .into_response())
}

/// `POST /api/v1/lines/bulk`: `{count, prefix, days?|expires_at?,
/// max_connections?, is_trial?, note?}` → 201 `{items: [{username,
/// password}]}`.
pub(super) async fn bulk(State(app): State<App>, _op: Operator, body: Bytes) -> ApiResult {
    let mut f = Fields(object(&body)?);
    let count = f
        .u32("count")?
        .filter(|n| (1..=MAX_BULK).contains(n))
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "count is required: a whole number from 1 to {MAX_BULK}"
            ))
        })?;
    let prefix = f
        .string("prefix")?
        .filter(|p| !p.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request("prefix is required (e.g. \"hotel-\")"))?;
    let days = f.u32("days")?;
    let expires_at = f.expiry("expires_at")?;
    let expires_at = match (days, expires_at) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request("give days or expires_at, not both"))
        }
        (Some(d), None) if (1..=36_500).contains(&d) => Some(app.now() + i64::from(d) * 86_400),
        (Some(_), None) => {
            return Err(ApiError::bad_request(
                "days must be a whole number from 1 to 36500",
            ))
        }
        (None, e) => e.flatten(),
    };
    let spec = BulkSpec {
        count,
        prefix,
        expires_at,
        max_connections: f.u32("max_connections")?.unwrap_or(1),
        is_trial: f.bool("is_trial")?.unwrap_or(false),
        note: f.note()?.unwrap_or_default(),
    };
    f.finish()?;
    let made = lines::bulk(&app, spec).await?;
    let items: Vec<Value> = made
        .iter()
        .map(|(u, p)| json!({"username": u, "password": p}))
        .collect();
    Ok((StatusCode::CREATED, Json(json!({ "items": items }))).into_response())
}

/// `PUT /api/v1/lines/{name}/device-policy`: `{limit?, enrolment?,
/// ip_lock?}`; absent fields are kept (`Gate::set_device_policy`).
pub(super) async fn device_policy(
    State(app): State<App>,
    _op: Operator,
    Path(name): Path<String>,
    body: Bytes,
) -> ApiResult {
    find_line(&app, &name)?;
    let mut f = Fields(object(&body)?);
    let limit = f.u32("limit")?;
    let enrolment = f
        .string("enrolment")?
        .map(|e| {
            Enrolment::parse(&e)
                .ok_or_else(|| ApiError::bad_request("enrolment must be auto or operator"))
        })
        .transpose()?;
    let ip_lock = match f.take("ip_lock") {
        None => None,
        Some(Value::Null) => Some(Vec::new()),
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .map(|v| {
                    v.as_str()
                        .ok_or_else(|| {
                            ApiError::bad_request("ip_lock must be an array of addresses or ranges")
                        })
                        .and_then(|s| {
                            IpRange::parse(s)
                                .map_err(|e| ApiError::bad_request(format!("ip_lock: {e}")))
                        })
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Some(_) => {
            return Err(ApiError::bad_request(
                "ip_lock must be an array of addresses or ranges (or null)",
            ))
        }
    };
    f.finish()?;
    let patch = DevicePolicyPatch {
        limit,
        enrolment,
        ip_lock,
    };
    if patch.is_empty() {
        return Err(ApiError::bad_request(
            "nothing to change: give limit, enrolment or ip_lock",
        ));
    }
    let binding = app.gate.set_device_policy(&name, patch, app.now()).await?;
    ok(device_policy_json(Some(&binding)))
}
