//! The ledger under chaos (issue 17, item 2): thousands of random
//! operations over many lines against any [`Ledger`], checked against a
//! model of what the serving tasks know, after every step.
//!
//! What a serving task can do to the ledger, and what the chaos does:
//! - admit (any line, address, player, stream, kind; under either policy,
//!   so newest-wins evictions and a player's own reconnects happen);
//! - renew on its timer (every third of the time-to-live as the clock
//!   ticks), end when its viewer leaves;
//! - die: killed, or panicking, with its lease guard's end run by the
//!   unwind or lost (an aborted task whose end could not reach the
//!   ledger): then only the time-to-live frees the slot;
//! - an operator's cut; the clock ticking, or jumping ahead (a suspended
//!   machine, an NTP step) past renewals.
//!
//! After every step, on the line it touched (and on every line after a
//! clock move and every 100 steps):
//! - never more than `max_connections` leases at any instant;
//! - no lease the model does not hold (an ended, cut, evicted or expired
//!   lease that is still counted is a leak);
//! - every lease of a dead task gone once its time-to-live from its last
//!   renewal has passed (the release bound), and none of a live task lost.
//!
//! At the end every live task ends its lease and the clock passes one
//! time-to-live: the ledger must hold nothing. Seeded; a failure names the
//! seed, and the same seed replays the same run.

use super::{Admission, Lease, LeaseId, LeaseKind, LeaseRequest, Ledger, LimitPolicy};
use crate::ids::{LineId, StreamId};
use crate::UnixTime;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;

/// The lease time-to-live the chaos runs with.
pub const TTL: u32 = 30;

