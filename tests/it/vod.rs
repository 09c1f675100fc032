//! Movies and episodes from an HTTP source are proxied so seeking works:
//! HEAD stays HEAD, byte ranges come back as 206 with the right bytes, and
//! the viewer's connection slot lasts exactly as long as the download.
//! A small axum server on 127.0.0.1 plays the provider.

use crate::harness::*;
use axum::body::Body;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::Response;
use axum::routing::any;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use tvgate_core::catalog::SourceKind;

const FILM_LEN: usize = 1 << 20;
const ETAG: &str = "\"film-v1\"";

fn film() -> Vec<u8> {
    (0..FILM_LEN).map(|i| (i * 7 % 251) as u8).collect()
}

/// Requests the provider saw, by method.
#[derive(Default)]
struct Seen {
    get: AtomicUsize,
    head: AtomicUsize,
}

/// The provider: `/film.mp4` with ranges and validators, `/redirect` to it,
/// `/endless` (a body that never ends), `/gone` (404).
struct Provider {
    port: u16,
    seen: Arc<Seen>,
    stop: CancellationToken,
}

impl Drop for Provider {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn provider() -> Provider {
    let seen = Arc::new(Seen::default());
    let data = Arc::new(film());
    let s = seen.clone();
    let film_route = any(move |method: Method, headers: HeaderMap| {
        let seen = s.clone();
        let data = data.clone();
        async move {
            match method {
                Method::HEAD => seen.head.fetch_add(1, Ordering::Relaxed),
                _ => seen.get.fetch_add(1, Ordering::Relaxed),
            };
            serve_film(&method, &headers, &data)
        }
    });
    let app = axum::Router::new()
        .route("/film.mp4", film_route)
        .route(
            "/redirect",
            any(|| async {
                Response::builder()
                    .status(StatusCode::FOUND)
                    .header(header::LOCATION, "/film.mp4")
                    .body(Body::empty())
                    .expect("response")
            }),
        )
        .route(
            "/endless",
            any(|| async {
                let chunk = bytes::Bytes::from(vec![0x47u8; 16 * 1024]);
                let body = futures::stream::unfold(chunk, |chunk| async move {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    Some((Ok::<_, std::io::Error>(chunk.clone()), chunk))
                });
                Response::builder()
                    .header(header::CONTENT_TYPE, "video/mp4")
                    .body(Body::from_stream(body))
                    .expect("response")
            }),
        )
        .route("/gone", any(|| async { StatusCode::NOT_FOUND }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let stop = CancellationToken::new();
    let token = stop.clone();
    tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move { token.cancelled().await })
            .await
    });
    Provider { port, seen, stop }
}

fn serve_film(method: &Method, headers: &HeaderMap, data: &[u8]) -> Response {
    let len = data.len();
    let base = || {
        Response::builder()
            .header(header::ACCEPT_RANGES, "bytes")
            .header(header::ETAG, ETAG)
            .header(header::LAST_MODIFIED, "Sat, 01 Nov 2025 10:00:00 GMT")
            .header(header::CONTENT_TYPE, "video/mp4")
    };
    if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == ETAG.as_bytes())
    {
        return base()
            .status(StatusCode::NOT_MODIFIED)
            .body(Body::empty())
            .expect("response");
    }
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("bytes="))
        .and_then(|v| v.split_once('-'));
    let (status, start, end) = match range {
        None => (StatusCode::OK, 0, len - 1),
        Some((a, b)) => {
            let start: usize = a.parse().unwrap_or(0);
            if start >= len {
                return base()
                    .status(StatusCode::RANGE_NOT_SATISFIABLE)
                    .header(header::CONTENT_RANGE, format!("bytes */{len}"))
                    .body(Body::from("range not satisfiable"))
                    .expect("response");
            }
            let end = b.parse().unwrap_or(len - 1).min(len - 1);
            (StatusCode::PARTIAL_CONTENT, start, end)
        }
    };
    let mut r = base()
        .status(status)
        .header(header::CONTENT_LENGTH, end + 1 - start);
    if status == StatusCode::PARTIAL_CONTENT {
        r = r.header(header::CONTENT_RANGE, format!("bytes {start}-{end}/{len}"));
    }
    let body = if *method == Method::HEAD {
        Body::empty()
    } else {
        Body::from(data[start..=end].to_vec())
    };
    r.body(body).expect("response")
}

