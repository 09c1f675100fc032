//! The console's sessions and CSRF protection (`/admin/`).
//!
//! `POST /admin/login` checks an operator's name and password through the
//! gate (argon2id, the shared failed-login limiter) and sets a session
//! cookie: a random id, `HttpOnly` (no script reads it), `SameSite=Strict`
//! (no other site's page sends it), `Path=/admin`. Sessions live in memory
//! with an absolute expiry; a restart logs every operator out, which is the
//! safe direction. Each session has its own random CSRF token that every
//! state-changing form carries in a hidden field and that is checked in
//! constant time before anything changes; a POST without it, or with
//! another session's, is a 403.
//!
//! The pages are server-rendered HTML without JavaScript: a login form and
//! a dashboard that lists the lines and links the console's pages
//! ([`super::console`]).

use crate::access::Caller;
use crate::state::App;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use rand::RngCore;
use std::collections::HashMap;
use std::sync::Mutex;
use tvgate_core::gate::AdminAuthn;
use tvgate_core::UnixTime;

/// The session cookie's name.
pub const COOKIE: &str = "tvgate_admin";
/// How long a session lasts from login.
pub const SESSION_SECS: i64 = 12 * 3600;
/// Most sessions held at once; the oldest goes first beyond it.
const MAX_SESSIONS: usize = 10_000;

/// One logged-in operator.
#[derive(Debug, Clone)]
pub struct Session {
    pub admin: String,
    pub csrf: String,
    pub expires: UnixTime,
}

/// The server-side session store.
#[derive(Debug, Default)]
pub struct Sessions {
    // std Mutex: held for a map operation, never across .await.
    inner: Mutex<HashMap<String, Session>>,
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Equal strings, compared without an early exit.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl Sessions {
    /// Opens a session; returns its id.
    pub fn open(&self, admin: &str, now: UnixTime) -> (String, Session) {
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, s| s.expires > now);
        if map.len() >= MAX_SESSIONS {
            if let Some(oldest) = map
                .iter()
                .min_by_key(|(_, s)| s.expires)
                .map(|(k, _)| k.clone())
            {
                map.remove(&oldest);
            }
        }
        let id = random_token();
        let session = Session {
            admin: admin.to_string(),
            csrf: random_token(),
            expires: now + SESSION_SECS,
        };
        map.insert(id.clone(), session.clone());
        (id, session)
    }

    /// The live session with this id.
    pub fn get(&self, id: &str, now: UnixTime) -> Option<Session> {
        let map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        map.get(id).filter(|s| s.expires > now).cloned()
    }

    pub fn close(&self, id: &str) {
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(id);
    }
}

/// The session id the request's cookie names, if any.
fn cookie_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
}

/// The request's session, with its id.
pub fn current(app: &App, headers: &HeaderMap) -> Option<(String, Session)> {
    let id = cookie_id(headers)?;
    let session = app.admin_sessions.get(&id, app.now())?;
    Some((id, session))
}

/// The request's session when the form carries its CSRF token; otherwise
/// the 403 (or, without a session, the login page) to answer with.
pub fn check_form(
    app: &App,
    headers: &HeaderMap,
    form: &[(String, String)],
) -> Result<(String, Session), Box<Response>> {
    let Some((id, session)) = current(app, headers) else {
        return Err(Box::new(login_page(
            StatusCode::UNAUTHORIZED,
            "Please log in.",
        )));
    };
    let presented = field(form, "csrf").unwrap_or_default();
    if !same(presented, &session.csrf) {
        return Err(Box::new((
            StatusCode::FORBIDDEN,
            Html(page("Refused", "<p>This form has expired or did not come from the console. Go back, reload the page and try again.</p>")),
        )
            .into_response()));
    }
    Ok((id, session))
}

pub(crate) fn parse_form(body: &Bytes) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

pub(crate) fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Escapes text for HTML.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub(crate) fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · tvgate console</title></head><body>{body}</body></html>",
        esc(title)
    )
}

fn login_page(status: StatusCode, message: &str) -> Response {
    let body = format!(
        "<h1>tvgate console</h1><p>{}</p>\
         <form method=\"post\" action=\"/admin/login\">\
         <label>Operator <input name=\"name\" autocomplete=\"username\" required></label><br>\
         <label>Password <input name=\"password\" type=\"password\" autocomplete=\"current-password\" required></label><br>\
         <button type=\"submit\">Log in</button></form>",
        esc(message)
    );
    (status, no_store(), Html(page("Log in", &body))).into_response()
}

