//! The console's pages for one line and for many: the line page (every
//! field, the device policy, a password reset shown once), removing one
//! bound device, bulk creation, CSV import (a pasted `<textarea>`, so it
//! works without JavaScript or multipart) and the CSV export.
//!
//! Same rules as [`super::console`]: a session for every page, the CSRF
//! token on every change, maud templates (every value is text by its
//! type); the changes call the same gate operations and [`super::lines`]
//! helpers as the API.

use super::console::{
    confirm, csrf_input, find_line, gate_failed, number, render, result, seg, when,
};
use super::lines;
use super::session::{field, ConsoleForm, ConsolePage};
use crate::params::Params;
use crate::state::App;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};
use tvgate_core::access::device::{Enrolment, IpRange};
use tvgate_core::access::lines_csv::{parse_expiry, EXPORT_COLUMNS, MAX_NOTE_CHARS};
use tvgate_core::access::{LinePatch, OutputFormat, OutputFormats, Status};
use tvgate_core::gate::{BulkSpec, DevicePolicyPatch, MAX_BULK};
use tvgate_core::ids::DeviceId;
use tvgate_core::ledger::LimitPolicy;

pub(super) fn routes() -> Router<App> {
    Router::new()
        .route("/admin/lines/{name}", get(line_page).post(edit_line))
        .route("/admin/lines/{name}/password", post(reset_password))
        .route("/admin/lines/{name}/devices/remove", post(remove_device))
        .route("/admin/bulk", get(bulk_page).post(bulk_create))
        .route(
            "/admin/import",
            get(import_page)
                .post(import)
                .layer(DefaultBodyLimit::max(lines::MAX_CSV_BYTES)),
        )
        .route("/admin/export.csv", get(export))
}

fn line_back(name: &str) -> String {
    format!("/admin/lines/{}", seg(name))
}

/// The date part of an expiry, as a date input shows it.
fn date_of(t: Option<i64>) -> String {
    t.map(|t| when(t)[..10].to_string()).unwrap_or_default()
}

// ----- one line -----

/// `GET /admin/lines/{name}`: every setting of a line in one form.
async fn line_page(
    State(app): State<App>,
    Path(name): Path<String>,
    ConsolePage(s): ConsolePage,
) -> Response {
    let a = match find_line(&app, &name) {
        Ok(line) => line,
        Err(r) => return *r,
    };
    let csrf = csrf_input(&s);
    let path = line_back(&a.username);
    let catalog = app.gate.catalog();
    let binding = app.gate.binding(a.id);
    let dp = binding
        .as_ref()
        .map(|b| b.policy.clone())
        .unwrap_or_default();
    let ip_lock: Vec<String> = dp.ip_lock.iter().map(|r| r.to_string()).collect();
    let expires = date_of(a.expires_at);
    let policies = [
        (None, "default"),
        (Some(LimitPolicy::Refuse), "refuse"),
        (Some(LimitPolicy::NewestWins), "newest_wins"),
    ];
    let body = html! {
        p {
            "Created " (when(a.created_at)) "; expires "
            (a.expires_at.map(when).unwrap_or_else(|| "never".into())) "; "
            (binding.as_ref().map_or(0, |b| b.devices.len())) " device(s) bound · "
            a href={ (path) "/devices" } { "Devices" } " · "
            a href="#timeline" { "Timeline" }
        }
        form method="post" action=(path) {
            (csrf)
            input type="hidden" name="expires_was" value=(expires);
            p {
                label {
                    "Status "
                    select name="status" {
                        @for st in [Status::Active, Status::Disabled, Status::Banned] {
                            option value=(st.as_str()) selected[a.status == st] { (st.as_str()) }
                        }
                    }
                }
            }
            p { label { "Expires (empty: never) " input type="date" name="expires" value=(expires); } }
            p { label { input type="checkbox" name="is_trial" value="1" checked[a.is_trial]; " Trial" } }
            p {
                label {
                    "Max connections (0: unlimited) "
                    input type="number" name="max_connections" min="0" value=(a.max_connections);
                }
            }
            p {
                label {
                    "Limit policy "
                    select name="limit_policy" {
                        @for (policy, label) in policies {
                            option value=(label) selected[a.limit_policy == policy] { (label) }
                        }
                    }
                }
            }
            p {
                "Output formats: "
                @for f in OutputFormat::ALL {
                    label {
                        input type="checkbox" name="format" value=(f.as_str()) checked[a.allowed_formats.contains(f)];
                        " " (f.as_str())
                    }
                    " "
                }
            }
            fieldset {
                legend { "Package" }
                label { input type="radio" name="package" value="all" checked[a.package.is_none()]; " Everything" }
                " "
                label { input type="radio" name="package" value="only" checked[a.package.is_some()]; " Only these categories:" }
                br;
                @for c in catalog.categories.iter() {
                    label {
                        input type="checkbox" name="category" value=(c.id.0)
                            checked[a.package.as_ref().is_some_and(|p| p.contains(&c.id))];
                        " " (c.name) " (" (c.kind.as_str()) ")"
                    }
                    br;
                }
            }
            fieldset {
                legend { "Devices (docs/devices.md)" }
                label {
                    "Device limit (0: binding off) "
                    input type="number" name="device_limit" min="0" value=(dp.limit);
                }
                " "
                label {
                    "Enrolment "
                    select name="enrolment" {
                        option value="auto" selected[dp.enrolment == Enrolment::Auto] { "auto" }
                        option value="operator" selected[dp.enrolment == Enrolment::Operator] { "operator" }
                    }
                }
                " "
                label {
                    "IP lock (addresses or ranges, comma-separated; empty: anywhere) "
                    input name="ip_lock" value=(ip_lock.join(", "));
                }
            }
            p { label { "Note " input name="note" value=(a.note) maxlength=(MAX_NOTE_CHARS); } }
            button type="submit" { "Save" }
        }
        h2 { "Password" }
        form method="post" action={ (path) "/password" } {
            (csrf)
            button type="submit" class="danger"
                data-confirm={ "Give " (a.username) " a new password? The current one stops working at once." } { "Generate a new password" }
        }
        (timeline(&app, &a).await)
    };
    render(StatusCode::OK, &format!("Line {}", a.username), body)
}

