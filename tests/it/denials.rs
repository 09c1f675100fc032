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
