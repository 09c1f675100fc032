//! The console's sources pages (`/admin/sources`): the sources with their
//! last refresh, adding one, refresh with a progress page, switching a
//! source or a single channel on and off, removing a source, and a source's
//! import errors (with their line numbers) and channels.
//!
//! Same rules as the other console pages ([`super::console`]): no
//! JavaScript (the progress page reloads itself with a `<meta refresh>`
//! while the job runs), a session for every page, the CSRF token checked
//! before any change, maud templates (every value is text by its type),
//! locations and backup URLs through the one redactor. The
//! changes are the gate methods and the refresh jobs the API uses
//! ([`super::api_sources`]).

use super::api_sources::{find_stream, start};
use super::console::{confirm, csrf_input, gate_failed, nav, number, qv, render, result, when};
use super::importer::{Phase, StartError};
use super::session::{field, no_store, reloading_page, ConsoleForm, ConsolePage};
use crate::params::QueryParams;
use crate::state::App;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};
use tvgate_core::catalog::{Delivery, Source, SourceKind, XtreamAccount};
use tvgate_core::ids::{SourceId, StreamId};
use tvgate_core::ports::{NewSource, SourcePatch, StreamQuery};
use tvgate_formats::{redact_location, redact_url};

/// Channels shown per page of a source.
const CHANNELS_PER_PAGE: u32 = 100;

/// The sources pages' routes (merged with the console's).
pub fn routes() -> Router<App> {
    Router::new()
        .route("/admin/sources", get(sources_page).post(add_source))
        .route("/admin/sources/action", post(source_action))
        .route("/admin/sources/{id}", get(source_page))
        .route("/admin/sources/{id}/refresh", get(progress_page))
        .route("/admin/sources/{id}/identity", post(set_identity))
        .route("/admin/channels/action", post(channel_action))
        .route(
            "/admin/channels/{id}/backups",
            get(backups_page).post(set_backups),
        )
}

fn see_other(to: &str) -> Response {
    (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, to.to_string())],
        no_store(),
    )
        .into_response()
}

fn progress_url(id: SourceId) -> String {
    format!("/admin/sources/{}/refresh", id.0)
}

/// The source an id names, or the page that says it does not exist.
async fn find(app: &App, raw: &str, back: &str) -> Result<Source, Box<Response>> {
    let not_found = || {
        Box::new(result(
            StatusCode::NOT_FOUND,
            &format!("No source {raw:?}."),
            back,
        ))
    };
    let id = raw.trim().parse::<i64>().map_err(|_| not_found())?;
    match app.gate.source(SourceId(id)).await {
        Ok(s) => Ok(s),
        Err(tvgate_core::gate::GateError::Store(tvgate_core::ports::StoreError::NotFound {
            ..
        })) => Err(not_found()),
        Err(e) => Err(Box::new(gate_failed(e, back))),
    }
}

/// A source's last refresh: the running job's phase (a link to its
/// progress) or when the last one ended.
fn refresh_cell(app: &App, s: &Source) -> Markup {
    match app.refreshes.get(s.id).map(|p| p.state(s.id)) {
        Some(job) if job.phase.is_running() => html! {
            a href=(progress_url(s.id)) { (job.phase.as_str()) "…" }
        },
        _ => html! { (s.last_refresh.map(when).unwrap_or_else(|| "never".into())) },
    }
}

// ----- the list -----

