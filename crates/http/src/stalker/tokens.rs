//! Portal sessions: the random token a box gets at `stb handshake`, kept
//! here with its MAC, the line it was identified as, and when it lapses.
//!
//! A token is 32 upper-case hex characters from the OS random generator and
//! means nothing by itself; it lapses after `token_idle_secs` without a call
//! (every call, the watchdog included, renews it). One MAC holds one live
//! token: a box that is identified again (`get_profile`) ends its older
//! sessions, as stock Ministra does, so a cloned MAC on a second box knocks
//! the first one back to the handshake.
//!
//! Sessions live in this process only (a restarted server sends boxes back
//! to the handshake, which they do on their own); the map is bounded.

use super::identity::Mac;
use rand::RngCore;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use tvgate_core::ids::LineId;
use tvgate_core::UnixTime;

/// Most sessions kept; past it the expired ones go, then the least recently used.
const MAX_SESSIONS: usize = 200_000;

/// An event waiting for the box's next watchdog call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub event: &'static str,
    pub msg: String,
}

/// One box's session.
#[derive(Debug, Clone)]
pub struct Session {
    /// A number that names the session inside stream links (never the token).
    pub number: u64,
    pub token: String,
    pub mac: Mac,
    pub last_seen: UnixTime,
    /// The line, once `get_profile` identified the box.
    pub line: Option<LineId>,
    /// The line's login and password were proven (`stb do_auth`).
    pub login_proven: Option<LineId>,
    pub pending: Option<Pending>,
    /// Events handed out so far (their ids).
    pub events_sent: u64,
}

#[derive(Default)]
struct Inner {
    next: u64,
    by_number: HashMap<u64, Session>,
    by_token: HashMap<String, u64>,
}

/// Every live session.
#[derive(Default)]
pub struct Sessions {
    inner: Mutex<Inner>,
    idle_secs: i64,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions").finish_non_exhaustive()
    }
}

/// 32 upper-case hex characters from the OS random generator.
pub fn new_token() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

