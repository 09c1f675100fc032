//! The behaviour every [`Ledger`] must show, as scenarios that take a fresh
//! ledger: the in-process ledger's unit tests and the Redis ledger's tests
//! (`crates/redis/tests`) run this same list, so the two cannot drift apart.
//!
//! Compiled for this crate's tests and, with the `conformance` feature, for
//! other crates' tests; never part of the server. A scenario panics with a
//! message naming what broke. Times are made up (`now` is a parameter), so
//! a scenario never waits.

use super::{Admission, Lease, LeaseId, LeaseKind, LeaseRequest, Ledger, LimitPolicy};
use crate::ids::{LineId, StreamId};
use std::future::Future;
use std::pin::Pin;

/// A scenario: runs against the ledger it is given, which holds nothing yet.
pub type Scenario = for<'a> fn(&'a dyn Ledger) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// Every scenario, by name.
pub const SCENARIOS: &[(&str, Scenario)] = &[
    ("the_limit_holds_and_names_the_holders", |l| {
        Box::pin(the_limit_holds_and_names_the_holders(l))
    }),
    ("a_reconnect_replaces_its_own_lease", |l| {
        Box::pin(a_reconnect_replaces_its_own_lease(l))
    }),
    ("newest_wins_ends_the_best_victim", |l| {
        Box::pin(newest_wins_ends_the_best_victim(l))
    }),
    ("an_unrenewed_lease_expires_so_nothing_can_leak", |l| {
        Box::pin(an_unrenewed_lease_expires_so_nothing_can_leak(l))
    }),
    (
        "unlimited_lines_and_refused_reconnects_change_nothing",
        |l| Box::pin(unlimited_lines_and_refused_reconnects_change_nothing(l)),
    ),
    (
        "an_hls_viewer_reloading_its_playlist_resumes_its_lease",
        |l| Box::pin(an_hls_viewer_reloading_its_playlist_resumes_its_lease(l)),
    ),
    (
        "range_requests_of_one_movie_from_one_player_share_a_slot",
        |l| Box::pin(range_requests_of_one_movie_from_one_player_share_a_slot(l)),
    ),
    (
        "identical_players_on_an_unlimited_line_do_not_end_each_other",
        |l| Box::pin(identical_players_on_an_unlimited_line_do_not_end_each_other(l)),
    ),
    ("a_cut_ends_the_whole_lease_and_is_known", |l| {
        Box::pin(a_cut_ends_the_whole_lease_and_is_known(l))
    }),
    ("every_lease_by_line_and_counts_of_many_lines", |l| {
        Box::pin(every_lease_by_line_and_counts_of_many_lines(l))
    }),
    ("ends_of_unknown_leases_change_nothing", |l| {
        Box::pin(ends_of_unknown_leases_change_nothing(l))
    }),
];

/// Runs a future that must finish without waiting (the local ledger's).
/// Panics, naming `what`, when it would wait.
pub fn block_on<F: Future>(future: F, what: &str) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(out) => out,
        std::task::Poll::Pending => panic!("{what}: the in-process ledger waited"),
    }
}

