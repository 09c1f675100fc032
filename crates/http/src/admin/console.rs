//! The operator console's pages under `/admin/`: lines (search, paged 500 at
//! a time, create, per-line actions), the live view, the denial log and a
//! line's devices. One line's page, bulk create and CSV import/export are in
//! [`super::console_lines`].
//!
//! Server-rendered HTML without JavaScript. Every page takes a
//! [`ConsolePage`] (a request without a session is sent to the login form);
//! every change is a POST form taking a [`ConsoleForm`], whose session and
//! CSRF token are checked before the handler runs; every value shown is
//! escaped. The changes call the same gate and `slots` operations as the
//! JSON API ([`super::api`]), so the two faces cannot disagree.

use super::session::{
    esc, field, no_store, page, reloading_page, ConsoleForm, ConsolePage, Session,
};
use super::ApiError;
use crate::slots;
use crate::state::App;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use std::fmt::Write as _;
use std::sync::Arc;
use tvgate_core::access::{Account, AccountPatch, Status};
use tvgate_core::gate::AccountSpec;
use tvgate_core::ledger::LeaseId;
use tvgate_core::UnixTime;

/// The console's navigation, shown on the dashboard and every page.
pub const NAV: &str = "<nav><a href=\"/admin/\">Dashboard</a> · \
    <a href=\"/admin/lines\">Lines</a> · <a href=\"/admin/live\">Live</a> · \
    <a href=\"/admin/denials\">Denials</a> · <a href=\"/admin/sources\">Sources</a></nav>";

/// Most lines listed on one lines page (Previous/Next reach the rest).
const SHOWN_LINES: usize = 500;
/// Most audit entries shown on a devices page.
const AUDIT_LIMIT: u32 = 100;

/// The console's routes (merged into the server's router).
pub fn routes() -> Router<App> {
    Router::new()
        .route("/admin/lines", get(lines_page).post(create_line))
        .route("/admin/lines/action", post(line_action))
        .route("/admin/lines/{name}/devices", get(devices_page))
        .route("/admin/lines/{name}/devices/reset", post(reset_devices))
        .route("/admin/live", get(live_page))
        .route("/admin/live/end", post(end_connection))
        .route("/admin/denials", get(denials_page))
        .merge(super::console_lines::routes())
}

// ----- helpers -----

/// The line a console request names, or the 404 page that says so (with
/// the way back to the lines).
pub(super) fn find_line(app: &App, name: &str) -> Result<Arc<Account>, Box<Response>> {
    app.gate.find_account(name).ok_or_else(|| {
        Box::new(result(
            StatusCode::NOT_FOUND,
            &format!("No line named {name:?}."),
            "/admin/lines",
        ))
    })
}

pub(super) fn render(status: StatusCode, title: &str, body: &str) -> Response {
    let body = format!("{NAV}<h1>{}</h1>{body}", esc(title));
    (status, no_store(), Html(page(title, &body))).into_response()
}

/// The step before a change that cannot be undone: what it does, and a
/// form that posts the same fields again with `confirm=yes` (no JavaScript
/// `confirm()`: the console works without scripts).
pub(super) fn confirm(
    session: &Session,
    question: &str,
    action: &str,
    fields: &[(&str, &str)],
    button: &str,
    back: &str,
) -> Response {
    let mut hidden = String::new();
    for (name, value) in fields {
        let _ = write!(
            hidden,
            "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
            esc(name),
            esc(value)
        );
    }
    let body = format!(
        "<p>{}</p><form method=\"post\" action=\"{}\">{}{hidden}\
         <input type=\"hidden\" name=\"confirm\" value=\"yes\">\
         <button type=\"submit\">{}</button> <a href=\"{}\">Cancel</a></form>",
        esc(question),
        esc(action),
        csrf_input(session),
        esc(button),
        esc(back),
    );
    render(StatusCode::OK, "Are you sure?", &body)
}

/// A POST's answer: what happened, and the way back.
pub(super) fn result(status: StatusCode, message: &str, back: &str) -> Response {
    render(
        status,
        if status.is_success() {
            "Done"
        } else {
            "Not done"
        },
        &format!(
            "<p>{}</p><p><a href=\"{}\">Back</a></p>",
            esc(message),
            esc(back)
        ),
    )
}

