//! The console's sessions and CSRF protection (`/admin/`).
//!
//! `POST /admin/login` checks an operator's name and password through the
//! gate (argon2id, the shared failed-login limiter) and sets a session
//! cookie: a random id, `HttpOnly` (no script reads it), `SameSite=Strict`
//! (no other site's page sends it), `Path=/admin`. Sessions have an
//! absolute expiry and are kept in the store (only a hash of the id; see
//! [`crate::web::Sessions`]), so a restart does not log operators out and
//! a session made on one node works on the others; logging out ends it on
//! every node. Each session has its own random CSRF token that every
//! state-changing form carries in a hidden field and that is checked in
//! constant time before anything changes; a POST without it, or with
//! another session's, is a 403.
//!
//! Console handlers take their session from one of two extractors instead
//! of repeating the checks: [`ConsolePage`] for a page (no session: a 303
//! to the login form) and [`ConsoleForm`] for a POST form (reads the body
//! within the route's `DefaultBodyLimit`, then no session: 401 with the
//! login form; missing or wrong CSRF token: 403). A handler that has one
//! has passed the check, so no handler can forget it.
//!
//! The pages are server-rendered HTML that works without JavaScript,
//! written as maud templates (a value is text by its type): the page frame
//! (the style sheet and the small script tvgate serves, `crate::assets`),
//! a login form, and the dashboard ([`super::dashboard`]) that links the
//! console's pages ([`super::console`]).

use crate::access::Caller;
use crate::params::Params;
use crate::state::App;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use tvgate_core::gate::AdminAuthn;

/// The session cookie's name.
pub const COOKIE: &str = "tvgate_admin";
/// How long a session lasts from login.
pub const SESSION_SECS: i64 = 12 * 3600;
/// Most sessions held at once; the oldest goes first beyond it.
const MAX_SESSIONS: usize = 10_000;

pub use super::Operator;

/// One logged-in operator (`session.admin` through `Deref`).
pub type Session = crate::web::Session<Operator>;
/// The console's server-side session store.
pub type Sessions = crate::web::Sessions<Operator>;

use crate::web::same_token as same;
use maud::{html, Markup, PreEscaped};

/// The request's session, with its id.
pub async fn current(app: &App, headers: &HeaderMap) -> Option<(String, Session)> {
    let id = crate::web::cookie(headers, COOKIE)?;
    let session = app.admin_sessions.get(&id, app.now()).await?;
    Some((id, session))
}

/// A console page's session; without one the request is answered with a
/// 303 to the login form (`/admin/`).
pub struct ConsolePage(pub Session);

impl FromRequestParts<App> for ConsolePage {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Response> {
        match current(app, &parts.headers).await {
            Some((_, session)) => Ok(ConsolePage(session)),
            None => Err((
                StatusCode::SEE_OTHER,
                [(header::LOCATION, "/admin/")],
                no_store(),
            )
                .into_response()),
        }
    }
}

/// A console form POST whose session and CSRF token were checked: the
/// session (and its id, for logout) and the form's fields. Rejections are
/// `check_form`'s 401/403, or the body extractor's own (413 beyond the
/// route's `DefaultBodyLimit`).
pub struct ConsoleForm {
    pub id: String,
    pub session: Session,
    pub form: Params,
}

impl FromRequest<App> for ConsoleForm {
    type Rejection = Response;

    async fn from_request(req: Request, app: &App) -> Result<Self, Response> {
        let headers = req.headers().clone();
        let body = Bytes::from_request(req, app)
            .await
            .map_err(IntoResponse::into_response)?;
        let form = Params::from_form(&body);
        let (id, session) = check_form(app, &headers, &form).await.map_err(|r| *r)?;
        Ok(ConsoleForm { id, session, form })
    }
}

