//! The dashboard's figures through `GET /api/v1/stats` (issue 18): made
//! by real viewers, logins and refusals, checked against `/metrics` in the
//! same test, and kept across a restart through the store.

use crate::admin_api::{call, operator};
use crate::harness::*;
use reqwest::Method;
use serde_json::Value;
use std::time::{Duration, Instant};

/// The value of one exact series of the `/metrics` text (0 when absent).
async fn metric(srv: &TestServer, series: &str) -> u64 {
    let (_, text) = get(&srv.url("/metrics")).await;
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0)
}

async fn stats(srv: &TestServer, token: &str) -> Value {
    let (status, v) = call(
        srv,
        Method::GET,
        "/api/v1/stats?window=24h",
        Some(token),
        None,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    v
}

/// A server with a full line (one connection), an expired one and one
/// expiring in three days; one viewer watching, a second refused, a bad
/// password and an expired login refused.
async fn busy() -> (TestServer, reqwest::Response) {
    let srv = TestServer::start_with(|h| {
        h.admission_wait = Duration::from_millis(200);
        // Refused streams answered with a status, not the slate's video.
        h.stream_denials = tvgate_http::slate::StreamDenials::Status;
    })
    .await;
    srv.with_catalog().await;
    srv.add_line("tina", "pw-11", |s| s.max_connections = 1)
        .await;
    srv.add_line("soon", "pw-22", |s| s.expires_at = Some(NOW + 3 * 86_400))
        .await;
    srv.add_line("old", "pw-33", |s| s.expires_at = Some(NOW - 60))
        .await;
    let login = get_json(&srv.url("/player_api.php?username=tina&password=pw-11")).await;
    assert_eq!(login["user_info"]["auth"], 1);
    let mut tv = client()
        .get(srv.url("/live/tina/pw-11/1.ts"))
        .header("user-agent", "LivingRoomTV/1.0")
        .send()
        .await
        .expect("stream");
    assert_eq!(tv.status(), 200);
    for _ in 0..3 {
        assert!(tv.chunk().await.expect("chunk").is_some());
    }
    let phone = client()
        .get(srv.url("/live/tina/pw-11/1.ts"))
        .header("user-agent", "Phone/2.0")
        .send()
        .await
        .expect("second stream");
    assert_ne!(phone.status(), 200, "the line is full");
    let (status, _) = get(&srv.url("/player_api.php?username=tina&password=wrong")).await;
    assert!(status < 500);
    let expired = get_json(&srv.url("/player_api.php?username=old&password=pw-33")).await;
    assert_eq!(expired["user_info"]["status"], "Expired", "{expired}");
    (srv, tv)
}

#[tokio::test]
async fn the_dashboard_figures_add_up_to_the_metrics() {
    let (srv, tv) = busy().await;
    let (_, token) = operator(&srv).await;
    // While the viewer watches.
    let v = stats(&srv, &token).await;
    assert_eq!(v["window_secs"], 86_400);
    assert_eq!(v["now"]["viewers"], 1, "{v}");
    assert_eq!(metric(&srv, "tvgate_viewers").await, 1);
    assert_eq!(
        v["now"]["lines"],
        serde_json::json!({"total": 3, "active": 2, "expiring_7d": 1, "expired": 1, "disabled": 0, "banned": 0})
    );
    let samples = v["samples"].as_array().expect("samples");
    assert_eq!(samples.len(), 1, "one minute of the test clock: {v}");
    assert_eq!(samples[0]["minute"], NOW - NOW % 60);
    assert_eq!(samples[0]["viewers"], 1);
    assert_eq!(v["totals"]["viewers_max"], 1);

    // The viewer leaves; then every count is final.
    drop(tv);
    let deadline = Instant::now() + Duration::from_secs(5);
    while metric(&srv, "tvgate_viewers").await != 0 {
        assert!(Instant::now() < deadline, "the viewer's slot was not freed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let v = stats(&srv, &token).await;
    assert_eq!(v["now"]["viewers"], 0);
    let totals = &v["totals"];
    let bytes = metric(&srv, "tvgate_viewer_bytes_total").await;
    assert!(bytes > 0);
    assert_eq!(totals["bytes_out"], bytes, "{v}");
    assert_eq!(totals["logins"], metric(&srv, "tvgate_logins_total").await);
    assert_eq!(totals["logins"], 1);
    let refusals = totals["refusals"].as_object().expect("refusals by reason");
    for reason in ["connection_limit", "invalid_credentials", "expired"] {
        let counted = metric(
            &srv,
            &format!("tvgate_denials_total{{reason=\"{reason}\"}}"),
        )
        .await;
        assert!(counted > 0, "{reason}");
        assert_eq!(refusals[reason], counted, "{reason}: {v}");
    }
    let listed: u64 = refusals.values().filter_map(Value::as_u64).sum();
    let (_, text) = get(&srv.url("/metrics")).await;
    let all: u64 = text
        .lines()
        .filter(|l| l.starts_with("tvgate_denials_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum();
    assert_eq!(listed, all, "every reason, none missing");
    assert_eq!(v["now"]["refusals_last_hour"], totals["refusals"]);
}

#[tokio::test]
async fn the_samples_survive_a_restart() {
    let (srv, tv) = busy().await;
    let (_, token) = operator(&srv).await;
    drop(tv);
    let before = stats(&srv, &token).await;
    assert_eq!(before["totals"]["logins"], 1);
    let srv = srv.restart().await;
    let after = stats(&srv, &token).await;
    assert_eq!(after["totals"]["logins"], 1, "{after}");
    assert_eq!(
        after["totals"]["refusals"], before["totals"]["refusals"],
        "kept by the store"
    );
    assert!(after["totals"]["bytes_out"].as_u64() >= before["totals"]["bytes_out"].as_u64());
}

#[tokio::test]
async fn a_bad_window_is_a_400_and_no_token_a_401() {
    let srv = TestServer::start().await;
    let (_, token) = operator(&srv).await;
    let (status, v) = call(
        &srv,
        Method::GET,
        "/api/v1/stats?window=2d",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(status, 400, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("24h"),
        "{v}"
    );
    let (status, _) = call(&srv, Method::GET, "/api/v1/stats", None, None).await;
    assert_eq!(status, 401);
    let (status, v) = call(
        &srv,
        Method::GET,
        "/api/v1/stats?window=90m",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(v["window_secs"], 5400);
    assert_eq!(v["now"]["lines"]["total"], 0);
}

#[tokio::test]
async fn the_dashboard_shows_counts_and_graphs_from_the_same_figures() {
    let (srv, tv) = busy().await;
    let console = crate::console::login(&srv).await;
    let (status, page) = console.get(&srv, "/admin/").await;
    assert_eq!(status, 200);
    let tile = |id: &str| -> String {
        page.split(&format!("id=\"{id}\""))
            .nth(1)
            .and_then(|rest| rest.split("<span class=\"n\">").nth(1))
            .and_then(|rest| rest.split('<').next())
            .unwrap_or_else(|| panic!("no tile {id}: {page}"))
            .to_string()
    };
    assert_eq!(tile("viewers-now"), "1");
    assert_eq!(tile("lines-active"), "2");
    assert_eq!(tile("lines-expiring"), "1");
    assert_eq!(tile("lines-expired"), "1");
    let refused: u64 = tile("refusals-hour").parse().expect("a number");
    assert!(refused >= 3, "{refused}");
    // The graphs are inline SVG with something drawn; the navigation says
    // where the operator is.
    for id in [
        "graph-viewers",
        "graph-bandwidth",
        "graph-refusals",
        "graph-logins",
    ] {
        let figure = page
            .split(&format!("id=\"{id}\""))
            .nth(1)
            .unwrap_or_else(|| panic!("no {id}"));
        let max: f64 = figure
            .split("data-max=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .and_then(|v| v.parse().ok())
            .expect("data-max");
        assert!(max > 0.0, "{id} is empty");
        assert!(figure.contains("<svg viewBox="), "{id}");
    }
    assert!(page.contains("<a href=\"/admin/\" aria-current=\"page\">Dashboard</a>"));
    assert!(
        page.contains("connection_limit"),
        "refusals of the hour by reason"
    );
    assert!(
        !page.contains("<script>") && !page.contains("<style>"),
        "nothing inline"
    );
    drop(tv);

    // The page's style sheet and script come from tvgate itself.
    for (path, kind) in [
        (tvgate_http::assets::STYLE_URL, "text/css"),
        (tvgate_http::assets::CONSOLE_JS_URL, "text/javascript"),
        (tvgate_http::assets::PORTAL_JS_URL, "text/javascript"),
    ] {
        assert!(
            page.contains(&path.replace('&', "&amp;")) || path.contains("portal"),
            "{path}"
        );
        let r = client().get(srv.url(path)).send().await.expect("asset");
        assert_eq!(r.status(), 200, "{path}");
        let ct = r.headers()["content-type"]
            .to_str()
            .unwrap_or_default()
            .to_string();
        assert!(ct.starts_with(kind), "{path}: {ct}");
    }
    let r = client()
        .get(srv.url("/admin/lines"))
        .header("cookie", &console.cookie)
        .send()
        .await
        .expect("lines");
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("style-src 'self'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"), "{csp}");
}

#[tokio::test]
async fn a_lines_page_tells_its_story() {
    let (srv, tv) = busy().await;
    let console = crate::console::login(&srv).await;
    let (_, watching) = console.get(&srv, "/admin/lines/tina").await;
    assert!(
        watching.contains("<li class=\"stream now\">"),
        "what it watches now: {watching}"
    );
    drop(tv);
    let deadline = Instant::now() + Duration::from_secs(5);
    while metric(&srv, "tvgate_viewers").await != 0 {
        assert!(Instant::now() < deadline, "the viewer's slot was not freed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, page) = console.get(&srv, "/admin/lines/tina").await;
    assert_eq!(status, 200);
    let timeline = page.split("id=\"timeline\"").nth(1).expect("a timeline");
    // The stream that ended: channel, player, address, start and end, why.
    let stream = timeline
        .split("<li class=\"stream\">")
        .nth(1)
        .and_then(|s| s.split("</li>").next())
        .unwrap_or_else(|| panic!("no ended stream: {timeline}"));
    for part in [
        "News One",
        "LivingRoomTV/1.0",
        "127.0.0.1",
        "ended ",
        "the player closed it",
    ] {
        assert!(stream.contains(part), "{part}: {stream}");
    }
    // The refusal with its reason, and the login.
    let refusal = timeline
        .split("<li class=\"refusal\">")
        .nth(1)
        .and_then(|s| s.split("</li>").next())
        .unwrap_or_else(|| panic!("no refusal: {timeline}"));
    assert!(refusal.contains("connection_limit"), "{refusal}");
    assert!(
        refusal.contains("in use by LivingRoomTV/1.0"),
        "what the player was told, the holder named: {refusal}"
    );
    assert!(timeline.contains("<li class=\"login\">"), "{timeline}");
    // Another line's story is its own.
    let (_, other) = console.get(&srv, "/admin/lines/soon").await;
    let other = other.split("id=\"timeline\"").nth(1).expect("a timeline");
    assert!(other.contains("Nothing recorded yet."), "{other}");
}

#[tokio::test]
async fn the_api_tells_the_same_story_as_the_lines_page() {
    let (srv, tv) = busy().await;
    // The console's operator, with an API token too.
    let console = crate::console::login(&srv).await;
    let (_, token) = srv
        .gate
        .create_api_token("olga", "tests", NOW)
        .await
        .expect("token");
    let timeline = |path: &'static str| {
        let srv = &srv;
        let token = token.clone();
        async move { call(srv, Method::GET, path, Some(&token), None).await }
    };
    let (status, v) = timeline("/api/v1/lines/tina/timeline").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["line"], "tina");
    let now = v["now"].as_array().expect("now");
    assert_eq!(now.len(), 1, "what it watches now: {v}");
    assert_eq!(now[0]["player"], "LivingRoomTV/1.0");
    assert_eq!(now[0]["watching"], "News One");
    drop(tv);
    let deadline = Instant::now() + Duration::from_secs(5);
    while metric(&srv, "tvgate_viewers").await != 0 {
        assert!(Instant::now() < deadline, "the viewer's slot was not freed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, v) = timeline("/api/v1/lines/tina/timeline").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["now"], serde_json::json!([]));
    let items = v["items"].as_array().expect("items");
    let of = |kind: &str| -> Vec<&Value> { items.iter().filter(|i| i["kind"] == kind).collect() };
    // The stream that ended: channel, player, address, start, end and why.
    let streams = of("stream");
    assert_eq!(streams.len(), 1, "{v}");
    let s = streams[0];
    assert_eq!(s["channel"], "News One");
    assert_eq!(s["player"], "LivingRoomTV/1.0");
    assert_eq!(s["ip"], "127.0.0.1");
    assert!(s["ended_at"].as_i64() >= s["at"].as_i64(), "{s}");
    assert_eq!(s["ended_by"], "closed");
    assert_eq!(s["why"], "the player closed it");
    // The refusal with its reason and what the player was told; the login.
    let refusals = of("refusal");
    assert!(
        refusals.iter().any(|r| r["reason"] == "connection_limit"
            && r["text"]
                .as_str()
                .is_some_and(|t| t.contains("in use by LivingRoomTV/1.0"))),
        "{v}"
    );
    assert!(
        refusals
            .iter()
            .all(|r| r["reason"] != "invalid_credentials"),
        "a wrong password names no line: {v}"
    );
    let logins = of("login");
    assert_eq!(logins.len(), 1, "{v}");
    assert_eq!(logins[0]["face"], "player_api");
    // Newest first.
    let ats: Vec<i64> = items.iter().filter_map(|i| i["at"].as_i64()).collect();
    assert_eq!(ats.len(), items.len());
    assert!(ats.windows(2).all(|w| w[0] >= w[1]), "{ats:?}");

    // The same entries as the console's page shows.
    let (_, page) = console.get(&srv, "/admin/lines/tina").await;
    let shown = page.split("id=\"timeline\"").nth(1).expect("a timeline");
    for (kind, class) in [
        ("login", "<li class=\"login\">"),
        ("stream", "<li class=\"stream\">"),
        ("refusal", "<li class=\"refusal\">"),
    ] {
        assert_eq!(shown.matches(class).count(), of(kind).len(), "{kind}");
    }

    // A limit, bad input, an unknown line, no token.
    let (status, v) = timeline("/api/v1/lines/tina/timeline?limit=1").await;
    assert_eq!(status, 200);
    assert_eq!(v["items"].as_array().map(Vec::len), Some(1));
    let (status, _) = timeline("/api/v1/lines/tina/timeline?limit=9999").await;
    assert_eq!(status, 400);
    let (status, _) = timeline("/api/v1/lines/nobody/timeline").await;
    assert_eq!(status, 404);
    let (status, _) = call(&srv, Method::GET, "/api/v1/lines/tina/timeline", None, None).await;
    assert_eq!(status, 401);
}

/// Two nodes sharing one PostgreSQL store, each with its own viewers,
/// logins and refusals: `GET /api/v1/stats` on either shows the sum of
/// both nodes' samples (each node writes its rows under its own name,
/// host and port; readers sum them per minute).
#[tokio::test]
async fn two_nodes_sharing_a_store_add_up() {
    let a = TestServer::start_postgres().await;
    let db = a.db.clone().expect("a database");
    let b = TestServer::start_postgres_node(&db, &a).await;
    a.with_catalog().await;
    a.add_line("tina", "pw-11", |s| s.max_connections = 1).await;
    a.add_line("bob", "pw-22", |s| s.max_connections = 1).await;
    a.add_line("old", "pw-33", |s| s.expires_at = Some(NOW - 60))
        .await;
    // Node B learns the lines and the catalog from the store.
    let deadline = Instant::now() + Duration::from_secs(5);
    while b.gate.find_line("old").is_none()
        || b.gate
            .catalog()
            .stream(tvgate_core::ids::StreamId(1))
            .is_none()
    {
        assert!(Instant::now() < deadline, "node B never saw A's writes");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (_, token) = operator(&a).await;

    // Node A: a login, a viewer, a wrong password.
    let v = get_json(&a.url("/player_api.php?username=tina&password=pw-11")).await;
    assert_eq!(v["user_info"]["auth"], 1);
    let mut on_a = client()
        .get(a.url("/live/tina/pw-11/1.ts"))
        .header("user-agent", "LivingRoomTV/1.0")
        .send()
        .await
        .expect("stream on A");
    assert_eq!(on_a.status(), 200);
    assert!(on_a.chunk().await.expect("chunk").is_some());
    let (status, _) = get(&a.url("/player_api.php?username=tina&password=wrong")).await;
    assert!(status < 500);
    // Node B: two logins, a viewer, an expired line.
    for _ in 0..2 {
        let v = get_json(&b.url("/player_api.php?username=bob&password=pw-22")).await;
        assert_eq!(v["user_info"]["auth"], 1);
    }
    let mut on_b = client()
        .get(b.url("/live/bob/pw-22/1.ts"))
        .header("user-agent", "Kitchen/2.0")
        .send()
        .await
        .expect("stream on B");
    assert_eq!(on_b.status(), 200);
    assert!(on_b.chunk().await.expect("chunk").is_some());
    let v = get_json(&b.url("/player_api.php?username=old&password=pw-33")).await;
    assert_eq!(v["user_info"]["status"], "Expired", "{v}");

    // While both watch: one viewer on each node, two in the minute's sum,
    // read on either node (B's read writes B's minute, A's read A's).
    let _ = stats(&b, &token).await;
    let on_a_now = stats(&a, &token).await;
    let samples = on_a_now["samples"].as_array().expect("samples");
    assert_eq!(samples.len(), 1, "{on_a_now}");
    assert_eq!(samples[0]["viewers"], 2, "both nodes' viewers: {on_a_now}");
    assert_eq!(on_a_now["totals"]["viewers_max"], 2);
    let on_b_now = stats(&b, &token).await;
    assert_eq!(on_b_now["samples"][0]["viewers"], 2, "{on_b_now}");

    // Both viewers leave; then every count is final on both nodes.
    drop(on_a);
    drop(on_b);
    let deadline = Instant::now() + Duration::from_secs(5);
    while metric(&a, "tvgate_viewers").await + metric(&b, "tvgate_viewers").await != 0 {
        assert!(Instant::now() < deadline, "a viewer's slot was not freed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = stats(&b, &token).await;
    let read_on_a = stats(&a, &token).await;
    let read_on_b = stats(&b, &token).await;
    let sum = |series: &'static str| {
        let (a, b) = (&a, &b);
        async move { metric(a, series).await + metric(b, series).await }
    };
    for v in [&read_on_a, &read_on_b] {
        let totals = &v["totals"];
        assert_eq!(totals["logins"], 3, "1 on A and 2 on B: {v}");
        assert_eq!(totals["logins"], sum("tvgate_logins_total").await);
        let bytes = sum("tvgate_viewer_bytes_total").await;
        assert!(metric(&a, "tvgate_viewer_bytes_total").await > 0);
        assert!(metric(&b, "tvgate_viewer_bytes_total").await > 0);
        assert_eq!(totals["bytes_out"], bytes, "{v}");
        for (reason, node_a, node_b) in [("invalid_credentials", 1, 0), ("expired", 0, 1)] {
            let series = format!("tvgate_denials_total{{reason=\"{reason}\"}}");
            assert_eq!(metric(&a, &series).await, node_a, "{reason} on A");
            assert_eq!(metric(&b, &series).await, node_b, "{reason} on B");
            assert_eq!(totals["refusals"][reason], 1, "{reason}: {v}");
        }
        assert_eq!(v["samples"][0]["viewers"], 2, "{v}");
    }
    assert_eq!(
        read_on_a["totals"], read_on_b["totals"],
        "the same sum on both"
    );
    assert_eq!(read_on_a["samples"], read_on_b["samples"]);
}

/// An app calls `player_api.php` on every screen: repeats of one login
/// (same line, address and player within a minute) are one timeline
/// entry, while the login counter counts each; another player is its own.
#[tokio::test]
async fn repeated_logins_are_one_timeline_entry() {
    let srv = TestServer::start().await;
    srv.add_line("rita", "pw-44", |_| {}).await;
    let login = |ua: &'static str| {
        let url = srv.url("/player_api.php?username=rita&password=pw-44");
        async move {
            let r = client()
                .get(url)
                .header("user-agent", ua)
                .send()
                .await
                .expect("login");
            assert_eq!(r.status(), 200);
        }
    };
    for _ in 0..3 {
        login("Tv/1.0").await;
    }
    login("Phone/2.0").await;
    let (_, token) = operator(&srv).await;
    let (status, v) = call(
        &srv,
        Method::GET,
        "/api/v1/lines/rita/timeline",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let mut players: Vec<&str> = v["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|i| i["kind"] == "login")
        .filter_map(|i| i["player"].as_str())
        .collect();
    players.sort_unstable();
    assert_eq!(players, ["Phone/2.0", "Tv/1.0"], "{v}");
    assert_eq!(metric(&srv, "tvgate_logins_total").await, 4);
}
