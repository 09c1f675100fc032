//! Live HLS cut by tvgate (issue 16 item 1): a channel relayed as MPEG-TS,
//! or a built-in loop, asked for as `/live/U/P/ID.m3u8` is a live media
//! playlist whose segments are cut here at keyframes, shared by every HLS
//! viewer, reached through signed links, with the slot of proxied HLS.
//!
//! Segments of 1 s and a window of 3 keep the tests short: the demo clip
//! has a keyframe every 1.28 s, so segments last 1.28 s, and it loops every
//! 6.42 s, a seam each time.

use crate::harness::*;
use crate::provider::Provider;
use bytes::Bytes;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use tvgate_core::catalog::SourceKind;
use tvgate_core::ids::LineId;
use tvgate_formats::mpegts;

const PACKET: usize = 188;
/// Channel 1: the built-in demo loop.
const LOOP: u32 = 1;
/// Channel 2: the provider's MPEG-TS channel over HTTP.
const RELAYED: u32 = 2;

/// A server with the two channels, line `hana` (one connection) and line
/// `otto`, segments of 1 s and a window of 3.
async fn server(
    extra: &[String],
    tweak: impl FnOnce(&mut tvgate_http::HttpSettings),
) -> (TestServer, Provider) {
    let provider = Provider::start().await;
    let srv = TestServer::start_with(|h| {
        h.hls_segment_secs = 1;
        h.hls_window_segments = 3;
        h.admission_wait = Duration::from_millis(200);
        h.relay_linger = Duration::from_millis(200);
        tweak(h);
    })
    .await;
    srv.add_line("hana", "pw-live-1", |s| s.max_connections = 1)
        .await;
    srv.add_line("otto", "pw-live-2", |s| s.max_connections = 0)
        .await;
    let mut m3u = format!(
        "#EXTM3U\n#EXTINF:-1 group-title=\"Demo\",Loop\nloop:demo?hls\n\
         #EXTINF:-1 group-title=\"Relay\",Relayed\n{}\n",
        provider.url(1)
    );
    for (i, url) in extra.iter().enumerate() {
        m3u.push_str(&format!(
            "#EXTINF:-1 group-title=\"Other\",Extra {i}\n{url}\n"
        ));
    }
    let (_, report) = srv.add_source(SourceKind::M3u, "live.m3u", &m3u).await;
    assert!(report.diagnostics.is_empty(), "{:?}", report.diagnostics);
    (srv, provider)
}

fn client_from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(ip.parse::<IpAddr>().expect("ip"))
        .build()
        .expect("client")
}

/// One listed segment.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    sequence: u64,
    duration: f64,
    discontinuity: bool,
    /// `#EXT-X-PROGRAM-DATE-TIME`, Unix milliseconds.
    date_ms: i64,
    uri: String,
}

/// A live media playlist as a strict reader sees it.
#[derive(Debug, Clone)]
struct Live {
    target: u64,
    media_sequence: u64,
    discontinuity_sequence: u64,
    ended: bool,
    entries: Vec<Entry>,
}

fn unix_ms(date: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(date)
        .unwrap_or_else(|e| panic!("bad date {date:?}: {e}"))
        .timestamp_millis()
}

