//! Every denial reason, answered precisely once the credentials are proven
//! and never before.

use crate::harness::*;
use tvgate_core::access::{OutputFormat, OutputFormats, Status};
use tvgate_http::FailedLoginStyle;

#[tokio::test]
async fn unknown_user_and_wrong_password_are_byte_identical() {
    let srv = TestServer::start().await;
    srv.add_line("alice", "right-1", |_| {}).await;
    srv.add_line("expired", "right-2", |s| s.expires_at = Some(NOW - 10))
        .await;
    let answer = |q: &'static str| {
        let url = srv.url(q);
        async move {
            let r = client().get(url).send().await.expect("request");
            let status = r.status();
            let ct = r.headers().get("content-type").cloned();
            (status, ct, r.bytes().await.expect("body"))
        }
    };
    let wrong = answer("/player_api.php?username=alice&password=wrong").await;
    let unknown = answer("/player_api.php?username=nobody&password=right-1").await;
    let wrong_on_expired = answer("/player_api.php?username=expired&password=wrong").await;
    assert_eq!(wrong, unknown);
    assert_eq!(
        wrong, wrong_on_expired,
        "a wrong password says nothing about the line"
    );
    assert_eq!(&wrong.2[..], br#"{"user_info":{"auth":0}}"#);
    assert_eq!(wrong.0, 200);
    // The same holds on every face.
    for path in [
        "/get.php?username=alice&password=wrong",
        "/live/alice/wrong/1.ts",
        "/xmltv.php?username=alice&password=wrong",
    ] {
        let a = get(&srv.url(path)).await;
        let b = get(&srv.url(&path.replace("alice", "nobody"))).await;
        assert_eq!(a, b, "{path}");
        assert_eq!(a.0, 401, "{path}");
    }
}

#[tokio::test]
async fn the_failed_login_answer_is_configurable() {
    for (style, status) in [
        (FailedLoginStyle::Unauthorized, 401),
        (FailedLoginStyle::Forbidden, 403),
        (FailedLoginStyle::NotFound, 404),
    ] {
        let srv = TestServer::start_with(|h| h.failed_login = style).await;
        let (s, _) = get(&srv.url("/player_api.php?username=a&password=b")).await;
        assert_eq!(s, status);
    }
}

#[tokio::test]
async fn an_expired_line_is_told_exactly() {
    let srv = TestServer::start().await;
    let ended = NOW - 3 * 86_400; // 2027-01-12
    srv.add_line("bob", "pw-2", |s| s.expires_at = Some(ended))
        .await;
    srv.with_catalog().await;
    let v = get_json(&srv.url("/player_api.php?username=bob&password=pw-2")).await;
    assert_eq!(v["user_info"]["auth"], 1);
    assert_eq!(v["user_info"]["status"], "Expired");
    assert_eq!(
        v["user_info"]["exp_date"],
        ended.to_string(),
        "the date is truthful"
    );
    assert_eq!(
        v["user_info"]["message"],
        "Subscription expired on 2027-01-12"
    );
    assert_eq!(v["tvgate"]["reason"], "expired");
    // Data actions answer the login payload, as Xtream Codes does.
    let v =
        get_json(&srv.url("/player_api.php?username=bob&password=pw-2&action=get_live_streams"))
            .await;
    assert_eq!(v["user_info"]["status"], "Expired");
    let (status, body) = get(&srv.url("/live/bob/pw-2/1.ts")).await;
    assert_eq!(status, 403);
    assert_eq!(body, "expired: Subscription expired on 2027-01-12\n");
    let (status, _) = get(&srv.url("/get.php?username=bob&password=pw-2")).await;
    assert_eq!(status, 403);
    assert_eq!(
        srv_metric(&srv, "expired").await,
        4,
        "login, action, stream and playlist each counted"
    );
}

