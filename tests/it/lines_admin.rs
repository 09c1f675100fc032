//! Lines in bulk, in both operator faces: CSV import (bad rows by line
//! number, the rest imported, generated passwords that log in), export and
//! a lossless re-import, bulk creation, the full edit (formats, package,
//! trial, limit and device policy, seen by a player), a password reset,
//! removing one device, paging past 500 lines, and CSRF on every form.

use crate::admin_api::{call, operator};
use crate::console::login;
use crate::harness::{client, get_json, TestServer, NOW};
use reqwest::Method;
use serde_json::{json, Value};
use tvgate_core::access::device::DeviceKind;

/// A console session and an API token of the same operator.
async fn console_and_token(srv: &TestServer) -> (crate::console::Console, String) {
    let console = login(srv).await;
    let (_, token) = srv
        .gate
        .create_api_token("olga", "tests", NOW)
        .await
        .expect("token");
    (console, token)
}

fn user_info(v: &Value) -> &Value {
    &v["user_info"]
}

async fn logs_in(srv: &TestServer, user: &str, pass: &str) -> bool {
    let v = get_json(&srv.url(&format!("/player_api.php?username={user}&password={pass}"))).await;
    user_info(&v)["auth"] == 1
}

async fn post_csv(srv: &TestServer, token: &str, path: &str, csv: &str) -> (u16, Value) {
    let r = client()
        .post(srv.url(path))
        .bearer_auth(token)
        .header("content-type", "text/csv")
        .body(csv.to_string())
        .send()
        .await
        .expect("import");
    let status = r.status().as_u16();
    (status, r.json().await.expect("json"))
}

async fn export(srv: &TestServer, token: &str) -> String {
    let r = client()
        .get(srv.url("/api/v1/lines/export"))
        .bearer_auth(token)
        .send()
        .await
        .expect("export");
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .expect("type")
        .starts_with("text/csv"));
    r.text().await.expect("csv")
}

#[tokio::test]
async fn an_api_import_reports_bad_rows_by_line_and_imports_the_rest() {
    let srv = TestServer::start().await;
    let (_, token) = operator(&srv).await;
    let csv = "username,password,max_connections,expires,is_trial,note\n\
               imp-a,pw-a-1,2,2030-01-01,true,room 12\n\
               imp-b,,1,,,\n\
               imp-c,,lots,,,\n\
               imp-d,,1,someday,,\n";
    let (status, v) = post_csv(&srv, &token, "/api/v1/lines/import", csv).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["created"], 2, "{v}");
    assert_eq!(v["updated"], 0);
    let errors = v["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 2, "{v}");
    assert_eq!(errors[0]["line"], 4);
    assert!(
        errors[0]["message"].as_str().unwrap_or("").contains("lots"),
        "{v}"
    );
    assert_eq!(errors[1]["line"], 5);
    let generated = v["generated"].as_array().expect("generated");
    assert_eq!(generated.len(), 1, "{v}");
    assert_eq!(generated[0]["username"], "imp-b");
    let pw = generated[0]["password"].as_str().expect("password");
    assert!(logs_in(&srv, "imp-b", pw).await);
    let a = get_json(&srv.url("/player_api.php?username=imp-a&password=pw-a-1")).await;
    assert_eq!(user_info(&a)["auth"], 1);
    assert_eq!(user_info(&a)["is_trial"], "1");
    assert_eq!(user_info(&a)["max_connections"], "2");

    // A file without a username column is refused whole, and not JSON.
    let (status, v) = post_csv(&srv, &token, "/api/v1/lines/import", "name\nx\n").await;
    assert_eq!(status, 400, "{v}");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap_or("")
        .contains("username"));
    let r = client()
        .post(srv.url("/api/v1/lines/import"))
        .bearer_auth(&token)
        .json(&json!({"username": "x"}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 415);
}

