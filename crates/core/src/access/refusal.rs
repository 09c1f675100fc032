//! The denial log's records: one refusal as a person reads it, and the
//! filter the console, the portal and the API read the log with. The
//! faces record them (`tvgate_http::refusals`), the store keeps them
//! (`Store::insert_refusals`), the gate reads them ([`crate::gate::Gate::refusals`]).

use crate::ids::LineId;
use crate::UnixTime;
use std::net::IpAddr;

/// Characters of the presented username that are kept.
pub const USERNAME_MAX: usize = 64;
/// Characters of the plain-words text that are kept.
pub const TEXT_MAX: usize = 1000;
/// The most refusals one read returns.
pub const PAGE_MAX: u32 = 1000;

/// One refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub at: UnixTime,
    /// The stable code (`Denial::code`).
    pub reason: String,
    /// The refusal in plain words (times in the server's zone).
    pub text: String,
    /// The line, when the username names one (never for `invalid_credentials`
    /// and `rate_limited`: those say nothing about a line).
    pub line: Option<LineId>,
    /// As presented (at most [`USERNAME_MAX`] characters).
    pub username: String,
    pub ip: IpAddr,
    /// Which face refused (`player_api`, `stream`, ...).
    pub face: String,
}

impl Refusal {
    /// The refusal with its username and text cut to their bounds, so a
    /// caller cannot make one row large.
    pub fn bounded(mut self) -> Refusal {
        cut(&mut self.username, USERNAME_MAX);
        cut(&mut self.text, TEXT_MAX);
        self
    }
}

fn cut(s: &mut String, max: usize) {
    if let Some((i, _)) = s.char_indices().nth(max) {
        s.truncate(i);
    }
}

/// A refusal as the log keeps it: with its id, which orders the log
/// (a larger id was recorded later) and pages it (`before`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedRefusal {
    pub id: i64,
    pub refusal: Refusal,
}

/// Which refusals to read, newest first. Every given field must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RefusalFilter {
    /// A reason code.
    pub reason: Option<String>,
    /// The line the refusal was recorded under.
    pub line: Option<LineId>,
    /// The username as presented, compared case-insensitively (Unicode
    /// lowercase), exactly otherwise.
    pub username: Option<String>,
    pub ip: Option<IpAddr>,
    /// At or after this time.
    pub since: Option<UnixTime>,
    /// At or before this time.
    pub until: Option<UnixTime>,
    /// Only ids below this one (the cursor of the next page).
    pub before: Option<i64>,
    /// At most this many (at most [`PAGE_MAX`]).
    pub limit: u32,
}

/// One page of the log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RefusalPage {
    pub items: Vec<LoggedRefusal>,
    /// The `before` of the next (older) page; `None` when this is the last.
    pub next_before: Option<i64>,
}

/// The key the username filter compares: the Unicode lowercase.
pub fn username_key(username: &str) -> String {
    username.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn bounds_cut_at_characters() {
        let r = Refusal {
            at: 0,
            reason: "expired".into(),
            text: "é".repeat(TEXT_MAX + 5),
            line: None,
            username: "ü".repeat(USERNAME_MAX + 1),
            ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            face: "stream".into(),
        }
        .bounded();
        assert_eq!(r.username.chars().count(), USERNAME_MAX);
        assert_eq!(r.text.chars().count(), TEXT_MAX);
    }
}