pub(super) fn gate_failed(e: tvgate_core::gate::GateError, back: &str) -> Response {
    let e = ApiError::from(e);
    result(e.status, &e.message, back)
}

pub(super) fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

/// A path segment, percent-encoded.
pub(super) fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// A query value, form-encoded.
pub(super) fn qv(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

pub(super) fn csrf_input(s: &Session) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        esc(&s.csrf)
    )
}

/// A Unix time as `YYYY-MM-DD HH:MM:SS UTC`.
pub(super) fn when(t: UnixTime) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

// ----- lines -----

/// `GET /admin/lines?q=`: search, create, and the per-line actions.
async fn lines_page(
    State(app): State<App>,
    RawQuery(q): RawQuery,
    ConsolePage(s): ConsolePage,
) -> Response {
    let pairs = query_pairs(q.as_deref());
    let needle = pairs
        .iter()
        .find(|(k, _)| k == "q")
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default();
    let offset = pairs
        .iter()
        .find(|(k, _)| k == "offset")
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let lines = super::lines::search(&app, &needle);
    let now = app.now();
    let csrf = csrf_input(&s);
    let mut rows = String::new();
    for a in lines.iter().skip(offset).take(SHOWN_LINES) {
        let state = crate::present::line::LineState::of(a, now).as_str();
        let expires = a.expires_at.map(when).unwrap_or_else(|| "never".into());
        let name = esc(&a.username);
        let _ = write!(
            rows,
            "<tr><td><a href=\"/admin/lines/{}\">{name}</a></td><td>{state}</td><td>{}</td><td>{}/{}</td><td>{}</td>\
             <td><form method=\"post\" action=\"/admin/lines/action\">{csrf}\
             <input type=\"hidden\" name=\"name\" value=\"{name}\">\
             <input name=\"days\" type=\"number\" min=\"1\" max=\"36500\" value=\"30\" size=\"4\">\
             <button name=\"action\" value=\"extend\">Extend</button>\
             <button name=\"action\" value=\"disable\">Disable</button>\
             <button name=\"action\" value=\"enable\">Enable</button>\
             <button name=\"action\" value=\"ban\">Ban</button>\
             <button name=\"action\" value=\"delete\">Delete</button></form>\
             <a href=\"/admin/lines/{}/devices\">Devices</a></td></tr>",
            seg(&a.username),
            esc(&expires),
            app.ledger.active(a.id, now),
            a.max_connections,
            esc(&a.note),
            seg(&a.username),
        );
    }
    let pager = pager(&needle, offset, lines.len());
    let body = format!(
        "<form method=\"get\" action=\"/admin/lines\"><input name=\"q\" value=\"{}\" placeholder=\"username or note\">\
         <button type=\"submit\">Search</button></form>\
         <h2>New line</h2><form method=\"post\" action=\"/admin/lines\">{csrf}\
         <label>Username <input name=\"username\" required></label> \
         <label>Password (empty: generated) <input name=\"password\"></label> \
         <label>Days <input name=\"days\" type=\"number\" min=\"0\" max=\"36500\" value=\"30\"></label> \
         <label>Connections <input name=\"max_connections\" type=\"number\" min=\"0\" value=\"1\"></label> \
         <label>Note <input name=\"note\"></label> \
         <button type=\"submit\">Create</button></form>\
         <p><a href=\"/admin/bulk\">Create many</a> · <a href=\"/admin/import\">Import CSV</a> · \
         <a href=\"/admin/export.csv\">Export CSV</a></p>\
         <h2>Lines ({})</h2>{pager}<table><thead><tr><th>Username</th><th>Status</th><th>Expires</th>\
         <th>In use</th><th>Note</th><th>Actions</th></tr></thead><tbody>{rows}</tbody></table>{pager}",
        esc(&needle),
        lines.len(),
    );
    render(StatusCode::OK, "Lines", &body)
}

