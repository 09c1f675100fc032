//! `tvgate doctor` end to end: each test is a real fault, made against a
//! real tvgate or a misbehaving provider played by a small axum server, and
//! asserts the doctor's verdict and exit code. Every report is also checked
//! for the password in all three forms (text, Markdown, JSON) and, where
//! python3's jsonschema is installed, validated against
//! docs/doctor.schema.json.

use crate::harness::*;
use std::time::Duration;
use tvgate_core::access::Status;
use tvgate_doctor::check::{Cause, Verdict};
use tvgate_doctor::input::Given;
use tvgate_doctor::report::{self, Report};
use tvgate_doctor::run::{Options, Quiet};

fn options(server: &str, username: &str, password: &str) -> Options {
    Options {
        given: Given {
            server: Some(server.into()),
            username: Some(username.into()),
            password: Some(password.into()),
            ..Given::default()
        },
        timeout: Duration::from_secs(8),
        // The test server's clock.
        now: Some(NOW),
        stream_bytes: 64 * 1024,
        ..Options::default()
    }
}

/// Runs the doctor in-process and checks what every report must hold.
async fn doctor(opts: Options, secrets: &[&str]) -> Report {
    let report = tvgate_doctor::run(&opts, &mut Quiet)
        .await
        .expect("doctor runs");
    assert_redacted(&report, secrets);
    validate_schema(&report.to_json());
    report
}

fn assert_redacted(report: &Report, secrets: &[&str]) {
    let forms = [
        report::render_text(report),
        report::render_markdown(report),
        report.to_json(),
    ];
    for secret in secrets {
        let trimmed = secret.trim_matches(|c: char| c.is_whitespace() || c == '\u{200B}');
        for out in &forms {
            assert!(!out.contains(trimmed), "password leaked:\n{out}");
        }
    }
}

/// The Python that has `jsonschema`: the compat suite's venv
/// (tests/compat/install.sh, which CI runs), else the system's python3.
fn python() -> String {
    let prefix = std::env::var("COMPAT_PREFIX").unwrap_or_else(|_| "/opt/tvgate-compat".into());
    let venv = format!("{prefix}/venv/bin/python");
    if std::path::Path::new(&venv).exists() {
        venv
    } else {
        "python3".into()
    }
}

/// Without a validator the check cannot pass silently under CI.
fn no_validator(why: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "{why}: CI must validate the JSON schema (run tests/compat/install.sh)"
    );
    eprintln!("{why}: JSON schema not validated");
}

/// Validates with jsonschema (Draft 2020-12): always under CI, and on
/// development machines where it is installed.
fn validate_schema(json: &str) {
    let schema = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/doctor.schema.json");
    let script = "import json,sys\nfrom jsonschema import Draft202012Validator as V\ns=json.load(open(sys.argv[1]))\nV.check_schema(s)\nerrs=[e.message for e in V(s).iter_errors(json.load(sys.stdin))]\nprint(errs)\nsys.exit(1 if errs else 0)";
    let child = std::process::Command::new(python())
        .args(["-c", script, schema])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        no_validator("python3 not found");
        return;
    };
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write;
        stdin.write_all(json.as_bytes()).expect("write json");
    }
    let out = child.wait_with_output().expect("python3 runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("No module named 'jsonschema'") {
        no_validator("python3 has no jsonschema");
        return;
    }
    assert!(
        out.status.success(),
        "report does not match docs/doctor.schema.json: {} {stderr}\n{json}",
        String::from_utf8_lossy(&out.stdout)
    );
}

fn check<'a>(r: &'a Report, id: &str) -> &'a tvgate_doctor::Check {
    r.checks
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no check {id}:\n{}", report::render_text(r)))
}

fn verdict_is(r: &Report, cause: Cause, code: i32) {
    assert_eq!(
        (r.diagnosis.cause, r.diagnosis.exit_code),
        (cause, code),
        "{}",
        report::render_text(r)
    );
}

async fn tvgate_with(
    username: &str,
    password: &str,
    tweak: impl FnOnce(&mut tvgate_core::gate::LineSpec),
) -> TestServer {
    let srv = TestServer::start_with(|h| h.admission_wait = Duration::from_millis(200)).await;
    srv.add_line(username, password, tweak).await;
    srv.with_catalog().await;
    srv
}

