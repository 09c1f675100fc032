//! The SSRF guard (issue 17, item 5). Only loopback is ever a target: the
//! guard is shown refusing loopback (as it refuses every non-public
//! address) when `allowed_source_networks` is empty, and letting it
//! through when 127.0.0.0/8 is listed. 127.0.0.2 stands for an allowed
//! host whose redirect leads to a refused one.

use crate::admin_api::{call, operator};
use crate::harness::TestServer;
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use reqwest::Method;
use serde_json::{json, Value};
use std::net::SocketAddr;
use tvgate_formats::cidr::CidrList;
use tvgate_relay::EgressGuard;

const PLAYLIST: &str =
    "#EXTM3U\n#EXTINF:-1 group-title=\"News\",News One\nhttp://127.0.0.1:9/news.ts\n";

/// A provider on `ip` serving `/list.m3u`, and `/hop` redirecting to
/// `redirect_to`.
async fn provider(ip: &str, redirect_to: Option<String>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind((ip, 0))
        .await
        .expect("bind the provider");
    let addr = listener.local_addr().expect("addr");
    let to = redirect_to.unwrap_or_else(|| "/list.m3u".into());
    let app = axum::Router::new()
        .route("/list.m3u", get(|| async { PLAYLIST.into_response() }))
        .route("/hop", get(move || async move { Redirect::temporary(&to) }));
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

async fn server(allowed: &str) -> TestServer {
    let list = CidrList::parse(allowed).expect("networks");
    TestServer::start_with(move |h| h.egress = EgressGuard::public_only(list)).await
}

async fn add(srv: &TestServer, token: &str, location: &str) -> (u16, Value) {
    let body = json!({ "kind": "m3u", "location": location, "name": "p" });
    call(
        srv,
        Method::POST,
        "/api/v1/sources",
        Some(token),
        Some(body),
    )
    .await
}

async fn refreshed(srv: &TestServer, token: &str, id: i64) -> Value {
    let path = format!("/api/v1/sources/{id}/refresh");
    loop {
        let (status, state) = call(srv, Method::GET, &path, Some(token), None).await;
        assert_eq!(status, 200, "{state}");
        if state["phase"] == "done" || state["phase"] == "failed" {
            return state;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn loopback_sources_and_backups_are_refused_through_the_api_unless_allowed() {
    let up = provider("127.0.0.1", None).await;
    let srv = server("").await;
    let (_, token) = operator(&srv).await;
    for location in [
        format!("http://127.0.0.1:{}/list.m3u", up.port()),
        format!("http://localhost:{}/list.m3u", up.port()),
        format!("http://[::ffff:127.0.0.1]:{}/list.m3u", up.port()),
        "http://169.254.169.254/latest/meta-data/".to_string(),
        "http://[::1]:9/x.m3u".to_string(),
    ] {
        let (status, v) = add(&srv, &token, &location).await;
        assert_eq!(status, 400, "{location}: {v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("is not a public address")
                    && m.contains("allowed_source_networks")),
            "{v}"
        );
    }
    let (_, list) = call(&srv, Method::GET, "/api/v1/sources", Some(&token), None).await;
    assert_eq!(
        list["items"].as_array().map(Vec::len),
        Some(0),
        "nothing was added: {list}"
    );

    // The same provider with loopback allowed: added and imported.
    let srv = server("127.0.0.0/8").await;
    let (_, token) = operator(&srv).await;
    let (status, v) = add(
        &srv,
        &token,
        &format!("http://localhost:{}/list.m3u", up.port()),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    let state = refreshed(&srv, &token, v["id"].as_i64().expect("id")).await;
    assert_eq!(state["phase"], "done", "{state}");
}

#[tokio::test]
async fn the_connection_is_checked_when_made_and_at_every_redirect() {
    // Only 127.0.0.2 is allowed; 127.0.0.1 is not.
    let refused = provider("127.0.0.1", None).await;
    let target = format!("http://127.0.0.1:{}/list.m3u", refused.port());
    let allowed = provider("127.0.0.2", Some(target.clone())).await;
    let srv = server("127.0.0.2").await;
    let (_, token) = operator(&srv).await;

    // A redirect from the allowed host to a refused one fails the refresh.
    let (status, v) = add(
        &srv,
        &token,
        &format!("http://127.0.0.2:{}/hop", allowed.port()),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    let state = refreshed(&srv, &token, v["id"].as_i64().expect("id")).await;
    assert_eq!(state["phase"], "failed", "{state}");
    assert!(
        state
            .to_string()
            .contains("127.0.0.1 is not a public address"),
        "{state}"
    );

    // A source the command line added (trusted, not checked when added) is
    // still checked when the server connects: the refresh started from the
    // web fails before a request is sent.
    let source = srv
        .gate
        .add_source(tvgate_core::ports::NewSource {
            kind: tvgate_core::catalog::SourceKind::M3u,
            location: target.clone(),
            name: "cli".into(),
            created_at: crate::harness::NOW,
            max_connections: 0,
            delivery: Default::default(),
        })
        .await
        .expect("add");
    let path = format!("/api/v1/sources/{}/refresh", source.id.0);
    let (status, v) = call(&srv, Method::POST, &path, Some(&token), None).await;
    assert!(status == 202 || status == 200, "{status} {v}");
    let state = refreshed(&srv, &token, source.id.0).await;
    assert_eq!(state["phase"], "failed", "{state}");
    assert!(
        state.to_string().contains("is not a public address"),
        "{state}"
    );

    // The command line's own refresh of it is trusted.
    tvgate::sources::refresh(&srv.gate, &source, srv.dir.path(), tvgate::sources::quiet())
        .await
        .expect("the command line may fetch from loopback");

    // The guard of the relay's client: a connection to a refused literal
    // address fails before a request is sent.
    let client = EgressGuard::public_only(CidrList::parse("127.0.0.2").expect("list"))
        .client_builder()
        .build()
        .expect("client");
    let err = client.get(&target).send().await.expect_err("refused");
    assert!(
        format!("{err:?}").contains("Forbidden { addr: 127.0.0.1 }"),
        "{err:?}"
    );
    let ok = client
        .get(format!("http://127.0.0.2:{}/list.m3u", allowed.port()))
        .send()
        .await
        .expect("allowed");
    assert_eq!(ok.status(), 200);
}
