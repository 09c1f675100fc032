//! Domain values rendered into the Xtream wire shapes, field by field.
//! (The JSON of a failed login and the status word are the floor's,
//! `crate::answer::xtream`, beside the other refusals.)

use crate::access::Arrival;
use crate::answer::xtream::status_word;
use crate::localtime::{local_date, time_now};
use crate::state::{App, PublicUrl, UnlimitedExpiry};
use tvgate_core::access::{Denial, Line};
use tvgate_core::catalog::{Catalog, Category, CategoryKind};
use tvgate_core::ids::CategoryId;
use tvgate_core::UnixTime;
use tvgate_formats::xtream;

/// 2100-01-01T00:00:00Z, the "far future" for unlimited lines.
const FAR_FUTURE: UnixTime = 4_102_444_800;

/// Everything the login payload needs besides the line itself.
pub struct LoginContext<'a> {
    pub app: &'a App,
    pub public: &'a PublicUrl,
    /// The listener the login came in through.
    pub arrival: Arrival,
    pub username: &'a str,
    pub password: &'a str,
    pub active_cons: u32,
    pub now: UnixTime,
}

/// Renders the login payload; `denial` is the reason a proven line is not
/// allowed (shown in `status`, `message` and tvgate's extension).
pub fn login(ctx: &LoginContext<'_>, line: &Line, denial: Option<&Denial>) -> Vec<u8> {
    let app = ctx.app;
    let message = match denial {
        Some(d) => d.message(|t| local_date(app, t)),
        None => app.settings.message.clone(),
    };
    let exp_date = match (line.expires_at, app.settings.unlimited_expiry) {
        (Some(t), _) => Some(t.to_string()),
        (None, UnlimitedExpiry::Null) => None,
        (None, UnlimitedExpiry::FarFuture) => Some(FAR_FUTURE.to_string()),
    };
    let https = ctx.public.scheme == "https";
    let (port, https_port) =
        advertised_ports(ctx.public, ctx.arrival, app.settings.public_url.is_some());
    let tz = app.settings.timezone.name();
    let payload = xtream::Login {
        user_info: xtream::UserInfo {
            username: ctx.username,
            password: ctx.password,
            message: &message,
            auth: 1,
            status: status_word(line, denial, ctx.now),
            exp_date,
            is_trial: if line.is_trial { "1" } else { "0" },
            active_cons: ctx.active_cons.to_string(),
            created_at: line.created_at.to_string(),
            max_connections: line.max_connections.to_string(),
            allowed_output_formats: line.allowed_formats.iter().map(|f| f.as_str()).collect(),
        },
        server_info: xtream::ServerInfo {
            url: &ctx.public.host,
            port,
            https_port,
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

/// `server_info`'s `port` and `https_port`. The scheme the player used
/// (or `public_url`'s) names its port from `public`; the other one is the
/// other listener's: the plain listener's port over HTTPS, the HTTPS
/// listener's over plain HTTP ("" when there is none). A configured
/// `https` `public_url` keeps naming port 80 for plain HTTP, as it always
/// has: behind it the node's own plain port is usually not reachable.
fn advertised_ports(public: &PublicUrl, arrival: Arrival, configured: bool) -> (String, String) {
    if public.scheme == "https" {
        let plain = match arrival.http_port {
            Some(p) if !configured => p,
            _ => 80,
        };
        (plain.to_string(), public.port.to_string())
    } else {
        let tls = arrival.https_port.map(|p| p.to_string());
        (public.port.to_string(), tls.unwrap_or_default())
    }
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
pub fn categories(catalog: &Catalog, kind: CategoryKind, line: &Line) -> Vec<u8> {
    let list: Vec<_> = catalog
        .categories
        .iter()
        .filter(|c| c.kind == kind && line.may_see(Some(c.id)))
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