/// "1 h 5 min", "3 min 20 s", "12 s".
fn took(secs: i64) -> String {
    let secs = secs.max(0);
    match secs {
        s if s >= 3600 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        s if s >= 60 => format!("{} min {} s", s / 60, s % 60),
        s => format!("{s} s"),
    }
}

/// A line's story, newest first: what it watches now, then its logins,
/// streams (channel, player, address, start, end, why it ended) and
/// refusals with their reason and what the player was told, merged by
/// time, so a support desk answers "why did it say Failed to Authorize at
/// 21:10" from one page.
async fn timeline(app: &App, line: &tvgate_core::access::Line) -> Markup {
    let story = super::timeline::story(app, line, super::timeline::DEFAULT_LIMIT).await;
    let (now_watching, entries) = (&story.now, &story.entries);
    html! {
        h2 id="timeline" { "Timeline" }
        p class="muted" {
            "Logins, streams and refusals, newest first (the last " (super::timeline::DEFAULT_LIMIT) "; times in UTC; as JSON: " code { "GET /api/v1/lines/" (line.username) "/timeline" } "). "
            a href={ "/admin/denials?line=" (super::console::qv(&line.username)) } { "Every refusal of this line" }
        }
        ol class="timeline" {
            @for c in now_watching {
                li class="stream now" {
                    span class="at" { (when(c.lease.started)) }
                    span class="kind" { "watching" }
                    span {
                        b { (c.watching.clone().unwrap_or_else(|| format!("stream {}", c.lease.stream.0))) }
                        " · " (c.lease.user_agent) " · " (c.lease.ip)
                        " · since " (took(app.now() - c.lease.started)) " ago"
                    }
                }
            }
            @for e in entries {
                @match e {
                    super::timeline::Entry::Event(e) if e.kind == tvgate_core::timeline::EventKind::Login => li class="login" {
                        span class="at" { (when(e.at)) }
                        span class="kind" { "login" }
                        span { (e.detail) " · " (e.player) " · " (e.ip) }
                    },
                    super::timeline::Entry::Event(e) => li class="stream" {
                        span class="at" { (when(e.at)) }
                        span class="kind" { "stream" }
                        span {
                            b { (e.channel) } " · " (e.player) " · " (e.ip)
                            @if let Some(end) = e.ended {
                                " · ended " (when(end)) " after " (took(end - e.at))
                                ": " span class="why" { (super::timeline::why_ended(&e.detail)) }
                            }
                        }
                    },
                    super::timeline::Entry::Refusal(r) => li class="refusal" {
                        span class="at" { (when(r.at)) }
                        span class="kind" { "refused" }
                        span {
                            a href={ "/admin/denials?reason=" (super::console::qv(&r.reason)) } { code { (r.reason) } }
                            " " (r.text) " · " (r.face) " · " (r.ip)
                        }
                    },
                }
            }
        }
        @if entries.is_empty() && now_watching.is_empty() {
            p class="muted" { "Nothing recorded yet." }
        }
    }
}