#[tokio::test]
async fn a_working_line_works_and_its_channel_is_valid_ts() {
    let srv = tvgate_with("alice", "pw-Works-81", |_| {}).await;
    let r = doctor(
        options(&srv.url(""), "alice", "pw-Works-81"),
        &["pw-Works-81"],
    )
    .await;
    verdict_is(&r, Cause::Works, 0);
    assert_eq!(check(&r, "account.login").verdict, Verdict::Ok);
    let ts = check(&r, "stream.ts");
    assert_eq!(ts.verdict, Verdict::Ok, "{ts:?}");
    assert!(ts.evidence[0].starts_with("TS sync:"), "{:?}", ts.evidence);
    assert!(check(&r, "stream.open").title.contains("News One"));
    assert!(
        r.checks.iter().all(|c| c.verdict == Verdict::Ok),
        "{}",
        report::render_text(&r)
    );
}

#[tokio::test]
async fn invisible_characters_tvgate_forgives_are_still_pointed_out() {
    let srv = tvgate_with("bob", "pw-Hidden-52", |_| {}).await;
    let typed = "pw-Hid\u{200B}den-52 ";
    let r = doctor(
        options(&srv.url(""), "bob", typed),
        &["pw-Hidden-52", "pw-Hid"],
    )
    .await;
    verdict_is(&r, Cause::Works, 0);
    let c = check(&r, "typing.password");
    assert_eq!(c.verdict, Verdict::Warning);
    assert!(
        c.evidence.contains(&"ends with a space".to_string()),
        "{:?}",
        c.evidence
    );
    assert!(
        c.evidence
            .contains(&"position 7: zero-width space U+200B (invisible)".to_string()),
        "{:?}",
        c.evidence
    );
    assert!(
        r.diagnosis.summary.contains("worth fixing"),
        "{}",
        r.diagnosis.summary
    );
}

#[tokio::test]
async fn caps_lock_in_the_password_is_credentials_and_the_retry_says_so() {
    let srv = tvgate_with("carol", "Secret-Case-4", |_| {}).await;
    let r = doctor(
        options(&srv.url(""), "carol", "sECRET-cASE-4"),
        &["Secret-Case-4", "sECRET-cASE-4"],
    )
    .await;
    verdict_is(&r, Cause::Credentials, 10);
    assert_eq!(check(&r, "account.login").verdict, Verdict::Fault);
    let retry = check(&r, "typing.retry");
    assert_eq!(retry.title, "The login works once the input is corrected");
    assert!(
        r.diagnosis.next_step.contains("Caps Lock"),
        "{}",
        r.diagnosis.next_step
    );
    // With the corrected password the rest was checked too.
    assert_eq!(check(&r, "account.status").verdict, Verdict::Ok);
}

#[tokio::test]
async fn a_wrong_password_is_credentials() {
    let srv = tvgate_with("dave", "pw-Right-33", |_| {}).await;
    let r = doctor(
        options(&srv.url(""), "dave", "pw-wrong-33"),
        &["pw-Right-33", "pw-wrong-33"],
    )
    .await;
    verdict_is(&r, Cause::Credentials, 10);
    let login = check(&r, "account.login");
    assert!(
        login.evidence.iter().any(|e| e.contains("auth = 0")),
        "{:?}",
        login.evidence
    );
    assert!(r.checks.iter().all(|c| c.id != "typing.retry"));
    assert_eq!(check(&r, "stream").verdict, Verdict::Skipped);
}

#[tokio::test]
async fn an_m3u_link_in_the_server_field_is_taken_apart_and_works() {
    let srv = tvgate_with("erin", "pw-Link-64", |_| {}).await;
    let link = srv.url("/get.php?username=erin&password=pw-Link-64&type=m3u_plus&output=ts");
    let opts = Options {
        given: Given {
            server: Some(link),
            ..Given::default()
        },
        ..options("", "", "")
    };
    let r = doctor(opts, &["pw-Link-64"]).await;
    verdict_is(&r, Cause::Works, 0);
    let c = check(&r, "input.m3u_in_server_field");
    assert_eq!(c.verdict, Verdict::Warning);
    assert!(c.fix.contains(&srv.url("")), "{}", c.fix);
    assert_eq!(r.subject.username, "erin");
}