impl Sessions {
    pub fn new(idle_secs: u32) -> Sessions {
        Sessions {
            inner: Mutex::default(),
            idle_secs: i64::from(idle_secs.max(1)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `stb handshake`: the box's current token again when it presents a
    /// live one for the same MAC, otherwise a new session.
    pub fn handshake(&self, mac: &Mac, presented: Option<&str>, now: UnixTime) -> String {
        let mut inner = self.lock();
        if let Some(token) = presented {
            if let Some(s) = inner
                .by_token
                .get(token)
                .copied()
                .and_then(|n| inner.by_number.get_mut(&n))
                .filter(|s| &s.mac == mac && now - s.last_seen < self.idle_secs)
            {
                s.last_seen = now;
                return s.token.clone();
            }
        }
        if inner.by_number.len() >= MAX_SESSIONS {
            self.sweep(&mut inner, now);
        }
        inner.next += 1;
        let number = inner.next;
        let token = new_token();
        inner.by_token.insert(token.clone(), number);
        inner.by_number.insert(
            number,
            Session {
                number,
                token: token.clone(),
                mac: mac.clone(),
                last_seen: now,
                line: None,
                login_proven: None,
                pending: None,
                events_sent: 0,
            },
        );
        token
    }

    fn sweep(&self, inner: &mut Inner, now: UnixTime) {
        let idle = self.idle_secs;
        inner.by_number.retain(|_, s| now - s.last_seen < idle);
        if inner.by_number.len() >= MAX_SESSIONS {
            if let Some(oldest) = inner
                .by_number
                .values()
                .min_by_key(|s| s.last_seen)
                .map(|s| s.number)
            {
                inner.by_number.remove(&oldest);
            }
        }
        let live = &inner.by_number;
        inner.by_token.retain(|_, n| live.contains_key(n));
    }

    /// The live session of `token` for `mac`, renewed; `None` for an
    /// unknown or lapsed token, or one handed out to another MAC.
    pub fn touch(&self, token: &str, mac: &Mac, now: UnixTime) -> Option<Session> {
        let mut inner = self.lock();
        let number = inner.by_token.get(token).copied()?;
        let idle = self.idle_secs;
        let live = inner
            .by_number
            .get(&number)
            .is_some_and(|s| now - s.last_seen < idle);
        if !live {
            inner.by_number.remove(&number);
            inner.by_token.remove(token);
            return None;
        }
        let s = inner.by_number.get_mut(&number)?;
        if &s.mac != mac {
            return None;
        }
        s.last_seen = now;
        Some(s.clone())
    }

    /// Changes a session (if it still exists).
    pub fn update(&self, number: u64, f: impl FnOnce(&mut Session)) {
        if let Some(s) = self.lock().by_number.get_mut(&number) {
            f(s);
        }
    }

    /// Records that the box was identified as `line`, ending every other
    /// session of its MAC.
    pub fn identified(&self, number: u64, line: Option<LineId>) {
        let mut inner = self.lock();
        let Some(mac) = inner.by_number.get(&number).map(|s| s.mac.clone()) else {
            return;
        };
        if line.is_some() {
            let others: Vec<u64> = inner
                .by_number
                .values()
                .filter(|s| s.mac == mac && s.number != number && s.line.is_some())
                .map(|s| s.number)
                .collect();
            for n in others {
                if let Some(s) = inner.by_number.remove(&n) {
                    inner.by_token.remove(&s.token);
                }
            }
        }
        if let Some(s) = inner.by_number.get_mut(&number) {
            s.line = line;
        }
    }

    /// Queues an event for the session's next watchdog call (a newer one
    /// replaces one not yet delivered).
    pub fn notify(&self, number: u64, event: &'static str, msg: String) {
        self.update(number, |s| s.pending = Some(Pending { event, msg }));
    }

    /// Takes the pending event, numbering it.
    pub fn take_event(&self, number: u64) -> Option<(u64, Pending)> {
        let mut inner = self.lock();
        let s = inner.by_number.get_mut(&number)?;
        let p = s.pending.take()?;
        s.events_sent += 1;
        Some((s.events_sent, p))
    }

    pub fn len(&self) -> usize {
        self.lock().by_number.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mac(s: &str) -> Mac {
        Mac::parse(s).expect("mac")
    }

    #[test]
    fn tokens_are_random_hex_reissued_to_their_box_and_lapse() {
        let s = Sessions::new(100);
        let a = mac("00:1A:79:00:00:01");
        let t = s.handshake(&a, None, 1000);
        assert_eq!(t.len(), 32);
        assert!(t
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_lowercase()));
        assert_eq!(s.handshake(&a, Some(&t), 1010), t, "idempotent for its box");
        assert_ne!(s.handshake(&mac("00:1A:79:00:00:02"), Some(&t), 1010), t);
        assert!(s.touch(&t, &a, 1050).is_some());
        assert!(
            s.touch(&t, &mac("00:1A:79:00:00:02"), 1050).is_none(),
            "another MAC"
        );
        assert!(s.touch(&t, &a, 1150).is_none(), "idle too long");
        assert!(s.touch(&t, &a, 1151).is_none(), "and gone");
    }

    #[test]
    fn one_identified_session_per_mac_and_events() {
        let s = Sessions::new(1000);
        let a = mac("00:1A:79:00:00:01");
        let first = s.handshake(&a, None, 0);
        let second = s.handshake(&a, None, 1);
        let n1 = s.touch(&first, &a, 2).expect("first").number;
        let n2 = s.touch(&second, &a, 2).expect("second").number;
        s.identified(n1, Some(LineId(7)));
        s.identified(n2, Some(LineId(7)));
        assert!(s.touch(&first, &a, 3).is_none(), "the older box was ended");
        s.notify(n2, "cut_off", "gone".into());
        assert_eq!(
            s.take_event(n2).map(|(id, p)| (id, p.event)),
            Some((1, "cut_off"))
        );
        assert_eq!(s.take_event(n2), None);
    }
}
