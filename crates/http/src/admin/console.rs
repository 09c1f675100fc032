//! The operator console's pages under `/admin/`: lines (search, paged 500 at
//! a time, create, per-line actions), the live view, the denial log and a
//! line's devices. One line's page, bulk create and CSV import/export are in
//! `console_lines.rs`.
//!
//! Server-rendered HTML without JavaScript. Every page takes a
//! [`ConsolePage`] (a request without a session is sent to the login form);
//! every change is a POST form taking a [`ConsoleForm`], whose session and
//! CSRF token are checked before the handler runs. The pages are maud
//! templates: every value shown is text by its type, never HTML. The
//! changes call the same gate and `slots` operations as the JSON API
//! ([`super::api`]), so the two faces cannot disagree.

use super::session::{field, no_store, page, reloading_page, ConsoleForm, ConsolePage, Session};
use super::ApiError;
use crate::params::{Params, QueryParams};
use crate::present::line::LineState;
use crate::slots;
use crate::state::App;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};
use std::fmt::Write as _;
use std::sync::Arc;
use tvgate_core::access::{Line, LinePatch, Status};
use tvgate_core::gate::LineSpec;
use tvgate_core::ledger::LeaseId;
use tvgate_core::UnixTime;

/// The cookie that carries a change's result to the page it redirected
/// to (POST, redirect, GET), shown there once. It holds only the message,
/// shown as text; the page that shows it clears it.
pub const FLASH_COOKIE: &str = "tvgate_flash";
/// Most bytes of a result carried in the flash cookie.
const FLASH_MAX: usize = 1000;

/// What a console request's page needs to know about the request itself.
struct Here {
    /// The path, for [`nav`].
    path: String,
    /// A result waiting to be shown (from the flash cookie; GET only).
    flash: Option<String>,
    /// The flash was shown, so the answer clears the cookie.
    shown: std::sync::atomic::AtomicBool,
    /// Cookies set now get `Secure` (HTTPS, as the session's).
    secure: bool,
}

tokio::task_local! {
    /// The console request being answered (a layer on the console's routes).
    static HERE: Arc<Here>;
}

/// Runs a console request with its path and waiting result known to
/// [`nav`] (a layer on the console's routes), so the navigation shows
/// where the operator is, and the result of their last change, without
/// every handler passing them along; clears the flash cookie once shown.
pub async fn with_path(
    State(app): State<App>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let path = req.uri().path().to_string();
    let flash = (req.method() == axum::http::Method::GET)
        .then(|| crate::web::cookie(req.headers(), FLASH_COOKIE))
        .flatten()
        .and_then(|v| decode_flash(&v));
    let tls = req
        .extensions()
        .get::<crate::access::Arrival>()
        .is_some_and(|a| a.tls);
    let secure = match &app.settings.public_url {
        Some(p) => p.scheme == "https",
        None => tls,
    };
    let here = Arc::new(Here {
        path,
        flash,
        shown: std::sync::atomic::AtomicBool::new(false),
        secure,
    });
    let mut response = HERE.scope(here.clone(), next.run(req)).await;
    if here.shown.load(std::sync::atomic::Ordering::Relaxed) {
        let clear = format!(
            "{FLASH_COOKIE}=; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=0{}",
            if here.secure { "; Secure" } else { "" }
        );
        if let Ok(v) = axum::http::HeaderValue::from_str(&clear) {
            response
                .headers_mut()
                .append(axum::http::header::SET_COOKIE, v);
        }
    }
    response
}

fn encode_flash(message: &str) -> String {
    let mut end = message.len().min(FLASH_MAX);
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    form_urlencoded::byte_serialize(&message.as_bytes()[..end]).collect()
}

fn decode_flash(value: &str) -> Option<String> {
    let text: String = form_urlencoded::parse(format!("m={value}").as_bytes())
        .next()
        .map(|(_, v)| {
            v.chars()
                .filter(|c| !c.is_control())
                .take(FLASH_MAX)
                .collect()
        })?;
    (!text.trim().is_empty()).then_some(text)
}