#[tokio::test]
async fn an_expired_line_is_subscription_with_tvgates_reason() {
    let srv = tvgate_with("fay", "pw-Old-11", |s| s.expires_at = Some(NOW - 86_400)).await;
    let r = doctor(options(&srv.url(""), "fay", "pw-Old-11"), &["pw-Old-11"]).await;
    verdict_is(&r, Cause::Subscription, 11);
    assert_eq!(check(&r, "account.status").verdict, Verdict::Fault);
    assert_eq!(check(&r, "account.expiry").verdict, Verdict::Fault);
    let t = check(&r, "account.tvgate");
    assert!(
        t.evidence.contains(&"tvgate.reason: expired".to_string()),
        "{:?}",
        t.evidence
    );
}

#[tokio::test]
async fn a_banned_line_is_subscription() {
    let srv = tvgate_with("gil", "pw-Ban-22", |s| s.status = Status::Banned).await;
    let r = doctor(options(&srv.url(""), "gil", "pw-Ban-22"), &["pw-Ban-22"]).await;
    verdict_is(&r, Cause::Subscription, 11);
    assert_eq!(
        check(&r, "account.status").title,
        "The provider has blocked (banned) the line"
    );
    // Not an expiry: the verdict says so, and renewing is not the fix.
    assert!(
        r.diagnosis.summary.contains("banned"),
        "{}",
        r.diagnosis.summary
    );
    assert!(
        r.diagnosis.next_step.contains("contact them"),
        "{}",
        r.diagnosis.next_step
    );
    assert!(check(&r, "account.tvgate")
        .evidence
        .contains(&"tvgate.reason: banned".to_string()));
}

#[tokio::test]
async fn a_line_at_its_limit_names_the_viewers_holding_the_slots() {
    let srv = tvgate_with("hal", "pw-Full-99", |s| s.max_connections = 2).await;
    let mut viewers = Vec::new();
    for ua in ["LivingRoomTV/1.0", "KitchenBox/2.1"] {
        let mut v = client()
            .get(srv.url("/live/hal/pw-Full-99/1.ts"))
            .header("user-agent", ua)
            .send()
            .await
            .expect("viewer");
        assert_eq!(v.status(), 200);
        assert!(v.chunk().await.expect("chunk").is_some());
        viewers.push(v);
    }
    let r = doctor(options(&srv.url(""), "hal", "pw-Full-99"), &["pw-Full-99"]).await;
    verdict_is(&r, Cause::ConnectionLimit, 12);
    assert_eq!(
        check(&r, "account.connections").title,
        "Every connection is in use: 2 of 2"
    );
    let refusal = check(&r, "stream.refusal");
    let all = refusal.evidence.join("\n");
    assert!(all.contains("X-Tvgate-Reason: connection_limit"), "{all}");
    assert!(
        all.contains("LivingRoomTV/1.0") && all.contains("KitchenBox/2.1"),
        "{all}"
    );
    drop(viewers);
}

