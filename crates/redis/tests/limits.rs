//! The shared failed-login and MAC-scan limits against a real Redis: what
//! one node counts reaches the others as one budget.

mod support;

use std::net::IpAddr;
use std::time::Duration;
use support::Space;
use tvgate_core::access::share::{LimitShare, SharedLimit};
use tvgate_redis::WhenUnavailable;

async fn next(rx: &mut tokio::sync::mpsc::UnboundedReceiver<SharedLimit>) -> SharedLimit {
    tokio::time::timeout(Duration::from_secs(1), rx.recv())
        .await
        .expect("heard within a second")
        .expect("the subscription runs")
}

#[tokio::test]
async fn failures_on_two_nodes_fill_one_bucket_that_both_hear() {
    let space = Space::new();
    let (a, _) = space.node(WhenUnavailable::Refuse).await;
    let (mut b, _) = space.node(WhenUnavailable::Refuse).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let ip: IpAddr = "203.0.113.9".parse().expect("ip");
    a.limits.login_failed(ip, "alice", 100);
    a.limits.login_failed(ip, "alice", 100);
    b.limits.login_failed(ip, "bob", 100);
    let mut levels = Vec::new();
    for _ in 0..3 {
        match next(&mut b.incoming).await {
            SharedLimit::Failures {
                ip: heard,
                ip_level_milli,
                username_key,
                username_level_milli,
                at,
            } => {
                assert_eq!((heard, at), (ip, 100));
                levels.push((ip_level_milli, username_key, username_level_milli));
            }
            other => panic!("{other:?}"),
        }
    }
    // Which node's failure reached Redis first is a race; the sums are not.
    let mut ip_levels: Vec<u64> = levels.iter().map(|l| l.0).collect();
    ip_levels.sort();
    assert_eq!(
        ip_levels,
        vec![1000, 2000, 3000],
        "the address's bucket counts the failures of both nodes"
    );
    let mut users: Vec<(String, u64)> = levels.into_iter().map(|l| (l.1, l.2)).collect();
    users.sort();
    assert_eq!(
        users,
        vec![
            ("alice".to_string(), 1000),
            ("alice".to_string(), 2000),
            ("bob".to_string(), 1000)
        ]
    );
    a.limits.login_trusted(ip, "alice");
    assert_eq!(
        next(&mut b.incoming).await,
        SharedLimit::Trusted {
            ip,
            username_key: "alice".into()
        }
    );
}

#[tokio::test]
async fn a_mac_scan_over_two_nodes_is_blocked_on_both() {
    let space = Space::new();
    let (a, _) = space.node(WhenUnavailable::Refuse).await;
    let (mut b, _) = space.node(WhenUnavailable::Refuse).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let ip: IpAddr = "203.0.113.10".parse().expect("ip");
    // Three distinct unknown MACs a minute are allowed (the tests' limit);
    // a retry of one is not a new one.
    a.limits.mac_missed(ip, "00:1A:79:00:00:01", 100);
    b.limits.mac_missed(ip, "00:1A:79:00:00:02", 100);
    a.limits.mac_missed(ip, "00:1A:79:00:00:02", 100);
    b.limits.mac_missed(ip, "00:1A:79:00:00:03", 100);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(b.incoming.try_recv().is_err(), "no block yet");
    a.limits.mac_missed(ip, "00:1A:79:00:00:04", 101);
    assert_eq!(
        next(&mut b.incoming).await,
        SharedLimit::ScanBlocked { ip, until: 701 }
    );
}
