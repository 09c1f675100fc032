//! Per-minute samples of what a node served: viewers, bytes out, logins
//! and refusals by reason, kept for the last 24 hours in a small ring
//! ([`Sampler`]) and in the store (one row per node and minute, summed
//! when read, so several nodes sharing a store add up).
//!
//! The sampler is fed cumulative counters ([`Counters`], what `/metrics`
//! shows) and turns them into per-minute deltas, so a graph's numbers add
//! up to the counters' growth over the same time. Deliberately absent: the
//! clock (every call takes `now`), I/O and locking (the caller holds it).

use crate::UnixTime;
use std::collections::{BTreeMap, VecDeque};

/// Minutes a ring keeps: 24 hours.
pub const MINUTES: usize = 24 * 60;
/// The longest window anyone may ask for, in seconds.
pub const MAX_WINDOW_SECS: i64 = MINUTES as i64 * 60;

/// The start of the minute `t` falls in.
pub fn minute_of(t: UnixTime) -> UnixTime {
    t - t.rem_euclid(60)
}

/// What one node (or, summed, every node) served during one minute.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sample {
    /// The minute's start (Unix seconds, a multiple of 60).
    pub minute: UnixTime,
    /// The most viewers (open connection slots) seen during the minute.
    pub viewers: u64,
    /// Bytes handed to viewers' connections.
    pub bytes_out: u64,
    /// Successful player logins.
    pub logins: u64,
    /// Refusals by reason code (docs/denials.md), sorted by code, no zeros.
    pub refusals: Vec<(String, u64)>,
}

impl Sample {
    pub fn new(minute: UnixTime) -> Sample {
        Sample {
            minute,
            ..Sample::default()
        }
    }

    /// Every refusal of the minute, whatever its reason.
    pub fn refused(&self) -> u64 {
        self.refusals.iter().map(|(_, n)| n).sum()
    }

    /// The refusals of one reason.
    pub fn refused_for(&self, reason: &str) -> u64 {
        self.refusals
            .iter()
            .find(|(r, _)| r == reason)
            .map_or(0, |(_, n)| *n)
    }

    fn add_refusals(&mut self, reason: &str, n: u64) {
        if n == 0 {
            return;
        }
        match self
            .refusals
            .binary_search_by(|(r, _)| r.as_str().cmp(reason))
        {
            Ok(i) => self.refusals[i].1 = self.refusals[i].1.saturating_add(n),
            Err(i) => self.refusals.insert(i, (reason.to_string(), n)),
        }
    }

    /// Adds another node's sample of the same minute: every figure sums
    /// (viewers too: each node counts its own).
    pub fn add(&mut self, other: &Sample) {
        self.viewers = self.viewers.saturating_add(other.viewers);
        self.bytes_out = self.bytes_out.saturating_add(other.bytes_out);
        self.logins = self.logins.saturating_add(other.logins);
        for (reason, n) in &other.refusals {
            self.add_refusals(reason, *n);
        }
    }
}

/// Rows of several nodes (in any order) as one sample per minute, oldest
/// first: how a store's rows are read.
pub fn sum_by_minute(rows: impl IntoIterator<Item = Sample>) -> Vec<Sample> {
    let mut by_minute: BTreeMap<UnixTime, Sample> = BTreeMap::new();
    for row in rows {
        match by_minute.get_mut(&row.minute) {
            Some(s) => s.add(&row),
            None => {
                by_minute.insert(row.minute, row);
            }
        }
    }
    by_minute.into_values().collect()
}

/// The cumulative counters of a node at one moment (since it started),
/// as `/metrics` shows them, and the viewers it has now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    pub viewers_now: u64,
    pub bytes_out: u64,
    pub logins: u64,
    /// Refusals so far, by reason code.
    pub refusals: Vec<(&'static str, u64)>,
}

/// A node's ring of per-minute samples, fed its counters now and then.
#[derive(Debug, Default)]
pub struct Sampler {
    /// Oldest first, one per minute that saw anything, the last 24 hours.
    ring: VecDeque<Sample>,
    /// The counters last observed: the next observation adds the growth
    /// since. `None` before the first one (which adds nothing but viewers).
    last: Option<Counters>,
    /// Minutes changed since [`Sampler::take_changed`] last ran.
    changed: Vec<UnixTime>,
}

