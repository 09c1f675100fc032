//! What the server-rendered pages share (the subscriber portal and the
//! operator console): the headers that keep them out of caches, frames and
//! other sites' referrers, reading a cookie, random tokens and their
//! constant-time comparison, and the session store (kept in the database,
//! held in memory) whose sessions each carry their own CSRF token. One implementation, so a fix
//! to either face's sessions is a fix to both. (No HTML escaping here: the
//! pages are maud templates, which escape every value by its type.)

use axum::http::{header, HeaderMap, HeaderValue};
use rand::RngCore;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use std::collections::HashMap;
use std::ops::Deref;
use std::sync::{Arc, Mutex};
use tvgate_core::gate::Gate;
use tvgate_core::ports::{SessionFace, StoredSession};
use tvgate_core::UnixTime;

/// What a page may load: nothing from elsewhere and nothing inline: the
/// style sheet and scripts tvgate serves itself (`crate::assets`), images
/// from here or inline (the QR code, the dashboard's graphs are inline
/// SVG elements); forms post only to this server and no other site may
/// frame it.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; \
     script-src 'self'; img-src 'self' data:; form-action 'self'; \
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

/// What a face keeps about a logged-in person, as bytes the store keeps
/// (sealed, see [`Sessions`]).
pub trait SessionData: Clone + Send + Sync + 'static {
    fn encode(&self) -> Vec<u8>;
    /// `None` for bytes this build cannot read (the session is then gone).
    fn decode(bytes: &[u8]) -> Option<Self>;
}

/// How long a session held in memory is trusted before the store is asked
/// again whether it still lives (a logout elsewhere that no notification
/// told of: another process on SQLite, a lost notification).
pub const RECHECK_SECS: i64 = 60;

/// Server-side sessions: the browser holds only a random id.
///
/// Sessions are kept in the store (through the gate), so a restart does not
/// log anyone out and a session made on one node works on every other;
/// each node holds the ones it has seen in memory, so a page costs no
/// database round trip. The store never sees the id: only its SHA-256
/// (which finds the row), and the face's data sealed (ChaCha20-Poly1305)
/// under a key derived from the id, so a copy of the database opens no
/// session and shows nothing of it (the portal keeps the subscriber's
/// password to show it back). Logging out ends the session in the store,
/// which tells every node (PostgreSQL's notification; [`Sessions::forget_all`]
/// is what a node does then); a session held in memory is checked again
/// after [`RECHECK_SECS`] all the same. When the store cannot be reached a
/// session held in memory keeps working, and one opened meanwhile lives
/// on this node only.
pub struct Sessions<T> {
    face: SessionFace,
    /// `None`: in memory only (unit tests).
    gate: Option<Arc<Gate>>,
    // std Mutex: held for a map operation, never across .await.
    held: Mutex<HashMap<[u8; 32], Held<T>>>,
}

struct Held<T> {
    session: Session<T>,
    /// When the store last said the session lives.
    checked: UnixTime,
}

impl<T> std::fmt::Debug for Sessions<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("face", &self.face)
            .finish_non_exhaustive()
    }
}

impl<T: SessionData> Sessions<T> {
    /// Sessions of `face`, kept in the gate's store.
    pub fn stored(gate: Arc<Gate>, face: SessionFace) -> Self {
        Sessions {
            face,
            gate: Some(gate),
            held: Mutex::new(HashMap::new()),
        }
    }

    /// Sessions in this process's memory only.
    pub fn in_memory(face: SessionFace) -> Self {
        Sessions {
            face,
            gate: None,
            held: Mutex::new(HashMap::new()),
        }
    }

