//! `/api/v1/`: the JSON admin API (docs/admin-api.md), authenticated by an
//! API token (`Authorization: Bearer TOKEN`, made with `tvgate admin
//! token`).
//!
//! Bodies and queries are parsed here by hand into the gate's own types, so
//! every bad input gets a 400 naming the field (never an extractor's plain
//! text rejection), and every change goes through the gate method the CLI
//! uses. [`routes`] is the single list of what is served; the OpenAPI
//! document is checked against it in a test.

use super::ApiError;
use super::{api_lines, lines, Operator};
use crate::params::{Params, QueryParams};
use crate::present::line;
use crate::slots;
use crate::state::App;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post, put, MethodRouter};
use axum::Json;
use serde_json::{json, Map, Value};
use tvgate_core::access::{Line, LinePatch, OutputFormat, OutputFormats, Status};
use tvgate_core::gate::LineSpec;
use tvgate_core::ids::DeviceId;
use tvgate_core::ledger::{LeaseId, LeaseKind, LimitPolicy};

pub(super) type ApiResult = Result<Response, ApiError>;

/// Every route of the API: (method, path, handler). The router and the
/// OpenAPI test both read this list.
pub fn routes() -> Vec<(Method, &'static str, MethodRouter<App>)> {
    vec![
        (Method::GET, "/api/v1/lines", get(list_lines)),
        (Method::POST, "/api/v1/lines", post(create_line)),
        // Lines in bulk and a line's device rules (api_lines.rs).
        (
            Method::POST,
            "/api/v1/lines/import",
            post(api_lines::import).layer(DefaultBodyLimit::max(lines::MAX_CSV_BYTES)),
        ),
        (Method::GET, "/api/v1/lines/export", get(api_lines::export)),
        (Method::POST, "/api/v1/lines/bulk", post(api_lines::bulk)),
        (
            Method::PUT,
            "/api/v1/lines/{name}/device-policy",
            put(api_lines::device_policy),
        ),
        // End of the bulk block.
        (Method::GET, "/api/v1/lines/{name}", get(show_line)),
        (Method::PATCH, "/api/v1/lines/{name}", patch(edit_line)),
        (Method::DELETE, "/api/v1/lines/{name}", delete(delete_line)),
        (
            Method::POST,
            "/api/v1/lines/{name}/extend",
            post(extend_line),
        ),
        (
            Method::GET,
            "/api/v1/lines/{name}/devices",
            get(list_devices),
        ),
        (
            Method::GET,
            "/api/v1/lines/{name}/timeline",
            get(line_timeline),
        ),
        (
            Method::POST,
            "/api/v1/lines/{name}/password",
            post(reset_password),
        ),
        (
            Method::GET,
            "/api/v1/lines/{name}/devices/audit",
            get(device_audit),
        ),
        (
            Method::POST,
            "/api/v1/lines/{name}/devices/reset",
            post(reset_devices),
        ),
        (
            Method::DELETE,
            "/api/v1/lines/{name}/devices/{id}",
            delete(remove_device),
        ),
        (Method::GET, "/api/v1/connections", get(list_connections)),
        (Method::GET, "/api/v1/relay", get(relay_now)),
        (Method::GET, "/api/v1/stats", get(stats)),
        (
            Method::DELETE,
            "/api/v1/connections/{id}",
            delete(end_connection),
        ),
        (
            Method::GET,
            "/api/v1/denials",
            get(super::denials::list_denials),
        ),
        (Method::GET, "/api/v1/openapi.json", get(openapi_json)),
    ]
    .into_iter()
    .chain(super::api_sources::routes())
    .collect()
}

