//! `tvgate doctor`, second pass (issue 15): MAG boxes on a Stalker portal,
//! lines bound to a device, providers that block an app's user agent,
//! http:// sent to an HTTPS port, and the ranking of findings that appear
//! together. Each case is a real fault on loopback: a tvgate with device
//! binding or the portal's scan block, or a small stand-in provider
//! playing a misbehaving third party (a user-agent filter, nginx's TLS
//! port, a panel with its portal at one path only). Every report is
//! checked for its verdict, exit code, evidence and fix, for the password
//! in every output form, and against docs/doctor.schema.json.

use crate::doctor::{check, doctor, options, tvgate_with, validate_schema, verdict_is};
use crate::harness::*;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tvgate_core::access::device::DeviceKind;
use tvgate_core::access::Status;
use tvgate_core::gate::DevicePolicyPatch;
use tvgate_doctor::check::{Cause, Verdict};
use tvgate_doctor::input::Given;
use tvgate_doctor::report::Report;
use tvgate_doctor::run::Options;

/// The MAC of the portal's test line and the username it is stored under.
const MAC: &str = "00:1A:79:00:00:01";
const MAC_USER: &str = "001A79000001";
const MAC_PASSWORD: &str = "pw-Mag-Box-1";

/// A doctor run as a MAG box: a portal address and a MAC.
fn as_box(portal: &str, mac: &str) -> Options {
    Options {
        given: Given {
            server: Some(portal.into()),
            mac: Some(mac.into()),
            ..Given::default()
        },
        ..options("", "", "")
    }
}

/// A tvgate whose portal has the line `001A79000001`.
async fn portal(
    tweak_http: impl FnOnce(&mut tvgate_http::HttpSettings),
    tweak_line: impl FnOnce(&mut tvgate_core::gate::LineSpec),
) -> TestServer {
    let srv = TestServer::start_with(|h| {
        h.admission_wait = Duration::from_millis(200);
        tweak_http(h);
    })
    .await;
    srv.add_line(MAC_USER, MAC_PASSWORD, tweak_line).await;
    srv.with_catalog().await;
    srv
}

async fn bind_limit(srv: &TestServer, user: &str, limit: u32) {
    srv.gate
        .set_device_policy(
            user,
            DevicePolicyPatch {
                limit: Some(limit),
                ..Default::default()
            },
            NOW,
        )
        .await
        .expect("binding on");
}

/// A box's handshake and profile, by hand (from 127.0.0.1).
async fn box_profile(srv: &TestServer, mac: &str, sn: &str) -> serde_json::Value {
    let http = client();
    let cookie = format!("mac={}; stb_lang=en", mac.replace(':', "%3A"));
    let url = |q: &str| {
        srv.url(&format!(
            "/stalker_portal/server/load.php?{q}&JsHttpRequest=1-xml"
        ))
    };
    let hs: serde_json::Value = http
        .get(url("type=stb&action=handshake&token="))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("handshake")
        .json()
        .await
        .expect("json");
    let token = hs["js"]["token"].as_str().expect("token").to_string();
    let p: serde_json::Value = http
        .get(url(&format!("type=stb&action=get_profile&sn={sn}")))
        .header("cookie", &cookie)
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .expect("profile")
        .json()
        .await
        .expect("json");
    p["js"].clone()
}

fn text(r: &Report) -> String {
    tvgate_doctor::report::render_text(r)
}

// ---------------------------------------------------------------- Stalker

#[tokio::test]
async fn a_mag_box_with_a_registered_mac_plays_through_the_portal() {
    let srv = portal(|_| {}, |_| {}).await;
    let r = doctor(as_box(&srv.url("/c/"), MAC), &[]).await;
    verdict_is(&r, Cause::Works, 0);
    assert_eq!(r.subject.method, tvgate_doctor::input::Method::Stalker);
    assert_eq!(check(&r, "stalker.handshake").verdict, Verdict::Ok);
    let p = check(&r, "stalker.profile");
    assert_eq!(p.verdict, Verdict::Ok, "{p:?}");
    assert!(p.evidence[0].contains(MAC_USER), "{:?}", p.evidence);
    assert!(check(&r, "stalker.account").title.contains("runs until"));
    assert_eq!(check(&r, "stalker.link").verdict, Verdict::Ok);
    let ts = check(&r, "stream.ts");
    assert_eq!(ts.verdict, Verdict::Ok, "{}", text(&r));
    assert!(ts.evidence[0].starts_with("TS sync:"), "{:?}", ts.evidence);
}

