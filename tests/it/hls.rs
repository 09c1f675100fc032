//! HLS upstreams (issue 3): the playlist is proxied with tokenized URIs and
//! no credentials, segments are relayed and shared, HLS slots live on an
//! idle window, and an HLS-only channel reads as one TS stream.
//!
//! The upstream is a fake on 127.0.0.1:0: a live sliding window of segments
//! cut from assets/demo.ts, under a path that looks like a provider's
//! credentials so a leak would show.

use crate::harness::*;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::StreamExt;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tvgate_core::catalog::SourceKind;
use tvgate_core::ids::LineId;
use tvgate_relay::hls_source::{hls_to_ts, HlsToTsConfig};

const PROVIDER_PATH: &str = "/prov/secretuser/secretpass";
const PACKET: usize = 188;

/// A live HLS upstream: a window of three segments starting at `first`,
/// segment `n` being part `n % 4` of the demo clip.
struct Upstream {
    addr: SocketAddr,
    parts: Vec<Bytes>,
    shared: Arc<Shared>,
    stop: CancellationToken,
}

struct Shared {
    parts: Vec<Bytes>,
    first: AtomicU64,
    ended: AtomicBool,
    /// Milliseconds every segment answer waits.
    segment_delay_ms: AtomicU64,
    /// Extra bytes after each segment (a torn packet).
    torn_tail: AtomicBool,
    requests: Mutex<HashMap<String, u32>>,
}

impl Upstream {
    async fn start() -> Upstream {
        let clip = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/demo.ts"))
            .expect("assets/demo.ts");
        let packets = clip.len() / PACKET;
        let per = packets.div_ceil(4);
        let parts: Vec<Bytes> = (0..4)
            .map(|i| {
                let from = (i * per * PACKET).min(packets * PACKET);
                let to = ((i + 1) * per * PACKET).min(packets * PACKET);
                Bytes::copy_from_slice(&clip[from..to])
            })
            .collect();
        let shared = Arc::new(Shared {
            parts: parts.clone(),
            first: AtomicU64::new(0),
            ended: AtomicBool::new(false),
            segment_delay_ms: AtomicU64::new(0),
            torn_tail: AtomicBool::new(false),
            requests: Mutex::new(HashMap::new()),
        });
        let app = axum::Router::new()
            .route("/prov/{u}/{p}/{file}", axum::routing::get(serve))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let stop = CancellationToken::new();
        let s = stop.clone();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move { s.cancelled().await })
                .await
        });
        Upstream {
            addr,
            parts,
            shared,
            stop,
        }
    }

    fn url(&self, file: &str) -> String {
        format!("http://{}{PROVIDER_PATH}/{file}", self.addr)
    }

    fn requests(&self, file: &str) -> u32 {
        let map = self.shared.requests.lock().expect("lock");
        map.get(file).copied().unwrap_or(0)
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn serve(
    State(up): State<Arc<Shared>>,
    Path((u, p, file)): Path<(String, String, String)>,
) -> Response {
    if (u.as_str(), p.as_str()) != ("secretuser", "secretpass") {
        return StatusCode::FORBIDDEN.into_response();
    }
    *up.requests
        .lock()
        .expect("lock")
        .entry(file.clone())
        .or_default() += 1;
    let first = up.first.load(Ordering::SeqCst);
    match file.as_str() {
        "master.m3u8" => (
            [("content-type", "application/vnd.apple.mpegurl")],
            "#EXTM3U\r\n#EXT-X-STREAM-INF:BANDWIDTH=100000\r\nchan.m3u8?v=low\r\n\
             #EXT-X-STREAM-INF:BANDWIDTH=900000,RESOLUTION=640x360\r\nchan.m3u8\r\n",
        )
            .into_response(),
        "chan.m3u8" => {
            let mut text = format!(
                "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:{first}\n"
            );
            for n in first..first + 3 {
                text.push_str(&format!("#EXTINF:2.0,\nseg{n}.ts\n"));
            }
            if up.ended.load(Ordering::SeqCst) {
                text.push_str("#EXT-X-ENDLIST\n");
            }
            ([("content-type", "application/vnd.apple.mpegurl")], text).into_response()
        }
        seg => {
            let Some(n) = seg
                .strip_prefix("seg")
                .and_then(|s| s.strip_suffix(".ts"))
                .and_then(|n| n.parse::<u64>().ok())
            else {
                return StatusCode::NOT_FOUND.into_response();
            };
            let delay = up.segment_delay_ms.load(Ordering::SeqCst);
            if delay > 0 {
                tokio::time::sleep(Duration::from_millis(delay)).await;
            }
            let mut body = up.parts[(n % 4) as usize].to_vec();
            if up.torn_tail.load(Ordering::SeqCst) {
                body.extend_from_slice(&[0x47; 100]);
            }
            ([("content-type", "video/mp2t")], body).into_response()
        }
    }
}

/// A server whose only channel is the upstream's HLS playlist; returns the
/// channel's stream id.
async fn server_with_hls(
    up: &Upstream,
    file: &str,
    tweak: impl FnOnce(&mut tvgate_http::HttpSettings),
) -> (TestServer, u64) {
    let srv = TestServer::start_with(|h| {
        h.admission_wait = Duration::from_millis(200);
        tweak(h);
    })
    .await;
    srv.add_line("hana", "pw-hls-1", |s| s.max_connections = 1)
        .await;
    srv.add_line("otto", "pw-hls-2", |_| {}).await;
    let m3u = format!(
        "#EXTM3U\n#EXTINF:-1 group-title=\"News\",HLS News\n{}\n",
        up.url(file)
    );
    srv.add_source(SourceKind::M3u, "hls.m3u", &m3u).await;
    let live = get_json(
        &srv.url("/player_api.php?username=hana&password=pw-hls-1&action=get_live_streams"),
    )
    .await;
    let id = live[0]["stream_id"].as_u64().expect("stream id");
    (srv, id)
}

fn client_from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(ip.parse::<IpAddr>().expect("ip"))
        .build()
        .expect("client")
}

