//! The operator's faces: the JSON API under `/api/v1/` (token auth,
//! [`api`]), its OpenAPI document ([`openapi`]), and the console's
//! sessions with CSRF protection under `/admin/` ([`session`]) and its
//! pages ([`console`]); the denial log's filter and API route, shared by
//! both ([`denials`]); sources and channels in both ([`api_sources`],
//! [`console_sources`]) with refreshes run in the background ([`importer`])
//! and on a schedule ([`schedule`]); a line's story for the console's
//! line page and the API ([`timeline`]).
//!
//! Every operation calls the same gate method the CLI calls; this module
//! only turns requests into those calls and answers into JSON or HTML.

pub mod api;
mod api_lines;
pub mod api_sources;
pub mod console;
mod console_lines;
pub mod console_sources;
pub mod dashboard;
pub mod denials;
pub mod error;
pub mod graphs;
pub mod importer;
mod lines;
pub mod live;
pub mod openapi;
pub mod schedule;
pub mod session;
pub mod timeline;

pub use error::ApiError;

/// The SSRF guard's early answer to an operator adding URLs from the web
/// (a source's location, an Xtream server, a channel's backups): each
/// http(s) URL whose host is, or resolves to, an address the server may
/// not connect to is refused here, naming it. The connection is checked
/// again when it is made (`tvgate_relay::egress`), so a name that changes
/// its answer later gets no further. Files are not URLs: skipped.
pub(crate) async fn check_egress<'a>(
    app: &crate::state::App,
    field: &str,
    urls: impl IntoIterator<Item = &'a str>,
) -> Result<(), tvgate_core::gate::GateError> {
    for url in urls {
        let lower = url.trim().to_ascii_lowercase();
        if !(lower.starts_with("http://") || lower.starts_with("https://")) {
            continue;
        }
        if let Err(forbidden) = app.settings.egress.check_url(url.trim()).await {
            return Err(tvgate_core::gate::GateError::Invalid(format!(
                "{field}: {forbidden}"
            )));
        }
    }
    Ok(())
}

/// Who is acting, in the console or through the API: the operator's name,
/// and the API token they presented (`None` in the console, which uses a
/// session). One type for both faces, so a handler shared by them and the
/// logs name the actor the same way.
#[derive(Debug, Clone)]
pub struct Operator {
    pub admin: String,
    pub token: Option<i64>,
}

/// A console session keeps its operator in the store (sealed, see
/// [`crate::web::Sessions`]) as `{"admin": NAME, "token": ID}`.
impl crate::web::SessionData for Operator {
    fn encode(&self) -> Vec<u8> {
        serde_json::json!({"admin": self.admin, "token": self.token})
            .to_string()
            .into_bytes()
    }

    fn decode(bytes: &[u8]) -> Option<Self> {
        let v: serde_json::Value = serde_json::from_slice(bytes).ok()?;
        Some(Operator {
            admin: v.get("admin")?.as_str()?.to_string(),
            token: v.get("token").and_then(serde_json::Value::as_i64),
        })
    }
}