impl Sampler {
    /// Puts back samples this node wrote before a restart (its own rows
    /// from the store), so the minute it restarts in keeps what it had.
    pub fn restore(&mut self, samples: Vec<Sample>, now: UnixTime) {
        for s in samples {
            let minute = minute_of(s.minute);
            let slot = self.at(minute);
            slot.add(&Sample { minute, ..s });
        }
        self.drop_old(now);
    }

    /// Adds what the counters grew by since the last observation to the
    /// minute of `now`, and the viewers seen. A counter that went back
    /// (a process restarted under the same counters) adds nothing.
    pub fn observe(&mut self, now: UnixTime, counters: Counters) {
        let minute = minute_of(now);
        let last = self.last.take();
        let grew = |now: u64, then: Option<u64>| then.map_or(0, |t| now.saturating_sub(t));
        let slot = self.at(minute);
        slot.viewers = slot.viewers.max(counters.viewers_now);
        if let Some(last) = &last {
            slot.bytes_out = slot
                .bytes_out
                .saturating_add(grew(counters.bytes_out, Some(last.bytes_out)));
            slot.logins = slot
                .logins
                .saturating_add(grew(counters.logins, Some(last.logins)));
            for (reason, n) in &counters.refusals {
                let then = last
                    .refusals
                    .iter()
                    .find(|(r, _)| r == reason)
                    .map_or(0, |(_, n)| *n);
                slot.add_refusals(reason, n.saturating_sub(then));
            }
        }
        if self.changed.last() != Some(&minute) {
            self.changed.push(minute);
        }
        self.last = Some(counters);
        self.drop_old(now);
    }

    /// The samples changed since the last call (to write to the store).
    pub fn take_changed(&mut self) -> Vec<Sample> {
        let minutes = std::mem::take(&mut self.changed);
        minutes
            .into_iter()
            .filter_map(|m| self.ring.iter().find(|s| s.minute == m).cloned())
            .collect()
    }

    /// Marks samples as changed again (a write that failed is retried).
    pub fn unwritten(&mut self, samples: &[Sample]) {
        for s in samples {
            if !self.changed.contains(&s.minute) {
                self.changed.push(s.minute);
            }
        }
        self.changed.sort_unstable();
    }

    /// The samples from `from` on, oldest first.
    pub fn since(&self, from: UnixTime) -> Vec<Sample> {
        let from = minute_of(from);
        self.ring
            .iter()
            .filter(|s| s.minute >= from)
            .cloned()
            .collect()
    }

    /// The sample of `minute`, made (in order) when missing.
    fn at(&mut self, minute: UnixTime) -> &mut Sample {
        let i = match self.ring.iter().rposition(|s| s.minute <= minute) {
            Some(i) if self.ring[i].minute == minute => i,
            Some(i) => {
                self.ring.insert(i + 1, Sample::new(minute));
                i + 1
            }
            None => {
                self.ring.push_front(Sample::new(minute));
                0
            }
        };
        &mut self.ring[i]
    }

    /// Forgets the minutes older than 24 hours before `now`.
    fn drop_old(&mut self, now: UnixTime) {
        let oldest = minute_of(now) - MAX_WINDOW_SECS + 60;
        while self.ring.front().is_some_and(|s| s.minute < oldest) {
            self.ring.pop_front();
        }
        while self.ring.len() > MINUTES {
            self.ring.pop_front();
        }
        self.changed.retain(|m| *m >= oldest);
    }
}

/// A window's samples as one figure per minute from `from` to `to`
/// (minutes without a sample are zeros), for graphs.
pub fn dense(samples: &[Sample], from: UnixTime, to: UnixTime) -> Vec<Sample> {
    let (from, to) = (minute_of(from), minute_of(to));
    let mut out = Vec::with_capacity(usize::try_from((to - from) / 60 + 1).unwrap_or(0));
    let mut it = samples.iter().peekable();
    let mut m = from;
    while m <= to {
        while it.peek().is_some_and(|s| s.minute < m) {
            it.next();
        }
        match it.peek() {
            Some(s) if s.minute == m => out.push((*s).clone()),
            _ => out.push(Sample::new(m)),
        }
        m += 60;
    }
    out
}

