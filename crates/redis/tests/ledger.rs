//! The Redis ledger against a real Redis: core's conformance scenarios (the
//! same ones the in-process ledger passes), admissions racing from many
//! tasks and two nodes, a dead node's leases running out, ends and
//! evictions reaching the node that serves the lease.

mod support;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use support::{unix_now, within, Space};
use tvgate_core::ids::LineId;
use tvgate_core::ledger::conformance::{self, admitted, req};
use tvgate_core::ledger::{Admission, Ledger, LimitPolicy};
use tvgate_redis::WhenUnavailable;

#[tokio::test]
async fn every_conformance_scenario_holds_on_redis() {
    for (name, scenario) in conformance::SCENARIOS {
        let space = Space::new();
        let (node, _) = space.node(WhenUnavailable::Refuse).await;
        let ledger: &dyn Ledger = &*node.ledger;
        tokio::time::timeout(Duration::from_secs(10), scenario(ledger))
            .await
            .unwrap_or_else(|_| panic!("{name}: took more than 10 s"));
    }
}

/// Many admissions for one line at once, from two nodes, never hold more
/// than its limit; under newest-wins neither.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_admissions_never_exceed_the_limit() {
    let space = Space::new();
    let (a, _) = space.node(WhenUnavailable::Refuse).await;
    let (b, _) = space.node(WhenUnavailable::Refuse).await;
    for policy in [LimitPolicy::Refuse, LimitPolicy::NewestWins] {
        let line = LineId(match policy {
            LimitPolicy::Refuse => 1,
            LimitPolicy::NewestWins => 2,
        });
        let tasks: Vec<_> = (0..200u32)
            .map(|i| {
                let ledger = if i % 2 == 0 {
                    a.ledger.clone()
                } else {
                    b.ledger.clone()
                };
                tokio::spawn(async move {
                    let mut r = req(
                        &format!("10.0.{}.{}", i / 250, i % 250),
                        &format!("player-{i}"),
                        3,
                        policy,
                    );
                    r.line = line;
                    ledger.admit(&r, 1_000, 30).await
                })
            })
            .collect();
        let mut admitted_count = 0;
        for t in tasks {
            match t.await.expect("task") {
                Admission::Admitted { .. } => admitted_count += 1,
                Admission::Full { holders } => assert_eq!(holders.len(), 3),
                Admission::Unavailable => panic!("Redis went away"),
            }
        }
        let holders = a.ledger.holders(line, 1_000).await;
        assert_eq!(holders.len(), 3, "{policy:?}: exactly the limit is held");
        match policy {
            LimitPolicy::Refuse => assert_eq!(admitted_count, 3, "the first three, no more"),
            LimitPolicy::NewestWins => assert_eq!(admitted_count, 200, "each newcomer wins"),
        }
    }
}

/// A node that dies (no end, no renewal) leaves leases that run out after
/// their time-to-live, on Redis's clock as on the ledger's.
#[tokio::test]
async fn a_dead_nodes_leases_run_out() {
    let space = Space::new();
    let (dead, _) = space.node(WhenUnavailable::Refuse).await;
    let now = unix_now();
    let (id, _) = admitted(
        dead.ledger
            .admit(&req("192.0.2.1", "TV", 1, LimitPolicy::Refuse), now, 2)
            .await,
    );
    drop(dead);
    let (alive, _) = space.node(WhenUnavailable::Refuse).await;
    assert!(matches!(
        alive
            .ledger
            .admit(&req("192.0.2.2", "Phone", 1, LimitPolicy::Refuse), now, 2)
            .await,
        Admission::Full { .. }
    ));
    // The ledger's time: past the expiry, the slot is free.
    let (_, ended) = admitted(
        alive
            .ledger
            .admit(
                &req("192.0.2.2", "Phone", 1, LimitPolicy::Refuse),
                now + 2,
                2,
            )
            .await,
    );
    assert!(
        ended.is_empty(),
        "an expired lease is not ended, it is gone"
    );
    // Redis's time: the keys themselves go. The dead lease's id key went
    // when the admission above found it expired; the line's hash goes with
    // its longest-lived lease (the new one, 2 s).
    let where_key = format!("{}where:{}", space.prefix, id.0);
    let line_key = format!("{}leases:1", space.prefix);
    let ttl: i64 = space.query(redis::cmd("PTTL").arg(&where_key));
    assert!((0..=2_000).contains(&ttl) || ttl == -2, "{ttl}");
    let ttl: i64 = space.query(redis::cmd("PTTL").arg(&line_key));
    assert!((0..=2_000).contains(&ttl), "the line's hash expires: {ttl}");
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    for key in [&where_key, &line_key] {
        let exists: bool = space.query(redis::cmd("EXISTS").arg(key));
        assert!(!exists, "{key} expired in Redis");
    }
}