/// "Lines a–b of n" with Previous/Next links that keep the search.
fn pager(needle: &str, offset: usize, total: usize) -> String {
    if total <= SHOWN_LINES && offset == 0 {
        return String::new();
    }
    let link = |to: usize, label: &str| {
        format!(
            "<a href=\"/admin/lines?q={}&amp;offset={to}\">{label}</a>",
            qv(needle)
        )
    };
    let mut out = format!(
        "<p class=\"pager\">Lines {}–{} of {total}",
        (offset + 1).min(total),
        (offset + SHOWN_LINES).min(total)
    );
    if offset > 0 {
        out.push_str(" · ");
        out.push_str(&link(offset.saturating_sub(SHOWN_LINES), "Previous"));
    }
    if offset + SHOWN_LINES < total {
        out.push_str(" · ");
        out.push_str(&link(offset + SHOWN_LINES, "Next"));
    }
    out.push_str("</p>");
    out
}

/// A whole number form field within `range`; `None` when absent or empty.
pub(super) fn number(
    form: &[(String, String)],
    name: &str,
    range: std::ops::RangeInclusive<u32>,
) -> Result<Option<u32>, String> {
    match field(form, name).map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|n| range.contains(n))
            .map(Some)
            .ok_or_else(|| {
                format!(
                    "{name} must be a whole number from {} to {}",
                    range.start(),
                    range.end()
                )
            }),
    }
}

/// `POST /admin/lines` (form: `username`, `password`, `days`,
/// `max_connections`, `note`): the generated password is shown once.
async fn create_line(
    State(app): State<App>,
    ConsoleForm { session, form, .. }: ConsoleForm,
) -> Response {
    let back = "/admin/lines";
    let username = field(&form, "username").unwrap_or_default().trim();
    let mut spec = AccountSpec::new(username);
    spec.password = field(&form, "password")
        .filter(|p| !p.is_empty())
        .map(str::to_string);
    let now = app.now();
    match number(&form, "days", 0..=36_500) {
        Ok(Some(days)) if days > 0 => spec.expires_at = Some(now + i64::from(days) * 86_400),
        Ok(_) => {}
        Err(m) => return result(StatusCode::BAD_REQUEST, &m, back),
    }
    match number(&form, "max_connections", 0..=u32::MAX) {
        Ok(n) => spec.max_connections = n.unwrap_or(1),
        Err(m) => return result(StatusCode::BAD_REQUEST, &m, back),
    }
    let note = field(&form, "note").unwrap_or_default();
    if note.chars().count() > 1000 {
        return result(
            StatusCode::BAD_REQUEST,
            "note must be at most 1000 characters",
            back,
        );
    }
    spec.note = note.to_string();
    match app.gate.create_account(spec, now).await {
        Ok((account, generated)) => {
            tracing::info!(admin = %session.admin, line = %account.username, "line created in the console");
            let password = match generated {
                Some(p) => format!(
                    "<p>Its password (shown only now): <code class=\"password\">{}</code></p>",
                    esc(&p)
                ),
                None => "<p>It has the password you gave.</p>".to_string(),
            };
            render(
                StatusCode::CREATED,
                "Line created",
                &format!(
                    "<p>Line <b>{}</b> was created.</p>{password}<p><a href=\"/admin/lines\">Back to the lines</a></p>",
                    esc(&account.username)
                ),
            )
        }
        Err(e) => gate_failed(e, back),
    }
}

