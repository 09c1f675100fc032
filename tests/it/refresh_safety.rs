//! Refresh safety (issue 13 item 3): a refresh that would remove more of a
//! source's entries than `refresh_shrink_guard` allows is held, shown with
//! its reason (CLI, API, console) and applied only when the operator says
//! so; a provider that dies in the middle of a download never leaves half a
//! catalog. The provider here is a stand-in, since what it does (cut a body
//! short) is what tvgate itself never does.

use crate::admin_api::call;
use crate::console::login;
use crate::harness::*;
use reqwest::Method;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tvgate_core::catalog::SourceKind;
use tvgate_core::gate::GateError;
use tvgate_core::ports::NewSource;

/// A playlist of `n` live channels named `prefix N`.
fn playlist(n: usize, prefix: &str) -> String {
    let mut text = String::from("#EXTM3U\n");
    for i in 0..n {
        text.push_str(&format!(
            "#EXTINF:-1 tvg-id=\"c{i}\" group-title=\"G\",{prefix} {i}\nhttp://127.0.0.1:9/{i}.ts\n"
        ));
    }
    text
}

/// How the stand-in provider answers its next requests.
#[derive(Clone, Copy)]
enum Answer {
    /// The whole body, with its length.
    Whole,
    /// A length header for the whole body, then only this many bytes and
    /// the connection closed: the download fails.
    DiesAfter(usize),
    /// No length header (the body ends when the connection closes), and
    /// the connection closed after this many bytes: the download looks
    /// complete and only the guard can tell.
    ClosesAfter(usize),
}

/// A provider serving `body` as the current [`Answer`] says.
async fn provider(body: String) -> (String, Arc<Mutex<Answer>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let answer = Arc::new(Mutex::new(Answer::Whole));
    let mode = answer.clone();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let how = *mode.lock().expect("answer");
            let body = body.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let bytes = body.as_bytes();
                let (head, sent) = match how {
                    Answer::Whole => (
                        format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", bytes.len()),
                        bytes,
                    ),
                    Answer::DiesAfter(n) => (
                        format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", bytes.len()),
                        &bytes[..n],
                    ),
                    Answer::ClosesAfter(n) => (
                        "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_string(),
                        &bytes[..n],
                    ),
                };
                let _ = conn.write_all(head.as_bytes()).await;
                let _ = conn.write_all(sent).await;
                let _ = conn.shutdown().await;
            });
        }
    });
    (
        format!("http://{addr}/get.php?username=u&password=p"),
        answer,
    )
}

#[tokio::test]
async fn a_provider_that_dies_mid_download_leaves_the_catalog_whole_and_a_short_list_is_held() {
    let srv = TestServer::start().await;
    let body = playlist(1000, "Channel");
    let (url, answer) = provider(body.clone()).await;
    let source = srv
        .gate
        .add_source(NewSource {
            kind: SourceKind::M3u,
            location: url,
            name: "provider".into(),
            created_at: NOW,
            max_connections: 0,
            delivery: Default::default(),
        })
        .await
        .expect("source");
    let refresh = |accept: bool| {
        let gate = srv.gate.clone();
        let source = source.clone();
        let dir = srv.dir.path().to_path_buf();
        async move {
            tvgate::sources::refresh_with(
                &gate,
                &source,
                &dir,
                tvgate::sources::quiet(),
                accept,
                &tvgate_relay::EgressGuard::unrestricted(),
            )
            .await
        }
    };
    let report = refresh(false).await.expect("first refresh");
    assert_eq!(report.items.live, 1000);

    // Dies in the middle of the body: the refresh fails, nothing changes.
    *answer.lock().expect("answer") = Answer::DiesAfter(body.len() / 2);
    let failed = refresh(false).await.expect_err("a cut body fails");
    assert!(format!("{failed:#}").contains("reading"), "{failed:#}");
    assert_eq!(srv.gate.catalog().live.len(), 1000);
    let s = srv.gate.source(source.id).await.expect("source");
    assert!(s.last_error.is_some(), "{s:?}");
    assert_eq!(s.item_count, 1000, "a failed refresh keeps the count");
    assert_eq!(s.held, None);

    // Closes early without a length: it reads as a short list, which the
    // guard holds (200 of 1000 would remove 80 %).
    let cut = body.match_indices("#EXTINF").nth(200).expect("entry 200").0;
    *answer.lock().expect("answer") = Answer::ClosesAfter(cut);
    let held = refresh(false).await.expect_err("held");
    assert!(format!("{held:#}").contains("held"), "{held:#}");
    assert_eq!(srv.gate.catalog().live.len(), 1000, "players keep all");
    let s = srv.gate.source(source.id).await.expect("source");
    let h = s.held.clone().expect("recorded as held");
    assert_eq!((h.before, h.after), (1000, 200));
    assert!(h.reason.contains("80 %"), "{}", h.reason);
    assert!(
        h.reason
            .contains(&format!("source refresh {} --accept-shrink", source.id)),
        "{}",
        h.reason
    );
    assert_eq!(s.item_count, 1000);

    // A refresh within the guard applies and clears the hold.
    *answer.lock().expect("answer") = Answer::Whole;
    refresh(false).await.expect("whole again");
    assert_eq!(srv.gate.source(source.id).await.expect("s").held, None);

    // The operator applies a short list on purpose.
    *answer.lock().expect("answer") = Answer::ClosesAfter(cut);
    refresh(false).await.expect_err("held again");
    let report = refresh(true).await.expect("accepted");
    assert_eq!((report.items.live, report.items.removed), (200, 800));
    assert_eq!(srv.gate.catalog().live.len(), 200);
    let s = srv.gate.source(source.id).await.expect("source");
    assert_eq!((s.held, s.item_count), (None, 200));
}