/// `GET /admin/sources`: every source, the add form and the actions.
async fn sources_page(State(app): State<App>, ConsolePage(s): ConsolePage) -> Response {
    let sources = match app.gate.sources().await {
        Ok(list) => list,
        Err(e) => return gate_failed(e, "/admin/"),
    };
    let csrf = csrf_input(&s);
    let body = html! {
        h2 { "Add a source" }
        form method="post" action="/admin/sources" {
            (csrf)
            label {
                "Kind "
                select name="kind" {
                    option value="m3u" { "M3U playlist" }
                    option value="xmltv" { "XMLTV guide" }
                }
            }
            " "
            label {
                "Location (http(s) URL, or the absolute path of a file in the data directory's "
                code { "sources/" } ") "
                input name="location" required;
            }
            " "
            label { "Name (empty: from the location) " input name="name"; } " "
            label { "Connections (0: unlimited) " input name="max_connections" type="number" min="0" value="0"; } " "
            label {
                "Delivery "
                select name="delivery" {
                    option value="proxy" { "proxy" }
                    option value="redirect" { "redirect" }
                }
            }
            " "
            button type="submit" { "Add and import" }
        }
        h2 { "Add an Xtream account" }
        form method="post" action="/admin/sources" {
            (csrf)
            input type="hidden" name="kind" value="xtream";
            label { "Server URL " input name="location" required placeholder="http://provider.example:8080"; } " "
            label { "Username " input name="username" required autocomplete="off"; } " "
            label { "Password " input name="password" type="password" required autocomplete="new-password"; } " "
            label { "Name (empty: from the server) " input name="name"; } " "
            label { "Connections (0: the account's own) " input name="max_connections" type="number" min="0" value="0"; } " "
            label {
                "Delivery "
                select name="delivery" {
                    option value="proxy" { "proxy" }
                    option value="redirect" { "redirect" }
                }
            }
            " "
            button type="submit" { "Add and import" }
        }
        h2 { "Sources (" (sources.len()) ")" }
        table class="sortable" {
            thead {
                tr {
                    th { "ID" } th { "Name" } th { "Kind" } th { "Location" } th { "Enabled" }
                    th { "Last refresh" } th { "Items" } th { "State" } th { "Actions" }
                }
            }
            tbody {
                @for src in &sources {
                    tr {
                        td { (src.id.0) }
                        td { a href={ "/admin/sources/" (src.id.0) } { (src.name) } }
                        td { (src.kind.as_str()) }
                        td { (redact_location(&src.location)) }
                        td { @if src.enabled { "yes" } @else { "no" } }
                        td { (refresh_cell(&app, src)) }
                        td { (src.item_count) }
                        td {
                            @if let Some(h) = &src.held {
                                b class="error" { "held: " } (h.reason)
                            } @else if let Some(e) = &src.last_error {
                                "failed: " (e)
                            } @else if !src.diagnostics.is_empty() {
                                "ok, " (src.diagnostic_rows().count()) " line(s) skipped"
                            } @else if src.last_refresh.is_some() {
                                "ok"
                            }
                        }
                        td {
                            form method="post" action="/admin/sources/action" {
                                (csrf)
                                input type="hidden" name="id" value=(src.id.0);
                                button name="action" value="refresh" { "Refresh" }
                                @if src.held.is_some() {
                                    button name="action" value="accept_shrink"
                                        data-confirm={ "Apply the held refresh of " (src.name) "? Players lose the entries it removes." } { "Apply held refresh" }
                                }
                                @if src.enabled {
                                    button name="action" value="disable" { "Disable" }
                                } @else {
                                    button name="action" value="enable" { "Enable" }
                                }
                                button name="action" value="remove" class="danger"
                                    data-confirm={ "Remove " (src.name) " with every channel, movie, series and guide it brought? This cannot be undone." } { "Remove" }
                            }
                        }
                    }
                }
            }
        }
    };
    render(StatusCode::OK, "Sources", body)
}

