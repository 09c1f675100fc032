//! A source's upstream identity and redirects (issue 14): a provider
//! stand-in that refuses any request without the user agent and token it
//! expects accepts the source's refresh, relayed channel and film once the
//! source is given them (through the API, which never shows the token
//! back); redirect chains are followed with the identity on every hop, a
//! loop, more than five hops and a hop to a forbidden network are refused
//! naming the hop; and a 0-byte body, an endless HTML page and a TS
//! without keyframes are named failures while viewers stay on a backup.

use crate::admin_api::{call, operator};
use crate::harness::{client, TestServer};
use crate::relay::{collect, open, relayed};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tvgate_core::catalog::SourceKind;
use tvgate_core::ids::{SourceId, StreamId};
use tvgate_core::ports::NewSource;
use tvgate_formats::mpegts::{self, PACKET_LEN, PID_PAT};

const AGENT: &str = "SmartIPTV/1.4 (picky)";
const TOKEN: &str = "t0k3n-never-shown";
const MOVIE: &[u8] = &[0x5a; 100_000];

struct Picky {
    addr: SocketAddr,
    served: Arc<AtomicU64>,
    refused: Arc<AtomicU64>,
    stop: CancellationToken,
}

impl Drop for Picky {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

#[derive(Clone)]
struct Shared {
    clip: Bytes,
    served: Arc<AtomicU64>,
    refused: Arc<AtomicU64>,
    stop: CancellationToken,
}

impl Picky {
    async fn start() -> Picky {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let shared = Shared {
            clip: tvgate_relay::loop_source::demo_clip(),
            served: Arc::default(),
            refused: Arc::default(),
            stop: CancellationToken::new(),
        };
        let app = axum::Router::new()
            .route("/list.m3u", axum::routing::get(list))
            .route("/live/1.ts", axum::routing::get(live))
            .route("/movie/7.mp4", axum::routing::get(movie))
            .route("/r/{n}", axum::routing::get(chain))
            .route("/loop/{side}", axum::routing::get(looping))
            .route("/meta", axum::routing::get(metadata))
            .route("/empty.ts", axum::routing::get(empty))
            .route("/html.ts", axum::routing::get(html))
            .route("/nokey.ts", axum::routing::get(no_keyframes))
            .with_state(shared.clone());
        let stop = shared.stop.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await;
        });
        Picky {
            addr,
            served: shared.served,
            refused: shared.refused,
            stop: shared.stop,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

/// `None` when the request is the source's; else the refusal.
fn refuse(s: &Shared, headers: &HeaderMap) -> Option<Response> {
    let ua = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let token = headers.get("x-token").and_then(|v| v.to_str().ok());
    if ua == Some(AGENT) && token == Some(TOKEN) {
        s.served.fetch_add(1, Ordering::Relaxed);
        return None;
    }
    s.refused.fetch_add(1, Ordering::Relaxed);
    Some((StatusCode::FORBIDDEN, "this app is not allowed").into_response())
}

async fn list(State(s): State<Shared>, headers: HeaderMap) -> Response {
    if let Some(r) = refuse(&s, &headers) {
        return r;
    }
    format!(
        "#EXTM3U\n#EXTINF:-1 group-title=\"Picky\",Picky One\nhttp://{0}/live/1.ts\n\
         #EXTINF:-1 group-title=\"Films\",Picky Film\nhttp://{0}/movie/7.mp4\n",
        headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default()
    )
    .into_response()
}

/// The demo clip looped at about its own bitrate, until the server stops.
fn ts_body(s: &Shared) -> axum::body::Body {
    let clip = s.clip.clone();
    let stop = s.stop.clone();
    let per_tick = (clip.len() / 320 / PACKET_LEN).max(1) * PACKET_LEN;
    let state = (0usize, tokio::time::interval(Duration::from_millis(20)));
    axum::body::Body::from_stream(futures::stream::unfold(state, move |(pos, mut tick)| {
        let clip = clip.clone();
        let stop = stop.clone();
        async move {
            tokio::select! {
                () = stop.cancelled() => return None,
                _ = tick.tick() => {}
            }
            let end = (pos + per_tick).min(clip.len());
            let next = if end == clip.len() { 0 } else { end };
            Some((Ok::<_, std::io::Error>(clip.slice(pos..end)), (next, tick)))
        }
    }))
}

async fn live(State(s): State<Shared>, headers: HeaderMap) -> Response {
    if let Some(r) = refuse(&s, &headers) {
        return r;
    }
    ([(header::CONTENT_TYPE, "video/mp2t")], ts_body(&s)).into_response()
}

async fn movie(State(s): State<Shared>, headers: HeaderMap) -> Response {
    if let Some(r) = refuse(&s, &headers) {
        return r;
    }
    ([(header::CONTENT_TYPE, "video/mp4")], MOVIE).into_response()
}

fn found(to: String) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, to)]).into_response()
}

