//! Xtream account sources end to end. The provider is a second real tvgate
//! (it is an Xtream server): an account line, live channels, a film, a
//! series with two episodes and a guide, fed to it as any operator would.
//! The tvgate under test imports that account with `tvgate source add
//! xtream` (the real binary), and its players watch through it. Small
//! stand-ins play only what tvgate itself never does: a provider that
//! answers a fake 404 or malformed lists (`bad_input`).

use crate::harness::*;
use axum::extract::Request;
use axum::http::{header, StatusCode};
use serde_json::Value;
use std::net::SocketAddr;
use tokio_util::sync::CancellationToken;
use tvgate_core::catalog::SourceKind;

pub const ACCOUNT_USER: &str = "acct";
pub const ACCOUNT_PASSWORD: &str = "Pw-4-the-account";

/// An HTTP stand-in on an ephemeral loopback port, stopped when dropped.
pub struct StandIn {
    pub addr: SocketAddr,
    stop: CancellationToken,
}

impl StandIn {
    pub async fn start(app: axum::Router) -> StandIn {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let stop = CancellationToken::new();
        let until = stop.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(until.cancelled_owned())
                .await;
        });
        StandIn { addr, stop }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// The provider: a real tvgate with the account line (two connections),
/// three live channels (`Replay One` with a three-day `shift` archive at
/// `archive`), a film, a series of two episodes and a guide for `news.t`.
pub async fn provider(archive: &str) -> TestServer {
    let up = TestServer::start().await;
    up.add_line(ACCOUNT_USER, ACCOUNT_PASSWORD, |s| s.max_connections = 2)
        .await;
    let m3u = format!(
        "#EXTM3U\n\
        #EXTINF:-1 tvg-id=\"news.t\" tvg-logo=\"http://logo/n.png\" group-title=\"News\",News One\nloop:demo?1\n\
        #EXTINF:-1 tvg-id=\"sport.t\" group-title=\"Sports\",Sport One\nloop:demo?2\n\
        #EXTINF:-1 group-title=\"Sports\" catchup=\"shift\" catchup-days=\"3\",Replay One\n{archive}/live/replay.ts\n\
        #EXTINF:-1 tvg-type=\"movie\" group-title=\"Films\",A Film (2020)\nclip:demo.ts?m\n\
        #EXTINF:-1 tvg-type=\"series\" group-title=\"Shows\",The Show S01E01\nclip:demo.ts?e1\n\
        #EXTINF:-1 tvg-type=\"series\" group-title=\"Shows\",The Show S01E02\nclip:demo.ts?e2\n"
    );
    up.add_source(SourceKind::M3u, "provider.m3u", &m3u).await;
    let mut xml = String::from(
        "<?xml version=\"1.0\"?><tv><channel id=\"news.t\"><display-name>News One</display-name></channel>",
    );
    for i in 0..6 {
        let start = NOW - 3600 + i * 1800;
        xml.push_str(&format!(
            "<programme start=\"{}\" stop=\"{}\" channel=\"news.t\"><title>Upstream show {i}</title></programme>",
            tvgate_formats::xmltv::format_time(start, 0),
            tvgate_formats::xmltv::format_time(start + 1800, 0)
        ));
    }
    xml.push_str("</tv>");
    up.add_source(SourceKind::Xmltv, "provider-guide.xml", &xml)
        .await;
    up
}

/// A stand-in catch-up archive: every answer says what was asked (`ARCHIVE
/// /path?query`).
pub async fn echo_archive() -> StandIn {
    StandIn::start(axum::Router::new().fallback(|request: Request| async move {
        let asked = request
            .uri()
            .path_and_query()
            .map(|p| p.to_string())
            .unwrap_or_default();
        (
            [(header::CONTENT_TYPE, "video/mp2t")],
            format!("ARCHIVE {asked}"),
        )
    }))
    .await
}