/// `POST /admin/sources` (form: `kind`, `location`, `name`,
/// `max_connections`, `delivery`, and for `xtream` `username` and
/// `password`): records the source and goes to its first refresh's
/// progress.
async fn add_source(
    State(app): State<App>,
    ConsoleForm { session, form, .. }: ConsoleForm,
) -> Response {
    let back = "/admin/sources";
    let kind = match field(&form, "kind").map(str::trim) {
        Some("m3u") => SourceKind::M3u,
        Some("xmltv") => SourceKind::Xmltv,
        Some("xtream") => SourceKind::Xtream,
        _ => {
            return result(
                StatusCode::BAD_REQUEST,
                "kind must be m3u, xmltv or xtream",
                back,
            )
        }
    };
    let max_connections = match number(&form, "max_connections", 0..=u32::MAX) {
        Ok(n) => n.unwrap_or(0),
        Err(m) => return result(StatusCode::BAD_REQUEST, &m, back),
    };
    let delivery = match field(&form, "delivery")
        .map(str::trim)
        .filter(|d| !d.is_empty())
    {
        None => Delivery::Proxy,
        Some(d) => match Delivery::parse(d) {
            Some(d) => d,
            None => {
                return result(
                    StatusCode::BAD_REQUEST,
                    "delivery must be proxy or redirect",
                    back,
                )
            }
        },
    };
    let location = field(&form, "location").unwrap_or_default().to_string();
    let new = NewSource {
        kind,
        location,
        name: field(&form, "name").unwrap_or_default().to_string(),
        created_at: app.now(),
        max_connections,
        delivery,
    };
    if let Err(e) = super::check_egress(&app, "location", [new.location.as_str()]).await {
        return gate_failed(e, back);
    }
    let added = if kind == SourceKind::Xtream {
        let account = XtreamAccount {
            username: field(&form, "username")
                .unwrap_or_default()
                .trim()
                .to_string(),
            password: field(&form, "password").unwrap_or_default().to_string(),
            max_connections: 0,
        };
        app.gate.add_account_source(new, account).await
    } else {
        if let Err(e) = tvgate_core::gate::check_web_location(
            &new.location,
            app.settings.source_files_dir.as_deref(),
        ) {
            return gate_failed(e, back);
        }
        app.gate.add_source(new).await
    };
    match added {
        Ok(source) => {
            tracing::info!(admin = %session.admin, source = source.id.0, "source added in the console");
            let id = source.id;
            match start(&app, source, false) {
                Ok(_) | Err(StartError::Running(_)) => see_other(&progress_url(id)),
                Err(StartError::NoImporter) => result(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The source was added, but this server cannot import sources.",
                    back,
                ),
            }
        }
        Err(e) => gate_failed(e, back),
    }
}

/// `POST /admin/sources/action` (form: `id`, `action`: refresh, enable,
/// disable or remove).
async fn source_action(
    State(app): State<App>,
    ConsoleForm { session, form, .. }: ConsoleForm,
) -> Response {
    let back = "/admin/sources";
    let source = match find(&app, field(&form, "id").unwrap_or_default(), back).await {
        Ok(source) => source,
        Err(r) => return *r,
    };
    let id = source.id;
    let action = field(&form, "action").unwrap_or_default();
    if action == "remove" && field(&form, "confirm") != Some("yes") {
        return confirm(
            &session,
            &format!(
                "Remove the source {} with every channel, movie, series and guide it brought? Players lose them at once; this cannot be undone.",
                source.name
            ),
            "/admin/sources/action",
            &[("id", &id.0.to_string()), ("action", "remove")],
            &format!("Remove {}", source.name),
            back,
        );
    }
    if action == "accept_shrink" && field(&form, "confirm") != Some("yes") {
        let held = source
            .held
            .as_ref()
            .map(|h| h.reason.clone())
            .unwrap_or_else(|| "No refresh is held now.".into());
        return confirm(
            &session,
            &format!(
                "Read {} again and apply it even if it removes more entries than the shrink guard allows? Players lose the removed entries at once. Held: {held}",
                source.name
            ),
            "/admin/sources/action",
            &[("id", &id.0.to_string()), ("action", "accept_shrink")],
            &format!("Apply the refresh of {}", source.name),
            back,
        );
    }
    let outcome = match action {
        // A refresh that is already running is shown, not started twice.
        "refresh" | "accept_shrink" => {
            return match start(&app, source, action == "accept_shrink") {
                Ok(_) | Err(StartError::Running(_)) => {
                    tracing::info!(admin = %session.admin, source = id.0, "source refresh from the console");
                    see_other(&progress_url(id))
                }
                Err(StartError::NoImporter) => result(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "This server cannot import sources.",
                    back,
                ),
            };
        }
        "enable" | "disable" => app
            .gate
            .set_source_enabled(id, action == "enable")
            .await
            .map(|src| {
                format!(
                    "Source {} is now {}.",
                    src.name,
                    if src.enabled { "enabled" } else { "disabled" }
                )
            }),
        "remove" => app.gate.remove_source(id).await.map(|()| {
            app.refreshes.forget(id);
            format!(
                "Source {} was removed with everything it brought.",
                source.name
            )
        }),
        other => {
            return result(
                StatusCode::BAD_REQUEST,
                &format!("Unknown action {other:?}."),
                back,
            )
        }
    };
    match outcome {
        Ok(message) => {
            tracing::info!(admin = %session.admin, source = id.0, action, "source changed in the console");
            result(StatusCode::OK, &message, back)
        }
        Err(e) => gate_failed(e, back),
    }
}

