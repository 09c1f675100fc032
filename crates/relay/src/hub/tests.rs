use super::*;
use futures::channel::mpsc;
use std::sync::atomic::AtomicUsize;

const KEY: &str = "ch1";
const PMT_PID: u16 = 0x1000;
const VIDEO_PID: u16 = 0x100;
const AUDIO_PID: u16 = 0x101;
/// Packets per GOP in the synthetic stream: PAT, PMT, keyframe, then others.
const GOP: u64 = 10;
/// Packets per upstream chunk; not a divisor of GOP, so keyframes land
/// inside chunks and the pump has to split them.
const CHUNK: u64 = 7;

fn packet(pid: u16, pusi: bool, rai: bool, payload: &[u8]) -> [u8; PACKET_LEN] {
    let mut p = [0xFFu8; PACKET_LEN];
    p[0] = SYNC_BYTE;
    p[1] = (u8::from(pusi) << 6) | (pid >> 8) as u8;
    p[2] = pid as u8;
    let mut at = 4;
    if rai {
        p[3] = 0x30;
        p[4] = 1; // adaptation_field_length
        p[5] = 0x40; // random_access_indicator
        at = 6;
    } else {
        p[3] = 0x10;
    }
    p[at..at + payload.len()].copy_from_slice(payload);
    p
}

fn pat() -> [u8; PACKET_LEN] {
    let pmt = PMT_PID.to_be_bytes();
    packet(
        PID_PAT,
        true,
        false,
        &[
            0,
            0x00,
            0xB0,
            13,
            0,
            1,
            0xC1,
            0,
            0,
            0,
            1,
            0xE0 | pmt[0],
            pmt[1],
            0,
            0,
            0,
            0,
        ],
    )
}

fn pmt() -> [u8; PACKET_LEN] {
    let v = VIDEO_PID.to_be_bytes();
    let a = AUDIO_PID.to_be_bytes();
    #[rustfmt::skip]
    let sec = [
        0, 0x02, 0xB0, 23, 0, 1, 0xC1, 0, 0, 0xE0 | v[0], v[1], 0xF0, 0,
        0x1B, 0xE0 | v[0], v[1], 0xF0, 0,
        0x0F, 0xE0 | a[0], a[1], 0xF0, 0,
        0, 0, 0, 0,
    ];
    packet(PMT_PID, true, false, &sec)
}

/// Packet `n` of the endless synthetic channel. Data packets carry `n`.
fn nth_packet(n: u64) -> [u8; PACKET_LEN] {
    let tag = n.to_be_bytes();
    match n % GOP {
        0 => pat(),
        1 => pmt(),
        2 => packet(VIDEO_PID, true, true, &tag),
        // Audio random-access points must not count as keyframes.
        5 => packet(AUDIO_PID, true, true, &tag),
        _ => packet(VIDEO_PID, false, false, &tag),
    }
}

/// Chunk `i`: packets `i*CHUNK .. (i+1)*CHUNK`.
fn chunk(i: u64) -> Bytes {
    let mut b = Vec::with_capacity((CHUNK as usize) * PACKET_LEN);
    for n in i * CHUNK..(i + 1) * CHUNK {
        b.extend_from_slice(&nth_packet(n));
    }
    Bytes::from(b)
}

/// The packet number carried by a data packet.
fn tag(pkt: &[u8]) -> Option<u64> {
    let pid = mpegts::pid(pkt)?;
    (pid == VIDEO_PID || pid == AUDIO_PID)
        .then(|| u64::from_be_bytes(mpegts::payload(pkt).unwrap()[..8].try_into().unwrap()))
}

/// A fake upstream the test feeds by hand. `is_closed()` on the sender tells
/// whether the hub still holds the upstream.
fn fake_upstream() -> (mpsc::UnboundedSender<Bytes>, BoxStream<'static, Bytes>) {
    let (tx, rx) = mpsc::unbounded();
    (tx, rx.boxed())
}

/// Lets spawned tasks run without moving the (paused) clock.
async fn settle() {
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
}

/// Reads everything a viewer has ready right now. Unconstrained, so tokio's
/// cooperative budget does not cut the read short.
async fn drain(v: &mut Viewer) -> Vec<u8> {
    tokio::task::unconstrained(async {
        let mut out = Vec::new();
        while let Some(Some(b)) = v.next().now_or_never() {
            out.extend_from_slice(&b);
        }
        out
    })
    .await
}

use futures::FutureExt;

fn assert_whole_packets(data: &[u8]) {
    assert_eq!(data.len() % PACKET_LEN, 0, "whole packets");
    assert!(
        data.chunks(PACKET_LEN).all(|p| p[0] == SYNC_BYTE),
        "every packet starts with 0x47"
    );
}

