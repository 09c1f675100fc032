//! The shared first step of every face: who is calling ([`Caller`]: the
//! address, the user agent, the device identity a player sent), are the
//! credentials proven, and what does the one decision say ([`check`]; for a
//! line proven by a signed link or a Stalker box's session, [`decide_proven`]).
//! A refusal comes back as a [`Refused`] for the face to answer, which logs
//! and counts it (`crate::answer`).

use crate::answer::{Face, Refused};
use crate::state::App;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use tvgate_core::access::{
    decide, AccessRequest, Decision, Denial, DeviceAsk, DevicePresented, Line, OutputFormat, Proof,
};
use tvgate_core::gate::Authn;
use tvgate_core::ids::CategoryId;

/// The caller's address, user agent, `Host` header, the listener it came
/// in through and its device identity. The header values share the
/// request's buffer: extracting them allocates nothing.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The client's address (`crate::client_addr::client_ip`: the socket's
    /// peer, or what a trusted proxy says it saw).
    pub ip: IpAddr,
    user_agent: Option<HeaderValue>,
    pub host: Option<HeaderValue>,
    pub arrival: Arrival,
    /// The device identity an Xtream player sent ([`presented_device`]).
    pub device: Option<DevicePresented>,
    /// The connection's socket as the frozen-viewer watchdog sees it
    /// (`None` outside `crate::serve_with_tls`).
    pub socket: Option<Arc<crate::frozen::SocketWatch>>,
}

/// Which of the server's listeners a request came in through, and the
/// ports of both: what the answers that name the server (`server_info`,
/// playlists, portal and Stalker links) need besides the `Host` header.
/// Set on every request by `crate::serve_with_tls`; the default (no
/// listener known) is plain HTTP.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Arrival {
    /// The request came over TLS.
    pub tls: bool,
    /// The port of the plain HTTP listener.
    pub http_port: Option<u16>,
    /// The port of the HTTPS listener, when there is one.
    pub https_port: Option<u16>,
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

impl FromRequestParts<App> for Caller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        Ok(Caller::from_parts(parts, &app.settings.trusted_proxies))
    }
}

impl Caller {
    /// The caller of a request, its address as `trusted` proxies allow
    /// ([`crate::client_addr::client_ip`]).
    pub fn from_parts(parts: &Parts, trusted: &crate::client_addr::TrustedProxies) -> Caller {
        let peer = parts.extensions.get::<ConnectInfo<crate::frozen::Peer>>();
        let socket_ip = peer
            .map(|c| c.0.addr.ip())
            .or_else(|| {
                // A router served by another server than ours (tests).
                parts
                    .extensions
                    .get::<ConnectInfo<SocketAddr>>()
                    .map(|c| c.0.ip())
            })
            .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
        let ip = crate::client_addr::client_ip(socket_ip, &parts.headers, trusted);
        let socket = peer.map(|c| c.0.socket.clone());
        let user_agent = parts.headers.get(header::USER_AGENT).cloned();
        let host = parts.headers.get(header::HOST).cloned();
        let device = presented_device(parts.uri.query(), parts.headers.get(DEVICE_ID_HEADER));
        let arrival = parts
            .extensions
            .get::<Arrival>()
            .copied()
            .unwrap_or_default();
        Caller {
            ip,
            user_agent,
            host,
            arrival,
            device,
            socket,
        }
    }
}

/// What the face asks about the request besides the credentials.
#[derive(Debug, Clone, Copy)]
pub struct Ask {
    /// Who answers a refusal; the decision is asked as its
    /// [`Face::decided_as`].
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

    fn request<'a>(&self, caller: &'a Caller) -> AccessRequest<'a> {
        AccessRequest {
            output: self.output,
            item_category: self.item_category,
            ..AccessRequest::new(self.face.decided_as(), caller.ip, caller.user_agent())
        }
    }
}

/// A line whose credentials were proven, with the credentials as cleaned
/// (exactly the line's own: players build stream URLs from what they are
/// told back).
#[derive(Debug, Clone)]
pub struct Proven {
    pub line: Arc<Line>,
    pub username: String,
    pub password: String,
}

/// What the shared first step found.
#[derive(Debug)]
pub enum Checked {
    /// The one decision allows the request.
    Allowed(Proven),
    /// It refuses it. `proven` is the line when its credentials were proven
    /// (`player_api.php` shows such a line its status rather than refusing).
    Refused {
        proven: Option<Proven>,
        refused: Refused,
    },
}

impl Checked {
    /// The proven line, or the refusal to answer.
    pub fn allowed(self) -> Result<Proven, Refused> {
        match self {
            Checked::Allowed(proven) => Ok(proven),
            Checked::Refused { refused, .. } => Err(refused),
        }
    }
}

/// Authenticates and decides (with the line's device binding: a first
/// device is bound here). A refusal comes back to be answered by the face
/// ([`Refused::answer`]), which logs it.
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
    let decision = app
        .gate
        .authorize(
            authn.proof(),
            &ask.request(caller),
            caller.device.as_ref(),
            now,
        )
        .await;
    let proven = match authn {
        Authn::Proven {
            line,
            username,
            password,
        } => Some(Proven {
            line,
            username,
            password,
        }),
        Authn::NotProven | Authn::RateLimited { .. } => None,
    };
    let denial = match (decision, &proven) {
        (Decision::Allow, Some(_)) => None,
        (Decision::Deny(denial), _) => Some(denial),
        // The decision never allows what is not proven.
        (Decision::Allow, None) => Some(Denial::InvalidCredentials),
    };
    match (denial, proven) {
        (None, Some(proven)) => Checked::Allowed(proven),
        (denial, proven) => Checked::Refused {
            proven,
            refused: Refused::new(
                ask.face,
                denial.unwrap_or(Denial::InvalidCredentials),
                caller,
                username,
            ),
        },
    }
}

/// Asks the one decision about a line proven otherwise than by a password
/// on this request: a signed link (proxied HLS, a Stalker channel link) or
/// a Stalker box's session. The device was checked when the link or the
/// session was made, so it is not asked again. A refusal names the line.
pub fn decide_proven(app: &App, caller: &Caller, line: &Line, ask: Ask) -> Result<(), Refused> {
    let req = AccessRequest {
        device: DeviceAsk::NotAsked,
        ..ask.request(caller)
    };
    match decide(Proof::Proven(line), &req, app.now()) {
        Decision::Allow => Ok(()),
        Decision::Deny(denial) => Err(Refused::new(ask.face, denial, caller, &line.username)),
    }
}

/// Proves the credentials alone, with the same hygiene, failure budget and
/// denial log as [`check`], for a person logging in to see their line (the
/// subscriber portal): the line's status and device rules are what the
/// page shows, not reasons to refuse it, and a browser is not a device to
/// bind or refuse. A failure is recorded here; the page says it its own way.
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
        let _ = Refused::new(face, denial, caller, username).record(app);
    }
    authn
}
