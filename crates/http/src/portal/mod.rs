//! The subscriber portal (`/portal/`): a line's own status, connections,
//! devices, recent refusals and login details, as server-rendered pages
//! that work on a phone without JavaScript (docs/portal.md).
//!
//! The login goes through [`access::authenticate`], so it has the API's
//! hygiene, failure budget and denial log, and a wrong password gets the
//! same answer as an unknown user. (Not the whole [`access::check`]: an
//! expired or suspended line may log in to read why, and a browser is not
//! a device the line's binding should bind or refuse.) After that a server-side session (random id in an
//! HttpOnly, SameSite=Strict cookie) names the line; every action takes
//! the line from the session and every POST must carry the session's CSRF
//! token, so a subscriber can only ever see and act on their own line.
//!
//! The pages are maud templates (the frame and shared pieces in [`mod@html`]):
//! a value spliced into them is text by its type, so no helper has to
//! remember to escape it.

pub mod html;
pub mod session;

pub use session::Sessions;

use crate::access::{self, Caller};
use crate::answer::Face;
use crate::localtime::local_minute;
use crate::params::{query_value, Form, Params};
use crate::present::line::LineState;
use crate::state::App;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::TimeZone;
use html::{copyable, post_button};
use maud::{html, Markup};
use session::Session;
use tvgate_core::access::refusal::RefusalPage;
use tvgate_core::access::Line;
use tvgate_core::gate::{Authn, GateError};
use tvgate_core::ledger::LeaseId;
use tvgate_core::UnixTime;

/// The portal's routes (merged into the server's router).
pub fn routes() -> Router<App> {
    Router::new()
        .route("/portal", get(|| async { Redirect::permanent("/portal/") }))
        .route("/portal/", get(home))
        .route("/portal/login", post(login))
        .route("/portal/logout", post(logout))
        .route("/portal/end", post(end_connection))
        .route("/portal/reset-devices", post(reset_devices))
}

type FormFields = Form;

fn html_response(status: StatusCode, page: Markup) -> Response {
    let mut r = (status, page.into_string()).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    crate::web::protect_page(h);
    r
}

fn see_home() -> Response {
    Redirect::to("/portal/").into_response()
}

use crate::web::cookie;

/// The session id from the `Cookie` header.
fn session_id(headers: &HeaderMap) -> Option<String> {
    cookie(headers, session::COOKIE)
}

/// A `Set-Cookie` value for the portal's path; `Secure` when the
/// subscriber reached the portal over HTTPS (or `public_url` says https).
fn set_cookie(
    app: &App,
    caller: &Caller,
    name: &str,
    value: &str,
    max_age: i64,
) -> Option<HeaderValue> {
    let secure = app.public_url_for(caller).scheme == "https";
    let text = format!(
        "{name}={value}; Path=/portal; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
        if secure { "; Secure" } else { "" }
    );
    HeaderValue::from_str(&text)
        .map_err(|e| tracing::error!(error = %e, "portal cookie not set"))
        .ok()
}

/// The login form's token: the one the browser already holds (when it
/// looks like ours), else a new one.
fn login_token(headers: Option<&HeaderMap>) -> String {
    headers
        .and_then(|h| cookie(h, session::LOGIN_COOKIE))
        .filter(|t| t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()))
        .unwrap_or_else(session::random_token)
}

async fn current(app: &App, headers: &HeaderMap) -> Option<(String, Session)> {
    let id = session_id(headers)?;
    let s = app.portal.get(&id, app.now()).await?;
    Some((id, s))
}

/// The 403 page of a POST without a live session or the right CSRF token.
fn forbidden(why: &str) -> Response {
    let body = html! {
        section {
            h1 { "Not allowed" }
            p { (why) }
            p { a href="/portal/" { "Back to the portal" } }
        }
    };
    html_response(StatusCode::FORBIDDEN, html::page("Not allowed", body))
}

