//! Portal sessions, kept server-side (in the store, so every node and a
//! restarted one know them; see [`crate::web::Sessions`]): the browser
//! holds only a random id in an HttpOnly, SameSite=Strict cookie. A session is bound to one line
//! (every action takes the line from here, never from the form) and
//! carries the CSRF token its forms must echo.

use tvgate_core::ids::LineId;

/// The cookie's name.
pub const COOKIE: &str = "tvgate_portal";
/// The cookie that pairs the login form with its CSRF token (set with
/// the form, compared with the form's `csrf` field on the POST).
pub const LOGIN_COOKIE: &str = "tvgate_portal_login";
/// How long a login form stays usable.
pub const LOGIN_TTL_SECS: i64 = 3600;
/// How long a session lives after login.
pub const TTL_SECS: i64 = 8 * 3600;
/// Sessions kept at most; past this the one closest to expiry goes.
pub const MAX_SESSIONS: usize = 20_000;

/// What the portal keeps about a logged-in subscriber.
#[derive(Debug, Clone)]
pub struct Subscriber {
    pub line: LineId,
    /// The line's real credentials (shown back as login details and
    /// built into the M3U and XMLTV URLs).
    pub username: String,
    pub password: String,
}

/// A portal session keeps its subscriber in the store (sealed, see
/// [`crate::web::Sessions`]) as `{"line": ID, "username": …, "password": …}`.
impl crate::web::SessionData for Subscriber {
    fn encode(&self) -> Vec<u8> {
        serde_json::json!({
            "line": self.line.0,
            "username": self.username,
            "password": self.password,
        })
        .to_string()
        .into_bytes()
    }

    fn decode(bytes: &[u8]) -> Option<Self> {
        let v: serde_json::Value = serde_json::from_slice(bytes).ok()?;
        Some(Subscriber {
            line: LineId(v.get("line")?.as_i64()?),
            username: v.get("username")?.as_str()?.to_string(),
            password: v.get("password")?.as_str()?.to_string(),
        })
    }
}

/// One logged-in subscriber (its fields through `Deref`).
pub type Session = crate::web::Session<Subscriber>;
/// The session store.
pub type Sessions = crate::web::Sessions<Subscriber>;

pub use crate::web::{random_token, same_token};
