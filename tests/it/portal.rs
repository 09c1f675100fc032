//! The subscriber portal over HTTP: login with the line's credentials,
//! the session cookie and CSRF token, the pages' content, ending a real
//! stream, the device reset's cooldown, and that one line can never act on
//! another's connections.

use crate::harness::*;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tvgate_core::gate::DevicePolicyPatch;

/// A browser-like portal client that carries the session cookie by hand.
pub(crate) struct Portal {
    pub(crate) base: String,
    pub(crate) cookie: String,
}

/// The login form's cookie (`name=value`) and CSRF token.
async fn login_form(srv: &TestServer) -> (String, String) {
    let r = client()
        .get(srv.url("/portal/"))
        .send()
        .await
        .expect("login form");
    let cookie = r
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("login cookie")
        .to_string();
    let page = r.text().await.expect("body");
    let token = value_after(&page, "name=\"csrf\" value=\"").expect("login token");
    (cookie, token)
}

async fn post_login(
    srv: &TestServer,
    form: &(String, String),
    user: &str,
    pass: &str,
) -> reqwest::Response {
    client()
        .post(srv.url("/portal/login"))
        .header("cookie", &form.0)
        .form(&[("username", user), ("password", pass), ("csrf", &form.1)])
        .send()
        .await
        .expect("login")
}

impl Portal {
    pub(crate) async fn login(srv: &TestServer, user: &str, pass: &str) -> Portal {
        let form = login_form(srv).await;
        let r = post_login(srv, &form, user, pass).await;
        assert_eq!(r.status(), 303, "login of {user}");
        let set = r
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .expect("session cookie")
            .to_string();
        let cookie = set.split(';').next().unwrap_or("").to_string();
        Portal {
            base: srv.url(""),
            cookie,
        }
    }

    pub(crate) async fn page(&self) -> (u16, String) {
        let r = client()
            .get(format!("{}/portal/", self.base))
            .header("cookie", &self.cookie)
            .send()
            .await
            .expect("page");
        (r.status().as_u16(), r.text().await.expect("body"))
    }

    pub(crate) async fn csrf(&self) -> String {
        let (_, page) = self.page().await;
        value_after(&page, "name=\"csrf\" value=\"").expect("csrf token on the page")
    }

