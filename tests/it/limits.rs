//! Connection slots for served streams: the limit holds, a refusal names the
//! holders, and a slot frees the moment its viewer leaves.

use crate::harness::*;
use std::time::{Duration, Instant};
use tvgate_core::ledger::LimitPolicy;

async fn open(srv: &TestServer, ua: &str) -> reqwest::Response {
    client()
        .get(srv.url("/live/tina/pw-11/1.ts"))
        .header("user-agent", ua)
        .send()
        .await
        .expect("request")
}

async fn limited(policy: LimitPolicy) -> TestServer {
    let srv = TestServer::start_with(|h| {
        h.limit_policy = policy;
        h.admission_wait = Duration::from_millis(300);
        // The refusal's text names the holders (players get it as a slate).
        h.stream_denials = tvgate_http::slate::StreamDenials::Status;
    })
    .await;
    srv.add_line("tina", "pw-11", |s| s.max_connections = 1)
        .await;
    srv.with_catalog().await;
    srv
}

#[tokio::test]
async fn a_second_player_is_refused_with_the_holder_named_until_the_first_leaves() {
    let srv = limited(LimitPolicy::Refuse).await;
    let mut tv = open(&srv, "LivingRoomTV/1.0").await;
    assert_eq!(tv.status(), 200);
    assert!(tv.chunk().await.expect("chunk").is_some());
    let v = get_json(&srv.url("/player_api.php?username=tina&password=pw-11")).await;
    assert_eq!(v["user_info"]["active_cons"], "1");
    let phone = open(&srv, "Phone/2.0").await;
    assert_eq!(phone.status(), 403);
    let body = phone.text().await.expect("body");
    assert!(body.starts_with("connection_limit: Connection limit reached: 1 of 1 in use by LivingRoomTV/1.0 (127.0.0.1, watching News One, since "), "{body}");
    // The TV closes the app: its slot is free at once.
    drop(tv);
    let started = Instant::now();
    let phone = open(&srv, "Phone/2.0").await;
    assert_eq!(phone.status(), 200, "admitted after the first viewer left");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn the_same_player_reconnecting_replaces_its_own_slot() {
    let srv = limited(LimitPolicy::Refuse).await;
    let mut first = open(&srv, "TV").await;
    assert!(first.chunk().await.expect("chunk").is_some());
    let mut second = open(&srv, "TV").await;
    assert_eq!(
        second.status(),
        200,
        "zapping from the same TV never hits the limit"
    );
    assert!(second.chunk().await.expect("chunk").is_some());
    let v = get_json(&srv.url("/player_api.php?username=tina&password=pw-11")).await;
    assert_eq!(v["user_info"]["active_cons"], "1");
    drop(first);
}

#[tokio::test]
async fn newest_wins_ends_the_oldest_connection() {
    let srv = limited(LimitPolicy::NewestWins).await;
    srv.clock.store(NOW, std::sync::atomic::Ordering::Relaxed);
    let mut old = open(&srv, "TV").await;
    assert!(old.chunk().await.expect("chunk").is_some());
    let mut new = open(&srv, "Phone").await;
    assert_eq!(new.status(), 200);
    assert!(new.chunk().await.expect("chunk").is_some());
    // The old connection stops at its next renewal (a third of the lease's
    // time-to-live later); the new one renews fine.
    srv.clock
        .fetch_add(15, std::sync::atomic::Ordering::Relaxed);
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        while let Ok(Some(_)) = old.chunk().await {}
    })
    .await;
    assert!(ended.is_ok(), "the evicted stream ended");
    let v = get_json(&srv.url("/player_api.php?username=tina&password=pw-11")).await;
    assert_eq!(v["user_info"]["active_cons"], "1");
}

/// `kill -9` of a real client process: the slot is free within a second.
#[tokio::test]
async fn a_killed_client_frees_its_slot_within_a_second() {
    let srv = limited(LimitPolicy::Refuse).await;
    struct Reap(std::process::Child);
    impl Drop for Reap {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut curl = Reap(
        std::process::Command::new("curl")
            .args([
                "-s",
                "-o",
                "/dev/null",
                "-A",
                "KilledPlayer",
                &srv.url("/live/tina/pw-11/1.ts"),
            ])
            .spawn()
            .expect("curl is installed"),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let tina = srv.gate.find_line("tina").expect("line").id;
    while srv_active(&srv, tina).await == 0 {
        assert!(Instant::now() < deadline, "curl never started streaming");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let pid = curl.0.id();
    let killed = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let _ = curl.0.wait();
    let t0 = Instant::now();
    let status = open(&srv, "NextPlayer").await.status();
    assert_eq!(status, 200);
    assert!(
        t0.elapsed() < Duration::from_secs(1),
        "slot freed after {:?}",
        t0.elapsed()
    );
}

async fn srv_active(srv: &TestServer, id: tvgate_core::ids::LineId) -> u32 {
    srv.ledger.active(id, NOW).await
}

/// 200 viewers of one built-in channel share one upstream, and each starts
/// on a packet boundary with the program tables first.
#[tokio::test]
async fn two_hundred_viewers_of_one_channel_share_one_upstream() {
    let srv = TestServer::start().await;
    srv.add_line("many", "pw-12", |s| s.max_connections = 0)
        .await;
    srv.with_catalog().await;
    let viewers = futures::future::join_all((0..200).map(|i| {
        let url = srv.url("/live/many/pw-12/1.ts");
        async move {
            let mut r = client()
                .get(url)
                .header("user-agent", format!("viewer-{i}"))
                .send()
                .await
                .expect("request");
            assert_eq!(r.status(), 200);
            let first = r.chunk().await.expect("chunk").expect("bytes");
            (r, first)
        }
    }))
    .await;
    assert_eq!(
        srv.hub.upstreams_opened(),
        1,
        "one upstream for 200 viewers"
    );
    for (_, first) in &viewers {
        assert_eq!(first[0], 0x47, "starts on a packet");
        // The program tables lead: the PAT is within the first packets (the
        // first viewer gets the upstream from its start, where the clip has
        // its SDT before the PAT; later ones get the PAT first).
        let pids: Vec<u16> = first
            .chunks(188)
            .take(4)
            .map(|p| (u16::from(p[1] & 0x1f) << 8) | u16::from(p[2]))
            .collect();
        assert!(pids.contains(&0), "PAT among the first packets: {pids:?}");
    }
    let v = get_json(&srv.url("/player_api.php?username=many&password=pw-12")).await;
    assert_eq!(v["user_info"]["active_cons"], "200");
    drop(viewers);
}
