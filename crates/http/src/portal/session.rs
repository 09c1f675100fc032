//! Portal sessions, kept server-side: the browser holds only a random id
//! in an HttpOnly, SameSite=Strict cookie. A session is bound to one line
//! (every action takes the line from here, never from the form) and
//! carries the CSRF token its forms must echo.

use rand::RngCore;
use std::collections::HashMap;
use std::sync::Mutex;
use tvgate_core::ids::AccountId;
use tvgate_core::UnixTime;

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

/// One logged-in subscriber.
#[derive(Debug, Clone)]
pub struct Session {
    pub account: AccountId,
    /// The line's real credentials (shown back as login details and
    /// built into the M3U and XMLTV URLs).
    pub username: String,
    pub password: String,
    pub csrf: String,
    pub expires: UnixTime,
}

/// The session store.
#[derive(Default)]
pub struct Sessions {
    by_id: Mutex<HashMap<String, Session>>,
}

/// 32 random bytes as hex.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Sessions {
    /// Opens a session; returns its id.
    pub fn open(
        &self,
        account: AccountId,
        username: String,
        password: String,
        now: UnixTime,
    ) -> String {
        let id = random_token();
        let session = Session {
            account,
            username,
            password,
            csrf: random_token(),
            expires: now + TTL_SECS,
        };
        let mut map = self.by_id.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, s| s.expires > now);
        if map.len() >= MAX_SESSIONS {
            let soonest = map
                .iter()
                .min_by_key(|(_, s)| s.expires)
                .map(|(k, _)| k.clone());
            if let Some(k) = soonest {
                map.remove(&k);
            }
        }
        map.insert(id.clone(), session);
        id
    }

    /// The live session with this id.
    pub fn get(&self, id: &str, now: UnixTime) -> Option<Session> {
        let map = self.by_id.lock().unwrap_or_else(|e| e.into_inner());
        map.get(id).filter(|s| s.expires > now).cloned()
    }

    /// Ends a session (logout).
    pub fn close(&self, id: &str) {
        let mut map = self.by_id.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(id);
    }
}

/// True when two tokens are equal, in time independent of where they differ.
pub fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_expire_and_close() {
        let s = Sessions::default();
        let id = s.open(AccountId(1), "u".into(), "p".into(), 100);
        assert_eq!(id.len(), 64);
        assert!(s.get(&id, 101).is_some());
        assert!(s.get(&id, 100 + TTL_SECS).is_none());
        s.close(&id);
        assert!(s.get(&id, 101).is_none());
        assert!(same_token("abc", "abc"));
        assert!(!same_token("abc", "abd"));
        assert!(!same_token("abc", "ab"));
    }
}