/// Parses `text`, asserting the rules every live playlist must keep on
/// its own (RFC 8216 §4.3.3 and §6.2.1).
fn parse(text: &str) -> Live {
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("#EXTM3U"), "{text}");
    let (mut target, mut media_sequence, mut discontinuity_sequence) = (None, None, 0);
    let mut ended = false;
    let mut entries = Vec::new();
    let (mut duration, mut discontinuity, mut date) = (None, false, None);
    for line in lines {
        if let Some(v) = line.strip_prefix("#EXT-X-TARGETDURATION:") {
            target = Some(v.parse::<u64>().expect("integer target duration"));
        } else if let Some(v) = line.strip_prefix("#EXT-X-MEDIA-SEQUENCE:") {
            media_sequence = Some(v.parse::<u64>().expect("media sequence"));
        } else if let Some(v) = line.strip_prefix("#EXT-X-DISCONTINUITY-SEQUENCE:") {
            discontinuity_sequence = v.parse().expect("discontinuity sequence");
        } else if line == "#EXT-X-DISCONTINUITY" {
            discontinuity = true;
        } else if let Some(v) = line.strip_prefix("#EXT-X-PROGRAM-DATE-TIME:") {
            date = Some(unix_ms(v));
        } else if let Some(v) = line.strip_prefix("#EXTINF:") {
            let d = v.split(',').next().expect("duration");
            duration = Some(d.parse::<f64>().expect("decimal duration"));
        } else if line == "#EXT-X-ENDLIST" {
            ended = true;
        } else if !line.starts_with('#') && !line.is_empty() {
            let first = media_sequence.expect("media sequence before the first segment");
            entries.push(Entry {
                sequence: first + entries.len() as u64,
                duration: duration.take().expect("EXTINF before each URI"),
                discontinuity: std::mem::take(&mut discontinuity),
                date_ms: date.take().expect("a program date time for each segment"),
                uri: line.to_string(),
            });
        }
    }
    let live = Live {
        target: target.expect("EXT-X-TARGETDURATION"),
        media_sequence: media_sequence.expect("EXT-X-MEDIA-SEQUENCE"),
        discontinuity_sequence,
        ended,
        entries,
    };
    assert!(!live.ended, "a live playlist has no end");
    assert!(!live.entries.is_empty(), "never an empty playlist");
    for e in &live.entries {
        assert!(
            (e.duration + 0.5).floor() as u64 <= live.target,
            "segment {} lasts {} s, over the target {}",
            e.sequence,
            e.duration,
            live.target
        );
        assert!(e.duration > 0.0);
    }
    for w in live.entries.windows(2) {
        if !w[1].discontinuity {
            let gap = w[1].date_ms - w[0].date_ms;
            let want = (w[0].duration * 1000.0).round() as i64;
            assert!(
                (gap - want).abs() <= 1,
                "dates follow the media: {gap} ms after a {want} ms segment"
            );
        }
    }
    live
}

async fn get_playlist(c: &reqwest::Client, url: &str) -> Live {
    let r = c.get(url).send().await.expect("request");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/vnd.apple.mpegurl");
    let text = r.text().await.expect("text");
    assert!(!text.contains("pw-live"), "no password in the playlist");
    assert!(
        !text.contains("/hana/") && !text.contains("/otto/"),
        "{text}"
    );
    parse(&text)
}

async fn fetch(c: &reqwest::Client, url: &str) -> (u16, Bytes) {
    let r = c.get(url).send().await.expect("request");
    (r.status().as_u16(), r.bytes().await.expect("body"))
}

async fn metric(srv: &TestServer, name: &str) -> u64 {
    let text = get(&srv.url("/metrics")).await.1;
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics"))
}

/// Asserts that a segment starts with the PAT, the PMT and then a keyframe
/// of the video; returns the video's PID.
fn assert_starts_right(seg: &[u8]) {
    assert!(seg.len() >= 3 * PACKET && seg.len() % PACKET == 0);
    let packets: Vec<&[u8]> = seg.chunks(PACKET).collect();
    assert!(packets.iter().all(|p| p[0] == 0x47), "whole packets");
    assert_eq!(
        mpegts::pid(packets[0]),
        Some(mpegts::PID_PAT),
        "the PAT first"
    );
    let pmt = mpegts::pat_pmt_pid(packets[0]).expect("a PAT naming the PMT");
    assert_eq!(mpegts::pid(packets[1]), Some(pmt), "then the PMT");
    let map = mpegts::pmt(packets[1]).expect("a readable PMT");
    let video = map.video.expect("a video stream");
    let first_media = packets[2..]
        .iter()
        .find(|p| !matches!(mpegts::pid(p), Some(pid) if pid == mpegts::PID_PAT || pid == pmt))
        .expect("media");
    assert_eq!(mpegts::pid(first_media), Some(video.pid), "video first");
    assert!(
        mpegts::starts_keyframe(first_media, video.stream_type),
        "the video starts with a keyframe"
    );
}