#[tokio::test]
async fn an_export_has_no_secrets_and_reimports_unchanged() {
    let srv = TestServer::start().await;
    let (console, token) = console_and_token(&srv).await;
    srv.add_line("ex-plain", "pw-e-1", |_| {}).await;
    srv.add_line("ex-odd", "pw-e-2", |s| {
        s.expires_at = None;
        s.is_trial = true;
        s.max_connections = 0;
        s.limit_policy = Some(tvgate_core::ledger::LimitPolicy::NewestWins);
        s.status = tvgate_core::access::Status::Disabled;
        s.note = "comma, \"quote\"\nand a newline".into();
    })
    .await;
    let before: Vec<_> = ["ex-plain", "ex-odd"]
        .iter()
        .map(|n| srv.gate.find_line(n).expect("line"))
        .collect();
    let csv = export(&srv, &token).await;
    assert!(
        csv.starts_with("username,status,expires,max_connections,limit_policy,is_trial,note\n"),
        "{csv}"
    );
    assert!(!csv.contains("pw-e-") && !csv.contains("argon2"), "{csv}");
    let (status, v) = post_csv(&srv, &token, "/api/v1/lines/import", &csv).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        (v["created"].clone(), v["updated"].clone()),
        (json!(0), json!(2)),
        "{v}"
    );
    assert_eq!(v["errors"], json!([]));
    assert_eq!(v["generated"], json!([]));
    for b in &before {
        let after = srv.gate.find_line(&b.username).expect("line");
        let mut same = (**b).clone();
        same.revision = after.revision;
        assert_eq!(*after, same, "{}", b.username);
    }
    assert_eq!(export(&srv, &token).await, csv);
    assert!(logs_in(&srv, "ex-plain", "pw-e-1").await, "passwords kept");

    // The console's link gives the same file.
    let (status, text) = console.get(&srv, "/admin/export.csv").await;
    assert_eq!(status, 200);
    assert_eq!(text, csv);
}