/// What a run did, for the record.
#[derive(Debug, Default, Clone)]
pub struct ChaosReport {
    pub operations: usize,
    pub admitted: usize,
    pub refused_full: usize,
    pub evicted_or_replaced: usize,
    pub renewals: usize,
    pub ends: usize,
    pub killed: usize,
    pub panicked: usize,
    pub cuts: usize,
    pub clock_jumps: usize,
    /// Leases of dead tasks seen released within their bound.
    pub expired_in_bound: usize,
    /// The most leases one line held at once, against its limit.
    pub fullest: (usize, u32),
    pub leaked_at_end: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Task {
    /// Serving: renews on its timer, ends when its viewer leaves.
    Live,
    /// Dead without ending its lease: nothing renews or ends it.
    Dead,
}

#[derive(Debug)]
struct Held {
    line: LineId,
    task: Task,
    /// Requests sharing the lease (a film's range requests, an HLS resume).
    shares: u32,
    /// The lease ends at this time unless renewed (as the model knows it).
    expires: UnixTime,
}

struct Line {
    id: LineId,
    max: u32,
    policy: LimitPolicy,
}

/// Runs `operations` random steps over `lines` lines against `l`, starting
/// at `start`. Panics, naming `seed`, when an invariant breaks.
pub async fn run(
    l: &dyn Ledger,
    seed: u64,
    operations: usize,
    lines: u32,
    start: UnixTime,
) -> ChaosReport {
    let mut rng = StdRng::seed_from_u64(seed);
    let lines: Vec<Line> = (0..lines)
        .map(|i| Line {
            // Lines of their own per run, so a shared Redis space is safe.
            id: LineId(i64::from(i) + 1),
            max: [0, 1, 1, 2, 3, 5][rng.gen_range(0..6)],
            policy: if rng.gen_bool(0.5) {
                LimitPolicy::Refuse
            } else {
                LimitPolicy::NewestWins
            },
        })
        .collect();
    let mut now = start;
    let mut held: HashMap<LeaseId, Held> = HashMap::new();
    let mut report = ChaosReport::default();
    let fail = |step: usize, what: String| -> ! {
        panic!("ledger chaos, seed {seed}, step {step}: {what}")
    };
    for step in 0..operations {
        report.operations += 1;
        let roll = rng.gen_range(0..100);
        let live: Vec<LeaseId> = {
            let mut v: Vec<LeaseId> = held
                .iter()
                .filter(|(_, h)| h.task == Task::Live)
                .map(|(id, _)| *id)
                .collect();
            v.sort();
            v
        };
        let pick =
            |rng: &mut StdRng| (!live.is_empty()).then(|| live[rng.gen_range(0..live.len())]);
        let mut touched: Option<LineId> = None;
        let mut everything = step % 100 == 99;
        match roll {
            0..=37 => {
                let line = &lines[rng.gen_range(0..lines.len())];
                let kind = [
                    LeaseKind::LiveTs,
                    LeaseKind::LiveTs,
                    LeaseKind::Hls,
                    LeaseKind::Vod,
                ][rng.gen_range(0..4)];
                let req = LeaseRequest {
                    line: line.id,
                    max_connections: line.max,
                    policy: line.policy,
                    stream: StreamId(rng.gen_range(1..4)),
                    ip: format!("192.0.2.{}", rng.gen_range(1..5))
                        .parse()
                        .expect("ip"),
                    user_agent: ["TV", "Phone", "VLC"][rng.gen_range(0..3)].into(),
                    device: None,
                    kind,
                };
                touched = Some(line.id);
                match l.admit(&req, now, TTL).await {
                    Admission::Admitted { id, ended, resumed } => {
                        report.admitted += 1;
                        for gone in &ended {
                            if gone.id == id {
                                continue;
                            }
                            report.evicted_or_replaced += 1;
                            if held.remove(&gone.id).is_none() {
                                fail(
                                    step,
                                    format!("admission ended {gone:?}, which was not held"),
                                );
                            }
                        }
                        let entry = held.entry(id).or_insert(Held {
                            line: line.id,
                            task: Task::Live,
                            shares: 0,
                            expires: now,
                        });
                        // A resumed HLS lease is the same request; a film's
                        // range requests share one lease, each ending once.
                        if !resumed || kind == LeaseKind::Vod {
                            entry.shares += 1;
                        }
                        entry.expires = entry.expires.max(now + i64::from(TTL));
                        entry.task = Task::Live;
                    }
                    Admission::Full { holders } => {
                        report.refused_full += 1;
                        if line.max == 0 || (holders.len() as u32) < line.max {
                            fail(
                                step,
                                format!(
                                    "refused with {} holders on a line of {}",
                                    holders.len(),
                                    line.max
                                ),
                            );
                        }
                    }
                    Admission::Unavailable => fail(step, "the ledger was unavailable".into()),
                }
            }
            38..=57 => {
                if let Some(id) = pick(&mut rng) {
                    let h = &held[&id];
                    touched = Some(h.line);
                    let renewed = l.renew(id, now, TTL).await;
                    if renewed != (now < h.expires) {
                        fail(
                            step,
                            format!(
                                "renew of a lease expiring at {} said {renewed} at {now}",
                                h.expires
                            ),
                        );
                    }
                    report.renewals += 1;
                    if renewed {
                        if let Some(h) = held.get_mut(&id) {
                            h.expires = now + i64::from(TTL);
                        }
                    } else {
                        held.remove(&id);
                    }
                }
            }
            58..=72 => {
                if let Some(id) = pick(&mut rng) {
                    touched = Some(held[&id].line);
                    end_one(l, &mut held, id).await;
                    report.ends += 1;
                }
            }
            73..=78 => {
                // Killed: the guard's end never reaches the ledger.
                if let Some(id) = pick(&mut rng) {
                    touched = Some(held[&id].line);
                    if let Some(h) = held.get_mut(&id) {
                        h.task = Task::Dead;
                    }
                    report.killed += 1;
                }
            }
            79..=84 => {
                // Panics after a renewal; the unwinding guard ends the lease
                // half the time (the other half it could not: a dead task).
                if let Some(id) = pick(&mut rng) {
                    let line = held[&id].line;
                    touched = Some(line);
                    let renewed = l.renew(id, now, TTL).await;
                    // The task panics here: the ledger sees only what its
                    // unwinding guard does, or fails to do.
                    report.panicked += 1;
                    if !renewed {
                        held.remove(&id);
                    } else if rng.gen_bool(0.5) {
                        if let Some(h) = held.get_mut(&id) {
                            h.expires = now + i64::from(TTL);
                        }
                        // The guard's end: this task's request ends.
                        end_one(l, &mut held, id).await;
                    } else if let Some(h) = held.get_mut(&id) {
                        h.expires = now + i64::from(TTL);
                        h.task = Task::Dead;
                    }
                }
            }
            85..=88 => {
                if let Some(id) = pick(&mut rng) {
                    touched = Some(held[&id].line);
                    if l.cut(id).await.is_none() && now < held[&id].expires {
                        fail(step, format!("cut of a held lease {id:?} found nothing"));
                    }
                    if !l.was_ended(id) {
                        fail(step, format!("a cut lease {id:?} is not known as ended"));
                    }
                    held.remove(&id);
                    report.cuts += 1;
                }
            }
            _ => {
                // The clock: mostly ticks (live tasks renew on their timer),
                // sometimes jumps past renewals.
                let jump = [1, 1, 2, 5, 10, 10, 29, 30, 31, 45, 90][rng.gen_range(0..11)];
                now += jump;
                everything = true;
                report.clock_jumps += 1;
                if jump <= i64::from(TTL / 3) {
                    let mut ids: Vec<LeaseId> = held
                        .iter()
                        .filter(|(_, h)| h.task == Task::Live && now < h.expires)
                        .map(|(id, _)| *id)
                        .collect();
                    ids.sort();
                    for id in ids {
                        if !l.renew(id, now, TTL).await {
                            fail(
                                step,
                                format!("a live task's timely renewal of {id:?} failed"),
                            );
                        }
                        if let Some(h) = held.get_mut(&id) {
                            h.expires = now + i64::from(TTL);
                        }
                        report.renewals += 1;
                    }
                }
            }
        }
        let check: Vec<&Line> = lines
            .iter()
            .filter(|line| everything || touched == Some(line.id))
            .collect();
        for line in check {
            let holders = l.holders(line.id, now).await;
            if line.max > 0 && holders.len() as u32 > line.max {
                fail(
                    step,
                    format!(
                        "{} leases on a line of {}: {holders:?}",
                        holders.len(),
                        line.max
                    ),
                );
            }
            if line.max > 0 && holders.len() > report.fullest.0 {
                report.fullest = (holders.len(), line.max);
            }
            for lease in &holders {
                match held.get(&lease.id) {
                    None => fail(step, format!("leaked: {lease:?} is held by no task")),
                    Some(h) if now >= h.expires => fail(
                        step,
                        format!("{lease:?} outlived its bound ({}, now {now})", h.expires),
                    ),
                    Some(_) => {}
                }
            }
            let present: Vec<LeaseId> = holders.iter().map(|l| l.id).collect();
            let mine: Vec<(LeaseId, Task, UnixTime)> = held
                .iter()
                .filter(|(_, h)| h.line == line.id)
                .map(|(id, h)| (*id, h.task, h.expires))
                .collect();
            for (id, task, expires) in mine {
                match (now >= expires, present.contains(&id)) {
                    (true, false) => {
                        if task == Task::Dead {
                            report.expired_in_bound += 1;
                        }
                        held.remove(&id);
                    }
                    (false, false) => fail(
                        step,
                        format!("{id:?} ({task:?}) was lost before {expires} (now {now})"),
                    ),
                    _ => {}
                }
            }
        }
    }
    // Every live task ends; the dead ones' leases run out.
    let mut ids: Vec<LeaseId> = held.keys().copied().collect();
    ids.sort();
    for id in ids {
        while held.get(&id).is_some_and(|h| h.task == Task::Live) {
            end_one(l, &mut held, id).await;
        }
    }
    now += i64::from(TTL);
    let left: Vec<Lease> = l
        .all(now)
        .await
        .into_iter()
        .filter(|lease| lines.iter().any(|line| line.id == lease.line))
        .collect();
    report.leaked_at_end = left.len();
    if !left.is_empty() {
        fail(
            operations,
            format!("{} leases leaked at the end: {left:?}", left.len()),
        );
    }
    report
}

/// One request of a lease ends (the last one ends the lease).
async fn end_one(l: &dyn Ledger, held: &mut HashMap<LeaseId, Held>, id: LeaseId) {
    let _ = l.end(id).await;
    if let Some(h) = held.get_mut(&id) {
        h.shares = h.shares.saturating_sub(1);
        if h.shares == 0 {
            held.remove(&id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::conformance::block_on;
    use crate::ledger::local::LocalLedger;

    /// 10,000 steps over 12 lines; `LEDGER_CHAOS_SEED` replays a run.
    #[test]
    fn the_local_ledger_survives_chaos() {
        let seed = std::env::var("LEDGER_CHAOS_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(rand::random);
        let ledger = LocalLedger::new();
        let report = block_on(run(&ledger, seed, 10_000, 12, 1_000_000), "chaos");
        println!("seed {seed}: {report:?}");
        assert_eq!(report.leaked_at_end, 0);
        assert!(
            report.evicted_or_replaced > 0
                && report.expired_in_bound > 0
                && report.refused_full > 0
        );
    }
}