fn ffprobe_missing() -> bool {
    let missing = std::process::Command::new("ffprobe")
        .arg("-version")
        .output()
        .is_err();
    if missing {
        eprintln!("ffprobe is not installed: skipped");
    }
    missing
}

/// `ffprobe`'s view of the first video frame of a file: `1` for a keyframe.
async fn first_frame_is_key(seg: Bytes) -> String {
    tokio::task::spawn_blocking(move || {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("seg.ts");
        std::fs::write(&path, &seg).expect("write");
        let out = std::process::Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-select_streams",
                "v:0",
                "-read_intervals",
                "%+#1",
            ])
            .args(["-show_entries", "frame=key_frame", "-of", "csv=p=0"])
            .arg(&path)
            .output()
            .expect("ffprobe runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        // `1,` when the frame carries side data.
        text.trim().split(',').next().unwrap_or("").to_string()
    })
    .await
    .expect("join")
}

#[tokio::test]
async fn the_live_playlist_keeps_the_rules_of_rfc_8216_over_reloads() {
    let (srv, _provider) = server(&[], |_| {}).await;
    // The server's clock runs with the wall clock here, as in production:
    // a listed segment's URI must still never change between reloads
    // (hls.js stops on "media sequence mismatch" when it does).
    let wall = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
    };
    srv.clock
        .store(wall(), std::sync::atomic::Ordering::Relaxed);
    let c = client_from("127.0.0.1");
    let url = srv.url(&format!("/live/hana/pw-live-1/{LOOP}.m3u8"));
    let first = get_playlist(&c, &url).await;
    let hls_base = format!("http://{}/hls/", srv.addr);
    let mut seen: std::collections::BTreeMap<u64, Entry> = Default::default();
    let mut prev = first.clone();
    let mut discontinuities = 0;
    let started = Instant::now();
    // 14 s of reloads: two seams of the loop, the window sliding all along.
    while started.elapsed() < Duration::from_secs(14) {
        tokio::time::sleep(Duration::from_millis(400)).await;
        srv.clock
            .store(wall(), std::sync::atomic::Ordering::Relaxed);
        let now = get_playlist(&c, &url).await;
        assert!(now.media_sequence >= prev.media_sequence, "never back");
        assert!(now.target >= prev.target, "the target never shrinks");
        assert_eq!(now.target, 1, "1.28 s segments round to 1 s");
        // Segments leave from the front only, one sequence number each,
        // and the discontinuities that left are counted.
        let left: Vec<&Entry> = prev
            .entries
            .iter()
            .filter(|e| e.sequence < now.media_sequence)
            .collect();
        let gone_discontinuities = left.iter().filter(|e| e.discontinuity).count() as u64;
        if now.media_sequence <= prev.entries.last().map_or(0, |e| e.sequence) + 1 {
            assert_eq!(
                now.discontinuity_sequence,
                prev.discontinuity_sequence + gone_discontinuities,
                "{prev:?} then {now:?}"
            );
        }
        let span: f64 = now.entries.iter().map(|e| e.duration).sum();
        if now.entries.len() >= 3 {
            assert!(span >= 3.0 * now.target as f64, "three targets listed");
        }
        for e in &now.entries {
            match seen.get(&e.sequence) {
                // A segment once listed never changes, its URI included.
                Some(old) => assert_eq!(old, e),
                None => {
                    discontinuities += u64::from(e.discontinuity);
                    seen.insert(e.sequence, e.clone());
                }
            }
            // A signed link: /hls/TOKEN/SEQUENCE.ts on this server.
            let (dir, file) = e.uri.rsplit_once('/').expect("a path");
            assert_eq!(file, format!("{}.ts", e.sequence));
            let token = dir.strip_prefix(&hls_base).expect("on this server");
            assert!(
                !token.is_empty()
                    && token
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
                "{}",
                e.uri
            );
        }
        prev = now;
    }
    assert!(
        prev.media_sequence >= first.media_sequence + 6,
        "the window slid: {first:?} {prev:?}"
    );
    assert!(discontinuities >= 1, "the loop's seams are marked");
    // Sequence numbers are contiguous over the whole run.
    let numbers: Vec<u64> = seen.keys().copied().collect();
    assert!(numbers.windows(2).all(|w| w[1] == w[0] + 1), "{numbers:?}");

    // A segment long gone, one not cut yet and a bad name: 404 at once.
    let base = prev.entries[0]
        .uri
        .rsplit_once('/')
        .expect("path")
        .0
        .to_string();
    for file in [
        format!("{}.ts", first.entries[0].sequence),
        format!("{}.ts", prev.media_sequence - 40),
        format!("{}.ts", prev.media_sequence + 50),
        "x.ts".to_string(),
        "12".to_string(),
    ] {
        let t = Instant::now();
        let (status, body) = fetch(&c, &format!("{base}/{file}")).await;
        assert_eq!(status, 404, "{file}: {body:?}");
        assert!(t.elapsed() < Duration::from_millis(500));
    }
    // The listed ones are served.
    let (status, _) = fetch(&c, &prev.entries[0].uri).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn segments_start_with_pat_pmt_and_a_keyframe_and_players_read_them() {
    let (srv, _provider) = server(&[], |_| {}).await;
    let c = client_from("127.0.0.1");
    for (user, pass, id) in [("hana", "pw-live-1", LOOP), ("otto", "pw-live-2", RELAYED)] {
        let url = srv.url(&format!("/live/{user}/{pass}/{id}.m3u8"));
        // Wait for a few segments, a seam among them for the loop.
        let mut live = get_playlist(&c, &url).await;
        let until = Instant::now() + Duration::from_secs(10);
        while live.entries.len() < 3 && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(300)).await;
            live = get_playlist(&c, &url).await;
        }
        assert!(live.entries.len() >= 3, "{live:?}");
        for e in &live.entries {
            let r = c.get(&e.uri).send().await.expect("request");
            assert_eq!(r.status(), 200, "{}", e.uri);
            assert_eq!(r.headers()["content-type"], "video/mp2t");
            let seg = r.bytes().await.expect("body");
            assert_starts_right(&seg);
            if !ffprobe_missing() {
                assert_eq!(first_frame_is_key(seg).await, "1", "segment {}", e.sequence);
            }
        }
        if ffprobe_missing() {
            continue;
        }
        // ffprobe reads the playlist itself as HLS (as a second viewer:
        // hana has one slot).
        let url = srv.url(&format!("/live/otto/pw-live-2/{id}.m3u8"));
        let out = tokio::task::spawn_blocking(move || {
            std::process::Command::new("ffprobe")
                .args(["-v", "error", "-rw_timeout", "10000000"])
                .args(["-show_entries", "stream=codec_type", "-of", "csv=p=0"])
                .arg(&url)
                .output()
                .expect("ffprobe runs")
        })
        .await
        .expect("join");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains("video") && stdout.contains("audio"),
            "{stdout}"
        );
    }
}

