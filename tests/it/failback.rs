//! Return to the primary (issue 14): a channel that failed over to its
//! backup moves back once the primary has delivered clean packets for
//! `primary_recheck`, at a keyframe preceded by PAT and PMT (as a joining
//! viewer starts), while its viewers keep receiving whole packets; a probe
//! of a primary that is still broken backs off and never moves the channel.

use crate::harness::{client, TestServer};
use crate::provider::{Mode, Provider};
use crate::relay::{collect, open, relayed};
use std::time::Duration;
use tvgate_core::ids::StreamId;
use tvgate_formats::mpegts::{self, PACKET_LEN, PID_PAT};

async fn metrics(srv: &TestServer) -> String {
    client()
        .get(srv.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text")
}

/// The value of the unlabelled counter `name`.
fn counter(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("{name} not in /metrics"))
}

/// The packets with a payload that follow the last discontinuity on the
/// PAT's pid: where the stream last switched upstreams. Also the number
/// of such switches seen.
fn after_last_seam(stream: &[u8]) -> (Vec<&[u8]>, usize) {
    let packets: Vec<&[u8]> = stream.chunks_exact(PACKET_LEN).collect();
    let seams: Vec<usize> = packets
        .iter()
        .enumerate()
        .filter(|(_, p)| mpegts::pid(p) == Some(PID_PAT) && mpegts::discontinuity_indicator(p))
        .map(|(i, _)| i)
        .collect();
    let Some(&last) = seams.last() else {
        return (Vec::new(), 0);
    };
    // Adaptation-only packets carry the flag for a packet without room
    // for it; they hold no payload.
    let after = packets[last..]
        .iter()
        .copied()
        .filter(|p| mpegts::has_payload(p))
        .collect();
    // The flag packet and the PAT it flags make one seam.
    let distinct = seams.windows(2).filter(|w| w[1] > w[0] + 1).count() + 1;
    (after, distinct)
}

#[tokio::test]
async fn the_channel_returns_to_the_primary_at_a_keyframe_and_viewers_stay() {
    let primary = Provider::start().await;
    let backup = Provider::start().await;
    let srv = TestServer::start_with(|s| {
        s.upstream.stall_timeout = Duration::from_millis(600);
        s.upstream.backoff_min = Duration::from_millis(50);
        s.upstream.primary_recheck = Duration::from_secs(1);
        s.upstream.probe_after = Duration::from_millis(200);
        s.upstream.probe_max_wait = Duration::from_millis(400);
    })
    .await;
    relayed(&srv, &[primary.url(1)]).await;
    srv.gate
        .set_backups(StreamId(1), vec![backup.url(1)])
        .await
        .expect("backups");
    let mut a = open(&srv, 1, "a").await;
    let mut seen = collect(&mut a, 0.5).await;
    assert!(!seen.is_empty());

    // The primary stalls: the channel moves to the backup, and probes of
    // the primary (which answer and then send nothing) fail and back off.
    primary.set_mode(Mode::Stall);
    seen.extend(collect(&mut a, 2.5).await);
    assert_eq!(backup.open(), 1, "on the backup");
    let m = metrics(&srv).await;
    assert_eq!(counter(&m, "tvgate_upstream_returns_total"), 0, "{m}");
    assert!(
        counter(&m, "tvgate_upstream_probe_failures_total") >= 1,
        "{m}"
    );
    assert!(
        m.contains("tvgate_upstream_failures_total{reason=\"stalled\"} "),
        "{m}"
    );

    // The primary recovers: after a second of clean packets the channel is
    // back on it and the backup's connection is closed.
    primary.set_mode(Mode::Healthy);
    let mut b = None;
    for _ in 0..12 {
        seen.extend(collect(&mut a, 0.5).await);
        if b.is_none() {
            // A second viewer joins meanwhile and stays too.
            b = Some(open(&srv, 1, "b").await);
        }
        if counter(&metrics(&srv).await, "tvgate_upstream_returns_total") == 1 {
            break;
        }
    }
    seen.extend(collect(&mut a, 1.0).await);
    let m = metrics(&srv).await;
    assert_eq!(counter(&m, "tvgate_upstream_returns_total"), 1, "{m}");
    assert!(counter(&m, "tvgate_upstream_probes_total") >= 2, "{m}");
    assert_eq!(backup.open(), 0, "the backup's connection is closed");
    assert_eq!(srv.hub.upstreams_opened(), 1, "the same channel throughout");
    let mut b = b.expect("viewer b");
    assert!(!collect(&mut b, 0.5).await.is_empty(), "viewer b stayed");

    // At the seam: PAT, PMT, then the video's keyframe.
    let (after, seams) = after_last_seam(&seen);
    assert!(seams >= 2, "a switch to the backup and one back: {seams}");
    assert!(after.len() > 3);
    assert_eq!(mpegts::pid(after[0]), Some(PID_PAT));
    assert!(mpegts::payload_unit_start(after[0]));
    let pmt_pid = mpegts::pat_pmt_pid(after[0]).expect("a PAT");
    assert_eq!(mpegts::pid(after[1]), Some(pmt_pid), "the PMT next");
    let video = mpegts::pmt(after[1])
        .and_then(|m| m.video)
        .expect("a PMT with video");
    let first_video = after[2..]
        .iter()
        .find(|p| mpegts::pid(p) == Some(video.pid))
        .expect("video after the seam");
    assert!(
        mpegts::starts_keyframe(first_video, video.stream_type),
        "the first video packet after the seam starts a keyframe"
    );
}

#[tokio::test]
async fn a_source_at_its_cap_is_not_probed_and_stays_on_the_backup() {
    let primary = Provider::start().await;
    let backup = Provider::start().await;
    let srv = TestServer::start_with(|s| {
        s.upstream.stall_timeout = Duration::from_millis(500);
        s.upstream.backoff_min = Duration::from_millis(50);
        s.upstream.primary_recheck = Duration::from_millis(300);
        s.upstream.probe_after = Duration::from_millis(100);
        s.upstream.probe_max_wait = Duration::from_millis(200);
    })
    .await;
    let source = relayed(&srv, &[primary.url(1)]).await;
    // One connection allowed: the channel holds it, so no probe fits.
    srv.gate
        .update_source(
            source.id,
            tvgate_core::ports::SourcePatch {
                max_connections: Some(1),
                ..Default::default()
            },
        )
        .await
        .expect("cap");
    srv.gate
        .set_backups(StreamId(1), vec![backup.url(1)])
        .await
        .expect("backups");
    let mut a = open(&srv, 1, "a").await;
    assert!(!collect(&mut a, 0.3).await.is_empty());
    primary.set_mode(Mode::Stall);
    assert!(!collect(&mut a, 1.5).await.is_empty());
    primary.set_mode(Mode::Healthy);
    assert!(!collect(&mut a, 1.5).await.is_empty());
    let m = metrics(&srv).await;
    assert_eq!(counter(&m, "tvgate_upstream_returns_total"), 0, "{m}");
    assert_eq!(counter(&m, "tvgate_upstream_probes_total"), 0, "{m}");
    assert!(
        counter(&m, "tvgate_upstream_probes_at_cap_total") >= 1,
        "{m}"
    );
    assert_eq!(backup.open(), 1, "still on the backup");
    assert!(
        m.contains(&format!(
            "tvgate_source_upstreams{{source=\"{}\"}} 1\n",
            source.id.0
        )),
        "one connection, within the source's cap: {m}"
    );
}
