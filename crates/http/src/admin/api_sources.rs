//! `/api/v1/sources` and `/api/v1/channels`: sources and the streams they
//! brought, for the JSON admin API (docs/admin-api.md).
//!
//! Adding a source records it and starts its first refresh in the
//! background (the answer does not wait for the import); a refresh's
//! progress is read at `/api/v1/sources/{id}/refresh`. Switching a source
//! or a stream off hides it from players without deleting it. Input is
//! parsed with the API's [`Fields`](super::api) (400 naming the field,
//! unknown fields refused), and every change is the gate method the CLI and
//! the console call. Locations and backup URLs are shown through
//! [`redact_location`]: credentials in a provider URL never leave the
//! server.

use super::api::{object, ok, parse_id, query_u32, ApiResult, Fields};
use super::importer::{RefreshState, StartError};
use super::ApiError;
use super::Operator;
use crate::params::QueryParams;
use crate::state::App;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, patch, post, MethodRouter};
use axum::Json;
use serde_json::{json, Value};
use tvgate_core::catalog::{Catalog, Delivery, Source, SourceKind, UpstreamHeader, XtreamAccount};
use tvgate_core::gate::MAX_STREAM_PAGE;
use tvgate_core::ids::{SourceId, StreamId};
use tvgate_core::ports::{NewSource, SourcePatch, StreamQuery, StreamRow};
use tvgate_formats::{redact_location, redact_url};

/// The routes of this file, appended to [`super::api::routes`].
pub fn routes() -> Vec<(Method, &'static str, MethodRouter<App>)> {
    vec![
        (Method::GET, "/api/v1/sources", get(list_sources)),
        (Method::POST, "/api/v1/sources", post(add_source)),
        (Method::GET, "/api/v1/sources/{id}", get(show_source)),
        (Method::PATCH, "/api/v1/sources/{id}", patch(edit_source)),
        (
            Method::DELETE,
            "/api/v1/sources/{id}",
            axum::routing::delete(remove_source),
        ),
        (
            Method::POST,
            "/api/v1/sources/{id}/refresh",
            post(start_refresh),
        ),
        (
            Method::GET,
            "/api/v1/sources/{id}/refresh",
            get(refresh_state),
        ),
        (
            Method::GET,
            "/api/v1/sources/{id}/diagnostics",
            get(diagnostics),
        ),
        (Method::GET, "/api/v1/channels", get(list_channels)),
        (Method::PATCH, "/api/v1/channels/{id}", patch(edit_channel)),
    ]
}

// ----- shared with the console -----

/// Starts a refresh of a source (the API's and the console's one rule);
/// `accept_shrink` applies it even when the shrink guard would hold it.
pub(crate) fn start(
    app: &App,
    source: Source,
    accept_shrink: bool,
) -> Result<RefreshState, StartError> {
    let id = source.id;
    app.refreshes
        .start_with(app, source, accept_shrink)
        .map(|p| p.state(id))
}

// ----- rendering -----

fn state_json(s: &RefreshState) -> Value {
    json!({
        "source": s.source.0,
        "phase": s.phase.as_str(),
        "bytes": s.bytes,
        "total": s.total,
        "entries": s.entries,
        "started": s.started,
        "finished": s.finished,
        "summary": s.summary,
        "error": s.error,
    })
}

fn source_json(app: &App, s: &Source) -> Value {
    let refresh = app.refreshes.get(s.id).map(|p| state_json(&p.state(s.id)));
    json!({
        "id": s.id.0,
        "name": s.name,
        "kind": s.kind.as_str(),
        "location": redact_location(&s.location),
        "enabled": s.enabled,
        "created_at": s.created_at,
        "last_refresh": s.last_refresh,
        "item_count": s.item_count,
        "last_error": s.last_error,
        "diagnostics": s.diagnostic_rows().map(|d| d.to_string()).collect::<Vec<_>>(),
        "max_connections": s.max_connections,
        "delivery": s.delivery.as_str(),
        // The upstream identity: the user agent, and the extra headers by
        // name only (their values may be tokens: write-only).
        "user_agent": s.identity.user_agent,
        "headers": s.identity.shown_headers(),
        "refresh": refresh,
        // A refresh the shrink guard held: applied with
        // POST .../refresh?accept_shrink=true.
        "held": s.held.as_ref().map(|h| json!({
            "at": h.at,
            "before": h.before,
            "after": h.after,
            "reason": h.reason,
        })),
        "guide_matches": guide_matches_json(app, s),
        // An Xtream account: its username and the cap its provider said;
        // the password is never shown back.
        "account": s.account.as_ref().map(|a| json!({
            "username": a.username,
            "max_connections": a.max_connections,
        })),
    })
}

