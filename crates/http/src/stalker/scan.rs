//! Scan protection. A MAC is the whole credential of a box, and there are
//! few of them per vendor prefix, so a portal that answers freely can be
//! walked for working MACs. Each address may present at most
//! `unknown_per_minute` distinct unknown MACs within a minute; one more
//! blocks the address for `block_secs`, logged once per block.
//!
//! While an address is blocked, every identification from it (`get_profile`,
//! `do_auth`) is answered exactly as an unknown MAC is, known MACs included:
//! if known MACs still got through, the block would not stop the scan, it
//! would only slow the misses. Boxes from that address that were identified
//! before the block keep their sessions (their token already proves what
//! the scanner wants to learn), so a household behind the same NAT keeps
//! watching; a box that has to identify anew waits out the block.
//!
//! With several nodes sharing one Redis, each miss is also handed to the
//! shared count (`tvgate_core::access::share`), and a block decided there
//! reaches every node ([`ScanLimiter::block`]), so a scan spread over the
//! nodes meets one budget. This node's own count still decides at once.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use tvgate_core::access::share::LimitShare;
use tvgate_core::UnixTime;

const WINDOW_SECS: i64 = 60;
/// Most addresses tracked; past it, those with nothing recent go.
const MAX_ADDRESSES: usize = 100_000;

#[derive(Debug, Default)]
struct Address {
    window_start: UnixTime,
    /// Distinct unknown MACs in the current window (at most the limit + 1).
    misses: Vec<String>,
    blocked_until: UnixTime,
}

/// What the limiter says about a miss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Within the budget.
    Counted,
    /// This miss started a block (log it).
    BlockedNow { until: UnixTime },
    /// The address was already blocked.
    Blocked,
}

/// Unknown MACs per address.
pub struct ScanLimiter {
    per_minute: usize,
    block_secs: i64,
    addresses: Mutex<HashMap<IpAddr, Address>>,
    share: OnceLock<Arc<dyn LimitShare>>,
}

impl std::fmt::Debug for ScanLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScanLimiter")
            .field("per_minute", &self.per_minute)
            .field("block_secs", &self.block_secs)
            .field("shared", &self.share.get().is_some())
            .finish_non_exhaustive()
    }
}

impl ScanLimiter {
    pub fn new(unknown_per_minute: u32, block_secs: u32) -> ScanLimiter {
        ScanLimiter {
            per_minute: unknown_per_minute as usize,
            block_secs: i64::from(block_secs),
            addresses: Mutex::default(),
            share: OnceLock::new(),
        }
    }

    /// Hands every miss to other nodes from now on (set once, at start).
    pub fn share(&self, share: Arc<dyn LimitShare>) {
        let _ = self.share.set(share);
    }

    /// Blocks `ip` until `until`, as another node decided; true when that
    /// started a block here (log it).
    pub fn block(&self, ip: IpAddr, until: UnixTime, now: UnixTime) -> bool {
        if self.per_minute == 0 || until <= now {
            return false;
        }
        let mut map = self.lock();
        let a = map.entry(ip).or_default();
        let started = a.blocked_until <= now;
        a.blocked_until = a.blocked_until.max(until);
        a.misses.clear();
        started
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<IpAddr, Address>> {
        self.addresses.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// True while `ip` is blocked. A limit of 0 turns the limiter off.
    pub fn is_blocked(&self, ip: IpAddr, now: UnixTime) -> bool {
        self.per_minute > 0 && self.lock().get(&ip).is_some_and(|a| a.blocked_until > now)
    }

    /// Records that `ip` presented the unknown MAC `mac` (its raw text when
    /// it did not even parse); the same MAC again within the window is not
    /// a new miss (a box retrying is not a scan).
    pub fn miss(&self, ip: IpAddr, mac: &str, now: UnixTime) -> Verdict {
        if self.per_minute == 0 {
            return Verdict::Counted;
        }
        let mut map = self.lock();
        if map.len() >= MAX_ADDRESSES && !map.contains_key(&ip) {
            map.retain(|_, a| a.blocked_until > now || now - a.window_start < WINDOW_SECS);
        }
        let a = map.entry(ip).or_default();
        if a.blocked_until > now {
            return Verdict::Blocked;
        }
        if let Some(share) = self.share.get() {
            share.mac_missed(ip, mac, now);
        }
        if now - a.window_start >= WINDOW_SECS {
            a.window_start = now;
            a.misses.clear();
        }
        if !a.misses.iter().any(|m| m == mac) {
            a.misses.push(mac.chars().take(64).collect());
        }
        if a.misses.len() > self.per_minute {
            a.blocked_until = now + self.block_secs;
            a.misses.clear();
            return Verdict::BlockedNow {
                until: a.blocked_until,
            };
        }
        Verdict::Counted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_misses_block_the_address_for_a_while() {
        let l = ScanLimiter::new(3, 600);
        let ip: IpAddr = "192.0.2.1".parse().expect("ip");
        let other: IpAddr = "192.0.2.2".parse().expect("ip");
        for _ in 0..10 {
            assert_eq!(
                l.miss(ip, "A", 0),
                Verdict::Counted,
                "a retry is not a scan"
            );
        }
        assert_eq!(l.miss(ip, "B", 1), Verdict::Counted);
        assert_eq!(l.miss(ip, "C", 2), Verdict::Counted);
        assert_eq!(l.miss(ip, "D", 3), Verdict::BlockedNow { until: 603 });
        assert_eq!(l.miss(ip, "E", 4), Verdict::Blocked);
        assert!(l.is_blocked(ip, 602));
        assert!(!l.is_blocked(other, 10));
        assert!(!l.is_blocked(ip, 603));
        assert_eq!(l.miss(ip, "F", 603), Verdict::Counted);
    }

    #[test]
    fn a_block_from_another_node_blocks_here() {
        let l = ScanLimiter::new(3, 600);
        let ip: IpAddr = "192.0.2.1".parse().expect("ip");
        assert!(l.block(ip, 700, 100), "a block starts");
        assert!(!l.block(ip, 650, 101), "an earlier end changes nothing");
        assert!(l.is_blocked(ip, 699));
        assert!(!l.is_blocked(ip, 700));
        assert_eq!(l.miss(ip, "A", 200), Verdict::Blocked);
        let off = ScanLimiter::new(0, 600);
        assert!(!off.block(ip, 700, 100));
        assert!(!off.is_blocked(ip, 100));
    }

    #[test]
    fn misses_spread_over_minutes_are_allowed_and_zero_turns_it_off() {
        let l = ScanLimiter::new(2, 600);
        let ip: IpAddr = "192.0.2.1".parse().expect("ip");
        for (i, t) in [0, 30, 61, 90, 122, 150].into_iter().enumerate() {
            assert_eq!(l.miss(ip, &i.to_string(), t), Verdict::Counted, "{t}");
        }
        let off = ScanLimiter::new(0, 600);
        for i in 0..100 {
            assert_eq!(off.miss(ip, &i.to_string(), 0), Verdict::Counted);
        }
        assert!(!off.is_blocked(ip, 0));
    }
}
