//! The console's pages for one line and for many: the line page (every
//! field, the device policy, a password reset shown once), removing one
//! bound device, bulk creation, CSV import (a pasted `<textarea>`, so it
//! works without JavaScript or multipart) and the CSV export.
//!
//! Same rules as [`super::console`]: a session for every page, the CSRF
//! token on every change, every value escaped; the changes call the same
//! gate operations and [`super::lines`] helpers as the API.

use super::console::{csrf_input, find_line, gate_failed, number, render, result, seg, when};
use super::lines;
use super::session::{esc, field, ConsoleForm, ConsolePage};
use crate::params::Params;
use crate::state::App;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use std::fmt::Write as _;
use tvgate_core::access::device::{Enrolment, IpRange};
use tvgate_core::access::lines_csv::{parse_expiry, EXPORT_COLUMNS, MAX_NOTE_CHARS};
use tvgate_core::access::{AccountPatch, OutputFormat, OutputFormats, Status};
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

fn selected(on: bool) -> &'static str {
    if on {
        " selected"
    } else {
        ""
    }
}

fn checked(on: bool) -> &'static str {
    if on {
        " checked"
    } else {
        ""
    }
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
    let status: String = [Status::Active, Status::Disabled, Status::Banned]
        .iter()
        .map(|st| {
            format!(
                "<option value=\"{0}\"{1}>{0}</option>",
                st.as_str(),
                selected(a.status == *st)
            )
        })
        .collect();
    let policy: String = [
        (None, "default"),
        (Some(LimitPolicy::Refuse), "refuse"),
        (Some(LimitPolicy::NewestWins), "newest_wins"),
    ]
    .iter()
    .map(|(p, label)| {
        format!(
            "<option value=\"{label}\"{}>{label}</option>",
            selected(a.limit_policy == *p)
        )
    })
    .collect();
    let formats: String = OutputFormat::ALL
        .iter()
        .map(|f| {
            format!(
                "<label><input type=\"checkbox\" name=\"format\" value=\"{0}\"{1}> {0}</label> ",
                f.as_str(),
                checked(a.allowed_formats.contains(*f))
            )
        })
        .collect();
    let catalog = app.gate.catalog();
    let mut categories = String::new();
    for c in catalog.categories.iter() {
        let on = a.package.as_ref().is_some_and(|p| p.contains(&c.id));
        let _ = write!(
            categories,
            "<label><input type=\"checkbox\" name=\"category\" value=\"{}\"{}> {} ({})</label><br>",
            c.id.0,
            checked(on),
            esc(&c.name),
            c.kind.as_str()
        );
    }
    let binding = app.gate.binding(a.id);
    let dp = binding
        .as_ref()
        .map(|b| b.policy.clone())
        .unwrap_or_default();
    let ip_lock: Vec<String> = dp.ip_lock.iter().map(|r| r.to_string()).collect();
    let expires = date_of(a.expires_at);
    let body = format!(
        "<p>Created {created}; expires {exp}; {devices} device(s) bound · \
         <a href=\"{path}/devices\">Devices</a></p>\
         <form method=\"post\" action=\"{path}\">{csrf}\
         <input type=\"hidden\" name=\"expires_was\" value=\"{expires}\">\
         <p><label>Status <select name=\"status\">{status}</select></label></p>\
         <p><label>Expires (empty: never) <input type=\"date\" name=\"expires\" value=\"{expires}\"></label></p>\
         <p><label><input type=\"checkbox\" name=\"is_trial\" value=\"1\"{trial}> Trial</label></p>\
         <p><label>Max connections (0: unlimited) <input type=\"number\" name=\"max_connections\" min=\"0\" value=\"{maxc}\"></label></p>\
         <p><label>Limit policy <select name=\"limit_policy\">{policy}</select></label></p>\
         <p>Output formats: {formats}</p>\
         <fieldset><legend>Package</legend>\
         <label><input type=\"radio\" name=\"package\" value=\"all\"{all}> Everything</label> \
         <label><input type=\"radio\" name=\"package\" value=\"only\"{only}> Only these categories:</label><br>\
         {categories}</fieldset>\
         <fieldset><legend>Devices (docs/devices.md)</legend>\
         <label>Device limit (0: binding off) <input type=\"number\" name=\"device_limit\" min=\"0\" value=\"{dlimit}\"></label> \
         <label>Enrolment <select name=\"enrolment\"><option value=\"auto\"{auto}>auto</option>\
         <option value=\"operator\"{oper}>operator</option></select></label> \
         <label>IP lock (addresses or ranges, comma-separated; empty: anywhere) \
         <input name=\"ip_lock\" value=\"{iplock}\"></label></fieldset>\
         <p><label>Note <input name=\"note\" value=\"{note}\" maxlength=\"{MAX_NOTE_CHARS}\"></label></p>\
         <button type=\"submit\">Save</button></form>\
         <h2>Password</h2><form method=\"post\" action=\"{path}/password\">{csrf}\
         <button type=\"submit\">Generate a new password</button></form>",
        created = when(a.created_at),
        exp = a.expires_at.map(when).unwrap_or_else(|| "never".into()),
        devices = binding.as_ref().map_or(0, |b| b.devices.len()),
        trial = checked(a.is_trial),
        maxc = a.max_connections,
        all = checked(a.package.is_none()),
        only = checked(a.package.is_some()),
        dlimit = dp.limit,
        auto = selected(dp.enrolment == Enrolment::Auto),
        oper = selected(dp.enrolment == Enrolment::Operator),
        iplock = esc(&ip_lock.join(", ")),
        note = esc(&a.note),
    );
    render(StatusCode::OK, &format!("Line {}", a.username), &body)
}