/// How a source's live channels found their guide in the current
/// snapshot (a guide source: every channel's); `None` for a source players
/// do not see.
fn guide_matches_json(app: &App, s: &Source) -> Value {
    if !s.enabled {
        return Value::Null;
    }
    let whose = (s.kind != SourceKind::Xmltv).then_some(s.id);
    let m = app.gate.catalog().guide_matches(whose);
    json!({"by_id": m.by_id, "by_name": m.by_name, "unmatched": m.unmatched})
}

/// A stream as the API shows it; a live channel's backup URLs are shown
/// redacted like source locations (they may hold a provider's credentials).
fn channel_json(catalog: &Catalog, r: &StreamRow) -> Value {
    let backups: Vec<String> = catalog
        .backups(r.id)
        .iter()
        .map(|u| redact_url(u))
        .collect();
    json!({
        "backups": backups,
        "id": r.id.0,
        "source": r.source.0,
        "kind": r.kind,
        "name": r.name,
        "category": r.category,
        "enabled": r.enabled,
    })
}

// ----- input -----

fn source_id(raw: &str) -> Result<SourceId, ApiError> {
    parse_id::<i64>(raw, "source")?
        .map(SourceId)
        .ok_or_else(|| ApiError::not_found(format!("no source {raw}")))
}

async fn find_source(app: &App, raw: &str) -> Result<Source, ApiError> {
    let id = source_id(raw)?;
    Ok(app.gate.source(id).await?)
}

fn delivery(f: &mut Fields) -> Result<Option<Delivery>, ApiError> {
    f.string("delivery")?
        .map(|d| {
            Delivery::parse(&d)
                .ok_or_else(|| ApiError::bad_request("delivery must be proxy or redirect"))
        })
        .transpose()
}

fn refused(e: StartError) -> ApiError {
    match e {
        StartError::Running(_) => ApiError::new(
            StatusCode::CONFLICT,
            "refresh_running",
            "a refresh of this source is running; see its progress at GET .../refresh",
        ),
        StartError::NoImporter => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "no_importer",
            "this server cannot import sources",
        ),
    }
}

// ----- sources -----

async fn list_sources(State(app): State<App>, _op: Operator) -> ApiResult {
    let sources = app.gate.sources().await?;
    let items: Vec<Value> = sources.iter().map(|s| source_json(&app, s)).collect();
    ok(json!({"items": items}))
}

async fn show_source(State(app): State<App>, _op: Operator, Path(id): Path<String>) -> ApiResult {
    let source = find_source(&app, &id).await?;
    ok(source_json(&app, &source))
}

/// `POST /api/v1/sources`: 201 with the source and its first refresh,
/// which runs on after the answer.
async fn add_source(State(app): State<App>, op: Operator, body: Bytes) -> ApiResult {
    let mut f = Fields(object(&body)?);
    let kind = f
        .string("kind")?
        .ok_or_else(|| ApiError::bad_request("kind is required (m3u, xmltv or xtream)"))?;
    let kind = match kind.trim().to_ascii_lowercase().as_str() {
        "m3u" => SourceKind::M3u,
        "xmltv" => SourceKind::Xmltv,
        "xtream" => SourceKind::Xtream,
        _ => return Err(ApiError::bad_request("kind must be m3u, xmltv or xtream")),
    };
    let location = f
        .string("location")?
        .ok_or_else(|| ApiError::bad_request("location is required"))?;
    let name = f.string("name")?.unwrap_or_default();
    let max_connections = f.u32("max_connections")?.unwrap_or(0);
    let delivery = delivery(&mut f)?.unwrap_or_default();
    let username = f.string("username")?;
    let password = f.string("password")?;
    f.finish()?;
    super::check_egress(&app, "location", [location.as_str()]).await?;
    let new = NewSource {
        kind,
        location,
        name,
        created_at: app.now(),
        max_connections,
        delivery,
    };
    let source = if kind == SourceKind::Xtream {
        let account = XtreamAccount {
            username: username.unwrap_or_default(),
            password: password.unwrap_or_default(),
            max_connections: 0,
        };
        app.gate.add_account_source(new, account).await?
    } else {
        if username.is_some() || password.is_some() {
            return Err(ApiError::bad_request(
                "username and password are for an xtream source",
            ));
        }
        tvgate_core::gate::check_web_location(
            &new.location,
            app.settings.source_files_dir.as_deref(),
        )?;
        app.gate.add_source(new).await?
    };
    tracing::info!(
        token = op.token,
        admin = %op.admin,
        source = source.id.0,
        "source added through the API"
    );
    // A brand-new source has no running refresh; only a missing importer
    // can refuse, and the source is kept either way.
    let _ = start(&app, source.clone(), false);
    Ok((StatusCode::CREATED, Json(source_json(&app, &source))).into_response())
}

