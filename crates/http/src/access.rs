//! The shared first step of every face: who is calling, are the credentials
//! proven, and what does the one decision say. Every denial is logged here,
//! once, with stable field names operators can point fail2ban at
//! (docs/denials.md), and counted.

use crate::state::App;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use tvgate_core::access::{AccessRequest, Decision, Denial, Face, OutputFormat};
use tvgate_core::gate::Authn;
use tvgate_core::ids::CategoryId;

/// The caller's address, user agent and `Host` header. The header values
/// share the request's buffer: extracting them allocates nothing.
#[derive(Debug, Clone)]
pub struct Caller {
    pub ip: IpAddr,
    user_agent: Option<HeaderValue>,
    pub host: Option<HeaderValue>,
}

impl Caller {
    /// The user agent as text ("" when absent or not visible ASCII).
    pub fn user_agent(&self) -> &str {
        self.user_agent
            .as_ref()
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
        let user_agent = parts.headers.get(header::USER_AGENT).cloned();
        let host = parts.headers.get(header::HOST).cloned();
        Ok(Caller {
            ip,
            user_agent,
            host,
        })
    }
}

/// What the face asks about the request besides the credentials.
#[derive(Debug, Clone, Copy)]
pub struct Ask {
    pub face: Face,
    pub output: Option<OutputFormat>,
    pub item_category: Option<Option<CategoryId>>,
}

impl Ask {
    pub fn face(face: Face) -> Self {
        Ask {
            face,
            output: None,
            item_category: None,
        }
    }
}

/// The outcome of the shared first step.
#[derive(Debug)]
pub struct Checked {
    pub authn: Authn,
    pub decision: Decision,
}

impl Checked {
    pub fn denial(&self) -> Option<&Denial> {
        match &self.decision {
            Decision::Allow => None,
            Decision::Deny(d) => Some(d),
        }
    }
}

fn face_name(face: Face) -> &'static str {
    match face {
        Face::PlayerApi => "player_api",
        Face::Playlist => "playlist",
        Face::Guide => "xmltv",
        Face::Stream => "stream",
    }
}

/// Authenticates and decides; logs and counts a denial.
pub async fn check(
    app: &App,
    caller: &Caller,
    username: &str,
    password: &str,
    ask: Ask,
) -> Checked {
    let now = app.now();
    let authn = app
        .gate
        .authenticate(username, password, caller.ip, now)
        .await;
    let req = AccessRequest {
        face: ask.face,
        output: ask.output,
        item_category: ask.item_category,
        client_ip: caller.ip,
        user_agent: caller.user_agent(),
    };
    let decision = app.gate.decide(&authn, &req, now);
    if let Decision::Deny(denial) = &decision {
        log_denial(app, ask.face, denial, username, caller);
    }
    Checked { authn, decision }
}

/// Logs and counts one denial. Never logs a password.
///
/// Every denial is counted. A caller over its failure budget is logged at
/// most once per [`crate::metrics::RATE_LIMITED_LOG_SECS`] per address, with the number of
/// refusals summarised in `suppressed`, so a guessing run cannot fill the
/// disk (unthrottled, one flood wrote 444 MB of log in 35 s).
pub fn log_denial(app: &App, face: Face, denial: &Denial, username: &str, caller: &Caller) {
    app.metrics.count_denial(denial);
    let mut suppressed = 0;
    if matches!(denial, Denial::RateLimited { .. }) {
        match app.metrics.throttle_rate_limited_log(caller.ip, app.now()) {
            Some(n) => suppressed = n,
            None => return,
        }
    }
    // A full line's refusal says what holds the slots, in the log too.
    let holders = match denial {
        Denial::ConnectionLimit { .. } => crate::xtream::wire::describe(app, denial),
        _ => String::new(),
    };
    tracing::info!(
        target: "tvgate::denial",
        reason = denial.code(),
        holders = %holders,
        face = face_name(face),
        username = %truncate(username, 64).escape_debug(),
        ip = %caller.ip,
        user_agent = %truncate(caller.user_agent(), 256).escape_debug(),
        suppressed,
        "denied"
    );
}

/// At most `max` characters of `s`.
fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}
