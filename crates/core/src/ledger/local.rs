//! The in-process ledger: one machine, a map behind a std mutex held only
//! for the few map operations of one call (never across `.await`).

use super::{
    eviction_victim, Admission, Lease, LeaseId, LeaseKind, LeaseRequest, Ledger, LimitPolicy,
};
use crate::ids::LineId;
use crate::UnixTime;
use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Debug, Default)]
struct State {
    next_id: u64,
    by_line: HashMap<LineId, Vec<Lease>>,
    line_of: HashMap<LeaseId, LineId>,
    /// Extra holders of a movie lease: a player that seeks keeps several
    /// range requests of one file open at once, and they are one viewer.
    /// The lease ends when its last request does.
    shared: HashMap<LeaseId, u32>,
}

impl State {
    /// Drops the line's expired leases; returns its live ones.
    fn live(&mut self, line: LineId, now: UnixTime) -> &mut Vec<Lease> {
        let leases = self.by_line.entry(line).or_default();
        let line_of = &mut self.line_of;
        let shared = &mut self.shared;
        leases.retain(|l| {
            let keep = l.expires > now;
            if !keep {
                line_of.remove(&l.id);
                shared.remove(&l.id);
            }
            keep
        });
        leases
    }

    /// Takes a lease out of the ledger, whatever its state.
    fn remove(&mut self, id: LeaseId) -> Option<Lease> {
        let line = self.line_of.remove(&id)?;
        let leases = self.by_line.get_mut(&line)?;
        let pos = leases.iter().position(|l| l.id == id)?;
        let lease = leases.remove(pos);
        if leases.is_empty() {
            self.by_line.remove(&line);
        }
        Some(lease)
    }
}

/// Leases of every line, in this process.
#[derive(Debug, Default)]
pub struct LocalLedger {
    state: Mutex<State>,
}

impl LocalLedger {
    pub fn new() -> Self {
        Self::default()
    }

    /// A ledger whose first lease is `first` (then `first + 1`, ...), so
    /// its ids cannot be mistaken for another ledger's: the Redis ledger's
    /// stand-in while Redis does not answer numbers its leases apart.
    pub fn numbered_from(first: u64) -> Self {
        let ledger = Self::default();
        ledger.lock().next_id = first.saturating_sub(1);
        ledger
    }

    /// Takes over a lease as it is (its id, times and all), without
    /// checking the line's limit: the viewer is already watching. For a
    /// ledger that stands in for another one (see [`Self::numbered_from`]).
    pub fn insert(&self, lease: Lease) {
        let mut state = self.lock();
        if state.line_of.insert(lease.id, lease.line).is_some() {
            return;
        }
        state.by_line.entry(lease.line).or_default().push(lease);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait::async_trait]
impl Ledger for LocalLedger {
    async fn admit(&self, req: &LeaseRequest, now: UnixTime, ttl_secs: u32) -> Admission {
        let mut state = self.lock();
        let mut ended = Vec::new();
        {
            let leases = state.live(req.line, now);
            // HLS has no connection to replace: a player reloading its
            // playlist is the same viewer, so its lease is renewed.
            if req.kind == LeaseKind::Hls {
                if let Some(lease) = leases.iter_mut().find(|l| {
                    l.kind == LeaseKind::Hls
                        && l.stream == req.stream
                        && l.ip == req.ip
                        && l.user_agent == req.user_agent
                }) {
                    lease.last_seen = now;
                    lease.expires = now + i64::from(ttl_secs);
                    return Admission::Admitted {
                        id: lease.id,
                        ended,
                        resumed: true,
                    };
                }
            }
            // Another range request of the movie this player is already
            // watching: the same viewer, so it shares that lease.
            if req.kind == LeaseKind::Vod {
                if let Some(lease) = leases.iter_mut().find(|l| {
                    l.kind == LeaseKind::Vod
                        && l.stream == req.stream
                        && l.ip == req.ip
                        && l.user_agent == req.user_agent
                }) {
                    lease.last_seen = now;
                    lease.expires = now + i64::from(ttl_secs);
                    let id = lease.id;
                    *state.shared.entry(id).or_insert(0) += 1;
                    return Admission::Admitted {
                        id,
                        ended,
                        resumed: true,
                    };
                }
            }
            // A reconnect from the same address and player replaces its own
            // lease instead of taking a second slot. Unlimited lines have no
            // slot to save: identical boxes behind one NAT must not end
            // each other's streams.
            let own = leases.iter().position(|l| {
                l.ip == req.ip && l.user_agent == req.user_agent && l.kind == req.kind
            });
            if let (Some(pos), true) = (own, req.max_connections != 0) {
                ended.push(leases.remove(pos));
            }
            let full = req.max_connections != 0 && leases.len() as u32 >= req.max_connections;
            if full {
                match req.policy {
                    LimitPolicy::Refuse => {
                        // Nothing changes when the newcomer is refused: put
                        // back the lease we took out above.
                        leases.append(&mut ended);
                        leases.sort_by_key(|l| (l.started, l.id));
                        return Admission::Full {
                            holders: leases.clone(),
                        };
                    }
                    LimitPolicy::NewestWins => {
                        while leases.len() as u32 >= req.max_connections {
                            let Some(victim) = eviction_victim(leases, req).map(|l| l.id) else {
                                break;
                            };
                            if let Some(pos) = leases.iter().position(|l| l.id == victim) {
                                ended.push(leases.remove(pos));
                            }
                        }
                    }
                }
            }
        }
        state.next_id += 1;
        let id = LeaseId(state.next_id);
        for gone in &ended {
            state.line_of.remove(&gone.id);
            state.shared.remove(&gone.id);
        }
        let lease = Lease {
            id,
            line: req.line,
            stream: req.stream,
            ip: req.ip,
            user_agent: req.user_agent.clone(),
            device: req.device.clone(),
            kind: req.kind,
            started: now,
            last_seen: now,
            expires: now + i64::from(ttl_secs),
        };
        state.line_of.insert(id, req.line);
        state.by_line.entry(req.line).or_default().push(lease);
        Admission::Admitted {
            id,
            ended,
            resumed: false,
        }
    }