    fn held(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Held<T>>> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Holds `session` in memory; beyond `max` the one closest to expiry goes.
    fn hold(&self, hash: [u8; 32], session: Session<T>, now: UnixTime, max: usize) {
        let mut held = self.held();
        held.retain(|_, h| h.session.expires > now);
        if held.len() >= max && !held.contains_key(&hash) {
            let soonest = held
                .iter()
                .min_by_key(|(_, h)| h.session.expires)
                .map(|(k, _)| *k);
            if let Some(k) = soonest {
                held.remove(&k);
            }
        }
        held.insert(
            hash,
            Held {
                session,
                checked: now,
            },
        );
    }

    /// Opens a session living `ttl_secs`; beyond `max` sessions the one
    /// closest to expiry goes. Returns its id and the session.
    pub async fn open(
        &self,
        data: T,
        now: UnixTime,
        ttl_secs: i64,
        max: usize,
    ) -> (String, Session<T>) {
        let id = random_token();
        let session = Session {
            data,
            csrf: random_token(),
            expires: now + ttl_secs,
        };
        let hash = id_hash(&id);
        self.hold(hash, session.clone(), now, max);
        if let Some(gate) = &self.gate {
            let stored = seal(&id, &session.data.encode()).map(|sealed| StoredSession {
                id_hash: hash,
                face: self.face,
                csrf: session.csrf.clone(),
                sealed,
                expires: session.expires,
            });
            let max = u32::try_from(max).unwrap_or(u32::MAX);
            let saved = match stored {
                Some(stored) => gate
                    .save_session(stored, now, max)
                    .await
                    .map_err(|e| e.to_string()),
                None => Err("sealing failed".to_string()),
            };
            if let Err(e) = saved {
                tracing::error!(face = self.face.as_str(), error = %e, "session not stored; it lives on this node only");
            }
        }
        (id, session)
    }

    /// The live session with this id.
    pub async fn get(&self, id: &str, now: UnixTime) -> Option<Session<T>> {
        let hash = id_hash(id);
        let held = self
            .held()
            .get(&hash)
            .filter(|h| h.session.expires > now)
            .map(|h| (h.session.clone(), h.checked));
        let Some(gate) = &self.gate else {
            return held.map(|(s, _)| s);
        };
        if let Some((session, checked)) = &held {
            if now - checked < RECHECK_SECS {
                return Some(session.clone());
            }
        }
        match gate.find_session(self.face, hash, now).await {
            Ok(Some(stored)) => {
                let data = unseal(id, &stored.sealed).and_then(|b| T::decode(&b));
                let Some(data) = data else {
                    tracing::warn!(
                        face = self.face.as_str(),
                        "a stored session could not be read; it is ended"
                    );
                    self.held().remove(&hash);
                    return None;
                };
                let session = Session {
                    data,
                    csrf: stored.csrf,
                    expires: stored.expires,
                };
                let mut map = self.held();
                map.insert(
                    hash,
                    Held {
                        session: session.clone(),
                        checked: now,
                    },
                );
                Some(session)
            }
            Ok(None) => {
                self.held().remove(&hash);
                None
            }
            Err(e) => {
                // The store is unreachable: what this node holds still holds.
                tracing::warn!(face = self.face.as_str(), error = %e, "reading a session failed");
                held.map(|(s, _)| s)
            }
        }
    }

    /// Ends a session (logout), on every node.
    pub async fn close(&self, id: &str) {
        let hash = id_hash(id);
        self.held().remove(&hash);
        if let Some(gate) = &self.gate {
            if let Err(e) = gate.end_session(hash).await {
                tracing::error!(face = self.face.as_str(), error = %e, "ending a stored session failed");
            }
        }
    }

    /// Drops every session held in memory (another node ended one); the
    /// next request of each asks the store again.
    pub fn forget_all(&self) {
        if self.gate.is_some() {
            self.held().clear();
        }
    }
}

/// The SHA-256 of a session id: what the store finds it by.
fn id_hash(id: &str) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, id.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// The key a session's data is sealed under: derived from its id, which
/// only the browser (and this node's memory) holds.
fn seal_key(id: &str) -> Option<LessSafeKey> {
    let derived = ring::hmac::sign(
        &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, id.as_bytes()),
        b"tvgate-session-seal-v1",
    );
    UnboundKey::new(&CHACHA20_POLY1305, derived.as_ref())
        .ok()
        .map(LessSafeKey::new)
}

/// `nonce || ciphertext || tag`.
fn seal(id: &str, plain: &[u8]) -> Option<Vec<u8>> {
    let key = seal_key(id)?;
    let mut nonce = [0u8; NONCE_LEN];
    rand::thread_rng().fill_bytes(&mut nonce);
    let mut sealed = plain.to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::empty(),
        &mut sealed,
    )
    .ok()?;
    Some([&nonce[..], &sealed].concat())
}

fn unseal(id: &str, sealed: &[u8]) -> Option<Vec<u8>> {
    if sealed.len() < NONCE_LEN {
        return None;
    }
    let (nonce, rest) = sealed.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
    let mut buf = rest.to_vec();
    let plain = seal_key(id)?
        .open_in_place(nonce, Aad::empty(), &mut buf)
        .ok()?;
    Some(plain.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    impl SessionData for String {
        fn encode(&self) -> Vec<u8> {
            self.as_bytes().to_vec()
        }
        fn decode(bytes: &[u8]) -> Option<Self> {
            String::from_utf8(bytes.to_vec()).ok()
        }
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(f)
    }

    #[test]
    fn sessions_expire_close_and_stay_bounded() {
        block_on(async {
            let sessions = Sessions::in_memory(SessionFace::Console);
            let (id, s) = sessions.open("alice".to_string(), 1000, 60, 2).await;
            assert_eq!(*s, "alice");
            assert_eq!(id.len(), 64);
            assert!(sessions.get(&id, 1001).await.is_some());
            assert!(sessions.get(&id, 1060).await.is_none());
            sessions.close(&id).await;
            assert!(sessions.get(&id, 1001).await.is_none());
            assert!(sessions.get("made-up", 1001).await.is_none());
            let (a, _) = sessions.open("a".to_string(), 1000, 60, 2).await;
            let (b, _) = sessions.open("b".to_string(), 1001, 60, 2).await;
            let (c, _) = sessions.open("c".to_string(), 1002, 60, 2).await;
            assert!(sessions.get(&a, 1003).await.is_none(), "the oldest went");
            assert!(sessions.get(&b, 1003).await.is_some());
            assert!(sessions.get(&c, 1003).await.is_some());
        });
    }

    #[test]
    fn sealed_data_opens_only_with_its_id() {
        let id = random_token();
        let sealed = seal(&id, b"alice:secret").expect("sealed");
        assert!(
            !sealed.windows(6).any(|w| w == b"secret"),
            "not in the clear"
        );
        assert_eq!(unseal(&id, &sealed).as_deref(), Some(&b"alice:secret"[..]));
        assert_eq!(unseal(&random_token(), &sealed), None, "another id");
        let mut tampered = sealed.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert_eq!(unseal(&id, &tampered), None, "tampered");
        assert_eq!(unseal(&id, b"short"), None);
        assert_ne!(seal(&id, b"x"), seal(&id, b"x"), "a fresh nonce each time");
        assert_eq!(id_hash(&id), id_hash(&id));
        assert_ne!(id_hash(&id), id_hash(&random_token()));
    }

    #[test]
    fn tokens_compare_exactly() {
        assert!(same_token("abc", "abc"));
        assert!(!same_token("abc", "abd"));
        assert!(!same_token("abc", "ab"));
        assert!(!same_token("", "abc"));
    }
}