/// A port nothing listens on.
async fn dead_port() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    l.local_addr().expect("addr").port()
}

/// A server with line `vera` (one connection) and movies from `p`, by name.
async fn server(p: &Provider) -> (TestServer, std::collections::HashMap<String, u64>) {
    let srv = TestServer::start_with(|h| h.admission_wait = Duration::from_millis(200)).await;
    srv.add_line("vera", "pw-v", |s| s.max_connections = 1)
        .await;
    let dead = dead_port().await;
    let base = format!("http://127.0.0.1:{}", p.port);
    let m3u = format!(
        "#EXTM3U\n\
         #EXTINF:-1 tvg-type=\"movie\" group-title=\"Films\",Film (2021)\n{base}/film.mp4\n\
         #EXTINF:-1 tvg-type=\"movie\" group-title=\"Films\",Moved (2021)\n{base}/redirect\n\
         #EXTINF:-1 tvg-type=\"movie\" group-title=\"Films\",Endless (2021)\n{base}/endless\n\
         #EXTINF:-1 tvg-type=\"movie\" group-title=\"Films\",Gone (2021)\n{base}/gone\n\
         #EXTINF:-1 tvg-type=\"movie\" group-title=\"Films\",Down (2021)\nhttp://127.0.0.1:{dead}/film.mp4\n\
         #EXTINF:-1 group-title=\"Shows\",Remote Show S01E01\n{base}/film.mp4\n"
    );
    srv.add_source(SourceKind::M3u, "vod.m3u", &m3u).await;
    let mut ids = std::collections::HashMap::new();
    let vod =
        get_json(&srv.url("/player_api.php?username=vera&password=pw-v&action=get_vod_streams"))
            .await;
    for m in vod.as_array().expect("movies") {
        let name = m["name"].as_str().expect("name");
        let key = name.split(" (").next().unwrap_or(name).to_string();
        ids.insert(key, m["stream_id"].as_u64().expect("id"));
    }
    let series =
        get_json(&srv.url("/player_api.php?username=vera&password=pw-v&action=get_series")).await;
    let sid = series[0]["series_id"].as_u64().expect("series id");
    let info = get_json(&srv.url(&format!(
        "/player_api.php?username=vera&password=pw-v&action=get_series_info&series_id={sid}"
    )))
    .await;
    let episode = &info["episodes"]["1"][0]["id"];
    let episode = episode
        .as_u64()
        .or_else(|| episode.as_str().and_then(|s| s.parse().ok()))
        .expect("episode id");
    ids.insert("episode".to_string(), episode);
    (srv, ids)
}

fn movie_url(srv: &TestServer, id: u64) -> String {
    srv.url(&format!("/movie/vera/pw-v/{id}.mp4"))
}

async fn holders(srv: &TestServer) -> usize {
    let line = srv.gate.find_line("vera").expect("line").id;
    srv.ledger.holders(line, NOW).await.len()
}