/// The edit form into the line's patch and device patch, or what is wrong.
fn read_edit(
    app: &App,
    form: &Params,
    current: &tvgate_core::access::Line,
) -> Result<(LinePatch, DevicePolicyPatch), String> {
    let all = |name: &str| -> Vec<&str> { form.all(name).collect() };
    let status = field(form, "status")
        .map(|v| v.parse::<Status>())
        .transpose()?;
    let expires = field(form, "expires").unwrap_or("").trim();
    let expires_at = if expires == field(form, "expires_was").unwrap_or("").trim() {
        None
    } else if expires.is_empty() {
        Some(None)
    } else {
        Some(parse_expiry(expires).map_err(|e| format!("expires: {e}"))?)
    };
    let max_connections = number(form, "max_connections", 0..=u32::MAX)?;
    let limit_policy = field(form, "limit_policy")
        .map(LimitPolicy::parse_for_line)
        .transpose()?;
    let mut formats = OutputFormats::empty();
    for name in all("format") {
        formats = formats.with(
            OutputFormat::from_name(name)
                .ok_or_else(|| format!("unknown output format {name:?}"))?,
        );
    }
    if formats == OutputFormats::empty() {
        return Err("tick at least one output format".into());
    }
    let package = match field(form, "package").unwrap_or("all") {
        "all" => None,
        "only" => {
            let ids = all("category")
                .into_iter()
                .map(|v| v.trim().parse::<u32>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| "package: a category is not a number".to_string())?;
            if ids.is_empty() {
                return Err("package: tick at least one category, or choose Everything".to_string());
            }
            Some(lines::package(app, &ids)?)
        }
        other => return Err(format!("package must be all or only, not {other:?}")),
    };
    let note = field(form, "note").unwrap_or_default();
    if note.chars().count() > MAX_NOTE_CHARS {
        return Err(format!("note must be at most {MAX_NOTE_CHARS} characters"));
    }
    let patch = LinePatch {
        status,
        expires_at,
        is_trial: Some(field(form, "is_trial").is_some()),
        max_connections,
        limit_policy,
        allowed_formats: Some(formats),
        note: Some(note.to_string()),
        package: Some(package),
        password: None,
    };
    // The device rules change only where the form differs from them, so a
    // save that touches nothing else writes no policy audit entry.
    let now = app
        .gate
        .binding(current.id)
        .map(|b| b.policy.clone())
        .unwrap_or_default();
    let limit = number(form, "device_limit", 0..=1000)?.unwrap_or(0);
    let enrolment = match field(form, "enrolment") {
        None => now.enrolment,
        Some(e) => Enrolment::parse(e).ok_or("enrolment must be auto or operator")?,
    };
    let ip_lock = IpRange::parse_list(field(form, "ip_lock").unwrap_or_default())
        .map_err(|e| format!("ip lock: {e}"))?;
    let device = DevicePolicyPatch {
        limit: (limit != now.limit).then_some(limit),
        enrolment: (enrolment != now.enrolment).then_some(enrolment),
        ip_lock: (ip_lock != now.ip_lock).then_some(ip_lock),
    };
    Ok((patch, device))
}

/// `POST /admin/lines/{name}`: the line page's form.
async fn edit_line(
    State(app): State<App>,
    Path(name): Path<String>,
    ConsoleForm { session, form, .. }: ConsoleForm,
) -> Response {
    let back = line_back(&name);
    let current = match find_line(&app, &name) {
        Ok(line) => line,
        Err(r) => return *r,
    };
    let (patch, device) = match read_edit(&app, &form, &current) {
        Ok(p) => p,
        Err(m) => return result(StatusCode::BAD_REQUEST, &m, &back),
    };
    if let Err(e) = app.gate.update_line(&current.username, patch).await {
        return gate_failed(e, &back);
    }
    if !device.is_empty() {
        if let Err(e) = app
            .gate
            .set_device_policy(&current.username, device, app.now())
            .await
        {
            return gate_failed(e, &back);
        }
    }
    tracing::info!(admin = %session.admin, line = %current.username, "line edited in the console");
    result(
        StatusCode::OK,
        &format!("{} was saved.", current.username),
        &back,
    )
}

