use super::*;
use crate::loop_source::{demo_clip, LoopClip};
use std::sync::atomic::AtomicBool;
use tvgate_formats::mpegts::{self, PACKET_LEN, PID_PAT};

/// The demo loop, paced; `dropped` is set when the segmenter lets go of it.
fn demo(dropped: &Arc<AtomicBool>) -> BoxStream<'static, Bytes> {
    struct Flag(Arc<AtomicBool>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let flag = Flag(Arc::clone(dropped));
    let clip = LoopClip::parse(demo_clip()).expect("demo clip");
    clip.stream()
        .map(move |b| {
            let _ = &flag;
            b
        })
        .boxed()
}

fn config() -> SegmenterConfig {
    SegmenterConfig {
        segment: Duration::from_secs(4),
        window: 3,
        idle: Duration::from_secs(20),
    }
}

async fn wait_segments(seg: &LiveSegments, n: u64) {
    let mut rx = seg.progress.subscribe();
    tokio::time::timeout(Duration::from_secs(120), rx.wait_for(|p| p.segments >= n))
        .await
        .expect("in time")
        .expect("running");
}

#[tokio::test(start_paused = true)]
async fn the_demo_loop_becomes_a_sliding_playlist_of_shared_segments() {
    let segs = Segmenters::new(config());
    let dropped = Arc::new(AtomicBool::new(false));
    let seg = segs
        .get_or_start("7", || Ok::<_, ()>(demo(&dropped)))
        .expect("started");
    assert!(seg.first_segment(Duration::from_secs(10)).await);
    let run_first = seg.playlist().expect("a playlist").0.media_sequence;
    let mut last_seq = run_first;
    for round in 1..=6u64 {
        wait_segments(&seg, round * 2).await;
        seg.touch();
        let (head, entries) = seg.playlist().expect("a playlist");
        assert_eq!(head.target_duration, 4);
        assert_eq!(head.media_sequence, entries[0].sequence);
        for w in entries.windows(2) {
            assert_eq!(w[1].sequence, w[0].sequence + 1);
        }
        assert!(head.media_sequence >= last_seq, "never goes back");
        last_seq = head.media_sequence;
        for e in &entries {
            // Each loop of the clip after the first starts discontinuous.
            let loop_start = e.duration_ms == 3_840;
            assert_eq!(
                e.discontinuity,
                loop_start && e.sequence != run_first,
                "{entries:?}"
            );
            let body = seg.segment(e.sequence).expect("listed, so kept");
            assert_eq!(mpegts::pid(&body[..PACKET_LEN]), Some(PID_PAT));
            // One copy for every viewer.
            let again = seg.segment(e.sequence).expect("kept");
            assert_eq!(body.as_ptr(), again.as_ptr());
        }
    }
    let (head, entries) = seg.playlist().expect("a playlist");
    assert!(head.media_sequence > run_first, "the window slid");
    let span: u64 = entries.iter().map(|e| e.duration_ms).sum();
    assert!(span >= 12_000, "three target durations listed: {span}");
    assert!(head.discontinuity_sequence > 0);
    assert!(seg.segment(run_first).is_none(), "long gone");
    assert!(segs.stats().segments >= 12);
    assert_eq!(segs.stats().running, 1);
    assert!(!dropped.load(Ordering::SeqCst));
}

#[tokio::test(start_paused = true)]
async fn requests_share_one_segmenter_which_stops_when_idle() {
    let segs = Segmenters::new(SegmenterConfig {
        idle: Duration::from_secs(6),
        ..config()
    });
    let dropped = Arc::new(AtomicBool::new(false));
    let a = segs
        .get_or_start("7", || Ok::<_, ()>(demo(&dropped)))
        .expect("started");
    let b = segs
        .get_or_start("7", || -> Result<_, ()> {
            panic!("must not open a second stream")
        })
        .expect("shared");
    assert_eq!(a.run(), b.run());
    assert!(a.first_segment(Duration::from_secs(10)).await);
    a.touch();
    // Asked for every few seconds: keeps running.
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_secs(4)).await;
        assert!(segs.get("7").is_some());
    }
    assert!(segs.is_running("7"));
    // Nobody asks: it stops after the idle window, letting the stream go.
    let stopped_seq = lock(&a.window).next_sequence();
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert!(!segs.is_running("7"));
    assert!(segs.get("7").is_none());
    assert!(!a.is_alive());
    assert!(dropped.load(Ordering::SeqCst), "the stream was dropped");
    assert_eq!(segs.stats().running, 0);

    // The next request starts a new run, numbered on from the last one.
    let dropped2 = Arc::new(AtomicBool::new(false));
    let c = segs
        .get_or_start("7", || Ok::<_, ()>(demo(&dropped2)))
        .expect("restarted");
    assert_ne!(c.run(), a.run());
    assert!(c.first_segment(Duration::from_secs(10)).await);
    let (head, entries) = c.playlist().expect("a playlist");
    assert!(head.media_sequence >= stopped_seq);
    assert!(
        entries[0].discontinuity,
        "a new run does not follow the old"
    );
    assert_eq!(segs.stats().started, 2);
}

#[tokio::test(start_paused = true)]
async fn a_stream_that_ends_ends_the_segmenter_and_a_refusal_starts_nothing() {
    let segs = Segmenters::new(config());
    let seg = segs
        .get_or_start("9", || {
            Ok::<_, ()>(futures::stream::iter(vec![Bytes::from(vec![0x47u8; 188])]).boxed())
        })
        .expect("started");
    assert!(!seg.first_segment(Duration::from_secs(10)).await);
    tokio::task::yield_now().await;
    assert!(!segs.is_running("9"));
    assert!(seg.playlist().is_none(), "never an empty playlist");
    let refused = segs.get_or_start("10", || Err::<BoxStream<'static, Bytes>, _>("at capacity"));
    assert_eq!(refused.unwrap_err(), "at capacity");
    assert!(!segs.is_running("10"));
    assert_eq!(segs.stats().started, 1);
}