    pub(crate) async fn post(&self, path: &str, form: &[(&str, &str)]) -> (u16, String) {
        let r = client()
            .post(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .form(form)
            .send()
            .await
            .expect("post");
        (r.status().as_u16(), r.text().await.expect("body"))
    }
}

/// The text between `marker` and the next `"`.
fn value_after(page: &str, marker: &str) -> Option<String> {
    let start = page.find(marker)? + marker.len();
    let rest = &page[start..];
    Some(rest[..rest.find('"')?].to_string())
}

fn lease_ids(page: &str) -> Vec<String> {
    page.split("name=\"lease\" value=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(str::to_string)
        .collect()
}

async fn open_stream(srv: &TestServer, user: &str, pass: &str, ua: &str) -> reqwest::Response {
    client()
        .get(srv.url(&format!("/live/{user}/{pass}/1.ts")))
        .header("user-agent", ua)
        .send()
        .await
        .expect("stream")
}

async fn active_cons(srv: &TestServer, user: &str, pass: &str) -> String {
    let v = get_json(&srv.url(&format!("/player_api.php?username={user}&password={pass}"))).await;
    v["user_info"]["active_cons"]
        .as_str()
        .unwrap_or("?")
        .to_string()
}

async fn server() -> TestServer {
    let srv = TestServer::start_with(|h| {
        h.admission_wait = Duration::from_millis(200);
        h.stream_denials = tvgate_http::slate::StreamDenials::Status;
    })
    .await;
    srv.with_catalog().await;
    srv.add_line("tina", "pw-11", |s| s.max_connections = 1)
        .await;
    srv.add_line("otto", "pw-22", |s| s.max_connections = 2)
        .await;
    srv
}

#[tokio::test]
async fn a_wrong_password_gets_the_same_answer_as_an_unknown_user() {
    let srv = server().await;
    let form = login_form(&srv).await;
    let mut answers = Vec::new();
    for (user, pass) in [("tina", "nope"), ("nobody", "nope")] {
        let r = post_login(&srv, &form, user, pass).await;
        let session = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .any(|v| v.to_str().unwrap_or("").starts_with("tvgate_portal="));
        answers.push((r.status().as_u16(), session, r.text().await.expect("body")));
    }
    let (wrong, unknown) = (&answers[0], &answers[1]);
    assert_eq!(wrong.0, 401);
    assert!(!wrong.1, "no session for a failed login");
    assert_eq!(wrong, unknown);
    assert!(
        wrong.2.contains("Wrong username or password"),
        "{}",
        wrong.2
    );

    // The login form's CSRF token is required too.
    let r = client()
        .post(srv.url("/portal/login"))
        .header("cookie", &form.0)
        .form(&[("username", "tina"), ("password", "pw-11")])
        .send()
        .await
        .expect("login");
    assert_eq!(r.status(), 403, "login without the form's token");
    let r = client()
        .post(srv.url("/portal/login"))
        .form(&[
            ("username", "tina"),
            ("password", "pw-11"),
            ("csrf", &form.1),
        ])
        .send()
        .await
        .expect("login");
    assert_eq!(r.status(), 403, "login without the form's cookie");

    let r = post_login(&srv, &form, "tina", "pw-11").await;
    assert_eq!(r.status(), 303);
    let cookie = r
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert!(cookie.starts_with("tvgate_portal="), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    // Without the cookie (or with a made-up one) the portal shows the login form.
    let (status, page) = get(&srv.url("/portal/")).await;
    assert_eq!(status, 200);
    assert!(page.contains("action=\"/portal/login\""), "{page}");
    let forged = Portal {
        base: srv.url(""),
        cookie: format!("tvgate_portal={}", "0".repeat(64)),
    };
    assert!(forged.page().await.1.contains("action=\"/portal/login\""));
}

#[tokio::test]
async fn the_status_page_says_it_in_plain_words_with_login_details() {
    let srv = server().await;
    let p = Portal::login(&srv, "tina", "pw-11").await;
    let (status, page) = p.page().await;
    assert_eq!(status, 200);
    assert!(page.contains("<span class=\"ok\">active</span>"), "{page}");
    assert!(page.contains("(30 days left)"), "{page}");
    assert!(
        page.contains("Up to 1 connection at the same time."),
        "{page}"
    );
    assert!(page.contains("None right now."), "{page}");
    assert!(page.contains("not bound to a device"), "{page}");
    let base = srv.url("");
    assert!(
        page.contains(&format!(
            "{base}/get.php?username=tina&amp;password=pw%2D11&amp;type=m3u_plus&amp;output=ts"
        )),
        "{page}"
    );
    assert!(
        page.contains(&format!("{base}/xmltv.php?username=tina")),
        "{page}"
    );
    assert!(
        page.contains("<details><summary>Show password</summary>"),
        "{page}"
    );
    assert!(page.contains("<svg"), "QR code inline: {page}");
    assert!(page.contains("data-copy=\"m3u-url\""), "{page}");
}

#[tokio::test]
async fn ending_a_connection_cuts_the_real_stream_at_once() {
    let srv = server().await;
    let mut tv = open_stream(&srv, "tina", "pw-11", "LivingRoomTV/1.0").await;
    assert_eq!(tv.status(), 200);
    assert!(tv.chunk().await.expect("chunk").is_some());
    assert_eq!(active_cons(&srv, "tina", "pw-11").await, "1");

    let p = Portal::login(&srv, "tina", "pw-11").await;
    let (_, page) = p.page().await;
    assert!(
        page.contains("<strong>LivingRoomTV/1.0</strong> (127.0.0.1) watching News One, since "),
        "{page}"
    );
    let ids = lease_ids(&page);
    assert_eq!(ids.len(), 1, "{page}");
    let csrf = p.csrf().await;
    let (status, _) = p
        .post("/portal/end", &[("csrf", &csrf), ("lease", &ids[0])])
        .await;
    assert_eq!(status, 303);

    let started = Instant::now();
    let ended = tokio::time::timeout(Duration::from_secs(2), async {
        while let Ok(Some(_)) = tv.chunk().await {}
    })
    .await;
    assert!(ended.is_ok(), "the stream still flows after 2 s");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(active_cons(&srv, "tina", "pw-11").await, "0");
    assert!(p.page().await.1.contains("None right now."));
}

#[tokio::test]
async fn a_post_without_the_right_csrf_token_is_forbidden() {
    let srv = server().await;
    let mut tv = open_stream(&srv, "tina", "pw-11", "TV/1").await;
    assert!(tv.chunk().await.expect("chunk").is_some());
    let p = Portal::login(&srv, "tina", "pw-11").await;
    let (_, page) = p.page().await;
    let lease = lease_ids(&page).pop().expect("a lease");
    let (status, _) = p.post("/portal/end", &[("lease", &lease)]).await;
    assert_eq!(status, 403, "no token");
    let (status, _) = p
        .post("/portal/end", &[("csrf", "0123"), ("lease", &lease)])
        .await;
    assert_eq!(status, 403, "wrong token");
    let (status, _) = p.post("/portal/reset-devices", &[("csrf", "")]).await;
    assert_eq!(status, 403);
    let (status, _) = p.post("/portal/logout", &[]).await;
    assert_eq!(status, 403);
    // Without a session, the right-looking token does not help either.
    let csrf = p.csrf().await;
    let r = client()
        .post(srv.url("/portal/end"))
        .form(&[("csrf", csrf.as_str()), ("lease", lease.as_str())])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 403);
    assert_eq!(
        active_cons(&srv, "tina", "pw-11").await,
        "1",
        "still streaming"
    );
    // Logging out ends the session.
    let (status, _) = p.post("/portal/logout", &[("csrf", &csrf)]).await;
    assert_eq!(status, 303);
    assert!(p.page().await.1.contains("action=\"/portal/login\""));
}

#[tokio::test]
async fn one_line_cannot_end_another_lines_connection() {
    let srv = server().await;
    let mut otto_tv = open_stream(&srv, "otto", "pw-22", "OttoTV/1").await;
    assert!(otto_tv.chunk().await.expect("chunk").is_some());
    let otto = Portal::login(&srv, "otto", "pw-22").await;
    let otto_lease = lease_ids(&otto.page().await.1).pop().expect("otto's lease");

    let tina = Portal::login(&srv, "tina", "pw-11").await;
    let (_, tina_page) = tina.page().await;
    assert!(!tina_page.contains("OttoTV"), "tina sees only her line");
    let csrf = tina.csrf().await;
    let (status, page) = tina
        .post("/portal/end", &[("csrf", &csrf), ("lease", &otto_lease)])
        .await;
    assert_eq!(status, 404, "{page}");
    assert!(page.contains("not in use on your subscription"), "{page}");
    // Otto's stream goes on.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(otto_tv.chunk().await.expect("chunk").is_some());
    assert_eq!(active_cons(&srv, "otto", "pw-22").await, "1");
}

#[tokio::test]
async fn the_device_reset_holds_its_cooldown() {
    let srv = server().await;
    srv.gate
        .set_device_policy(
            "tina",
            DevicePolicyPatch {
                limit: Some(1),
                ..Default::default()
            },
            NOW,
        )
        .await
        .expect("policy");
    // A player binds itself on first contact.
    get_json(&srv.url("/player_api.php?username=tina&password=pw-11&device_id=phone-1")).await;
    let p = Portal::login(&srv, "tina", "pw-11").await;
    let (_, page) = p.page().await;
    assert!(page.contains("<code>phone-1</code>"), "{page}");
    assert!(page.contains("Up to 1 device may use"), "{page}");

    let csrf = p.csrf().await;
    let (status, page) = p.post("/portal/reset-devices", &[("csrf", &csrf)]).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Devices reset (1 unbound)"), "{page}");
    assert!(!page.contains("<code>phone-1</code>"), "{page}");
    assert!(
        page.contains("You can reset your devices again in 24 h."),
        "{page}"
    );
    assert!(page.contains(" disabled>Reset devices</button>"), "{page}");

    // Within the cooldown: refused with the time left.
    srv.clock.fetch_add(3600, Ordering::Relaxed);
    let (status, page) = p.post("/portal/reset-devices", &[("csrf", &csrf)]).await;
    assert_eq!(status, 429, "{page}");
    assert!(page.contains("You can reset again in 23 h."), "{page}");

    // After it: allowed again (in a new session: the old one expired).
    srv.clock.fetch_add(23 * 3600, Ordering::Relaxed);
    let (status, _) = p.post("/portal/reset-devices", &[("csrf", &csrf)]).await;
    assert_eq!(status, 403, "the 8-hour session has expired");
    let p = Portal::login(&srv, "tina", "pw-11").await;
    let csrf = p.csrf().await;
    let (status, page) = p.post("/portal/reset-devices", &[("csrf", &csrf)]).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Devices reset (0 unbound)"), "{page}");
}

#[tokio::test]
async fn a_lines_recent_refusals_are_listed_in_plain_words() {
    let srv = server().await;
    let mut tv = open_stream(&srv, "tina", "pw-11", "Firestick/7").await;
    assert!(tv.chunk().await.expect("chunk").is_some());
    let phone = open_stream(&srv, "tina", "pw-11", "AndroidPhone/2").await;
    assert_eq!(phone.status(), 403);
    // A wrong password says nothing about the line: not its refusal.
    get(&srv.url("/player_api.php?username=tina&password=wrong")).await;
    let p = Portal::login(&srv, "tina", "pw-11").await;
    let (_, page) = p.page().await;
    assert!(
        page.contains("today 08:00 — refused: Connection limit reached: 1 of 1 in use by Firestick/7 (127.0.0.1, watching News One, since 2027-01-15 08:00)"),
        "{page}"
    );
    // Another line sees none of it.
    let otto = Portal::login(&srv, "otto", "pw-22").await;
    let (_, page) = otto.page().await;
    assert!(page.contains("Nothing was refused lately."), "{page}");
    assert!(!page.contains("Firestick"), "{page}");
    let (_, page) = p.page().await;
    assert!(!page.contains("Invalid username or password"), "{page}");
}

#[tokio::test]
async fn an_expired_line_logs_in_to_read_why_and_the_browser_is_no_device() {
    let srv = server().await;
    srv.add_line("old", "pw-33", |s| s.expires_at = Some(NOW - 2 * 86_400))
        .await;
    let p = Portal::login(&srv, "old", "pw-33").await;
    let (_, page) = p.page().await;
    assert!(
        page.contains("<span class=\"bad\">expired</span>"),
        "{page}"
    );
    assert!(page.contains("Expired on 2027-01-13 08:00."), "{page}");

    // A line bound to a device: logging in from a browser (no device id)
    // is not a device refusal.
    srv.gate
        .set_device_policy(
            "tina",
            DevicePolicyPatch {
                limit: Some(1),
                ..Default::default()
            },
            NOW,
        )
        .await
        .expect("policy");
    let p = Portal::login(&srv, "tina", "pw-11").await;
    let (_, page) = p.page().await;
    assert!(page.contains("Nothing was refused lately."), "{page}");
}

#[tokio::test]
async fn portal_guesses_share_the_apis_failure_budget() {
    let srv = server().await;
    let form = login_form(&srv).await;
    for i in 0..20 {
        let r = post_login(&srv, &form, "tina", &format!("guess{i}")).await;
        assert_eq!(r.status(), 401, "attempt {i} is an ordinary failure");
    }
    let r = post_login(&srv, &form, "tina", "pw-11").await;
    assert_eq!(r.status(), 429, "over the budget: refused unheard");
    assert!(r.headers().contains_key("retry-after"));
    assert!(r
        .text()
        .await
        .expect("body")
        .contains("Too many failed logins"));
    let api = client()
        .get(srv.url("/player_api.php?username=tina&password=pw-11"))
        .send()
        .await
        .expect("api");
    assert_eq!(api.status(), 429, "the API shares the portal's budget");
}

/// The operator's other addresses (`alternate_urls`) are in the login
/// details, ready to copy, for subscribers whose ISP blocks the main one.
#[tokio::test]
async fn the_login_details_offer_the_servers_other_addresses() {
    let srv = TestServer::start_with(|h| {
        h.alternate_urls = ["http://tv2.example.net:8080", "https://203.0.113.5/"]
            .into_iter()
            .map(|u| tvgate_http::PublicUrl::parse(u).expect("literal URL"))
            .collect();
    })
    .await;
    srv.add_line("tina", "pw-11", |_| {}).await;
    let p = Portal::login(&srv, "tina", "pw-11").await;
    let (status, page) = p.page().await;
    assert_eq!(status, 200);
    assert!(
        page.contains("<code id=\"alternate-url-1\">http://tv2.example.net:8080</code>"),
        "{page}"
    );
    assert!(
        page.contains("<code id=\"alternate-url-2\">https://203.0.113.5</code>"),
        "{page}"
    );
    assert!(page.contains("data-copy=\"alternate-url-2\""), "{page}");
    // Without any, nothing is said.
    let (_, plain) = Portal::login(&server().await, "tina", "pw-11")
        .await
        .page()
        .await;
    assert!(!plain.contains("alternate-url"), "{plain}");
}
