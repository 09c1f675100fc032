//! Frozen viewers (issue 14 item 1): a real player (ffmpeg) stopped with
//! SIGSTOP frees its slot within `viewer_stall` + 1 s, handed to a second
//! viewer of the line waiting in admission; a paused film keeps its slot;
//! a slow viewer that still reads is moved to the live edge and never
//! called frozen.

use crate::harness::{client, TestServer};
use crate::provider::{clip_rate, Provider};
use std::future::IntoFuture;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tvgate_core::catalog::SourceKind;

/// A player process, continued and killed however the test ends.
struct Player(Child);

impl Player {
    fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.0.id().to_string())
            .status()
            .expect("kill");
        assert!(status.success(), "kill -{sig}");
    }
}

impl Drop for Player {
    fn drop(&mut self) {
        self.signal("CONT");
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// ffmpeg reading `url` as a player does: as fast as it comes, nothing kept.
fn ffmpeg(url: &str) -> Player {
    let child = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-i", url])
        .args(["-map", "0", "-c", "copy", "-f", "null", "-"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ffmpeg is installed (tests/compat/install.sh)");
    Player(child)
}

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

fn frozen_count(metrics: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("tvgate_leases_ended_total{cause=\"frozen\"} "))
        .and_then(|v| v.parse().ok())
        .expect("the frozen cause is in /metrics")
}

async fn slots(srv: &TestServer, username: &str) -> u32 {
    let line = srv.gate.find_line(username).expect("line").id;
    srv.ledger
        .active(line, srv.clock.load(std::sync::atomic::Ordering::Relaxed))
        .await
}

/// Sends a GET over a plain socket and reads the head: the socket is the
/// viewer, read (or not) as the test pleases.
async fn raw_get(srv: &TestServer, path: &str, ua: &str) -> TcpStream {
    let mut s = TcpStream::connect(srv.addr).await.expect("connect");
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: {ua}\r\n\r\n",
        srv.addr
    );
    s.write_all(req.as_bytes()).await.expect("send");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = s.read(&mut byte).await.expect("head");
        assert_eq!(
            n,
            1,
            "the head ended early: {:?}",
            String::from_utf8_lossy(&head)
        );
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    s
}

/// Reads `n` bytes (body bytes: chunked framing counts too, which is close
/// enough for pacing).
async fn read_n(s: &mut TcpStream, n: usize) -> usize {
    let mut buf = vec![0u8; 64 << 10];
    let mut got = 0;
    while got < n {
        let want = (n - got).min(buf.len());
        match s.read(&mut buf[..want]).await {
            Ok(0) | Err(_) => break,
            Ok(k) => got += k,
        }
    }
    got
}

async fn live_server(provider: &Provider, stall: Duration, max: u32) -> TestServer {
    let srv = TestServer::start_with(|s| {
        s.viewer_stall = stall;
        s.admission_wait = Duration::from_secs(20);
    })
    .await;
    srv.add_line("frozen", "pw-frozen", |s| s.max_connections = max)
        .await;
    let m3u = format!("#EXTM3U\n#EXTINF:-1,Fast\n{}\n", provider.url(1));
    srv.add_source(SourceKind::M3u, "fast.m3u", &m3u).await;
    srv
}

#[tokio::test]
async fn a_player_stopped_with_sigstop_frees_its_slot_for_the_one_waiting() {
    // A 5.4 Mbit/s channel, as real ones are: the stopped player's own
    // receive buffer holds a fraction of a second of it.
    let provider = Provider::start_at(8.0).await;
    let stall = Duration::from_secs(1);
    let srv = live_server(&provider, stall, 2).await;
    let url = srv.url("/live/frozen/pw-frozen/1.ts");
    let player = ffmpeg(&url);
    // A second viewer on the line: both slots taken.
    let mut other = raw_get(&srv, "/live/frozen/pw-frozen/1.ts", "other").await;
    let reader = tokio::spawn(async move {
        let until = Instant::now() + Duration::from_secs(8);
        let mut got = 0;
        while Instant::now() < until {
            got += read_n(&mut other, 64 << 10).await;
        }
        (got, other)
    });
    let t0 = Instant::now();
    while slots(&srv, "frozen").await < 2 {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "ffmpeg never played"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Let the player run a while, then freeze it.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(frozen_count(&metrics(&srv).await), 0);
    player.signal("STOP");
    let stopped = Instant::now();
    // A third viewer waits in admission for a slot; the other keeps reading.
    let third = tokio::spawn({
        let url = url.clone();
        async move {
            let r = client()
                .get(&url)
                .header("user-agent", "third")
                .send()
                .await
                .expect("request");
            (r.status().as_u16(), stopped.elapsed(), r)
        }
    });
    let (status, waited, mut third) = tokio::time::timeout(Duration::from_secs(15), third)
        .await
        .expect("the waiting viewer got an answer")
        .expect("no panic");
    assert_eq!(status, 200, "the waiting viewer got the frozen one's slot");
    println!("SIGSTOP to the waiting viewer's admission: {waited:?} (viewer_stall {stall:?})");
    assert!(
        waited <= stall + Duration::from_secs(1),
        "slot freed {waited:?} after SIGSTOP, more than viewer_stall + 1 s"
    );
    assert!(third.chunk().await.expect("chunk").is_some());
    drop(third);
    let text = metrics(&srv).await;
    assert_eq!(frozen_count(&text), 1, "{text}");
    // The viewer that kept reading was never touched.
    let (got, _other) = reader.await.expect("reader");
    assert!(got > 1 << 20, "the reading viewer kept getting data: {got}");
    assert_eq!(frozen_count(&metrics(&srv).await), 1);
    drop(player);
}

#[tokio::test]
async fn a_slow_viewer_that_still_reads_is_moved_to_the_live_edge_not_frozen() {
    let provider = Provider::start_at(16.0).await;
    let srv = live_server(&provider, Duration::from_secs(2), 1).await;
    let rate = clip_rate(&tvgate_relay::demo_clip()) * 16.0;
    let mut slow = raw_get(&srv, "/live/frozen/pw-frozen/1.ts", "slow").await;
    // Half the channel's bitrate, in 50 ms steps, for 12 s.
    let step = Duration::from_millis(50);
    let per_step = (rate / 2.0 * step.as_secs_f64()) as usize;
    let start = Instant::now();
    let mut got = 0;
    while start.elapsed() < Duration::from_secs(12) {
        let t = Instant::now();
        let n = read_n(&mut slow, per_step).await;
        assert_eq!(n, per_step, "the slow viewer's stream ended");
        got += n;
        if let Some(rest) = step.checked_sub(t.elapsed()) {
            tokio::time::sleep(rest).await;
        }
    }
    assert!(got > 0);
    let text = metrics(&srv).await;
    assert_eq!(frozen_count(&text), 0, "{text}");
    let skips = text
        .lines()
        .find_map(|l| l.strip_prefix("tvgate_viewer_lag_skips_total "))
        .and_then(|v| v.parse::<u64>().ok())
        .expect("lag skips");
    assert!(skips >= 1, "moved to the live edge: {text}");
    assert_eq!(slots(&srv, "frozen").await, 1, "still watching");
}

/// A provider of one big film, for the pause test.
async fn film_provider() -> (String, tokio_util::sync::CancellationToken) {
    let film = bytes::Bytes::from(vec![0x47u8; 32 << 20]);
    let app = axum::Router::new().route(
        "/film.mp4",
        axum::routing::get(move || {
            let film = film.clone();
            async move { film }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let stop = tokio_util::sync::CancellationToken::new();
    tokio::spawn(
        axum::serve(listener, app)
            .with_graceful_shutdown(stop.clone().cancelled_owned())
            .into_future(),
    );
    (format!("http://{addr}/film.mp4"), stop)
}

#[tokio::test]
async fn a_paused_film_keeps_its_slot() {
    let (film, stop) = film_provider().await;
    let srv = TestServer::start_with(|s| {
        s.viewer_stall = Duration::from_secs(1);
        s.lease_ttl_secs = 3;
    })
    .await;
    srv.add_line("frozen", "pw-frozen", |s| s.max_connections = 1)
        .await;
    let m3u = format!("#EXTM3U\n#EXTINF:-1 tvg-type=\"movie\",A Film\n{film}\n");
    srv.add_source(SourceKind::M3u, "film.m3u", &m3u).await;
    let mut viewer = raw_get(&srv, "/movie/frozen/pw-frozen/1.mp4", "tv").await;
    assert_eq!(read_n(&mut viewer, 1 << 20).await, 1 << 20);
    // Paused for longer than a live viewer may stall, and (by the clock the
    // ledger reads) longer than a lease lives unrenewed.
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        srv.clock.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    assert_eq!(
        slots(&srv, "frozen").await,
        1,
        "the paused film keeps its slot"
    );
    assert_eq!(frozen_count(&metrics(&srv).await), 0);
    // Play resumes: the rest of the film comes.
    let rest = read_n(&mut viewer, 8 << 20).await;
    assert_eq!(rest, 8 << 20, "the film goes on after the pause");
    assert_eq!(slots(&srv, "frozen").await, 1);
    drop(viewer);
    stop.cancel();
}
