//! The failed-login limiter: a typo never locks anyone out, but guessing
//! does not scale.
//!
//! Each client address and each username has a leaky bucket of failures.
//! Only failures fill it; it drains steadily. A caller whose bucket is full is
//! answered "rate limited" without its credentials being checked, so a
//! guessing run gets nothing for its work and costs the server almost nothing.
//!
//! The username bucket (for guessing spread over many addresses) would let an
//! attacker lock a subscriber out, so it does not apply to an address that
//! has logged in to that line successfully before: the subscriber's own
//! devices keep working while the attack goes on.
//!
//! Time is a parameter; there is no I/O. The caller holds the lock briefly.

use crate::UnixTime;
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

/// Limits for one kind of bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketLimit {
    /// Failures allowed in a burst.
    pub burst: u32,
    /// Seconds for one failure to drain away.
    pub drain_secs: u32,
}

/// The limiter's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimiterSettings {
    pub per_ip: BucketLimit,
    pub per_username: BucketLimit,
}

impl Default for LimiterSettings {
    fn default() -> Self {
        LimiterSettings {
            // 20 typos in a row from one address before it has to wait; then one
            // more try every 30 s: about 2,900 guesses a day, not millions.
            per_ip: BucketLimit {
                burst: 20,
                drain_secs: 30,
            },
            per_username: BucketLimit {
                burst: 50,
                drain_secs: 60,
            },
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Failures in the bucket, in milli-failures so draining is smooth.
    level_milli: u64,
    updated: UnixTime,
}

impl Bucket {
    fn empty(at: UnixTime) -> Bucket {
        Bucket {
            level_milli: 0,
            updated: at,
        }
    }

    fn drained(&self, limit: BucketLimit, now: UnixTime) -> u64 {
        let elapsed = now.saturating_sub(self.updated).max(0) as u64;
        let drain = elapsed.saturating_mul(1000) / u64::from(limit.drain_secs.max(1));
        self.level_milli.saturating_sub(drain)
    }
}

/// Sets `bucket` to `level` at `at` where that is higher than what the
/// bucket holds, comparing both at the later of the two times.
fn raise(bucket: &mut Bucket, limit: BucketLimit, level: u64, at: UnixTime) {
    let shared = Bucket {
        level_milli: level,
        updated: at,
    };
    let when = bucket.updated.max(at);
    let (mine, theirs) = (bucket.drained(limit, when), shared.drained(limit, when));
    *bucket = Bucket {
        level_milli: mine.max(theirs),
        updated: when,
    };
}

/// Failure buckets per address and per username key.
#[derive(Debug, Default)]
pub struct Limiter {
    settings: LimiterSettings,
    by_ip: HashMap<IpAddr, Bucket>,
    by_user: HashMap<String, Bucket>,
    /// (address, username key) pairs that have logged in successfully.
    trusted: HashSet<(IpAddr, String)>,
    ops: u64,
}

impl Limiter {
    pub fn new(settings: LimiterSettings) -> Self {
        Limiter {
            settings,
            ..Default::default()
        }
    }

    fn over(bucket: Option<&Bucket>, limit: BucketLimit, now: UnixTime) -> Option<u32> {
        let level = bucket?.drained(limit, now);
        let cap = u64::from(limit.burst) * 1000;
        if level >= cap {
            // Seconds until one failure has drained below the cap.
            let excess = level - cap + 1;
            let secs = excess * u64::from(limit.drain_secs.max(1)) / 1000 + 1;
            Some(u32::try_from(secs).unwrap_or(u32::MAX))
        } else {
            None
        }
    }

    /// `Some(retry_after_secs)` when this caller must be refused unheard.
    pub fn check(&self, ip: IpAddr, username_key: &str, now: UnixTime) -> Option<u32> {
        if let Some(secs) = Self::over(self.by_ip.get(&ip), self.settings.per_ip, now) {
            return Some(secs);
        }
        if self.by_user.is_empty() {
            return None;
        }
        let over_user = Self::over(
            self.by_user.get(username_key),
            self.settings.per_username,
            now,
        )?;
        if self.trusted.contains(&(ip, username_key.to_string())) {
            None
        } else {
            Some(over_user)
        }
    }

    /// Records a failed login.
    pub fn record_failure(&mut self, ip: IpAddr, username_key: &str, now: UnixTime) {
        let (ip_limit, user_limit) = (self.settings.per_ip, self.settings.per_username);
        let add = |b: &mut Bucket, limit: BucketLimit| {
            let level = b.drained(limit, now);
            // Cap at twice the burst so a long attack does not keep the
            // address blocked for days after it stops.
            b.level_milli = (level + 1000).min(u64::from(limit.burst) * 2000);
            b.updated = now;
        };
        add(
            self.by_ip.entry(ip).or_insert(Bucket {
                level_milli: 0,
                updated: now,
            }),
            ip_limit,
        );
        // Look up before inserting, so a repeat offender costs no allocation.
        match self.by_user.get_mut(username_key) {
            Some(user) => add(user, user_limit),
            None => {
                let mut user = Bucket {
                    level_milli: 0,
                    updated: now,
                };
                add(&mut user, user_limit);
                self.by_user.insert(username_key.to_string(), user);
            }
        }
        self.maybe_prune(now);
    }

    /// Records a successful login: the address becomes trusted for the line.
    /// True when it was not yet (the username is being guessed and other
    /// nodes should trust it too, see [`super::share`]).
    pub fn record_success(&mut self, ip: IpAddr, username_key: &str) -> bool {
        if !self.by_user.is_empty() && self.by_user.contains_key(username_key) {
            return self.trusted.insert((ip, username_key.to_string()));
        }
        false
    }

    /// Raises the buckets of an address and a username to the levels the
    /// shared buckets reached at `at` (after a failure on any node), so
    /// this node refuses what the deployment as a whole has had enough of.
    /// Never lowers a bucket: this node's own failures are in the shared
    /// level already, and a level that arrives late is drained to now.
    pub fn apply_shared(
        &mut self,
        ip: IpAddr,
        ip_level_milli: u64,
        username_key: &str,
        username_level_milli: u64,
        at: UnixTime,
    ) {
        let (ip_limit, user_limit) = (self.settings.per_ip, self.settings.per_username);
        raise(
            self.by_ip.entry(ip).or_insert(Bucket::empty(at)),
            ip_limit,
            ip_level_milli,
            at,
        );
        match self.by_user.get_mut(username_key) {
            Some(user) => raise(user, user_limit, username_level_milli, at),
            None => {
                let mut user = Bucket::empty(at);
                raise(&mut user, user_limit, username_level_milli, at);
                self.by_user.insert(username_key.to_string(), user);
            }
        }
        self.maybe_prune(at);
    }

    /// Trusts an address for a username because it logged in on another
    /// node (see [`Limiter::record_success`]).
    pub fn trust(&mut self, ip: IpAddr, username_key: &str) {
        self.trusted.insert((ip, username_key.to_string()));
    }

    /// Drops empty buckets now and then, so memory stays bounded by the
    /// number of recent offenders.
    fn maybe_prune(&mut self, now: UnixTime) {
        self.ops += 1;
        if self.ops % 1024 != 0 {
            return;
        }
        let (ip_limit, user_limit) = (self.settings.per_ip, self.settings.per_username);
        self.by_ip.retain(|_, b| b.drained(ip_limit, now) > 0);
        self.by_user.retain(|_, b| b.drained(user_limit, now) > 0);
        let users = &self.by_user;
        self.trusted.retain(|(_, u)| users.contains_key(u));
    }

    /// Number of tracked addresses and usernames (for metrics and tests).
    pub fn tracked(&self) -> (usize, usize) {
        (self.by_ip.len(), self.by_user.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("literal ip")
    }

    #[test]
    fn typos_pass_guessing_stops_and_drains() {
        let mut l = Limiter::new(LimiterSettings::default());
        let a = ip("192.0.2.1");
        for _ in 0..19 {
            assert_eq!(l.check(a, "alice", 100), None);
            l.record_failure(a, "alice", 100);
        }
        assert_eq!(l.check(a, "alice", 100), None, "19 typos are still fine");
        l.record_failure(a, "alice", 100);
        let retry = l.check(a, "alice", 100).expect("over the limit");
        assert!((1..=31).contains(&retry), "{retry}");
        assert!(
            l.check(ip("192.0.2.2"), "bob", 100).is_none(),
            "other callers unaffected"
        );
        assert!(
            l.check(a, "alice", 100 + 31).is_none(),
            "one try drained back"
        );
    }

    #[test]
    fn shared_levels_raise_buckets_and_never_lower_them() {
        let mut l = Limiter::new(LimiterSettings::default());
        let a = ip("192.0.2.1");
        l.record_failure(a, "alice", 100);
        // Another node's failures brought the shared buckets to the limit.
        l.apply_shared(a, 20_000, "alice", 3_000, 100);
        assert!(l.check(a, "alice", 100).is_some(), "blocked here too");
        assert!(l.check(ip("192.0.2.2"), "bob", 100).is_none());
        // A late, lower level changes nothing.
        l.apply_shared(a, 1_000, "alice", 1_000, 90);
        assert!(l.check(a, "alice", 100).is_some());
        // It drains here as it does there: one failure in 30 s.
        assert!(l.check(a, "alice", 131).is_none());
        // A username blocked elsewhere spares an address trusted elsewhere.
        let home = ip("198.51.100.7");
        l.apply_shared(ip("203.0.113.1"), 1_000, "carol", 50_000, 100);
        assert!(l.check(home, "carol", 100).is_some());
        l.trust(home, "carol");
        assert!(l.check(home, "carol", 100).is_none());
        assert!(!l.record_success(home, "carol"), "already trusted");
        assert!(
            l.record_success(ip("198.51.100.8"), "carol"),
            "newly trusted"
        );
        assert!(!l.record_success(home, "dave"), "not being guessed");
    }

    #[test]
    fn distributed_guessing_of_one_user_spares_trusted_addresses() {
        let mut l = Limiter::new(LimiterSettings::default());
        let home = ip("198.51.100.7");
        for i in 0..60u32 {
            let attacker = IpAddr::from([203, 0, 113, (i % 250) as u8]);
            l.record_failure(attacker, "alice", 10);
        }
        assert!(l.check(ip("203.0.113.250"), "alice", 10).is_some());
        assert!(l.check(home, "alice", 10).is_some(), "not yet trusted");
        l.record_success(home, "alice");
        assert_eq!(
            l.check(home, "alice", 10),
            None,
            "the subscriber's own device keeps working"
        );
    }
}
