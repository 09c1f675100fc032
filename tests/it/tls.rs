//! HTTPS beside plain HTTP: one server on two ports, answers that name the
//! scheme and port the player used (server_info, the M3U, the portal, the
//! Stalker portal's links), a certificate replaced without dropping a
//! stream, handshakes that fail or stall without disturbing anyone, and
//! the binary: bad certificate files at start, SIGHUP reloads, curl.

use crate::harness::*;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tvgate_http::params::query_value;

/// A client that trusts only `cert_pem`.
fn tls_client(cert_pem: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert_pem.as_bytes()).expect("PEM"))
        .tls_built_in_root_certs(false)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client")
}

async fn text(client: &reqwest::Client, url: &str) -> String {
    let r = client.get(url).send().await.expect("request");
    assert_eq!(r.status(), 200, "{url}");
    r.text().await.expect("body")
}

async fn tls_server() -> TestServer {
    let srv = TestServer::start_tls(|_| {}).await;
    srv.add_line("tess", "pw-Tls-1", |s| s.max_connections = 3)
        .await;
    srv.with_catalog().await;
    srv
}

fn login_query() -> &'static str {
    "username=tess&password=pw-Tls-1"
}

#[tokio::test]
async fn server_info_names_the_scheme_and_port_the_player_used() {
    let srv = tls_server().await;
    let https = srv.https.as_ref().expect("https");
    let (plain_port, tls_port) = (srv.addr.port().to_string(), https.addr.port().to_string());
    let client = tls_client(&https.cert_pem);
    let path = format!("/player_api.php?{}", login_query());

    let over_tls: Value =
        serde_json::from_str(&text(&client, &srv.https_url(&path)).await).expect("JSON");
    let info = &over_tls["server_info"];
    assert_eq!(over_tls["user_info"]["auth"], 1, "{over_tls}");
    assert_eq!(info["url"], "127.0.0.1", "{info}");
    assert_eq!(info["server_protocol"], "https", "{info}");
    assert_eq!(info["https_port"], tls_port.as_str(), "{info}");
    assert_eq!(info["port"], plain_port.as_str(), "{info}");

    let over_http = get_json(&srv.url(&path)).await;
    let info = &over_http["server_info"];
    assert_eq!(info["url"], "127.0.0.1", "{info}");
    assert_eq!(info["server_protocol"], "http", "{info}");
    assert_eq!(info["port"], plain_port.as_str(), "{info}");
    assert_eq!(
        info["https_port"],
        tls_port.as_str(),
        "https_port names the TLS port whenever TLS is on: {info}"
    );

    // Without TLS, as before: no HTTPS port.
    let plain_only = TestServer::start().await;
    plain_only.add_line("tess", "pw-Tls-1", |_| {}).await;
    let info = get_json(&plain_only.url(&path)).await["server_info"].clone();
    assert_eq!(info["server_protocol"], "http");
    assert_eq!(info["https_port"], "");
}

#[tokio::test]
async fn the_playlist_points_back_at_the_listener_it_came_from() {
    let srv = tls_server().await;
    let https = srv.https.as_ref().expect("https");
    let client = tls_client(&https.cert_pem);
    let path = format!("/get.php?{}&type=m3u_plus&output=ts", login_query());
    for (m3u, base) in [
        (
            text(&client, &srv.https_url(&path)).await,
            srv.https_url("/"),
        ),
        (
            text(&crate::harness::client(), &srv.url(&path)).await,
            srv.url("/"),
        ),
    ] {
        assert!(
            m3u.lines()
                .next()
                .is_some_and(|l| l.contains(&format!("x-tvg-url=\"{base}xmltv.php?"))),
            "{m3u}"
        );
        let urls: Vec<&str> = m3u
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .collect();
        assert!(urls.len() >= 3, "{m3u}");
        assert!(urls.iter().all(|u| u.starts_with(&base)), "{base}: {m3u}");
    }
    // A stream URL from the HTTPS playlist plays over HTTPS.
    let m3u = text(&client, &srv.https_url(&path)).await;
    let live = m3u
        .lines()
        .find(|l| l.contains("/live/"))
        .expect("a live URL");
    let mut r = client.get(live).send().await.expect("stream");
    assert_eq!(r.status(), 200, "{live}");
    let first = r.chunk().await.expect("chunk").expect("bytes");
    assert_eq!(first[0], 0x47, "MPEG-TS over TLS");
}