/// `POST /admin/lines/action` (form: `name`, `action`, `days`).
async fn line_action(
    State(app): State<App>,
    ConsoleForm { session, form, .. }: ConsoleForm,
) -> Response {
    let back = "/admin/lines";
    let name = field(&form, "name").unwrap_or_default();
    let line = match find_line(&app, name) {
        Ok(line) => line,
        Err(r) => return *r,
    };
    let action = field(&form, "action").unwrap_or_default();
    if action == "delete" && field(&form, "confirm") != Some("yes") {
        return confirm(
            &session,
            &format!(
                "Delete the line {} with its devices and history? Its players stop at once; this cannot be undone.",
                line.username
            ),
            "/admin/lines/action",
            &[("name", &line.username), ("action", "delete")],
            &format!("Delete {}", line.username),
            back,
        );
    }
    let status = |status| AccountPatch {
        status: Some(status),
        ..Default::default()
    };
    let outcome = match action {
        "extend" => match number(&form, "days", 1..=36_500) {
            Ok(Some(days)) => super::api::extend(&app, &line, days).await.map(|a| {
                format!(
                    "{} now expires {}.",
                    a.username,
                    a.expires_at.map(when).unwrap_or_else(|| "never".into())
                )
            }),
            Ok(None) => return result(StatusCode::BAD_REQUEST, "days is required", back),
            Err(m) => return result(StatusCode::BAD_REQUEST, &m, back),
        },
        "disable" | "enable" | "ban" => {
            let to = match action {
                "disable" => Status::Disabled,
                "ban" => Status::Banned,
                _ => Status::Active,
            };
            app.gate
                .update_account(&line.username, status(to))
                .await
                .map(|a| format!("{} is now {}.", a.username, a.status.as_str()))
        }
        "delete" => app
            .gate
            .delete_account(&line.username)
            .await
            .map(|a| format!("{} was deleted.", a.username)),
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
            tracing::info!(admin = %session.admin, line = %line.username, action, "line changed in the console");
            result(StatusCode::OK, &message, back)
        }
        Err(e) => gate_failed(e, back),
    }
}

// ----- devices -----

/// `GET /admin/lines/{name}/devices`: the bound devices and their history.
async fn devices_page(
    State(app): State<App>,
    Path(name): Path<String>,
    ConsolePage(s): ConsolePage,
) -> Response {
    let line = match find_line(&app, &name) {
        Ok(line) => line,
        Err(r) => return *r,
    };
    let binding = app.gate.binding(line.id);
    let mut rows = String::new();
    for d in binding.iter().flat_map(|b| b.devices.iter()) {
        let _ = write!(
            rows,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td><form method=\"post\" action=\"/admin/lines/{}/devices/remove\">{}\
             <input type=\"hidden\" name=\"id\" value=\"{}\">\
             <button type=\"submit\">Remove</button></form></td></tr>",
            d.kind.as_str(),
            esc(&d.identifier),
            esc(&d.label),
            when(d.first_seen),
            if d.last_seen == 0 {
                "never".to_string()
            } else {
                when(d.last_seen)
            },
            d.last_ip.map(|ip| ip.to_string()).unwrap_or_default(),
            seg(&line.username),
            csrf_input(&s),
            d.id.0,
        );
    }
    let audit = match app
        .gate
        .device_audit(Some(&line.username), AUDIT_LIMIT)
        .await
    {
        Ok(a) => a,
        Err(e) => return gate_failed(e, "/admin/lines"),
    };
    let mut history = String::new();
    for a in &audit {
        let _ = write!(
            history,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            when(a.at),
            a.actor.as_str(),
            a.action.as_str(),
            a.ip.map(|ip| ip.to_string()).unwrap_or_default(),
            esc(a.old_device.as_deref().unwrap_or("")),
            esc(a.new_device.as_deref().unwrap_or("")),
            esc(&a.detail),
        );
    }
    let body = format!(
        "<p>Line <a href=\"/admin/lines/{}\"><b>{}</b></a>; device limit {}.</p>\
         <form method=\"post\" action=\"/admin/lines/{}/devices/reset\">{}\
         <button type=\"submit\">Reset the binding</button></form>\
         <h2>Bound devices</h2><table><thead><tr><th>Kind</th><th>Identifier</th><th>Label</th>\
         <th>First seen</th><th>Last seen</th><th>Last IP</th><th></th></tr></thead><tbody>{rows}</tbody></table>\
         <h2>History</h2><table><thead><tr><th>When</th><th>Who</th><th>What</th><th>IP</th>\
         <th>Old device</th><th>New device</th><th>Detail</th></tr></thead><tbody>{history}</tbody></table>",
        seg(&line.username),
        esc(&line.username),
        binding.as_ref().map_or(0, |b| b.policy.limit),
        seg(&line.username),
        csrf_input(&s),
    );
    render(StatusCode::OK, "Devices", &body)
}

