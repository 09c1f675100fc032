//! What the server-rendered pages share (the subscriber portal and the
//! operator console): the headers that keep them out of caches, frames and
//! other sites' referrers, reading a cookie, random tokens and their
//! constant-time comparison, and the in-memory session store whose
//! sessions each carry their own CSRF token. One implementation, so a fix
//! to either face's sessions is a fix to both. (No HTML escaping here: the
//! pages are maud templates, which escape every value by its type.)

use axum::http::{header, HeaderMap, HeaderValue};
use rand::RngCore;
use std::collections::HashMap;
use std::ops::Deref;
use std::sync::Mutex;
use tvgate_core::UnixTime;

/// What a page may load: nothing from elsewhere, its own inline style and
/// script, inline images (the QR code); forms post only to this server and
/// no other site may frame it.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; \
     script-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

/// Sets the headers every page of the portal and the console carries: they
/// show credentials and hold buttons that end streams, so they are never
/// cached, framed (clickjacking), sniffed, or named in a referrer.
pub fn protect_page(h: &mut HeaderMap) {
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
}

/// The first value of cookie `name` across the `Cookie` headers, trimmed;
/// `None` when absent or empty.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty())
        .map(str::to_string)
}

/// 32 random bytes as hex: session ids and CSRF tokens.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// True when two tokens are equal, in time independent of where they differ.
pub fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// One logged-in person: what the face keeps about them (`data`, reached
/// through `Deref`), the CSRF token their forms must echo, and the expiry.
#[derive(Debug, Clone)]
pub struct Session<T> {
    pub data: T,
    pub csrf: String,
    pub expires: UnixTime,
}

impl<T> Deref for Session<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.data
    }
}

/// Server-side sessions: the browser holds only a random id. A restart
/// logs everyone out, which is the safe direction.
#[derive(Debug)]
pub struct Sessions<T> {
    // std Mutex: held for a map operation, never across .await.
    map: Mutex<HashMap<String, Session<T>>>,
}

impl<T> Default for Sessions<T> {
    fn default() -> Self {
        Sessions {
            map: Mutex::new(HashMap::new()),
        }
    }
}

impl<T: Clone> Sessions<T> {
    /// Opens a session living `ttl_secs`; beyond `max` sessions the one
    /// closest to expiry goes. Returns its id and the session.
    pub fn open(&self, data: T, now: UnixTime, ttl_secs: i64, max: usize) -> (String, Session<T>) {
        let id = random_token();
        let session = Session {
            data,
            csrf: random_token(),
            expires: now + ttl_secs,
        };
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, s| s.expires > now);
        if map.len() >= max {
            let soonest = map
                .iter()
                .min_by_key(|(_, s)| s.expires)
                .map(|(k, _)| k.clone());
            if let Some(k) = soonest {
                map.remove(&k);
            }
        }
        map.insert(id.clone(), session.clone());
        (id, session)
    }

    /// The live session with this id.
    pub fn get(&self, id: &str, now: UnixTime) -> Option<Session<T>> {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.get(id).filter(|s| s.expires > now).cloned()
    }

    /// Ends a session (logout).
    pub fn close(&self, id: &str) {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_expire_close_and_stay_bounded() {
        let sessions = Sessions::default();
        let (id, s) = sessions.open("alice".to_string(), 1000, 60, 2);
        assert_eq!(*s, "alice");
        assert_eq!(id.len(), 64);
        assert!(sessions.get(&id, 1001).is_some());
        assert!(sessions.get(&id, 1060).is_none());
        sessions.close(&id);
        assert!(sessions.get(&id, 1001).is_none());
        assert!(sessions.get("made-up", 1001).is_none());
        let (a, _) = sessions.open("a".to_string(), 1000, 60, 2);
        let (b, _) = sessions.open("b".to_string(), 1001, 60, 2);
        let (c, _) = sessions.open("c".to_string(), 1002, 60, 2);
        assert!(sessions.get(&a, 1003).is_none(), "the oldest went");
        assert!(sessions.get(&b, 1003).is_some() && sessions.get(&c, 1003).is_some());
    }

    #[test]
    fn tokens_compare_exactly() {
        assert!(same_token("abc", "abc"));
        assert!(!same_token("abc", "abd"));
        assert!(!same_token("abc", "ab"));
        assert!(!same_token("", "abc"));
    }
}
