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

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Ledger for LocalLedger {
    fn admit(&self, req: &LeaseRequest, now: UnixTime, ttl_secs: u32) -> Admission {
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

    fn renew(&self, id: LeaseId, now: UnixTime, ttl_secs: u32) -> bool {
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

    fn end(&self, id: LeaseId) -> Option<Lease> {
        let mut state = self.lock();
        if let Some(extra) = state.shared.get_mut(&id) {
            // One of several requests of a shared movie lease ended.
            *extra -= 1;
            if *extra == 0 {
                state.shared.remove(&id);
            }
            return None;
        }
        let line = state.line_of.remove(&id)?;
        let leases = state.by_line.get_mut(&line)?;
        let pos = leases.iter().position(|l| l.id == id)?;
        let lease = leases.remove(pos);
        if leases.is_empty() {
            state.by_line.remove(&line);
        }
        Some(lease)
    }

    fn holders(&self, line: LineId, now: UnixTime) -> Vec<Lease> {
        let mut state = self.lock();
        let mut list = state.live(line, now).clone();
        if list.is_empty() {
            state.by_line.remove(&line);
        }
        list.sort_by_key(|l| (l.started, l.id));
        list
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::StreamId;

    fn req(ip: &str, ua: &str, max: u32, policy: LimitPolicy) -> LeaseRequest {
        LeaseRequest {
            line: LineId(1),
            max_connections: max,
            policy,
            stream: StreamId(7),
            ip: ip.parse().expect("ip"),
            user_agent: ua.into(),
            device: None,
            kind: LeaseKind::LiveTs,
        }
    }

    fn admitted(a: Admission) -> (LeaseId, Vec<Lease>) {
        match a {
            Admission::Admitted {
                id,
                ended,
                resumed: false,
            } => (id, ended),
            resumed @ Admission::Admitted { .. } => panic!("unexpected resume: {resumed:?}"),
            Admission::Full { holders } => panic!("refused, held by {holders:?}"),
        }
    }

    #[test]
    fn the_limit_holds_and_names_the_holders() {
        let l = LocalLedger::new();
        let (first, _) =
            admitted(l.admit(&req("192.0.2.1", "TV", 1, LimitPolicy::Refuse), 100, 30));
        match l.admit(&req("192.0.2.2", "Phone", 1, LimitPolicy::Refuse), 101, 30) {
            Admission::Full { holders } => {
                assert_eq!(holders.len(), 1);
                assert_eq!((&*holders[0].user_agent, holders[0].started), ("TV", 100));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(l.active(LineId(1), 101), 1);
        l.end(first);
        assert_eq!(
            l.active(LineId(1), 101),
            0,
            "a slot frees the moment its lease ends"
        );
        admitted(l.admit(&req("192.0.2.2", "Phone", 1, LimitPolicy::Refuse), 102, 30));
    }

    #[test]
    fn a_reconnect_replaces_its_own_lease() {
        let l = LocalLedger::new();
        let (old, _) = admitted(l.admit(&req("192.0.2.1", "TV", 1, LimitPolicy::Refuse), 100, 30));
        let (new, ended) =
            admitted(l.admit(&req("192.0.2.1", "TV", 1, LimitPolicy::Refuse), 105, 30));
        assert_ne!(old, new);
        assert_eq!(ended.iter().map(|e| e.id).collect::<Vec<_>>(), vec![old]);
        assert!(
            !l.renew(old, 106, 30),
            "the replaced connection learns it must stop"
        );
        assert!(l.renew(new, 106, 30));
        assert_eq!(l.active(LineId(1), 106), 1);
    }

    #[test]
    fn newest_wins_ends_the_best_victim() {
        let l = LocalLedger::new();
        let (a, _) =
            admitted(l.admit(&req("192.0.2.1", "TV", 2, LimitPolicy::NewestWins), 100, 30));
        let (b, _) = admitted(l.admit(
            &req("192.0.2.9", "Phone", 2, LimitPolicy::NewestWins),
            101,
            30,
        ));
        // Same address as `b`, another player: `b` goes although `a` is older.
        let (_, ended) = admitted(l.admit(
            &req("192.0.2.9", "Tablet", 2, LimitPolicy::NewestWins),
            102,
            30,
        ));
        assert_eq!(ended.iter().map(|e| e.id).collect::<Vec<_>>(), vec![b]);
        // A stranger: the oldest (`a`) goes.
        let (_, ended) = admitted(l.admit(
            &req("198.51.100.1", "Box", 2, LimitPolicy::NewestWins),
            103,
            30,
        ));
        assert_eq!(ended.iter().map(|e| e.id).collect::<Vec<_>>(), vec![a]);
        assert_eq!(l.active(LineId(1), 103), 2);
    }

    #[test]
    fn an_unrenewed_lease_expires_so_nothing_can_leak() {
        let l = LocalLedger::new();
        let (id, _) = admitted(l.admit(&req("192.0.2.1", "TV", 1, LimitPolicy::Refuse), 100, 30));
        assert!(l.renew(id, 120, 30));
        assert_eq!(l.active(LineId(1), 149), 1);
        assert_eq!(
            l.active(LineId(1), 150),
            0,
            "a crashed server task stops renewing"
        );
        assert!(!l.renew(id, 151, 30));
        admitted(l.admit(&req("192.0.2.2", "Phone", 1, LimitPolicy::Refuse), 151, 30));
    }

    #[test]
    fn unlimited_lines_and_refused_reconnects_change_nothing() {
        let l = LocalLedger::new();
        for i in 0..50u8 {
            admitted(l.admit(
                &req(&format!("192.0.2.{i}"), "TV", 0, LimitPolicy::Refuse),
                100,
                30,
            ));
        }
        assert_eq!(l.active(LineId(1), 100), 50);
        let l = LocalLedger::new();
        admitted(l.admit(&req("192.0.2.1", "TV", 1, LimitPolicy::Refuse), 100, 30));
        // A second stream from the same TV on a 1-slot line replaces, not refuses.
        let (_, ended) =
            admitted(l.admit(&req("192.0.2.1", "TV", 1, LimitPolicy::Refuse), 101, 30));
        assert_eq!(ended.len(), 1);
        assert_eq!(l.active(LineId(1), 101), 1);
    }

    #[test]
    fn an_hls_viewer_reloading_its_playlist_resumes_its_lease() {
        let hls = |ip: &str, ua: &str, stream: u32, max: u32| LeaseRequest {
            stream: StreamId(stream),
            kind: LeaseKind::Hls,
            ..req(ip, ua, max, LimitPolicy::Refuse)
        };
        let resumed = |a: Admission| match a {
            Admission::Admitted {
                id,
                ended,
                resumed: true,
            } => {
                assert!(ended.is_empty());
                id
            }
            other => panic!("not resumed: {other:?}"),
        };
        // (what comes in, at, expected) after a first HLS admission at 100
        // from 192.0.2.1 "TV" for stream 7 on a 1-slot line, ttl 12.
        enum Expect {
            Resume,
            Replace,
            Refuse,
            Fresh,
        }
        let table = [
            (hls("192.0.2.1", "TV", 7, 1), 105, Expect::Resume),
            (hls("192.0.2.1", "TV", 8, 1), 105, Expect::Replace),
            (hls("192.0.2.1", "Phone", 7, 1), 105, Expect::Refuse),
            (hls("192.0.2.2", "TV", 7, 1), 105, Expect::Refuse),
            (
                req("192.0.2.1", "TV", 1, LimitPolicy::Refuse),
                105,
                Expect::Refuse,
            ),
            // The lease expired at 112: a new one, not a resume.
            (hls("192.0.2.1", "TV", 7, 1), 112, Expect::Fresh),
            // Just before the window closes: still the same lease.
            (hls("192.0.2.1", "TV", 7, 1), 111, Expect::Resume),
        ];
        for (i, (r, at, expect)) in table.into_iter().enumerate() {
            let l = LocalLedger::new();
            let (first, _) = admitted(l.admit(&hls("192.0.2.1", "TV", 7, 1), 100, 12));
            let got = l.admit(&r, at, 12);
            match expect {
                Expect::Resume => {
                    assert_eq!(resumed(got), first, "row {i}");
                    assert_eq!(l.active(LineId(1), at), 1, "row {i}");
                    assert!(
                        l.renew(first, at + 11, 12),
                        "row {i}: renewed by the resume"
                    );
                }
                Expect::Replace => {
                    let (id, ended) = admitted(got);
                    assert_ne!(id, first, "row {i}");
                    assert_eq!(ended.iter().map(|e| e.id).collect::<Vec<_>>(), vec![first]);
                }
                Expect::Refuse => assert!(matches!(got, Admission::Full { .. }), "row {i}"),
                Expect::Fresh => {
                    let (id, ended) = admitted(got);
                    assert_ne!(id, first, "row {i}");
                    assert!(ended.is_empty(), "row {i}");
                }
            }
        }
    }

    #[test]
    fn range_requests_of_one_movie_from_one_player_share_a_slot() {
        let ledger = LocalLedger::new();
        let mut r = req("10.0.0.1", "mpv", 1, LimitPolicy::Refuse);
        r.kind = LeaseKind::Vod;
        let (first, _) = admitted(ledger.admit(&r, 100, 30));
        // A second request of the same file (a seek) shares the slot.
        match ledger.admit(&r, 101, 30) {
            Admission::Admitted { id, ended, resumed } => {
                assert_eq!(id, first);
                assert!(ended.is_empty());
                assert!(resumed);
            }
            full @ Admission::Full { .. } => panic!("{full:?}"),
        }
        assert_eq!(ledger.active(LineId(1), 101), 1);
        // The first request ends: the slot stays while the second runs.
        assert!(ledger.end(first).is_none());
        assert_eq!(ledger.active(LineId(1), 102), 1);
        assert!(ledger.renew(first, 103, 30));
        // The last one ends: the slot is free.
        assert!(ledger.end(first).is_some());
        assert_eq!(ledger.active(LineId(1), 104), 0);
    }

    #[test]
    fn identical_players_on_an_unlimited_line_do_not_end_each_other() {
        let ledger = LocalLedger::new();
        let r = req("10.0.0.1", "MAG250", 0, LimitPolicy::Refuse);
        let (a, _) = admitted(ledger.admit(&r, 100, 30));
        let (b, ended) = admitted(ledger.admit(&r, 101, 30));
        assert_ne!(a, b);
        assert!(
            ended.is_empty(),
            "two boxes behind one NAT both keep watching"
        );
        assert_eq!(ledger.active(LineId(1), 101), 2);
    }
}