/// The request's session when the form carries its CSRF token; otherwise
/// the 403 (or, without a session, the login page) to answer with.
async fn check_form(
    app: &App,
    headers: &HeaderMap,
    form: &Params,
) -> Result<(String, Session), Box<Response>> {
    let Some((id, session)) = current(app, headers).await else {
        return Err(Box::new(login_page(
            StatusCode::UNAUTHORIZED,
            "Please log in.",
        )));
    };
    let presented = field(form, "csrf").unwrap_or_default();
    if !same(presented, &session.csrf) {
        let body = html! {
            p { "This form has expired or did not come from the console. Go back, reload the page and try again." }
        };
        return Err(Box::new(
            (
                StatusCode::FORBIDDEN,
                Html(page("Refused", body).into_string()),
            )
                .into_response(),
        ));
    }
    Ok((id, session))
}

/// The console's name for [`Params::get`] on a form.
pub(crate) fn field<'a>(form: &'a Params, name: &str) -> Option<&'a str> {
    form.get(name)
}

/// A console page: the frame around `body`.
pub(crate) fn page(title: &str, body: Markup) -> Markup {
    reloading_page(title, body, None)
}

/// A console page that the browser reloads every `every` seconds (a
/// running refresh, the live view on request), without JavaScript.
pub(crate) fn reloading_page(title: &str, body: Markup, every: Option<u32>) -> Markup {
    html! {
        (PreEscaped("<!doctype html>"))
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                @if let Some(secs) = every {
                    meta http-equiv="refresh" content=(secs);
                }
                title { (title) " · tvgate console" }
                link rel="stylesheet" href=(crate::assets::STYLE_URL);
                script src=(crate::assets::CONSOLE_JS_URL) defer {}
            }
            body { main { (body) } }
        }
    }
}

fn login_page(status: StatusCode, message: &str) -> Response {
    let body = html! {
        h1 { "tvgate console" }
        p { (message) }
        form method="post" action="/admin/login" {
            label { "Operator " input name="name" autocomplete="username" required; }
            br;
            label { "Password " input name="password" type="password" autocomplete="current-password" required; }
            br;
            button type="submit" { "Log in" }
        }
    };
    (status, no_store(), Html(page("Log in", body).into_string())).into_response()
}

pub(crate) fn no_store() -> [(header::HeaderName, &'static str); 1] {
    [(header::CACHE_CONTROL, "no-store")]
}

fn see_other(to: &'static str) -> (StatusCode, [(header::HeaderName, &'static str); 1]) {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to)])
}

/// `GET /admin/`: the dashboard for a session, else the login form.
pub async fn index(State(app): State<App>, headers: HeaderMap) -> Response {
    let Some((_, session)) = current(&app, &headers).await else {
        return login_page(
            StatusCode::OK,
            "Log in with an operator account (made with `tvgate admin add NAME`).",
        );
    };
    let body = super::dashboard::page(&app, &session).await;
    (no_store(), Html(page("Dashboard", body).into_string())).into_response()
}

/// `POST /admin/login` (form: `name`, `password`).
pub async fn login(State(app): State<App>, caller: Caller, body: Bytes) -> Response {
    let form = Params::from_form(&body);
    let name = field(&form, "name").unwrap_or_default();
    let password = field(&form, "password").unwrap_or_default();
    let now = app.now();
    match app.gate.admin_login(name, password, caller.ip, now).await {
        Ok(AdminAuthn::Proven(admin)) => {
            let (id, _) = app
                .admin_sessions
                .open(
                    Operator {
                        admin: admin.name.clone(),
                        token: None,
                    },
                    now,
                    SESSION_SECS,
                    MAX_SESSIONS,
                )
                .await;
            tracing::info!(admin = %admin.name, ip = %caller.ip, "operator logged in");
            // Secure when the operator came over HTTPS: never sent in clear.
            let secure = if app.public_url_for(&caller).scheme == "https" {
                "; Secure"
            } else {
                ""
            };
            let cookie = format!(
                "{COOKIE}={id}; Path=/admin; HttpOnly; SameSite=Strict; Max-Age={SESSION_SECS}{secure}"
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
pub async fn logout(State(app): State<App>, ConsoleForm { id, .. }: ConsoleForm) -> Response {
    app.admin_sessions.close(&id).await;
    let mut response = see_other("/admin/").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(
            "tvgate_admin=; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=0",
        ),
    );
    response
}
