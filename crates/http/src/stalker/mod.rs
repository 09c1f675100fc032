//! The Stalker/Ministra portal that MAG boxes and their emulators (Kodi's
//! pvr.stalker, iptvpy, stb-reader, STB emulators) speak: one handler on every
//! path they use (`/portal.php`, `/c/portal.php`, `/server/load.php`,
//! `/stalker_portal/server/load.php`, `/stalker_portal/c/portal.php`), by GET
//! or POST, `type=` and `action=` choosing what is asked (protocols.md §3).
//!
//! A box is identified by its MAC, not by a password: `stb handshake` gives
//! it a session token (`tokens`), `stb get_profile` looks its MAC up
//! (`mac_lookup`, the one seam for that) and asks the one decision whether
//! its line may be served, and every later call carries the token. Because
//! the MAC is the whole credential, unknown MACs are rate limited per address
//! (`scan`). Channel links from `itv create_link` carry a short-lived signed
//! token bound to the line and the channel, never credentials, and are served
//! by the same relay and connection ledger as Xtream's live streams (`play`,
//! through `crate::deliver`).
//!
//! Refusals are the floor's `crate::answer::Refused` (face `Stalker*`),
//! which also holds the portal's envelope and bare-text refusals
//! (`crate::answer::stalker`). Nothing here is imported by another face.
//!
//! Only the API is served: a real MAG box also loads the portal's web
//! application from `/c/`, which this face does not host.

pub mod identity;
mod itv;
pub mod mac_lookup;
pub mod play;
pub mod scan;
mod stb;
pub mod tokens;
mod watchdog;

/// For the fuzz targets (`fuzz/`): which channel an `itv create_link`
/// `cmd` names.
#[doc(hidden)]
pub use itv::channel_of_cmd;

use crate::access::{self, Ask, Caller};
use crate::answer::stalker::{js, text, AUTHORIZATION_FAILED, UNAUTHORIZED_REQUEST};
use crate::answer::{Face, Refused};
use crate::params::Params;
use crate::state::App;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::sync::Arc;
use tvgate_core::access::token::TokenKey;
use tvgate_core::access::Line;

/// Settings of the portal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StalkerSettings {
    /// Serve the portal at all (off: its paths answer 404).
    pub enabled: bool,
    /// Boxes must also prove their line's username and password
    /// (`stb do_auth`) before the profile answers status 0.
    pub login_required: bool,
    /// Channels per page of `itv get_ordered_list` (14 is the stock value).
    pub page_size: u32,
    /// A session token lapses after this long without a call.
    pub token_idle_secs: u32,
    /// Life of a channel link from `itv create_link`.
    pub link_ttl_secs: u32,
    /// Distinct unknown MACs one address may try per minute (0: no limit).
    pub scan_unknown_per_minute: u32,
    /// How long an address that tried more is blocked.
    pub scan_block_secs: u32,
    /// The watchdog interval told to boxes (`watchdog_timeout`).
    pub watchdog_secs: u32,
}

impl Default for StalkerSettings {
    fn default() -> Self {
        StalkerSettings {
            enabled: true,
            login_required: false,
            page_size: 14,
            token_idle_secs: 24 * 3600,
            link_ttl_secs: 300,
            scan_unknown_per_minute: 5,
            scan_block_secs: 600,
            watchdog_secs: 120,
        }
    }
}

/// The portal's state: sessions, the scan limiter, the link key.
pub struct StalkerState {
    pub sessions: tokens::Sessions,
    pub scan: scan::ScanLimiter,
    key: TokenKey,
}

impl std::fmt::Debug for StalkerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StalkerState").finish_non_exhaustive()
    }
}

impl StalkerState {
    /// `key` signs channel links; it is the gate's token key, with links
    /// told apart from HLS tokens by a tag (`play`).
    pub fn new(settings: &StalkerSettings, key: TokenKey) -> StalkerState {
        StalkerState {
            sessions: tokens::Sessions::new(settings.token_idle_secs),
            scan: scan::ScanLimiter::new(
                settings.scan_unknown_per_minute,
                settings.scan_block_secs,
            ),
            key,
        }
    }
}

/// One call of an identified box whose line may be served.
struct Call<'a> {
    app: &'a App,
    caller: &'a Caller,
    params: &'a Params,
    session: tokens::Session,
    line: Arc<Line>,
}