async fn edit_source(
    State(app): State<App>,
    _op: Operator,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let id = find_source(&app, &id).await?.id;
    let mut f = Fields(object(&body)?);
    let patch = SourcePatch {
        enabled: f.bool("enabled")?,
        max_connections: f.u32("max_connections")?,
        delivery: delivery(&mut f)?,
        user_agent: user_agent(&mut f)?,
        headers: request_headers(&mut f)?,
    };
    let username = f.string("username")?;
    let password = f.string("password")?;
    f.finish()?;
    let mut source = None;
    if username.is_some() || password.is_some() {
        source = Some(
            app.gate
                .set_source_credentials(id, username, password)
                .await?,
        );
    }
    if !patch.is_empty() || source.is_none() {
        source = Some(app.gate.update_source(id, patch).await?);
    }
    match source {
        Some(source) => ok(source_json(&app, &source)),
        None => Err(ApiError::not_found(format!("source {id}"))),
    }
}

/// `user_agent`: a string, or `null` or `""` for tvgate's own.
fn user_agent(f: &mut Fields) -> Result<Option<Option<String>>, ApiError> {
    match f.take("user_agent") {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(Some(None)),
        Some(Value::String(s)) => Ok(Some(Some(s))),
        Some(_) => Err(ApiError::bad_request("user_agent must be a string or null")),
    }
}

