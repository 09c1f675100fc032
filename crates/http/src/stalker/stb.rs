//! `type=stb` and `type=account_info`: the handshake, the profile that says
//! whether the box may watch (status 0 yes, 1 no with a reason, 2 login
//! needed), `do_auth`, and the small calls a box makes while starting.
//!
//! The refusal for an unknown MAC is one fixed body (it names neither the
//! MAC nor anything about other lines), the same for every spelling of a
//! MAC. An address blocked for scanning gets another fixed body, the same
//! for every MAC, known or not: it tells a scanner only what it already
//! knows (that it is blocked), and it tells a household whose box has to
//! identify anew, and `tvgate doctor`, that the MAC was not even looked at
//! (the unknown-MAC answer would send them to register a MAC that is fine).

use super::identity::Mac;
use super::scan::Verdict;
use super::tokens::Session;
use super::{mac_lookup, Call};
use crate::access::{self, Ask, Caller, Checked};
use crate::answer::stalker::{js, refused_profile};
use crate::answer::{Face, Refused};
use crate::params::Params;
use crate::state::App;
use axum::response::Response;
use serde_json::{json, Value};
use std::sync::Arc;
use tvgate_core::access::Line;

/// What an unknown MAC is told.
const NOT_REGISTERED: &str =
    "This device is not registered. Ask your provider to add its MAC address.";

/// What every MAC from an address blocked for scanning is told. `tvgate
/// doctor` recognises it (crates/doctor/src/stalker.rs): keep the words
/// "too many unregistered devices were tried from this address".
const SCAN_BLOCKED: &str = "Too many unregistered devices were tried from this address: it is blocked for a while. Try again later.";

/// `stb handshake`: a token for the box. It looks nothing up, so it tells
/// a scanner nothing: an unparsable MAC gets a token too (one that is not
/// kept) and counts as an unknown MAC.
pub fn handshake(
    app: &App,
    caller: &Caller,
    raw_mac: &str,
    mac: Option<Mac>,
    params: &Params,
    bearer: Option<&str>,
) -> Response {
    let now = app.now();
    let presented = params.get("token").filter(|t| !t.is_empty()).or(bearer);
    let token = match mac {
        Some(mac) => app.stalker.sessions.handshake(&mac, presented, now),
        None => {
            miss(app, caller, raw_mac);
            super::tokens::new_token()
        }
    };
    let random = super::tokens::new_token().to_ascii_lowercase();
    js(json!({"token": token, "random": random, "not_valid": 0}))
}

/// Counts an unknown MAC against the caller's address; logs a new block.
fn miss(app: &App, caller: &Caller, mac: &str) {
    if let Verdict::BlockedNow { until } = app.stalker.scan.miss(caller.ip, mac, app.now()) {
        tracing::warn!(
            target: "tvgate::denial",
            reason = "mac_scan",
            face = "stalker",
            ip = %caller.ip,
            user_agent = %caller.user_agent().chars().take(256).collect::<String>().escape_debug(),
            blocked_secs = until - app.now(),
            "too many unknown MACs from this address; blocked"
        );
    }
}

/// The line the session's box belongs to, unless its address is blocked
/// for scanning (boxes identified before the block keep theirs).
fn identify(app: &App, caller: &Caller, session: &Session) -> Option<Arc<Line>> {
    let blocked = app.stalker.scan.is_blocked(caller.ip, app.now());
    if blocked && session.line.is_none() {
        return None;
    }
    let found = mac_lookup::line_by_mac(app, &session.mac);
    if found.is_none() && !blocked {
        miss(app, caller, session.mac.as_str());
    }
    found
}

/// `stb get_profile`.
pub async fn profile(app: &App, caller: &Caller, params: &Params, session: &Session) -> Response {
    let Some(line) = identify(app, caller, session) else {
        app.stalker.sessions.identified(session.number, None);
        // Blocked now (this miss may have started it): every MAC alike.
        if app.stalker.scan.is_blocked(caller.ip, app.now()) {
            return js(refused_profile(SCAN_BLOCKED));
        }
        if app.settings.stalker.login_required {
            return js(login_needed());
        }
        return js(refused_profile(NOT_REGISTERED));
    };
    if app.settings.stalker.login_required && session.login_proven != Some(line.id) {
        return js(login_needed());
    }
    // The one decision, with the device step: the box presents its MAC and
    // identifiers (serial, device ids), bound or checked per the line's
    // device policy (docs/devices.md).
    let presented = tvgate_core::access::device::DevicePresented::mag(
        session.mac.as_str(),
        params.get("sn"),
        params.get("device_id"),
        params.get("device_id2"),
    );
    let req = tvgate_core::access::decide::AccessRequest::new(
        Face::StalkerProfile.decided_as(),
        caller.ip,
        caller.user_agent(),
    );
    let decision = app
        .gate
        .authorize(
            tvgate_core::access::decide::Proof::Proven(&line),
            &req,
            presented.as_ref(),
            app.now(),
        )
        .await;
    let checked = match decision {
        tvgate_core::access::decide::Decision::Allow => Ok(()),
        tvgate_core::access::decide::Decision::Deny(d) => Err(d),
    };
    if let Err(denial) = checked {
        app.stalker.sessions.identified(session.number, None);
        return Refused::new(Face::StalkerProfile, denial, caller, &line.username).answer(app);
    }
    app.stalker
        .sessions
        .identified(session.number, Some(line.id));
    js(active_profile(app, &line, &session.mac))
}