#[tokio::test]
async fn an_unknown_mac_is_not_registered_on_this_portal() {
    let srv = portal(|_| {}, |_| {}).await;
    let r = doctor(
        as_box(&srv.url("/stalker_portal/c/"), "00:1A:79:00:77:77"),
        &[],
    )
    .await;
    verdict_is(&r, Cause::DeviceBinding, 13);
    let p = check(&r, "stalker.profile");
    assert_eq!(p.title, "This MAC is not registered on this portal");
    assert!(p.evidence[0].contains("status 1"), "{:?}", p.evidence);
    assert!(p.fix.contains("00:1A:79:00:77:77"), "{}", p.fix);
    assert_eq!(
        r.diagnosis.summary,
        "This MAC is not registered on this portal."
    );
    assert_eq!(check(&r, "stream").verdict, Verdict::Skipped);
}

#[tokio::test]
async fn a_line_bound_to_another_device_names_it_and_the_portals_reset() {
    // A MAG-only line named by its MAC, whose one place a phone holds.
    let srv = portal(|_| {}, |_| {}).await;
    srv.add_line("001A79000002", "pw-Mag-2", |_| {}).await;
    bind_limit(&srv, "001A79000002", 1).await;
    srv.gate
        .add_device("001A79000002", DeviceKind::Player, "phone-1", "Phone", NOW)
        .await
        .expect("add");
    let r = doctor(as_box(&srv.url("/c/"), "00:1A:79:00:00:02"), &[]).await;
    verdict_is(&r, Cause::DeviceBinding, 13);
    let p = check(&r, "stalker.profile");
    assert!(p.title.contains("bound to another device"), "{}", p.title);
    assert!(p.title.contains("player ending ne-1"), "{}", p.title);
    let all = p.evidence.join("\n");
    assert!(
        all.contains("the MAC you gave (00:1A:79:00:00:02) ends 0002"),
        "{all}"
    );
    assert!(p.fix.contains("reinstalled"), "{}", p.fix);
    assert!(
        p.fix.contains(&srv.url("/portal/")),
        "self-service reset: {}",
        p.fix
    );
    assert!(
        r.diagnosis.summary.contains("bound to another device"),
        "{}",
        r.diagnosis.summary
    );
    assert_eq!(r.diagnosis.next_step, p.fix);
}

#[tokio::test]
async fn a_cloned_mac_with_another_serial_is_named() {
    let srv = portal(|_| {}, |_| {}).await;
    bind_limit(&srv, MAC_USER, 1).await;
    let first = box_profile(&srv, MAC, "SN00000001").await;
    assert_eq!(first["status"], 0, "the real box binds: {first}");
    // Without a serial the doctor is the same box (nothing to compare)...
    let r = doctor(as_box(&srv.url("/c/"), MAC), &[]).await;
    verdict_is(&r, Cause::Works, 0);
    // ...with another serial it is not the registered box.
    let mut opts = as_box(&srv.url("/c/"), MAC);
    opts.given.serial = Some("SN99999999".into());
    let r = doctor(opts, &[]).await;
    verdict_is(&r, Cause::DeviceBinding, 13);
    let p = check(&r, "stalker.profile");
    assert!(
        p.title.contains("serial number or device id differs"),
        "{}",
        p.title
    );
    assert!(
        p.evidence.iter().any(|e| e.contains("mac ending 0001")),
        "{:?}",
        p.evidence
    );
}

#[tokio::test]
async fn an_expired_box_line_names_the_date_and_renewal() {
    let srv = portal(|_| {}, |s| s.expires_at = Some(NOW - 86_400)).await;
    let r = doctor(as_box(&srv.url("/c/"), MAC), &[]).await;
    verdict_is(&r, Cause::Subscription, 11);
    let p = check(&r, "stalker.profile");
    assert!(
        p.title.starts_with("The subscription expired on "),
        "{}",
        p.title
    );
    assert!(
        r.diagnosis.summary.contains("expired on "),
        "{}",
        r.diagnosis.summary
    );
    assert!(
        r.diagnosis.next_step.starts_with("Renew"),
        "{}",
        r.diagnosis.next_step
    );
}