#[tokio::test]
async fn two_viewers_share_one_upstream_one_segmenter_and_the_same_bytes() {
    let (srv, provider) = server(&[], |_| {}).await;
    let a = client_from("127.0.0.1");
    let b = client_from("127.0.0.2");
    let url_a = srv.url(&format!("/live/hana/pw-live-1/{RELAYED}.m3u8"));
    let url_b = srv.url(&format!("/live/otto/pw-live-2/{RELAYED}.m3u8"));
    let (pa, pb) = tokio::join!(get_playlist(&a, &url_a), get_playlist(&b, &url_b));
    // And a viewer of the same channel as plain TS.
    let mut ts = client()
        .get(srv.url(&format!("/live/otto/pw-live-2/{RELAYED}.ts")))
        .send()
        .await
        .expect("ts");
    assert_eq!(ts.status(), 200);
    let first = ts.chunk().await.expect("chunk").expect("bytes");
    assert_eq!(first[0], 0x47);
    let seq = pa.entries[0].sequence.max(pb.entries[0].sequence);
    let uri = |p: &Live| {
        p.entries
            .iter()
            .find(|e| e.sequence == seq)
            .map(|e| e.uri.clone())
            .expect("listed by both")
    };
    let (ua, ub) = (uri(&pa), uri(&pb));
    assert_ne!(ua, ub, "each viewer has links of its own");
    let ((sa, ba), (sb, bb)) = tokio::join!(fetch(&a, &ua), fetch(&b, &ub));
    assert_eq!((sa, sb), (200, 200));
    assert_eq!(ba, bb, "the same segment");
    assert_eq!(provider.requests(), 1, "one upstream connection for all");
    assert_eq!(srv.hub.upstreams_opened(), 1);
    assert_eq!(metric(&srv, "tvgate_hls_segmenters").await, 1);
    assert_eq!(metric(&srv, "tvgate_hls_segmenters_started_total").await, 1);
    // Both HLS viewers hold a slot of their line.
    for line in [1, 2] {
        let leases = srv
            .ledger
            .holders(LineId(line), srv.clock.load(Ordering::Relaxed))
            .await;
        assert!(
            leases
                .iter()
                .any(|l| l.kind == tvgate_core::ledger::LeaseKind::Hls),
            "line {line}: {leases:?}"
        );
    }
}