/// `/r/N`: N redirects, then the channel (the identity checked at each hop).
async fn chain(State(s): State<Shared>, Path(n): Path<u32>, headers: HeaderMap) -> Response {
    if let Some(r) = refuse(&s, &headers) {
        return r;
    }
    match n {
        0 => ([(header::CONTENT_TYPE, "video/mp2t")], ts_body(&s)).into_response(),
        n => found(format!("/r/{}", n - 1)),
    }
}

async fn looping(Path(side): Path<String>) -> Response {
    found(if side == "a" { "/loop/b" } else { "/loop/a" }.into())
}

async fn metadata() -> Response {
    found("http://169.254.169.254/latest/meta-data/".into())
}

async fn empty() -> Response {
    ([(header::CONTENT_TYPE, "video/mp2t")], "").into_response()
}

/// An HTML page that never ends.
async fn html(State(s): State<Shared>) -> Response {
    let stop = s.stop.clone();
    let body = futures::stream::unfold(0u64, move |n| {
        let stop = stop.clone();
        async move {
            tokio::select! {
                () = stop.cancelled() => None,
                () = tokio::time::sleep(Duration::from_millis(20)) => Some((
                    Ok::<_, std::io::Error>(Bytes::from(if n == 0 {
                        "<!DOCTYPE html><html><body>".to_string()
                    } else {
                        format!("<p>row {n}</p>")
                    })),
                    n + 1,
                )),
            }
        }
    });
    (
        [(header::CONTENT_TYPE, "text/html")],
        axum::body::Body::from_stream(body),
    )
        .into_response()
}

