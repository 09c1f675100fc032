//! HTTP upstream failover against a scripted, misbehaving upstream server
//! on 127.0.0.1: refused connections, 503s, stalls, HTML pages, bodies that
//! die mid-packet. Real sockets, so real (short) timeouts, not paused time.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tvgate_formats::mpegts::{self, PACKET_LEN, SYNC_BYTE};
use tvgate_relay::{demo_clip, http_ts, Hub, RelayStats, SourceCaps, UpstreamConfig};

/// What the fake upstream does on one connection.
#[derive(Clone)]
enum Reply {
    /// This status with a short text body.
    Status(u16),
    /// 200, these bytes, then close the connection.
    Close(Bytes),
    /// 200, these bytes, then keep the connection open and silent.
    Hang(Bytes),
    /// 200, these bytes in `piece`-sized writes `gap` apart, then hang.
    Trickle(Bytes, usize, Duration),
}

/// A scripted upstream; stops (with all its connections) when dropped.
struct FakeUpstream {
    url: String,
    hits: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeUpstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeUpstream {
    /// Connection `n` (from 0) gets `script(n)`.
    async fn start(script: impl Fn(usize) -> Reply + Send + Sync + 'static) -> FakeUpstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://user:secret@{}/live/user/secret/1.ts",
            listener.local_addr().unwrap()
        );
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&hits);
        let task = tokio::spawn(async move {
            // Dropping the set (when the server task is aborted) aborts
            // every connection, hanging ones included.
            let mut conns = JoinSet::new();
            while let Ok((sock, _)) = listener.accept().await {
                let reply = script(counter.fetch_add(1, Ordering::SeqCst));
                conns.spawn(answer(sock, reply));
            }
        });
        FakeUpstream { url, hits, task }
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

async fn answer(mut sock: TcpStream, reply: Reply) {
    let mut req = Vec::new();
    let mut buf = [0u8; 1024];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
        match sock.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => req.extend_from_slice(&buf[..n]),
        }
    }
    let ok = "HTTP/1.1 200 OK\r\nContent-Type: video/mp2t\r\nConnection: close\r\n\r\n";
    let _ = match reply {
        Reply::Status(code) => {
            let head = format!(
                "HTTP/1.1 {code} Nope\r\nContent-Length: 4\r\nConnection: close\r\n\r\nnope"
            );
            sock.write_all(head.as_bytes()).await
        }
        Reply::Close(body) => {
            let _ = sock.write_all(ok.as_bytes()).await;
            sock.write_all(&body).await
        }
        Reply::Hang(body) => {
            let _ = sock.write_all(ok.as_bytes()).await;
            let _ = sock.write_all(&body).await;
            std::future::pending().await
        }
        Reply::Trickle(body, piece, gap) => {
            let _ = sock.write_all(ok.as_bytes()).await;
            for p in body.chunks(piece) {
                if sock.write_all(p).await.is_err() {
                    return;
                }
                tokio::time::sleep(gap).await;
            }
            std::future::pending().await
        }
    };
    let _ = sock.shutdown().await;
}

/// A URL nothing listens on.
async fn refused_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/x.ts", listener.local_addr().unwrap());
    drop(listener);
    url
}

fn fast_cfg() -> UpstreamConfig {
    UpstreamConfig {
        connect_timeout: Duration::from_secs(2),
        stall_timeout: Duration::from_millis(300),
        give_up_after: Duration::from_secs(5),
        backoff_min: Duration::from_millis(10),
        backoff_max: Duration::from_millis(50),
        ..UpstreamConfig::default()
    }
}

fn upstream(
    urls: Vec<String>,
    cfg: UpstreamConfig,
) -> (BoxStream<'static, Bytes>, Arc<RelayStats>) {
    let stats = Arc::new(RelayStats::new());
    let s = http_ts(reqwest::Client::new(), urls, cfg, Arc::clone(&stats), None);
    (s, stats)
}