// ----- progress -----

/// `GET /admin/sources/{id}/refresh`: the last refresh job; reloads itself
/// every second while it runs.
async fn progress_page(
    State(app): State<App>,
    Path(raw): Path<String>,
    _: ConsolePage,
) -> Response {
    let source = match find(&app, &raw, "/admin/sources").await {
        Ok(source) => source,
        Err(r) => return *r,
    };
    let back = html! {
        p {
            a href={ "/admin/sources/" (source.id.0) } { "The source" } " · "
            a href="/admin/sources" { "All sources" }
        }
    };
    let Some(job) = app.refreshes.get(source.id).map(|p| p.state(source.id)) else {
        let body = html! {
            p { "No refresh of " (source.name) " was started since the server started." }
            (back)
        };
        return render(StatusCode::OK, "Refresh", body);
    };
    let title = format!("Refresh of {}", source.name);
    let body = html! {
        (nav())
        h1 { (title) }
        p {
            "Phase: " b class="phase" { (job.phase.as_str()) } "; started " (when(job.started))
            @if let Some(finished) = job.finished {
                ", finished " (when(finished))
            }
            "."
        }
        @match (job.total, job.phase) {
            (_, Phase::Done | Phase::Failed) => {}
            (Some(total), _) if total > 0 => p {
                progress max=(total) value=(job.bytes.min(total)) {}
                " " (job.bytes) " of " (total) " bytes (" (job.bytes.min(total) * 100 / total) "%)"
            },
            _ => p { (job.bytes) " bytes" },
        }
        @if job.entries > 0 {
            p class="entries" {
                (job.entries) " entries read"
                @let secs = job.finished.unwrap_or_else(|| app.now()) - job.started;
                @if secs > 0 {
                    " (" (job.entries / secs as u64) " a second)"
                }
            }
        }
        @match (&job.summary, &job.error) {
            (Some(summary), _) => p { "Imported: " (summary) "." },
            (_, Some(error)) => p class="error" { "Failed: " (error) },
            _ => {}
        }
        @if job.phase == Phase::Done && !source.diagnostics.is_empty() {
            p {
                a href={ "/admin/sources/" (source.id.0) } {
                    (source.diagnostic_rows().count()) " line(s) were skipped"
                }
                "."
            }
        }
        (back)
    };
    // Without JavaScript: the browser reloads the page every second.
    let html = reloading_page(&title, body, job.phase.is_running().then_some(1));
    (StatusCode::OK, no_store(), Html(html.into_string())).into_response()
}

// ----- one source -----