#[tokio::test]
async fn the_slot_is_resumed_on_reload_freed_after_the_idle_window_and_the_segmenter_stops() {
    let (srv, provider) = server(&[], |h| h.hls_idle_window_secs = 3).await;
    let tv = client_from("127.0.0.1");
    let phone = client_from("127.0.0.2");
    let path = format!("/live/hana/pw-live-1/{RELAYED}.m3u8");
    let holders = || async {
        srv.ledger
            .holders(LineId(1), srv.clock.load(Ordering::Relaxed))
            .await
    };
    let first = get_playlist(&tv, &srv.url(&path)).await;
    let leases = holders().await;
    assert_eq!(leases.len(), 1, "{leases:?}");
    assert_eq!(leases[0].kind, tvgate_core::ledger::LeaseKind::Hls);
    assert_eq!(leases[0].expires, NOW + 3);
    // A reload from the same TV resumes the slot.
    srv.clock.fetch_add(2, Ordering::Relaxed);
    get_playlist(&tv, &srv.url(&path)).await;
    let again = holders().await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].id, leases[0].id, "the same lease");
    // Another address on this one-slot line is refused.
    let r = phone.get(srv.url(&path)).send().await.expect("request");
    assert_eq!(r.status(), 403);
    let body = r.text().await.expect("body");
    assert!(body.starts_with("connection_limit:"), "{body}");
    // A segment request renews the slot.
    srv.clock.fetch_add(2, Ordering::Relaxed);
    let (status, _) = fetch(&tv, &first.entries[0].uri).await;
    assert_eq!(status, 200);
    assert_eq!(holders().await[0].expires, NOW + 4 + 3);
    // Nothing asked for longer than the window: the slot is free, the old
    // links are refused, and the phone gets the channel.
    srv.clock.fetch_add(4, Ordering::Relaxed);
    assert!(holders().await.is_empty());
    let (status, _) = fetch(&tv, &first.entries[0].uri).await;
    assert_eq!(status, 410);
    get_playlist(&phone, &srv.url(&path)).await;
    // Nobody asks for 3 s of real time: the segmenter stops and lets the
    // upstream go.
    let until = Instant::now() + Duration::from_secs(10);
    while metric(&srv, "tvgate_hls_segmenters").await > 0 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(metric(&srv, "tvgate_hls_segmenters").await, 0);
    while srv.hub.is_open(&RELAYED.to_string()) && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        !srv.hub.is_open(&RELAYED.to_string()),
        "the upstream closed"
    );
    let until = Instant::now() + Duration::from_secs(3);
    while provider.open() > 0 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(provider.open(), 0);
    // The next request starts a new run, numbered on; links of the last
    // run get 404.
    let phone_links = get_playlist(&phone, &srv.url(&path)).await;
    assert!(phone_links.media_sequence > first.media_sequence);
    assert!(phone_links.entries[0].discontinuity, "a new run");
    assert_eq!(metric(&srv, "tvgate_hls_segmenters_started_total").await, 2);
}