/// Reads at least `want` bytes (or to the end), checking that every chunk
/// is whole, aligned packets.
async fn read(stream: &mut BoxStream<'static, Bytes>, want: usize) -> (Vec<u8>, Vec<usize>) {
    let mut out = Vec::new();
    let mut sizes = Vec::new();
    let read = async {
        while out.len() < want {
            let Some(chunk) = stream.next().await else {
                break;
            };
            assert!(!chunk.is_empty());
            assert_eq!(chunk.len() % PACKET_LEN, 0, "whole packets only");
            assert!(chunk.len() <= UpstreamConfig::default().chunk_bytes);
            assert!(
                chunk.chunks(PACKET_LEN).all(|p| p[0] == SYNC_BYTE),
                "every packet starts with 0x47"
            );
            sizes.push(chunk.len());
            out.extend_from_slice(&chunk);
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("upstream delivered in time");
    (out, sizes)
}

/// `data` as the upstream sent it: the packets the relay inserted to carry
/// a discontinuity_indicator removed, and the indicator cleared.
fn unmarked(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for pkt in data.chunks(PACKET_LEN) {
        let inserted = mpegts::discontinuity_indicator(pkt)
            && !mpegts::has_payload(pkt)
            && mpegts::adaptation_field(pkt).is_some_and(|af| af.len() == PACKET_LEN - 5);
        if inserted {
            continue;
        }
        let mut p = pkt.to_vec();
        if mpegts::discontinuity_indicator(&p) {
            p[5] &= !0x80;
        }
        out.extend_from_slice(&p);
    }
    out
}

/// Every PID in `data` (null packets aside) is flagged the first time it
/// appears.
fn first_of_each_pid_is_flagged(data: &[u8]) {
    let mut seen = HashSet::new();
    for pkt in data.chunks(PACKET_LEN) {
        let pid = mpegts::pid(pkt).unwrap();
        if pid != mpegts::PID_NULL && seen.insert(pid) {
            assert!(
                mpegts::discontinuity_indicator(pkt),
                "first packet of pid {pid} after the switch is flagged"
            );
        }
    }
    assert!(seen.len() >= 3, "PAT, PMT, video, audio");
}

#[tokio::test]
async fn fails_over_when_the_primary_refuses_or_answers_503() {
    let clip = demo_clip();
    let backup = {
        let c = clip.clone();
        FakeUpstream::start(move |_| Reply::Hang(c.clone())).await
    };
    let unavailable = FakeUpstream::start(|_| Reply::Status(503)).await;
    for primary in [refused_url().await, unavailable.url.clone()] {
        let (mut s, stats) = upstream(vec![primary, backup.url.clone()], fast_cfg());
        let (got, _) = read(&mut s, clip.len()).await;
        // Nothing came before, so nothing needs a discontinuity mark.
        assert_eq!(&got[..clip.len()], &clip[..]);
        let st = stats.snapshot();
        assert_eq!((st.upstream_failures, st.upstream_switches), (1, 1));
        assert_eq!(st.upstream_connects, 1);
    }
    assert_eq!(unavailable.hits(), 1);
}

#[tokio::test]
async fn fails_over_when_the_primary_stalls() {
    let clip = demo_clip();
    let head = clip.slice(..100 * PACKET_LEN);
    let primary = FakeUpstream::start(move |_| Reply::Hang(head.clone())).await;
    let c = clip.clone();
    let backup = FakeUpstream::start(move |_| Reply::Hang(c.clone())).await;
    let cfg = fast_cfg();
    let (mut s, stats) = upstream(vec![primary.url.clone(), backup.url.clone()], cfg);
    let started = Instant::now();
    let (got, _) = read(&mut s, 100 * PACKET_LEN + clip.len()).await;
    assert!(started.elapsed() >= cfg.stall_timeout);
    assert_eq!(&got[..100 * PACKET_LEN], &clip[..100 * PACKET_LEN]);
    let after = &got[100 * PACKET_LEN..];
    first_of_each_pid_is_flagged(after);
    assert!(unmarked(after).starts_with(&clip[..clip.len() - 8 * PACKET_LEN]));
    assert_eq!(stats.snapshot().upstream_switches, 1);
}

#[tokio::test]
async fn fails_over_when_the_primary_serves_junk() {
    let clip = demo_clip();
    let c = clip.clone();
    let backup = FakeUpstream::start(move |_| Reply::Hang(c.clone())).await;
    let html = Bytes::from_static(b"<!DOCTYPE html><html><body>Line expired</body></html>");
    let noise = Bytes::from(vec![0u8; 100 << 10]);
    for junk in [html, noise] {
        let n = junk.len() as u64;
        let primary = FakeUpstream::start(move |_| Reply::Hang(junk.clone())).await;
        let (mut s, stats) = upstream(vec![primary.url.clone(), backup.url.clone()], fast_cfg());
        let (got, _) = read(&mut s, clip.len()).await;
        assert_eq!(&got[..clip.len()], &clip[..]);
        let st = stats.snapshot();
        assert_eq!(st.upstream_switches, 1);
        assert!(st.junk_bytes_skipped > 0 && st.junk_bytes_skipped <= n);
    }
}

#[tokio::test]
async fn a_body_dying_mid_packet_never_tears_a_packet() {
    let clip = demo_clip();
    // Ten and a half packets, then the connection closes.
    let torn = clip.slice(..10 * PACKET_LEN + PACKET_LEN / 2);
    let primary = FakeUpstream::start(move |_| Reply::Close(torn.clone())).await;
    let c = clip.clone();
    let backup = FakeUpstream::start(move |_| Reply::Hang(c.clone())).await;
    let (mut s, stats) = upstream(vec![primary.url.clone(), backup.url.clone()], fast_cfg());
    let (got, _) = read(&mut s, 10 * PACKET_LEN + clip.len()).await;
    // `read` checked alignment of every chunk; the packets are A's whole
    // ones, then B's from its start: the half packet is gone.
    assert_eq!(&got[..10 * PACKET_LEN], &clip[..10 * PACKET_LEN]);
    let after = &got[10 * PACKET_LEN..];
    first_of_each_pid_is_flagged(after);
    assert!(unmarked(after).starts_with(&clip[..clip.len() - 8 * PACKET_LEN]));
    let st = stats.snapshot();
    assert_eq!(
        st.junk_bytes_skipped,
        PACKET_LEN as u64 / 2,
        "the half packet"
    );
    assert_eq!(st.upstream_switches, 1);
}

#[tokio::test]
async fn a_lone_url_that_ends_is_reconnected_with_clean_seams() {
    let clip = demo_clip();
    let c = clip.clone();
    let only = FakeUpstream::start(move |_| Reply::Close(c.clone())).await;
    let (mut s, stats) = upstream(vec![only.url.clone()], fast_cfg());
    let (got, _) = read(&mut s, 2 * clip.len() + PACKET_LEN).await;
    assert_eq!(&got[..clip.len()], &clip[..]);
    first_of_each_pid_is_flagged(&got[clip.len()..]);
    let st = stats.snapshot();
    assert!(st.upstream_reconnects >= 1);
    assert_eq!(st.upstream_switches, 0, "the same URL again is no switch");
    assert!(only.hits() >= 2);
}

#[tokio::test]
async fn gives_up_after_give_up_after_without_good_data() {
    let cfg = UpstreamConfig {
        give_up_after: Duration::from_millis(600),
        ..fast_cfg()
    };
    let unavailable = FakeUpstream::start(|_| Reply::Status(503)).await;
    let (mut s, stats) = upstream(vec![refused_url().await, unavailable.url.clone()], cfg);
    let started = Instant::now();
    let end = tokio::time::timeout(Duration::from_secs(5), s.next()).await;
    assert_eq!(end.ok(), Some(None), "the stream ends");
    let took = started.elapsed();
    assert!(took >= cfg.give_up_after, "{took:?}");
    assert!(
        took < cfg.give_up_after + Duration::from_millis(500),
        "{took:?}"
    );
    let st = stats.snapshot();
    assert_eq!(st.upstream_gave_up, 1);
    // Backoff 10, 20, 40, 50, 50 ... ms: a handful of tries, not hundreds.
    assert!((5..40).contains(&st.upstream_reconnects), "{st:?}");
    assert!(unavailable.hits() >= 2, "both URLs were cycled through");
}

#[tokio::test]
async fn small_writes_are_coalesced_into_big_chunks() {
    let clip = demo_clip();
    let body = clip.slice(..1500 * PACKET_LEN);
    let piece = 7 * PACKET_LEN;
    let trickle =
        FakeUpstream::start(move |_| Reply::Trickle(body.clone(), piece, Duration::from_millis(1)))
            .await;
    let cfg = fast_cfg();
    let (mut s, _) = upstream(vec![trickle.url.clone()], cfg);
    let (got, sizes) = read(&mut s, 1500 * PACKET_LEN).await;
    assert_eq!(got, clip[..1500 * PACKET_LEN].to_vec());
    let mut sorted = sizes.clone();
    sorted.sort_unstable();
    let median = sorted[sorted.len() / 2];
    assert!(median >= 4 * piece, "median chunk {median} B: {sizes:?}");
    assert!(sizes.iter().all(|&n| n <= cfg.chunk_bytes), "{sizes:?}");
}

#[tokio::test]
async fn the_source_permit_lives_as_long_as_the_upstream() {
    let clip = demo_clip();
    let c = clip.clone();
    let server = FakeUpstream::start(move |_| Reply::Hang(c.clone())).await;
    let hub = Hub::new(Duration::from_millis(100));
    let caps = SourceCaps::new();
    const SOURCE: u64 = 42;
    let open = |opens: &AtomicUsize| {
        opens.fetch_add(1, Ordering::SeqCst);
        let permit = caps.try_acquire(SOURCE, 1).ok_or("source at capacity")?;
        Ok::<_, &str>(http_ts(
            reqwest::Client::new(),
            vec![server.url.clone()],
            fast_cfg(),
            hub.stats(),
            Some(permit),
        ))
    };
    let opens = AtomicUsize::new(0);
    let mut a = hub.try_subscribe("ch-a", || open(&opens)).unwrap();
    assert_eq!(caps.open(SOURCE), 1);
    // Same channel: shared, `open` not called, no second slot.
    let b = hub.try_subscribe("ch-a", || open(&opens)).unwrap();
    assert_eq!(opens.load(Ordering::SeqCst), 1);
    // Another channel of the same source: over the cap.
    let refused = hub.try_subscribe("ch-b", || open(&opens));
    assert_eq!(refused.err(), Some("source at capacity"));
    assert!(!hub.is_open("ch-b"));

    let first = tokio::time::timeout(Duration::from_secs(5), a.next())
        .await
        .unwrap()
        .unwrap();
    // A cold joiner starts at the clip's first PAT (pid 0, unit start).
    let pat = clip
        .chunks(188)
        .position(|p| p[1] & 0x5f == 0x40 && p[2] == 0)
        .expect("the clip has a PAT")
        * 188;
    assert_eq!(&first[..], &clip[pat..pat + first.len()]);
    assert!(hub.stats().snapshot().bytes_in > 0);

    drop((a, b));
    // Held through the linger, released when the upstream stops.
    assert_eq!(caps.open(SOURCE), 1);
    let released = async {
        while caps.open(SOURCE) != 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(2), released)
        .await
        .expect("permit released after the linger");
    assert!(!hub.is_open("ch-a"));
    assert!(hub.try_subscribe("ch-b", || open(&opens)).is_ok());
}

#[tokio::test]
async fn a_task_that_panics_holding_a_permit_releases_it() {
    let caps = SourceCaps::new();
    let permit = caps.try_acquire(9, 1).unwrap();
    assert!(caps.try_acquire(9, 1).is_none());
    let task = tokio::spawn(async move {
        let _held = permit;
        tokio::task::yield_now().await;
        panic!("the upstream task died");
    });
    assert!(task.await.unwrap_err().is_panic());
    assert_eq!(caps.open(9), 0);
    assert!(caps.try_acquire(9, 1).is_some());
}