/// Adds the API's routes (merging methods that share a path).
pub fn mount(mut router: axum::Router<App>) -> axum::Router<App> {
    let mut by_path: Vec<(&'static str, MethodRouter<App>)> = Vec::new();
    for (_, path, handler) in routes() {
        match by_path.iter_mut().find(|(p, _)| *p == path) {
            Some((_, existing)) => {
                let merged = std::mem::take(existing).merge(handler);
                *existing = merged;
            }
            None => by_path.push((path, handler)),
        }
    }
    for (path, handler) in by_path {
        router = router.route(path, handler);
    }
    router.route("/api/{*rest}", axum::routing::any(no_such_route))
}

async fn no_such_route() -> ApiError {
    ApiError::not_found("no such API route (see /api/v1/openapi.json)")
}

/// The operator behind a request that presented a live API token.
impl FromRequestParts<App> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, ApiError> {
        let presented = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, token) = v.trim().split_once(' ')?;
                scheme
                    .eq_ignore_ascii_case("bearer")
                    .then(|| token.trim().to_string())
            })
            .ok_or_else(ApiError::unauthorized)?;
        match app.gate.check_api_token(&presented).await? {
            Some(token) => Ok(Operator {
                admin: token.admin_name,
                token: Some(token.id),
            }),
            None => Err(ApiError::unauthorized()),
        }
    }
}

// ----- rendering -----

/// A line as the API shows it (`present::line`), with its connections now.
async fn line_json(app: &App, a: &Line) -> Value {
    let active = app.ledger.active(a.id, app.now()).await;
    line_json_with(app, a, active)
}

fn line_json_with(app: &App, a: &Line, active: u32) -> Value {
    line::line_json(a, Some(active), app.gate.binding(a.id).as_deref())
}

fn kind_str(kind: LeaseKind) -> &'static str {
    match kind {
        LeaseKind::LiveTs => "live_ts",
        LeaseKind::Hls => "hls",
        LeaseKind::Vod => "vod",
    }
}

fn connection_json(username: &str, c: &slots::Connection) -> Value {
    let l = &c.lease;
    json!({
        "id": l.id.0,
        "line": username,
        "stream_id": l.stream.0,
        "watching": c.watching,
        "kind": kind_str(l.kind),
        "ip": l.ip.to_string(),
        "user_agent": &*l.user_agent,
        "started_at": l.started,
        "last_seen": l.last_seen,
    })
}

pub(super) fn ok(value: Value) -> ApiResult {
    Ok(Json(value).into_response())
}

// ----- input -----

/// A whole number from the query, `default` when absent; a 400 naming the
/// field when it is not one up to `max`.
pub(super) fn query_u32(
    query: &Params,
    name: &str,
    default: u32,
    max: u32,
) -> Result<u32, ApiError> {
    match query.get(name) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| *n <= max)
            .ok_or_else(|| {
                ApiError::bad_request(format!("{name} must be a whole number from 0 to {max}"))
            }),
    }
}

/// A whole number, also when written as `5.0` (JSON Schema's `integer`
/// accepts it, and so does the API).
fn whole(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| {
        v.as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
            .map(|f| f as i64)
    })
}

pub(super) fn object(body: &Bytes) -> Result<Map<String, Value>, ApiError> {
    if body.is_empty() {
        return Err(ApiError::bad_request("a JSON object body is required"));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::bad_request("the body must be a JSON object")),
        Err(e) => Err(ApiError::bad_request(format!("the body is not JSON: {e}"))),
    }
}

/// The fields of a body, taken one by one; unknown fields are refused so a
/// typo never passes silently.
pub(super) struct Fields(pub(super) Map<String, Value>);

impl Fields {
    pub(super) fn take(&mut self, name: &str) -> Option<Value> {
        self.0.remove(name)
    }

    pub(super) fn string(&mut self, name: &str) -> Result<Option<String>, ApiError> {
        match self.take(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(ApiError::bad_request(format!("{name} must be a string"))),
        }
    }

    pub(super) fn bool(&mut self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.take(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            Some(_) => Err(ApiError::bad_request(format!(
                "{name} must be true or false"
            ))),
        }
    }