#[tokio::test]
async fn a_bulk_create_skips_taken_names_and_every_line_logs_in() {
    let srv = TestServer::start().await;
    let (_, token) = operator(&srv).await;
    srv.add_line("hotel-002", "pw-h-2", |_| {}).await;
    let (status, v) = call(
        &srv,
        Method::POST,
        "/api/v1/lines/bulk",
        Some(&token),
        Some(json!({"count": 5, "prefix": "hotel-", "days": 7, "max_connections": 2, "is_trial": true, "note": "wing B"})),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    let items = v["items"].as_array().expect("items");
    let names: Vec<&str> = items
        .iter()
        .filter_map(|i| i["username"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "hotel-001",
            "hotel-003",
            "hotel-004",
            "hotel-005",
            "hotel-006"
        ]
    );
    for i in items {
        let (u, p) = (
            i["username"].as_str().expect("u"),
            i["password"].as_str().expect("p"),
        );
        let v = get_json(&srv.url(&format!("/player_api.php?username={u}&password={p}"))).await;
        assert_eq!(user_info(&v)["auth"], 1, "{u}");
        assert_eq!(user_info(&v)["is_trial"], "1");
        assert_eq!(user_info(&v)["exp_date"], (NOW + 7 * 86_400).to_string());
    }
    assert!(logs_in(&srv, "hotel-002", "pw-h-2").await, "left alone");
    for (body, field) in [
        (json!({"count": 0, "prefix": "x-"}), "count"),
        (json!({"count": 1001, "prefix": "x-"}), "count"),
        (json!({"count": 2}), "prefix"),
        (
            json!({"count": 2, "prefix": "x-", "days": 3, "expires_at": NOW}),
            "days",
        ),
        (json!({"count": 2, "prefix": "x-", "colour": 1}), "colour"),
    ] {
        let (status, v) = call(
            &srv,
            Method::POST,
            "/api/v1/lines/bulk",
            Some(&token),
            Some(body),
        )
        .await;
        assert_eq!(status, 400, "{v}");
        assert!(
            v["error"]["message"].as_str().unwrap_or("").contains(field),
            "{v}"
        );
    }
}

/// The category id of `name` from a player's view of the catalog.
async fn category_id(srv: &TestServer, user: &str, pass: &str, name: &str) -> Option<String> {
    let cats = get_json(&srv.url(&format!(
        "/player_api.php?username={user}&password={pass}&action=get_live_categories"
    )))
    .await;
    cats.as_array()?
        .iter()
        .find(|c| c["category_name"] == name)
        .and_then(|c| c["category_id"].as_str().map(str::to_string))
}

#[tokio::test]
async fn an_api_edit_of_formats_package_trial_and_policy_reaches_the_player() {
    let srv = TestServer::start().await;
    srv.with_catalog().await;
    let (_, token) = operator(&srv).await;
    srv.add_line("ed", "pw-ed-1", |_| {}).await;
    let news = category_id(&srv, "ed", "pw-ed-1", "News")
        .await
        .expect("News");
    assert!(category_id(&srv, "ed", "pw-ed-1", "Sports").await.is_some());
    let news_id: u32 = news.parse().expect("id");
    let (status, v) = call(
        &srv,
        Method::PATCH,
        "/api/v1/lines/ed",
        Some(&token),
        Some(json!({"allowed_formats": ["m3u8"], "package": [news_id], "is_trial": true, "limit_policy": "refuse"})),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["allowed_formats"], json!(["m3u8"]));
    assert_eq!(v["package"], json!([news_id]));
    assert_eq!(v["limit_policy"], "refuse");
    let p = get_json(&srv.url("/player_api.php?username=ed&password=pw-ed-1")).await;
    assert_eq!(user_info(&p)["allowed_output_formats"], json!(["m3u8"]));
    assert_eq!(user_info(&p)["is_trial"], "1");
    assert!(category_id(&srv, "ed", "pw-ed-1", "News").await.is_some());
    assert!(
        category_id(&srv, "ed", "pw-ed-1", "Sports").await.is_none(),
        "hidden by the package"
    );

    let (_, v) = call(
        &srv,
        Method::PATCH,
        "/api/v1/lines/ed",
        Some(&token),
        Some(json!({"package": null})),
    )
    .await;
    assert_eq!(v["package"], Value::Null);
    assert!(category_id(&srv, "ed", "pw-ed-1", "Sports").await.is_some());

    for (body, field) in [
        (json!({"allowed_formats": ["mp4"]}), "allowed_formats"),
        (json!({"allowed_formats": []}), "allowed_formats"),
        (json!({"package": [99999]}), "package"),
        (json!({"package": "news"}), "package"),
    ] {
        let (status, v) = call(
            &srv,
            Method::PATCH,
            "/api/v1/lines/ed",
            Some(&token),
            Some(body),
        )
        .await;
        assert_eq!(status, 400, "{v}");
        assert!(
            v["error"]["message"].as_str().unwrap_or("").contains(field),
            "{v}"
        );
    }

    let (status, v) = call(
        &srv,
        Method::PUT,
        "/api/v1/lines/ed/device-policy",
        Some(&token),
        Some(json!({"limit": 2, "enrolment": "operator", "ip_lock": ["10.1.2.3/8"]})),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        v,
        json!({"limit": 2, "enrolment": "operator", "ip_lock": ["10.0.0.0/8"]})
    );
    let (_, line) = call(&srv, Method::GET, "/api/v1/lines/ed", Some(&token), None).await;
    assert_eq!(line["device_policy"], v);
    for body in [
        json!({"enrolment": "sometimes"}),
        json!({"ip_lock": ["nope"]}),
        json!({}),
    ] {
        let (status, v) = call(
            &srv,
            Method::PUT,
            "/api/v1/lines/ed/device-policy",
            Some(&token),
            Some(body),
        )
        .await;
        assert_eq!(status, 400, "{v}");
    }
}

#[tokio::test]
async fn the_console_line_page_edits_everything_and_resets_the_password() {
    let srv = TestServer::start().await;
    srv.with_catalog().await;
    srv.add_line("cl", "pw-cl-1", |_| {}).await;
    let news = category_id(&srv, "cl", "pw-cl-1", "News")
        .await
        .expect("News");
    let console = login(&srv).await;
    let (status, page) = console.get(&srv, "/admin/lines/cl").await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("name=\"format\" value=\"ts\" checked"),
        "{page}"
    );
    let was = page
        .split("name=\"expires_was\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("expires_was")
        .to_string();
    let before = srv.gate.find_line("cl").expect("line").expires_at;
    let (status, body) = console
        .post(
            &srv,
            "/admin/lines/cl",
            &[
                ("expires_was", was.as_str()),
                ("expires", was.as_str()),
                ("status", "active"),
                ("is_trial", "1"),
                ("max_connections", "3"),
                ("limit_policy", "newest_wins"),
                ("format", "m3u8"),
                ("format", "rtmp"),
                ("package", "only"),
                ("category", news.as_str()),
                ("device_limit", "1"),
                ("enrolment", "auto"),
                ("ip_lock", ""),
                ("note", "edited <here>"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let a = srv.gate.find_line("cl").expect("line");
    assert_eq!(
        a.expires_at, before,
        "an unchanged date keeps the exact expiry"
    );
    assert_eq!(&*a.note, "edited <here>");
    assert_eq!(a.max_connections, 3);
    let p = get_json(&srv.url("/player_api.php?username=cl&password=pw-cl-1")).await;
    assert_eq!(
        user_info(&p)["allowed_output_formats"],
        json!(["m3u8", "rtmp"])
    );
    assert_eq!(user_info(&p)["is_trial"], "1");
    assert!(category_id(&srv, "cl", "pw-cl-1", "Sports").await.is_none());
    assert_eq!(srv.gate.binding(a.id).expect("binding").policy.limit, 1);
    let (_, page) = console.get(&srv, "/admin/lines/cl").await;
    assert!(page.contains("edited &lt;here&gt;"), "escaped: {page}");

    // Bad input is a clear page, not a change.
    let (status, body) = console
        .post(
            &srv,
            "/admin/lines/cl",
            &[("package", "all"), ("max_connections", "many")],
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("max_connections"), "{body}");

    let (status, body) = console
        .post(&srv, "/admin/lines/cl/password", &[("confirm", "yes")])
        .await;
    assert_eq!(status, 200, "{body}");
    let pw = body
        .split("<code class=\"password\">")
        .nth(1)
        .and_then(|r| r.split('<').next())
        .expect("password shown");
    assert!(logs_in(&srv, "cl", pw).await);
    assert!(!logs_in(&srv, "cl", "pw-cl-1").await);
}

#[tokio::test]
async fn the_console_imports_creates_in_bulk_and_removes_one_device() {
    let srv = TestServer::start().await;
    srv.add_line("dev", "pw-dev-1", |_| {}).await;
    let console = login(&srv).await;

    let (status, body) = console
        .post(
            &srv,
            "/admin/import",
            &[(
                "csv",
                "username,password,max_connections\nci-a,,1\nci-b,,x\n",
            )],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("1 created, 0 updated, 1 refused"), "{body}");
    assert!(body.contains("<td>3</td>"), "the bad row's line: {body}");
    let pw = body
        .split("<code class=\"password\">")
        .nth(1)
        .and_then(|r| r.split('<').next())
        .expect("generated password");
    assert!(logs_in(&srv, "ci-a", pw).await);

    let (status, body) = console
        .post(
            &srv,
            "/admin/bulk",
            &[
                ("count", "3"),
                ("prefix", "cb-"),
                ("days", "30"),
                ("max_connections", "1"),
            ],
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body.matches("<code class=\"password\">").count(),
        3,
        "{body}"
    );
    assert!(srv.gate.find_line("cb-003").is_some());

    for id in ["00:1A:79:00:00:01", "00:1A:79:00:00:02"] {
        srv.gate
            .add_device("dev", DeviceKind::Mac, id, "box", NOW)
            .await
            .expect("device");
    }
    let line = srv.gate.find_line("dev").expect("line");
    let first = srv.gate.binding(line.id).expect("binding").devices[0]
        .id
        .0
        .to_string();
    let (_, page) = console.get(&srv, "/admin/lines/dev/devices").await;
    assert!(page.contains("/admin/lines/dev/devices/remove"), "{page}");
    let (status, body) = console
        .post(
            &srv,
            "/admin/lines/dev/devices/remove",
            &[("id", first.as_str()), ("confirm", "yes")],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let left = srv.gate.binding(line.id).expect("binding");
    assert_eq!(left.devices.len(), 1);
    assert_eq!(&*left.devices[0].identifier, "00:1A:79:00:00:02");
    let (status, _) = console
        .post(
            &srv,
            "/admin/lines/dev/devices/remove",
            &[("id", first.as_str()), ("confirm", "yes")],
        )
        .await;
    assert_eq!(status, 404, "already gone");
}

#[tokio::test]
async fn the_console_import_takes_forms_beyond_the_default_body_limit() {
    // The import route raises axum's 2 MiB default; the console's form
    // extractor must read the body under the route's limit, not its own.
    let srv = TestServer::start().await;
    let console = login(&srv).await;
    let padding = "x".repeat(3 * 1024 * 1024);
    let (status, page) = console
        .post(
            &srv,
            "/admin/import",
            &[("csv", "username\nbig-1\n"), ("padding", padding.as_str())],
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(srv.gate.find_line("big-1").is_some());
    // Other forms keep the default.
    let (status, _) = console
        .post(
            &srv,
            "/admin/bulk",
            &[
                ("count", "1"),
                ("prefix", "big-b-"),
                ("padding", padding.as_str()),
            ],
        )
        .await;
    assert_eq!(status, 413);
    assert!(srv.gate.find_line("big-b-001").is_none());
}

#[tokio::test]
async fn every_console_form_refuses_a_missing_csrf_token() {
    let srv = TestServer::start().await;
    srv.add_line("cs", "pw-cs-1", |_| {}).await;
    let console = login(&srv).await;
    console
        .assert_csrf_refused(
            &srv,
            &[
                ("/admin/import", &[("csv", "username\ncs-new\n")]),
                ("/admin/bulk", &[("count", "2"), ("prefix", "cs-b-")]),
                (
                    "/admin/lines/cs",
                    &[("package", "all"), ("format", "ts"), ("note", "x")],
                ),
                ("/admin/lines/cs/password", &[]),
                ("/admin/lines/cs/devices/remove", &[("id", "1")]),
            ],
        )
        .await;
    assert!(srv.gate.find_line("cs-new").is_none());
    assert!(srv.gate.find_line("cs-b-001").is_none());
    assert!(logs_in(&srv, "cs", "pw-cs-1").await);
    // Without a session the pages send to the login form.
    let r = client()
        .get(srv.url("/admin/export.csv"))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 303);
}

#[tokio::test]
async fn paging_reaches_every_line() {
    let srv = TestServer::start().await;
    let (console, token) = console_and_token(&srv).await;
    let (status, v) = call(
        &srv,
        Method::POST,
        "/api/v1/lines/bulk",
        Some(&token),
        Some(json!({"count": 520, "prefix": "pg-"})),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    let (_, first) = console.get(&srv, "/admin/lines?q=pg-").await;
    assert!(first.contains(">pg-500<"), "{}", first.len());
    assert!(!first.contains(">pg-501<"));
    let next = first
        .split("<a href=\"")
        .filter_map(|r| r.split('"').next())
        .find(|h| h.contains("offset=500"))
        .expect("a Next link")
        .replace("&amp;", "&");
    assert!(next.contains("q=pg-"), "the search is kept: {next}");
    let (status, second) = console.get(&srv, &next).await;
    assert_eq!(status, 200);
    assert!(
        second.contains(">pg-501<") && second.contains(">pg-520<"),
        "{second}"
    );
    assert!(!second.contains(">pg-500<"));
    assert!(second.contains("offset=0"), "a Previous link");
}