#[tokio::test]
async fn the_portal_and_the_stalker_portal_name_the_https_address() {
    let srv = TestServer::start_tls(|_| {}).await;
    srv.add_line("001A79000001", "mac-pw-1", |_| {}).await;
    srv.with_catalog().await;
    let https = srv.https.as_ref().expect("https");
    let client = tls_client(&https.cert_pem);
    let base = srv.https_url("");

    // The subscriber portal: log in over HTTPS, the details say https.
    let form = client
        .get(srv.https_url("/portal/"))
        .send()
        .await
        .expect("login form");
    let secure = |r: &reqwest::Response| {
        r.headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("; Secure"))
    };
    assert!(secure(&form), "a cookie set over HTTPS is Secure");
    let plain_form = crate::harness::client()
        .get(srv.url("/portal/"))
        .send()
        .await
        .expect("form");
    assert!(!secure(&plain_form), "over plain HTTP it cannot be");
    let login_cookie = set_cookie(&form);
    let page = form.text().await.expect("page");
    let csrf = after(&page, "name=\"csrf\" value=\"");
    let r = client
        .post(srv.https_url("/portal/login"))
        .header("cookie", &login_cookie)
        .form(&[
            ("username", "001A79000001"),
            ("password", "mac-pw-1"),
            ("csrf", &csrf),
        ])
        .send()
        .await
        .expect("login");
    assert_eq!(r.status(), 303);
    assert!(secure(&r));
    let session = set_cookie(&r);
    let page = client
        .get(srv.https_url("/portal/"))
        .header("cookie", &session)
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("body");
    assert!(
        page.contains(&format!(
            "{base}/get.php?username=001A79000001&amp;password="
        )),
        "{page}"
    );
    assert!(!page.contains(&srv.url("/get.php")), "{page}");

    // A MAG box over HTTPS gets HTTPS channel links, which play.
    let stalker = |query: &str, token: &str| {
        let url = format!("{base}/stalker_portal/server/load.php?{query}&JsHttpRequest=1-xml");
        let mut req = client
            .get(url)
            .header("cookie", "mac=00:1A:79:00:00:01; stb_lang=en");
        if !token.is_empty() {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        async move {
            let body = req
                .send()
                .await
                .expect("portal")
                .text()
                .await
                .expect("body");
            serde_json::from_str::<Value>(&body).expect("JSON")["js"].clone()
        }
    };
    let token = stalker("type=stb&action=handshake&token=", "").await["token"]
        .as_str()
        .expect("token")
        .to_string();
    stalker(
        "type=stb&action=get_profile&sn=0000000000000&stb_type=MAG250",
        &token,
    )
    .await;
    let all = stalker("type=itv&action=get_all_channels", &token).await;
    let cmd = all["data"][0]["cmd"].as_str().expect("cmd").to_string();
    let link = stalker(
        &format!("type=itv&action=create_link&cmd={}", query_value(&cmd)),
        &token,
    )
    .await;
    let url = link["cmd"]
        .as_str()
        .and_then(|c| c.strip_prefix("ffmpeg "))
        .expect("a link");
    assert!(url.starts_with(&format!("{base}/stalker/live/")), "{url}");
    let mut r = client.get(url).send().await.expect("stream");
    assert_eq!(r.status(), 200);
    assert_eq!(r.chunk().await.expect("chunk").expect("bytes")[0], 0x47);
}

#[tokio::test]
async fn the_consoles_cookie_is_secure_over_https() {
    let srv = TestServer::start_tls(|_| {}).await;
    let (_, password) = srv.gate.create_admin("olga", NOW).await.expect("admin");
    let https = srv.https.as_ref().expect("https");
    for (client, url, secure) in [
        (
            tls_client(&https.cert_pem),
            srv.https_url("/admin/login"),
            true,
        ),
        (client(), srv.url("/admin/login"), false),
    ] {
        let r = client
            .post(&url)
            .form(&[("name", "olga"), ("password", password.as_str())])
            .send()
            .await
            .expect("login");
        assert_eq!(r.status(), 303, "{url}");
        let cookie = r
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .expect("cookie");
        assert_eq!(cookie.contains("; Secure"), secure, "{url}: {cookie}");
    }
}

fn set_cookie(r: &reqwest::Response) -> String {
    r.headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("a cookie")
        .to_string()
}

fn after(page: &str, marker: &str) -> String {
    let start = page.find(marker).expect("marker") + marker.len();
    let rest = &page[start..];
    rest[..rest.find('"').expect("end quote")].to_string()
}