/// `GET /admin/sources/{id}?q=&offset=`: the import errors and the
/// channels, searchable and paged, each with Enable/Disable.
async fn source_page(
    State(app): State<App>,
    Path(raw): Path<String>,
    QueryParams(query): QueryParams,
    ConsolePage(s): ConsolePage,
) -> Response {
    let source = match find(&app, &raw, "/admin/sources").await {
        Ok(source) => source,
        Err(r) => return *r,
    };
    let search = query.str("q").trim().to_string();
    let offset = query.number::<u32>("offset").unwrap_or(0);
    let page = match app
        .gate
        .streams(StreamQuery {
            stream: None,
            source: Some(source.id),
            search: search.clone(),
            enabled: None,
            offset,
            limit: CHANNELS_PER_PAGE,
        })
        .await
    {
        Ok(p) => p,
        Err(e) => return gate_failed(e, "/admin/sources"),
    };
    let csrf = csrf_input(&s);
    let here = format!(
        "/admin/sources/{}?q={}&offset={offset}",
        source.id.0,
        qv(&search)
    );
    let pager = |o: u32, text: &str| {
        html! {
            a href=(format!("/admin/sources/{}?q={}&offset={o}", source.id.0, qv(&search))) { (text) }
            " "
        }
    };
    let body = html! {
        p {
            (source.kind.as_str()) " source " b { (source.name) } " from "
            (redact_location(&source.location)) "; "
            @if source.enabled { "enabled" } @else { "disabled (players see none of it)" }
            "; last refresh " (source.last_refresh.map(when).unwrap_or_else(|| "never".into()))
            "; " (source.item_count) " item(s)"
            @if let Some(a) = &source.account {
                "; account " b { (a.username) }
                @if source.max_connections == 0 && a.max_connections > 0 {
                    ", " (a.max_connections) " connection(s) (the account's)"
                }
            }
            ". "
            a href={ "/admin/sources/" (source.id.0) "/refresh" } { "Last refresh job" }
        }
        @if let Some(h) = &source.held {
            form method="post" action="/admin/sources/action" class="held" {
                (csrf)
                p class="error" { "A refresh is held since " (when(h.at)) ": " (h.reason) " " }
                input type="hidden" name="id" value=(source.id.0);
                button name="action" value="accept_shrink" { "Apply held refresh" }
            }
        }
        @if let Some(e) = &source.last_error {
            p class="error" { "The last refresh failed: " (e) }
        }
        h2 { "Upstream identity" }
        p {
            "Sent on every request to this source (the relay, HLS, films, refreshes): user agent "
            @if let Some(ua) = &source.identity.user_agent { code { (ua) } } @else { "tvgate's own" }
            "; extra headers: "
            @if source.identity.headers.is_empty() { "none" } @else {
                @for (i, h) in source.identity.shown_headers().iter().enumerate() {
                    @if i > 0 { ", " }
                    code { (h) }
                }
                " (values are never shown)"
            }
            "."
        }
        form method="post" action={ "/admin/sources/" (source.id.0) "/identity" } {
            (csrf)
            label {
                "User agent (empty: tvgate's own) "
                input name="user_agent" size="60" value=(source.identity.user_agent.as_deref().unwrap_or_default());
            }
            br;
            label {
                "Replace the headers with (one Name: value a line; empty: keep them)"
                br;
                textarea name="headers" rows="3" cols="80" {}
            }
            br;
            label { input type="checkbox" name="clear_headers" value="yes"; " Remove every extra header" }
            br;
            button type="submit" { "Save" }
        }
        @if source.enabled {
            @let m = app.gate.catalog().guide_matches((source.kind != SourceKind::Xmltv).then_some(source.id));
            p class="guide" { "Guide: " (m) "." }
        }
        h2 { "Import errors (" (source.diagnostic_rows().count()) ")" }
        @if source.diagnostics.is_empty() {
            p { "The last refresh skipped no line." }
        } @else {
            table class="sortable" {
                thead { tr { th { "Line" } th { "Problem" } } }
                tbody {
                    @for d in source.diagnostic_rows() {
                        tr {
                            td { @if let Some(n) = d.line() { (n) } }
                            td { (d.message()) }
                        }
                    }
                }
            }
        }
        h2 { "Channels (" (page.total) ")" }
        form method="get" action={ "/admin/sources/" (source.id.0) } {
            input name="q" value=(search) placeholder="name";
            button type="submit" { "Search" }
        }
        table class="sortable" {
            thead {
                tr { th { "ID" } th { "Kind" } th { "Name" } th { "Category" } th { "Enabled" } th {} }
            }
            tbody {
                @for c in &page.items {
                    tr {
                        td { (c.id.0) }
                        td { (c.kind) }
                        td { (c.name) }
                        td { (c.category.as_deref().unwrap_or("")) }
                        td { @if c.enabled { "yes" } @else { "no" } }
                        td {
                            form method="post" action="/admin/channels/action" {
                                (csrf)
                                input type="hidden" name="id" value=(c.id.0);
                                input type="hidden" name="back" value=(here);
                                @if c.enabled {
                                    button name="action" value="disable" { "Disable" }
                                } @else {
                                    button name="action" value="enable" { "Enable" }
                                }
                            }
                            @if c.kind == "live" && c.enabled {
                                " "
                                a href={ "/admin/channels/" (c.id.0) "/backups" } {
                                    "Backups (" (app.gate.catalog().backups(c.id).len()) ")"
                                }
                            }
                        }
                    }
                }
            }
        }
        p {
            @if offset > 0 {
                (pager(offset.saturating_sub(CHANNELS_PER_PAGE), "Previous"))
            }
            @if u64::from(offset) + u64::from(CHANNELS_PER_PAGE) < page.total {
                (pager(offset + CHANNELS_PER_PAGE, "Next"))
            }
        }
    };
    render(StatusCode::OK, &format!("Source {}", source.name), body)
}