    pub(super) fn u32(&mut self, name: &str) -> Result<Option<u32>, ApiError> {
        match self.take(name) {
            None => Ok(None),
            Some(v) => whole(&v)
                .and_then(|n| u32::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "{name} must be a whole number from 0 to {}",
                        u32::MAX
                    ))
                }),
        }
    }

    /// `Some(None)` for an explicit `null`.
    pub(super) fn expiry(&mut self, name: &str) -> Result<Option<Option<i64>>, ApiError> {
        match self.take(name) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(None)),
            Some(v) => whole(&v)
                .filter(|t| (0..=253_402_300_799).contains(t))
                .map(|t| Some(Some(t)))
                .ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "{name} must be a Unix time (seconds, up to year 9999) or null"
                    ))
                }),
        }
    }

    pub(super) fn status(&mut self) -> Result<Option<Status>, ApiError> {
        self.string("status")?
            .map(|s| {
                s.parse::<Status>()
                    .map_err(|_| ApiError::bad_request("status must be active, disabled or banned"))
            })
            .transpose()
    }

    /// `Some(None)`: the server-wide policy (`null` or `"default"`).
    pub(super) fn limit_policy(&mut self) -> Result<Option<Option<LimitPolicy>>, ApiError> {
        match self.take("limit_policy") {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(None)),
            Some(Value::String(s)) => LimitPolicy::parse_for_line(&s)
                .map(Some)
                .map_err(ApiError::bad_request),
            Some(_) => Err(ApiError::bad_request(
                "limit_policy must be refuse, newest_wins, default or null",
            )),
        }
    }

    pub(super) fn note(&mut self) -> Result<Option<String>, ApiError> {
        let note = self.string("note")?;
        if note.as_ref().is_some_and(|n| n.chars().count() > 1000) {
            return Err(ApiError::bad_request(
                "note must be at most 1000 characters",
            ));
        }
        Ok(note)
    }

    /// A non-empty array of format names (`ts`, `m3u8`, `rtmp`).
    pub(super) fn formats(&mut self) -> Result<Option<OutputFormats>, ApiError> {
        const WHAT: &str = "allowed_formats must be a non-empty array of ts, m3u8, rtmp";
        match self.take("allowed_formats") {
            None => Ok(None),
            Some(Value::Array(items)) if !items.is_empty() => {
                let mut set = OutputFormats::empty();
                for item in &items {
                    let f = item
                        .as_str()
                        .and_then(OutputFormat::from_name)
                        .ok_or_else(|| ApiError::bad_request(WHAT))?;
                    set = set.with(f);
                }
                Ok(Some(set))
            }
            Some(_) => Err(ApiError::bad_request(WHAT)),
        }
    }

    /// `Some(None)`: every category (`null`); otherwise category ids that
    /// exist in the catalog.
    pub(super) fn package(
        &mut self,
        app: &App,
    ) -> Result<Option<Option<Vec<tvgate_core::ids::CategoryId>>>, ApiError> {
        const WHAT: &str = "package must be null (everything) or an array of category ids";
        match self.take("package") {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(None)),
            Some(Value::Array(items)) => {
                let ids = items
                    .iter()
                    .map(|v| whole(v).and_then(|n| u32::try_from(n).ok()))
                    .collect::<Option<Vec<u32>>>()
                    .ok_or_else(|| ApiError::bad_request(WHAT))?;
                lines::package(app, &ids)
                    .map(|p| Some(Some(p)))
                    .map_err(ApiError::bad_request)
            }
            Some(_) => Err(ApiError::bad_request(WHAT)),
        }
    }

    pub(super) fn finish(self) -> Result<(), ApiError> {
        match self.0.keys().next() {
            None => Ok(()),
            Some(k) => Err(ApiError::bad_request(format!("unknown field {k:?}"))),
        }
    }
}

/// A numeric id from the path: `None` for a number too large to be one
/// (it names nothing: a 404), a 400 for anything that is not a number.
pub(super) fn parse_id<T: std::str::FromStr>(raw: &str, what: &str) -> Result<Option<T>, ApiError> {
    match raw.parse::<T>() {
        Ok(id) => Ok(Some(id)),
        Err(_) if !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()) => Ok(None),
        Err(_) => Err(ApiError::bad_request(format!(
            "the {what} id must be a whole number"
        ))),
    }
}

pub(super) fn find_line(app: &App, name: &str) -> Result<std::sync::Arc<Line>, ApiError> {
    app.gate
        .find_line(name)
        .ok_or_else(|| ApiError::not_found(format!("no line named {name:?}")))
}

// ----- lines -----

