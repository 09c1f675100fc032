//! The relay end to end: players on tvgate, a stand-in provider behind it.
//! One upstream per channel whatever the number of viewers, failover to a
//! backup while viewers stay connected, a slow viewer that cannot slow a
//! fast one, the source's own connection cap, and no slot outliving a
//! panicking task.

use crate::harness::{client, get_json, TestServer, NOW};
use crate::provider::{clip_rate, Mode, Provider};
use std::time::{Duration, Instant};
use tvgate_core::catalog::SourceKind;
use tvgate_core::ids::StreamId;
use tvgate_core::ports::SourcePatch;

/// A line, and an M3U source whose channels are `urls`, in order: stream
/// ids 1, 2, ... Returns the source.
pub(crate) async fn relayed(srv: &TestServer, urls: &[String]) -> tvgate_core::catalog::Source {
    srv.add_line("viewer", "pw-relay", |s| s.max_connections = 0)
        .await;
    let mut m3u = String::from("#EXTM3U\n");
    for (i, url) in urls.iter().enumerate() {
        m3u.push_str(&format!(
            "#EXTINF:-1 tvg-id=\"ch{i}.t\" group-title=\"Relay\",Channel {i}\n{url}\n"
        ));
    }
    let (source, report) = srv.add_source(SourceKind::M3u, "relay.m3u", &m3u).await;
    assert!(report.diagnostics.is_empty(), "{:?}", report.diagnostics);
    source
}

pub(crate) async fn open(srv: &TestServer, id: u32, ua: &str) -> reqwest::Response {
    let r = client()
        .get(srv.url(&format!("/live/viewer/pw-relay/{id}.ts")))
        .header("user-agent", ua)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200, "viewer {ua}");
    r
}

/// Everything a viewer receives in `secs`. The stream must neither fail
/// nor end meanwhile, and the relay only ever hands out whole packets.
pub(crate) async fn collect(r: &mut reqwest::Response, secs: f64) -> Vec<u8> {
    let until = Instant::now() + Duration::from_secs_f64(secs);
    let mut seen = Vec::new();
    while let Ok(next) = tokio::time::timeout_at(until.into(), r.chunk()).await {
        let chunk = next.expect("no error").expect("the stream did not end");
        seen.extend_from_slice(&chunk);
    }
    assert_eq!(seen.len() % 188, 0, "a partial packet reached the viewer");
    assert!(
        seen.chunks(188).all(|p| p[0] == 0x47),
        "a torn packet reached the viewer"
    );
    seen
}

async fn read_for(r: &mut reqwest::Response, secs: f64) -> usize {
    collect(r, secs).await.len()
}

/// A server relaying channel 1 from `primary`, with `backup` behind it.
async fn with_backup(primary: &Provider, backup: &Provider, stall: Duration) -> TestServer {
    let srv = TestServer::start_with(|s| {
        s.upstream.stall_timeout = stall;
        s.upstream.backoff_min = Duration::from_millis(50);
    })
    .await;
    relayed(&srv, &[primary.url(1)]).await;
    srv.gate
        .set_backups(StreamId(1), vec![backup.url(1)])
        .await
        .expect("backups");
    srv
}

#[tokio::test]
async fn two_hundred_viewers_cost_one_upstream_connection() {
    let provider = Provider::start().await;
    let srv = TestServer::start().await;
    relayed(&srv, &[provider.url(1)]).await;
    let viewers = futures::future::join_all((0..200).map(|i| {
        let srv = &srv;
        async move {
            let mut r = open(srv, 1, &format!("viewer-{i}")).await;
            let first = r.chunk().await.expect("chunk").expect("bytes");
            assert_eq!(first[0], 0x47, "starts on a packet");
            // The program table first, also for the viewer that opened the
            // channel (the hub held nothing yet).
            let pid = (u16::from(first[1] & 0x1f) << 8) | u16::from(first[2]);
            assert_eq!(pid, 0, "viewer {i} starts with the PAT");
            r
        }
    }))
    .await;
    assert_eq!(
        provider.requests(),
        1,
        "one upstream request for 200 viewers"
    );
    assert_eq!(provider.open(), 1);
    let v = get_json(&srv.url("/player_api.php?username=viewer&password=pw-relay")).await;
    assert_eq!(v["user_info"]["active_cons"], "200");
    let metrics = client()
        .get(srv.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("tvgate_channel_viewers{channel=\"1\"} 200"),
        "{metrics}"
    );
    drop(viewers);
}

#[tokio::test]
async fn a_dead_upstream_switches_to_the_backup_and_viewers_stay() {
    let primary = Provider::start().await;
    let backup = Provider::start().await;
    let srv = with_backup(&primary, &backup, Duration::from_millis(800)).await;
    let mut a = open(&srv, 1, "a").await;
    let mut b = open(&srv, 1, "b").await;
    assert!(read_for(&mut a, 0.5).await > 0);
    assert!(read_for(&mut b, 0.5).await > 0);
    assert_eq!(backup.requests(), 0);
    primary.kill();
    // Both viewers stay connected and keep receiving whole packets, now
    // from the backup (nothing more comes from the dead primary).
    let after_switch = collect(&mut a, 3.0).await.len();
    assert!(backup.requests() >= 1, "switched to the backup");
    assert!(
        after_switch > 50_000,
        "data after the switch: {after_switch}"
    );
    assert!(read_for(&mut b, 0.5).await > 0, "viewer b stayed too");
    assert_eq!(srv.hub.upstreams_opened(), 1, "the same channel, switched");
}