/// The session of a POST whose form carries its CSRF token; else why not
/// (for [`forbidden`]).
async fn authorised_post(
    app: &App,
    headers: &HeaderMap,
    form: &Params,
) -> Result<(String, Session), &'static str> {
    let Some((id, s)) = current(app, headers).await else {
        return Err("Your session has ended. Please log in again.");
    };
    let presented = form.str("csrf");
    if !session::same_token(presented, &s.csrf) {
        return Err("This form is out of date. Reload the page and try again.");
    }
    Ok((id, s))
}

async fn home(State(app): State<App>, caller: Caller, headers: HeaderMap) -> Response {
    match current(&app, &headers).await {
        Some((_, s)) => dashboard(&app, &caller, &s, None, StatusCode::OK).await,
        None => login_page(&app, &caller, Some(&headers), StatusCode::OK, None),
    }
}

/// The login form, with its CSRF token in a hidden field and a cookie.
fn login_page(
    app: &App,
    caller: &Caller,
    headers: Option<&HeaderMap>,
    status: StatusCode,
    message: Option<&str>,
) -> Response {
    let token = login_token(headers);
    let body = html! {
        h1 { "My subscription" }
        section {
            @if let Some(m) = message {
                p class="notice" role="alert" { (m) }
            }
            form method="post" action="/portal/login" {
                input type="hidden" name="csrf" value=(token);
                label for="username" { "Username" }
                input id="username" name="username" autocomplete="username" autocapitalize="none" required;
                label for="password" { "Password" }
                input id="password" name="password" type="password" autocomplete="current-password" required;
                button type="submit" { "Log in" }
            }
        }
    };
    let mut r = html_response(status, html::page("Log in", body));
    if let Some(v) = set_cookie(
        app,
        caller,
        session::LOGIN_COOKIE,
        &token,
        session::LOGIN_TTL_SECS,
    ) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

async fn login(
    State(app): State<App>,
    caller: Caller,
    headers: HeaderMap,
    Form(form): FormFields,
) -> Response {
    // Login CSRF: the form's token must match the cookie set with it.
    let expected = cookie(&headers, session::LOGIN_COOKIE).unwrap_or_default();
    let presented = form.str("csrf");
    if expected.is_empty() || !session::same_token(presented, &expected) {
        return forbidden("This form is out of date. Reload the page and try again.");
    }
    let username = form.str("username");
    let password = form.str("password");
    let authn = access::authenticate(&app, &caller, username, password, Face::Portal).await;
    match authn {
        Authn::Proven {
            line,
            username,
            password,
        } => {
            let (id, _) = app
                .portal
                .open(
                    session::Subscriber {
                        line: line.id,
                        username,
                        password,
                    },
                    app.now(),
                    session::TTL_SECS,
                    session::MAX_SESSIONS,
                )
                .await;
            let mut r = see_home();
            if let Some(v) = set_cookie(&app, &caller, session::COOKIE, &id, session::TTL_SECS) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        Authn::RateLimited { retry_after_secs } => {
            let mut r = login_page(
                &app,
                &caller,
                Some(&headers),
                StatusCode::TOO_MANY_REQUESTS,
                Some(&format!(
                    "Too many failed logins. Try again in {retry_after_secs} seconds."
                )),
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            r
        }
        Authn::NotProven => login_page(
            &app,
            &caller,
            Some(&headers),
            StatusCode::UNAUTHORIZED,
            Some("Wrong username or password."),
        ),
    }
}

async fn logout(State(app): State<App>, headers: HeaderMap, Form(form): FormFields) -> Response {
    let (id, _) = match authorised_post(&app, &headers, &form).await {
        Ok(s) => s,
        Err(why) => return forbidden(why),
    };
    app.portal.close(&id).await;
    let mut r = see_home();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(
            "tvgate_portal=; Path=/portal; HttpOnly; SameSite=Strict; Max-Age=0",
        ),
    );
    r
}

/// Ends one of the session's line's connections. The lease id comes from
/// the form, but only a lease the line holds now is ended.
async fn end_connection(
    State(app): State<App>,
    caller: Caller,
    headers: HeaderMap,
    Form(form): FormFields,
) -> Response {
    let (_, s) = match authorised_post(&app, &headers, &form).await {
        Ok(s) => s,
        Err(why) => return forbidden(why),
    };
    let wanted = form.number::<u64>("lease");
    let mine = match wanted {
        Some(id) => crate::slots::connections(&app, s.line)
            .await
            .into_iter()
            .find(|c| c.lease.id == LeaseId(id)),
        None => None,
    };
    let Some(conn) = mine else {
        return dashboard(
            &app,
            &caller,
            &s,
            Some("That connection is not in use on your subscription any more."),
            StatusCode::NOT_FOUND,
        )
        .await;
    };
    if crate::slots::end_connection(&app, conn.lease.id)
        .await
        .is_some()
    {
        tracing::info!(
            line = s.line.0,
            lease = conn.lease.id.0,
            ip = %conn.lease.ip,
            by = %caller.ip,
            "connection ended by the subscriber"
        );
    }
    see_home()
}

async fn reset_devices(
    State(app): State<App>,
    caller: Caller,
    headers: HeaderMap,
    Form(form): FormFields,
) -> Response {
    let (_, s) = match authorised_post(&app, &headers, &form).await {
        Ok(s) => s,
        Err(why) => return forbidden(why),
    };
    let now = app.now();
    match app
        .gate
        .reset_devices_by_subscriber(s.line, Some(caller.ip), now)
        .await
    {
        Ok(done) => {
            let msg = format!(
                "Devices reset ({} unbound). Your next device is bound when it connects. You can reset again {}.",
                done.removed,
                wait_words(done.next_allowed_at - now)
            );
            dashboard(&app, &caller, &s, Some(&msg), StatusCode::OK).await
        }
        Err(GateError::ResetTooSoon {
            retry_after_secs, ..
        }) => {
            let msg = format!(
                "You reset your devices recently. You can reset again {}.",
                wait_words(retry_after_secs)
            );
            let mut r =
                dashboard(&app, &caller, &s, Some(&msg), StatusCode::TOO_MANY_REQUESTS).await;
            if let Ok(v) = HeaderValue::from_str(&retry_after_secs.max(0).to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            r
        }
        Err(GateError::Invalid(why)) => {
            dashboard(&app, &caller, &s, Some(&why), StatusCode::CONFLICT).await
        }
        Err(e) => {
            tracing::error!(error = %e, line = s.line.0, "portal device reset failed");
            dashboard(
                &app,
                &caller,
                &s,
                Some("The reset did not work. Please try again later."),
                StatusCode::INTERNAL_SERVER_ERROR,
            )
            .await
        }
    }
}

/// "in 2 h 5 min" / "now".
fn wait_words(secs: i64) -> String {
    if secs <= 0 {
        return "now".into();
    }
    let mins = (secs + 59) / 60;
    match (mins / 60, mins % 60) {
        (0, m) => format!("in {m} min"),
        (h, 0) => format!("in {h} h"),
        (h, m) => format!("in {h} h {m} min"),
    }
}

/// "today 21:04", "yesterday 21:04" or "2026-11-20 21:04" in the server's zone.
fn when(app: &App, ts: UnixTime, now: UnixTime) -> String {
    let tz = app.settings.timezone;
    let (Some(t), Some(n)) = (
        tz.timestamp_opt(ts, 0).single(),
        tz.timestamp_opt(now, 0).single(),
    ) else {
        return ts.to_string();
    };
    let days = (n.date_naive() - t.date_naive()).num_days();
    let hm = t.format("%H:%M");
    match days {
        0 => format!("today {hm}"),
        1 => format!("yesterday {hm}"),
        _ => t.format("%Y-%m-%d %H:%M").to_string(),
    }
}

fn status_section(app: &App, line: &Line, now: UnixTime) -> Markup {
    let (word, class) = match LineState::of(line, now) {
        LineState::Active => ("active", "ok"),
        LineState::Expired => ("expired", "bad"),
        LineState::Banned => ("blocked by the provider", "bad"),
        LineState::Disabled => ("suspended by the provider", "bad"),
    };
    let plural = |n: u32| if n == 1 { "" } else { "s" };
    html! {
        section id="status" {
            h2 { "Status" }
            p { "Your subscription is " span class=(class) { (word) } "." }
            ul class="plain" {
                @match line.expires_at {
                    None => li { "It never expires." },
                    Some(at) if at > now => {
                        @let days = (at - now + 86_399) / 86_400;
                        li {
                            "Expires on " (local_minute(app, at)) " (" (days) " day"
                            (if days == 1 { "" } else { "s" }) " left)."
                        }
                    }
                    Some(at) => li { "Expired on " (local_minute(app, at)) "." },
                }
                @if line.is_trial {
                    li { "This is a trial." }
                }
                @if line.max_connections == 0 {
                    li { "No limit on connections at the same time." }
                } @else {
                    li {
                        "Up to " (line.max_connections) " connection"
                        (plural(line.max_connections)) " at the same time."
                    }
                }
            }
        }
    }
}

fn connections_section(app: &App, s: &Session, conns: &[crate::slots::Connection]) -> Markup {
    html! {
        section id="connections" {
            h2 { "Connections in use now" }
            @if conns.is_empty() {
                p class="muted" { "None right now." }
            } @else {
                ul class="plain" {
                    @for c in conns {
                        @let l = &c.lease;
                        @let player = l
                            .device
                            .as_deref()
                            .filter(|d| !d.is_empty())
                            .or(Some(&*l.user_agent).filter(|u| !u.is_empty()))
                            .unwrap_or("a player");
                        @let watching = c
                            .watching
                            .clone()
                            .unwrap_or_else(|| format!("stream {}", l.stream.0));
                        li class="connection" {
                            strong { (player) } " (" (l.ip) ") watching " (watching) ", since "
                            (local_minute(app, l.started))
                            (post_button("/portal/end", &s.csrf, &[("lease", &l.id.0.to_string())], "End", "danger", false))
                        }
                    }
                }
            }
        }
    }
}

fn devices_section(app: &App, s: &Session, now: UnixTime) -> Markup {
    let binding = app.gate.binding(s.line).filter(|b| b.policy.limit > 0);
    let Some(binding) = binding else {
        return html! {
            section id="devices" {
                h2 { "Devices" }
                p class="muted" { "Your subscription is not bound to a device." }
            }
        };
    };
    let limit = binding.policy.limit;
    let by_operator = binding.policy.enrolment == tvgate_core::access::device::Enrolment::Operator;
    let wait = if by_operator {
        0
    } else {
        app.gate.self_reset_wait(s.line, now)
    };
    html! {
        section id="devices" {
            h2 { "Devices" }
            p { "Up to " (limit) " device" (if limit == 1 { "" } else { "s" }) " may use this subscription." }
            @if binding.devices.is_empty() {
                p class="muted" { "No device is bound yet: the next one to connect is." }
            } @else {
                ul class="plain" {
                    @for d in &binding.devices {
                        li class="device" {
                            strong {
                                @if d.label.is_empty() { (d.kind) } @else { (d.label) }
                            }
                            " " code { (d.identifier) } " "
                            span class="muted" {
                                @if d.last_seen == 0 {
                                    "not seen yet"
                                } @else {
                                    "last seen " (when(app, d.last_seen, now))
                                }
                                @if let Some(ip) = d.last_ip {
                                    " from " (ip)
                                }
                            }
                        }
                    }
                }
            }
            @if by_operator {
                p class="muted" { "Your provider registers your devices: ask them to move the subscription to a new one." }
            } @else {
                @if wait > 0 {
                    p class="muted" id="reset-wait" { "You can reset your devices again " (wait_words(wait)) "." }
                } @else {
                    p class="muted" { "Changed your box or phone? Reset, and the next device to connect is bound instead." }
                }
                (post_button("/portal/reset-devices", &s.csrf, &[], "Reset devices", "danger", wait > 0))
            }
        }
    }
}

/// The line's last refusals (`crate::refusals::of_line`), read before the
/// page is written.
fn refusals_section(app: &App, refusals: Result<RefusalPage, GateError>, now: UnixTime) -> Markup {
    let refusals = refusals.map(|page| page.items).map_err(|e| {
        tracing::error!(error = %e, "reading a line's refusals failed");
    });
    html! {
        section id="refusals" {
            h2 { "Recent refusals" }
            @match &refusals {
                Err(()) => p class="muted" { "Recent refusals cannot be shown right now." },
                Ok(items) if items.is_empty() => p class="muted" { "Nothing was refused lately." },
                Ok(items) => ul class="plain" {
                    @for r in items.iter().map(|l| &l.refusal) {
                        li class="refusal" { (when(app, r.at, now)) " — refused: " (r.text) }
                    }
                },
            }
        }
    }
}

fn details_section(app: &App, caller: &Caller, s: &Session) -> Markup {
    let base = app.public_url_for(caller).base();
    let (u, p) = (query_value(&s.username), query_value(&s.password));
    let m3u = format!("{base}/get.php?username={u}&password={p}&type=m3u_plus&output=ts");
    let xmltv = format!("{base}/xmltv.php?username={u}&password={p}");
    html! {
        section id="details" {
            h2 { "Login details" }
            (copyable("server-url", "Server URL", &base))
            @if !app.settings.alternate_urls.is_empty() {
                p class="muted" {
                    "If the server URL does not work where you are (some internet \
                     providers block addresses), use one of these instead, with the same username and \
                     password:"
                }
                @for (i, alt) in app.settings.alternate_urls.iter().enumerate() {
                    (copyable(
                        &format!("alternate-url-{}", i + 1),
                        &format!("Other address {}", i + 1),
                        &alt.base(),
                    ))
                }
            }
            (copyable("username-value", "Username", &s.username))
            details {
                summary { "Show password" }
                (copyable("password-value", "Password", &s.password))
            }
            (copyable("m3u-url", "M3U playlist URL", &m3u))
            (copyable("xmltv-url", "TV guide (XMLTV) URL", &xmltv))
            p class="muted" { "Scan to set up a TV or phone with the M3U URL:" }
            div class="qr" { (html::qr_svg(&m3u)) }
        }
    }
}

/// The main page of a logged-in subscriber.
async fn dashboard(
    app: &App,
    caller: &Caller,
    s: &Session,
    notice: Option<&str>,
    status: StatusCode,
) -> Response {
    let now = app.now();
    let Some(line) = app.gate.line(s.line) else {
        return login_page(
            app,
            caller,
            None,
            StatusCode::UNAUTHORIZED,
            Some("This subscription no longer exists."),
        );
    };
    let refusals = crate::refusals::of_line(app, s.line).await;
    let conns = crate::slots::connections(app, s.line).await;
    let body = html! {
        header {
            h1 { "My subscription: " (s.username) }
            (post_button("/portal/logout", &s.csrf, &[], "Log out", "", false))
        }
        @if let Some(n) = notice {
            p class="notice" role="status" { (n) }
        }
        (status_section(app, &line, now))
        (connections_section(app, s, &conns))
        (devices_section(app, s, now))
        (refusals_section(app, refusals, now))
        (details_section(app, caller, s))
    };
    html_response(status, html::page("My subscription", body))
}