#[tokio::test]
async fn a_configured_public_url_still_wins_over_https() {
    let srv = TestServer::start_tls(|h| {
        h.public_url =
            Some(tvgate_http::PublicUrl::parse("http://tv.example.net:8080").expect("url"))
    })
    .await;
    srv.add_line("tess", "pw-Tls-1", |_| {}).await;
    srv.with_catalog().await;
    let https = srv.https.as_ref().expect("https");
    let client = tls_client(&https.cert_pem);
    let v: Value = serde_json::from_str(
        &text(
            &client,
            &srv.https_url(&format!("/player_api.php?{}", login_query())),
        )
        .await,
    )
    .expect("JSON");
    let info = &v["server_info"];
    assert_eq!(info["url"], "tv.example.net", "{info}");
    assert_eq!(info["server_protocol"], "http", "{info}");
    assert_eq!(info["port"], "8080", "{info}");
    assert_eq!(info["https_port"], https.addr.port().to_string(), "{info}");
    let m3u = text(
        &client,
        &srv.https_url(&format!("/get.php?{}&type=m3u_plus", login_query())),
    )
    .await;
    assert!(m3u.contains("http://tv.example.net:8080/live/"), "{m3u}");
}

#[tokio::test]
async fn a_new_certificate_serves_new_handshakes_and_open_streams_keep_going() {
    let srv = tls_server().await;
    let https = srv.https.as_ref().expect("https");
    let old = tls_client(&https.cert_pem);
    let m3u = text(
        &old,
        &srv.https_url(&format!(
            "/get.php?{}&type=m3u_plus&output=ts",
            login_query()
        )),
    )
    .await;
    let live = m3u
        .lines()
        .find(|l| l.contains("/live/"))
        .expect("a live URL")
        .to_string();
    let mut stream = old.get(&live).send().await.expect("stream");
    assert_eq!(stream.status(), 200);
    stream.chunk().await.expect("chunk").expect("bytes");

    let (new_pem, new_key) = test_cert();
    https.cert.replace(
        tvgate_http::tls::certified_key(new_pem.as_bytes(), new_key.as_bytes()).expect("loads"),
    );

    let path = srv.https_url(&format!("/player_api.php?{}", login_query()));
    let fresh = tls_client(&new_pem);
    assert!(text(&fresh, &path).await.contains("\"auth\":1"));
    let stale = tls_client(&https.cert_pem);
    let refused = stale.get(&path).send().await;
    assert!(
        refused.is_err(),
        "a new handshake gets the new certificate: {refused:?}"
    );
    // The stream opened before the replacement still flows.
    let mut more = 0;
    while more < 256 * 1024 {
        let chunk = tokio::time::timeout(Duration::from_secs(5), stream.chunk())
            .await
            .expect("the open stream keeps going")
            .expect("chunk")
            .expect("the stream did not end");
        more += chunk.len();
    }
}

/// Reads from `tcp` until the server closes it (or 5 s pass): the bytes.
fn read_until_closed(tcp: &mut std::net::TcpStream) -> Vec<u8> {
    tcp.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tcp.read(&mut buf) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return got,
            Err(e) => panic!("the server did not close the connection: {e}"),
        }
    }
}

#[tokio::test]
async fn failed_and_stalled_handshakes_disturb_nobody() {
    let srv = tls_server().await;
    let https = srv.https.as_ref().expect("https");
    let addr = https.addr;
    let client = tls_client(&https.cert_pem);
    let m3u = text(
        &client,
        &srv.https_url(&format!(
            "/get.php?{}&type=m3u_plus&output=ts",
            login_query()
        )),
    )
    .await;
    let live = m3u
        .lines()
        .find(|l| l.contains("/live/"))
        .expect("a live URL")
        .to_string();
    let mut stream = client.get(&live).send().await.expect("stream");
    stream.chunk().await.expect("chunk").expect("bytes");

    // Clients that never finish a handshake: each holds only its own task.
    let stalled: Vec<std::net::TcpStream> = (0..10)
        .map(|_| std::net::TcpStream::connect(addr).expect("connect"))
        .collect();
    // Plain HTTP and noise on the TLS port: the connection is closed
    // without an HTTP answer.
    let junk = tokio::task::spawn_blocking(move || {
        let mut answers = Vec::new();
        for probe in [
            &b"GET /player_api.php HTTP/1.1\r\nHost: x\r\n\r\n"[..],
            &[0u8; 64][..],
        ] {
            let mut tcp = std::net::TcpStream::connect(addr).expect("connect");
            tcp.write_all(probe).expect("write");
            answers.push(read_until_closed(&mut tcp));
        }
        answers
    })
    .await
    .expect("join");
    for answer in junk {
        assert!(!answer.starts_with(b"HTTP/"), "{answer:?}");
    }
    // A new client is served while the stalled ones wait (the client's
    // own time limit is far below ten handshakes' time limits in a row).
    let fresh = tls_client(&https.cert_pem);
    let info = text(
        &fresh,
        &srv.https_url(&format!("/player_api.php?{}", login_query())),
    )
    .await;
    assert!(info.contains("\"auth\":1"), "{info}");
    // The stalled ones are closed after the handshake time limit.
    let closed = tokio::task::spawn_blocking(move || {
        stalled
            .into_iter()
            .map(|mut tcp| read_until_closed(&mut tcp).len())
            .collect::<Vec<_>>()
    })
    .await
    .expect("join");
    assert_eq!(closed, vec![0; 10], "nothing is sent to a silent client");
    // And the stream that was open all along still flows; the plain
    // listener too.
    for _ in 0..4 {
        stream
            .chunk()
            .await
            .expect("chunk")
            .expect("the stream goes on");
    }
    assert!(get(&srv.url(&format!("/player_api.php?{}", login_query())))
        .await
        .1
        .contains("\"auth\":1"));
}

