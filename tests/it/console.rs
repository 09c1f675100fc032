//! The operator console's pages: lines (search, create, actions), the live
//! view with its End buttons, the denial log's filters and a line's
//! devices; all behind the session, every change behind the CSRF token.

use crate::harness::{client, TestServer, NOW};
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tvgate_core::access::device::DeviceKind;
use tvgate_core::access::Status;

/// A logged-in console: the session cookie and its CSRF token.
pub(crate) struct Console {
    pub(crate) cookie: String,
    pub(crate) csrf: String,
}

pub(crate) async fn login(srv: &TestServer) -> Console {
    let (_, password) = srv.gate.create_admin("olga", NOW).await.expect("admin");
    let login = client()
        .post(srv.url("/admin/login"))
        .form(&[("name", "olga"), ("password", password.as_str())])
        .send()
        .await
        .expect("login");
    assert_eq!(login.status(), 303);
    let cookie = login
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("session cookie")
        .to_string();
    let mut console = Console {
        cookie,
        csrf: String::new(),
    };
    let (status, dashboard) = console.get(srv, "/admin/").await;
    assert_eq!(status, 200);
    for link in ["/admin/lines", "/admin/live", "/admin/denials"] {
        assert!(
            dashboard.contains(&format!("href=\"{link}\"")),
            "{dashboard}"
        );
    }
    console.csrf = dashboard
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("csrf field")
        .to_string();
    console
}

impl Console {
    pub(crate) async fn get(&self, srv: &TestServer, path: &str) -> (u16, String) {
        let r = client()
            .get(srv.url(path))
            .header("cookie", &self.cookie)
            .send()
            .await
            .expect("page");
        let status = r.status().as_u16();
        (status, r.text().await.expect("body"))
    }

    pub(crate) async fn post(
        &self,
        srv: &TestServer,
        path: &str,
        form: &[(&str, &str)],
    ) -> (u16, String) {
        let r = self.submit(srv, path, form, Some(&self.csrf)).await;
        // A change that worked answers `303` back to its page with the
        // result in the flash cookie: followed as a browser does, so the
        // answer is the page that shows the result in place.
        if let Some((to, flash)) = flash_redirect(&r) {
            return self.get_with_flash(srv, &to, &flash).await;
        }
        let status = r.status().as_u16();
        (status, r.text().await.expect("body"))
    }

    /// A GET with the session and a flash cookie, as the browser sends it
    /// after a change.
    pub(crate) async fn get_with_flash(
        &self,
        srv: &TestServer,
        path: &str,
        flash: &str,
    ) -> (u16, String) {
        let r = client()
            .get(srv.url(path))
            .header("cookie", format!("{}; {flash}", self.cookie))
            .send()
            .await
            .expect("page");
        let status = r.status().as_u16();
        (status, r.text().await.expect("body"))
    }

    /// A form POST as a browser sends it, with the session cookie and
    /// `csrf` (none: without the field).
    pub(crate) async fn submit(
        &self,
        srv: &TestServer,
        path: &str,
        form: &[(&str, &str)],
        csrf: Option<&str>,
    ) -> reqwest::Response {
        let mut form = form.to_vec();
        if let Some(c) = csrf {
            form.push(("csrf", c));
        }
        client()
            .post(srv.url(path))
            .header("cookie", &self.cookie)
            .form(&form)
            .send()
            .await
            .expect("post")
    }

    /// Posts each form with this session's cookie but without a CSRF token,
    /// then with a token that is not the session's; every post must be a 403.
    pub(crate) async fn assert_csrf_refused(
        &self,
        srv: &TestServer,
        forms: &[(&str, &[(&str, &str)])],
    ) {
        let wrong = "0".repeat(64);
        for (path, form) in forms {
            for csrf in [None, Some(wrong.as_str())] {
                let r = self.submit(srv, path, form, csrf).await;
                assert_eq!(r.status(), 403, "{path} {csrf:?}");
            }
        }
    }
}