#[tokio::test]
async fn a_suspended_or_banned_box_line_is_not_an_expiry() {
    for (status, word) in [(Status::Disabled, "suspended"), (Status::Banned, "banned")] {
        let srv = portal(|_| {}, |s| s.status = status).await;
        let r = doctor(as_box(&srv.url("/c/"), MAC), &[]).await;
        verdict_is(&r, Cause::Subscription, 11);
        assert!(
            r.diagnosis.summary.contains(word),
            "{}",
            r.diagnosis.summary
        );
        assert!(
            r.diagnosis.summary.contains("not an expiry"),
            "{}",
            r.diagnosis.summary
        );
        assert!(
            r.diagnosis.next_step.contains("contact them"),
            "{}",
            r.diagnosis.next_step
        );
        assert!(
            !r.diagnosis.next_step.starts_with("Renew"),
            "{}",
            r.diagnosis.next_step
        );
    }
}

#[tokio::test]
async fn a_portal_that_blocks_this_address_for_scanning_is_named() {
    let srv = portal(|_| {}, |_| {}).await;
    for i in 0..6 {
        box_profile(&srv, &format!("00:1A:79:00:10:{i:02X}"), "").await;
    }
    // The registered MAC, from the blocked address.
    let r = doctor(as_box(&srv.url("/c/"), MAC), &[]).await;
    verdict_is(&r, Cause::Credentials, 10);
    let p = check(&r, "stalker.profile");
    assert_eq!(
        p.title,
        "The portal blocks this address for trying too many MACs"
    );
    assert!(p.fix.starts_with("Wait for the block to end"), "{}", p.fix);
    assert!(r
        .diagnosis
        .summary
        .contains("the MAC itself was not checked"));
}

#[tokio::test]
async fn a_portal_asking_for_a_login_gets_it() {
    let srv = portal(|h| h.stalker.login_required = true, |_| {}).await;
    let with = |password: &str| Options {
        given: Given {
            server: Some(srv.url("/stalker_portal/c/")),
            mac: Some(MAC.into()),
            username: Some(MAC_USER.into()),
            password: Some(password.into()),
            ..Given::default()
        },
        ..options("", "", "")
    };
    let r = doctor(with(MAC_PASSWORD), &[MAC_PASSWORD]).await;
    verdict_is(&r, Cause::Works, 0);
    assert_eq!(check(&r, "stalker.login").verdict, Verdict::Ok);
    let r = doctor(with("pw-Wrong-9"), &[MAC_PASSWORD, "pw-Wrong-9"]).await;
    verdict_is(&r, Cause::Credentials, 10);
    assert_eq!(check(&r, "stalker.login").verdict, Verdict::Fault);
    // Without them: the portal's question is named.
    let r = doctor(as_box(&srv.url("/c/"), MAC), &[]).await;
    verdict_is(&r, Cause::Credentials, 10);
    assert_eq!(
        check(&r, "stalker.profile").title,
        "The portal asks for a login and password"
    );
}

/// A panel with its portal at `/stalker_portal/` only (Ministra's layout):
/// those paths are passed to a tvgate, every other path is nginx's 404.
async fn ministra_layout(upstream: String) -> (String, tokio::task::JoinHandle<()>) {
    use axum::http::{header, HeaderMap, StatusCode, Uri};
    use axum::response::IntoResponse;
    let app = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap| {
        let upstream = upstream.clone();
        async move {
            if !uri.path().starts_with("/stalker_portal/") {
                return (
                    StatusCode::NOT_FOUND,
                    [(header::CONTENT_TYPE, "text/html")],
                    "<html><head><title>404 Not Found</title></head><body><center><h1>404 Not Found</h1></center><hr><center>nginx</center></body></html>",
                )
                    .into_response();
            }
            let mut req = client().get(format!("{upstream}{uri}"));
            for name in ["cookie", "authorization", "user-agent", "x-user-agent"] {
                if let Some(v) = headers.get(name) {
                    req = req.header(name, v.clone());
                }
            }
            match req.send().await {
                Ok(r) => {
                    let status = r.status();
                    let ctype = r
                        .headers()
                        .get(header::CONTENT_TYPE)
                        .cloned()
                        .unwrap_or(header::HeaderValue::from_static("text/plain"));
                    let body = r.bytes().await.unwrap_or_default();
                    (status, [(header::CONTENT_TYPE, ctype)], body).into_response()
                }
                Err(_) => StatusCode::BAD_GATEWAY.into_response(),
            }
        }
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), task)
}