async fn playlist(srv: &TestServer, c: &reqwest::Client, path: &str, ua: &str) -> (u16, String) {
    let r = c
        .get(srv.url(path))
        .header("user-agent", ua)
        .send()
        .await
        .expect("request");
    (r.status().as_u16(), r.text().await.expect("body"))
}

/// The URI lines of a playlist.
fn uris(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

async fn holders(srv: &TestServer, line: i64) -> Vec<tvgate_core::ledger::Lease> {
    srv.ledger
        .holders(LineId(line), srv.clock.load(Ordering::Relaxed))
        .await
}

async fn fetch(c: &reqwest::Client, url: &str) -> (u16, Bytes) {
    let r = c.get(url).send().await.expect("request");
    (r.status().as_u16(), r.bytes().await.expect("body"))
}

#[tokio::test]
async fn the_proxied_playlist_hides_credentials_and_its_segments_are_the_upstreams() {
    let up = Upstream::start().await;
    let (srv, id) = server_with_hls(&up, "chan.m3u8", |_| {}).await;
    let c = client_from("127.0.0.1");
    let (status, text) = playlist(&srv, &c, &format!("/live/hana/pw-hls-1/{id}.m3u8"), "TV").await;
    assert_eq!(status, 200, "{text}");
    assert!(text.starts_with("#EXTM3U\n"), "{text}");
    assert!(text.contains("#EXT-X-TARGETDURATION:2"), "{text}");
    for secret in ["secretuser", "secretpass", "pw-hls-1", "hana", "/prov/"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    assert!(
        !text.contains(&up.addr.to_string()),
        "upstream host leaked: {text}"
    );
    let segs = uris(&text);
    assert_eq!(segs.len(), 3, "{text}");
    for (i, u) in segs.iter().enumerate() {
        assert!(
            u.starts_with(&srv.url("/hls/")) && u.ends_with(".ts"),
            "{u}"
        );
        let (status, body) = fetch(&c, u).await;
        assert_eq!(status, 200);
        assert_eq!(body, up.parts[i], "segment {i} is the upstream's bytes");
    }
    // The short form `/USER/PASS/ID.m3u8` is the same face.
    let (status, _) = playlist(&srv, &c, &format!("/hana/pw-hls-1/{id}.m3u8"), "TV").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn tampered_expired_and_foreign_tokens_get_the_same_403() {
    let up = Upstream::start().await;
    let (srv, id) = server_with_hls(&up, "chan.m3u8", |h| h.hls_token_ttl_secs = 120).await;
    let c = client_from("127.0.0.1");
    let (_, text) = playlist(&srv, &c, &format!("/live/hana/pw-hls-1/{id}.m3u8"), "TV").await;
    let seg = uris(&text).remove(0);
    let (prefix, rest) = seg.split_at(srv.url("/hls/").len());
    let (token, file) = rest.split_once('/').expect("token/file");
    let mut bad = Vec::new();
    for i in [0, token.len() / 2, token.len() - 2] {
        let mut t = token.to_string().into_bytes();
        t[i] = if t[i] == b'A' { b'B' } else { b'A' };
        bad.push(format!(
            "{prefix}{}/{file}",
            String::from_utf8(t).expect("ascii")
        ));
    }
    bad.push(format!("{prefix}not-a-token/{file}"));
    bad.push(format!("{prefix}{}/{file}", "A".repeat(4000)));
    let mut answers = Vec::new();
    for u in &bad {
        let (status, body) = fetch(&c, u).await;
        assert_eq!(status, 403, "{u}");
        answers.push(body);
    }
    // Expired: a little after its time-to-live.
    srv.clock.fetch_add(121, Ordering::Relaxed);
    let (status, body) = fetch(&c, &seg).await;
    assert_eq!(status, 403);
    answers.push(body);
    assert!(
        answers.windows(2).all(|w| w[0] == w[1]),
        "every bad token gets the same answer: {answers:?}"
    );
    assert_eq!(up.requests("seg0.ts"), 0, "nothing reached the upstream");
}

#[tokio::test]
async fn two_viewers_asking_for_one_segment_cause_one_upstream_fetch() {
    let up = Upstream::start().await;
    let (srv, id) = server_with_hls(&up, "chan.m3u8", |_| {}).await;
    up.shared.segment_delay_ms.store(400, Ordering::SeqCst);
    let c = client_from("127.0.0.1");
    let (_, a) = playlist(&srv, &c, &format!("/live/hana/pw-hls-1/{id}.m3u8"), "TV").await;
    let (_, b) = playlist(&srv, &c, &format!("/live/otto/pw-hls-2/{id}.m3u8"), "Box").await;
    let (a, b) = (uris(&a).remove(1), uris(&b).remove(1));
    assert_ne!(a, b, "each viewer has its own token");
    let (ra, rb) = tokio::join!(fetch(&c, &a), fetch(&c, &b));
    assert_eq!((ra.0, rb.0), (200, 200));
    assert_eq!(ra.1, up.parts[1]);
    assert_eq!(rb.1, up.parts[1]);
    assert_eq!(up.requests("seg1.ts"), 1, "one upstream fetch for both");
    // A later viewer is served from memory.
    let (status, body) = fetch(&c, &a).await;
    assert_eq!((status, body), (200, up.parts[1].clone()));
    assert_eq!(up.requests("seg1.ts"), 1);
}

#[tokio::test]
async fn an_hls_slot_is_held_while_used_and_ends_after_the_idle_window() {
    let up = Upstream::start().await;
    let (srv, id) = server_with_hls(&up, "chan.m3u8", |_| {}).await;
    let tv = client_from("127.0.0.1");
    let path = format!("/live/hana/pw-hls-1/{id}.m3u8");
    let (status, text) = playlist(&srv, &tv, &path, "TV").await;
    assert_eq!(status, 200);
    let leases = holders(&srv, 1).await;
    assert_eq!(leases.len(), 1, "{leases:?}");
    assert_eq!(leases[0].kind, tvgate_core::ledger::LeaseKind::Hls);
    // Target duration 2 s: the window is the 6 s floor.
    assert_eq!(leases[0].expires, NOW + 6);

    // Reloading the playlist from the same TV resumes the same slot.
    srv.clock.fetch_add(4, Ordering::Relaxed);
    let (status, _) = playlist(&srv, &tv, &path, "TV").await;
    assert_eq!(status, 200);
    let again = holders(&srv, 1).await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].id, leases[0].id, "same lease, not a second slot");
    assert_eq!(again[0].expires, NOW + 4 + 6);
    let v = get_json(&srv.url("/player_api.php?username=hana&password=pw-hls-1")).await;
    assert_eq!(v["user_info"]["active_cons"], "1");

    // Another address on this one-slot line is refused, naming the TV.
    let phone = client_from("127.0.0.2");
    let (status, body) = playlist(&srv, &phone, &path, "Phone").await;
    assert_eq!(status, 403, "{body}");
    assert!(body.starts_with("connection_limit:"), "{body}");
    assert!(body.contains("TV"), "{body}");

    // A segment request renews the slot too.
    srv.clock.fetch_add(5, Ordering::Relaxed);
    let (status, _) = fetch(&tv, &uris(&text)[0]).await;
    assert_eq!(status, 200);
    assert_eq!(holders(&srv, 1).await.len(), 1);

    // Nobody asks for anything for longer than the window: the slot is free.
    srv.clock.fetch_add(7, Ordering::Relaxed);
    assert!(holders(&srv, 1).await.is_empty());
    let v = get_json(&srv.url("/player_api.php?username=hana&password=pw-hls-1")).await;
    assert_eq!(v["user_info"]["active_cons"], "0");
    let (status, body) = fetch(&tv, &uris(&text)[1]).await;
    assert_eq!(status, 410, "{body:?}");
    let (status, body) = playlist(&srv, &phone, &path, "Phone").await;
    assert_eq!(status, 200, "the freed slot is taken: {body}");
}

#[tokio::test]
async fn a_master_playlist_is_rewritten_and_its_variants_are_served_through_tokens() {
    let up = Upstream::start().await;
    let (srv, id) = server_with_hls(&up, "master.m3u8", |_| {}).await;
    let c = client_from("127.0.0.1");
    let (status, master) =
        playlist(&srv, &c, &format!("/live/hana/pw-hls-1/{id}.m3u8"), "TV").await;
    assert_eq!(status, 200, "{master}");
    assert!(master.contains("RESOLUTION=640x360"), "{master}");
    let variants = uris(&master);
    assert_eq!(variants.len(), 2);
    assert!(
        !master.contains("secret") && !master.contains("chan.m3u8"),
        "{master}"
    );
    let (status, media) = fetch(&c, &variants[1]).await;
    assert_eq!(status, 200);
    let media = String::from_utf8(media.to_vec()).expect("utf-8");
    assert!(!media.contains("secret"), "{media}");
    let (status, body) = fetch(&c, &uris(&media)[0]).await;
    assert_eq!((status, body), (200, up.parts[0].clone()));
    assert_eq!(holders(&srv, 1).await.len(), 1, "one viewer, one slot");
}

async fn next(ts: &mut futures::stream::BoxStream<'static, Bytes>) -> Option<Bytes> {
    tokio::time::timeout(Duration::from_secs(10), ts.next())
        .await
        .expect("a chunk in time")
}

#[tokio::test]
async fn hls_to_ts_yields_every_segment_once_in_order_as_whole_packets() {
    let up = Upstream::start().await;
    up.shared.torn_tail.store(true, Ordering::SeqCst);
    let cfg = HlsToTsConfig {
        idle_timeout: Duration::from_secs(10),
        ..HlsToTsConfig::default()
    };
    let mut ts = hls_to_ts(client(), up.url("master.m3u8"), cfg);
    for part in &up.parts[..3] {
        let chunk = next(&mut ts).await.expect("a segment");
        assert_eq!(chunk.len() % PACKET, 0, "whole packets only");
        assert_eq!(&chunk, part, "the torn tail is dropped");
    }
    // The window slides by one: only the new segment comes.
    up.shared.first.store(1, Ordering::SeqCst);
    let chunk = next(&mut ts).await.expect("the new segment");
    assert_eq!(chunk, up.parts[3]);
    assert_eq!(up.requests("seg1.ts"), 1, "each segment is fetched once");
    assert_eq!(up.requests("seg3.ts"), 1);
    // The upstream ends the stream.
    up.shared.ended.store(true, Ordering::SeqCst);
    assert!(next(&mut ts).await.is_none());
    assert!(up.requests("chan.m3u8") >= 2);
}

#[tokio::test]
async fn ffprobe_reads_the_proxied_playlist() {
    if std::process::Command::new("ffprobe")
        .arg("-version")
        .output()
        .is_err()
    {
        eprintln!("ffprobe is not installed: skipped");
        return;
    }
    let up = Upstream::start().await;
    up.shared.ended.store(true, Ordering::SeqCst);
    let (srv, id) = server_with_hls(&up, "master.m3u8", |_| {}).await;
    let url = srv.url(&format!("/live/hana/pw-hls-1/{id}.m3u8"));
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-rw_timeout",
                "10000000",
                "-show_entries",
                "stream=codec_type",
                "-of",
                "csv=p=0",
                &url,
            ])
            .output()
    })
    .await
    .expect("join")
    .expect("ffprobe runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "ffprobe failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("video"), "{stdout}");
}