/// A live TS request for stream 7 of line 1.
pub fn req(ip: &str, ua: &str, max: u32, policy: LimitPolicy) -> LeaseRequest {
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

/// The id and the ended leases of a fresh admission; panics otherwise.
pub fn admitted(a: Admission) -> (LeaseId, Vec<Lease>) {
    match a {
        Admission::Admitted {
            id,
            ended,
            resumed: false,
        } => (id, ended),
        resumed @ Admission::Admitted { .. } => panic!("unexpected resume: {resumed:?}"),
        Admission::Full { holders } => panic!("refused, held by {holders:?}"),
        Admission::Unavailable => panic!("the ledger was unavailable"),
    }
}

fn ids(leases: &[Lease]) -> Vec<LeaseId> {
    leases.iter().map(|l| l.id).collect()
}

async fn the_limit_holds_and_names_the_holders(l: &dyn Ledger) {
    let (first, _) = admitted(
        l.admit(&req("192.0.2.1", "TV", 1, LimitPolicy::Refuse), 100, 30)
            .await,
    );
    match l
        .admit(&req("192.0.2.2", "Phone", 1, LimitPolicy::Refuse), 101, 30)
        .await
    {
        Admission::Full { holders } => {
            assert_eq!(holders.len(), 1);
            assert_eq!((&*holders[0].user_agent, holders[0].started), ("TV", 100));
            let h = &holders[0];
            assert_eq!(
                (h.id, h.line, h.stream, h.kind, h.last_seen, h.expires),
                (first, LineId(1), StreamId(7), LeaseKind::LiveTs, 100, 130),
                "a holder comes back as it was admitted"
            );
            assert_eq!(h.ip.to_string(), "192.0.2.1");
            assert_eq!(h.device, None);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(l.active(LineId(1), 101).await, 1);
    let ended = l.end(first).await.expect("the lease ends");
    assert_eq!(ended.id, first);
    assert_eq!(
        l.active(LineId(1), 101).await,
        0,
        "a slot frees the moment its lease ends"
    );
    admitted(
        l.admit(&req("192.0.2.2", "Phone", 1, LimitPolicy::Refuse), 102, 30)
            .await,
    );
}

async fn a_reconnect_replaces_its_own_lease(l: &dyn Ledger) {
    let (old, _) = admitted(
        l.admit(&req("192.0.2.1", "TV", 1, LimitPolicy::Refuse), 100, 30)
            .await,
    );
    let (new, ended) = admitted(
        l.admit(&req("192.0.2.1", "TV", 1, LimitPolicy::Refuse), 105, 30)
            .await,
    );
    assert_ne!(old, new);
    assert_eq!(ids(&ended), vec![old]);
    assert!(
        !l.renew(old, 106, 30).await,
        "the replaced connection learns it must stop"
    );
    assert!(l.was_ended(old), "and may learn it without asking");
    assert!(!l.was_ended(new));
    assert!(l.renew(new, 106, 30).await);
    assert_eq!(l.active(LineId(1), 106).await, 1);
}

async fn newest_wins_ends_the_best_victim(l: &dyn Ledger) {
    let (a, _) = admitted(
        l.admit(&req("192.0.2.1", "TV", 2, LimitPolicy::NewestWins), 100, 30)
            .await,
    );
    let (b, _) = admitted(
        l.admit(
            &req("192.0.2.9", "Phone", 2, LimitPolicy::NewestWins),
            101,
            30,
        )
        .await,
    );
    // Same address as `b`, another player: `b` goes although `a` is older.
    let (_, ended) = admitted(
        l.admit(
            &req("192.0.2.9", "Tablet", 2, LimitPolicy::NewestWins),
            102,
            30,
        )
        .await,
    );
    assert_eq!(ids(&ended), vec![b]);
    assert!(l.was_ended(b));
    // A stranger: the oldest (`a`) goes.
    let (_, ended) = admitted(
        l.admit(
            &req("198.51.100.1", "Box", 2, LimitPolicy::NewestWins),
            103,
            30,
        )
        .await,
    );
    assert_eq!(ids(&ended), vec![a]);
    assert_eq!(l.active(LineId(1), 103).await, 2);
}

async fn an_unrenewed_lease_expires_so_nothing_can_leak(l: &dyn Ledger) {
    let (id, _) = admitted(
        l.admit(&req("192.0.2.1", "TV", 1, LimitPolicy::Refuse), 100, 30)
            .await,
    );
    assert!(l.renew(id, 120, 30).await);
    assert_eq!(l.active(LineId(1), 149).await, 1);
    assert_eq!(
        l.active(LineId(1), 150).await,
        0,
        "a crashed server task stops renewing"
    );
    assert!(!l.renew(id, 151, 30).await);
    admitted(
        l.admit(&req("192.0.2.2", "Phone", 1, LimitPolicy::Refuse), 151, 30)
            .await,
    );
}

async fn unlimited_lines_and_refused_reconnects_change_nothing(l: &dyn Ledger) {
    for i in 0..50u8 {
        admitted(
            l.admit(
                &req(&format!("192.0.2.{i}"), "TV", 0, LimitPolicy::Refuse),
                100,
                30,
            )
            .await,
        );
    }
    assert_eq!(l.active(LineId(1), 100).await, 50);
    let on_line_2 = |r: LeaseRequest| LeaseRequest {
        line: LineId(2),
        ..r
    };
    admitted(
        l.admit(
            &on_line_2(req("192.0.2.1", "TV", 1, LimitPolicy::Refuse)),
            100,
            30,
        )
        .await,
    );
    // A second stream from the same TV on a 1-slot line replaces, not refuses.
    let (_, ended) = admitted(
        l.admit(
            &on_line_2(req("192.0.2.1", "TV", 1, LimitPolicy::Refuse)),
            101,
            30,
        )
        .await,
    );
    assert_eq!(ended.len(), 1);
    assert_eq!(l.active(LineId(2), 101).await, 1);
    // A refused newcomer leaves the holders as they were.
    let holders = l.holders(LineId(2), 101).await;
    assert!(matches!(
        l.admit(
            &on_line_2(req("192.0.2.2", "TV", 1, LimitPolicy::Refuse)),
            102,
            30
        )
        .await,
        Admission::Full { .. }
    ));
    assert_eq!(l.holders(LineId(2), 102).await, holders);
}

async fn an_hls_viewer_reloading_its_playlist_resumes_its_lease(l: &dyn Ledger) {
    // Each row on a line of its own, so rows do not meet.
    let hls = |line: i64, ip: &str, ua: &str, stream: u32| LeaseRequest {
        line: LineId(line),
        stream: StreamId(stream),
        kind: LeaseKind::Hls,
        ..req(ip, ua, 1, LimitPolicy::Refuse)
    };
    let live = |line: i64, ip: &str, ua: &str| LeaseRequest {
        line: LineId(line),
        ..req(ip, ua, 1, LimitPolicy::Refuse)
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
        (hls(101, "192.0.2.1", "TV", 7), 105, Expect::Resume),
        (hls(102, "192.0.2.1", "TV", 8), 105, Expect::Replace),
        (hls(103, "192.0.2.1", "Phone", 7), 105, Expect::Refuse),
        (hls(104, "192.0.2.2", "TV", 7), 105, Expect::Refuse),
        (live(105, "192.0.2.1", "TV"), 105, Expect::Refuse),
        // The lease expired at 112: a new one, not a resume.
        (hls(106, "192.0.2.1", "TV", 7), 112, Expect::Fresh),
        // Just before the window closes: still the same lease.
        (hls(107, "192.0.2.1", "TV", 7), 111, Expect::Resume),
    ];
    for (i, (r, at, expect)) in table.into_iter().enumerate() {
        let line = r.line;
        let (first, _) = admitted(l.admit(&hls(line.0, "192.0.2.1", "TV", 7), 100, 12).await);
        let got = l.admit(&r, at, 12).await;
        match expect {
            Expect::Resume => {
                match got {
                    Admission::Admitted {
                        id,
                        ended,
                        resumed: true,
                    } => {
                        assert!(ended.is_empty(), "row {i}");
                        assert_eq!(id, first, "row {i}");
                    }
                    other => panic!("row {i}: not resumed: {other:?}"),
                }
                assert_eq!(l.active(line, at).await, 1, "row {i}");
                assert!(
                    l.renew(first, at + 11, 12).await,
                    "row {i}: renewed by the resume"
                );
            }
            Expect::Replace => {
                let (id, ended) = admitted(got);
                assert_ne!(id, first, "row {i}");
                assert_eq!(ids(&ended), vec![first], "row {i}");
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

async fn range_requests_of_one_movie_from_one_player_share_a_slot(l: &dyn Ledger) {
    let mut r = req("10.0.0.1", "mpv", 1, LimitPolicy::Refuse);
    r.kind = LeaseKind::Vod;
    let (first, _) = admitted(l.admit(&r, 100, 30).await);
    // A second request of the same file (a seek) shares the slot.
    match l.admit(&r, 101, 30).await {
        Admission::Admitted { id, ended, resumed } => {
            assert_eq!(id, first);
            assert!(ended.is_empty());
            assert!(resumed);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(l.active(LineId(1), 101).await, 1);
    // The first request ends: the slot stays while the second runs.
    assert!(l.end(first).await.is_none());
    assert_eq!(l.active(LineId(1), 102).await, 1);
    assert!(l.renew(first, 103, 30).await);
    // The last one ends: the slot is free.
    assert!(l.end(first).await.is_some());
    assert_eq!(l.active(LineId(1), 104).await, 0);
}

async fn identical_players_on_an_unlimited_line_do_not_end_each_other(l: &dyn Ledger) {
    let r = req("10.0.0.1", "MAG250", 0, LimitPolicy::Refuse);
    let (a, _) = admitted(l.admit(&r, 100, 30).await);
    let (b, ended) = admitted(l.admit(&r, 101, 30).await);
    assert_ne!(a, b);
    assert!(
        ended.is_empty(),
        "two boxes behind one NAT both keep watching"
    );
    assert_eq!(l.active(LineId(1), 101).await, 2);
}

async fn a_cut_ends_the_whole_lease_and_is_known(l: &dyn Ledger) {
    let mut movie = req("10.0.0.1", "mpv", 2, LimitPolicy::Refuse);
    movie.kind = LeaseKind::Vod;
    movie.device = Some("box-1".into());
    let (id, _) = admitted(l.admit(&movie, 100, 30).await);
    assert!(matches!(
        l.admit(&movie, 101, 30).await,
        Admission::Admitted { resumed: true, .. }
    ));
    assert!(!l.was_ended(id));
    let cut = l.cut(id).await.expect("a held lease is cut");
    assert_eq!((cut.id, cut.device.as_deref()), (id, Some("box-1")));
    assert_eq!(
        l.active(LineId(1), 102).await,
        0,
        "a cut frees the slot however many requests shared it"
    );
    assert!(l.was_ended(id), "the serving node knows at once");
    assert!(!l.renew(id, 102, 30).await);
    assert!(l.cut(id).await.is_none(), "a second cut finds nothing");
    assert!(l.end(id).await.is_none(), "nor does the viewer's own end");
}

async fn every_lease_by_line_and_counts_of_many_lines(l: &dyn Ledger) {
    let on = |line: i64, ip: &str, at_most: u32| LeaseRequest {
        line: LineId(line),
        ..req(ip, "TV", at_most, LimitPolicy::Refuse)
    };
    let (b1, _) = admitted(l.admit(&on(20, "192.0.2.1", 0), 100, 30).await);
    let (a1, _) = admitted(l.admit(&on(10, "192.0.2.2", 0), 101, 30).await);
    let (b2, _) = admitted(l.admit(&on(20, "192.0.2.3", 0), 102, 30).await);
    // Expires at 110: gone at 120.
    let (_, _) = admitted(l.admit(&on(30, "192.0.2.4", 0), 100, 10).await);
    let all = l.all(120).await;
    assert_eq!(
        all.iter().map(|x| (x.line, x.id)).collect::<Vec<_>>(),
        vec![(LineId(10), a1), (LineId(20), b1), (LineId(20), b2)],
        "by line, oldest first, expired ones left out"
    );
    assert_eq!(
        l.active_of(&[LineId(20), LineId(30), LineId(10), LineId(99)], 120)
            .await,
        vec![2, 0, 1, 0]
    );
}

async fn ends_of_unknown_leases_change_nothing(l: &dyn Ledger) {
    assert!(l.end(LeaseId(424_242)).await.is_none());
    assert!(l.cut(LeaseId(424_242)).await.is_none());
    assert!(!l.renew(LeaseId(424_242), 100, 30).await);
    assert!(l.holders(LineId(1), 100).await.is_empty());
    assert!(l.all(100).await.is_empty());
}