#[tokio::test]
async fn the_wrong_portal_path_is_a_typing_fix_and_the_other_path_is_checked() {
    let srv = portal(|_| {}, |_| {}).await;
    let (front, task) = ministra_layout(srv.url("")).await;
    let r = doctor(as_box(&format!("{front}/c/"), MAC), &[]).await;
    verdict_is(&r, Cause::Credentials, 10);
    let p = check(&r, "stalker.path");
    assert_eq!(p.title, "The portal is at /stalker_portal/c/, not at /c/");
    let right = format!("{front}/stalker_portal/c/");
    assert_eq!(p.fix, format!("Use {right} as the portal address."));
    assert!(
        p.evidence
            .iter()
            .any(|e| e.starts_with("/portal.php: HTTP 404")),
        "{:?}",
        p.evidence
    );
    assert_eq!(r.diagnosis.next_step, p.fix);
    assert!(
        r.diagnosis.summary.contains("wrong path"),
        "{}",
        r.diagnosis.summary
    );
    // Behind the right path the rest was checked: the box plays.
    assert_eq!(check(&r, "stream.ts").verdict, Verdict::Ok, "{}", text(&r));
    task.abort();
}

// ------------------------------------------------------ Xtream + devices

#[tokio::test]
async fn an_xtream_app_whose_mac_changed_is_named_with_the_self_service_reset() {
    let srv = tvgate_with("xena", "pw-Bound-31", |_| {}).await;
    bind_limit(&srv, "xena", 1).await;
    // The app before it was reinstalled bound the line.
    let (status, _) =
        get(&srv.url("/player_api.php?username=xena&password=pw-Bound-31&mac=00:1A:79:AA:BB:CC"))
            .await;
    assert_eq!(status, 200);
    let mut opts = options(&srv.url(""), "xena", "pw-Bound-31");
    opts.given.mac = Some("00:1A:79:12:34:56".into());
    let r = doctor(opts, &["pw-Bound-31"]).await;
    verdict_is(&r, Cause::DeviceBinding, 13);
    // The status word tvgate shows players is not read as a suspension.
    assert_eq!(check(&r, "account.status").verdict, Verdict::Ok);
    let b = check(&r, "account.binding");
    assert_eq!(
        b.title,
        "The line is bound to another device: a mac device (mac ending BBCC)"
    );
    let all = b.evidence.join("\n");
    assert!(all.contains("ends 3456"), "{all}");
    assert!(
        all.contains("tvgate.reason: device_not_registered"),
        "{all}"
    );
    assert!(
        b.fix
            .starts_with("If you reinstalled the app or changed device"),
        "{}",
        b.fix
    );
    assert!(b.fix.contains(&srv.url("/portal/")), "{}", b.fix);
    assert!(
        r.diagnosis.summary.contains("its MAC (device id) changed"),
        "{}",
        r.diagnosis.summary
    );
    assert_eq!(r.diagnosis.next_step, b.fix);
    // The old MAC still works: the doctor sent the MAC as the app does.
    let mut opts = options(&srv.url(""), "xena", "pw-Bound-31");
    opts.given.mac = Some("00-1a-79-aa-bb-cc".into());
    let r = doctor(opts, &["pw-Bound-31"]).await;
    assert_eq!(check(&r, "account.status").verdict, Verdict::Ok);
    assert!(
        r.checks.iter().all(|c| c.id != "account.binding"),
        "{}",
        text(&r)
    );
}

#[tokio::test]
async fn a_device_id_is_sent_as_players_send_it() {
    let srv = tvgate_with("yuri", "pw-Phone-41", |_| {}).await;
    bind_limit(&srv, "yuri", 1).await;
    let (status, _) =
        get(&srv.url("/player_api.php?username=yuri&password=pw-Phone-41&device_id=old-phone"))
            .await;
    assert_eq!(status, 200);
    let mut opts = options(&srv.url(""), "yuri", "pw-Phone-41");
    opts.given.device_id = Some("tablet-7".into());
    let r = doctor(opts, &["pw-Phone-41"]).await;
    verdict_is(&r, Cause::DeviceBinding, 13);
    let b = check(&r, "account.binding");
    assert!(b.title.contains("player ending hone"), "{}", b.title);
    assert!(b
        .evidence
        .iter()
        .any(|e| e.contains("the device id you gave (tablet-7) ends et-7")));
}

