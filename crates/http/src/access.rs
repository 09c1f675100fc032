//! The shared first step of every face: who is calling, are the credentials
//! proven, and what does the one decision say. Every denial is logged here,
//! once, with stable field names operators can point fail2ban at
//! (docs/denials.md), and counted.

use crate::state::App;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use tvgate_core::access::{AccessRequest, Decision, Denial, DevicePresented, Face, OutputFormat};
use tvgate_core::gate::Authn;
use tvgate_core::ids::CategoryId;

/// The caller's address, user agent, `Host` header and device identity.
/// The header values share the request's buffer: extracting them
/// allocates nothing.
#[derive(Debug, Clone)]
pub struct Caller {
    pub ip: IpAddr,
    user_agent: Option<HeaderValue>,
    pub host: Option<HeaderValue>,
    /// The device identity an Xtream player sent ([`presented_device`]).
    pub device: Option<DevicePresented>,
}

/// The header an Xtream player (or a proxy in front of it) may send its
/// device id in.
pub const DEVICE_ID_HEADER: &str = "x-device-id";

/// The device identity of an Xtream request (docs/devices.md): the query
/// parameter `mac`, else `device_id`, else the `X-Device-Id` header. A value
/// that is a MAC in any format counts as that MAC; anything else is a
/// player device id (trimmed, at most 128 characters). The query is only
/// parsed when it names one of the two parameters.
pub fn presented_device(
    query: Option<&str>,
    header: Option<&HeaderValue>,
) -> Option<DevicePresented> {
    let from_query = query
        .filter(|q| q.contains("mac=") || q.contains("device_id="))
        .and_then(|q| {
            let params = crate::params::Params::from_query(Some(q));
            ["mac", "device_id"]
                .into_iter()
                .find_map(|name| params.first_filled(name).map(str::to_string))
        });
    let raw = from_query.or_else(|| {
        header
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.trim().is_empty())
            .map(str::to_string)
    })?;
    DevicePresented::player(&raw)
}

impl Caller {
    /// The caller with the device id of a POSTed form (`mac`, else
    /// `device_id`), when the query and the headers named none; `None`
    /// when there is nothing to add.
    pub fn with_form_device(&self, params: &crate::params::Params) -> Option<Caller> {
        if self.device.is_some() {
            return None;
        }
        let raw = ["mac", "device_id"]
            .into_iter()
            .find_map(|name| params.get(name).filter(|v| !v.trim().is_empty()))?;
        Some(Caller {
            device: Some(DevicePresented::player(raw)?),
            ..self.clone()
        })
    }

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
        let device = presented_device(parts.uri.query(), parts.headers.get(DEVICE_ID_HEADER));
        Ok(Caller {
            ip,
            user_agent,
            host,
            device,
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

/// Authenticates and decides (with the line's device binding: a first
/// device is bound here); logs and counts a denial.
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
        output: ask.output,
        item_category: ask.item_category,
        ..AccessRequest::new(ask.face, caller.ip, caller.user_agent())
    };
    let decision = app
        .gate
        .authorize(authn.proof(), &req, caller.device.as_ref(), now)
        .await;
    if let Decision::Deny(denial) = &decision {
        log_denial(app, ask.face, denial, username, caller);
    }
    Checked { authn, decision }
}

/// Proves the credentials alone, with the same hygiene, failure budget and
/// denial log as [`check`], for a person logging in to see their line (the
/// subscriber portal): the line's status and device rules are what the
/// page shows, not reasons to refuse it, and a browser is not a device to
/// bind or refuse.
pub async fn authenticate(
    app: &App,
    caller: &Caller,
    username: &str,
    password: &str,
    face: Face,
) -> Authn {
    let authn = app
        .gate
        .authenticate(username, password, caller.ip, app.now())
        .await;
    let denial = match &authn {
        Authn::Proven { .. } => None,
        Authn::NotProven => Some(Denial::InvalidCredentials),
        Authn::RateLimited { retry_after_secs } => Some(Denial::RateLimited {
            retry_after_secs: *retry_after_secs,
        }),
    };
    if let Some(denial) = denial {
        log_denial(app, face, &denial, username, caller);
    }
    authn
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
    record_refusal(app, face, denial, username, caller);
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

/// Queues the refusal for the denial log (`crate::refusals`). Unknown names
/// and wrong passwords are kept without a line: they say nothing about one.
/// Never waits: a full queue drops the refusal and counts it.
fn record_refusal(app: &App, face: Face, denial: &Denial, username: &str, caller: &Caller) {
    let at = app.now();
    let queued = app
        .refusals
        .record_with(at, || tvgate_core::access::refusal::Refusal {
            at,
            reason: denial.code().to_string(),
            text: crate::xtream::wire::describe(app, denial),
            account: match denial {
                Denial::InvalidCredentials | Denial::RateLimited { .. } => None,
                _ => app.gate.find_account(username).map(|a| a.id),
            },
            username: truncate(username, tvgate_core::access::refusal::USERNAME_MAX).to_string(),
            ip: caller.ip,
            face: face_name(face).to_string(),
        });
    if !queued {
        app.metrics
            .refusals_dropped
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// At most `max` characters of `s`.
fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}