async fn srv_metric(srv: &TestServer, reason: &str) -> u64 {
    let (_, text) = get(&srv.url("/metrics")).await;
    let prefix = format!("tvgate_denials_total{{reason=\"{reason}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn banned_and_disabled_lines() {
    let srv = TestServer::start().await;
    srv.add_line("banned", "pw-3", |s| s.status = Status::Banned)
        .await;
    srv.add_line("paused", "pw-4", |s| s.status = Status::Disabled)
        .await;
    srv.with_catalog().await;
    let v = get_json(&srv.url("/player_api.php?username=banned&password=pw-3")).await;
    assert_eq!(
        (
            v["user_info"]["auth"].clone(),
            v["user_info"]["status"].clone()
        ),
        (1.into(), "Banned".into())
    );
    assert_eq!(v["tvgate"]["reason"], "banned");
    let v = get_json(&srv.url("/player_api.php?username=paused&password=pw-4")).await;
    assert_eq!(v["user_info"]["status"], "Disabled");
    let (status, body) = get(&srv.url("/live/paused/pw-4/1.ts")).await;
    assert_eq!((status, body.starts_with("disabled: ")), (403, true));
    let (status, body) = get(&srv.url("/live/banned/pw-3/1.ts")).await;
    assert_eq!((status, body.starts_with("banned: ")), (403, true));
}

#[tokio::test]
async fn output_format_and_package() {
    let srv = TestServer::start().await;
    srv.with_catalog().await;
    let news = srv
        .gate
        .catalog()
        .categories
        .iter()
        .find(|c| &*c.name == "News")
        .map(|c| c.id)
        .expect("news");
    srv.add_line("tsonly", "pw-5", |s| {
        s.allowed_formats = OutputFormats::empty().with(OutputFormat::Ts)
    })
    .await;
    srv.add_line("newsonly", "pw-6", |s| s.package = Some(vec![news]))
        .await;
    let (status, body) = get(&srv.url("/live/tsonly/pw-5/1.m3u8")).await;
    assert_eq!(
        (status, body.split(':').next()),
        (403, Some("output_format_not_allowed"))
    );
    let (status, _) = get(&srv.url("/get.php?username=tsonly&password=pw-5&output=m3u8")).await;
    assert_eq!(status, 403);
    let (status, body) = get(&srv.url("/live/newsonly/pw-6/2.ts")).await;
    assert_eq!(
        (status, body.split(':').next()),
        (403, Some("not_in_package"))
    );
    let live = get_json(
        &srv.url("/player_api.php?username=newsonly&password=pw-6&action=get_live_streams"),
    )
    .await;
    assert_eq!(
        live.as_array().map(Vec::len),
        Some(1),
        "lists show only the package"
    );
    let cats = get_json(
        &srv.url("/player_api.php?username=newsonly&password=pw-6&action=get_live_categories"),
    )
    .await;
    assert_eq!(cats.as_array().map(Vec::len), Some(1));
    let (_, m3u) = get(&srv.url("/get.php?username=newsonly&password=pw-6")).await;
    assert_eq!(m3u.matches("#EXTINF").count(), 1);
}

#[tokio::test]
async fn guessing_is_rate_limited_but_typos_are_not() {
    let srv = TestServer::start().await;
    srv.add_line("carol", "pw-7", |_| {}).await;
    for i in 0..19 {
        let (status, _) =
            get(&srv.url(&format!("/player_api.php?username=carol&password=guess{i}"))).await;
        assert_eq!(status, 200, "attempt {i} is an ordinary failure");
    }
    let v = get_json(&srv.url("/player_api.php?username=carol&password=pw-7")).await;
    assert_eq!(
        v["user_info"]["auth"], 1,
        "19 typos do not lock the subscriber out"
    );
    get(&srv.url("/player_api.php?username=carol&password=guess-last")).await;
    let r = client()
        .get(srv.url("/player_api.php?username=carol&password=pw-7"))
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 429, "over the limit: refused unheard");
    assert!(r.headers().contains_key("retry-after"));
    let v: serde_json::Value = r.json().await.expect("json");
    assert_eq!(v["tvgate"]["reason"], "rate_limited");
    assert_eq!(v["user_info"]["auth"], 0);
    // The limit drains with time (one failure per 30 s by default).
    srv.clock
        .fetch_add(60, std::sync::atomic::Ordering::Relaxed);
    let v = get_json(&srv.url("/player_api.php?username=carol&password=pw-7")).await;
    assert_eq!(v["user_info"]["auth"], 1);
}