// The binary.

/// Writes a fresh certificate and key into `dir` (cert.pem, key.pem);
/// returns the certificate's PEM.
fn write_cert(dir: &Path) -> String {
    let (cert, key) = test_cert();
    std::fs::write(dir.join("cert.pem"), &cert).expect("write cert");
    std::fs::write(dir.join("key.pem"), &key).expect("write key");
    cert
}

/// `tvgate serve` with flags on a fresh data directory: (exit code, stderr).
fn serve_fails(dir: &Path, flags: &[&str]) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tvgate"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(flags)
        .arg("--data-dir")
        .arg(dir.join("data"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tvgate serve");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                e.read_to_string(&mut err).expect("stderr");
            }
            return (status.code(), err);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("tvgate serve {flags:?} started instead of refusing");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn bad_certificate_files_stop_the_start_with_one_line_naming_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write_cert(d);
    let other = tempfile::tempdir().expect("tempdir");
    write_cert(other.path());
    std::fs::write(d.join("garbage.pem"), "not a certificate\n").expect("write");
    let path = |name: &str| d.join(name).to_string_lossy().into_owned();
    let other_key = other.path().join("key.pem").to_string_lossy().into_owned();
    let (cert, key, missing, garbage) = (
        path("cert.pem"),
        path("key.pem"),
        path("missing.pem"),
        path("garbage.pem"),
    );
    let tls = |cert: &str, key: &str| {
        vec![
            "--tls-listen".to_string(),
            "127.0.0.1:0".to_string(),
            "--tls-cert".to_string(),
            cert.to_string(),
            "--tls-key".to_string(),
            key.to_string(),
        ]
    };
    let cases: Vec<(Vec<String>, Vec<&str>)> = vec![
        (
            tls(&missing, &key),
            vec!["tls_cert_file", &missing, "cannot be read"],
        ),
        (
            tls(&cert, &missing),
            vec!["tls_key_file", &missing, "cannot be read"],
        ),
        (
            tls(&garbage, &key),
            vec!["tls_cert_file", &garbage, "no certificate"],
        ),
        (
            tls(&cert, &garbage),
            vec!["tls_key_file", &garbage, "no private key"],
        ),
        (
            tls(&key, &key),
            vec!["tls_cert_file", &key, "no certificate"],
        ),
        (
            tls(&cert, &other_key),
            vec!["tls_key_file", &other_key, "not the private key", &cert],
        ),
        (
            vec!["--tls-listen".into(), "127.0.0.1:0".into()],
            vec!["tls_cert_file is empty"],
        ),
        (
            vec![
                "--tls-cert".into(),
                cert.clone(),
                "--tls-key".into(),
                key.clone(),
            ],
            vec!["tls_listen is empty"],
        ),
    ];
    for (flags, expected) in cases {
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        let (code, err) = serve_fails(d, &flags);
        assert!(code.is_some_and(|c| c != 0), "{flags:?}: {code:?} {err}");
        let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{flags:?}: one line: {err}");
        assert!(lines[0].starts_with("error: "), "{err}");
        for word in expected {
            assert!(lines[0].contains(word), "{flags:?}: {word:?} in {err}");
        }
        assert!(
            !d.join("data").join("tvgate.sqlite").exists(),
            "nothing is opened before the certificate loads"
        );
    }
}

