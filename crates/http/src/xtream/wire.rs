//! Domain values rendered into the Xtream wire shapes, field by field.

use crate::state::{App, PublicUrl, UnlimitedExpiry};
use chrono::TimeZone;
use tvgate_core::access::{Account, Denial, Status};
use tvgate_core::catalog::{Catalog, Category, CategoryKind};
use tvgate_core::ids::CategoryId;
use tvgate_core::UnixTime;
use tvgate_formats::xtream;

/// `YYYY-MM-DD HH:MM:SS` in the advertised zone.
pub fn local_time(app: &App, ts: UnixTime) -> String {
    match app.settings.timezone.timestamp_opt(ts, 0).single() {
        Some(t) => t.format("%Y-%m-%d %H:%M:%S").to_string(),
        None => String::new(),
    }
}

thread_local! {
    // (second, zone, text) of the last `time_now` rendered on this thread:
    // every login in the same second reuses it instead of formatting again.
    static NOW_TEXT: std::cell::RefCell<(UnixTime, chrono_tz::Tz, String)> =
        const { std::cell::RefCell::new((UnixTime::MIN, chrono_tz::UTC, String::new())) };
}

/// [`local_time`] of the current second, cached per thread.
pub fn time_now(app: &App, now: UnixTime) -> String {
    NOW_TEXT.with(|cell| {
        let mut c = cell.borrow_mut();
        if c.0 != now || c.1 != app.settings.timezone {
            *c = (now, app.settings.timezone, local_time(app, now));
        }
        c.2.clone()
    })
}

/// `YYYY-MM-DD` in the advertised zone, for messages.
pub fn local_date(app: &App, ts: UnixTime) -> String {
    match app.settings.timezone.timestamp_opt(ts, 0).single() {
        Some(t) => t.format("%Y-%m-%d").to_string(),
        None => ts.to_string(),
    }
}

/// `2026-11-28 20:12` in the server's time zone: when a connection began.
pub fn local_minute(app: &App, ts: UnixTime) -> String {
    match app.settings.timezone.timestamp_opt(ts, 0).single() {
        Some(t) => t.format("%Y-%m-%d %H:%M").to_string(),
        None => ts.to_string(),
    }
}

/// A refusal in plain words for a person: times in the server's zone and,
/// for a full line, the name of the channel each holder watches.
pub fn describe(app: &App, denial: &Denial) -> String {
    let catalog = app.gate.catalog();
    denial.message_with(
        |t| match denial {
            Denial::ConnectionLimit { .. } | Denial::DeviceNotRegistered { .. } => {
                local_minute(app, t)
            }
            _ => local_date(app, t),
        },
        |id| {
            catalog
                .stream(id)
                .map(|r| catalog.stream_name(r).to_string())
        },
    )
}

/// 2100-01-01T00:00:00Z, the "far future" for unlimited lines.
const FAR_FUTURE: UnixTime = 4_102_444_800;

/// The status string players read, consistent with the expiry: a line
/// whose date has passed says `Expired` even if the operator left it active.
pub fn status_word(account: &Account, denial: Option<&Denial>, now: UnixTime) -> &'static str {
    match denial {
        Some(Denial::Banned) => "Banned",
        Some(Denial::Disabled) => "Disabled",
        Some(Denial::Expired { .. }) => "Expired",
        // Not a status of the line, but players only proceed on `Active`.
        Some(Denial::DeviceNotRegistered { .. }) => "Disabled",
        _ => match account.status {
            Status::Banned => "Banned",
            Status::Disabled => "Disabled",
            Status::Active if account.is_expired(now) => "Expired",
            Status::Active => "Active",
        },
    }
}

/// Everything the login payload needs besides the line itself.
pub struct LoginContext<'a> {
    pub app: &'a App,
    pub public: &'a PublicUrl,
    pub username: &'a str,
    pub password: &'a str,
    pub active_cons: u32,
    pub now: UnixTime,
}

/// Renders the login payload; `denial` is the reason a proven line is not
/// allowed (shown in `status`, `message` and tvgate's extension).
pub fn login(ctx: &LoginContext<'_>, account: &Account, denial: Option<&Denial>) -> Vec<u8> {
    let app = ctx.app;
    let message = match denial {
        Some(d) => d.message(|t| local_date(app, t)),
        None => app.settings.message.clone(),
    };
    let exp_date = match (account.expires_at, app.settings.unlimited_expiry) {
        (Some(t), _) => Some(t.to_string()),
        (None, UnlimitedExpiry::Null) => None,
        (None, UnlimitedExpiry::FarFuture) => Some(FAR_FUTURE.to_string()),
    };
    let https = ctx.public.scheme == "https";
    let tz = app.settings.timezone.name();
    let payload = xtream::Login {
        user_info: xtream::UserInfo {
            username: ctx.username,
            password: ctx.password,
            message: &message,
            auth: 1,
            status: status_word(account, denial, ctx.now),
            exp_date,
            is_trial: if account.is_trial { "1" } else { "0" },
            active_cons: ctx.active_cons.to_string(),
            created_at: account.created_at.to_string(),
            max_connections: account.max_connections.to_string(),
            allowed_output_formats: account.allowed_formats.iter().map(|f| f.as_str()).collect(),
        },
        server_info: xtream::ServerInfo {
            url: &ctx.public.host,
            port: if https {
                "80".to_string()
            } else {
                ctx.public.port.to_string()
            },
            https_port: if https {
                ctx.public.port.to_string()
            } else {
                String::new()
            },
            server_protocol: if https { "https" } else { "http" },
            rtmp_port: String::new(),
            timezone: tz,
            timestamp_now: ctx.now,
            time_now: time_now(app, ctx.now),
            process: true,
        },
        tvgate: denial.map(|d| xtream::Extension {
            reason: d.code(),
            message: &message,
        }),
    };
    serde_json::to_vec(&payload).unwrap_or_default()
}

/// The answer to unknown users and wrong passwords: the same bytes for both.
pub const FAILED_LOGIN_BODY: &[u8] = br#"{"user_info":{"auth":0}}"#;

/// The answer to a caller over the failure budget.
pub fn rate_limited_body(retry_after_secs: u32) -> Vec<u8> {
    format!(
        r#"{{"user_info":{{"auth":0}},"tvgate":{{"reason":"rate_limited","message":"Too many failed logins; try again in {retry_after_secs} seconds"}}}}"#
    )
    .into_bytes()
}

/// A category in wire form.
pub fn category(c: &Category) -> xtream::Category<'_> {
    xtream::Category {
        category_id: c.id.0.to_string(),
        category_name: &c.name,
        parent_id: 0,
    }
}

/// Categories of one kind the line may see, in catalog order.
pub fn categories(catalog: &Catalog, kind: CategoryKind, account: &Account) -> Vec<u8> {
    let list: Vec<_> = catalog
        .categories
        .iter()
        .filter(|c| c.kind == kind && account.may_see(Some(c.id)))
        .map(category)
        .collect();
    serde_json::to_vec(&list).unwrap_or_else(|_| b"[]".to_vec())
}

pub fn category_id(c: Option<CategoryId>) -> Option<String> {
    c.map(|c| c.0.to_string())
}

pub fn category_ids(c: Option<CategoryId>) -> Vec<u32> {
    c.map(|c| vec![c.0]).unwrap_or_default()
}