/// A provider that answers every login with one fixed response.
async fn provider(
    status: u16,
    content_type: &'static str,
    body: String,
) -> (String, tokio::task::JoinHandle<()>) {
    use axum::http::{header, StatusCode};
    use axum::response::IntoResponse;
    let status = StatusCode::from_u16(status).expect("status");
    let app = axum::Router::new().route(
        "/player_api.php",
        axum::routing::get(move || {
            let body = body.clone();
            async move { (status, [(header::CONTENT_TYPE, content_type)], body).into_response() }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), task)
}

#[tokio::test]
async fn an_xui_fake_404_is_named_and_points_at_credentials() {
    let page = "<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";
    let (url, task) = provider(404, "text/html", page.into()).await;
    let r = doctor(options(&url, "ivy", "pw-Xui-40"), &["pw-Xui-40"]).await;
    verdict_is(&r, Cause::Credentials, 10);
    let login = check(&r, "account.login");
    assert!(login.title.contains("XUI-style"), "{}", login.title);
    assert!(
        login.evidence.iter().any(|e| e.contains("404 Not Found")),
        "{:?}",
        login.evidence
    );
    task.abort();
}

#[tokio::test]
async fn active_with_an_expiry_in_the_past_is_expired() {
    let body = format!(
        r#"{{"user_info":{{"username":"jay","password":"pw-Past-70","auth":1,"status":"Active","exp_date":"{}","is_trial":"0","active_cons":"0","max_connections":"1","allowed_output_formats":["ts"]}},"server_info":{{"url":"127.0.0.1"}}}}"#,
        NOW - 3 * 86_400
    );
    let (url, task) = provider(200, "application/json", body).await;
    let r = doctor(options(&url, "jay", "pw-Past-70"), &["pw-Past-70"]).await;
    verdict_is(&r, Cause::Subscription, 11);
    assert_eq!(check(&r, "account.status").verdict, Verdict::Ok);
    let e = check(&r, "account.expiry");
    assert_eq!(e.verdict, Verdict::Fault);
    assert!(
        e.evidence
            .iter()
            .any(|l| l.contains("status still says Active")),
        "{:?}",
        e.evidence
    );
    task.abort();
}

#[tokio::test]
async fn a_block_page_in_place_of_json_is_server_unreachable() {
    let page = "<!DOCTYPE html><html><head><title>Access to this site has been blocked</title></head><body>This site has been blocked by order of the High Court.</body></html>";
    let (url, task) = provider(200, "text/html; charset=utf-8", page.into()).await;
    let r = doctor(options(&url, "kim", "pw-Block-5"), &["pw-Block-5"]).await;
    verdict_is(&r, Cause::ServerUnreachable, 15);
    let login = check(&r, "account.login");
    assert_eq!(
        login.title,
        "A web page answered instead of the IPTV server"
    );
    assert!(
        login
            .evidence
            .iter()
            .any(|e| e.contains("has been blocked")),
        "{:?}",
        login.evidence
    );
    task.abort();
}

#[tokio::test]
async fn the_binary_prints_json_writes_markdown_and_exits_with_the_cause() {
    let srv = tvgate_with("lou", "pw-Binary-13", |_| {}).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let md = dir.path().join("report.md");
    let server = srv.url("");
    let md_arg = md.clone();
    let run = move |password: &'static str| {
        let server = server.clone();
        let md_arg = md_arg.clone();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_tvgate"))
                .args([
                    "doctor",
                    "--server",
                    &server,
                    "--username",
                    "lou",
                    "--json",
                    "--timeout",
                    "8",
                ])
                .args([
                    "--device",
                    "Firestick 4K",
                    "--app",
                    "IPTV Smarters Pro 4.0",
                    "--mac",
                    "00:1A:79:00:00:01",
                ])
                .arg("--report")
                .arg(&md_arg)
                .env("TVGATE_DOCTOR_PASSWORD", password)
                .output()
                .expect("run tvgate doctor")
        })
    };
    let out = run("pw-Bad-13").await.expect("join");
    assert_eq!(
        out.status.code(),
        Some(10),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("json on stdout");
    assert_eq!(v["diagnosis"]["cause"], "credentials");
    assert_eq!(v["subject"]["device"], "Firestick 4K");
    assert_eq!(v["subject"]["password"], "[redacted]");
    validate_schema(&stdout);
    let text = std::fs::read_to_string(&md).expect("report written");
    assert!(text.starts_with("# tvgate doctor report"), "{text}");
    assert!(text.contains("00:1A:79:00:00:01"), "{text}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    for leak in [&stdout, &text, &stderr.to_string()] {
        assert!(!leak.contains("pw-Bad-13"), "{leak}");
    }
    // The right password with a MAC and nothing else wrong: device binding.
    let out = run("pw-Binary-13").await.expect("join");
    assert_eq!(
        out.status.code(),
        Some(13),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// A provider whose lines only get HLS: a master playlist, a variant and a
/// TS segment; also a plain playlist (no credentials in its link).
async fn hls_provider() -> (String, tokio::task::JoinHandle<()>) {
    use axum::extract::{Path, Query};
    use axum::http::header;
    use axum::response::IntoResponse;
    use std::collections::HashMap;
    let login = r#"{"user_info":{"username":"max","password":"pw-Hls-88","auth":1,"status":"Active","exp_date":null,"is_trial":"0","active_cons":"0","max_connections":"1","allowed_output_formats":["m3u8"]},"server_info":{"url":"127.0.0.1"}}"#;
    let app = axum::Router::new()
        .route(
            "/player_api.php",
            axum::routing::get(move |Query(q): Query<HashMap<String, String>>| async move {
                let body = match q.get("action").map(String::as_str) {
                    Some("get_live_streams") => {
                        r#"[{"num":1,"name":"Hls One","stream_type":"live","stream_id":7}]"#
                    }
                    _ => login,
                };
                ([(header::CONTENT_TYPE, "application/json")], body).into_response()
            }),
        )
        .route(
            "/live/{u}/{p}/{file}",
            axum::routing::get(
                |Path((_, _, file)): Path<(String, String, String)>| async move {
                    let mpegurl = "application/vnd.apple.mpegurl";
                    match file.as_str() {
                        "7.m3u8" => (
                            [(header::CONTENT_TYPE, mpegurl)],
                            "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000\nvariant.m3u8\n"
                                .as_bytes()
                                .to_vec(),
                        )
                            .into_response(),
                        "variant.m3u8" => (
                            [(header::CONTENT_TYPE, mpegurl)],
                            "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nseg1.ts\n"
                                .as_bytes()
                                .to_vec(),
                        )
                            .into_response(),
                        "seg1.ts" => {
                            let mut ts = vec![0u8; 188 * 400];
                            for p in ts.chunks_mut(188) {
                                p[0] = 0x47;
                            }
                            ([(header::CONTENT_TYPE, "video/mp2t")], ts).into_response()
                        }
                        _ => axum::http::StatusCode::NOT_FOUND.into_response(),
                    }
                },
            ),
        )
        .route(
            "/list.m3u",
            axum::routing::get(|| async {
                "#EXTM3U\n#EXTINF:-1 tvg-id=\"p1\",Plain One\n/live/x/y/seg1.ts\n"
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), task)
}

#[tokio::test]
async fn an_hls_only_line_is_checked_through_its_playlist_and_first_segment() {
    let (url, task) = hls_provider().await;
    let r = doctor(options(&url, "max", "pw-Hls-88"), &["pw-Hls-88"]).await;
    verdict_is(&r, Cause::Works, 0);
    let open = check(&r, "stream.open");
    assert_eq!(open.title, "The channel Hls One opens (HLS)");
    let ts = check(&r, "stream.ts");
    assert_eq!(ts.verdict, Verdict::Ok, "{ts:?}");
    assert!(ts.evidence[0].starts_with("TS sync: "), "{:?}", ts.evidence);
    task.abort();
}

#[tokio::test]
async fn a_plain_playlist_link_is_loaded_and_its_first_entry_played() {
    let (url, task) = hls_provider().await;
    let opts = Options {
        given: Given {
            m3u: Some(format!("{url}/list.m3u")),
            ..Given::default()
        },
        ..options("", "", "")
    };
    let r = doctor(opts, &[]).await;
    verdict_is(&r, Cause::Works, 0);
    assert_eq!(
        check(&r, "account.playlist").title,
        "The playlist loads: 1 entry"
    );
    assert_eq!(check(&r, "stream.ts").verdict, Verdict::Ok);
    assert!(r.checks.iter().all(|c| !c.id.starts_with("typing.")));
    task.abort();
}

#[tokio::test]
async fn a_closed_port_is_server_unreachable_and_stops_there() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let r = doctor(
        options(&format!("http://{addr}"), "ned", "pw-Closed-1"),
        &["pw-Closed-1"],
    )
    .await;
    verdict_is(&r, Cause::ServerUnreachable, 15);
    assert_eq!(check(&r, "account").verdict, Verdict::Skipped);
    assert_eq!(check(&r, "stream").verdict, Verdict::Skipped);
}

/// `tvgate doctor --ca-file` against a tvgate serving HTTPS with a
/// certificate of its own: the whole run (login, playlist, stream) over
/// TLS says "works".
#[tokio::test]
async fn the_binary_over_https_with_a_ca_file_says_works() {
    let srv = TestServer::start_tls(|h| h.admission_wait = Duration::from_millis(200)).await;
    srv.add_line("tia", "pw-Https-21", |_| {}).await;
    srv.with_catalog().await;
    let https = srv.https.as_ref().expect("https");
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = dir.path().join("cert.pem");
    std::fs::write(&ca, &https.cert_pem).expect("write the CA file");
    let server = srv.https_url("");
    let run = move |ca: Option<std::path::PathBuf>| {
        let server = server.clone();
        tokio::task::spawn_blocking(move || {
            let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_tvgate"));
            cmd.args([
                "doctor",
                "--server",
                &server,
                "-u",
                "tia",
                "-p",
                "pw-Https-21",
            ])
            .args(["--timeout", "8", "--json"]);
            if let Some(ca) = ca {
                cmd.arg("--ca-file").arg(ca);
            }
            cmd.output().expect("run tvgate doctor")
        })
    };
    let out = run(Some(ca)).await.expect("join");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("json on stdout");
    assert_eq!(v["diagnosis"]["cause"], "works", "{v}");
    validate_schema(&stdout);
    // Without the CA file the certificate is unknown: not "works".
    let out = run(None).await.expect("join");
    assert_ne!(out.status.code(), Some(0));
}