/// A `tvgate serve` with HTTPS, killed when dropped; its log lines are
/// collected as they come.
struct Served {
    child: std::process::Child,
    log: Arc<Mutex<Vec<String>>>,
    addr: String,
    https_addr: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    fn start(dir: &Path) -> Served {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tvgate"))
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--tls-listen",
                "127.0.0.1:0",
            ])
            .arg("--tls-cert")
            .arg(dir.join("cert.pem"))
            .arg("--tls-key")
            .arg(dir.join("key.pem"))
            .arg("--data-dir")
            .arg(dir.join("data"))
            .env("TVGATE_LOG_FORMAT", "json")
            .env("TVGATE_KDF_MEMORY_KIB", "64")
            .env("TVGATE_KDF_ITERATIONS", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn tvgate serve");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let lines = log.clone();
        // Read every line, so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { return };
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    let f = &v["fields"];
                    if let (Some(a), Some(h)) = (f["addr"].as_str(), f["https_addr"].as_str()) {
                        let _ = tx.send((a.to_string(), h.to_string()));
                    }
                }
                lines.lock().unwrap_or_else(|p| p.into_inner()).push(line);
            }
        });
        let mut served = Served {
            child,
            log,
            addr: String::new(),
            https_addr: String::new(),
        };
        let (addr, https_addr) = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the server logs both addresses");
        served.addr = addr;
        served.https_addr = https_addr;
        served
    }

    fn hang_up(&self) {
        let status = Command::new("kill")
            .args(["-HUP", &self.child.id().to_string()])
            .status()
            .expect("kill -HUP");
        assert!(status.success());
    }

    fn logged(&self, words: &str) -> bool {
        self.log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .any(|l| l.contains(words))
    }
}

/// `curl --cacert CA URL`: (succeeded, body).
fn curl(ca: &Path, url: &str) -> (bool, String) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "5", "--cacert"])
        .arg(ca)
        .arg(url)
        .output()
        .unwrap_or_else(|e| panic!("curl is needed for this test (apt install curl): {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what}");
}

#[test]
fn the_binary_serves_https_beside_http_and_reloads_its_certificate_on_sighup() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write_cert(d);
    std::fs::copy(d.join("cert.pem"), d.join("ca-old.pem")).expect("copy");
    let (code, _, err) = tvgate(
        &d.join("data"),
        &["line", "add", "curt", "--password", "pw-Curl-7"],
    );
    assert_eq!(code, 0, "{err}");
    let srv = Served::start(d);
    let tls_port = srv.https_addr.rsplit(':').next().expect("port").to_string();
    let plain_port = srv.addr.rsplit(':').next().expect("port").to_string();
    let api = format!(
        "https://{}/player_api.php?username=curt&password=pw-Curl-7",
        srv.https_addr
    );

    let (ok, body) = curl(&d.join("ca-old.pem"), &api);
    assert!(ok, "curl over HTTPS: {body}");
    let v: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(v["server_info"]["server_protocol"], "https", "{v}");
    assert_eq!(v["server_info"]["https_port"], tls_port.as_str(), "{v}");
    assert_eq!(v["server_info"]["port"], plain_port.as_str(), "{v}");
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "5"])
        .arg(format!(
            "http://{}/player_api.php?username=curt&password=pw-Curl-7",
            srv.addr
        ))
        .output()
        .expect("curl");
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON over HTTP");
    assert_eq!(v["server_info"]["server_protocol"], "http", "{v}");
    assert_eq!(v["server_info"]["https_port"], tls_port.as_str(), "{v}");

    // A new pair on disk and a SIGHUP: new handshakes get it.
    write_cert(d);
    srv.hang_up();
    wait_for("the new certificate is served after SIGHUP", || {
        curl(&d.join("cert.pem"), &api).0
    });
    assert!(srv.logged("TLS certificate reloaded"));
    assert!(
        !curl(&d.join("ca-old.pem"), &api).0,
        "the old certificate is gone"
    );

    // A broken file and a SIGHUP: logged, and the certificate in use stays.
    std::fs::copy(d.join("cert.pem"), d.join("ca-new.pem")).expect("copy");
    std::fs::write(d.join("cert.pem"), "-----BEGIN CERTIFICATE-----\ntruncated").expect("write");
    srv.hang_up();
    wait_for("the failed reload is logged", || {
        srv.logged("TLS certificate not reloaded")
    });
    assert!(srv.logged(&d.join("cert.pem").display().to_string()));
    let (ok, body) = curl(&d.join("ca-new.pem"), &api);
    assert!(ok && body.contains("\"auth\":1"), "{body}");
}