/// The edit form into the line's patch and device patch, or what is wrong.
fn read_edit(
    app: &App,
    form: &Params,
    current: &tvgate_core::access::Account,
) -> Result<(AccountPatch, DevicePolicyPatch), String> {
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
    let patch = AccountPatch {
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
    if let Err(e) = app.gate.update_account(&current.username, patch).await {
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

/// `POST /admin/lines/{name}/password`: a generated password, shown once.
async fn reset_password(
    State(app): State<App>,
    Path(name): Path<String>,
    ConsoleForm { session, .. }: ConsoleForm,
) -> Response {
    let back = line_back(&name);
    match app.gate.set_password(&name, None).await {
        Ok((a, password)) => {
            tracing::info!(admin = %session.admin, line = %a.username, "password reset in the console");
            render(
                StatusCode::OK,
                "New password",
                &format!(
                    "<p>The new password of <b>{}</b> (shown only now): \
                     <code class=\"password\">{}</code></p><p><a href=\"{}\">Back</a></p>",
                    esc(&a.username),
                    esc(&password),
                    esc(&back)
                ),
            )
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
    let bound = app
        .gate
        .binding(line.id)
        .is_some_and(|b| b.devices.iter().any(|d| d.id == id));
    if !bound {
        return result(
            StatusCode::NOT_FOUND,
            "That device is not bound to this line.",
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
fn passwords_table(made: &[(String, String)]) -> String {
    let mut rows = String::new();
    for (u, p) in made {
        let _ = write!(
            rows,
            "<tr><td>{}</td><td><code class=\"password\">{}</code></td></tr>",
            esc(u),
            esc(p)
        );
    }
    format!(
        "<p>The passwords are shown only now; copy them.</p>\
         <table><thead><tr><th>Username</th><th>Password</th></tr></thead><tbody>{rows}</tbody></table>"
    )
}

/// `GET /admin/bulk`: the bulk-create form.
async fn bulk_page(ConsolePage(s): ConsolePage) -> Response {
    let body = format!(
        "<p>Creates lines named PREFIX001, PREFIX002, … with generated passwords; \
         a name that exists is skipped and the next number taken.</p>\
         <form method=\"post\" action=\"/admin/bulk\">{}\
         <label>How many <input name=\"count\" type=\"number\" min=\"1\" max=\"{MAX_BULK}\" value=\"10\" required></label> \
         <label>Username prefix <input name=\"prefix\" required placeholder=\"hotel-\"></label> \
         <label>Days (0: never expires) <input name=\"days\" type=\"number\" min=\"0\" max=\"36500\" value=\"30\"></label> \
         <label>Connections <input name=\"max_connections\" type=\"number\" min=\"0\" value=\"1\"></label> \
         <label><input name=\"is_trial\" type=\"checkbox\" value=\"1\"> Trial</label> \
         <label>Note <input name=\"note\"></label> \
         <button type=\"submit\">Create</button></form>",
        csrf_input(&s)
    );
    render(StatusCode::OK, "Create many lines", &body)
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
            render(
                StatusCode::CREATED,
                &format!("{} lines created", made.len()),
                &format!(
                    "{}<p><a href=\"/admin/lines\">Back to the lines</a></p>",
                    passwords_table(&made)
                ),
            )
        }
        Err(e) => result(e.status, &e.message, back),
    }
}

/// `GET /admin/import`: the import form (the CSV is pasted).
async fn import_page(ConsolePage(s): ConsolePage) -> Response {
    let body = format!(
        "<p>Paste a CSV with a header row: <code>username</code> and any of <code>password</code>, \
         {}. Existing lines change only in the columns given; new lines without a password get \
         a generated one, shown once. Bad rows are reported by line number and the rest is imported. \
         An <a href=\"/admin/export.csv\">export</a> imports back unchanged.</p>\
         <form method=\"post\" action=\"/admin/import\">{}\
         <textarea name=\"csv\" rows=\"20\" cols=\"100\" required></textarea><br>\
         <button type=\"submit\">Import</button></form>",
        EXPORT_COLUMNS[1..]
            .iter()
            .map(|c| format!("<code>{c}</code>"))
            .collect::<Vec<_>>()
            .join(", "),
        csrf_input(&s)
    );
    render(StatusCode::OK, "Import lines", &body)
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
    let mut errors = String::new();
    for e in &report.errors {
        let _ = write!(
            errors,
            "<tr><td>{}</td><td>{}</td></tr>",
            e.line,
            esc(&e.message)
        );
    }
    let errors = if errors.is_empty() {
        String::new()
    } else {
        format!(
            "<h2>Refused rows ({})</h2><table><thead><tr><th>Line</th><th>Why</th></tr></thead>\
             <tbody>{errors}</tbody></table>",
            report.errors.len()
        )
    };
    let generated = if report.generated.is_empty() {
        String::new()
    } else {
        format!(
            "<h2>Generated passwords</h2>{}",
            passwords_table(&report.generated)
        )
    };
    render(
        StatusCode::OK,
        "Import done",
        &format!(
            "<p>{} created, {} updated, {} refused.</p>{errors}{generated}\
             <p><a href=\"/admin/lines\">Back to the lines</a></p>",
            report.counts.created,
            report.counts.updated,
            report.errors.len()
        ),
    )
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