/// `POST /admin/channels/action` (form: `id`, `action`: enable or disable,
/// `back`: the console page to return to).
async fn channel_action(
    State(app): State<App>,
    ConsoleForm { session, form, .. }: ConsoleForm,
) -> Response {
    // Only a console page (never an open redirect), and only characters a
    // Location header can carry (the pages send it percent-encoded).
    let back = field(&form, "back")
        .filter(|b| b.starts_with("/admin/") && b.bytes().all(|c| c.is_ascii_graphic()))
        .unwrap_or("/admin/sources");
    let raw = field(&form, "id").unwrap_or_default().trim();
    let Some(id) = raw.parse::<u32>().ok().map(StreamId) else {
        return result(
            StatusCode::BAD_REQUEST,
            "id must be a channel's number",
            back,
        );
    };
    let enabled = match field(&form, "action") {
        Some("enable") => true,
        Some("disable") => false,
        other => {
            return result(
                StatusCode::BAD_REQUEST,
                &format!("Unknown action {:?}.", other.unwrap_or_default()),
                back,
            )
        }
    };
    match find_stream(&app, id).await {
        Ok(Some(_)) => {}
        Ok(None) => {
            return result(
                StatusCode::NOT_FOUND,
                &format!("No channel {}.", id.0),
                back,
            )
        }
        Err(e) => return result(e.status, &e.message, back),
    }
    match app.gate.set_stream_enabled(id, enabled).await {
        Ok(()) => {
            tracing::info!(admin = %session.admin, stream = id.0, enabled, "channel switched in the console");
            see_other(back)
        }
        Err(e) => gate_failed(e, back),
    }
}

// ----- a channel's backups -----

/// The live channel behind `raw`, or the page that says why not.
async fn live_channel(
    app: &App,
    raw: &str,
) -> Result<tvgate_core::ports::StreamRow, Box<Response>> {
    let back = "/admin/sources";
    let missing = || {
        Box::new(result(
            StatusCode::NOT_FOUND,
            &format!("No channel {raw}."),
            back,
        ))
    };
    let id = raw.parse::<u32>().map(StreamId).map_err(|_| missing())?;
    match find_stream(app, id).await {
        Ok(Some(row)) if row.kind == "live" => Ok(row),
        Ok(Some(_)) => Err(Box::new(result(
            StatusCode::BAD_REQUEST,
            "Backups are for live channels.",
            back,
        ))),
        Ok(None) => Err(missing()),
        Err(e) => Err(Box::new(result(e.status, &e.message, back))),
    }
}

