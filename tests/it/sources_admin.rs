//! Sources and channels managed through the admin API and the console:
//! add (the import runs in the background), refresh with progress, import
//! errors with their line numbers, switching a channel or a whole source
//! off for players (and a refresh keeping the switch), one refresh per
//! source at a time, CSRF on every console form.

use crate::admin_api::{call, operator};
use crate::console::login;
use crate::harness::{get, get_json, TestServer};
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tvgate_core::ids::StreamId;

/// Line 4 is broken on purpose.
const PLAYLIST: &str = "#EXTM3U\n\
    #EXTINF:-1 group-title=\"News\",News One\nhttp://127.0.0.1:9/news.ts\n\
    this line is broken\n\
    #EXTINF:-1 group-title=\"Sports\",Sport One\nhttp://127.0.0.1:9/sport.ts\n";

fn playlist_file(srv: &TestServer) -> String {
    // The one directory whose files the web may add (the data directory's
    // `sources/`, created at start).
    let path = srv.dir.path().join("sources").join("admin.m3u");
    std::fs::write(&path, PLAYLIST).expect("write playlist");
    path.to_string_lossy().into_owned()
}

/// Polls the refresh job until it has ended (each read is a real request;
/// nothing here depends on how long the import takes).
async fn finished(srv: &TestServer, token: &str, id: i64) -> Value {
    loop {
        let path = format!("/api/v1/sources/{id}/refresh");
        let (status, state) = call(srv, Method::GET, &path, Some(token), None).await;
        assert_eq!(status, 200, "{state}");
        if state["phase"] == "done" || state["phase"] == "failed" {
            return state;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

async fn live_names(srv: &TestServer) -> Vec<String> {
    let list =
        get_json(&srv.url("/player_api.php?username=alice&password=pw-1&action=get_live_streams"))
            .await;
    list.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn channel<'a>(page: &'a Value, name: &str) -> &'a Value {
    page["items"]
        .as_array()
        .and_then(|items| items.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no {name} in {page}"))
}

#[tokio::test]
async fn api_imports_in_the_background_and_switches_survive_a_refresh() {
    api_imports_in_the_background_and_switches_survive_a_refresh_on(TestServer::start().await)
        .await;
}

/// The body of [`api_imports_in_the_background_and_switches_survive_a_refresh`], also run on PostgreSQL (`postgres.rs`).
pub(crate) async fn api_imports_in_the_background_and_switches_survive_a_refresh_on(
    srv: TestServer,
) {
    srv.add_line("alice", "pw-1", |_| {}).await;
    let (_, token) = operator(&srv).await;
    let t = Some(token.as_str());
    let location = playlist_file(&srv);
    // A link inside `sources/` that leads out of it is refused like the
    // file it leads to.
    let outside = srv.dir.path().join("outside.m3u");
    std::fs::write(&outside, "#EXTM3U\n").expect("outside file");
    let link = srv.dir.path().join("sources").join("escape.m3u");
    std::os::unix::fs::symlink(&outside, &link).expect("symlink");
    let outside_link = link.to_string_lossy().into_owned();

    let (status, added) = call(
        &srv,
        Method::POST,
        "/api/v1/sources",
        t,
        Some(json!({"kind": "m3u", "location": location, "name": "main"})),
    )
    .await;
    assert_eq!(status, 201, "{added}");
    let id = added["id"].as_i64().expect("id");
    assert!(added["refresh"].is_object(), "{added}");
    let state = finished(&srv, &token, id).await;
    assert_eq!(state["phase"], "done", "{state}");
    assert!(
        state["summary"].as_str().unwrap_or("").contains("2 live"),
        "{state}"
    );

    // The broken line, by its number.
    let (status, diags) = call(
        &srv,
        Method::GET,
        &format!("/api/v1/sources/{id}/diagnostics"),
        t,
        None,
    )
    .await;
    assert_eq!(status, 200, "{diags}");
    assert_eq!(diags["items"][0]["line"], 4, "{diags}");
    assert!(
        diags["items"][0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("neither a directive nor a URL"),
        "{diags}"
    );

    let path = format!("/api/v1/channels?source={id}");
    let (status, page) = call(&srv, Method::GET, &path, t, None).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["total"], 2, "{page}");
    let (_, none_off) = call(&srv, Method::GET, &format!("{path}&enabled=false"), t, None).await;
    assert_eq!(none_off["total"], 0, "{none_off}");
    let sport = channel(&page, "Sport One")["id"].as_u64().expect("id");
    assert_eq!(channel(&page, "Sport One")["category"], "Sports");
    assert_eq!(live_names(&srv).await, ["News One", "Sport One"]);

    // Backup URLs through the API (as `tvgate channel backup`), shown
    // redacted; an empty array clears them.
    let news = channel(&page, "News One")["id"].as_u64().expect("id");
    let news_path = format!("/api/v1/channels/{news}");
    let (status, with) = call(
        &srv,
        Method::PATCH,
        &news_path,
        t,
        Some(json!({"backups": ["http://backup.example/news.ts?token=secret-1"]})),
    )
    .await;
    assert_eq!(status, 200, "{with}");
    let shown = with["backups"].as_array().expect("backups");
    assert_eq!(shown.len(), 1, "{with}");
    assert!(!with.to_string().contains("secret-1"), "{with}");
    for (body, needle) in [
        (json!({"backups": "http://x/"}), "backups"),
        (json!({"backups": [1]}), "backups"),
        (json!({"backups": ["not-a-url"]}), "not-a-url"),
        (json!({}), "nothing to change"),
    ] {
        let (status, e) = call(&srv, Method::PATCH, &news_path, t, Some(body)).await;
        assert_eq!(status, 400, "{e}");
        assert!(e.to_string().contains(needle), "{needle}: {e}");
    }
    let (status, cleared) = call(
        &srv,
        Method::PATCH,
        &news_path,
        t,
        Some(json!({"backups": []})),
    )
    .await;
    assert_eq!(status, 200, "{cleared}");
    assert_eq!(cleared["backups"], json!([]));

    // Switch one channel off: gone for players, its URL refused.
    let (status, off) = call(
        &srv,
        Method::PATCH,
        &format!("/api/v1/channels/{sport}"),
        t,
        Some(json!({"enabled": false})),
    )
    .await;
    assert_eq!(status, 200, "{off}");
    assert_eq!(off["enabled"], false);
    assert_eq!(live_names(&srv).await, ["News One"]);
    let (status, _) = get(&srv.url(&format!("/live/alice/pw-1/{sport}.ts"))).await;
    assert_eq!(status, 404);
    let (_, page) = call(&srv, Method::GET, &path, t, None).await;
    assert_eq!(channel(&page, "Sport One")["enabled"], false, "{page}");
    let (_, only_off) = call(&srv, Method::GET, &format!("{path}&enabled=false"), t, None).await;
    assert_eq!(only_off["total"], 1, "{only_off}");
    assert_eq!(only_off["items"][0]["id"], sport, "{only_off}");

    // A refresh keeps the switch (and the id).
    let refresh = format!("/api/v1/sources/{id}/refresh");
    let (status, job) = call(&srv, Method::POST, &refresh, t, None).await;
    assert_eq!(status, 202, "{job}");
    assert_eq!(finished(&srv, &token, id).await["phase"], "done");
    assert_eq!(live_names(&srv).await, ["News One"]);
    let (_, page) = call(&srv, Method::GET, &path, t, None).await;
    assert_eq!(channel(&page, "Sport One")["id"], sport);
    assert_eq!(channel(&page, "Sport One")["enabled"], false, "{page}");

    // The whole source off: players see none of it; on again: back.
    let source_path = format!("/api/v1/sources/{id}");
    let (status, src) = call(
        &srv,
        Method::PATCH,
        &source_path,
        t,
        Some(json!({"enabled": false})),
    )
    .await;
    assert_eq!(status, 200, "{src}");
    assert_eq!(src["enabled"], false);
    assert!(live_names(&srv).await.is_empty());
    let (status, _) = call(
        &srv,
        Method::PATCH,
        &source_path,
        t,
        Some(json!({"enabled": true})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(live_names(&srv).await, ["News One"]);

    // Bad input names the field; unknown ids are 404.
    for (method, p, body, needle) in [
        (
            Method::POST,
            "/api/v1/sources".to_string(),
            json!({"kind": "pls", "location": location}),
            "kind",
        ),
        (
            Method::POST,
            "/api/v1/sources".to_string(),
            json!({"kind": "m3u", "location": "relative.m3u"}),
            "location",
        ),
        (
            Method::POST,
            "/api/v1/sources".to_string(),
            json!({"kind": "m3u", "location": location, "colour": 1}),
            "colour",
        ),
        (
            Method::POST,
            "/api/v1/sources".to_string(),
            json!({"kind": "m3u", "location": "/etc/passwd"}),
            "must be inside",
        ),
        (
            Method::POST,
            "/api/v1/sources".to_string(),
            json!({"kind": "m3u", "location": outside_link.clone()}),
            "must be inside",
        ),
        (
            Method::PATCH,
            source_path.clone(),
            json!({"enabled": "yes"}),
            "enabled",
        ),
        (
            Method::PATCH,
            source_path.clone(),
            json!({"delivery": "carrier pigeon"}),
            "delivery",
        ),
        (
            Method::PATCH,
            format!("/api/v1/channels/{sport}"),
            json!({}),
            "enabled",
        ),
    ] {
        let (status, e) = call(&srv, method, &p, t, Some(body)).await;
        assert_eq!(status, 400, "{p}: {e}");
        let message = e["error"]["message"].as_str().unwrap_or("");
        assert!(message.contains(needle), "{p}: {e}");
    }
    for (method, p, body) in [
        (
            Method::PATCH,
            "/api/v1/channels/999999".to_string(),
            Some(json!({"enabled": true})),
        ),
        (Method::GET, "/api/v1/sources/999/diagnostics".into(), None),
        (Method::POST, "/api/v1/sources/999/refresh".into(), None),
        (Method::GET, "/api/v1/channels?source=999".into(), None),
    ] {
        let (status, e) = call(&srv, method, &p, t, body).await;
        assert_eq!(status, 404, "{p}: {e}");
    }

    let (status, _) = call(&srv, Method::DELETE, &source_path, t, None).await;
    assert_eq!(status, 204);
    let (status, _) = call(&srv, Method::GET, &source_path, t, None).await;
    assert_eq!(status, 404);
    assert!(live_names(&srv).await.is_empty());
}

/// A provider that sends half the playlist, then waits to be told to send
/// the rest: a refresh stays in "downloading" for as long as the test wants.
async fn held_provider() -> (std::net::SocketAddr, Arc<tokio::sync::Notify>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let release = Arc::new(tokio::sync::Notify::new());
    let go = release.clone();
    tokio::spawn(async move {
        let Ok((mut conn, _)) = listener.accept().await else {
            return;
        };
        let mut request = Vec::new();
        let mut buf = [0u8; 1024];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            match conn.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => request.extend_from_slice(&buf[..n]),
            }
        }
        let body = PLAYLIST.as_bytes();
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let half = body.len() / 2;
        let _ = conn.write_all(head.as_bytes()).await;
        let _ = conn.write_all(&body[..half]).await;
        let _ = conn.flush().await;
        go.notified().await;
        let _ = conn.write_all(&body[half..]).await;
        let _ = conn.shutdown().await;
    });
    (addr, release)
}

#[tokio::test]
async fn one_refresh_per_source_runs_at_a_time_and_shows_its_progress() {
    let srv = TestServer::start().await;
    let (_, token) = operator(&srv).await;
    let t = Some(token.as_str());
    let (addr, release) = held_provider().await;
    let url = format!("http://user:hunter2@{addr}/get.php?username=user&password=hunter2");
    let (status, added) = call(
        &srv,
        Method::POST,
        "/api/v1/sources",
        t,
        Some(json!({"kind": "m3u", "location": url})),
    )
    .await;
    assert_eq!(status, 201, "{added}");
    assert!(!added.to_string().contains("hunter2"), "{added}");
    assert_eq!(added["name"], "get.php");
    let id = added["id"].as_i64().expect("id");

    // Wait until the first half has arrived: the job is mid-download.
    let refresh = format!("/api/v1/sources/{id}/refresh");
    loop {
        let (_, state) = call(&srv, Method::GET, &refresh, t, None).await;
        if state["phase"] == "downloading" && state["bytes"].as_u64().unwrap_or(0) > 0 {
            assert_eq!(state["total"], PLAYLIST.len(), "{state}");
            break;
        }
        assert!(state["phase"] != "failed", "{state}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let (status, refused) = call(&srv, Method::POST, &refresh, t, None).await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["refresh"]["phase"], "downloading", "{refused}");

    release.notify_one();
    let state = finished(&srv, &token, id).await;
    assert_eq!(state["phase"], "done", "{state}");
    assert!(state["finished"].is_i64(), "{state}");
    let (_, sources) = call(&srv, Method::GET, "/api/v1/sources", t, None).await;
    assert_eq!(sources["items"][0]["item_count"], 2, "{sources}");
    assert!(!sources.to_string().contains("hunter2"), "{sources}");
}

#[tokio::test]
async fn console_adds_refreshes_and_switches_sources_and_channels() {
    let srv = TestServer::start().await;
    srv.add_line("alice", "pw-1", |_| {}).await;
    let console = login(&srv).await;
    let (_, dashboard) = console.get(&srv, "/admin/").await;
    assert!(dashboard.contains("href=\"/admin/sources\""), "{dashboard}");
    let location = playlist_file(&srv);

    let r = console
        .submit(
            &srv,
            "/admin/sources",
            &[("kind", "m3u"), ("location", &location), ("name", "main")],
            Some(&console.csrf),
        )
        .await;
    assert_eq!(r.status(), 303);
    let progress = r.headers()["location"]
        .to_str()
        .expect("location")
        .to_string();
    assert!(progress.ends_with("/refresh"), "{progress}");
    let page = loop {
        let (status, page) = console.get(&srv, &progress).await;
        assert_eq!(status, 200, "{page}");
        if page.contains("class=\"phase\">done") {
            break page;
        }
        assert!(page.contains("http-equiv=\"refresh\""), "{page}");
        assert!(!page.contains("failed"), "{page}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert!(
        !page.contains("http-equiv"),
        "a finished job stops reloading: {page}"
    );
    assert!(page.contains("1 line(s) were skipped"), "{page}");

    let (_, list) = console.get(&srv, "/admin/sources").await;
    assert!(list.contains("main") && list.contains(&location), "{list}");
    let source_page = progress.trim_end_matches("/refresh").to_string();
    let (status, detail) = console.get(&srv, &source_page).await;
    assert_eq!(status, 200);
    assert!(
        detail.contains("<td>4</td><td>line is neither a directive nor a URL"),
        "{detail}"
    );
    assert!(detail.contains("Sport One") && detail.contains("News One"));
    let (_, found) = console.get(&srv, &format!("{source_page}?q=sport")).await;
    assert!(
        found.contains("Sport One") && !found.contains("News One"),
        "{found}"
    );

    // A live channel's backups from its page: shown redacted, replaced by
    // the form, a bad URL refused with its reason.
    let news = srv
        .gate
        .catalog()
        .live
        .iter()
        .find(|c| c.name() == "News One")
        .map(|c| c.id)
        .expect("news");
    let backups = format!("/admin/channels/{}/backups", news.0);
    assert!(
        detail.contains(&format!("href=\"{backups}\">Backups (0)")),
        "{detail}"
    );
    let (status, body) = console
        .post(
            &srv,
            &backups,
            &[("urls", "http://backup.example/news.ts?token=secret-2\n\n")],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(srv.gate.catalog().backups(news).len(), 1);
    let (status, shown) = console.get(&srv, &backups).await;
    assert_eq!(status, 200);
    assert!(
        shown.contains("backup.example") && !shown.contains("secret-2"),
        "{shown}"
    );
    let (status, body) = console
        .post(&srv, &backups, &[("urls", "ftp://backup.example/x")])
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(srv.gate.catalog().backups(news).len(), 1, "kept on error");
    let (status, _) = console.post(&srv, &backups, &[("urls", "")]).await;
    assert_eq!(status, 200);
    assert!(srv.gate.catalog().backups(news).is_empty());
    let (status, _) = console.get(&srv, "/admin/channels/999999/backups").await;
    assert_eq!(status, 404);

    // Disable a channel from its row.
    let sport = srv
        .gate
        .catalog()
        .live
        .iter()
        .find(|c| c.name() == "Sport One")
        .map(|c| c.id.0.to_string())
        .expect("sport");
    let r = console
        .submit(
            &srv,
            "/admin/channels/action",
            &[
                ("id", &sport),
                ("action", "disable"),
                ("back", &source_page),
            ],
            Some(&console.csrf),
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], source_page.as_str());
    assert_eq!(live_names(&srv).await, ["News One"]);
    // The way back is a console page, never elsewhere or a header break.
    for back in ["https://evil.example/", "/admin/x\r\nSet-Cookie: a=b"] {
        let r = console
            .submit(
                &srv,
                "/admin/channels/action",
                &[("id", &sport), ("action", "disable"), ("back", back)],
                Some(&console.csrf),
            )
            .await;
        assert_eq!(r.status(), 303, "{back}");
        assert_eq!(r.headers()["location"], "/admin/sources", "{back}");
    }

    // Refresh from the list: still disabled afterwards.
    let id = source_page.rsplit('/').next().expect("id").to_string();
    let r = console
        .submit(
            &srv,
            "/admin/sources/action",
            &[("id", &id), ("action", "refresh")],
            Some(&console.csrf),
        )
        .await;
    assert_eq!(r.status(), 303);
    loop {
        let (_, page) = console.get(&srv, &progress).await;
        if page.contains("class=\"phase\">done") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(live_names(&srv).await, ["News One"]);

    // The whole source off, then removed.
    let (status, body) = console
        .post(
            &srv,
            "/admin/sources/action",
            &[("id", &id), ("action", "disable")],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(live_names(&srv).await.is_empty());
    let (status, body) = console
        .post(
            &srv,
            "/admin/sources/action",
            &[("id", "nope"), ("action", "enable")],
        )
        .await;
    assert_eq!(status, 404, "{body}");
    let (status, _) = console
        .post(
            &srv,
            "/admin/sources/action",
            &[("id", &id), ("action", "remove")],
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        srv.gate.sources().await.expect("sources").len(),
        1,
        "asked first"
    );
    let (status, _) = console
        .post(
            &srv,
            "/admin/sources/action",
            &[("id", &id), ("action", "remove"), ("confirm", "yes")],
        )
        .await;
    assert_eq!(status, 200);
    let (_, list) = console.get(&srv, "/admin/sources").await;
    assert!(!list.contains(&location), "{list}");
}

#[tokio::test]
async fn console_source_forms_without_the_csrf_token_are_403() {
    let srv = TestServer::start().await;
    srv.add_line("alice", "pw-1", |_| {}).await;
    srv.with_catalog().await;
    let console = login(&srv).await;
    let before = live_names(&srv).await;
    console
        .assert_csrf_refused(
            &srv,
            &[
                (
                    "/admin/sources",
                    &[("kind", "m3u"), ("location", "/tmp/sneaky.m3u")],
                ),
                (
                    "/admin/sources/action",
                    &[("id", "1"), ("action", "disable")],
                ),
                (
                    "/admin/channels/action",
                    &[("id", "1"), ("action", "disable")],
                ),
                (
                    "/admin/channels/1/backups",
                    &[("urls", "http://backup.example/one.ts")],
                ),
            ],
        )
        .await;
    assert_eq!(live_names(&srv).await, before);
    assert!(srv.gate.catalog().backups(StreamId(1)).is_empty());
    assert_eq!(srv.gate.sources().await.expect("sources").len(), 2);
    // Pages need a session.
    let (status, _) = get(&srv.url("/admin/sources")).await;
    assert_eq!(status, 303);
}

#[tokio::test]
async fn the_cli_switches_sources_and_channels_through_the_same_gate() {
    use crate::harness::tvgate;
    let dir = tempfile::tempdir().expect("tempdir");
    let playlist = dir.path().join("cli.m3u");
    std::fs::write(&playlist, PLAYLIST).expect("write");
    let (code, out, err) = tvgate(
        dir.path(),
        &["source", "add", "m3u", playlist.to_str().expect("path")],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("added source 1"), "{out}");
    let names = |dir: &std::path::Path| {
        let (code, out, err) = tvgate(dir, &["channel", "list", "--json"]);
        assert_eq!(code, 0, "{err}");
        let v: Value = serde_json::from_str(&out).expect("json");
        v["streams"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s["name"].as_str().map(str::to_string))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    assert_eq!(names(dir.path()), ["News One", "Sport One"]);
    let (code, out, err) = tvgate(dir.path(), &["channel", "disable", "2"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(names(dir.path()), ["News One"]);
    let (code, out, err) = tvgate(dir.path(), &["channel", "list", "--disabled", "--json"]);
    assert_eq!(code, 0, "{err}");
    let off: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(off["disabled"][0]["stream_id"], 2, "{off}");
    assert_eq!(off["disabled"][0]["name"], "Sport One", "{off}");
    let (code, _, err) = tvgate(dir.path(), &["source", "refresh", "1"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        names(dir.path()),
        ["News One"],
        "a refresh keeps the switch"
    );
    let (code, out, err) = tvgate(dir.path(), &["source", "disable", "1"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("disabled"), "{out}");
    assert!(names(dir.path()).is_empty());
    let (code, _, err) = tvgate(dir.path(), &["source", "enable", "1"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(names(dir.path()), ["News One"]);
    let (code, _, err) = tvgate(dir.path(), &["channel", "disable", "999999"]);
    assert_ne!(code, 0);
    assert!(err.contains("999999"), "{err}");
}

/// The refresh schedule re-imports an enabled source once its last refresh
/// is `source_refresh_hours` old (by the server's clock, which the test
/// moves), through the same background job as a refresh started by hand; a
/// disabled source waits.
#[tokio::test]
async fn the_schedule_refreshes_enabled_sources_when_they_are_due() {
    let srv = TestServer::start_with(|h| {
        h.source_refresh_hours = 1;
        h.source_refresh_check = std::time::Duration::from_millis(20);
    })
    .await;
    srv.add_line("alice", "pw-1", |_| {}).await;
    let (_, token) = operator(&srv).await;
    let t = Some(token.as_str());
    let location = playlist_file(&srv);
    let mut ids = Vec::new();
    for name in ["kept", "switched-off"] {
        let (status, added) = call(
            &srv,
            Method::POST,
            "/api/v1/sources",
            t,
            Some(json!({"kind": "m3u", "location": location, "name": name})),
        )
        .await;
        assert_eq!(status, 201, "{added}");
        let id = added["id"].as_i64().expect("id");
        assert_eq!(finished(&srv, &token, id).await["phase"], "done");
        ids.push(id);
    }
    let (kept, off) = (ids[0], ids[1]);
    let (status, _) = call(
        &srv,
        Method::PATCH,
        &format!("/api/v1/sources/{off}"),
        t,
        Some(json!({"enabled": false})),
    )
    .await;
    assert_eq!(status, 200);
    let started = |v: &Value| v["started"].as_i64().expect("started");
    let (_, before) = call(
        &srv,
        Method::GET,
        &format!("/api/v1/sources/{kept}/refresh"),
        t,
        None,
    )
    .await;
    let (_, off_before) = call(
        &srv,
        Method::GET,
        &format!("/api/v1/sources/{off}/refresh"),
        t,
        None,
    )
    .await;

    srv.clock
        .fetch_add(3600, std::sync::atomic::Ordering::Relaxed);
    let after = loop {
        let state = finished(&srv, &token, kept).await;
        if started(&state) > started(&before) {
            break state;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(after["phase"], "done", "{after}");
    let (_, off_after) = call(
        &srv,
        Method::GET,
        &format!("/api/v1/sources/{off}/refresh"),
        t,
        None,
    )
    .await;
    assert_eq!(
        started(&off_after),
        started(&off_before),
        "a disabled source is not refreshed: {off_after}"
    );
}