/// `POST /admin/lines/{name}/password`: asks first; with `confirm=yes`, a
/// generated password, shown once.
async fn reset_password(
    State(app): State<App>,
    Path(name): Path<String>,
    ConsoleForm { session, form, .. }: ConsoleForm,
) -> Response {
    let back = line_back(&name);
    if field(&form, "confirm") != Some("yes") {
        let line = match find_line(&app, &name) {
            Ok(line) => line,
            Err(r) => return *r,
        };
        return confirm(
            &session,
            &format!(
                "Give {} a new generated password? The current one stops working at once: every player of the line must be set up again.",
                line.username
            ),
            &format!("{}/password", line_back(&line.username)),
            &[],
            "Generate a new password",
            &back,
        );
    }
    match app.gate.set_password(&name, None).await {
        Ok((a, password)) => {
            tracing::info!(admin = %session.admin, line = %a.username, "password reset in the console");
            let body = html! {
                p {
                    "The new password of " b { (a.username) } " (shown only now): "
                    code class="password" { (password) }
                }
                p { a href=(back) { "Back" } }
            };
            render(StatusCode::OK, "New password", body)
        }
        Err(e) => gate_failed(e, &back),
    }
}

/// `POST /admin/lines/{name}/devices/remove` (form: `id`): the same
/// `Gate::remove_device` as `DELETE /api/v1/lines/{name}/devices/{id}`.
async fn remove_device(
    State(app): State<App>,
    Path(name): Path<String>,
    ConsoleForm { session, form, .. }: ConsoleForm,
) -> Response {
    let back = format!("{}/devices", line_back(&name));
    let line = match find_line(&app, &name) {
        Ok(line) => line,
        Err(r) => return *r,
    };
    let Some(id) = field(&form, "id")
        .and_then(|v| v.trim().parse::<i64>().ok())
        .map(DeviceId)
    else {
        return result(
            StatusCode::BAD_REQUEST,
            "id must be a device's number",
            &back,
        );
    };
    let Some(device) = app
        .gate
        .binding(line.id)
        .and_then(|b| b.devices.iter().find(|d| d.id == id).cloned())
    else {
        return result(
            StatusCode::NOT_FOUND,
            "That device is not bound to this line.",
            &back,
        );
    };
    if field(&form, "confirm") != Some("yes") {
        return confirm(
            &session,
            &format!(
                "Unbind the {} {} ({}) from {}? It must register again before it plays.",
                device.kind.as_str(),
                device.identifier,
                if device.label.is_empty() {
                    "no label"
                } else {
                    &*device.label
                },
                line.username
            ),
            &format!("{}/devices/remove", line_back(&line.username)),
            &[("id", &id.0.to_string())],
            "Unbind it",
            &back,
        );
    }
    match app.gate.remove_device(&line.username, id, app.now()).await {
        Ok(_) => {
            tracing::info!(admin = %session.admin, line = %line.username, device = id.0, "device removed in the console");
            result(StatusCode::OK, "The device was removed.", &back)
        }
        Err(e) => gate_failed(e, &back),
    }
}

// ----- many lines -----

/// A table of (username, password) shown once.
fn passwords_table(made: &[(String, String)]) -> Markup {
    html! {
        p { "The passwords are shown only now; copy them." }
        table class="sortable" {
            thead { tr { th { "Username" } th { "Password" } } }
            tbody {
                @for (username, password) in made {
                    tr { td { (username) } td { code class="password" { (password) } } }
                }
            }
        }
    }
}

/// `GET /admin/bulk`: the bulk-create form.
async fn bulk_page(ConsolePage(s): ConsolePage) -> Response {
    let body = html! {
        p {
            "Creates lines named PREFIX001, PREFIX002, … with generated passwords; \
             a name that exists is skipped and the next number taken."
        }
        form method="post" action="/admin/bulk" {
            (csrf_input(&s))
            label { "How many " input name="count" type="number" min="1" max=(MAX_BULK) value="10" required; } " "
            label { "Username prefix " input name="prefix" required placeholder="hotel-"; } " "
            label { "Days (0: never expires) " input name="days" type="number" min="0" max="36500" value="30"; } " "
            label { "Connections " input name="max_connections" type="number" min="0" value="1"; } " "
            label { input name="is_trial" type="checkbox" value="1"; " Trial" } " "
            label { "Note " input name="note"; } " "
            button type="submit" { "Create" }
        }
    };
    render(StatusCode::OK, "Create many lines", body)
}