#[tokio::test]
async fn the_gate_holds_a_shrinking_guide_and_applies_it_when_accepted() {
    let srv = TestServer::start().await;
    let guide = |n: usize| {
        let mut xml = String::from("<?xml version=\"1.0\"?>\n<tv>\n");
        for i in 0..n {
            xml.push_str(&format!(
                "<programme start=\"2027011508{:02}00 +0000\" stop=\"2027011508{:02}00 +0000\" channel=\"x\"><title>P{i}</title></programme>\n",
                i % 59,
                i % 59 + 1
            ));
        }
        xml + "</tv>\n"
    };
    let (source, _) = srv.add_source(SourceKind::Xmltv, "g.xml", &guide(50)).await;
    std::fs::write(&source.location, guide(10)).expect("rewrite");
    let parsed = |accept| {
        let gate = srv.gate.clone();
        let source = source.clone();
        let dir = srv.dir.path().to_path_buf();
        async move {
            tvgate::sources::refresh_with(
                &gate,
                &source,
                &dir,
                tvgate::sources::quiet(),
                accept,
                &tvgate_relay::EgressGuard::unrestricted(),
            )
            .await
        }
    };
    parsed(false).await.expect_err("held");
    let held = srv.gate.source(source.id).await.expect("s").held;
    assert_eq!(held.map(|h| (h.before, h.after)), Some((50, 10)));
    // Straight through the gate: the same answer, nothing stored.
    let again = srv
        .gate
        .import_source(
            source.id,
            Ok(tvgate_core::gate::ParsedSource {
                content: tvgate_core::gate::SourceContent::Guide(Default::default()),
                diagnostics: vec![],
            }),
            NOW,
        )
        .await
        .expect_err("an empty guide is held");
    assert!(matches!(again, GateError::RefreshHeld(_)), "{again}");
    assert_eq!(srv.gate.catalog().programmes("x").len(), 50);
    parsed(true).await.expect("accepted");
    assert_eq!(srv.gate.catalog().programmes("x").len(), 10);
}