/// The result of the operator's last change, once, on the page it was
/// sent back to (`role="status"`, so a screen reader says it).
fn flash() -> Markup {
    let message = HERE
        .try_with(|h| {
            if h.flash.is_some() {
                h.shown.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            h.flash.clone()
        })
        .ok()
        .flatten();
    html! {
        @if let Some(m) = message {
            p class="flash ok" id="flash" role="status" { (m) }
        }
    }
}

/// The answer to a change that worked: back to the page it was made from
/// (`303`), which shows `message` in place (the flash cookie).
pub(super) fn done(message: &str, back: &str) -> Response {
    let secure = HERE.try_with(|h| h.secure).unwrap_or(false);
    let cookie = format!(
        "{FLASH_COOKIE}={}; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=60{}",
        encode_flash(message),
        if secure { "; Secure" } else { "" }
    );
    let mut r = (
        StatusCode::SEE_OTHER,
        no_store(),
        [(axum::http::header::LOCATION, back.to_string())],
    )
        .into_response();
    if let Ok(v) = axum::http::HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(axum::http::header::SET_COOKIE, v);
    }
    r
}

/// The section of the console a path belongs to (its nav link).
fn section(path: &str) -> &'static str {
    let under = |prefix: &str| path == prefix || path.starts_with(&format!("{prefix}/"));
    if under("/admin/lines") || under("/admin/bulk") || under("/admin/import") {
        "/admin/lines"
    } else if under("/admin/live") {
        "/admin/live"
    } else if under("/admin/denials") {
        "/admin/denials"
    } else if under("/admin/sources") || under("/admin/channels") {
        "/admin/sources"
    } else {
        "/admin/"
    }
}

/// The console's navigation, shown on the dashboard and every page; the
/// link of the section the operator is in is marked (`aria-current`).
pub fn nav() -> Markup {
    let here = HERE.try_with(|h| section(&h.path)).unwrap_or("");
    let links = [
        ("/admin/", "Dashboard"),
        ("/admin/lines", "Lines"),
        ("/admin/live", "Live"),
        ("/admin/denials", "Denials"),
        ("/admin/sources", "Sources"),
    ];
    html! {
        nav class="top" {
            span class="brand" { "tvgate" }
            @for (href, label) in links {
                a href=(href) aria-current=[(href == here).then_some("page")] { (label) }
            }
        }
        (flash())
    }
}

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
pub(super) fn find_line(app: &App, name: &str) -> Result<Arc<Line>, Box<Response>> {
    app.gate.find_line(name).ok_or_else(|| {
        Box::new(result(
            StatusCode::NOT_FOUND,
            &format!("No line named {name:?}."),
            "/admin/lines",
        ))
    })
}

/// A console page: the navigation, `title` as its heading, then `body`.
pub(super) fn render(status: StatusCode, title: &str, body: Markup) -> Response {
    let body = html! {
        (nav())
        h1 { (title) }
        (body)
    };
    (status, no_store(), Html(page(title, body).into_string())).into_response()
}

/// The step before a change that cannot be undone: what it does, and a
/// form that posts the same fields again with `confirm=yes` (no JavaScript
/// `confirm()`: the console works without scripts). With scripts the
/// same question is asked in place, beside the button (`data-confirm` on
/// the button, `/assets/console.js`), and this page is not needed.
pub(super) fn confirm(
    session: &Session,
    question: &str,
    action: &str,
    fields: &[(&str, &str)],
    button: &str,
    back: &str,
) -> Response {
    let body = html! {
        p { (question) }
        form method="post" action=(action) {
            (csrf_input(session))
            @for (name, value) in fields {
                input type="hidden" name=(name) value=(value);
            }
            input type="hidden" name="confirm" value="yes";
            button type="submit" { (button) }
            " "
            a href=(back) { "Cancel" }
        }
    };
    render(StatusCode::OK, "Are you sure?", body)
}

/// A POST's answer: a change that worked goes back to `back`, which says
/// what happened in place ([`done`]); one that did not is a page with the
/// status of the outcome, what went wrong and the way back.
pub(super) fn result(status: StatusCode, message: &str, back: &str) -> Response {
    if status.is_success() {
        return done(message, back);
    }
    let body = html! {
        p class="error" role="alert" { (message) }
        p { a href=(back) { "Back" } }
    };
    render(status, "Not done", body)
}