// ----- the denial log (docs/denials.md) -----

/// An operator's API token.
async fn api_token(srv: &TestServer) -> String {
    srv.gate.create_admin("olga", NOW).await.expect("admin");
    let (_, token) = srv
        .gate
        .create_api_token("olga", "denials", NOW)
        .await
        .expect("token");
    token
}

async fn denials(srv: &TestServer, token: &str, query: &str) -> (u16, serde_json::Value) {
    let r = client()
        .get(srv.url(&format!("/api/v1/denials{query}")))
        .bearer_auth(token)
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.expect("JSON"))
}

/// `(reason, username)` of each item, in order.
fn reasons(v: &serde_json::Value) -> Vec<(String, String)> {
    v["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| {
            (
                i["reason"].as_str().unwrap_or("").to_string(),
                i["username"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// A client whose requests come from another loopback address.
fn from(ip: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(std::net::IpAddr::from(ip))
        .build()
        .expect("client")
}

/// Three refusals a minute apart: a disabled line (127.0.0.1), a wrong
/// password for it and an unknown username (both from 127.0.0.2).
async fn three_refusals(srv: &TestServer) {
    srv.add_line("dora", "pw-33", |s| s.status = Status::Disabled)
        .await;
    get(&srv.url("/player_api.php?username=dora&password=pw-33")).await;
    srv.clock
        .fetch_add(60, std::sync::atomic::Ordering::Relaxed);
    let other = from([127, 0, 0, 2]);
    for q in [
        "/player_api.php?username=DORA&password=wrong",
        "/live/ghost/nope/1.ts",
    ] {
        other.get(srv.url(q)).send().await.expect("request");
        srv.clock
            .fetch_add(60, std::sync::atomic::Ordering::Relaxed);
    }
}

#[tokio::test]
async fn the_api_filters_the_denial_log_by_reason_line_and_ip() {
    let srv = TestServer::start().await;
    let token = api_token(&srv).await;
    three_refusals(&srv).await;

    // Read right after the requests: no wait for the background writer.
    let (status, all) = denials(&srv, &token, "").await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(
        reasons(&all),
        [
            ("invalid_credentials".into(), "ghost".into()),
            ("invalid_credentials".into(), "DORA".into()),
            ("disabled".into(), "dora".into()),
        ],
        "newest first"
    );
    assert_eq!(all["next_before"], serde_json::Value::Null);
    let disabled = &all["items"][2];
    assert_eq!(disabled["line"], "dora");
    assert_eq!(disabled["at"], NOW);
    assert_eq!(disabled["ip"], "127.0.0.1");
    assert_eq!(disabled["face"], "player_api");
    assert_eq!(disabled["text"], "Subscription suspended by the provider");
    // An unknown username (and a wrong password) is kept as presented,
    // with no line.
    let ghost = &all["items"][0];
    assert_eq!(ghost["line"], serde_json::Value::Null);
    assert_eq!(ghost["face"], "stream");
    assert_eq!(all["items"][1]["line"], serde_json::Value::Null);

    let (_, v) = denials(&srv, &token, "?reason=disabled").await;
    assert_eq!(reasons(&v), [("disabled".into(), "dora".into())]);
    let (_, v) = denials(&srv, &token, "?line=Dora").await;
    assert_eq!(reasons(&v).len(), 2, "the line's name in any case: {v}");
    let (_, v) = denials(&srv, &token, "?line=ghost").await;
    assert_eq!(
        reasons(&v),
        [("invalid_credentials".into(), "ghost".into())]
    );
    let (_, v) = denials(&srv, &token, "?ip=127.0.0.2").await;
    assert_eq!(reasons(&v).len(), 2, "{v}");
    let (_, v) = denials(
        &srv,
        &token,
        "?ip=127.0.0.2&reason=invalid_credentials&line=dora",
    )
    .await;
    assert_eq!(reasons(&v), [("invalid_credentials".into(), "DORA".into())]);
    let (_, v) = denials(
        &srv,
        &token,
        &format!("?since={}&until={}", NOW + 30, NOW + 90),
    )
    .await;
    assert_eq!(reasons(&v), [("invalid_credentials".into(), "DORA".into())]);

    // Pages: `next_before` leads to the older refusals, the last page has none.
    let (_, first) = denials(&srv, &token, "?limit=2").await;
    assert_eq!(reasons(&first).len(), 2);
    let before = first["next_before"].as_i64().expect("a next page");
    let (_, second) = denials(&srv, &token, &format!("?limit=2&before={before}")).await;
    assert_eq!(reasons(&second), [("disabled".into(), "dora".into())]);
    assert_eq!(second["next_before"], serde_json::Value::Null);

    // Bad filters are a 400 naming the field; an unknown reason lists the codes.
    let (status, v) = denials(&srv, &token, "?reason=expird").await;
    assert_eq!(status, 400, "{v}");
    let msg = v["error"]["message"].as_str().unwrap_or("");
    assert!(
        msg.contains("reason") && msg.contains("expired, output_format_not_allowed"),
        "{msg}"
    );
    for (q, field) in [
        ("?ip=1.2.3", "ip"),
        ("?limit=5000", "limit"),
        ("?before=x", "before"),
        ("?since=today", "since"),
    ] {
        let (status, v) = denials(&srv, &token, q).await;
        assert_eq!(status, 400, "{q}: {v}");
        assert!(
            v["error"]["message"].as_str().unwrap_or("").contains(field),
            "{q}: {v}"
        );
    }
    // Without a token: the API's one 401.
    let (status, _) = get(&srv.url("/api/v1/denials")).await;
    assert_eq!(status, 401);
    let (_, metrics) = get(&srv.url("/metrics")).await;
    assert!(
        metrics.contains("\ntvgate_refusals_dropped_total 0\n"),
        "nothing lost: {metrics}"
    );
}

#[tokio::test]
async fn refusals_survive_a_restart_and_old_ones_are_pruned_at_start() {
    let mut srv = TestServer::start().await;
    let token = api_token(&srv).await;
    // One refusal from three days ago, then today's three.
    srv.add_line("old", "pw-1", |s| s.status = Status::Banned)
        .await;
    srv.clock
        .store(NOW - 3 * 86_400, std::sync::atomic::Ordering::Relaxed);
    get(&srv.url("/player_api.php?username=old&password=pw-1")).await;
    srv.clock.store(NOW, std::sync::atomic::Ordering::Relaxed);
    three_refusals(&srv).await;
    let (_, before) = denials(&srv, &token, "").await;
    assert_eq!(reasons(&before).len(), 4, "{before}");

    // The same data directory, kept for 30 days: everything is still there.
    let dir = std::mem::replace(&mut srv.dir, tempfile::tempdir().expect("tempdir"));
    drop(srv);
    let srv = TestServer::start_in(dir, |_| {}, true).await;
    let (_, after) = denials(&srv, &token, "").await;
    assert_eq!(after["items"], before["items"]);

    // Kept for 2 days: the old refusal goes at start, today's stay.
    let mut srv = srv;
    let dir = std::mem::replace(&mut srv.dir, tempfile::tempdir().expect("tempdir"));
    drop(srv);
    let srv = TestServer::start_in(dir, |h| h.denial_log_days = 2, true).await;
    let (_, pruned) = denials(&srv, &token, "").await;
    assert_eq!(reasons(&pruned).len(), 3, "{pruned}");
    assert!(!pruned.to_string().contains("banned"), "{pruned}");
}