/// A clean TS whose program has a video stream that never sends a
/// keyframe: only the clip's PAT and PMT, over and over.
async fn no_keyframes(State(s): State<Shared>) -> Response {
    let clip = s.clip.clone();
    let pat = clip
        .chunks_exact(PACKET_LEN)
        .find(|p| mpegts::pid(p) == Some(PID_PAT) && mpegts::payload_unit_start(p))
        .expect("the clip has a PAT")
        .to_vec();
    let pmt_pid = mpegts::pat_pmt_pid(&pat).expect("PMT pid");
    let pmt = clip
        .chunks_exact(PACKET_LEN)
        .find(|p| mpegts::pid(p) == Some(pmt_pid))
        .expect("the clip has a PMT")
        .to_vec();
    let tables = Bytes::from([pat, pmt].concat());
    let stop = s.stop.clone();
    let body = futures::stream::unfold((), move |()| {
        let (stop, tables) = (stop.clone(), tables.clone());
        async move {
            tokio::select! {
                () = stop.cancelled() => None,
                () = tokio::time::sleep(Duration::from_millis(20)) => {
                    Some((Ok::<_, std::io::Error>(tables), ()))
                }
            }
        }
    });
    (
        [(header::CONTENT_TYPE, "video/mp2t")],
        axum::body::Body::from_stream(body),
    )
        .into_response()
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

fn failures(m: &str, reason: &str) -> u64 {
    let key = format!("tvgate_upstream_failures_total{{reason=\"{reason}\"}} ");
    m.lines()
        .find_map(|l| l.strip_prefix(&key)?.parse().ok())
        .unwrap_or_else(|| panic!("{key} not in /metrics"))
}

#[tokio::test]
async fn a_picky_provider_accepts_the_sources_requests_once_it_has_its_identity() {
    let picky = Picky::start().await;
    // The stand-in refuses a request as any client sends it.
    let bare = client()
        .get(picky.url("/list.m3u"))
        .send()
        .await
        .expect("get");
    assert_eq!(bare.status(), 403);

    let srv = TestServer::start().await;
    srv.add_line("viewer", "pw-relay", |s| s.max_connections = 0)
        .await;
    let source = srv
        .gate
        .add_source(NewSource {
            kind: SourceKind::M3u,
            location: picky.url("/list.m3u"),
            name: "Picky".into(),
            created_at: crate::harness::NOW,
            max_connections: 0,
            delivery: Default::default(),
        })
        .await
        .expect("source");
    let quiet = || tvgate::sources::quiet();
    let first = tvgate::sources::refresh(&srv.gate, &source, srv.dir.path(), quiet()).await;
    let e = format!("{:#}", first.expect_err("refused without the identity"));
    assert!(e.contains("403"), "{e}");

    // Set through the API: the token is write-only.
    let (_, token) = operator(&srv).await;
    let path = format!("/api/v1/sources/{}", source.id.0);
    let (status, body) = call(
        &srv,
        reqwest::Method::PATCH,
        &path,
        Some(&token),
        Some(json!({"user_agent": AGENT, "headers": [format!("X-Token: {TOKEN}")]})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user_agent"], AGENT);
    assert_eq!(body["headers"], json!(["X-Token: ***"]));
    let (_, shown) = call(&srv, reqwest::Method::GET, &path, Some(&token), None).await;
    assert!(!shown.to_string().contains(TOKEN), "{shown}");
    let (status, bad) = call(
        &srv,
        reqwest::Method::PATCH,
        &path,
        Some(&token),
        Some(json!({"headers": [format!("X-Bad: {TOKEN}\r\nHost: evil")]})),
    )
    .await;
    assert_eq!(status, 400, "{bad}");
    assert!(
        !bad.to_string().contains(TOKEN),
        "the refusal never repeats the value: {bad}"
    );

    // The refresh, the relayed channel and the film all go as the source.
    let source = srv.gate.source(source.id).await.expect("source");
    let report = tvgate::sources::refresh(&srv.gate, &source, srv.dir.path(), quiet())
        .await
        .expect("the refresh is accepted");
    assert!(report.diagnostics.is_empty(), "{:?}", report.diagnostics);
    let mut live = open(&srv, 1, "player").await;
    assert!(collect(&mut live, 0.5).await.len() > 10_000);
    let film = client()
        .get(srv.url("/movie/viewer/pw-relay/2.mp4"))
        .send()
        .await
        .expect("film");
    assert_eq!(film.status(), 200);
    assert_eq!(film.bytes().await.expect("body").as_ref(), MOVIE);
    assert_eq!(
        picky.refused.load(Ordering::Relaxed),
        2,
        "only the bare request and the first refresh"
    );
    assert!(picky.served.load(Ordering::Relaxed) >= 3);
}

/// A server relaying `urls` as channels 1, 2, ... of one source that has
/// the stand-in's identity.
async fn picky_server(
    urls: &[String],
    tweak: impl FnOnce(&mut tvgate_http::HttpSettings),
) -> TestServer {
    let srv = TestServer::start_with(tweak).await;
    let source = relayed(&srv, urls).await;
    srv.gate
        .update_source(
            source.id,
            tvgate_core::ports::SourcePatch {
                user_agent: Some(Some(AGENT.into())),
                headers: Some(vec![tvgate_core::catalog::UpstreamHeader::new(
                    "X-Token", TOKEN,
                )
                .expect("header")]),
                ..Default::default()
            },
        )
        .await
        .expect("identity");
    srv
}

#[tokio::test]
async fn redirects_are_followed_with_the_identity_and_bad_chains_are_named() {
    let picky = Picky::start().await;
    let srv = picky_server(&[picky.url("/r/5"), picky.url("/loop/a")], |s| {
        s.upstream.backoff_min = Duration::from_millis(50);
    })
    .await;
    srv.gate
        .set_backups(StreamId(2), vec![picky.url("/live/1.ts")])
        .await
        .expect("backups");
    // Five hops, each with the source's identity: the channel plays.
    let mut five = open(&srv, 1, "a").await;
    assert!(collect(&mut five, 0.5).await.len() > 10_000);
    // A loop: refused, and the viewer is served from the backup.
    let mut looped = open(&srv, 2, "b").await;
    assert!(collect(&mut looped, 1.0).await.len() > 10_000);
    assert!(failures(&metrics(&srv).await, "redirect") >= 1);
    assert_eq!(picky.refused.load(Ordering::Relaxed), 0);

    // What each refusal says (the clients every source request uses).
    let guard = tvgate_relay::EgressGuard::public_only(
        tvgate_formats::cidr::CidrList::parse("127.0.0.0/8").expect("list"),
    );
    let identity = srv.gate.source(SourceId(1)).await.expect("source").identity;
    let client = tvgate_http::state::upstream_client(&guard, &identity);
    let said = |e: reqwest::Error| {
        let mut text = String::new();
        let mut cause: Option<&dyn std::error::Error> = Some(&e);
        while let Some(c) = cause {
            text.push_str(&format!("{c}; "));
            cause = c.source();
        }
        text
    };
    let six = said(
        client
            .get(picky.url("/r/6"))
            .send()
            .await
            .expect_err("six hops"),
    );
    assert!(
        six.contains("redirect hop 6 (to http://127.0.0.1:"),
        "{six}"
    );
    assert!(six.contains("more than 5 redirects"), "{six}");
    let looped = said(
        client
            .get(picky.url("/loop/a"))
            .send()
            .await
            .expect_err("loop"),
    );
    assert!(
        looped.contains("redirect hop 2 (to http://127.0.0.1:"),
        "{looped}"
    );
    assert!(looped.contains("/loop/a) refused: a loop"), "{looped}");
    let meta = said(
        client
            .get(picky.url("/meta"))
            .send()
            .await
            .expect_err("metadata"),
    );
    assert!(
        meta.contains("redirect hop 1 (to http://169.254.169.254/latest/meta-data/) refused: 169.254.169.254 is not a public address"),
        "{meta}"
    );
    // The command line's client (no network check) still refuses loops
    // and long chains.
    let open_client =
        tvgate_http::state::upstream_client(&tvgate_relay::EgressGuard::unrestricted(), &identity);
    let six = said(
        open_client
            .get(picky.url("/r/6"))
            .send()
            .await
            .expect_err("six"),
    );
    assert!(six.contains("more than 5 redirects"), "{six}");
}

#[tokio::test]
async fn empty_html_and_keyframeless_upstreams_are_named_and_viewers_stay() {
    let picky = Picky::start().await;
    let srv = picky_server(&[picky.url("/empty.ts")], |s| {
        s.upstream.backoff_min = Duration::from_millis(50);
        s.upstream.stall_timeout = Duration::from_millis(800);
        s.upstream.keyframe_timeout = Duration::from_millis(700);
        // The broken primary is not probed during the test.
        s.upstream.probe_after = Duration::from_secs(60);
    })
    .await;
    srv.gate
        .set_backups(
            StreamId(1),
            vec![
                picky.url("/html.ts"),
                picky.url("/nokey.ts"),
                picky.url("/live/1.ts"),
            ],
        )
        .await
        .expect("backups");
    let mut viewer = open(&srv, 1, "v").await;
    let seen = collect(&mut viewer, 3.0).await;
    assert!(
        seen.len() > 50_000,
        "served from the good backup: {}",
        seen.len()
    );
    assert!(
        !seen.windows(5).any(|w| w == b"<html" || w == b"<!DOC"),
        "no HTML reached the viewer"
    );
    let m = metrics(&srv).await;
    assert!(failures(&m, "empty") >= 1, "{m}");
    assert!(failures(&m, "html") >= 1, "{m}");
    assert!(failures(&m, "no_keyframe") >= 1, "{m}");
    assert_eq!(failures(&m, "redirect"), 0, "{m}");
}