#[tokio::test]
async fn a_line_disabled_mid_session_is_stopped_at_its_next_segment() {
    let up = Upstream::start().await;
    let (srv, id) = server_with_hls(&up, "master.m3u8", |_| {}).await;
    let c = client_from("127.0.0.1");
    let (_, master) = playlist(&srv, &c, &format!("/live/hana/pw-hls-1/{id}.m3u8"), "TV").await;
    let variant = uris(&master).remove(1);
    let (status, _) = fetch(&c, &variant).await;
    assert_eq!(status, 200);
    srv.gate
        .update_line(
            "hana",
            tvgate_core::access::LinePatch {
                status: Some(tvgate_core::access::Status::Disabled),
                ..Default::default()
            },
        )
        .await
        .expect("disable");
    let r = c.get(&variant).send().await.expect("request");
    assert_eq!(r.status(), 403);
    assert_eq!(
        r.headers()
            .get("x-tvgate-reason")
            .and_then(|v| v.to_str().ok()),
        Some("disabled")
    );
}

#[tokio::test]
async fn an_hls_channel_asked_for_as_ts_is_one_shared_continuous_stream() {
    let up = Upstream::start().await;
    let (srv, id) = server_with_hls(&up, "chan.m3u8", |_| {}).await;
    let open = |user: &'static str, pass: &'static str| {
        let url = srv.url(&format!("/live/{user}/{pass}/{id}.ts"));
        async move {
            let r = client().get(url).send().await.expect("request");
            assert_eq!(r.status(), 200);
            assert_eq!(r.headers()["content-type"], "video/mp2t");
            r
        }
    };
    let mut a = open("hana", "pw-hls-1").await;
    let mut b = open("otto", "pw-hls-2").await;
    let mut got = Vec::new();
    while got.len() < up.parts[0].len() {
        let chunk = tokio::time::timeout(Duration::from_secs(5), a.chunk())
            .await
            .expect("data in time")
            .expect("no error")
            .expect("not ended");
        got.extend_from_slice(&chunk);
    }
    assert!(got.chunks(PACKET).all(|p| p[0] == 0x47), "whole packets");
    let first_b = tokio::time::timeout(Duration::from_secs(5), b.chunk())
        .await
        .expect("data in time")
        .expect("no error")
        .expect("not ended");
    assert_eq!(first_b[0], 0x47);
    // Two viewers, one poller: each segment was fetched once.
    assert_eq!(up.requests("seg0.ts"), 1);
    assert_eq!(srv.hub.upstreams_opened(), 1);
}