/// An operator's end on one node and a newest-wins eviction on another
/// reach the node that serves the lease within a second (in practice a
/// few milliseconds): the lease is `was_ended` there and the counter its
/// bodies watch moves.
#[tokio::test]
async fn ends_and_evictions_reach_the_serving_node_at_once() {
    let space = Space::new();
    let (serving, ends) = space.node(WhenUnavailable::Refuse).await;
    let (other, _) = space.node(WhenUnavailable::Refuse).await;
    // Both subscriptions are up before anything is said.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let now = unix_now();
    let (watched, _) = admitted(
        serving
            .ledger
            .admit(&req("192.0.2.1", "TV", 2, LimitPolicy::NewestWins), now, 30)
            .await,
    );
    let before = ends.load(Ordering::Acquire);
    assert!(other.ledger.cut(watched).await.is_some());
    let took = within(
        Duration::from_secs(1),
        "the cut reached the serving node",
        || serving.ledger.was_ended(watched),
    )
    .await;
    assert!(ends.load(Ordering::Acquire) > before, "bodies were told");
    eprintln!("cut seen after {took:?}");

    let (first, _) = admitted(
        serving
            .ledger
            .admit(&req("192.0.2.1", "TV", 2, LimitPolicy::NewestWins), now, 30)
            .await,
    );
    admitted(
        serving
            .ledger
            .admit(
                &req("192.0.2.2", "Box", 2, LimitPolicy::NewestWins),
                now,
                30,
            )
            .await,
    );
    let (_, ended) = admitted(
        other
            .ledger
            .admit(
                &req("198.51.100.7", "Phone", 2, LimitPolicy::NewestWins),
                now + 1,
                30,
            )
            .await,
    );
    assert_eq!(ended.iter().map(|l| l.id).collect::<Vec<_>>(), vec![first]);
    let took = within(
        Duration::from_secs(1),
        "the eviction reached the serving node",
        || serving.ledger.was_ended(first),
    )
    .await;
    eprintln!("eviction seen after {took:?}");
    assert!(!serving.ledger.renew(first, now + 1, 30).await);
}

/// Every key a lease made goes when it ends: nothing is left to leak.
#[tokio::test]
async fn an_ended_lease_leaves_no_key_behind() {
    let space = Space::new();
    let (node, _) = space.node(WhenUnavailable::Refuse).await;
    let now = unix_now();
    let ledger: Arc<dyn Ledger> = node.ledger.clone();
    let (id, _) = admitted(
        ledger
            .admit(&req("192.0.2.1", "TV", 1, LimitPolicy::Refuse), now, 30)
            .await,
    );
    assert!(ledger.end(id).await.is_some());
    let mut keys = space.keys();
    keys.sort();
    assert_eq!(
        keys,
        vec![
            format!("{}gen", space.prefix),
            format!("{}next", space.prefix)
        ],
        "only the generation and the id counter stay"
    );
}

/// Issue 17's chaos (`tvgate_core::ledger::chaos`): 10,000 random steps
/// over 12 lines (admissions under both policies, renewals, ends, killed
/// and panicking tasks, cuts, clock jumps), the limit, leaks and release
/// bounds checked after every step. `LEDGER_CHAOS_SEED` replays a run.
#[tokio::test]
async fn the_redis_ledger_survives_chaos() {
    let seed = std::env::var("LEDGER_CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    let space = Space::new();
    let (node, _) = space.node(WhenUnavailable::Refuse).await;
    let report = tvgate_core::ledger::chaos::run(&*node.ledger, seed, 10_000, 12, 1_000_000).await;
    println!("seed {seed}: {report:?}");
    assert_eq!(report.leaked_at_end, 0);
}