/// `POST /admin/lines/{name}/devices/reset` (form: `csrf`).
async fn reset_devices(
    State(app): State<App>,
    Path(name): Path<String>,
    ConsoleForm { session, .. }: ConsoleForm,
) -> Response {
    let back = format!("/admin/lines/{}/devices", seg(&name));
    match app.gate.reset_devices(&name, app.now()).await {
        Ok(removed) => {
            tracing::info!(admin = %session.admin, line = %name, removed, "device binding reset in the console");
            result(
                StatusCode::OK,
                &format!("{removed} device(s) unbound from {name}."),
                &back,
            )
        }
        Err(e) => gate_failed(e, &back),
    }
}

// ----- live -----

/// `GET /admin/live`: connections by line and channel, upstreams by
/// source, viewers by channel.
/// How often the live view reloads itself when asked to (`?auto=1`).
const LIVE_RELOAD_SECS: u32 = 5;

async fn live_page(
    State(app): State<App>,
    RawQuery(q): RawQuery,
    ConsolePage(s): ConsolePage,
) -> Response {
    let auto = query_pairs(q.as_deref())
        .iter()
        .any(|(k, v)| k == "auto" && v == "1");
    let csrf = csrf_input(&s);
    let mut lines = app.gate.accounts();
    lines.sort_by(|a, b| a.username.cmp(&b.username));
    let mut sections = String::new();
    let mut total = 0;
    for a in &lines {
        let mut conns = slots::connections(&app, a.id);
        if conns.is_empty() {
            continue;
        }
        total += conns.len();
        conns.sort_by(|x, y| {
            (x.watching.as_deref(), x.lease.stream.0)
                .cmp(&(y.watching.as_deref(), y.lease.stream.0))
        });
        let mut rows = String::new();
        for c in &conns {
            let l = &c.lease;
            let channel = c
                .watching
                .clone()
                .unwrap_or_else(|| format!("stream {}", l.stream.0));
            let _ = write!(
                rows,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
                 <td><form method=\"post\" action=\"/admin/live/end\">{csrf}\
                 <input type=\"hidden\" name=\"id\" value=\"{}\">\
                 <button type=\"submit\">End</button></form></td></tr>",
                esc(&channel),
                esc(&l.user_agent),
                esc(&l.ip.to_string()),
                when(l.started),
                l.id.0,
            );
        }
        let _ = write!(
            sections,
            "<h3>{}</h3><table><thead><tr><th>Channel</th><th>Player</th><th>IP</th>\
             <th>Since</th><th></th></tr></thead><tbody>{rows}</tbody></table>",
            esc(&a.username)
        );
    }
    if sections.is_empty() {
        sections.push_str("<p>Nobody is watching.</p>");
    }
    let (upstream_rows, channel_rows) = super::live::snapshot(&app).await;
    let mut upstreams = String::new();
    for u in &upstream_rows {
        let _ = write!(
            upstreams,
            "<tr><td>{}</td><td>{}</td></tr>",
            esc(&u.name),
            u.open
        );
    }
    let mut channels = String::new();
    for c in &channel_rows {
        let _ = write!(
            channels,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&c.name),
            c.viewers,
            c.up_secs
        );
    }
    let toggle = if auto {
        format!(
            "<p>Reloads every {LIVE_RELOAD_SECS} s. <a href=\"/admin/live\">Stop reloading</a></p>"
        )
    } else {
        format!("<p><a href=\"/admin/live?auto=1\">Reload every {LIVE_RELOAD_SECS} s</a></p>")
    };
    let body = format!(
        "{toggle}<h2>Connections ({total})</h2>{sections}\
         <h2>Upstream connections by source</h2><table><thead><tr><th>Source</th><th>Open</th></tr></thead>\
         <tbody>{upstreams}</tbody></table>\
         <h2>Viewers by channel</h2><table><thead><tr><th>Channel</th><th>Viewers</th><th>Up (s)</th></tr></thead>\
         <tbody>{channels}</tbody></table>"
    );
    let body = format!("{NAV}<h1>Live</h1>{body}");
    let html = reloading_page("Live", &body, auto.then_some(LIVE_RELOAD_SECS));
    (StatusCode::OK, no_store(), Html(html)).into_response()
}