#[test]
fn the_cli_shows_a_held_refresh_with_its_reason_and_applies_it_with_accept_shrink() {
    let dir = tempfile::tempdir().expect("dir");
    let list = dir.path().join("list.m3u");
    std::fs::write(&list, playlist(10, "Channel")).expect("write");
    let list = list.to_string_lossy().into_owned();
    let (code, out, err) = tvgate(dir.path(), &["source", "add", "m3u", &list]);
    assert_eq!(code, 0, "{out}{err}");
    std::fs::write(&list, playlist(3, "Channel")).expect("rewrite");

    let (code, out, err) = tvgate(dir.path(), &["source", "refresh", "1"]);
    assert_ne!(code, 0, "a held refresh is not a success: {out}{err}");
    assert!(err.contains("held"), "{err}");
    assert!(err.contains("--accept-shrink"), "{err}");

    let (code, out, _) = tvgate(dir.path(), &["source", "list"]);
    assert_eq!(code, 0);
    assert!(out.contains("held since"), "{out}");
    assert!(
        out.contains("read 3 entries where the source has 10"),
        "{out}"
    );
    let (_, json, _) = tvgate(dir.path(), &["source", "list", "--json"]);
    let sources: Value = serde_json::from_str(&json).expect("json");
    assert_eq!(sources[0]["held"]["before"], 10, "{sources}");
    assert_eq!(sources[0]["held"]["after"], 3, "{sources}");
    assert_eq!(sources[0]["item_count"], 10, "{sources}");

    // --accept-shrink names one source.
    let (code, _, err) = tvgate(dir.path(), &["source", "refresh", "--accept-shrink"]);
    assert_ne!(code, 0, "{err}");

    let (code, out, err) = tvgate(dir.path(), &["source", "refresh", "1", "--accept-shrink"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("3 live channels"), "{out}");
    let (_, json, _) = tvgate(dir.path(), &["source", "list", "--json"]);
    let sources: Value = serde_json::from_str(&json).expect("json");
    assert_eq!(sources[0]["held"], Value::Null, "{sources}");
    assert_eq!(sources[0]["item_count"], 3, "{sources}");
}

/// Polls a refresh job until it ends.
async fn job_end(srv: &TestServer, token: &str, id: i64) -> Value {
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

#[tokio::test]
async fn the_api_and_the_console_show_a_held_refresh_and_apply_it() {
    let srv = TestServer::start().await;
    // The console's operator, and an API token of theirs.
    let console = login(&srv).await;
    let (_, token) = srv
        .gate
        .create_api_token("olga", "tests", NOW)
        .await
        .expect("token");
    let t = Some(token.as_str());
    let (source, _) = srv
        .add_source(SourceKind::M3u, "api.m3u", &playlist(20, "Channel"))
        .await;
    let id = source.id.0;
    std::fs::write(&source.location, playlist(5, "Channel")).expect("rewrite");
    let refresh = format!("/api/v1/sources/{id}/refresh");
    let (status, job) = call(&srv, Method::POST, &refresh, t, None).await;
    assert_eq!(status, 202, "{job}");
    let state = job_end(&srv, &token, id).await;
    assert_eq!(state["phase"], "failed", "{state}");
    assert!(
        state["error"].as_str().unwrap_or("").contains("held"),
        "{state}"
    );
    assert_eq!(state["entries"], 5, "entries read: {state}");
    let (_, shown) = call(&srv, Method::GET, &format!("/api/v1/sources/{id}"), t, None).await;
    assert_eq!(shown["held"]["before"], 20, "{shown}");
    assert_eq!(shown["held"]["after"], 5, "{shown}");
    assert!(shown["held"]["reason"].as_str().is_some(), "{shown}");
    assert_eq!(shown["item_count"], 20, "{shown}");
    assert!(shown["guide_matches"].is_object(), "{shown}");

    // The console shows the reason and the button that applies it.
    let (_, list) = console.get(&srv, "/admin/sources").await;
    assert!(list.contains("held: "), "{list}");
    assert!(list.contains("value=\"accept_shrink\""), "{list}");
    let (_, page) = console.get(&srv, &format!("/admin/sources/{id}")).await;
    assert!(page.contains("A refresh is held since"), "{page}");
    assert!(page.contains("where the source has 20"), "{page}");
    // Applying asks first.
    let (status, confirm) = console
        .post(
            &srv,
            "/admin/sources/action",
            &[("id", &id.to_string()), ("action", "accept_shrink")],
        )
        .await;
    assert_eq!(status, 200);
    assert!(confirm.contains("name=\"confirm\""), "{confirm}");

    let (status, e) = call(
        &srv,
        Method::POST,
        &format!("{refresh}?accept_shrink=maybe"),
        t,
        None,
    )
    .await;
    assert_eq!(status, 400, "{e}");
    let (status, job) = call(
        &srv,
        Method::POST,
        &format!("{refresh}?accept_shrink=true"),
        t,
        None,
    )
    .await;
    assert_eq!(status, 202, "{job}");
    let state = job_end(&srv, &token, id).await;
    assert_eq!(state["phase"], "done", "{state}");
    let (_, shown) = call(&srv, Method::GET, &format!("/api/v1/sources/{id}"), t, None).await;
    assert_eq!(shown["held"], Value::Null, "{shown}");
    assert_eq!(shown["item_count"], 5, "{shown}");
    let (_, page) = console.get(&srv, &format!("/admin/sources/{id}")).await;
    assert!(!page.contains("A refresh is held"), "{page}");
}