async fn wait_until_free(srv: &TestServer) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while holders(srv).await != 0 {
        assert!(Instant::now() < deadline, "the slot was never freed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_full_get_relays_the_file_and_its_headers() {
    let p = provider().await;
    let (srv, ids) = server(&p).await;
    let r = client()
        .get(movie_url(&srv, ids["Film"]))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
    let h = r.headers().clone();
    assert_eq!(h[header::CONTENT_TYPE], "video/mp4");
    assert_eq!(h[header::CONTENT_LENGTH], FILM_LEN.to_string().as_str());
    assert_eq!(h[header::ACCEPT_RANGES], "bytes");
    assert_eq!(h[header::ETAG], ETAG);
    assert_eq!(h[header::LAST_MODIFIED], "Sat, 01 Nov 2025 10:00:00 GMT");
    let body = r.bytes().await.expect("body");
    assert!(body[..] == film()[..], "the bytes are the file's");
    wait_until_free(&srv).await;
    let metrics = get(&srv.url("/metrics")).await.1;
    assert!(
        metrics.contains("tvgate_streams_served_total{kind=\"vod\"} 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!("tvgate_viewer_bytes_total {FILM_LEN}\n")),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_range_comes_back_as_206_with_exactly_those_bytes() {
    let p = provider().await;
    let (srv, ids) = server(&p).await;
    for (range, start, end) in [
        ("bytes=1000-1999", 1000, 1999),
        ("bytes=1048000-", 1_048_000, FILM_LEN - 1),
    ] {
        let r = client()
            .get(movie_url(&srv, ids["Film"]))
            .header(header::RANGE, range)
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), 206, "{range}");
        assert_eq!(
            r.headers()[header::CONTENT_RANGE],
            format!("bytes {start}-{end}/{FILM_LEN}").as_str()
        );
        assert_eq!(
            r.headers()[header::CONTENT_LENGTH],
            (end + 1 - start).to_string().as_str()
        );
        let body = r.bytes().await.expect("body");
        assert!(body[..] == film()[start..=end], "{range}");
    }
    // An episode goes the same way.
    let r = client()
        .get(srv.url(&format!("/series/vera/pw-v/{}.mp4", ids["episode"])))
        .header(header::RANGE, "bytes=0-9")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 206);
    assert!(r.bytes().await.expect("body")[..] == film()[..10]);
}

#[tokio::test]
async fn head_is_forwarded_as_head_and_takes_no_slot() {
    let p = provider().await;
    let (srv, ids) = server(&p).await;
    // The one slot is taken by a download in progress.
    let mut watching = client()
        .get(movie_url(&srv, ids["Endless"]))
        .send()
        .await
        .expect("request");
    assert!(watching.chunk().await.expect("chunk").is_some());
    assert_eq!(holders(&srv).await, 1);
    let r = client()
        .head(movie_url(&srv, ids["Film"]))
        .header("user-agent", "Other/1.0")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()[header::CONTENT_LENGTH],
        FILM_LEN.to_string().as_str()
    );
    assert_eq!(r.headers()[header::ACCEPT_RANGES], "bytes");
    assert_eq!(p.seen.head.load(Ordering::Relaxed), 1, "HEAD upstream");
    assert_eq!(p.seen.get.load(Ordering::Relaxed), 0, "no GET upstream");
    assert_eq!(holders(&srv).await, 1, "the HEAD took no slot");
    drop(watching);
    wait_until_free(&srv).await;
}

#[tokio::test]
async fn not_satisfiable_and_not_modified_are_relayed() {
    let p = provider().await;
    let (srv, ids) = server(&p).await;
    let r = client()
        .get(movie_url(&srv, ids["Film"]))
        .header(header::RANGE, format!("bytes={}-", FILM_LEN + 10))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 416);
    assert_eq!(
        r.headers()[header::CONTENT_RANGE],
        format!("bytes */{FILM_LEN}").as_str()
    );
    let r = client()
        .get(movie_url(&srv, ids["Film"]))
        .header(header::IF_NONE_MATCH, ETAG)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 304);
    assert_eq!(r.headers()[header::ETAG], ETAG);
    wait_until_free(&srv).await;
}

#[tokio::test]
async fn a_redirecting_source_is_followed() {
    let p = provider().await;
    let (srv, ids) = server(&p).await;
    let r = client()
        .get(movie_url(&srv, ids["Moved"]))
        .header(header::RANGE, "bytes=5-14")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 206);
    assert!(r.bytes().await.expect("body")[..] == film()[5..15]);
}