/// A `303` that carries a result in the flash cookie: (where to, the
/// cookie as a `Cookie` header sends it).
pub(crate) fn flash_redirect(r: &reqwest::Response) -> Option<(String, String)> {
    if r.status() != 303 {
        return None;
    }
    let flash = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("tvgate_flash="))?
        .split(';')
        .next()?
        .to_string();
    let to = r.headers().get("location")?.to_str().ok()?.to_string();
    Some((to, flash))
}

#[tokio::test]
async fn console_pages_without_a_session_go_to_the_login() {
    let srv = TestServer::start().await;
    srv.add_line("tina", "pw-11", |_| {}).await;
    for path in [
        "/admin/lines",
        "/admin/live",
        "/admin/denials",
        "/admin/lines/tina/devices",
    ] {
        let r = client().get(srv.url(path)).send().await.expect("page");
        assert_eq!(r.status(), 303, "{path}");
        assert_eq!(
            r.headers().get("location").and_then(|v| v.to_str().ok()),
            Some("/admin/"),
            "{path}"
        );
    }
    let r = client()
        .post(srv.url("/admin/lines"))
        .form(&[("username", "intruder")])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 401);
    assert!(srv.gate.find_line("intruder").is_none());
}

/// Console and portal pages are never framed (their buttons end streams and
/// delete lines), cached, sniffed or named in a referrer, and load nothing
/// from elsewhere.
#[tokio::test]
async fn console_and_portal_pages_carry_the_page_headers() {
    let srv = TestServer::start().await;
    for path in ["/admin/", "/admin/lines", "/portal/"] {
        let r = client().get(srv.url(path)).send().await.expect("page");
        let h = r.headers();
        let get = |name: &str| {
            h.get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        assert_eq!(get("x-frame-options"), "DENY", "{path}");
        assert_eq!(get("cache-control"), "no-store", "{path}");
        assert_eq!(get("referrer-policy"), "no-referrer", "{path}");
        assert_eq!(get("x-content-type-options"), "nosniff", "{path}");
        let csp = get("content-security-policy");
        assert!(
            csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'none'"),
            "{path}: {csp}"
        );
    }
}

#[tokio::test]
async fn console_lines_search_create_and_act_through_the_gate() {
    console_lines_search_create_and_act_through_the_gate_on(TestServer::start().await).await;
}

/// The body of [`console_lines_search_create_and_act_through_the_gate`], also run on PostgreSQL (`postgres.rs`).
pub(crate) async fn console_lines_search_create_and_act_through_the_gate_on(srv: TestServer) {
    srv.add_line("tina", "pw-11", |s| s.note = "kitchen <tv>".into())
        .await;
    srv.add_line("bob", "pw-22", |_| {}).await;
    let console = login(&srv).await;

    let (status, page) = console.get(&srv, "/admin/lines?q=kitchen").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("<td><a href=\"/admin/lines/tina\">tina</a></td>"),
        "{page}"
    );
    assert!(page.contains("kitchen &lt;tv&gt;"), "escaped: {page}");
    assert!(!page.contains(">bob</a>"), "{page}");
    assert!(
        page.contains("href=\"/admin/lines/tina/devices\""),
        "{page}"
    );

    // Create with a generated password: shown once, and it works.
    let (status, created) = console
        .post(
            &srv,
            "/admin/lines",
            &[
                ("username", "newbie"),
                ("password", ""),
                ("days", "10"),
                ("max_connections", "2"),
                ("note", ""),
            ],
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let password = created
        .split("<code class=\"password\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .expect("password shown")
        .to_string();
    let line = srv.gate.find_line("newbie").expect("line exists");
    assert_eq!(line.max_connections, 2);
    assert_eq!(line.expires_at, Some(NOW + 10 * 86_400));
    let api = crate::harness::get_json(&srv.url(&format!(
        "/player_api.php?username=newbie&password={password}"
    )))
    .await;
    assert_eq!(api["user_info"]["auth"], 1, "{api}");
    let (_, list) = console.get(&srv, "/admin/lines").await;
    assert!(list.contains(">newbie</a></td>"), "{list}");
    assert!(!list.contains(&password), "the password is shown only once");

    // Extend, disable, enable, ban, delete.
    let (status, _) = console
        .post(
            &srv,
            "/admin/lines/action",
            &[("name", "newbie"), ("action", "extend"), ("days", "5")],
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        srv.gate.find_line("newbie").expect("line").expires_at,
        Some(NOW + 15 * 86_400)
    );
    for (action, want) in [
        ("disable", Status::Disabled),
        ("enable", Status::Active),
        ("ban", Status::Banned),
    ] {
        let (status, body) = console
            .post(
                &srv,
                "/admin/lines/action",
                &[("name", "newbie"), ("action", action), ("days", "30")],
            )
            .await;
        assert_eq!(status, 200, "{action}: {body}");
        assert_eq!(srv.gate.find_line("newbie").expect("line").status, want);
    }
    // Delete asks first (no scripts: a page with the confirming form).
    let (status, ask) = console
        .post(
            &srv,
            "/admin/lines/action",
            &[("name", "newbie"), ("action", "delete")],
        )
        .await;
    assert_eq!(status, 200);
    assert!(
        ask.contains("name=\"confirm\" value=\"yes\"") && ask.contains("cannot be undone"),
        "{ask}"
    );
    assert!(srv.gate.find_line("newbie").is_some(), "not yet deleted");
    let (status, _) = console
        .post(
            &srv,
            "/admin/lines/action",
            &[("name", "newbie"), ("action", "delete"), ("confirm", "yes")],
        )
        .await;
    assert_eq!(status, 200);
    assert!(srv.gate.find_line("newbie").is_none());
    let (status, _) = console
        .post(
            &srv,
            "/admin/lines/action",
            &[("name", "newbie"), ("action", "delete"), ("confirm", "yes")],
        )
        .await;
    assert_eq!(status, 404);

    // Bad input is a clear 400, and a duplicate name is refused.
    let (status, body) = console
        .post(&srv, "/admin/lines", &[("username", "tina"), ("days", "x")])
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = console
        .post(&srv, "/admin/lines", &[("username", "tina")])
        .await;
    assert!((400..500).contains(&status), "{status}");
}

#[tokio::test]
async fn console_posts_without_the_csrf_token_are_403() {
    let srv = TestServer::start().await;
    srv.add_line("tina", "pw-11", |_| {}).await;
    let console = login(&srv).await;
    console
        .assert_csrf_refused(
            &srv,
            &[
                ("/admin/lines", &[("username", "sneaky")]),
                (
                    "/admin/lines/action",
                    &[("name", "tina"), ("action", "ban")],
                ),
                ("/admin/live/end", &[("id", "1")]),
                ("/admin/lines/tina/devices/reset", &[]),
            ],
        )
        .await;
    assert!(srv.gate.find_line("sneaky").is_none());
    assert_eq!(
        srv.gate.find_line("tina").expect("line").status,
        Status::Active
    );
}

#[tokio::test]
async fn console_live_view_lists_and_ends_a_real_connection() {
    let srv = TestServer::start().await;
    srv.with_catalog().await;
    srv.add_line("tina", "pw-11", |s| s.max_connections = 1)
        .await;
    let console = login(&srv).await;
    let mut stream = client()
        .get(srv.url("/live/tina/pw-11/1.ts"))
        .header("user-agent", "Living<Room>TV")
        .send()
        .await
        .expect("stream");
    assert_eq!(stream.status(), 200);
    assert!(stream.chunk().await.expect("chunk").is_some());

    let (status, live) = console.get(&srv, "/admin/live").await;
    assert_eq!(status, 200);
    assert!(live.contains("<h3>tina</h3>"), "{live}");
    assert!(live.contains("News One"), "{live}");
    assert!(live.contains("Living&lt;Room&gt;TV"), "escaped: {live}");
    assert!(live.contains("127.0.0.1"), "{live}");
    assert!(live.contains("Viewers by channel"), "{live}");
    assert!(
        !live.contains("http-equiv"),
        "reloads only when asked: {live}"
    );
    let (_, auto) = console.get(&srv, "/admin/live?auto=1").await;
    assert!(
        auto.contains("<meta http-equiv=\"refresh\" content=\"5\">")
            && auto.contains("<h3>tina</h3>"),
        "{auto}"
    );
    let id = live
        .split("name=\"id\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("an End button")
        .to_string();

    let (status, body) = console
        .post(
            &srv,
            "/admin/live/end",
            &[("id", id.as_str()), ("confirm", "yes")],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(srv
        .ledger
        .holders(srv.gate.find_line("tina").expect("line").id, NOW)
        .await
        .is_empty());
    // The serving body renews each second of the server's clock and stops
    // at the first renewal that fails.
    srv.clock.fetch_add(1, Ordering::Relaxed);
    let ended = tokio::time::timeout(Duration::from_secs(2), async {
        while let Ok(Some(_)) = stream.chunk().await {}
    })
    .await;
    assert!(ended.is_ok(), "the reader was cut");
    let (status, _) = console
        .post(
            &srv,
            "/admin/live/end",
            &[("id", id.as_str()), ("confirm", "yes")],
        )
        .await;
    assert_eq!(status, 404);
    let (_, live) = console.get(&srv, "/admin/live").await;
    assert!(live.contains("Nobody is watching"), "{live}");
}

#[tokio::test]
async fn console_denial_log_filters_by_reason_line_and_ip() {
    let srv = TestServer::start().await;
    srv.add_line("dora", "pw-33", |s| s.status = Status::Disabled)
        .await;
    let console = login(&srv).await;
    let disabled = client()
        .get(srv.url("/player_api.php?username=dora&password=pw-33"))
        .send()
        .await
        .expect("request");
    assert_eq!(disabled.status(), 200);
    // A guess from another loopback address.
    let other = reqwest::Client::builder()
        .local_address(IpAddr::from([127, 0, 0, 2]))
        .build()
        .expect("client");
    other
        .get(srv.url("/player_api.php?username=guess%3Cr%3E&password=nope"))
        .send()
        .await
        .expect("request");

    let (status, all) = console.get(&srv, "/admin/denials").await;
    assert_eq!(status, 200);
    assert!(all.contains(">dora<"), "{all}");
    assert!(all.contains("guess&lt;r&gt;"), "escaped: {all}");

    let (_, by_reason) = console.get(&srv, "/admin/denials?reason=disabled").await;
    assert!(by_reason.contains(">dora<"), "{by_reason}");
    assert!(!by_reason.contains("guess&lt;r&gt;<"), "{by_reason}");

    let (_, by_ip) = console.get(&srv, "/admin/denials?ip=127.0.0.2").await;
    assert!(by_ip.contains("guess&lt;r&gt;<"), "{by_ip}");
    assert!(by_ip.contains("invalid_credentials<"), "{by_ip}");
    assert!(!by_ip.contains(">dora<"), "{by_ip}");

    let (_, by_line) = console.get(&srv, "/admin/denials?line=DORA").await;
    assert!(by_line.contains(">dora<"), "{by_line}");
    assert!(!by_line.contains("guess&lt;r&gt;<"), "{by_line}");

    let (_, none) = console.get(&srv, "/admin/denials?ip=10.9.9.9").await;
    assert!(none.contains("0 refusal(s)"), "{none}");
}

#[tokio::test]
async fn console_denial_log_pages_to_older_refusals_and_names_a_bad_filter() {
    let srv = TestServer::start().await;
    let console = login(&srv).await;
    for i in 0..3 {
        client()
            .get(srv.url(&format!("/player_api.php?username=guess{i}&password=x")))
            .send()
            .await
            .expect("request");
    }
    let (status, first) = console.get(&srv, "/admin/denials?limit=2").await;
    assert_eq!(status, 200, "{first}");
    assert!(
        first.contains(">guess2<") && first.contains(">guess1<"),
        "{first}"
    );
    assert!(!first.contains(">guess0<"), "{first}");
    let older = first
        .split("id=\"older\" href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a link to older refusals")
        .replace("&amp;", "&");
    assert!(older.contains("limit=2"), "the same query: {older}");
    let (_, second) = console.get(&srv, &older).await;
    assert!(second.contains(">guess0<"), "{second}");
    assert!(!second.contains(">guess1<"), "{second}");
    assert!(!second.contains("id=\"older\""), "the last page: {second}");

    let (status, bad) = console.get(&srv, "/admin/denials?reason=nope").await;
    assert_eq!(status, 400);
    assert!(
        bad.contains("device_not_registered"),
        "lists the codes: {bad}"
    );
    let (status, bad) = console.get(&srv, "/admin/denials?ip=not-an-ip").await;
    assert_eq!(status, 400);
    assert!(bad.contains("ip must be"), "{bad}");
}

#[tokio::test]
async fn console_devices_page_shows_bindings_and_history_and_resets() {
    let srv = TestServer::start().await;
    srv.add_line("tina", "pw-11", |_| {}).await;
    srv.gate
        .add_device("tina", DeviceKind::Player, "tv<1>", "Kitchen", NOW)
        .await
        .expect("add device");
    let console = login(&srv).await;
    let (status, page) = console.get(&srv, "/admin/lines/tina/devices").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("<b>tina</b></a>; device limit"), "{page}");
    assert!(page.contains("<td>Kitchen</td>"), "{page}");
    assert!(!page.contains("tv<1>"), "escaped: {page}");
    assert!(page.contains("<td>add</td>"), "the audit history: {page}");
    assert!(
        page.contains("action=\"/admin/lines/tina/devices/reset\""),
        "{page}"
    );

    let (status, body) = console
        .post(
            &srv,
            "/admin/lines/tina/devices/reset",
            &[("confirm", "yes")],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, page) = console.get(&srv, "/admin/lines/tina/devices").await;
    assert!(page.contains("<td>operator</td><td>reset</td>"), "{page}");
    assert!(!page.contains("<td>Kitchen</td>"), "unbound: {page}");
    let line = srv.gate.find_line("tina").expect("line");
    assert!(srv
        .gate
        .binding(line.id)
        .is_none_or(|b| b.devices.is_empty()));

    let (status, _) = console.get(&srv, "/admin/lines/nobody/devices").await;
    assert_eq!(status, 404);
}

/// Sessions are kept in the store: a restart logs nobody out (SQLite here;
/// `postgres.rs` shows the same across nodes), and a logout holds after one.
#[tokio::test]
async fn console_sessions_survive_a_restart() {
    let srv = TestServer::start().await;
    let console = login(&srv).await;
    let srv = srv.restart().await;
    assert_eq!(console.get(&srv, "/admin/lines").await.0, 200);
    let (status, _) = console.post(&srv, "/admin/logout", &[]).await;
    assert_eq!(status, 303);
    let srv = srv.restart().await;
    assert_eq!(console.get(&srv, "/admin/lines").await.0, 303, "logged out");
}

/// Changes that cannot be undone ask first (a page of its own without
/// scripts; the buttons carry the question for the script to ask in
/// place), and a change that worked goes back to its page, which says
/// what happened once (POST, redirect, GET with the flash cookie).
#[tokio::test]
async fn destructive_changes_ask_first_and_results_show_in_place() {
    let srv = TestServer::start().await;
    srv.add_line("tina", "pw-11", |_| {}).await;
    srv.gate
        .add_device("tina", DeviceKind::Player, "tv-1", "Kitchen", NOW)
        .await
        .expect("add device");
    let console = login(&srv).await;
    let bound = |srv: &TestServer| {
        let line = srv.gate.find_line("tina").expect("line");
        srv.gate.binding(line.id).map_or(0, |b| b.devices.len())
    };

    // The buttons carry their question; nothing inline.
    let (_, devices) = console.get(&srv, "/admin/lines/tina/devices").await;
    assert!(
        devices.contains("data-confirm=\"Unbind every device of tina?"),
        "{devices}"
    );
    let (_, lines) = console.get(&srv, "/admin/lines").await;
    assert!(
        lines.contains("value=\"delete\" class=\"danger\" data-confirm=\"Delete tina "),
        "{lines}"
    );
    assert!(
        !lines.contains("<script>") && !lines.contains("onclick"),
        "{lines}"
    );

    // Without confirm=yes: a page that asks, and nothing changes.
    for (path, form) in [
        ("/admin/lines/tina/devices/reset", vec![]),
        ("/admin/lines/tina/password", vec![]),
        (
            "/admin/lines/action",
            vec![("name", "tina"), ("action", "delete")],
        ),
    ] {
        let (status, ask) = console.post(&srv, path, &form).await;
        assert_eq!(status, 200, "{path}");
        assert!(ask.contains("<h1>Are you sure?</h1>"), "{path}: {ask}");
        assert!(
            ask.contains(&format!("action=\"{path}\""))
                && ask.contains("name=\"confirm\" value=\"yes\""),
            "{path}: {ask}"
        );
    }
    assert_eq!(bound(&srv), 1, "not reset yet");
    assert!(logs_in(&srv, "tina", "pw-11").await, "the password is kept");
    assert!(srv.gate.find_line("tina").is_some(), "not deleted");

    // Confirmed: 303 back to the page, the result in the flash cookie.
    let r = console
        .submit(
            &srv,
            "/admin/lines/tina/devices/reset",
            &[("confirm", "yes")],
            Some(&console.csrf),
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/admin/lines/tina/devices");
    let set = r.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .to_string();
    for part in [
        "tvgate_flash=",
        "Path=/admin",
        "HttpOnly",
        "SameSite=Strict",
    ] {
        assert!(set.contains(part), "{part}: {set}");
    }
    assert_eq!(bound(&srv), 0, "reset");
    let (to, flash) = flash_redirect(&r).expect("a flash");
    let shown = client()
        .get(srv.url(&to))
        .header("cookie", format!("{}; {flash}", console.cookie))
        .send()
        .await
        .expect("page");
    assert_eq!(shown.status(), 200);
    let cleared = shown
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.starts_with("tvgate_flash=;") && v.contains("Max-Age=0"));
    assert!(cleared, "shown once, then cleared");
    let page = shown.text().await.expect("body");
    assert!(
        page.contains(
            "<p class=\"flash ok\" id=\"flash\" role=\"status\">1 device(s) unbound from tina.</p>"
        ),
        "{page}"
    );
    let (_, again) = console.get(&srv, &to).await;
    assert!(!again.contains("id=\"flash\""), "{again}");

    // The flash is text: markup in the cookie is shown, never run.
    let (_, page) = console
        .get_with_flash(
            &srv,
            "/admin/lines",
            "tvgate_flash=%3Cscript%3Ex%3C%2Fscript%3E",
        )
        .await;
    assert!(page.contains("&lt;script&gt;x&lt;/script&gt;"), "{page}");

    // A change that failed stays a page with its status, and no flash.
    let r = console
        .submit(
            &srv,
            "/admin/live/end",
            &[("id", "999"), ("confirm", "yes")],
            Some(&console.csrf),
        )
        .await;
    assert_eq!(r.status(), 404);
    assert!(
        flash_redirect(&r).is_none()
            && !r
                .headers()
                .get_all("set-cookie")
                .iter()
                .any(|v| v.to_str().is_ok_and(|v| v.starts_with("tvgate_flash="))),
        "no flash for a failure"
    );
    let (status, _) = console
        .post(&srv, "/admin/live/end", &[("id", "999")])
        .await;
    assert_eq!(status, 404, "nothing to ask about an ended connection");

    // Delete, confirmed: back to the lines, which say so.
    let (status, page) = console
        .post(
            &srv,
            "/admin/lines/action",
            &[("name", "tina"), ("action", "delete"), ("confirm", "yes")],
        )
        .await;
    assert_eq!(status, 200);
    assert!(page.contains("<h1>Lines</h1>"), "{page}");
    assert!(
        page.contains("id=\"flash\" role=\"status\">tina was deleted.</p>"),
        "{page}"
    );
    assert!(srv.gate.find_line("tina").is_none());
}

async fn logs_in(srv: &TestServer, user: &str, pass: &str) -> bool {
    let v = crate::harness::get_json(
        &srv.url(&format!("/player_api.php?username={user}&password={pass}")),
    )
    .await;
    v["user_info"]["auth"] == 1
}