    async fn renew(&self, id: LeaseId, now: UnixTime, ttl_secs: u32) -> bool {
        let mut state = self.lock();
        let Some(line) = state.line_of.get(&id).copied() else {
            return false;
        };
        let leases = state.live(line, now);
        match leases.iter_mut().find(|l| l.id == id) {
            Some(l) => {
                l.last_seen = now;
                l.expires = now + i64::from(ttl_secs);
                true
            }
            None => false,
        }
    }

    async fn end(&self, id: LeaseId) -> Option<Lease> {
        let mut state = self.lock();
        if let Some(extra) = state.shared.get_mut(&id) {
            // One of several requests of a shared movie lease ended.
            *extra -= 1;
            if *extra == 0 {
                state.shared.remove(&id);
            }
            return None;
        }
        state.remove(id)
    }

    async fn cut(&self, id: LeaseId) -> Option<Lease> {
        let mut state = self.lock();
        state.shared.remove(&id);
        state.remove(id)
    }

    async fn holders(&self, line: LineId, now: UnixTime) -> Vec<Lease> {
        let mut state = self.lock();
        let mut list = state.live(line, now).clone();
        if list.is_empty() {
            state.by_line.remove(&line);
        }
        list.sort_by_key(|l| (l.started, l.id));
        list
    }

    async fn all(&self, now: UnixTime) -> Vec<Lease> {
        let mut state = self.lock();
        let mut lines: Vec<LineId> = state.by_line.keys().copied().collect();
        lines.sort();
        let mut all = Vec::new();
        for line in lines {
            let mut list = state.live(line, now).clone();
            if list.is_empty() {
                state.by_line.remove(&line);
            }
            list.sort_by_key(|l| (l.started, l.id));
            all.append(&mut list);
        }
        all
    }

    fn was_ended(&self, id: LeaseId) -> bool {
        // Leases are numbered upwards from 1: an id this ledger no longer
        // holds was ended (or expired and pruned; renewal says the same).
        !self.lock().line_of.contains_key(&id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::conformance::{self, block_on};

    /// Every scenario every ledger must pass, each on a fresh ledger.
    #[test]
    fn conformance() {
        for (name, scenario) in conformance::SCENARIOS {
            let ledger = LocalLedger::new();
            block_on(scenario(&ledger), name);
        }
    }
}
