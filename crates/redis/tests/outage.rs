//! What a node does while Redis does not answer, against a `redis-server`
//! of each test's own that the test kills and starts again (empty: it
//! keeps nothing, as after a crash without persistence): the policy
//! `refuse` or `admit_local`, viewers that keep watching, the hand-over of
//! a node's leases when Redis is back, and what start-up says.

mod support;

use std::time::{Duration, Instant};
use support::{unix_now, OwnRedis, Space};
use tvgate_core::ids::LineId;
use tvgate_core::ledger::conformance::{admitted, req};
use tvgate_core::ledger::{Admission, Ledger, LimitPolicy};
use tvgate_redis::{ConnectError, WhenUnavailable};

/// Waits until an admission on `ledger` is decided by Redis again.
async fn until_admitted(ledger: &dyn Ledger, r: &tvgate_core::ledger::LeaseRequest, now: i64) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Admission::Admitted { .. } = ledger.admit(r, now, 30).await {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "Redis never took admissions again"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn refuse_refuses_newcomers_keeps_viewers_and_hands_leases_back() {
    let mut own = OwnRedis::start();
    let space = Space::on(&own.url());
    let (node, _) = space.node(WhenUnavailable::Refuse).await;
    let now = unix_now();
    let (watching, _) = admitted(
        node.ledger
            .admit(&req("192.0.2.1", "TV", 2, LimitPolicy::Refuse), now, 30)
            .await,
    );
    own.kill();

    let t0 = Instant::now();
    let newcomer = req("192.0.2.2", "Phone", 2, LimitPolicy::Refuse);
    assert_eq!(
        node.ledger.admit(&newcomer, now, 30).await,
        Admission::Unavailable
    );
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    let t0 = Instant::now();
    assert_eq!(
        node.ledger.admit(&newcomer, now, 30).await,
        Admission::Unavailable,
        "and again, without waiting for Redis"
    );
    assert!(
        t0.elapsed() < Duration::from_millis(50),
        "{:?}",
        t0.elapsed()
    );
    assert!(
        node.ledger.renew(watching, now + 1, 30).await,
        "a viewer already watching keeps watching"
    );
    assert_eq!(node.ledger.holders(LineId(1), now + 1).await.len(), 1);

    own.resume();
    until_admitted(&*node.ledger, &newcomer, now + 2).await;
    let holders = node.ledger.holders(LineId(1), now + 2).await;
    assert_eq!(
        holders.iter().map(|l| l.id).collect::<Vec<_>>().first(),
        Some(&watching),
        "the node handed its viewer's lease to the new Redis"
    );
    assert_eq!(holders.len(), 2);
    assert!(node.ledger.renew(watching, now + 3, 30).await);
    // The new Redis holds it as a lease of its own, seen from another node.
    let (other, _) = space.node(WhenUnavailable::Refuse).await;
    assert_eq!(other.ledger.holders(LineId(1), now + 3).await.len(), 2);
}

#[tokio::test]
async fn admit_local_admits_per_node_and_hands_over_when_redis_is_back() {
    let mut own = OwnRedis::start();
    let space = Space::on(&own.url());
    let (a, _) = space.node(WhenUnavailable::AdmitLocal).await;
    let (b, _) = space.node(WhenUnavailable::AdmitLocal).await;
    let now = unix_now();
    own.kill();

    let (on_a, _) = admitted(
        a.ledger
            .admit(&req("192.0.2.1", "TV", 1, LimitPolicy::Refuse), now, 30)
            .await,
    );
    assert!(
        on_a.0 >= 1 << 52,
        "a local lease is numbered apart: {}",
        on_a.0
    );
    assert!(
        matches!(
            a.ledger
                .admit(&req("192.0.2.2", "Phone", 1, LimitPolicy::Refuse), now, 30)
                .await,
            Admission::Full { .. }
        ),
        "the limit holds on the node"
    );
    let (on_b, _) = admitted(
        b.ledger
            .admit(&req("192.0.2.3", "Box", 1, LimitPolicy::Refuse), now, 30)
            .await,
    );
    assert_ne!(on_a, on_b);
    assert!(a.ledger.renew(on_a, now + 1, 30).await);

    own.resume();
    // Both nodes hand their leases over: Redis holds both (over the limit
    // until one of them leaves: these viewers were already watching).
    let deadline = Instant::now() + Duration::from_secs(5);
    let (observer, _) = loop {
        if let Ok(observer) =
            tvgate_redis::connect(space.config(WhenUnavailable::Refuse), Default::default()).await
        {
            let held = observer.ledger.holders(LineId(1), now + 1).await;
            if held.len() == 2 {
                break (observer, held);
            }
        }
        assert!(Instant::now() < deadline, "the leases were not handed over");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(a.ledger.renew(on_a, now + 2, 30).await, "kept in Redis");
    assert!(
        matches!(
            observer
                .ledger
                .admit(
                    &req("192.0.2.9", "Other", 1, LimitPolicy::Refuse),
                    now + 2,
                    30
                )
                .await,
            Admission::Full { .. }
        ),
        "the line is full across the nodes again"
    );
    assert!(b.ledger.end(on_b).await.is_some(), "ended in Redis");
    assert_eq!(observer.ledger.holders(LineId(1), now + 2).await.len(), 1);
}

#[tokio::test]
async fn start_up_names_what_failed_without_the_password() {
    let mut own = OwnRedis::start();
    let port = own.port;
    own.kill();
    let config = |url: String, when| tvgate_redis::Config {
        url,
        ..Space::on("redis://unused").config(when)
    };
    let secret = format!("redis://:s3cret@127.0.0.1:{port}/0");
    let err = tvgate_redis::connect(
        config(secret.clone(), WhenUnavailable::Refuse),
        Default::default(),
    )
    .await
    .err()
    .expect("an unreachable Redis is refused at start");
    let text = err.to_string();
    assert!(matches!(err, ConnectError::Unreachable { .. }), "{text}");
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert!(!text.contains("s3cret"), "{text}");
    assert!(!text.contains('\n'), "one line: {text}");

    let err = tvgate_redis::connect(
        config("http://127.0.0.1/".into(), WhenUnavailable::AdmitLocal),
        Default::default(),
    )
    .await
    .err()
    .expect("a URL that is no Redis URL");
    assert!(matches!(err, ConnectError::BadUrl { .. }), "{err}");

    // Under admit_local the node starts on its own ledger, then moves to
    // Redis when it answers.
    let space = Space::on(&own.url());
    let (node, _) = space.node(WhenUnavailable::AdmitLocal).await;
    let now = unix_now();
    let (local, _) = admitted(
        node.ledger
            .admit(&req("192.0.2.1", "TV", 1, LimitPolicy::Refuse), now, 30)
            .await,
    );
    own.resume();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (other, _) = space.node(WhenUnavailable::Refuse).await;
        let held = other.ledger.holders(LineId(1), now).await;
        if held.iter().any(|l| l.id == local) {
            break;
        }
        assert!(Instant::now() < deadline, "never moved to Redis");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A Redis that refuses the login is an error under either policy.
    let wrong = format!("redis://:wrong@127.0.0.1:{port}");
    let err = tvgate_redis::connect(
        config(wrong, WhenUnavailable::AdmitLocal),
        Default::default(),
    )
    .await
    .err()
    .expect("a refused login");
    assert!(matches!(err, ConnectError::Refused { .. }), "{err}");
    assert!(!err.to_string().contains("wrong"), "{err}");
}
