//! The operator's faces: the JSON API under `/api/v1/` (token auth, lines,
//! connections, devices, the OpenAPI document) and the console's session
//! login with CSRF protection.

use crate::harness::{client, get_json, TestServer, NOW};
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// An operator with a token, made the way the CLI makes them.
pub(crate) async fn operator(srv: &TestServer) -> (String, String) {
    let (_, password) = srv.gate.create_admin("olga", NOW).await.expect("admin");
    let (_, token) = srv
        .gate
        .create_api_token("olga", "tests", NOW)
        .await
        .expect("token");
    (password, token)
}

pub(crate) async fn call(
    srv: &TestServer,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = client().request(method, srv.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.expect("request");
    let status = r.status().as_u16();
    let text = r.text().await.expect("body");
    let value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {text}"))
    };
    (status, value)
}

#[tokio::test]
async fn a_missing_bad_or_revoked_token_is_one_401() {
    let srv = TestServer::start().await;
    let (_, token) = operator(&srv).await;
    let (status, ok) = call(
        &srv,
        reqwest::Method::GET,
        "/api/v1/lines",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(status, 200, "{ok}");

    let (s1, none) = call(&srv, reqwest::Method::GET, "/api/v1/lines", None, None).await;
    let (s2, bad) = call(
        &srv,
        reqwest::Method::GET,
        "/api/v1/lines",
        Some("tvg_nope"),
        None,
    )
    .await;
    let tokens = srv.gate.api_tokens().await.expect("tokens");
    srv.gate
        .revoke_api_token(tokens[0].id, NOW)
        .await
        .expect("revoke");
    let (s3, revoked) = call(
        &srv,
        reqwest::Method::GET,
        "/api/v1/lines",
        Some(&token),
        None,
    )
    .await;
    assert_eq!((s1, s2, s3), (401, 401, 401));
    assert_eq!(none, bad);
    assert_eq!(bad, revoked);
    assert_eq!(none["error"]["code"], "unauthorized");
}

#[tokio::test]
async fn a_lines_credentials_never_work_as_an_operators() {
    let srv = TestServer::start().await;
    srv.add_line("tina", "pw-11", |_| {}).await;
    operator(&srv).await;
    // Not as a token, in any spelling.
    for presented in ["pw-11", "tina:pw-11", "tvg_pw-11"] {
        let (status, _) = call(
            &srv,
            reqwest::Method::GET,
            "/api/v1/lines",
            Some(presented),
            None,
        )
        .await;
        assert_eq!(status, 401, "{presented}");
    }
    let basic = client()
        .get(srv.url("/api/v1/lines"))
        .basic_auth("tina", Some("pw-11"))
        .send()
        .await
        .expect("request");
    assert_eq!(basic.status(), 401);
    // Nor at the console's login.
    let login = client()
        .post(srv.url("/admin/login"))
        .form(&[("name", "tina"), ("password", "pw-11")])
        .send()
        .await
        .expect("login");
    assert_eq!(login.status(), 401);
    assert!(login.headers().get("set-cookie").is_none());
}

#[tokio::test]
async fn lines_are_created_edited_extended_and_deleted_through_the_gate() {
    let srv = TestServer::start().await;
    let (_, token) = operator(&srv).await;
    let t = Some(token.as_str());
    use reqwest::Method;

    let (status, created) = call(
        &srv,
        Method::POST,
        "/api/v1/lines",
        t,
        Some(json!({"username": "anna", "max_connections": 2, "expires_at": NOW + 86_400, "note": "VIP"})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let password = created["password"]
        .as_str()
        .expect("generated password")
        .to_string();
    assert_eq!(created["max_connections"], 2);
    // The gate knows the line at once: the player logs in with it.
    let v = get_json(&srv.url(&format!(
        "/player_api.php?username=anna&password={password}"
    )))
    .await;
    assert_eq!(v["user_info"]["auth"], 1);
    // Shown once: reading the line again never shows it.
    let (_, shown) = call(&srv, Method::GET, "/api/v1/lines/anna", t, None).await;
    assert!(shown.get("password").is_none(), "{shown}");

    let (status, dup) = call(
        &srv,
        Method::POST,
        "/api/v1/lines",
        t,
        Some(json!({"username": "ANNA"})),
    )
    .await;
    assert_eq!(status, 409, "{dup}");

    let (status, edited) = call(
        &srv,
        Method::PATCH,
        "/api/v1/lines/anna",
        t,
        Some(json!({"status": "disabled", "limit_policy": "newest_wins", "note": "paused"})),
    )
    .await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(
        srv.gate.find_line("anna").expect("line").status.as_str(),
        "disabled"
    );
    assert_eq!(edited["limit_policy"], "newest_wins");

    let (status, extended) = call(
        &srv,
        Method::POST,
        "/api/v1/lines/anna/extend",
        t,
        Some(json!({"days": 30})),
    )
    .await;
    assert_eq!(status, 200, "{extended}");
    assert_eq!(extended["expires_at"], NOW + 86_400 + 30 * 86_400);

    // Search and paging.
    srv.add_line("bert", "pw-22", |_| {}).await;
    let (_, found) = call(&srv, Method::GET, "/api/v1/lines?q=PAUS", t, None).await;
    assert_eq!(found["total"], 1);
    assert_eq!(found["items"][0]["username"], "anna");
    let (_, page) = call(&srv, Method::GET, "/api/v1/lines?offset=1&limit=1", t, None).await;
    assert_eq!(page["total"], 2);
    assert_eq!(page["items"][0]["username"], "bert");

    // Bad input is a 4xx with a message, never a 500.
    for (method, path, body) in [
        (
            Method::POST,
            "/api/v1/lines",
            Some(json!({"max_connections": -1})),
        ),
        (
            Method::POST,
            "/api/v1/lines",
            Some(json!({"username": "x y"})),
        ),
        (Method::POST, "/api/v1/lines", Some(json!([1, 2]))),
        (
            Method::PATCH,
            "/api/v1/lines/anna",
            Some(json!({"status": "gone"})),
        ),
        (
            Method::PATCH,
            "/api/v1/lines/anna",
            Some(json!({"colour": "red"})),
        ),
        (
            Method::POST,
            "/api/v1/lines/anna/extend",
            Some(json!({"days": 0})),
        ),
        (Method::GET, "/api/v1/lines?limit=lots", None),
        (Method::DELETE, "/api/v1/connections/abc", None),
    ] {
        let (status, answer) = call(&srv, method.clone(), path, t, body).await;
        assert_eq!(status, 400, "{method} {path}: {answer}");
        assert!(answer["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
    }
    let (status, _) = call(&srv, Method::GET, "/api/v1/lines/nobody", t, None).await;
    assert_eq!(status, 404);
    let (status, _) = call(
        &srv,
        Method::DELETE,
        "/api/v1/connections/99999999999999999999999",
        t,
        None,
    )
    .await;
    assert_eq!(status, 404, "a number too large names no connection");

    let (status, _) = call(&srv, Method::DELETE, "/api/v1/lines/anna", t, None).await;
    assert_eq!(status, 204);
    assert!(srv.gate.find_line("anna").is_none());
    let (status, _) = call(&srv, Method::DELETE, "/api/v1/lines/anna", t, None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn ending_a_connection_stops_the_players_stream() {
    let srv = TestServer::start().await;
    srv.with_catalog().await;
    srv.add_line("tina", "pw-11", |s| s.max_connections = 1)
        .await;
    let (_, token) = operator(&srv).await;
    let t = Some(token.as_str());
    let mut stream = client()
        .get(srv.url("/live/tina/pw-11/1.ts"))
        .header("user-agent", "LivingRoomTV/1.0")
        .send()
        .await
        .expect("stream");
    assert_eq!(stream.status(), 200);
    assert!(stream.chunk().await.expect("chunk").is_some());

    let (status, list) = call(
        &srv,
        reqwest::Method::GET,
        "/api/v1/connections?line=tina",
        t,
        None,
    )
    .await;
    assert_eq!(status, 200, "{list}");
    let items = list["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{list}");
    assert_eq!(items[0]["watching"], "News One");
    assert_eq!(items[0]["user_agent"], "LivingRoomTV/1.0");
    let id = items[0]["id"].as_u64().expect("lease id");

    // The relay's side of the same viewer: one channel, one viewer, named.
    let (status, relay) = call(&srv, reqwest::Method::GET, "/api/v1/relay", t, None).await;
    assert_eq!(status, 200, "{relay}");
    let channels = relay["channels"].as_array().expect("channels");
    assert!(
        channels
            .iter()
            .any(|c| c["name"] == "News One" && c["viewers"] == 1),
        "{relay}"
    );

    let (status, _) = call(
        &srv,
        reqwest::Method::DELETE,
        &format!("/api/v1/connections/{id}"),
        t,
        None,
    )
    .await;
    assert_eq!(status, 204);
    let v = get_json(&srv.url("/player_api.php?username=tina&password=pw-11")).await;
    assert_eq!(
        v["user_info"]["active_cons"], "0",
        "the slot is free at once"
    );
    // The serving body renews every second (of the server's clock, which
    // the test moves) and stops at the first renewal that fails.
    srv.clock.fetch_add(1, Ordering::Relaxed);
    let started = Instant::now();
    let ended = tokio::time::timeout(Duration::from_secs(2), async {
        while let Ok(Some(_)) = stream.chunk().await {}
    })
    .await;
    assert!(ended.is_ok(), "the stream ended within 2 s");
    assert!(started.elapsed() < Duration::from_secs(2));
    let (status, _) = call(
        &srv,
        reqwest::Method::DELETE,
        &format!("/api/v1/connections/{id}"),
        t,
        None,
    )
    .await;
    assert_eq!(status, 404, "already ended");
}

#[tokio::test]
async fn devices_and_sources_are_listed() {
    let srv = TestServer::start().await;
    srv.with_catalog().await;
    srv.add_line("tina", "pw-11", |_| {}).await;
    let (_, token) = operator(&srv).await;
    let t = Some(token.as_str());
    let (status, devices) = call(
        &srv,
        reqwest::Method::GET,
        "/api/v1/lines/tina/devices",
        t,
        None,
    )
    .await;
    assert_eq!(status, 200, "{devices}");
    assert_eq!(devices["devices"], json!([]));
    let (status, reset) = call(
        &srv,
        reqwest::Method::POST,
        "/api/v1/lines/tina/devices/reset",
        t,
        None,
    )
    .await;
    assert_eq!(status, 200, "{reset}");
    // The reset is in the line's device history, as the operator's.
    let (status, audit) = call(
        &srv,
        reqwest::Method::GET,
        "/api/v1/lines/tina/devices/audit?limit=10",
        t,
        None,
    )
    .await;
    assert_eq!(status, 200, "{audit}");
    let entries = audit["items"].as_array().expect("audit items");
    assert!(entries.iter().any(|e| e["actor"] == "operator"), "{audit}");
    for bad in ["limit=-1", "limit=5000", "limit=x"] {
        let (status, body) = call(
            &srv,
            reqwest::Method::GET,
            &format!("/api/v1/lines/tina/devices/audit?{bad}"),
            t,
            None,
        )
        .await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
    // A new generated password, once: the old one stops working.
    let (status, fresh) = call(
        &srv,
        reqwest::Method::POST,
        "/api/v1/lines/tina/password",
        t,
        None,
    )
    .await;
    assert_eq!(status, 200, "{fresh}");
    let password = fresh["password"].as_str().expect("password").to_string();
    assert!(password.len() >= 8, "{fresh}");
    let old = get_json(&srv.url("/player_api.php?username=tina&password=pw-11")).await;
    assert_eq!(old["user_info"]["auth"], 0, "{old}");
    let new = get_json(&srv.url(&format!(
        "/player_api.php?username=tina&password={password}"
    )))
    .await;
    assert_eq!(new["user_info"]["auth"], 1, "{new}");
    let (status, _) = call(
        &srv,
        reqwest::Method::POST,
        "/api/v1/lines/nobody/password",
        t,
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = call(
        &srv,
        reqwest::Method::DELETE,
        "/api/v1/lines/tina/devices/7",
        t,
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (status, sources) = call(&srv, reqwest::Method::GET, "/api/v1/sources", t, None).await;
    assert_eq!(status, 200);
    assert_eq!(
        sources["items"].as_array().map(Vec::len),
        Some(2),
        "{sources}"
    );
}

#[tokio::test]
async fn the_served_openapi_document_describes_the_api() {
    let srv = TestServer::start().await;
    let doc = get_json(&srv.url("/api/v1/openapi.json")).await;
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/api/v1/connections/{id}"]["delete"].is_object());
}

fn session_cookie(r: &reqwest::Response) -> Option<String> {
    let set = r.headers().get("set-cookie")?.to_str().ok()?;
    assert!(set.contains("HttpOnly"), "{set}");
    assert!(set.contains("SameSite=Strict"), "{set}");
    Some(set.split(';').next()?.to_string())
}

#[tokio::test]
async fn the_console_logs_in_with_a_session_and_refuses_forms_without_the_csrf_token() {
    let srv = TestServer::start().await;
    srv.add_line("tina", "pw-11", |_| {}).await;
    let (password, _) = operator(&srv).await;
    let page = client().get(srv.url("/admin/")).send().await.expect("page");
    assert_eq!(page.status(), 200);
    assert!(page
        .text()
        .await
        .expect("body")
        .contains("action=\"/admin/login\""));

    let wrong = client()
        .post(srv.url("/admin/login"))
        .form(&[("name", "olga"), ("password", "not-it")])
        .send()
        .await
        .expect("login");
    assert_eq!(wrong.status(), 401);

    let login = client()
        .post(srv.url("/admin/login"))
        .form(&[("name", "olga"), ("password", password.as_str())])
        .send()
        .await
        .expect("login");
    assert_eq!(login.status(), 303);
    let cookie = session_cookie(&login).expect("session cookie");

    let dashboard = client()
        .get(srv.url("/admin/"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("dashboard")
        .text()
        .await
        .expect("body");
    assert!(dashboard.contains("Logged in as olga"), "{dashboard}");
    // Counts, never a table of every line (issue 18).
    assert!(
        dashboard.contains("<span id=\"lines-total\">1</span>"),
        "{dashboard}"
    );
    let csrf = dashboard
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("csrf field")
        .to_string();

    // A state-changing POST without the token, or with another, is refused.
    for form in [vec![], vec![("csrf", "0".repeat(64))]] {
        let refused = client()
            .post(srv.url("/admin/logout"))
            .header("cookie", &cookie)
            .form(&form)
            .send()
            .await
            .expect("logout");
        assert_eq!(refused.status(), 403);
    }
    let still = client()
        .get(srv.url("/admin/"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("body");
    assert!(
        still.contains("Logged in as olga"),
        "the refused POSTs changed nothing"
    );

    let out = client()
        .post(srv.url("/admin/logout"))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .expect("logout");
    assert_eq!(out.status(), 303);
    let after = client()
        .get(srv.url("/admin/"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("body");
    assert!(!after.contains("Logged in"), "the session is gone");
}

/// `tvgate admin add|token|list|revoke` as a real process: secrets are
/// printed once, and the token works against a server on the same data.
#[tokio::test]
async fn the_first_operator_and_a_token_come_from_the_command_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = |args: &[&str]| {
        let args: Vec<&str> = std::iter::once("admin")
            .chain(args.iter().copied())
            .collect();
        let (code, out, err) = crate::harness::tvgate(dir.path(), &args);
        assert_eq!(code, 0, "{args:?}: {err}");
        out
    };
    let list = run(&["list"]);
    assert!(
        list.contains("no operators yet"),
        "no default operator: {list}"
    );
    let added = run(&["add", "olga"]);
    let password = added
        .lines()
        .nth(1)
        .expect("password line")
        .trim()
        .to_string();
    assert!(password.len() >= 8, "{added}");
    let token = run(&["token", "olga", "--label", "billing"])
        .trim()
        .to_string();
    assert!(token.starts_with("tvg_"), "{token}");
    let list = run(&["list"]);
    assert!(
        list.contains("olga") && list.contains("billing") && list.contains("active"),
        "{list}"
    );
    assert!(
        !list.contains(&token) && !list.contains(&password),
        "secrets are shown once"
    );

    let srv = TestServer::start_in(dir, |_| {}, true).await;
    let (status, _) = call(
        &srv,
        reqwest::Method::GET,
        "/api/v1/lines",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let ok = srv
        .gate
        .admin_login("olga", &password, std::net::Ipv4Addr::LOCALHOST.into(), NOW)
        .await
        .expect("login");
    assert!(matches!(ok, tvgate_core::gate::AdminAuthn::Proven(_)));
}

/// Guessing an operator's password is slowed by the shared limiter, and
/// the operator's failures never lock out a subscriber's line.
#[tokio::test]
async fn console_logins_are_rate_limited() {
    let srv = TestServer::start().await;
    srv.add_line("olga", "pw-11", |_| {}).await;
    let (password, _) = operator(&srv).await;
    let mut statuses = Vec::new();
    for _ in 0..25 {
        let r = client()
            .post(srv.url("/admin/login"))
            .form(&[("name", "olga"), ("password", "guess")])
            .send()
            .await
            .expect("login");
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses[0], 401);
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    let right = client()
        .post(srv.url("/admin/login"))
        .form(&[("name", "olga"), ("password", password.as_str())])
        .send()
        .await
        .expect("login");
    assert_eq!(right.status(), 429, "nothing is checked while limited");
    // The line of the same name, from another address, is not locked out.
    let ok = srv
        .gate
        .authenticate(
            "olga",
            "pw-11",
            std::net::Ipv4Addr::new(192, 0, 2, 7).into(),
            NOW,
        )
        .await;
    assert!(ok.line().is_some());
}