#[tokio::test]
async fn expired_and_suspended_xtream_lines_have_different_fixes() {
    let srv = tvgate_with("zoe", "pw-Old-12", |s| s.expires_at = Some(NOW - 86_400)).await;
    let r = doctor(options(&srv.url(""), "zoe", "pw-Old-12"), &["pw-Old-12"]).await;
    verdict_is(&r, Cause::Subscription, 11);
    assert!(
        r.diagnosis.summary.contains("expired on "),
        "{}",
        r.diagnosis.summary
    );
    assert!(
        r.diagnosis.summary.contains("renewing"),
        "{}",
        r.diagnosis.summary
    );
    assert!(
        r.diagnosis.next_step.starts_with("Renew"),
        "{}",
        r.diagnosis.next_step
    );
    let srv = tvgate_with("abe", "pw-Off-13", |s| s.status = Status::Disabled).await;
    let r = doctor(options(&srv.url(""), "abe", "pw-Off-13"), &["pw-Off-13"]).await;
    verdict_is(&r, Cause::Subscription, 11);
    assert!(
        r.diagnosis.summary.contains("suspended (disabled)"),
        "{}",
        r.diagnosis.summary
    );
    assert!(
        r.diagnosis.next_step.contains("re-enabled"),
        "{}",
        r.diagnosis.next_step
    );
    assert_eq!(
        check(&r, "account.status").title,
        "The provider has suspended (disabled) the line"
    );
}

// ---------------------------------------------------- blocked user agents

