//! The whole doctor against network faults made on this machine: each run
//! ends in the cause a person must hear and its documented exit code.
//! (tests/it/doctor.rs covers the account-side causes against a real tvgate.)

mod support;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::dns::{doh_handler, Behaviour, DnsServer};
use support::http::{HttpServer, Response, SilentServer};
use support::tls::TestCert;
use tvgate_doctor::input::Given;
use tvgate_doctor::run::Quiet;
use tvgate_doctor::{Cause, Options};

const HOST: &str = "iptv.example.test";

/// A provider that logs the line in (a working Xtream answer).
fn provider() -> support::http::Handler {
    Arc::new(|_req| {
        Response::new(
            200,
            "application/json",
            r#"{"user_info":{"username":"joe","password":"pw-9","auth":1,"status":"Active","exp_date":"4102444800","is_trial":"0","active_cons":"0","max_connections":"1","allowed_output_formats":["ts"]},"server_info":{"url":"127.0.0.1","port":"80"}}"#,
        )
    })
}

fn options(server: String, timeout: Duration) -> Options {
    Options {
        given: Given {
            server: Some(server),
            username: Some("joe".into()),
            password: Some("pw-9".into()),
            ..Given::default()
        },
        timeout,
        ..Options::default()
    }
}

#[tokio::test]
async fn an_isp_resolver_answering_a_sink_is_dns_blocking() {
    let web = HttpServer::start(provider()).await;
    // The ISP's resolver hides the server behind 0.0.0.0 ...
    let isp = DnsServer::start(
        Ipv4Addr::new(127, 0, 0, 53),
        Behaviour::Answer(vec![IpAddr::V4(Ipv4Addr::UNSPECIFIED)]),
    )
    .await;
    // ... while DNS-over-HTTPS (a local endpoint the run trusts) gives the real one.
    let cert = TestCert::for_names(&["127.0.0.1"]);
    let doh = HttpServer::start_tls(
        &cert,
        doh_handler(Behaviour::Answer(vec![IpAddr::V4(Ipv4Addr::LOCALHOST)])),
    )
    .await;
    let mut opts = options(
        format!("http://{HOST}:{}", web.addr.port()),
        Duration::from_secs(3),
    );
    opts.system_resolver = Some(isp.addr);
    opts.doh = vec![format!("https://127.0.0.1:{}/dns-query", doh.addr.port())];
    opts.extra_ca_pem = Some(cert.cert_pem.clone().into_bytes());
    let report = tvgate_doctor::run(&opts, &mut Quiet).await.expect("run");
    assert_eq!(report.diagnosis.cause, Cause::DnsBlocking, "{report:#?}");
    assert_eq!(report.diagnosis.exit_code, 14);
}

#[tokio::test]
async fn a_closed_port_is_server_unreachable() {
    let port = support::closed_port();
    let opts = options(format!("http://127.0.0.1:{port}"), Duration::from_secs(3));
    let report = tvgate_doctor::run(&opts, &mut Quiet).await.expect("run");
    assert_eq!(report.diagnosis.cause, Cause::ServerUnreachable);
    assert_eq!(report.diagnosis.exit_code, 15);
}

#[tokio::test]
async fn a_wrong_certificate_is_server_unreachable() {
    // Trusted by nobody here, and for another name.
    let cert = TestCert::for_names(&["other.example.test"]);
    let web = HttpServer::start_tls(&cert, provider()).await;
    let opts = options(
        format!("https://127.0.0.1:{}", web.addr.port()),
        Duration::from_secs(3),
    );
    let report = tvgate_doctor::run(&opts, &mut Quiet).await.expect("run");
    assert_eq!(
        report.diagnosis.cause,
        Cause::ServerUnreachable,
        "{report:#?}"
    );
    assert_eq!(report.diagnosis.exit_code, 15);
    let text = tvgate_doctor::report::render_text(&report);
    assert!(text.to_lowercase().contains("certificate"), "{text}");
}

#[tokio::test]
async fn a_server_that_never_answers_is_named_within_the_timeout() {
    let silent = SilentServer::start().await;
    let opts = options(
        format!("http://127.0.0.1:{}", silent.addr.port()),
        Duration::from_secs(1),
    );
    let t0 = Instant::now();
    let report = tvgate_doctor::run(&opts, &mut Quiet).await.expect("run");
    assert_eq!(report.diagnosis.cause, Cause::ServerUnreachable);
    assert_eq!(report.diagnosis.exit_code, 15);
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
}