/// `headers`: a list of `"Name: value"` strings replacing every extra
/// header (`[]` or `null`: none). A refusal names the header, never its
/// value.
fn request_headers(f: &mut Fields) -> Result<Option<Vec<UpstreamHeader>>, ApiError> {
    let items = match f.take("headers") {
        None => return Ok(None),
        Some(Value::Null) => return Ok(Some(Vec::new())),
        Some(Value::Array(items)) => items,
        Some(_) => {
            return Err(ApiError::bad_request(
                "headers must be a list of \"Name: value\" strings",
            ))
        }
    };
    items
        .iter()
        .map(|item| match item {
            Value::String(raw) => UpstreamHeader::parse(raw).map_err(ApiError::bad_request),
            _ => Err(ApiError::bad_request(
                "headers must be a list of \"Name: value\" strings",
            )),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

async fn remove_source(State(app): State<App>, _op: Operator, Path(id): Path<String>) -> ApiResult {
    let id = find_source(&app, &id).await?.id;
    app.gate.remove_source(id).await?;
    app.refreshes.forget(id);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /api/v1/sources/{id}/refresh[?accept_shrink=true]`: 202 with the
/// new job, or 409 with the running one. `accept_shrink` applies the
/// refresh even when the shrink guard would hold it.
async fn start_refresh(
    State(app): State<App>,
    _op: Operator,
    Path(id): Path<String>,
    QueryParams(query): QueryParams,
) -> ApiResult {
    let accept_shrink = match query.get("accept_shrink").map(str::trim) {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(ApiError::bad_request("accept_shrink must be true or false")),
    };
    let source = find_source(&app, &id).await?;
    let id = source.id;
    match start(&app, source, accept_shrink) {
        Ok(state) => Ok((StatusCode::ACCEPTED, Json(state_json(&state))).into_response()),
        Err(StartError::Running(running)) => {
            let e = refused(StartError::Running(running.clone()));
            let body = json!({
                "error": {"code": e.code, "message": e.message},
                "refresh": state_json(&running.state(id)),
            });
            Ok((e.status, Json(body)).into_response())
        }
        Err(e) => Err(refused(e)),
    }
}

async fn refresh_state(State(app): State<App>, _op: Operator, Path(id): Path<String>) -> ApiResult {
    let id = find_source(&app, &id).await?.id;
    match app.refreshes.get(id) {
        Some(p) => ok(state_json(&p.state(id))),
        None => Err(ApiError::not_found(format!(
            "no refresh of source {id} was started since the server started"
        ))),
    }
}

/// `GET /api/v1/sources/{id}/diagnostics`: the lines the last refresh
/// skipped, as stored.
async fn diagnostics(State(app): State<App>, _op: Operator, Path(id): Path<String>) -> ApiResult {
    let source = find_source(&app, &id).await?;
    let items: Vec<Value> = source
        .diagnostic_rows()
        .map(|d| json!({"line": d.line(), "message": d.message()}))
        .collect();
    ok(json!({
        "source": source.id.0,
        "last_refresh": source.last_refresh,
        "last_error": source.last_error,
        "items": items,
    }))
}

// ----- channels -----

/// `GET /api/v1/channels?source=&q=&enabled=&offset=&limit=`: stored
/// streams, disabled ones included unless `enabled` says otherwise.
async fn list_channels(
    State(app): State<App>,
    _op: Operator,
    QueryParams(query): QueryParams,
) -> ApiResult {
    let source = match query.get("source") {
        None => None,
        Some(raw) => {
            let raw = raw.trim();
            let id = parse_id::<i64>(raw, "source")?
                .map(SourceId)
                .ok_or_else(|| ApiError::not_found(format!("no source {raw}")))?;
            Some(app.gate.source(id).await?.id)
        }
    };
    let search = query.str("q").trim().to_string();
    let enabled = match query.get("enabled") {
        None => None,
        Some(v) => match v.trim() {
            "true" => Some(true),
            "false" => Some(false),
            _ => return Err(ApiError::bad_request("enabled must be true or false")),
        },
    };
    let offset = query_u32(&query, "offset", 0, u32::MAX)?;
    let limit = query_u32(&query, "limit", 100, MAX_STREAM_PAGE)?;
    let page = app
        .gate
        .streams(StreamQuery {
            stream: None,
            source,
            search,
            enabled,
            offset,
            limit,
        })
        .await?;
    let catalog = app.gate.catalog();
    let items: Vec<Value> = page
        .items
        .iter()
        .map(|r| channel_json(&catalog, r))
        .collect();
    ok(json!({"total": page.total, "offset": offset, "limit": limit, "items": items}))
}

/// One stored stream by id (disabled or not).
pub(crate) async fn find_stream(app: &App, id: StreamId) -> Result<Option<StreamRow>, ApiError> {
    let page = app
        .gate
        .streams(StreamQuery {
            stream: Some(id),
            limit: 1,
            ..Default::default()
        })
        .await?;
    Ok(page.items.into_iter().next())
}

async fn edit_channel(
    State(app): State<App>,
    _op: Operator,
    Path(raw): Path<String>,
    body: Bytes,
) -> ApiResult {
    let not_found = || ApiError::not_found(format!("no channel {raw}"));
    let id = parse_id::<u32>(&raw, "channel")?
        .map(StreamId)
        .ok_or_else(not_found)?;
    find_stream(&app, id).await?.ok_or_else(not_found)?;
    let mut f = Fields(object(&body)?);
    let enabled = f.bool("enabled")?;
    let backups = match f.take("backups") {
        None => None,
        Some(Value::Array(items)) => Some(
            items
                .into_iter()
                .map(|v| match v {
                    Value::String(u) => Ok(u),
                    _ => Err(ApiError::bad_request(
                        "backups must be an array of URLs (empty: none)",
                    )),
                })
                .collect::<Result<Vec<String>, ApiError>>()?,
        ),
        Some(_) => {
            return Err(ApiError::bad_request(
                "backups must be an array of URLs (empty: none)",
            ))
        }
    };
    f.finish()?;
    if enabled.is_none() && backups.is_none() {
        return Err(ApiError::bad_request(
            "nothing to change: give enabled (true or false) or backups",
        ));
    }
    // Switch on first: backups are kept for channels players can see.
    if enabled == Some(true) {
        app.gate.set_stream_enabled(id, true).await?;
    }
    if let Some(urls) = backups {
        super::check_egress(&app, "backups", urls.iter().map(String::as_str)).await?;
        app.gate.set_backups(id, urls).await?;
    }
    if enabled == Some(false) {
        app.gate.set_stream_enabled(id, false).await?;
    }
    let row = find_stream(&app, id).await?.ok_or_else(not_found)?;
    ok(channel_json(&app.gate.catalog(), &row))
}