/// `POST /admin/bulk`: the same `Gate::create_lines_in_bulk` as
/// `POST /api/v1/lines/bulk`.
async fn bulk_create(
    State(app): State<App>,
    ConsoleForm { session, form, .. }: ConsoleForm,
) -> Response {
    let back = "/admin/bulk";
    let read = || -> Result<BulkSpec, String> {
        let count = number(&form, "count", 1..=MAX_BULK)?.ok_or("count is required")?;
        let prefix = field(&form, "prefix")
            .unwrap_or_default()
            .trim()
            .to_string();
        if prefix.is_empty() {
            return Err("prefix is required".into());
        }
        let days = number(&form, "days", 0..=36_500)?.unwrap_or(0);
        let note = field(&form, "note").unwrap_or_default().to_string();
        if note.chars().count() > MAX_NOTE_CHARS {
            return Err(format!("note must be at most {MAX_NOTE_CHARS} characters"));
        }
        Ok(BulkSpec {
            count,
            prefix,
            expires_at: (days > 0).then(|| app.now() + i64::from(days) * 86_400),
            max_connections: number(&form, "max_connections", 0..=u32::MAX)?.unwrap_or(1),
            is_trial: field(&form, "is_trial").is_some(),
            note,
        })
    };
    let spec = match read() {
        Ok(spec) => spec,
        Err(m) => return result(StatusCode::BAD_REQUEST, &m, back),
    };
    match lines::bulk(&app, spec).await {
        Ok(made) => {
            tracing::info!(admin = %session.admin, count = made.len(), "lines created in bulk in the console");
            let body = html! {
                (passwords_table(&made))
                p { a href="/admin/lines" { "Back to the lines" } }
            };
            render(
                StatusCode::CREATED,
                &format!("{} lines created", made.len()),
                body,
            )
        }
        Err(e) => result(e.status, &e.message, back),
    }
}

/// `GET /admin/import`: the import form (the CSV is pasted).
async fn import_page(ConsolePage(s): ConsolePage) -> Response {
    let body = html! {
        p {
            "Paste a CSV with a header row: " code { "username" } " and any of " code { "password" }
            @for column in &EXPORT_COLUMNS[1..] {
                ", " code { (column) }
            }
            ". Existing lines change only in the columns given; new lines without a password get \
             a generated one, shown once. Bad rows are reported by line number and the rest is imported. \
             An " a href="/admin/export.csv" { "export" } " imports back unchanged."
        }
        form method="post" action="/admin/import" {
            (csrf_input(&s))
            textarea name="csv" rows="20" cols="100" required {}
            br;
            button type="submit" { "Import" }
        }
    };
    render(StatusCode::OK, "Import lines", body)
}

/// `POST /admin/import` (form: `csv`): the same import as
/// `POST /api/v1/lines/import`.
async fn import(
    State(app): State<App>,
    ConsoleForm { session, form, .. }: ConsoleForm,
) -> Response {
    let back = "/admin/import";
    let text = field(&form, "csv").unwrap_or_default();
    if text.trim().is_empty() {
        return result(StatusCode::BAD_REQUEST, "Paste the CSV first.", back);
    }
    let report = match lines::import_csv(&app, text.as_bytes()).await {
        Ok(r) => r,
        Err(e) => return result(e.status, &e.message, back),
    };
    tracing::info!(admin = %session.admin, created = report.counts.created, updated = report.counts.updated, "lines imported in the console");
    let body = html! {
        p {
            (report.counts.created) " created, " (report.counts.updated) " updated, "
            (report.errors.len()) " refused."
        }
        @if !report.errors.is_empty() {
            h2 { "Refused rows (" (report.errors.len()) ")" }
            table class="sortable" {
                thead { tr { th { "Line" } th { "Why" } } }
                tbody {
                    @for e in &report.errors {
                        tr { td { (e.line) } td { (e.message) } }
                    }
                }
            }
        }
        @if !report.generated.is_empty() {
            h2 { "Generated passwords" }
            (passwords_table(&report.generated))
        }
        p { a href="/admin/lines" { "Back to the lines" } }
    };
    render(StatusCode::OK, "Import done", body)
}

/// `GET /admin/export.csv`: every line, without passwords.
async fn export(State(app): State<App>, _: ConsolePage) -> Response {
    match lines::export_csv(&app) {
        Ok(csv) => (
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
            .into_response(),
        Err(e) => result(e.status, &e.message, "/admin/lines"),
    }
}