/// A provider that refuses one app (by its user agent) with a 403 page,
/// on the login or only on its streams, and serves everyone else.
async fn ua_filtering_provider(
    blocked: &'static str,
    streams_only: bool,
) -> (String, tokio::task::JoinHandle<()>) {
    use axum::http::{header, HeaderMap, StatusCode, Uri};
    use axum::response::IntoResponse;
    let login = r#"{"user_info":{"username":"uma","auth":1,"status":"Active","exp_date":null,"is_trial":"0","active_cons":"0","max_connections":"2","allowed_output_formats":["ts"]},"server_info":{"url":"127.0.0.1"}}"#;
    let app = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap| async move {
        let ua = headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let path = uri.path();
        let guarded = !streams_only || path.starts_with("/live/");
        if guarded && ua.contains(blocked) {
            return (
                StatusCode::FORBIDDEN,
                [(header::CONTENT_TYPE, "text/html")],
                "<html><head><title>403 Forbidden</title></head><body><h1>403 Forbidden</h1></body></html>".to_string(),
            )
                .into_response();
        }
        if path == "/player_api.php" {
            let body = if uri.query().unwrap_or("").contains("get_live_streams") {
                r#"[{"num":1,"name":"Ua One","stream_type":"live","stream_id":3}]"#
            } else {
                login
            };
            return ([(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response();
        }
        if path.starts_with("/live/") {
            let mut ts = vec![0u8; 188 * 400];
            for p in ts.chunks_mut(188) {
                p[0] = 0x47;
            }
            return ([(header::CONTENT_TYPE, "video/mp2t")], ts).into_response();
        }
        (StatusCode::OK, "ok").into_response()
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), task)
}

#[tokio::test]
async fn a_provider_that_blocks_the_apps_user_agent_is_named_with_the_app_that_works() {
    let (url, task) = ua_filtering_provider("IPTVSmarters", false).await;
    let r = doctor(options(&url, "uma", "pw-Agent-51"), &["pw-Agent-51"]).await;
    verdict_is(&r, Cause::ServerUnreachable, 15);
    let ua = check(&r, "account.user_agent");
    assert_eq!(ua.verdict, Verdict::Fault);
    assert_eq!(
        ua.title,
        "The provider refuses this app's login (user agent \"IPTVSmartersPro\"); VLC gets in"
    );
    assert!(
        ua.evidence
            .iter()
            .any(|e| e == "as \"VLC/3.0.20 LibVLC/3.0.20\": accepted"),
        "{:?}",
        ua.evidence
    );
    assert!(
        r.diagnosis
            .summary
            .starts_with("The provider blocks this app"),
        "{}",
        r.diagnosis.summary
    );
    assert!(
        r.diagnosis
            .next_step
            .contains("ask the provider to allow your app"),
        "{}",
        r.diagnosis.next_step
    );
    // Past the block, the line was checked as VLC: it plays.
    assert_eq!(check(&r, "stream.ts").verdict, Verdict::Ok, "{}", text(&r));
    // Not taken for a captive portal any more.
    assert_ne!(
        r.diagnosis.summary,
        tvgate_doctor::verdict::summary(Cause::ServerUnreachable)
    );
    task.abort();
}

#[tokio::test]
async fn a_provider_that_blocks_the_apps_streams_only_is_named_too() {
    let (url, task) = ua_filtering_provider("IPTVSmarters", true).await;
    let r = doctor(options(&url, "uma", "pw-Agent-52"), &["pw-Agent-52"]).await;
    verdict_is(&r, Cause::ServerUnreachable, 15);
    let ua = check(&r, "account.user_agent");
    assert!(
        ua.title
            .starts_with("The provider refuses this app's streams"),
        "{}",
        ua.title
    );
    assert_eq!(check(&r, "stream.refusal").verdict, Verdict::Fault);
    assert_eq!(check(&r, "stream.ts").verdict, Verdict::Ok);
    task.abort();
}

#[tokio::test]
async fn a_provider_that_refuses_everyone_is_not_called_an_app_block() {
    let (url, task) = ua_filtering_provider("", false).await;
    let r = doctor(options(&url, "uma", "pw-Agent-53"), &["pw-Agent-53"]).await;
    verdict_is(&r, Cause::ServerUnreachable, 15);
    let ua = check(&r, "account.user_agent");
    assert_eq!(ua.verdict, Verdict::Ok);
    assert!(
        ua.evidence[1].contains("as no user agent at all: refused too"),
        "{:?}",
        ua.evidence
    );
    task.abort();
}

// ------------------------------------------------- http:// to an https port

#[tokio::test]
async fn http_to_tvgates_https_port_is_a_typing_fix() {
    let srv = TestServer::start_tls(|h| h.admission_wait = Duration::from_millis(200)).await;
    srv.add_line("ida", "pw-Tls-61", |_| {}).await;
    srv.with_catalog().await;
    let https = srv.https.as_ref().expect("https");
    let mut opts = options(&format!("http://{}", https.addr), "ida", "pw-Tls-61");
    opts.extra_ca_pem = Some(https.cert_pem.clone().into_bytes());
    let r = doctor(opts, &["pw-Tls-61"]).await;
    verdict_is(&r, Cause::Credentials, 10);
    let want = format!("https://{}", https.addr);
    let c = check(&r, "input.server.https");
    assert_eq!(c.fix, format!("Use https:// in the server address: {want}"));
    assert_eq!(r.diagnosis.next_step, c.fix);
    assert!(
        r.diagnosis.summary.contains("use https://"),
        "{}",
        r.diagnosis.summary
    );
    let plain = r
        .checks
        .iter()
        .find(|c| c.id == "transport.http" && c.verdict == Verdict::Fault)
        .expect("the plain request's check");
    assert!(plain.title.contains("speaks HTTPS"), "{}", plain.title);
    // Over https:// the rest was checked.
    assert_eq!(check(&r, "account.login").verdict, Verdict::Ok);
    assert_eq!(check(&r, "stream.ts").verdict, Verdict::Ok, "{}", text(&r));
    assert_eq!(r.subject.server.as_deref(), Some(want.as_str()));
}

/// nginx's TLS port: a plain request gets its 400 page; a TLS client
/// hello is passed to `tls` (a tvgate's HTTPS listener) as is.
async fn nginx_tls_port(tls: SocketAddr) -> (String, tokio::task::JoinHandle<()>) {
    const PAGE: &str = "<html>\r\n<head><title>400 The plain HTTP request was sent to HTTPS port</title></head>\r\n<body>\r\n<center><h1>400 Bad Request</h1></center>\r\n<center>The plain HTTP request was sent to HTTPS port</center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut first = [0u8; 1];
                if conn.peek(&mut first).await.unwrap_or(0) == 0 {
                    return;
                }
                if first[0] == 0x16 {
                    if let Ok(mut up) = TcpStream::connect(tls).await {
                        let _ = tokio::io::copy_bidirectional(&mut conn, &mut up).await;
                    }
                    return;
                }
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let answer = format!(
                    "HTTP/1.1 400 Bad Request\r\nServer: nginx\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{PAGE}",
                    PAGE.len()
                );
                let _ = conn.write_all(answer.as_bytes()).await;
                let _ = conn.shutdown().await;
            });
        }
    });
    (format!("http://{addr}"), task)
}