#[tokio::test(start_paused = true)]
async fn many_viewers_share_one_upstream() {
    let hub = Hub::new(Duration::from_secs(10));
    let opens = Arc::new(AtomicUsize::new(0));
    let (tx, upstream) = fake_upstream();
    let mut upstream = Some(upstream);
    let mut viewers: Vec<Viewer> = (0..200)
        .map(|_| {
            let opens = Arc::clone(&opens);
            let up = &mut upstream;
            hub.subscribe(KEY, move || {
                opens.fetch_add(1, Ordering::SeqCst);
                up.take().expect("opened once")
            })
        })
        .collect();
    assert_eq!(hub.upstreams_opened(), 1);
    assert_eq!(opens.load(Ordering::SeqCst), 1);
    assert_eq!(hub.viewers(KEY), 200);

    for i in 0..5 {
        tx.unbounded_send(chunk(i)).unwrap();
    }
    settle().await;
    let first = drain(&mut viewers[0]).await;
    assert_eq!(first.len(), 5 * CHUNK as usize * PACKET_LEN);
    for (i, v) in viewers[1..].iter_mut().enumerate() {
        let d = drain(v).await;
        assert!(
            d == first,
            "viewer {} differs: {} vs {}",
            i + 1,
            d.len(),
            first.len()
        );
    }
    drop(viewers);
    settle().await;
    assert_eq!(hub.viewers(KEY), 0);
}

#[tokio::test(start_paused = true)]
async fn late_joiner_starts_at_psi_then_keyframe_with_a_clean_seam() {
    let hub = Hub::new(Duration::from_secs(10));
    let (tx, upstream) = fake_upstream();
    let mut early = hub.subscribe(KEY, || upstream);
    let mut early_data = Vec::new();
    for i in 0..6 {
        tx.unbounded_send(chunk(i)).unwrap();
    }
    settle().await;
    early_data.extend(drain(&mut early).await);

    // Packets 0..42 sent; the last keyframe is packet 32, inside chunk 4.
    let mut late = hub.subscribe(KEY, || unreachable!("upstream already open"));
    assert_eq!(hub.upstreams_opened(), 1);
    for i in 6..10 {
        tx.unbounded_send(chunk(i)).unwrap();
    }
    settle().await;
    early_data.extend(drain(&mut early).await);
    let late_data = drain(&mut late).await;

    assert_whole_packets(&early_data);
    assert_whole_packets(&late_data);
    // The early viewer has everything, in order.
    let tags: Vec<u64> = early_data.chunks(PACKET_LEN).filter_map(tag).collect();
    let expected: Vec<u64> = (0..10 * CHUNK)
        .filter(|n| !matches!(n % GOP, 0 | 1))
        .collect();
    assert_eq!(tags, expected);

    let pkts: Vec<&[u8]> = late_data.chunks(PACKET_LEN).collect();
    assert_eq!(mpegts::pid(pkts[0]), Some(PID_PAT), "PAT first");
    assert_eq!(mpegts::pid(pkts[1]), Some(PMT_PID), "then PMT");
    assert!(mpegts::is_keyframe_start(pkts[2]), "then a keyframe");
    assert_eq!(mpegts::pid(pkts[2]), Some(VIDEO_PID));
    assert_eq!(tag(pkts[2]), Some(32), "the latest keyframe before joining");
    // After PAT+PMT, an exact suffix of the early viewer's stream: no gap,
    // no duplicate, no torn packet at the seam between buffer and live.
    let rest = &late_data[2 * PACKET_LEN..];
    assert!(
        early_data.ends_with(rest),
        "late stream is a suffix of the early one"
    );
    assert_eq!(rest.len(), (10 * CHUNK as usize - 32) * PACKET_LEN);
}

#[tokio::test(start_paused = true)]
async fn unaligned_upstream_chunks_are_reassembled_into_packets() {
    let hub = Hub::new(Duration::from_secs(10));
    let (tx, upstream) = fake_upstream();
    let mut v = hub.subscribe(KEY, || upstream);
    let all: Vec<u8> = (0..4).flat_map(|i| chunk(i).to_vec()).collect();
    // Garbage before the first sync byte, then odd-sized pieces.
    tx.unbounded_send(Bytes::from_static(&[1, 2, 3])).unwrap();
    for piece in all.chunks(100) {
        tx.unbounded_send(Bytes::copy_from_slice(piece)).unwrap();
    }
    settle().await;
    assert_eq!(drain(&mut v).await, all);
}