async fn list_lines(
    State(app): State<App>,
    _op: Operator,
    QueryParams(query): QueryParams,
) -> ApiResult {
    let needle = query.str("q");
    let offset = query_u32(&query, "offset", 0, u32::MAX)? as usize;
    let limit = query_u32(&query, "limit", 100, 1000)? as usize;
    let lines = lines::search(&app, needle);
    let total = lines.len();
    let page: Vec<_> = lines.iter().skip(offset).take(limit).collect();
    let ids: Vec<_> = page.iter().map(|a| a.id).collect();
    let active = app.ledger.active_of(&ids, app.now()).await;
    let items: Vec<Value> = page
        .iter()
        .zip(active)
        .map(|(a, active)| line_json_with(&app, a, active))
        .collect();
    ok(json!({"total": total, "offset": offset, "limit": limit, "items": items}))
}

async fn create_line(State(app): State<App>, _op: Operator, body: Bytes) -> ApiResult {
    let mut f = Fields(object(&body)?);
    let username = f
        .string("username")?
        .ok_or_else(|| ApiError::bad_request("username is required"))?;
    let mut spec = LineSpec::new(username);
    spec.password = f.string("password")?;
    if let Some(s) = f.status()? {
        spec.status = s;
    }
    spec.expires_at = f.expiry("expires_at")?.flatten();
    spec.is_trial = f.bool("is_trial")?.unwrap_or(false);
    spec.max_connections = f.u32("max_connections")?.unwrap_or(1);
    spec.limit_policy = f.limit_policy()?.flatten();
    spec.note = f.note()?.unwrap_or_default();
    if let Some(formats) = f.formats()? {
        spec.allowed_formats = formats;
    }
    spec.package = f.package(&app)?.flatten();
    f.finish()?;
    let (line, generated) = app.gate.create_line(spec, app.now()).await?;
    let out = line::created_line_json(
        &line,
        Some(app.ledger.active(line.id, app.now()).await),
        app.gate.binding(line.id).as_deref(),
        generated.as_deref(),
    );
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

async fn show_line(State(app): State<App>, _op: Operator, Path(name): Path<String>) -> ApiResult {
    let line = find_line(&app, &name)?;
    ok(line_json(&app, &line).await)
}

async fn edit_line(
    State(app): State<App>,
    _op: Operator,
    Path(name): Path<String>,
    body: Bytes,
) -> ApiResult {
    find_line(&app, &name)?;
    let mut f = Fields(object(&body)?);
    let patch = LinePatch {
        status: f.status()?,
        expires_at: f.expiry("expires_at")?,
        is_trial: f.bool("is_trial")?,
        max_connections: f.u32("max_connections")?,
        limit_policy: f.limit_policy()?,
        note: f.note()?,
        allowed_formats: f.formats()?,
        package: f.package(&app)?,
        ..Default::default()
    };
    f.finish()?;
    let line = app.gate.update_line(&name, patch).await?;
    ok(line_json(&app, &line).await)
}

async fn extend_line(
    State(app): State<App>,
    _op: Operator,
    Path(name): Path<String>,
    body: Bytes,
) -> ApiResult {
    let line = find_line(&app, &name)?;
    let mut f = Fields(object(&body)?);
    let days = f
        .u32("days")?
        .filter(|d| (1..=36_500).contains(d))
        .ok_or_else(|| ApiError::bad_request("days must be a whole number from 1 to 36500"))?;
    f.finish()?;
    let line = extend(&app, &line, days).await?;
    ok(line_json(&app, &line).await)
}

/// Extends a line by `days` (the API's and the console's one rule).
pub(crate) async fn extend(
    app: &App,
    line: &Line,
    days: u32,
) -> Result<Line, tvgate_core::gate::GateError> {
    let now = app.now();
    // As `tvgate line extend --days`: from the current expiry, or from now
    // when it has passed.
    let from = line.expires_at.filter(|t| *t > now).unwrap_or(now);
    let patch = LinePatch {
        expires_at: Some(Some(from + i64::from(days) * 86_400)),
        ..Default::default()
    };
    app.gate.update_line(&line.username, patch).await
}

async fn delete_line(State(app): State<App>, _op: Operator, Path(name): Path<String>) -> ApiResult {
    find_line(&app, &name)?;
    app.gate.delete_line(&name).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A new generated password, returned once (as the console's reset and
/// `tvgate line passwd`): the old one stops working at once.
async fn reset_password(
    State(app): State<App>,
    _op: Operator,
    Path(name): Path<String>,
) -> ApiResult {
    find_line(&app, &name)?;
    let (line, password) = app.gate.set_password(&name, None).await?;
    tracing::info!(line = %line.username, "password reset through the API");
    ok(json!({"username": &*line.username, "password": password}))
}

// ----- devices -----

/// Most audit entries one request returns.
const MAX_AUDIT: u32 = 1000;

/// `GET /api/v1/lines/{name}/timeline?limit=`: the line's story as its
/// console page shows it (`super::timeline`): connections now, then
/// logins, streams and refusals, newest first.
async fn line_timeline(
    State(app): State<App>,
    _op: Operator,
    Path(name): Path<String>,
    QueryParams(query): QueryParams,
) -> ApiResult {
    let line = find_line(&app, &name)?;
    let limit = query_u32(
        &query,
        "limit",
        super::timeline::DEFAULT_LIMIT,
        super::timeline::MAX_LIMIT,
    )?;
    let story = super::timeline::story(&app, &line, limit).await;
    ok(super::timeline::story_json(&line.username, &story))
}

/// `GET /api/v1/lines/{name}/devices/audit?limit=`: the line's device
/// history, newest first (as the console's devices page).
async fn device_audit(
    State(app): State<App>,
    _op: Operator,
    Path(name): Path<String>,
    QueryParams(query): QueryParams,
) -> ApiResult {
    let line = find_line(&app, &name)?;
    let limit = query_u32(&query, "limit", 100, MAX_AUDIT)?;
    let entries = app.gate.device_audit(Some(&line.username), limit).await?;
    let items: Vec<Value> = entries
        .iter()
        .map(|a| {
            json!({
                "at": a.at,
                "actor": a.actor.as_str(),
                "action": a.action.as_str(),
                "ip": a.ip.map(|ip| ip.to_string()),
                "old_device": a.old_device,
                "new_device": a.new_device,
                "detail": a.detail,
            })
        })
        .collect();
    ok(json!({"line": &*line.username, "items": items}))
}

async fn list_devices(
    State(app): State<App>,
    _op: Operator,
    Path(name): Path<String>,
) -> ApiResult {
    let line = find_line(&app, &name)?;
    let binding = app.gate.binding(line.id);
    let devices: Vec<Value> = binding
        .as_ref()
        .map(|b| {
            b.devices
                .iter()
                .map(|d| {
                    json!({
                        "id": d.id.0,
                        "kind": d.kind.as_str(),
                        "identifier": &*d.identifier,
                        "label": &*d.label,
                        "first_seen": d.first_seen,
                        "last_seen": d.last_seen,
                        "last_ip": d.last_ip.map(|ip| ip.to_string()),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    ok(json!({
        "line": &*line.username,
        "limit": binding.as_ref().map_or(0, |b| b.policy.limit),
        "devices": devices,
    }))
}

async fn reset_devices(
    State(app): State<App>,
    _op: Operator,
    Path(name): Path<String>,
) -> ApiResult {
    find_line(&app, &name)?;
    let removed = app.gate.reset_devices(&name, app.now()).await?;
    ok(json!({"removed": removed}))
}

async fn remove_device(
    State(app): State<App>,
    _op: Operator,
    Path((name, id)): Path<(String, String)>,
) -> ApiResult {
    let line = find_line(&app, &name)?;
    let Some(id) = parse_id::<i64>(&id, "device")?.map(DeviceId) else {
        return Err(ApiError::not_found(format!(
            "line {name:?} has no device {id}"
        )));
    };
    let bound = app
        .gate
        .binding(line.id)
        .is_some_and(|b| b.devices.iter().any(|d| d.id == id));
    if !bound {
        return Err(ApiError::not_found(format!(
            "line {name:?} has no device {}",
            id.0
        )));
    }
    app.gate.remove_device(&name, id, app.now()).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ----- connections -----

async fn list_connections(
    State(app): State<App>,
    _op: Operator,
    QueryParams(query): QueryParams,
) -> ApiResult {
    let lines: Vec<std::sync::Arc<Line>> = match query.get("line") {
        Some(name) => vec![find_line(&app, name)?],
        None => app.gate.lines(),
    };
    let mut by_line = slots::all_connections(&app).await;
    let items: Vec<Value> = lines
        .iter()
        .flat_map(|a| {
            by_line
                .remove(&a.id)
                .unwrap_or_default()
                .into_iter()
                .map(|c| connection_json(&a.username, &c))
                .collect::<Vec<_>>()
        })
        .collect();
    ok(json!({"items": items}))
}

/// `GET /api/v1/relay`: open upstream connections by source and viewers
/// by relayed channel (the console's live page reads the same snapshot).
async fn relay_now(State(app): State<App>, _op: Operator) -> ApiResult {
    let (upstreams, channels) = super::live::snapshot(&app).await;
    ok(json!({
        "upstreams": upstreams.iter().map(|u| json!({
            "source": u.source, "name": u.name, "open": u.open,
        })).collect::<Vec<_>>(),
        "channels": channels.iter().map(|c| json!({
            "stream_id": c.stream_id, "name": c.name, "viewers": c.viewers,
            "bytes_in": c.bytes_in, "up_secs": c.up_secs,
        })).collect::<Vec<_>>(),
    }))
}

/// A sample's refusals as a JSON object by reason.
fn by_reason(counts: &[(String, u64)]) -> Value {
    Value::Object(
        counts
            .iter()
            .map(|(reason, n)| (reason.clone(), json!(n)))
            .collect(),
    )
}

/// `GET /api/v1/stats?window=24h`: what the console's dashboard shows:
/// the figures now and the window's per-minute samples, every node
/// sharing the store summed (`super::dashboard`).
async fn stats(
    State(app): State<App>,
    _op: Operator,
    QueryParams(query): QueryParams,
) -> ApiResult {
    let window =
        super::dashboard::parse_window(query.str("window")).map_err(ApiError::bad_request)?;
    let o = super::dashboard::overview(&app, window).await;
    let l = o.lines;
    ok(json!({
        "window_secs": o.window_secs,
        "step_secs": 60,
        "at": o.now,
        "now": {
            "viewers": o.viewers,
            "upstreams": o.sources.iter().map(|s| s.row.open).sum::<usize>(),
            "bandwidth_out_bytes_per_sec": o.bandwidth_bytes_per_sec,
            "lines": {
                "total": l.total, "active": l.active, "expiring_7d": l.expiring_7d,
                "expired": l.expired, "disabled": l.disabled, "banned": l.banned,
            },
            "refusals_last_hour": by_reason(&o.refusals_last_hour),
        },
        "sources": o.sources.iter().map(|s| json!({
            "source": s.row.source, "name": s.row.name, "open": s.row.open,
            "max_connections": s.cap,
        })).collect::<Vec<_>>(),
        "totals": {
            "viewers_max": o.totals.viewers,
            "bytes_out": o.totals.bytes_out,
            "logins": o.totals.logins,
            "refusals": by_reason(&o.totals.refusals),
        },
        "samples": o.samples.iter().map(|s| json!({
            "minute": s.minute, "viewers": s.viewers, "bytes_out": s.bytes_out,
            "logins": s.logins, "refusals": by_reason(&s.refusals),
        })).collect::<Vec<_>>(),
    }))
}

/// Ends a connection now: the lease leaves the ledger (the slot is free at
/// once) and the serving body's next renewal, within a second, fails and
/// ends the player's stream.
async fn end_connection(
    State(app): State<App>,
    _op: Operator,
    Path(id): Path<String>,
) -> ApiResult {
    let Some(id) = parse_id::<u64>(&id, "connection")?.map(LeaseId) else {
        return Err(ApiError::not_found(format!("no connection {id}")));
    };
    match crate::slots::end_connection(&app, id).await {
        Some(lease) => {
            tracing::info!(
                line = lease.line.0,
                lease = id.0,
                "connection ended by an operator"
            );
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        None => Err(ApiError::not_found(format!("no connection {}", id.0))),
    }
}

// ----- the document -----

async fn openapi_json() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        super::openapi::DOCUMENT,
    )
        .into_response()
}