#[tokio::test]
async fn nginxs_plain_http_to_https_port_page_is_a_typing_fix() {
    let srv = TestServer::start_tls(|h| h.admission_wait = Duration::from_millis(200)).await;
    srv.add_line("jon", "pw-Nginx-62", |_| {}).await;
    srv.with_catalog().await;
    let https = srv.https.as_ref().expect("https");
    let (front, task) = nginx_tls_port(https.addr).await;
    let mut opts = options(&front, "jon", "pw-Nginx-62");
    opts.extra_ca_pem = Some(https.cert_pem.clone().into_bytes());
    let r = doctor(opts, &["pw-Nginx-62"]).await;
    verdict_is(&r, Cause::Credentials, 10);
    let plain = r
        .checks
        .iter()
        .find(|c| c.id == "transport.http" && c.verdict == Verdict::Fault)
        .expect("the plain request's check");
    assert!(
        plain
            .evidence
            .iter()
            .any(|e| e.contains("The plain HTTP request was sent to HTTPS port")),
        "{:?}",
        plain.evidence
    );
    let want = front.replace("http://", "https://");
    assert_eq!(
        r.diagnosis.next_step,
        format!("Use https:// in the server address: {want}")
    );
    assert_eq!(
        check(&r, "account.login").verdict,
        Verdict::Ok,
        "{}",
        text(&r)
    );
    task.abort();
}

// ---------------------------------------------------------------- ranking

/// A panel whose line is full and whose streams answer a bare 403.
async fn full_panel() -> (String, tokio::task::JoinHandle<()>) {
    use axum::http::{header, StatusCode, Uri};
    use axum::response::IntoResponse;
    let app = axum::Router::new().fallback(|uri: Uri| async move {
        if uri.path() == "/player_api.php" {
            let body = if uri.query().unwrap_or("").contains("get_live_streams") {
                r#"[{"num":1,"name":"Full One","stream_type":"live","stream_id":4}]"#
            } else {
                r#"{"user_info":{"auth":1,"status":"Active","exp_date":null,"active_cons":"2","max_connections":"2","allowed_output_formats":["ts"]}}"#
            };
            return ([(header::CONTENT_TYPE, "application/json")], body).into_response();
        }
        if uri.path().starts_with("/live/") {
            return (StatusCode::FORBIDDEN, "Forbidden").into_response();
        }
        (StatusCode::OK, "ok").into_response()
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), task)
}

#[tokio::test]
async fn a_full_line_outranks_a_channel_refusal() {
    let (url, task) = full_panel().await;
    let r = doctor(options(&url, "kai", "pw-Full-71"), &["pw-Full-71"]).await;
    verdict_is(&r, Cause::ConnectionLimit, 12);
    let refusal = check(&r, "stream.refusal");
    assert_eq!(refusal.points_to, Some(Cause::ConnectionLimit));
    assert!(refusal
        .evidence
        .iter()
        .any(|e| e.contains("every connection is in use")));
    assert_eq!(
        r.diagnosis.because,
        ["account.connections", "stream.refusal"]
    );
    assert!(r
        .diagnosis
        .next_step
        .starts_with("Close the app on every other device"));
    assert!(
        r.checks.iter().all(|c| c.id != "stream.user_agent"),
        "no app-block retry at the limit"
    );
    task.abort();
}

// ------------------------------------------------------------ the binary

#[tokio::test]
async fn the_binary_checks_a_box_and_never_prints_the_password() {
    let srv = portal(|h| h.stalker.login_required = true, |_| {}).await;
    let server = srv.url("/c/");
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_tvgate"))
            .args(["doctor", "--server", &server, "--mac", "00-1a-79-00-00-01"])
            .args([
                "-u",
                MAC_USER,
                "--serial",
                "SN1234",
                "--json",
                "--timeout",
                "8",
            ])
            .env("TVGATE_DOCTOR_PASSWORD", "pw-Wrong-Box")
            .output()
            .expect("run tvgate doctor")
    })
    .await
    .expect("join");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(10), "{stdout}\n{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("json on stdout");
    assert_eq!(v["subject"]["method"], "stalker");
    assert_eq!(v["subject"]["mac"], "00-1a-79-00-00-01");
    assert_eq!(v["diagnosis"]["cause"], "credentials");
    assert_eq!(v["diagnosis"]["because"][0], "stalker.login");
    validate_schema(&stdout);
    for out in [&stdout, &stderr] {
        assert!(!out.contains("pw-Wrong-Box"), "{out}");
    }
}