/// The real binary on `dir`, on a blocking thread: the provider it asks
/// runs on this test's runtime.
pub async fn run(dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let dir = dir.to_path_buf();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        tvgate(&dir, &args)
    })
    .await
    .expect("the command's thread")
}

/// Runs the real binary on `srv`'s data directory and fails on a non-zero
/// exit: stdout.
async fn cli(srv: &TestServer, args: &[&str]) -> String {
    let (code, out, err) = run(srv.dir.path(), args).await;
    assert_eq!(code, 0, "tvgate {args:?}: {out}\n{err}");
    out
}

/// `tvgate source add xtream` against `up`, then the server reloads what
/// the command stored: the new source's id.
async fn add_account(down: &TestServer, up: &TestServer, password: &str) -> (i64, String) {
    let out = cli(
        down,
        &[
            "source",
            "add",
            "xtream",
            &up.url(""),
            "--username",
            ACCOUNT_USER,
            "--password",
            password,
            "--name",
            "Upstream",
        ],
    )
    .await;
    down.gate.reload_catalog().await.expect("reload");
    let id = sources(down)
        .await
        .as_array()
        .and_then(|l| l.iter().find(|s| s["kind"] == "xtream"))
        .and_then(|s| s["id"].as_i64())
        .expect("the xtream source is listed");
    (id, out)
}

async fn sources(down: &TestServer) -> Value {
    let out = cli(down, &["source", "list", "--json"]).await;
    serde_json::from_str(&out).expect("source list --json")
}

async fn source(down: &TestServer, id: i64) -> Value {
    sources(down)
        .await
        .as_array()
        .and_then(|l| l.iter().find(|s| s["id"] == id).cloned())
        .expect("listed")
}

/// The viewer's list `action` on `down`.
async fn list(down: &TestServer, action: &str) -> Vec<Value> {
    let v = get_json(&down.url(&format!(
        "/player_api.php?username=viewer&password=vpw&action={action}"
    )))
    .await;
    v.as_array().cloned().unwrap_or_default()
}

fn id_named(list: &[Value], key: &str, name: &str) -> u64 {
    list.iter()
        .find(|v| v["name"] == name)
        .and_then(|v| v[key].as_u64())
        .unwrap_or_else(|| panic!("{name} in {list:?}"))
}

/// Ids of everything the viewer sees: live and films by name, episodes.
async fn ids(down: &TestServer) -> (Vec<(String, u64)>, Vec<u64>) {
    let mut named = Vec::new();
    for (action, key) in [
        ("get_live_streams", "stream_id"),
        ("get_vod_streams", "stream_id"),
        ("get_series", "series_id"),
    ] {
        for v in list(down, action).await {
            named.push((
                v["name"].as_str().unwrap_or("").to_string(),
                v[key].as_u64().unwrap_or(0),
            ));
        }
    }
    let series = id_named(&list(down, "get_series").await, "series_id", "The Show");
    let info = get_json(&down.url(&format!(
        "/player_api.php?username=viewer&password=vpw&action=get_series_info&series_id={series}"
    )))
    .await;
    let episodes = info["episodes"]["1"]
        .as_array()
        .map(|l| {
            l.iter()
                .map(|e| {
                    e["id"]
                        .as_str()
                        .and_then(|s| s.parse().ok())
                        .or(e["id"].as_u64())
                        .unwrap_or(0)
                })
                .collect()
        })
        .unwrap_or_default();
    (named, episodes)
}

/// Reads up to `n` bytes of a streaming body.
async fn first_bytes(response: reqwest::Response, n: usize) -> Vec<u8> {
    use futures::StreamExt;
    let mut body = response.bytes_stream();
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while got.len() < n {
        match tokio::time::timeout_at(deadline, body.next()).await {
            Ok(Some(Ok(chunk))) => got.extend_from_slice(&chunk),
            _ => break,
        }
    }
    got
}