#[tokio::test(start_paused = true)]
async fn a_stalled_viewer_skips_to_live_and_never_slows_others() {
    let hub = Hub::with_config(HubConfig {
        viewer_backlog: 4,
        ..HubConfig::new(Duration::from_secs(10))
    });
    let (tx, upstream) = fake_upstream();
    let mut slow = hub.subscribe(KEY, || upstream);
    let mut fast = hub.subscribe(KEY, || unreachable!());
    let mut fast_data = Vec::new();
    for i in 0..100 {
        tx.unbounded_send(chunk(i)).unwrap();
        settle().await;
        fast_data.extend(drain(&mut fast).await);
    }
    let tags: Vec<u64> = fast_data.chunks(PACKET_LEN).filter_map(tag).collect();
    let expected: Vec<u64> = (0..100 * CHUNK)
        .filter(|n| !matches!(n % GOP, 0 | 1))
        .collect();
    assert_eq!(tags, expected, "the fast viewer got everything");
    assert_eq!(
        hub.lagged_skips(),
        0,
        "nothing counted until the slow viewer reads"
    );

    let slow_data = drain(&mut slow).await;
    assert_eq!(hub.lagged_skips(), 1, "one jump to the live edge");
    assert!(hub.skipped_chunks() > 0);
    assert_whole_packets(&slow_data);
    // It restarts cleanly: PAT, PMT, the latest keyframe, then live.
    let pkts: Vec<&[u8]> = slow_data.chunks(PACKET_LEN).collect();
    assert_eq!(mpegts::pid(pkts[0]), Some(PID_PAT));
    assert_eq!(mpegts::pid(pkts[1]), Some(PMT_PID));
    assert!(mpegts::is_keyframe_start(pkts[2]));
    assert!(fast_data.ends_with(&slow_data[2 * PACKET_LEN..]));

    // From then on it keeps up like anyone else.
    tx.unbounded_send(chunk(100)).unwrap();
    settle().await;
    assert_eq!(drain(&mut slow).await, chunk(100).to_vec());
    assert_eq!(drain(&mut fast).await, chunk(100).to_vec());
    assert_eq!(hub.lagged_skips(), 1);
}

#[tokio::test(start_paused = true)]
async fn upstream_lingers_after_last_viewer_then_closes() {
    let linger = Duration::from_secs(10);
    let hub = Hub::new(linger);
    let (tx, upstream) = fake_upstream();
    let a = hub.subscribe(KEY, || upstream);
    tx.unbounded_send(chunk(0)).unwrap();
    settle().await;
    drop(a);
    settle().await;
    assert_eq!(hub.viewers(KEY), 0);

    tokio::time::advance(Duration::from_secs(9)).await;
    settle().await;
    assert!(
        hub.is_open(KEY) && !tx.is_closed(),
        "still lingering for a zap back"
    );

    // A zap back inside the linger reuses the upstream.
    let b = hub.subscribe(KEY, || unreachable!("no second upstream"));
    assert_eq!(hub.upstreams_opened(), 1);
    tokio::time::advance(Duration::from_secs(2)).await; // past the first deadline
    settle().await;
    assert!(hub.is_open(KEY), "kept open while watched");

    drop(b);
    settle().await;
    tokio::time::advance(linger - Duration::from_millis(1)).await;
    settle().await;
    assert!(
        hub.is_open(KEY) && !tx.is_closed(),
        "just under the linger: open"
    );
    tokio::time::advance(Duration::from_millis(2)).await;
    settle().await;
    assert!(!hub.is_open(KEY), "past the linger: closed");
    assert!(tx.is_closed(), "upstream dropped");

    // The next viewer opens a fresh upstream.
    let (_tx2, upstream2) = fake_upstream();
    let _c = hub.subscribe(KEY, || upstream2);
    assert_eq!(hub.upstreams_opened(), 2);
}

#[tokio::test(start_paused = true)]
async fn viewers_end_when_the_upstream_ends() {
    let hub = Hub::new(Duration::from_secs(10));
    let (tx, upstream) = fake_upstream();
    let mut v = hub.subscribe(KEY, || upstream);
    tx.unbounded_send(chunk(0)).unwrap();
    drop(tx);
    let mut got = Vec::new();
    while let Some(b) = v.next().await {
        got.extend_from_slice(&b);
    }
    assert_eq!(got, chunk(0).to_vec());
    assert!(!hub.is_open(KEY));
}

#[tokio::test(start_paused = true)]
async fn works_with_a_paced_loop_clip() {
    let clip = crate::LoopClip::parse(crate::demo_clip()).unwrap();
    let hub = Hub::new(Duration::from_secs(1));
    let c = clip.clone();
    let mut early = hub.subscribe("demo", move || c.stream().boxed());
    let mut early_data = Vec::new();
    // Read about three seconds of the channel.
    while early_data.len() < 3 * clip.packet_count() * PACKET_LEN / 2 {
        early_data.extend_from_slice(&early.next().await.unwrap());
    }
    let mut late = hub.subscribe("demo", || unreachable!());
    let first = late.next().await.unwrap();
    assert_eq!(mpegts::pid(&first), Some(PID_PAT));
    assert_eq!(hub.upstreams_opened(), 1);
}

