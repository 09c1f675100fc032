//! No username oracle (issue 17, item 7): an unknown user and a wrong
//! password get byte-identical answers on every face that checks a
//! password (status, headers but `date`, body); the API answers an
//! unknown token and a revoked one alike. Their timing is measured by
//! `bench/oracles.sh` (docs/security.md), not here: no test is timed.

use crate::admin_api::operator;
use crate::harness::{client, TestServer};
use reqwest::Response;

/// Status, headers (without `date`) and body.
async fn bytes(r: Response) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let status = r.status().as_u16();
    let mut headers: Vec<(String, String)> = r
        .headers()
        .iter()
        .filter(|(k, _)| k.as_str() != "date")
        .map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into()))
        .collect();
    headers.sort();
    (status, headers, r.bytes().await.expect("body").to_vec())
}

async fn server() -> TestServer {
    // A handful of failures per test: within the address's burst of 20.
    let srv = TestServer::start_with(|h| h.stalker.login_required = true).await;
    srv.with_catalog().await;
    srv.add_line("real-user", "real-pw-1", |_| {}).await;
    srv
}

#[tokio::test]
async fn xtream_faces_answer_unknown_users_and_wrong_passwords_alike() {
    let srv = server().await;
    for path in [
        "/player_api.php?username={u}&password={p}",
        "/player_api.php?username={u}&password={p}&action=get_live_streams",
        "/get.php?username={u}&password={p}&type=m3u_plus&output=ts",
        "/xmltv.php?username={u}&password={p}",
        "/live/{u}/{p}/1.ts",
        "/movie/{u}/{p}/3.mp4",
    ] {
        let url = |u: &str, p: &str| srv.url(&path.replace("{u}", u).replace("{p}", p));
        let unknown = bytes(
            client()
                .get(url("no-such-user", "real-pw-1"))
                .send()
                .await
                .expect("a"),
        )
        .await;
        let wrong = bytes(
            client()
                .get(url("real-user", "wrong-pw-1"))
                .send()
                .await
                .expect("b"),
        )
        .await;
        assert_eq!(unknown, wrong, "{path}");
    }
}

#[tokio::test]
async fn portal_and_console_logins_answer_alike() {
    let srv = server().await;
    srv.gate
        .create_admin("olga", crate::harness::NOW)
        .await
        .expect("admin");
    // The portal's login form: one cookie and token for both tries.
    let r = client()
        .get(srv.url("/portal/"))
        .send()
        .await
        .expect("form");
    let cookie = r
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("cookie")
        .to_string();
    let page = r.text().await.expect("page");
    let token = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("token")
        .to_string();
    let portal = |u: &'static str, p: &'static str| {
        client()
            .post(srv.url("/portal/login"))
            .header("cookie", &cookie)
            .form(&[("username", u), ("password", p), ("csrf", token.as_str())])
            .send()
    };
    let unknown = bytes(portal("no-such-user", "real-pw-1").await.expect("a")).await;
    let wrong = bytes(portal("real-user", "wrong-pw-1").await.expect("b")).await;
    assert_eq!(unknown.0, 401);
    assert_eq!(unknown, wrong, "portal");
    let console = |n: &'static str, p: &'static str| {
        client()
            .post(srv.url("/admin/login"))
            .form(&[("name", n), ("password", p)])
            .send()
    };
    let unknown = bytes(console("no-such-admin", "x").await.expect("a")).await;
    let wrong = bytes(console("olga", "x").await.expect("b")).await;
    assert_eq!(unknown.0, 401);
    assert_eq!(unknown, wrong, "console");
}

#[tokio::test]
async fn stalker_do_auth_and_api_tokens_answer_alike() {
    let srv = server().await;
    let stb = reqwest::Client::new();
    let base = srv.url("/stalker_portal/server/load.php");
    let mac = "00:1A:79:00:00:01";
    let hs: serde_json::Value = stb
        .get(format!(
            "{base}?type=stb&action=handshake&token=&JsHttpRequest=1-xml"
        ))
        .header("cookie", format!("mac={mac}"))
        .send()
        .await
        .expect("handshake")
        .json()
        .await
        .expect("json");
    let token = hs["js"]["token"].as_str().expect("token").to_string();
    let auth = |login: &str, password: &str| {
        stb.get(format!(
            "{base}?type=stb&action=do_auth&login={login}&password={password}&JsHttpRequest=1-xml"
        ))
        .header("cookie", format!("mac={mac}"))
        .header("authorization", format!("Bearer {token}"))
        .send()
    };
    let unknown = bytes(auth("no-such-user", "real-pw-1").await.expect("a")).await;
    let wrong = bytes(auth("real-user", "wrong-pw-1").await.expect("b")).await;
    assert_eq!(unknown, wrong, "stalker do_auth");
    assert!(String::from_utf8_lossy(&unknown.2).contains("false"));

    let (_, live) = operator(&srv).await;
    let (_, revoked) = srv
        .gate
        .create_api_token("olga", "old", crate::harness::NOW)
        .await
        .expect("token");
    let id = srv
        .gate
        .check_api_token(&revoked)
        .await
        .expect("check")
        .expect("valid")
        .id;
    srv.gate
        .revoke_api_token(id, crate::harness::NOW)
        .await
        .expect("revoke");
    let api = |t: String| client().get(srv.url("/api/v1/lines")).bearer_auth(t).send();
    let unknown = bytes(
        api(format!("{}x", &live[..live.len() - 1]))
            .await
            .expect("a"),
    )
    .await;
    let was = bytes(api(revoked).await.expect("b")).await;
    assert_eq!(unknown.0, 401);
    assert_eq!(unknown, was, "api token");
}