#[tokio::test]
async fn an_account_is_imported_played_and_kept_across_refreshes() {
    let archive = echo_archive().await;
    let up = provider(&archive.url("")).await;
    let down = TestServer::start().await;
    down.add_line("viewer", "vpw", |s| s.max_connections = 5)
        .await;

    let (id, added) = add_account(&down, &up, ACCOUNT_PASSWORD).await;
    assert!(!added.contains(ACCOUNT_PASSWORD), "{added}");
    let shown = source(&down, id).await;
    assert_eq!(shown["last_error"], Value::Null, "{shown}");
    assert_eq!(
        shown["item_count"], 6,
        "3 live, a film, 2 episodes: {shown}"
    );
    assert_eq!(shown["account"]["username"], ACCOUNT_USER);
    assert_eq!(
        shown["account"]["max_connections"], 2,
        "the account's own cap is read from its login"
    );
    assert!(!shown.to_string().contains(ACCOUNT_PASSWORD), "{shown}");

    // Categories and names as the provider lists them.
    let live = list(&down, "get_live_streams").await;
    let names: Vec<&str> = live.iter().filter_map(|v| v["name"].as_str()).collect();
    assert_eq!(names, ["News One", "Sport One", "Replay One"]);
    let cats = list(&down, "get_live_categories").await;
    let cat_names: Vec<&str> = cats
        .iter()
        .filter_map(|v| v["category_name"].as_str())
        .collect();
    assert_eq!(cat_names, ["News", "Sports"]);
    let news = live.iter().find(|v| v["name"] == "News One").expect("news");
    assert_eq!(news["epg_channel_id"], "news.t");
    assert_eq!(news["stream_icon"], "http://logo/n.png");
    let replay = live
        .iter()
        .find(|v| v["name"] == "Replay One")
        .expect("replay");
    assert_eq!(replay["tv_archive"], 1, "the archive is listed: {replay}");
    assert_eq!(replay["tv_archive_duration"], 3);
    assert_eq!(news["tv_archive"], 0);

    // Ids survive a second refresh (and a third).
    let before = ids(&down).await;
    assert_eq!(before.1.len(), 2, "two episodes: {before:?}");
    for _ in 0..2 {
        cli(&down, &["source", "refresh", &id.to_string()]).await;
        down.gate.reload_catalog().await.expect("reload");
        assert_eq!(ids(&down).await, before, "ids are the provider's");
    }

    // Live through the relay: TS packets from the provider's loop.
    let news_id = id_named(&live, "stream_id", "News One");
    let sport_id = id_named(&live, "stream_id", "Sport One");
    let replay_id = id_named(&live, "stream_id", "Replay One");
    let watch = |id: u64| {
        client()
            .get(down.url(&format!("/live/viewer/vpw/{id}.ts")))
            .send()
    };
    let reason = |r: &reqwest::Response| {
        r.headers()
            .get("x-tvgate-reason")
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    };

    // The operator's cap wins over the account's: one connection.
    cli(
        &down,
        &["source", "set", &id.to_string(), "--max-connections", "1"],
    )
    .await;
    down.gate.reload_catalog().await.expect("reload");
    assert_eq!(source(&down, id).await["max_connections"], 1);
    let news_view = watch(news_id).await.expect("news");
    assert_eq!(news_view.status(), 200);
    assert_eq!(reason(&news_view), None);
    let sport_view = watch(sport_id).await.expect("sport");
    assert_eq!(
        reason(&sport_view).as_deref(),
        Some("source_at_capacity"),
        "one connection, the operator's setting"
    );
    drop(sport_view);
    let bytes = first_bytes(news_view, 188 * 20).await;
    assert!(bytes.len() >= 188 * 20 && bytes[0] == 0x47 && bytes[188] == 0x47);

    // Back to the account's cap (2): News (still held while it lingers)
    // and Sport; a third channel is refused here, before the provider is
    // asked.
    cli(
        &down,
        &["source", "set", &id.to_string(), "--max-connections", "0"],
    )
    .await;
    down.gate.reload_catalog().await.expect("reload");
    let news_view = watch(news_id).await.expect("news");
    let sport_view = watch(sport_id).await.expect("sport");
    assert_eq!(reason(&news_view), None);
    assert_eq!(reason(&sport_view), None);
    let third = watch(replay_id).await.expect("replay");
    assert_eq!(reason(&third).as_deref(), Some("source_at_capacity"));
    let bytes = first_bytes(sport_view, 188 * 20).await;
    assert!(bytes.len() >= 188 * 20 && bytes[0] == 0x47);
    drop((news_view, third));

    // A film through the VOD proxy, with a range; an episode whole.
    let clip = tvgate_relay::demo_clip();
    let films = list(&down, "get_vod_streams").await;
    let film = id_named(&films, "stream_id", "A Film (2020)");
    let ranged = client()
        .get(down.url(&format!("/movie/viewer/vpw/{film}.ts")))
        .header(header::RANGE, "bytes=188-375")
        .send()
        .await
        .expect("film");
    assert_eq!(ranged.status(), 206);
    assert_eq!(
        ranged.headers()[header::CONTENT_RANGE],
        format!("bytes 188-375/{}", clip.len()).as_str()
    );
    assert_eq!(
        ranged.bytes().await.expect("body").as_ref(),
        &clip[188..376]
    );
    let episode = before.1[1];
    let whole = client()
        .get(down.url(&format!("/series/viewer/vpw/{episode}.ts")))
        .send()
        .await
        .expect("episode");
    assert_eq!(whole.status(), 200);
    assert_eq!(whole.bytes().await.expect("body").as_ref(), clip.as_ref());

    // The guide came from the account's xmltv.php.
    let (status, guide) = get(&down.url("/xmltv.php?username=viewer&password=vpw")).await;
    assert_eq!(status, 200);
    assert!(guide.contains("Upstream show 3"), "{guide}");
    let short = get_json(&down.url(&format!(
        "/player_api.php?username=viewer&password=vpw&action=get_short_epg&stream_id={news_id}&limit=2"
    )))
    .await;
    assert_eq!(short["epg_listings"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn a_refused_account_fails_the_refresh_and_the_catalog_stays() {
    let archive = echo_archive().await;
    let up = provider(&archive.url("")).await;
    let down = TestServer::start().await;
    down.add_line("viewer", "vpw", |_| {}).await;
    let (id, _) = add_account(&down, &up, ACCOUNT_PASSWORD).await;
    let id_text = id.to_string();
    let before = ids(&down).await;
    assert_eq!(before.0.len(), 5, "{before:?}");

    let refresh_fails = |down: &TestServer| {
        let dir = down.dir.path().to_path_buf();
        let id_text = id_text.clone();
        async move {
            let (code, out, err) = run(&dir, &["source", "refresh", &id_text]).await;
            assert_ne!(code, 0, "the refresh fails: {out}");
            assert!(
                !out.contains(ACCOUNT_PASSWORD) && !err.contains(ACCOUNT_PASSWORD),
                "{out}{err}"
            );
            err
        }
    };

    // auth: 0 (a wrong password).
    cli(
        &down,
        &["source", "set", &id_text, "--password", "wrong-one"],
    )
    .await;
    let err = refresh_fails(&down).await;
    assert!(err.contains("auth: 0"), "{err}");
    assert!(!err.contains("wrong-one"), "{err}");
    down.gate.reload_catalog().await.expect("reload");
    assert_eq!(ids(&down).await, before, "the last good catalog stays");
    let shown = source(&down, id).await;
    assert!(
        shown["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("auth: 0")),
        "{shown}"
    );

    // Expired.
    cli(
        &down,
        &["source", "set", &id_text, "--password", ACCOUNT_PASSWORD],
    )
    .await;
    up.clock
        .store(NOW + 40 * 86_400, std::sync::atomic::Ordering::Relaxed);
    let err = refresh_fails(&down).await;
    assert!(err.contains("Expired"), "{err}");
    down.gate.reload_catalog().await.expect("reload");
    assert_eq!(ids(&down).await, before);

    // Active again: the refresh works and the error is gone.
    up.clock.store(NOW, std::sync::atomic::Ordering::Relaxed);
    cli(&down, &["source", "refresh", &id_text]).await;
    assert_eq!(source(&down, id).await["last_error"], Value::Null);

    // A provider that answers a 404 page to everything.
    let fake = StandIn::start(axum::Router::new().fallback(|| async {
        (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/html")],
            "<html><head><title>404 Not Found</title></head><body><h1>Not Found</h1></body></html>",
        )
    }))
    .await;
    let (code, out, err) = run(
        down.dir.path(),
        &[
            "source",
            "add",
            "xtream",
            &fake.url(""),
            "--username",
            "u",
            "--password",
            "p-secret",
        ],
    )
    .await;
    assert_ne!(code, 0, "{out}");
    assert!(err.contains("404"), "{err}");
    assert!(!err.contains("p-secret") && !out.contains("p-secret"));
    down.gate.reload_catalog().await.expect("reload");
    assert_eq!(ids(&down).await, before, "nothing of it is listed");
}

/// The password is never shown back: not by `source list`, the API, the
/// server's log (a real `tvgate serve` whose refresh fails), nor errors.
#[tokio::test]
async fn the_account_password_is_never_shown() {
    let archive = echo_archive().await;
    let up = provider(&archive.url("")).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().to_path_buf();
    let ok = |args: Vec<String>| {
        let data = data.clone();
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let (code, out, err) = run(&data, &args).await;
            assert_eq!(code, 0, "{args:?}: {err}");
            (out, err)
        }
    };
    let words = |args: &[&str]| args.iter().map(|a| a.to_string()).collect::<Vec<_>>();
    let (out, err) = ok(words(&[
        "source",
        "add",
        "xtream",
        &up.url(""),
        "--username",
        ACCOUNT_USER,
        "--password",
        ACCOUNT_PASSWORD,
    ]))
    .await;
    let mut seen = format!("{out}{err}");
    for args in [
        &["source", "list"][..],
        &["source", "list", "--json"],
        &["channel", "list"],
        &["channel", "list", "--json"],
    ] {
        let (out, err) = ok(words(args)).await;
        seen.push_str(&out);
        seen.push_str(&err);
    }
    ok(words(&["admin", "add", "olga"])).await;
    let (token, _) = ok(words(&["admin", "token", "olga"])).await;
    let token = token.trim().to_string();
    let node = ServeProcess::start(dir, &[]).await;
    let api = |path: &str| client().get(node.url(path)).bearer_auth(&token).send();
    let listed = api("/api/v1/sources").await.expect("api");
    assert_eq!(listed.status(), 200);
    let listed = listed.text().await.expect("body");
    assert!(listed.contains(ACCOUNT_USER), "{listed}");
    seen.push_str(&listed);
    // A refresh that fails at the provider, run by the server itself.
    let id = serde_json::from_str::<Value>(&listed).expect("json")["items"][0]["id"]
        .as_i64()
        .expect("id");
    up.clock
        .store(NOW + 40 * 86_400, std::sync::atomic::Ordering::Relaxed);
    let started = client()
        .post(node.url(&format!("/api/v1/sources/{id}/refresh")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("refresh");
    assert!(started.status().is_success(), "{}", started.status());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let failed = loop {
        let shown = api(&format!("/api/v1/sources/{id}")).await.expect("api");
        let text = shown.text().await.expect("body");
        if text.contains("Expired") {
            break text;
        }
        assert!(std::time::Instant::now() < deadline, "{text}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    seen.push_str(&failed);
    seen.push_str(&node.log());
    assert!(node.log().contains("Expired"), "the failure is logged");
    assert!(
        !seen.contains(ACCOUNT_PASSWORD),
        "the password shows somewhere: {seen}"
    );
}