#[tokio::test(start_paused = true)]
async fn try_subscribe_shares_a_running_upstream_without_asking() {
    let hub = Hub::new(Duration::from_secs(10));
    // Opening fails (say, the source is at its cap): nothing is opened.
    let refused = hub.try_subscribe(KEY, || Err::<BoxStream<'static, Bytes>, _>("at capacity"));
    assert_eq!(refused.err(), Some("at capacity"));
    assert!(!hub.is_open(KEY));
    assert_eq!(hub.upstreams_opened(), 0);

    let (tx, upstream) = fake_upstream();
    let _a = hub.try_subscribe(KEY, || Ok::<_, ()>(upstream)).unwrap();
    let mut b = hub
        .try_subscribe(KEY, || -> Result<BoxStream<'static, Bytes>, ()> {
            unreachable!("a running upstream is shared without calling open")
        })
        .unwrap();
    assert_eq!(hub.upstreams_opened(), 1);
    tx.unbounded_send(chunk(0)).unwrap();
    settle().await;
    assert_eq!(drain(&mut b).await, chunk(0).to_vec());

    let info = hub.channels();
    assert_eq!(info.len(), 1);
    assert_eq!(info[0].key, KEY);
    assert_eq!(info[0].viewers, 2);
    assert_eq!(info[0].bytes_in, chunk(0).len() as u64);
    assert_eq!(hub.stats().snapshot().bytes_in, chunk(0).len() as u64);
}

#[tokio::test(start_paused = true)]
async fn a_viewer_too_many_bytes_behind_jumps_to_live() {
    let hub = Hub::with_config(HubConfig {
        viewer_backlog: 1024,
        max_lag_bytes: 20 * CHUNK * PACKET_LEN as u64,
        ..HubConfig::new(Duration::from_secs(10))
    });
    let (tx, upstream) = fake_upstream();
    let mut slow = hub.subscribe(KEY, || upstream);
    for i in 0..50 {
        tx.unbounded_send(chunk(i)).unwrap();
    }
    settle().await;
    // The ring still holds everything; the byte bound moves it anyway.
    let got = drain(&mut slow).await;
    assert_eq!(hub.lagged_skips(), 1);
    assert_whole_packets(&got);
    let pkts: Vec<&[u8]> = got.chunks(PACKET_LEN).collect();
    assert_eq!(mpegts::pid(pkts[0]), Some(PID_PAT));
    assert!(mpegts::is_keyframe_start(pkts[2]));
    assert!(
        got.len() < 20 * CHUNK as usize * PACKET_LEN,
        "{}",
        got.len()
    );
}

#[tokio::test(start_paused = true)]
async fn a_reader_that_keeps_stopping_is_disconnected_and_never_slows_others() {
    let hub = Hub::new(Duration::from_secs(10));
    let (tx, upstream) = fake_upstream();
    let mut slow = hub.subscribe(KEY, || upstream);
    let mut fast = hub.subscribe(KEY, || unreachable!());
    let mut fast_data = Vec::new();
    let mut sent = 0;
    // 5 s without reading, then one read: a jump to live, three times.
    for round in 1..=3 {
        for _ in 0..50 {
            tx.unbounded_send(chunk(sent)).unwrap();
            sent += 1;
            tokio::time::advance(Duration::from_millis(100)).await;
            settle().await;
            fast_data.extend(drain(&mut fast).await);
        }
        let got = tokio::task::unconstrained(slow.next()).now_or_never();
        if round < 3 {
            let first = got.flatten().expect("moved to the live edge, not ended");
            assert_eq!(mpegts::pid(&first), Some(PID_PAT), "restarts at PSI");
            assert_eq!(hub.lagged_skips(), round);
            drain(&mut slow).await;
        } else {
            assert_eq!(got, Some(None), "third strike in 30 s: disconnected");
        }
    }
    assert_eq!(hub.lagging_dropped(), 1);
    assert_eq!(hub.lagged_skips(), 2);
    assert_eq!(hub.viewers(KEY), 1, "the ended viewer let go of the ring");
    drop(slow);
    // The fast viewer got every packet, on time.
    let tags: Vec<u64> = fast_data.chunks(PACKET_LEN).filter_map(tag).collect();
    let expected: Vec<u64> = (0..sent * CHUNK)
        .filter(|n| !matches!(n % GOP, 0 | 1))
        .collect();
    assert_eq!(tags, expected);
}