pub(super) fn gate_failed(e: tvgate_core::gate::GateError, back: &str) -> Response {
    let e = ApiError::from(e);
    result(e.status, &e.message, back)
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

/// The hidden field that carries the session's CSRF token in every form.
pub(super) fn csrf_input(s: &Session) -> Markup {
    html! { input type="hidden" name="csrf" value=(s.csrf); }
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
    QueryParams(query): QueryParams,
    ConsolePage(s): ConsolePage,
) -> Response {
    let needle = query.str("q").trim().to_string();
    let offset = query.number::<usize>("offset").unwrap_or(0);
    let lines = super::lines::search(&app, &needle);
    let now = app.now();
    let shown: Vec<_> = lines.iter().skip(offset).take(SHOWN_LINES).collect();
    let ids: Vec<_> = shown.iter().map(|a| a.id).collect();
    let in_use = app.ledger.active_of(&ids, now).await;
    let csrf = csrf_input(&s);
    let pager = pager(&needle, offset, lines.len());
    let body = html! {
        form method="get" action="/admin/lines" role="search" {
            // Without scripts the form searches every line on the server;
            // with them, typing narrows the rows shown at once.
            input type="search" name="q" value=(needle) placeholder="username or note"
                aria-label="Search lines" data-narrows="lines";
            button type="submit" { "Search" }
        }
        h2 { "New line" }
        form method="post" action="/admin/lines" {
            (csrf)
            label { "Username " input name="username" required; } " "
            label { "Password (empty: generated) " input name="password"; } " "
            label { "Days " input name="days" type="number" min="0" max="36500" value="30"; } " "
            label { "Connections " input name="max_connections" type="number" min="0" value="1"; } " "
            label { "Note " input name="note"; } " "
            button type="submit" { "Create" }
        }
        p {
            a href="/admin/bulk" { "Create many" } " · "
            a href="/admin/import" { "Import CSV" } " · "
            a href="/admin/export.csv" { "Export CSV" }
        }
        h2 { "Lines (" (lines.len()) ")" }
        p class="muted" { "Showing " span id="shown-count" { (shown.len()) } " of them on this page; click a column's title to sort." }
        (pager)
        table class="sortable" id="lines" {
            thead {
                tr {
                    th { "Username" } th { "Status" } th { "Expires" }
                    th { "In use" } th { "Note" } th { "Actions" }
                }
            }
            tbody {
                @for (a, in_use) in shown.iter().zip(&in_use) {
                    tr {
                        td { a href={ "/admin/lines/" (seg(&a.username)) } { (a.username) } }
                        td { (LineState::of(a, now).as_str()) }
                        td { (a.expires_at.map(when).unwrap_or_else(|| "never".into())) }
                        td data-v=(in_use) { (in_use) "/" (a.max_connections) }
                        td { (a.note) }
                        td {
                            form method="post" action="/admin/lines/action" {
                                (csrf)
                                input type="hidden" name="name" value=(a.username);
                                input name="days" type="number" min="1" max="36500" value="30" size="4";
                                button name="action" value="extend" { "Extend" }
                                button name="action" value="disable" { "Disable" }
                                button name="action" value="enable" { "Enable" }
                                button name="action" value="ban" { "Ban" }
                                button name="action" value="delete" class="danger"
                                    data-confirm={ "Delete " (a.username) " with its devices and history? This cannot be undone." } { "Delete" }
                            }
                            a href={ "/admin/lines/" (seg(&a.username)) "/devices" } { "Devices" }
                        }
                    }
                }
            }
        }
        (pager)
    };
    render(StatusCode::OK, "Lines", body)
}

/// "Lines a–b of n" with Previous/Next links that keep the search; nothing
/// when every line fits on one page.
fn pager(needle: &str, offset: usize, total: usize) -> Markup {
    if total <= SHOWN_LINES && offset == 0 {
        return html! {};
    }
    let href = |to: usize| format!("/admin/lines?q={}&offset={to}", qv(needle));
    html! {
        p class="pager" {
            "Lines " ((offset + 1).min(total)) "–" ((offset + SHOWN_LINES).min(total)) " of " (total)
            @if offset > 0 {
                " · " a href=(href(offset.saturating_sub(SHOWN_LINES))) { "Previous" }
            }
            @if offset + SHOWN_LINES < total {
                " · " a href=(href(offset + SHOWN_LINES)) { "Next" }
            }
        }
    }
}

/// A whole number form field within `range`; `None` when absent or empty.
pub(super) fn number(
    form: &Params,
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
    let mut spec = LineSpec::new(username);
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
    match app.gate.create_line(spec, now).await {
        Ok((line, generated)) => {
            tracing::info!(admin = %session.admin, line = %line.username, "line created in the console");
            let body = html! {
                p { "Line " b { (line.username) } " was created." }
                @match generated {
                    Some(password) => p { "Its password (shown only now): " code class="password" { (password) } },
                    None => p { "It has the password you gave." },
                }
                p { a href="/admin/lines" { "Back to the lines" } }
            };
            render(StatusCode::CREATED, "Line created", body)
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
    let status = |status| LinePatch {
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
                .update_line(&line.username, status(to))
                .await
                .map(|a| format!("{} is now {}.", a.username, a.status.as_str()))
        }
        "delete" => app
            .gate
            .delete_line(&line.username)
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
    let audit = match app
        .gate
        .device_audit(Some(&line.username), AUDIT_LIMIT)
        .await
    {
        Ok(a) => a,
        Err(e) => return gate_failed(e, "/admin/lines"),
    };
    let path = format!("/admin/lines/{}", seg(&line.username));
    let csrf = csrf_input(&s);
    let body = html! {
        p {
            "Line " a href=(path) { b { (line.username) } }
            "; device limit " (binding.as_ref().map_or(0, |b| b.policy.limit)) "."
        }
        form method="post" action={ (path) "/devices/reset" } {
            (csrf)
            button type="submit" class="danger"
                data-confirm={ "Unbind every device of " (line.username) "? Each must register again." } { "Reset the binding" }
        }
        h2 { "Bound devices" }
        table class="sortable" {
            thead {
                tr {
                    th { "Kind" } th { "Identifier" } th { "Label" } th { "First seen" }
                    th { "Last seen" } th { "Last IP" } th {}
                }
            }
            tbody {
                @for d in binding.iter().flat_map(|b| b.devices.iter()) {
                    tr {
                        td { (d.kind.as_str()) }
                        td { (d.identifier) }
                        td { (d.label) }
                        td { (when(d.first_seen)) }
                        td { @if d.last_seen == 0 { "never" } @else { (when(d.last_seen)) } }
                        td { @if let Some(ip) = d.last_ip { (ip) } }
                        td {
                            form method="post" action={ (path) "/devices/remove" } {
                                (csrf)
                                input type="hidden" name="id" value=(d.id.0);
                                button type="submit" class="danger"
                                    data-confirm={ "Unbind " (d.kind.as_str()) " " (d.identifier) "?" } { "Remove" }
                            }
                        }
                    }
                }
            }
        }
        h2 { "History" }
        table class="sortable" {
            thead {
                tr {
                    th { "When" } th { "Who" } th { "What" } th { "IP" }
                    th { "Old device" } th { "New device" } th { "Detail" }
                }
            }
            tbody {
                @for a in &audit {
                    tr {
                        td { (when(a.at)) }
                        td { (a.actor.as_str()) }
                        td { (a.action.as_str()) }
                        td { @if let Some(ip) = a.ip { (ip) } }
                        td { (a.old_device.as_deref().unwrap_or("")) }
                        td { (a.new_device.as_deref().unwrap_or("")) }
                        td { (a.detail) }
                    }
                }
            }
        }
    };
    render(StatusCode::OK, "Devices", body)
}

/// `POST /admin/lines/{name}/devices/reset` (form: `csrf`; asks first,
/// `confirm=yes` resets).
async fn reset_devices(
    State(app): State<App>,
    Path(name): Path<String>,
    ConsoleForm { session, form, .. }: ConsoleForm,
) -> Response {
    let back = format!("/admin/lines/{}/devices", seg(&name));
    if field(&form, "confirm") != Some("yes") {
        let line = match find_line(&app, &name) {
            Ok(line) => line,
            Err(r) => return *r,
        };
        return confirm(
            &session,
            &format!(
                "Unbind every device of {}? Each of them must register again (or be added by an operator) before it plays.",
                line.username
            ),
            &format!("/admin/lines/{}/devices/reset", seg(&line.username)),
            &[],
            "Reset the binding",
            &back,
        );
    }
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

/// How often the live view reloads itself when asked to (`?auto=1`).
const LIVE_RELOAD_SECS: u32 = 5;

/// `GET /admin/live`: connections by line and channel, upstreams by
/// source, viewers by channel.
async fn live_page(
    State(app): State<App>,
    QueryParams(query): QueryParams,
    ConsolePage(s): ConsolePage,
) -> Response {
    let auto = query.has("auto", "1");
    let csrf = csrf_input(&s);
    // Lines in the directory's order (by username), each with its
    // connections by channel; lines without one are left out.
    let mut by_line = slots::all_connections(&app).await;
    let watched: Vec<_> = app
        .gate
        .lines()
        .into_iter()
        .filter_map(|a| {
            let mut conns = by_line.remove(&a.id).unwrap_or_default();
            conns.sort_by(|x, y| {
                (x.watching.as_deref(), x.lease.stream.0)
                    .cmp(&(y.watching.as_deref(), y.lease.stream.0))
            });
            (!conns.is_empty()).then_some((a, conns))
        })
        .collect();
    let total: usize = watched.iter().map(|(_, conns)| conns.len()).sum();
    let (upstreams, channels) = super::live::snapshot(&app).await;
    let body = html! {
        (nav())
        h1 { "Live" }
        @if auto {
            p { "Reloads every " (LIVE_RELOAD_SECS) " s. " a href="/admin/live" { "Stop reloading" } }
        } @else {
            p { a href="/admin/live?auto=1" { "Reload every " (LIVE_RELOAD_SECS) " s" } }
        }
        h2 { "Connections (" (total) ")" }
        @for (a, conns) in &watched {
            h3 { (a.username) }
            table class="sortable" {
                thead { tr { th { "Channel" } th { "Player" } th { "IP" } th { "Since" } th {} } }
                tbody {
                    @for c in conns {
                        tr {
                            td {
                                @match &c.watching {
                                    Some(name) => (name),
                                    None => { "stream " (c.lease.stream.0) }
                                }
                            }
                            td { (c.lease.user_agent) }
                            td { (c.lease.ip) }
                            td { (when(c.lease.started)) }
                            td {
                                form method="post" action="/admin/live/end" {
                                    (csrf)
                                    input type="hidden" name="id" value=(c.lease.id.0);
                                    button type="submit" class="danger"
                                        data-confirm={ "End " (a.username) "'s connection? The player stops at once." } { "End" }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if watched.is_empty() {
            p { "Nobody is watching." }
        }
        h2 { "Upstream connections by source" }
        table class="sortable" {
            thead { tr { th { "Source" } th { "Open" } } }
            tbody {
                @for u in &upstreams {
                    tr { td { (u.name) } td { (u.open) } }
                }
            }
        }
        h2 { "Viewers by channel" }
        table class="sortable" {
            thead { tr { th { "Channel" } th { "Viewers" } th { "Up (s)" } } }
            tbody {
                @for c in &channels {
                    tr { td { (c.name) } td { (c.viewers) } td { (c.up_secs) } }
                }
            }
        }
    };
    let html = reloading_page("Live", body, auto.then_some(LIVE_RELOAD_SECS));
    (StatusCode::OK, no_store(), Html(html.into_string())).into_response()
}

/// `POST /admin/live/end` (form: `id`; asks first, `confirm=yes` ends):
/// the same `slots::end_connection`
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
    if field(&form, "confirm") != Some("yes") {
        let holder = app
            .ledger
            .all(app.now())
            .await
            .into_iter()
            .find(|l| l.id.0 == id);
        let Some(lease) = holder else {
            return result(
                StatusCode::NOT_FOUND,
                "That connection had already ended.",
                back,
            );
        };
        let who = app
            .gate
            .lines()
            .into_iter()
            .find(|a| a.id == lease.line)
            .map_or_else(|| "this line".to_string(), |a| a.username.to_string());
        return confirm(
            &session,
            &format!(
                "End {who}'s connection from {} ({})? The player stops within a second; it may connect again.",
                lease.ip, lease.user_agent
            ),
            "/admin/live/end",
            &[("id", &id.to_string())],
            "End the connection",
            back,
        );
    }
    match slots::end_connection(&app, LeaseId(id)).await {
        Some(lease) => {
            tracing::info!(admin = %session.admin, line = lease.line.0, lease = id, "connection ended in the console");
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
async fn denials_page(
    State(app): State<App>,
    QueryParams(query): QueryParams,
    _: ConsolePage,
) -> Response {
    let get = |k: &str| query.str(k).trim().to_string();
    let (reason, line, ip) = (get("reason"), get("line"), get("ip"));
    let form = html! {
        form method="get" action="/admin/denials" {
            label { "Reason " input name="reason" value=(reason); } " "
            label { "Line " input name="line" value=(line); } " "
            label { "IP " input name="ip" value=(ip); } " "
            button type="submit" { "Filter" } " "
            a href="/admin/denials" { "Clear" }
        }
    };
    let page = match super::denials::parse_filter(&query) {
        Ok(filter) => crate::refusals::page(&app, filter).await,
        Err(why) => {
            let body = html! {
                (form)
                p class="error" { (why) }
            };
            return render(StatusCode::BAD_REQUEST, "Denials", body);
        }
    };
    let page = match page {
        Ok(page) => page,
        Err(e) => return gate_failed(e, "/admin/denials"),
    };
    // The same query with the next page's cursor.
    let older = page.next_before.map(|before| {
        let mut href = String::from("/admin/denials?");
        for (k, v) in query.iter().filter(|(k, _)| *k != "before") {
            let _ = write!(href, "{}={}&", qv(k), qv(v));
        }
        let _ = write!(href, "before={before}");
        href
    });
    let kept = match app.settings.denial_log_days {
        0 => "kept without a time limit".to_string(),
        days => format!("kept for {days} days"),
    };
    let body = html! {
        (form)
        p { (page.items.len()) " refusal(s), newest first (" (kept) ")." }
        table class="sortable" {
            thead {
                tr {
                    th { "When" } th { "Reason" } th { "Line" } th { "IP" } th { "Face" }
                    th { "What the line was told" }
                }
            }
            tbody {
                @for r in page.items.iter().map(|l| &l.refusal) {
                    @let ip = r.ip.to_string();
                    tr {
                        td { (when(r.at)) }
                        td { a href={ "/admin/denials?reason=" (qv(&r.reason)) } { (r.reason) } }
                        td { a href={ "/admin/denials?line=" (qv(&r.username)) } { (r.username) } }
                        td { a href={ "/admin/denials?ip=" (qv(&ip)) } { (ip) } }
                        td { (r.face) }
                        td { (r.text) }
                    }
                }
            }
        }
        @if let Some(href) = older {
            p { a id="older" href=(href) { "Older refusals" } }
        }
    };
    render(StatusCode::OK, "Denials", body)
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
    fn each_page_belongs_to_one_section() {
        assert_eq!(section("/admin/"), "/admin/");
        assert_eq!(section("/admin/lines/tina/devices"), "/admin/lines");
        assert_eq!(section("/admin/linesx"), "/admin/");
        assert_eq!(section("/admin/bulk"), "/admin/lines");
        assert_eq!(section("/admin/live"), "/admin/live");
        assert_eq!(section("/admin/channels/4/backups"), "/admin/sources");
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(seg("a b/c\"<"), "a%20b%2Fc%22%3C");
        assert_eq!(seg("plain-1.x"), "plain-1.x");
    }
}