/// `stb do_auth&login=&password=`: proves the line's credentials through
/// the shared login step (its failure budget included). True only when they
/// are the credentials of the line this MAC belongs to.
pub async fn do_auth(app: &App, caller: &Caller, params: &Params, session: &Session) -> Response {
    let checked = access::check(
        app,
        caller,
        params.str("login"),
        params.str("password"),
        Ask::face(Face::StalkerCall),
    )
    .await;
    // The answer is only yes or no; a refusal is recorded, and a proven
    // line still counts as proven (its state is the profile's business).
    let proven = match checked {
        Checked::Allowed(proven) => Some(proven.line),
        Checked::Refused { proven, refused } => {
            let _ = refused.record(app);
            proven.map(|p| p.line)
        }
    };
    let by_mac = identify(app, caller, session);
    let ok = match (by_mac, proven) {
        (Some(line), Some(proven)) if line.id == proven.id => {
            app.stalker
                .sessions
                .update(session.number, |s| s.login_proven = Some(line.id));
            true
        }
        _ => false,
    };
    js(json!(ok))
}

fn login_needed() -> Value {
    json!({"status": 2, "msg": "Enter your login and password.", "block_msg": "", "watchdog_timeout": 120})
}

/// Expiry as `account_info` and the profile show it.
fn end_date(app: &App, line: &Line) -> (String, String) {
    match line.expires_at {
        None => ("Unlimited".into(), "Unlimited".into()),
        Some(at) => {
            let days = (at - app.now()).div_euclid(86_400);
            let date = crate::localtime::local_time(app, at);
            (format!("{date} ({days} days)"), date)
        }
    }
}

fn active_profile(app: &App, line: &Line, mac: &Mac) -> Value {
    let s = &app.settings.stalker;
    let (end, plain_end) = end_date(app, line);
    json!({
        "id": line.id.0.to_string(),
        "name": &*line.username,
        "sname": "",
        "login": &*line.username,
        "mac": mac.as_str(),
        "status": 0,
        "msg": "",
        "block_msg": "",
        "ls": "",
        "fname": &*line.username,
        "phone": plain_end,
        "end_date": end,
        "tariff_plan": "",
        "account_balance": "",
        "watchdog_timeout": s.watchdog_secs,
        "timeslot": s.watchdog_secs,
        "store_auth_data_on_stb": false,
        "aspect": 16,
        "locale": "en_GB.utf8",
        "default_locale": "en_GB.utf8",
        "default_timezone": app.settings.timezone.name(),
        "hd": 1,
        "allowed_stb_types": ["mag200", "mag245", "mag250", "mag254", "mag256", "mag322", "mag324", "mag420", "mag520", "aurahd"],
        "play_in_preview_by_ok": null,
        "plasma_saving": 0,
        "parent_password": "0000",
        "settings_password": "0000",
        "enable_tv_archive": 0,
        "mc_tv_archive": 0,
    })
}

/// `type=stb` calls other than the handshake, profile and login.
pub fn other(action: &str) -> Response {
    match action {
        "get_localization" => js(localization()),
        "get_modules" => js(json!({
            "all_modules": ["media_browser", "tv", "epg", "settings"],
            "switchable_modules": [], "disabled_modules": ["vclub", "sclub", "karaoke", "radio", "ex", "records"],
            "restricted_modules": [], "template": "default", "launcher_url": "", "launcher_profile_url": "",
        })),
        "get_locales" => js(json!([{"label": "English", "value": "en_GB.utf8", "selected": 1}])),
        "get_settings_profile" => js(json!({})),
        "get_tv_aspects" => js(json!({})),
        "check_portal_status" => js(json!({"status": 0})),
        _ => super::other("stb", action),
    }
}

/// `type=account_info`.
pub fn account_info(call: &Call<'_>, action: &str) -> Response {
    match action {
        "get_main_info" => {
            let (end, plain_end) = end_date(call.app, &call.line);
            js(json!({
                "mac": call.session.mac.as_str(),
                "login": &*call.line.username,
                "fname": &*call.line.username,
                "phone": plain_end,
                "end_date": end,
                "tariff_plan": "",
                "account_balance": "",
            }))
        }
        _ => super::other("account_info", action),
    }
}

/// UI strings the stock portal JS asks for; emulators ignore them.
fn localization() -> Value {
    json!({
        "stb": {"error_channel_nothing_to_play": "No channel", "error_channel_limit": "Channel temporary unavailable",
                "error_channel_access_denied": "Access denied", "error_channel_link_fault": "Channel unavailable"},
        "my_account": {"title": "My line", "phone": "Subscription ends", "end_date": "Subscription ends"},
        "tv": {"title": "TV"},
    })
}