pub(crate) fn no_store() -> [(header::HeaderName, &'static str); 1] {
    [(header::CACHE_CONTROL, "no-store")]
}

fn see_other(to: &'static str) -> (StatusCode, [(header::HeaderName, &'static str); 1]) {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to)])
}

/// `GET /admin/`: the dashboard for a session, else the login form.
pub async fn index(State(app): State<App>, headers: HeaderMap) -> Response {
    let Some((_, session)) = current(&app, &headers) else {
        return login_page(
            StatusCode::OK,
            "Log in with an operator account (made with `tvgate admin add NAME`).",
        );
    };
    let mut lines = app.gate.accounts();
    lines.sort_by(|a, b| a.username.cmp(&b.username));
    let now = app.now();
    let mut rows = String::new();
    for a in &lines {
        let state = if a.status != tvgate_core::access::Status::Active {
            a.status.as_str()
        } else if a.is_expired(now) {
            "expired"
        } else {
            "active"
        };
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&a.username),
            state,
            app.ledger.active(a.id, now),
            a.max_connections
        ));
    }
    let body = format!(
        "<h1>tvgate console</h1><p>Logged in as {}.</p>\
         <form method=\"post\" action=\"/admin/logout\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\"><button type=\"submit\">Log out</button></form>\
         {}<h2>Lines ({})</h2><table><thead><tr><th>Username</th><th>Status</th>\
         <th>In use</th><th>Limit</th></tr></thead><tbody>{rows}</tbody></table>",
        esc(&session.admin),
        esc(&session.csrf),
        super::console::NAV,
        lines.len()
    );
    (no_store(), Html(page("Lines", &body))).into_response()
}

/// `POST /admin/login` (form: `name`, `password`).
pub async fn login(State(app): State<App>, caller: Caller, body: Bytes) -> Response {
    let form = parse_form(&body);
    let name = field(&form, "name").unwrap_or_default();
    let password = field(&form, "password").unwrap_or_default();
    let now = app.now();
    match app.gate.admin_login(name, password, caller.ip, now).await {
        Ok(AdminAuthn::Proven(admin)) => {
            let (id, _) = app.admin_sessions.open(&admin.name, now);
            tracing::info!(admin = %admin.name, ip = %caller.ip, "operator logged in");
            let cookie = format!(
                "{COOKIE}={id}; Path=/admin; HttpOnly; SameSite=Strict; Max-Age={SESSION_SECS}"
            );
            let mut response = see_other("/admin/").into_response();
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                response.headers_mut().insert(header::SET_COOKIE, v);
            }
            response
        }
        Ok(AdminAuthn::NotProven) => {
            login_page(StatusCode::UNAUTHORIZED, "Wrong operator name or password.")
        }
        Ok(AdminAuthn::RateLimited { retry_after_secs }) => login_page(
            StatusCode::TOO_MANY_REQUESTS,
            &format!("Too many failed logins; try again in {retry_after_secs} seconds."),
        ),
        Err(e) => {
            tracing::error!(error = %e, "operator login failed");
            login_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The server failed; see its log.",
            )
        }
    }
}

/// `POST /admin/logout` (form: `csrf`).
pub async fn logout(State(app): State<App>, headers: HeaderMap, body: Bytes) -> Response {
    let form = parse_form(&body);
    match check_form(&app, &headers, &form) {
        Ok((id, _)) => {
            app.admin_sessions.close(&id);
            let mut response = see_other("/admin/").into_response();
            response.headers_mut().insert(
                header::SET_COOKIE,
                HeaderValue::from_static(
                    "tvgate_admin=; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=0",
                ),
            );
            response
        }
        Err(refused) => *refused,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_expire_and_close() {
        let sessions = Sessions::default();
        let (id, s) = sessions.open("alice", 1000);
        assert_eq!(s.admin, "alice");
        assert!(sessions.get(&id, 1001).is_some());
        assert!(sessions.get(&id, 1000 + SESSION_SECS).is_none());
        sessions.close(&id);
        assert!(sessions.get(&id, 1001).is_none());
        assert!(sessions.get("made-up", 1001).is_none());
    }

    #[test]
    fn csrf_comparison_needs_the_exact_token() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "ab"));
        assert!(!same("", "abc"));
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