/// Every portal path, GET or POST.
pub async fn portal(
    State(app): State<App>,
    caller: Caller,
    headers: HeaderMap,
    params: Params,
) -> Response {
    if !app.settings.stalker.enabled {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    }
    let kind = params.str("type");
    let action = params.str("action");
    let who = identity::presented(&headers, &params);
    let Some(raw_mac) = who.raw_mac.as_deref() else {
        return text(UNAUTHORIZED_REQUEST);
    };
    let now = app.now();
    if (kind, action) == ("stb", "handshake") {
        return stb::handshake(
            &app,
            &caller,
            raw_mac,
            who.mac(),
            &params,
            who.token.as_deref(),
        );
    }
    let session = match (who.mac(), who.token.as_deref()) {
        (Some(mac), Some(token)) => app.stalker.sessions.touch(token, &mac, now),
        _ => None,
    };
    let Some(session) = session else {
        return text(AUTHORIZATION_FAILED);
    };
    match (kind, action) {
        ("stb", "get_profile") => return stb::profile(&app, &caller, &params, &session).await,
        ("stb", "do_auth") => return stb::do_auth(&app, &caller, &params, &session).await,
        _ => {}
    }
    // Everything else is for an identified box.
    let Some(line) = session.line.and_then(|id| app.gate.line(id)) else {
        return text(AUTHORIZATION_FAILED);
    };
    let call = Call {
        app: &app,
        caller: &caller,
        params: &params,
        session,
        line,
    };
    // The watchdog is how a box learns its line was stopped: it is answered
    // with the event, not refused.
    if kind == "watchdog" {
        return watchdog::answer(&call, action);
    }
    if let Err(refused) = allowed(&call) {
        return refused.answer(&app);
    }
    match kind {
        "stb" => stb::other(action),
        "account_info" => stb::account_info(&call, action),
        "itv" => itv::answer(&call, action),
        _ => other(kind, action),
    }
}

/// The one decision for the box's line, as an API call. The box proved
/// itself by MAC (and login, when required) rather than by a password on
/// this request, and its device was checked when `get_profile` identified
/// the session (`stb::profile`); later calls and signed links ride on it.
fn allowed(call: &Call<'_>) -> Result<(), Refused> {
    access::decide_proven(
        call.app,
        call.caller,
        &call.line,
        Ask::face(Face::StalkerCall),
    )
}

/// The one decision for the box's line, asking for a live channel (in
/// `category`) as MPEG-TS, to give it a link.
fn allowed_link(
    call: &Call<'_>,
    channel: u32,
    category: Option<tvgate_core::ids::CategoryId>,
) -> Result<(), Refused> {
    let ask = Ask {
        face: Face::StalkerLink { channel },
        output: Some(tvgate_core::access::OutputFormat::Ts),
        item_category: Some(category),
    };
    access::decide_proven(call.app, call.caller, &call.line, ask)
}

/// Harmless answers for what this portal does not offer (VOD, series,
/// radio, recordings, ...): empty lists and pages, `true` for settings and
/// logs, "nothing to play" for links. Never an error: boxes stop on errors.
fn other(kind: &str, action: &str) -> Response {
    match action {
        "get_ordered_list"
        | "get_simple_data_table"
        | "get_all_channels"
        | "get_all_fav_channels" => js(empty_page()),
        "create_link" => js(json!({"id": 0, "cmd": "", "error": "nothing_to_play"})),
        a if a.starts_with("set_") || a == "log" || a == "confirm_event" => js(json!(true)),
        _ => {
            let _ = kind;
            js(json!([]))
        }
    }
}

fn empty_page() -> serde_json::Value {
    json!({"total_items": 0, "max_page_items": 14, "selected_item": 0, "cur_page": 0, "data": []})
}

/// `/c/version.js`: iptvpy reads `var ver = '...'` from it before anything else.
pub async fn version_js() -> Response {
    crate::answer::stalker::javascript("var ver = '5.6.2';\n")
}

/// `/c/xpcom.common.js`: fetched first by emulators; its content is not used.
pub async fn xpcom_js() -> Response {
    crate::answer::stalker::javascript(
        "/* tvgate: this portal serves the Stalker API only (server/load.php). */\n",
    )
}