/// `GET /admin/channels/{id}/backups`: a live channel's backup URLs
/// (redacted: they may hold a provider's credentials, which are never
/// shown back) and a form that replaces them.
async fn backups_page(
    State(app): State<App>,
    Path(raw): Path<String>,
    ConsolePage(s): ConsolePage,
) -> Response {
    let row = match live_channel(&app, &raw).await {
        Ok(row) => row,
        Err(r) => return *r,
    };
    let catalog = app.gate.catalog();
    let current = catalog.backups(row.id);
    let body = html! {
        p {
            "Live channel " b { (row.name) } " (stream " (row.id.0) ") of "
            a href={ "/admin/sources/" (row.source.0) } { "its source" } ". \
            When its source fails or stalls, the relay tries these in order."
        }
        @if current.is_empty() {
            p { "No backups: when the source fails, viewers get the slate until it is back." }
        } @else {
            ol {
                @for url in current {
                    li { code { (redact_url(url)) } }
                }
            }
        }
        form method="post" action={ "/admin/channels/" (row.id.0) "/backups" } {
            (csrf_input(&s))
            label {
                "Replace with (one URL a line; empty: none)"
                br;
                textarea name="urls" rows="5" cols="80" {}
            }
            br;
            button type="submit" { "Save" }
        }
    };
    render(StatusCode::OK, "Backups", body)
}

/// `POST /admin/sources/{id}/identity` (form: `user_agent`, empty for
/// tvgate's own; `headers`, one `Name: value` a line, replacing them all
/// when not empty; `clear_headers=yes`): the same `Gate::update_source` as
/// `tvgate source set` and the API. Errors name a header, never its value.
async fn set_identity(
    State(app): State<App>,
    Path(raw): Path<String>,
    ConsoleForm { session, form, .. }: ConsoleForm,
) -> Response {
    let source = match find(&app, &raw, "/admin/sources").await {
        Ok(source) => source,
        Err(r) => return *r,
    };
    let back = format!("/admin/sources/{}", source.id.0);
    let ua = field(&form, "user_agent").unwrap_or_default().trim();
    let lines: Vec<&str> = field(&form, "headers")
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    let headers = if field(&form, "clear_headers") == Some("yes") {
        Some(Vec::new())
    } else if lines.is_empty() {
        None
    } else {
        match lines
            .iter()
            .map(|l| tvgate_core::catalog::UpstreamHeader::parse(l))
            .collect::<Result<Vec<_>, _>>()
        {
            Ok(h) => Some(h),
            Err(why) => return result(StatusCode::BAD_REQUEST, &why, &back),
        }
    };
    let patch = SourcePatch {
        user_agent: Some((!ua.is_empty()).then(|| ua.to_string())),
        headers,
        ..SourcePatch::default()
    };
    match app.gate.update_source(source.id, patch).await {
        Ok(src) => {
            tracing::info!(admin = %session.admin, source = src.id.0, headers = src.identity.headers.len(), "source identity set in the console");
            result(
                StatusCode::OK,
                &format!(
                    "{} now sends {} and {} extra header(s).",
                    src.name,
                    src.identity.user_agent.as_deref().map_or_else(
                        || "tvgate's own user agent".to_string(),
                        |ua| format!("the user agent {ua}")
                    ),
                    src.identity.headers.len()
                ),
                &back,
            )
        }
        Err(e) => gate_failed(e, &back),
    }
}

/// `POST /admin/channels/{id}/backups` (form: `urls`, one a line): the same
/// `Gate::set_backups` as `tvgate channel backup` and the API.
async fn set_backups(
    State(app): State<App>,
    Path(raw): Path<String>,
    ConsoleForm { session, form, .. }: ConsoleForm,
) -> Response {
    let row = match live_channel(&app, &raw).await {
        Ok(row) => row,
        Err(r) => return *r,
    };
    let back = format!("/admin/channels/{}/backups", row.id.0);
    let urls: Vec<String> = field(&form, "urls")
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    let count = urls.len();
    if let Err(e) = super::check_egress(&app, "backups", urls.iter().map(String::as_str)).await {
        return gate_failed(e, &back);
    }
    match app.gate.set_backups(row.id, urls).await {
        Ok(()) => {
            tracing::info!(admin = %session.admin, stream = row.id.0, count, "backups set in the console");
            result(
                StatusCode::OK,
                &format!("{} now has {count} backup URL(s).", row.name),
                &back,
            )
        }
        Err(e) => gate_failed(e, &back),
    }
}