/// `POST /admin/live/end` (form: `id`): the same `slots::end_connection`
/// as the API's `DELETE /api/v1/connections/{id}`.
async fn end_connection(
    State(app): State<App>,
    ConsoleForm { session, form, .. }: ConsoleForm,
) -> Response {
    let back = "/admin/live";
    let Some(id) = field(&form, "id").and_then(|v| v.trim().parse::<u64>().ok()) else {
        return result(
            StatusCode::BAD_REQUEST,
            "id must be a connection's number",
            back,
        );
    };
    match slots::end_connection(&app, LeaseId(id)) {
        Some(lease) => {
            tracing::info!(admin = %session.admin, account = lease.account.0, lease = id, "connection ended in the console");
            result(StatusCode::OK, "The connection was ended.", back)
        }
        None => result(
            StatusCode::NOT_FOUND,
            "That connection had already ended.",
            back,
        ),
    }
}

// ----- denials -----

/// `GET /admin/denials?reason=&line=&ip=&before=`: the denial log,
/// filtered, a page at a time (the API's filter, `super::denials`).
async fn denials_page(State(app): State<App>, RawQuery(q): RawQuery, _: ConsolePage) -> Response {
    let pairs = query_pairs(q.as_deref());
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    };
    let (reason, line, ip) = (get("reason"), get("line"), get("ip"));
    let form = format!(
        "<form method=\"get\" action=\"/admin/denials\">\
         <label>Reason <input name=\"reason\" value=\"{}\"></label> \
         <label>Line <input name=\"line\" value=\"{}\"></label> \
         <label>IP <input name=\"ip\" value=\"{}\"></label> \
         <button type=\"submit\">Filter</button> <a href=\"/admin/denials\">Clear</a></form>",
        esc(&reason),
        esc(&line),
        esc(&ip),
    );
    let page = match super::denials::parse_filter(&pairs) {
        Ok(filter) => crate::refusals::page(&app, filter).await,
        Err(why) => {
            let body = format!("{form}<p class=\"error\">{}</p>", esc(&why));
            return render(StatusCode::BAD_REQUEST, "Denials", &body);
        }
    };
    let page = match page {
        Ok(page) => page,
        Err(e) => return gate_failed(e, "/admin/denials"),
    };
    let mut rows = String::new();
    for r in page.items.iter().map(|l| &l.refusal) {
        let _ = write!(
            rows,
            "<tr><td>{}</td><td><a href=\"/admin/denials?reason={}\">{}</a></td>\
             <td><a href=\"/admin/denials?line={}\">{}</a></td>\
             <td><a href=\"/admin/denials?ip={}\">{}</a></td><td>{}</td><td>{}</td></tr>",
            when(r.at),
            qv(&r.reason),
            esc(&r.reason),
            qv(&r.username),
            esc(&r.username),
            qv(&r.ip.to_string()),
            esc(&r.ip.to_string()),
            esc(&r.face),
            esc(&r.text),
        );
    }
    // The same query with the next page's cursor.
    let older = match page.next_before {
        Some(before) => {
            let mut href = String::from("/admin/denials?");
            for (k, v) in pairs.iter().filter(|(k, _)| k != "before") {
                let _ = write!(href, "{}={}&", qv(k), qv(v));
            }
            let _ = write!(href, "before={before}");
            format!(
                "<p><a id=\"older\" href=\"{}\">Older refusals</a></p>",
                esc(&href)
            )
        }
        None => String::new(),
    };
    let kept = match app.settings.denial_log_days {
        0 => "kept without a time limit".to_string(),
        days => format!("kept for {days} days"),
    };
    let body = format!(
        "{form}<p>{} refusal(s), newest first ({kept}).</p>\
         <table><thead><tr><th>When</th><th>Reason</th><th>Line</th><th>IP</th><th>Face</th>\
         <th>What the line was told</th></tr></thead><tbody>{rows}</tbody></table>{older}",
        page.items.len(),
    );
    render(StatusCode::OK, "Denials", &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_utc_dates() {
        assert_eq!(when(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(when(1_800_000_000), "2027-01-15 08:00:00 UTC");
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(seg("a b/c\"<"), "a%20b%2Fc%22%3C");
        assert_eq!(seg("plain-1.x"), "plain-1.x");
    }
}