/// A TS source sending `clip` at once and then only null packets, keeping
/// the connection open.
struct Burst {
    addr: SocketAddr,
    stop: CancellationToken,
    requests: Arc<AtomicU64>,
}

impl Burst {
    async fn start(clip: Bytes) -> Burst {
        let requests = Arc::new(AtomicU64::new(0));
        let counted = requests.clone();
        let app = axum::Router::new().route(
            "/live/burst.ts",
            axum::routing::get(move || {
                let clip = clip.clone();
                counted.fetch_add(1, Ordering::Relaxed);
                async move {
                    let mut null = vec![0xFFu8; PACKET];
                    null[..4].copy_from_slice(&[0x47, 0x1F, 0xFF, 0x10]);
                    let null = Bytes::from(null);
                    let first = futures::stream::iter([Ok::<_, std::io::Error>(clip)]);
                    let rest = futures::stream::unfold(null, |null| async move {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        Some((Ok(null.clone()), null))
                    });
                    use futures::StreamExt;
                    (
                        [("content-type", "video/mp2t")],
                        axum::body::Body::from_stream(first.chain(rest)),
                    )
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let stop = CancellationToken::new();
        let s = stop.clone();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(s.cancelled_owned())
                .await
        });
        Burst {
            addr,
            stop,
            requests,
        }
    }
}

impl Drop for Burst {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// 20 s of H.264 whose only keyframe is its first frame.
fn no_keyframes_clip() -> Option<Bytes> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("nokey.ts");
    let out = std::process::Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=160x120:rate=25",
        ])
        .args(["-t", "20", "-c:v", "libx264", "-preset", "ultrafast"])
        .args([
            "-g",
            "100000",
            "-keyint_min",
            "100000",
            "-sc_threshold",
            "0",
            "-bf",
            "0",
        ])
        .args(["-f", "mpegts"])
        .arg(&path)
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!("ffmpeg: {}", String::from_utf8_lossy(&out.stderr));
        return None;
    }
    std::fs::read(&path).ok().map(Bytes::from)
}

#[tokio::test]
async fn a_source_without_keyframes_is_cut_at_three_segment_durations() {
    let Some(clip) = tokio::task::spawn_blocking(no_keyframes_clip)
        .await
        .expect("join")
    else {
        eprintln!("ffmpeg with libx264 is not installed: skipped");
        return;
    };
    let burst = Burst::start(clip).await;
    let url = format!("http://{}/live/burst.ts", burst.addr);
    let (srv, _provider) = server(&[url], |_| {}).await;
    let c = client_from("127.0.0.1");
    let url = srv.url("/live/otto/pw-live-2/3.m3u8");
    // The whole clip arrives at once: the segments follow one another.
    let mut live = get_playlist(&c, &url).await;
    let until = Instant::now() + Duration::from_secs(5);
    while live.entries.len() < 3 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(100)).await;
        live = get_playlist(&c, &url).await;
    }
    // Cut at the longest allowed duration, 3 s, which becomes the target.
    assert_eq!(live.target, 3, "{live:?}");
    assert!(live.entries.len() >= 3, "{live:?}");
    for e in &live.entries {
        assert!((e.duration - 3.0).abs() < 0.05, "{live:?}");
        let (status, seg) = fetch(&c, &e.uri).await;
        assert_eq!(status, 200);
        assert_eq!(mpegts::pid(&seg[..PACKET]), Some(mpegts::PID_PAT));
    }
    assert!(metric(&srv, "tvgate_hls_segments_forced_total").await >= 3);
    assert_eq!(burst.requests.load(Ordering::Relaxed), 1);
}