#[tokio::test]
async fn a_source_that_is_down_or_refuses_gives_502() {
    let p = provider().await;
    let (srv, ids) = server(&p).await;
    for name in ["Down", "Gone"] {
        let (status, body) = get(&movie_url(&srv, ids[name])).await;
        assert_eq!(status, 502, "{name}: {body}");
        assert!(body.starts_with("the source of this video"), "{body}");
        assert!(!body.contains("127.0.0.1"), "the source URL stays private");
    }
    let r = client()
        .head(movie_url(&srv, ids["Down"]))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 502);
    wait_until_free(&srv).await;
}

#[tokio::test]
async fn the_slot_is_held_while_downloading_and_freed_when_the_player_leaves() {
    let p = provider().await;
    let (srv, ids) = server(&p).await;
    let mut r = client()
        .get(movie_url(&srv, ids["Endless"]))
        .header("user-agent", "TV/1.0")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
    for _ in 0..4 {
        assert!(r.chunk().await.expect("chunk").is_some());
    }
    assert_eq!(holders(&srv).await, 1, "held during the download");
    // A second device is refused while the first downloads.
    let (status, body) = {
        let r = client()
            .get(movie_url(&srv, ids["Film"]))
            .header("user-agent", "Phone/1.0")
            .send()
            .await
            .expect("request");
        (r.status().as_u16(), r.text().await.expect("body"))
    };
    assert_eq!(status, 403, "{body}");
    assert!(body.starts_with("connection_limit:"), "{body}");
    drop(r);
    wait_until_free(&srv).await;
    let metrics = get(&srv.url("/metrics")).await.1;
    assert!(
        metrics.contains("tvgate_lease_release_seconds_count 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("tvgate_leases_ended_total{cause=\"closed\"} 1\n"),
        "{metrics}"
    );
}

/// The demo's movie (a built-in file) seeks like any other: HEAD with the
/// length and no slot, one range as 206, past the end 416, no range 200.
#[tokio::test]
async fn a_built_in_file_answers_head_and_ranges() {
    let srv = TestServer::start().await;
    srv.add_line("vera", "pw-v", |s| s.max_connections = 1)
        .await;
    srv.with_catalog().await;
    let vod =
        get_json(&srv.url("/player_api.php?username=vera&password=pw-v&action=get_vod_streams"))
            .await;
    let id = vod[0]["stream_id"].as_u64().expect("the demo film's id");
    let url = movie_url(&srv, id);
    let whole = client()
        .get(&url)
        .send()
        .await
        .expect("request")
        .bytes()
        .await
        .expect("body");
    let len = whole.len();
    assert!(len > 10_000, "the built-in film has its bytes");

    let r = client().head(&url).send().await.expect("HEAD");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()[header::ACCEPT_RANGES], "bytes");
    assert_eq!(
        r.headers()[header::CONTENT_LENGTH],
        len.to_string().as_str()
    );
    assert_eq!(holders(&srv).await, 0, "HEAD takes no slot");

    let r = client()
        .get(&url)
        .header(header::RANGE, "bytes=100-299")
        .send()
        .await
        .expect("range");
    assert_eq!(r.status(), 206);
    assert_eq!(
        r.headers()[header::CONTENT_RANGE],
        format!("bytes 100-299/{len}").as_str()
    );
    assert_eq!(r.headers()[header::CONTENT_LENGTH], "200");
    assert!(r.bytes().await.expect("body")[..] == whole[100..300]);

    let r = client()
        .get(&url)
        .header(header::RANGE, "bytes=-188")
        .send()
        .await
        .expect("suffix range");
    assert_eq!(r.status(), 206);
    assert!(r.bytes().await.expect("body")[..] == whole[len - 188..]);

    let r = client()
        .get(&url)
        .header(header::RANGE, format!("bytes={len}-"))
        .send()
        .await
        .expect("past the end");
    assert_eq!(r.status(), 416);
    assert_eq!(
        r.headers()[header::CONTENT_RANGE],
        format!("bytes */{len}").as_str()
    );
    wait_until_free(&srv).await;
}
