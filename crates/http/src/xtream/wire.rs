//! Domain values rendered into the Xtream wire shapes, field by field.
//! (The JSON of a failed login and the status word are the floor's,
//! `crate::answer::xtream`, beside the other refusals.)

use crate::access::Arrival;
use crate::answer::xtream::status_word;
use crate::localtime::{local_date, with_time_now};
use crate::state::{App, PublicUrl, UnlimitedExpiry};
use std::borrow::Cow;
use tvgate_core::access::{Denial, Line, OutputFormat};
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
/// allowed (shown in `status`, `message` and tvgate's extension). Written
/// by hand into one buffer ([`xtream::Login::write_json`], the same bytes
/// as its `Serialize`); every value is borrowed or formatted on the stack.
pub fn login(ctx: &LoginContext<'_>, line: &Line, denial: Option<&Denial>) -> Vec<u8> {
    login_with(ctx, line, denial, |payload| {
        let mut out = Vec::with_capacity(768);
        payload.write_json(&mut out);
        out
    })
}

/// The login payload of `line` handed to `write` (the tests hand it to
/// serde_json, the reference of [`login`]'s bytes).
pub fn login_with<R>(
    ctx: &LoginContext<'_>,
    line: &Line,
    denial: Option<&Denial>,
    write: impl FnOnce(&xtream::Login<'_>) -> R,
) -> R {
    let app = ctx.app;
    let message: Cow<'_, str> = match denial {
        Some(d) => Cow::Owned(d.message(|t| local_date(app, t))),
        None => Cow::Borrowed(&app.settings.message),
    };
    let mut exp_buf = itoa::Buffer::new();
    let exp_date = match (line.expires_at, app.settings.unlimited_expiry) {
        (Some(t), _) => Some(exp_buf.format(t)),
        (None, UnlimitedExpiry::Null) => None,
        (None, UnlimitedExpiry::FarFuture) => Some(exp_buf.format(FAR_FUTURE)),
    };
    let https = ctx.public.scheme == "https";
    let (mut port_buf, mut https_port_buf) = (itoa::Buffer::new(), itoa::Buffer::new());
    let (port, https_port) =
        advertised_ports(ctx.public, ctx.arrival, app.settings.public_url.is_some());
    let port = port_buf.format(port);
    let https_port = https_port.map_or("", |p| https_port_buf.format(p));
    let tz = app.settings.timezone.name();
    let mut formats = [""; OutputFormat::ALL.len()];
    let mut n_formats = 0;
    for f in line.allowed_formats.iter() {
        formats[n_formats] = f.as_str();
        n_formats += 1;
    }
    let (mut cons_buf, mut created_buf, mut max_buf) = (
        itoa::Buffer::new(),
        itoa::Buffer::new(),
        itoa::Buffer::new(),
    );
    with_time_now(app, ctx.now, |time_now| {
        let payload = xtream::Login {
            user_info: xtream::UserInfo {
                username: ctx.username,
                password: ctx.password,
                message: &message,
                auth: 1,
                status: status_word(line, denial, ctx.now),
                exp_date,
                is_trial: if line.is_trial { "1" } else { "0" },
                active_cons: cons_buf.format(ctx.active_cons),
                created_at: created_buf.format(line.created_at),
                max_connections: max_buf.format(line.max_connections),
                allowed_output_formats: &formats[..n_formats],
            },
            server_info: xtream::ServerInfo {
                url: &ctx.public.host,
                port,
                https_port,
                server_protocol: if https { "https" } else { "http" },
                rtmp_port: "",
                timezone: tz,
                timestamp_now: ctx.now,
                time_now,
                process: true,
            },
            tvgate: denial.map(|d| xtream::Extension {
                reason: d.code(),
                message: &message,
            }),
        };
        write(&payload)
    })
}

/// `server_info`'s `port` and `https_port`. The scheme the player used
/// (or `public_url`'s) names its port from `public`; the other one is the
/// other listener's: the plain listener's port over HTTPS, the HTTPS
/// listener's over plain HTTP ("" when there is none). A configured
/// `https` `public_url` keeps naming port 80 for plain HTTP, as it always
/// has: behind it the node's own plain port is usually not reachable.
fn advertised_ports(public: &PublicUrl, arrival: Arrival, configured: bool) -> (u16, Option<u16>) {
    if public.scheme == "https" {
        let plain = match arrival.http_port {
            Some(p) if !configured => p,
            _ => 80,
        };
        (plain, Some(public.port))
    } else {
        (public.port, arrival.https_port)
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