/// The sum of a window's samples: viewers as the most in any minute, the
/// others as totals.
pub fn totals(samples: &[Sample]) -> Sample {
    let mut t = Sample::default();
    for s in samples {
        let viewers = t.viewers.max(s.viewers);
        t.add(s);
        t.viewers = viewers;
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counters(
        viewers: u64,
        bytes: u64,
        logins: u64,
        refused: &[(&'static str, u64)],
    ) -> Counters {
        Counters {
            viewers_now: viewers,
            bytes_out: bytes,
            logins,
            refusals: refused.to_vec(),
        }
    }

    #[test]
    fn growth_lands_in_the_minute_it_happened() {
        let mut s = Sampler::default();
        s.observe(600, counters(1, 100, 5, &[("expired", 2)]));
        s.observe(630, counters(3, 400, 6, &[("expired", 2), ("banned", 1)]));
        s.observe(661, counters(2, 1000, 6, &[("expired", 4), ("banned", 1)]));
        let all = s.since(0);
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].minute, 600);
        assert_eq!(all[0].viewers, 3, "the most seen in the minute");
        assert_eq!(
            all[0].bytes_out, 300,
            "the first observation is the baseline"
        );
        assert_eq!(all[0].logins, 1);
        assert_eq!(all[0].refusals, vec![("banned".to_string(), 1)]);
        assert_eq!(all[1].minute, 660);
        assert_eq!(all[1].bytes_out, 600);
        assert_eq!(all[1].refused_for("expired"), 2);
        assert_eq!(totals(&all).bytes_out, 900);
        assert_eq!(totals(&all).viewers, 3);
    }

    #[test]
    fn the_ring_keeps_24_hours() {
        let mut s = Sampler::default();
        for m in 0..(MINUTES as i64 + 100) {
            s.observe(m * 60, counters(1, m as u64, 0, &[]));
        }
        let all = s.since(0);
        assert_eq!(all.len(), MINUTES);
        assert_eq!(all[0].minute, 100 * 60);
    }

    #[test]
    fn changed_minutes_are_handed_out_once_and_retried_on_failure() {
        let mut s = Sampler::default();
        s.observe(60, counters(1, 0, 0, &[]));
        s.observe(125, counters(2, 10, 0, &[]));
        let first = s.take_changed();
        assert_eq!(
            first.iter().map(|x| x.minute).collect::<Vec<_>>(),
            [60, 120]
        );
        assert!(s.take_changed().is_empty());
        s.unwritten(&first);
        assert_eq!(s.take_changed().len(), 2);
    }

    #[test]
    fn a_restored_minute_keeps_counting() {
        let mut s = Sampler::default();
        let before = Sample {
            minute: 120,
            viewers: 2,
            bytes_out: 50,
            logins: 1,
            refusals: vec![("expired".into(), 1)],
        };
        s.restore(vec![before], 130);
        s.observe(140, counters(1, 7, 0, &[("expired", 3)]));
        s.observe(150, counters(1, 17, 1, &[("expired", 4)]));
        let all = s.since(0);
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].bytes_out, 60);
        assert_eq!(all[0].logins, 2);
        assert_eq!(all[0].viewers, 2);
        assert_eq!(all[0].refused_for("expired"), 2);
    }

    #[test]
    fn nodes_add_up_per_minute() {
        let a = Sample {
            minute: 60,
            viewers: 2,
            bytes_out: 10,
            logins: 1,
            refusals: vec![("banned".into(), 1)],
        };
        let b = Sample {
            minute: 60,
            viewers: 3,
            bytes_out: 5,
            logins: 0,
            refusals: vec![("banned".into(), 2), ("expired".into(), 1)],
        };
        let c = Sample::new(0);
        let sum = sum_by_minute([a, c, b]);
        assert_eq!(sum.len(), 2);
        assert_eq!(sum[1].viewers, 5);
        assert_eq!(sum[1].bytes_out, 15);
        assert_eq!(
            sum[1].refusals,
            vec![("banned".into(), 3), ("expired".into(), 1)]
        );
        let d = dense(&sum, 0, 180);
        assert_eq!(
            d.iter().map(|s| s.minute).collect::<Vec<_>>(),
            [0, 60, 120, 180]
        );
        assert_eq!(d[1].viewers, 5);
        assert_eq!(d[2], Sample::new(120));
    }
}