#[tokio::test]
async fn html_from_the_upstream_never_reaches_viewers() {
    let primary = Provider::start().await;
    let backup = Provider::start().await;
    let srv = with_backup(&primary, &backup, Duration::from_millis(600)).await;
    let mut a = open(&srv, 1, "a").await;
    assert!(read_for(&mut a, 0.3).await > 0);
    primary.set_mode(Mode::Html);
    let seen = collect(&mut a, 2.0).await;
    assert!(backup.requests() >= 1, "switched to the backup");
    assert!(
        !seen.windows(5).any(|w| w == b"<html"),
        "HTML leaked into the stream"
    );
}

#[tokio::test]
async fn a_viewer_that_stops_reading_does_not_slow_the_others() {
    let provider = Provider::start().await;
    let srv = TestServer::start().await;
    relayed(&srv, &[provider.url(1)]).await;
    // The slow one takes its first bytes, then never reads again.
    let mut slow = open(&srv, 1, "slow").await;
    let _ = slow.chunk().await;
    let mut fast = open(&srv, 1, "fast").await;
    let _ = fast.chunk().await; // the join burst
    let secs = 4.0;
    let got = read_for(&mut fast, secs).await as f64;
    let rate = clip_rate(&tvgate_relay::demo_clip());
    assert!(
        got >= 0.85 * rate * secs,
        "fast viewer got {got:.0} B in {secs} s, the channel runs at {rate:.0} B/s"
    );
    drop(slow);
}

#[tokio::test]
async fn a_source_at_its_connection_cap_refuses_new_channels_only() {
    let provider = Provider::start().await;
    let srv = TestServer::start_with(|s| {
        s.stream_denials = tvgate_http::slate::StreamDenials::Status;
    })
    .await;
    let source = relayed(&srv, &[provider.url(1), provider.url(2)]).await;
    srv.gate
        .update_source(
            source.id,
            SourcePatch {
                max_connections: Some(1),
                ..Default::default()
            },
        )
        .await
        .expect("cap");
    let mut first = open(&srv, 1, "a").await;
    assert!(read_for(&mut first, 0.2).await > 0);
    // Another viewer of the same channel shares the running upstream.
    let mut second = open(&srv, 1, "b").await;
    assert!(read_for(&mut second, 0.2).await > 0);
    // Another channel of the same source would need a second connection.
    let r = client()
        .get(srv.url("/live/viewer/pw-relay/2.ts"))
        .header("user-agent", "c")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["x-tvgate-reason"], "source_at_capacity");
    assert_eq!(provider.requests(), 1);
    // The refused viewer holds no slot of its line.
    let v = get_json(&srv.url("/player_api.php?username=viewer&password=pw-relay")).await;
    assert_eq!(v["user_info"]["active_cons"], "2");
}

#[tokio::test]
async fn redirect_delivery_sends_the_player_to_the_source() {
    let provider = Provider::start().await;
    let srv = TestServer::start().await;
    let source = relayed(&srv, &[provider.url(1)]).await;
    srv.gate
        .update_source(
            source.id,
            SourcePatch {
                delivery: Some(tvgate_core::catalog::Delivery::Redirect),
                ..Default::default()
            },
        )
        .await
        .expect("redirect");
    let r = client()
        .get(srv.url("/live/viewer/pw-relay/1.ts"))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 302);
    assert_eq!(r.headers()["location"], provider.url(1).as_str());
    assert_eq!(provider.requests(), 0);
}

#[tokio::test]
async fn no_slot_outlives_a_panicking_upstream_task() {
    let srv = TestServer::start().await;
    srv.add_line("p", "pw-panic", |s| s.max_connections = 1)
        .await;
    let m3u = "#EXTM3U\n#EXTINF:-1,Panics\nloop:panic\n";
    srv.add_source(SourceKind::M3u, "panic.m3u", m3u).await;
    let line = srv.gate.find_line("p").map(|a| a.id).expect("line");
    let mut r = client()
        .get(srv.url("/live/p/pw-panic/1.ts"))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
    let _ = r.chunk().await;
    assert_eq!(srv.ledger.active(line, NOW).await, 1);
    // The upstream task panics; the viewer's stream ends and its slot with it.
    let t0 = Instant::now();
    while srv.ledger.active(line, NOW).await != 0 {
        assert!(
            t0.elapsed() < Duration::from_secs(3),
            "slot still held after the panic"
        );
        let _ = tokio::time::timeout(Duration::from_millis(100), r.chunk()).await;
    }
}
