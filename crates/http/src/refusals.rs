//! Recent refusals, in memory and bounded: the subscriber portal shows a
//! line its own last refusals in plain words, and the operator console
//! filters the global ring by reason, line and address. The tracing log
//! (`tvgate::denial`) stays the durable record; this is the quick view, so
//! it forgets on restart and never grows past its bounds.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use tvgate_core::ids::AccountId;
use tvgate_core::UnixTime;

/// Refusals kept per line.
pub const PER_LINE: usize = 20;
/// Refusals kept across all lines (unknown usernames included).
pub const GLOBAL: usize = 1000;
/// Lines with a per-line history; the line refused longest ago is dropped
/// first past this, so a flood of many lines cannot grow memory.
pub const MAX_LINES: usize = 10_000;

/// One refusal as a person reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub at: UnixTime,
    /// The stable code (`Denial::code`).
    pub reason: &'static str,
    /// The refusal in plain words (times in the server's zone).
    pub text: String,
    /// The line, when the username names one.
    pub account: Option<AccountId>,
    /// As presented (at most 64 characters).
    pub username: String,
    pub ip: IpAddr,
    /// Which face refused (`player_api`, `stream`, ...).
    pub face: &'static str,
}

#[derive(Default)]
struct Inner {
    global: VecDeque<Refusal>,
    by_line: HashMap<AccountId, (UnixTime, VecDeque<Refusal>)>,
}

/// The bounded log.
#[derive(Default)]
pub struct RefusalLog {
    inner: Mutex<Inner>,
}

impl RefusalLog {
    /// Records one refusal.
    pub fn record(&self, refusal: Refusal) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(account) = refusal.account {
            if !inner.by_line.contains_key(&account) && inner.by_line.len() >= MAX_LINES {
                let oldest = inner
                    .by_line
                    .iter()
                    .min_by_key(|(_, (at, _))| *at)
                    .map(|(id, _)| *id);
                if let Some(oldest) = oldest {
                    inner.by_line.remove(&oldest);
                }
            }
            let entry = inner.by_line.entry(account).or_default();
            entry.0 = refusal.at;
            if entry.1.len() >= PER_LINE {
                entry.1.pop_front();
            }
            entry.1.push_back(refusal.clone());
        }
        if inner.global.len() >= GLOBAL {
            inner.global.pop_front();
        }
        inner.global.push_back(refusal);
    }

    /// A line's refusals, newest first.
    pub fn of_line(&self, account: AccountId) -> Vec<Refusal> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner
            .by_line
            .get(&account)
            .map(|(_, q)| q.iter().rev().cloned().collect())
            .unwrap_or_default()
    }

    /// Every kept refusal, newest first, that `keep` accepts.
    pub fn recent(&self, keep: impl Fn(&Refusal) -> bool) -> Vec<Refusal> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner
            .global
            .iter()
            .rev()
            .filter(|r| keep(r))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn refusal(at: UnixTime, account: Option<i64>) -> Refusal {
        Refusal {
            at,
            reason: "connection_limit",
            text: format!("refusal {at}"),
            account: account.map(AccountId),
            username: "u".into(),
            ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            face: "stream",
        }
    }

    #[test]
    fn keeps_the_newest_per_line_and_globally() {
        let log = RefusalLog::default();
        for at in 0..(GLOBAL as i64 + 5) {
            log.record(refusal(at, if at % 2 == 0 { Some(1) } else { None }));
        }
        let mine = log.of_line(AccountId(1));
        assert_eq!(mine.len(), PER_LINE);
        assert_eq!(mine[0].at, GLOBAL as i64 + 4);
        assert!(log.of_line(AccountId(2)).is_empty());
        let all = log.recent(|_| true);
        assert_eq!(all.len(), GLOBAL);
        assert_eq!(all[0].at, GLOBAL as i64 + 4);
    }
}
