//! Real network faults made on this machine, each named by the probe that
//! meets it: an ISP-like resolver that hides the server (a sink address,
//! "no such name", silence) while DNS-over-HTTPS gives the real address; a
//! closed port; certificates that can't be trusted; a server that accepts
//! and never answers; a web page where the app expects data. Loopback only.

mod support;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::dns::{doh_handler, Behaviour, DnsServer};
use support::http::{HttpServer, ResettingServer, Response, SilentServer, FAKE_NGINX_404};
use support::tls::TestCert;
use tvgate_doctor::check::{Cause, Check, Verdict};
use tvgate_doctor::dns::{resolve, DnsOptions};
use tvgate_doctor::transport::{probe, TransportOptions};

const HOST: &str = "iptv.example.test";
const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const ISP_RESOLVER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 53);
const OTHER_RESOLVER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 54);

/// A DoH endpoint on 127.0.0.1 with a certificate the options trust.
struct Doh {
    server: HttpServer,
    cert: TestCert,
}

impl Doh {
    async fn start(behaviour: Behaviour) -> Doh {
        let cert = TestCert::for_names(&["127.0.0.1"]);
        let server = HttpServer::start_tls(&cert, doh_handler(behaviour)).await;
        Doh { server, cert }
    }

    fn url(&self) -> String {
        format!("https://127.0.0.1:{}/dns-query", self.server.addr.port())
    }
}

fn dns_options(system: &DnsServer, doh: &Doh) -> DnsOptions {
    DnsOptions {
        system_resolver: Some(system.addr),
        resolvers: Vec::new(),
        doh: vec![doh.url()],
        extra_ca_pem: Some(doh.cert.cert_pem.clone().into_bytes()),
        timeout: Duration::from_secs(2),
    }
}

fn transport_options(timeout: Duration) -> TransportOptions {
    TransportOptions {
        timeout,
        ..TransportOptions::default()
    }
}

fn find<'a>(checks: &'a [Check], id: &str) -> &'a Check {
    checks
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no {id} check in {checks:#?}"))
}

#[tokio::test]
async fn a_sink_from_the_isp_resolver_while_doh_has_the_real_address_is_dns_blocking() {
    let isp = DnsServer::start(
        ISP_RESOLVER,
        Behaviour::Answer(vec!["0.0.0.0".parse().unwrap()]),
    )
    .await;
    let doh = Doh::start(Behaviour::Answer(vec![LOOPBACK])).await;

    let report = resolve(HOST, &dns_options(&isp, &doh)).await;

    assert!(report.looks_blocked, "{report:#?}");
    assert_eq!(report.usable, vec![LOOPBACK]);
    let system = find(&report.checks, "dns.system");
    assert_eq!(system.verdict, Verdict::Fault);
    assert_eq!(system.points_to, Some(Cause::DnsBlocking));
    assert!(
        system.title.contains("dead end") && system.title.contains("0.0.0.0"),
        "{}",
        system.title
    );
    assert!(system.fix.contains("1.1.1.1"), "{}", system.fix);
    assert!(system
        .evidence
        .iter()
        .any(|e| e.contains("DNS-over-HTTPS") && e.contains("127.0.0.1")));
    assert_eq!(find(&report.checks, "dns.doh").verdict, Verdict::Ok);
    assert_eq!(report.answers[0].via, "system");
    assert_eq!(
        report.answers[0].outcome,
        Ok(vec!["0.0.0.0".parse().unwrap()])
    );
    // The DoH request really went to the test's endpoint, as RFC 8484 says.
    let requests = doh.server.requests.lock().unwrap().clone();
    assert!(
        requests
            .iter()
            .all(|r| r.method == "POST"
                && r.header("content-type") == Some("application/dns-message"))
    );
}

#[tokio::test]
async fn resolvers_that_all_agree_are_fine_even_on_loopback() {
    let isp = DnsServer::start(ISP_RESOLVER, Behaviour::Answer(vec![LOOPBACK])).await;
    let other = DnsServer::start(OTHER_RESOLVER, Behaviour::Answer(vec![LOOPBACK])).await;
    let doh = Doh::start(Behaviour::Answer(vec![LOOPBACK])).await;
    let mut opts = dns_options(&isp, &doh);
    opts.resolvers = vec![other.addr];

    let report = resolve(HOST, &opts).await;

    assert!(!report.looks_blocked, "{report:#?}");
    assert_eq!(report.usable, vec![LOOPBACK]);
    assert_eq!(report.checks.len(), 3);
    assert!(
        report.checks.iter().all(|c| c.verdict == Verdict::Ok),
        "{:#?}",
        report.checks
    );
    assert_eq!(report.answers[1].via, format!("resolver {}", other.addr));
}

#[tokio::test]
async fn no_such_name_from_the_isp_while_doh_resolves_is_dns_blocking() {
    let isp = DnsServer::start(ISP_RESOLVER, Behaviour::NxDomain).await;
    let doh = Doh::start(Behaviour::Answer(vec![LOOPBACK])).await;

    let report = resolve(HOST, &dns_options(&isp, &doh)).await;

    assert!(report.looks_blocked);
    assert_eq!(report.usable, vec![LOOPBACK]);
    let system = find(&report.checks, "dns.system");
    assert_eq!(
        (system.verdict, system.points_to),
        (Verdict::Fault, Some(Cause::DnsBlocking))
    );
    assert!(system.title.contains("hides"), "{}", system.title);
    assert_eq!(report.answers[0].outcome, Err("NXDOMAIN".to_string()));
}

#[tokio::test]
async fn a_name_no_resolver_knows_points_at_the_server_address() {
    let isp = DnsServer::start(ISP_RESOLVER, Behaviour::NxDomain).await;
    let doh = Doh::start(Behaviour::NxDomain).await;

    let report = resolve(HOST, &dns_options(&isp, &doh)).await;

    assert!(!report.looks_blocked);
    assert!(report.usable.is_empty());
    let system = find(&report.checks, "dns.system");
    assert_eq!(
        (system.verdict, system.points_to),
        (Verdict::Fault, Some(Cause::ServerUnreachable))
    );
    assert!(
        system.title.contains("cannot be found anywhere"),
        "{}",
        system.title
    );
}

#[tokio::test]
async fn a_resolver_that_never_answers_is_a_timeout_warning_within_the_timeout() {
    let isp = DnsServer::start(ISP_RESOLVER, Behaviour::Answer(vec![LOOPBACK])).await;
    let silent = DnsServer::start(OTHER_RESOLVER, Behaviour::Silent).await;
    let doh = Doh::start(Behaviour::Answer(vec![LOOPBACK])).await;
    let mut opts = dns_options(&isp, &doh);
    opts.resolvers = vec![silent.addr];
    opts.timeout = Duration::from_millis(700);

    let started = Instant::now();
    let report = resolve(HOST, &opts).await;
    let took = started.elapsed();

    assert!(took < Duration::from_millis(1500), "took {took:?}");
    assert!(!report.looks_blocked);
    let resolver = find(&report.checks, "dns.resolver");
    assert_eq!(resolver.verdict, Verdict::Warning);
    assert!(
        resolver.evidence.iter().any(|e| e.contains("timeout")),
        "{resolver:#?}"
    );
    assert!(report.answers[1]
        .outcome
        .as_ref()
        .is_err_and(|e| e.starts_with("timeout")));
    assert_eq!(find(&report.checks, "dns.system").verdict, Verdict::Ok);
}

#[tokio::test]
async fn a_truncated_answer_is_asked_again_over_tcp() {
    let isp = DnsServer::start(ISP_RESOLVER, Behaviour::Truncated(vec![LOOPBACK])).await;
    let doh = Doh::start(Behaviour::Answer(vec![LOOPBACK])).await;

    let report = resolve(HOST, &dns_options(&isp, &doh)).await;

    assert_eq!(report.answers[0].outcome, Ok(vec![LOOPBACK]), "{report:#?}");
    assert!(!report.looks_blocked);
}

#[tokio::test]
async fn an_ip_address_needs_no_name_resolution() {
    let report = resolve(
        "127.0.0.1",
        &DnsOptions {
            doh: Vec::new(),
            ..DnsOptions::default()
        },
    )
    .await;
    assert_eq!(report.usable, vec![LOOPBACK]);
    assert_eq!(report.checks.len(), 1);
    assert_eq!(
        (report.checks[0].id.as_str(), report.checks[0].verdict),
        ("dns.literal", Verdict::Ok)
    );
}

#[tokio::test]
async fn a_closed_port_is_refused() {
    let port = support::closed_port();
    let url = reqwest::Url::parse(&format!("http://{HOST}:{port}/player_api.php")).unwrap();

    let report = probe(
        &url,
        &[LOOPBACK],
        &transport_options(Duration::from_secs(2)),
    )
    .await;

    assert!(!report.reachable);
    let tcp = find(&report.checks, "transport.tcp");
    assert_eq!(
        (tcp.verdict, tcp.points_to),
        (Verdict::Fault, Some(Cause::ServerUnreachable))
    );
    assert!(tcp.title.contains("refuses"), "{}", tcp.title);
    assert!(tcp.fix.contains("port"), "{}", tcp.fix);
}

#[tokio::test]
async fn a_self_signed_certificate_for_another_name_is_a_certificate_fault() {
    let cert = TestCert::for_names(&["other.example"]);
    let server = HttpServer::start_tls(
        &cert,
        Arc::new(|_| Response::new(200, "application/json", "{}")),
    )
    .await;
    let url = reqwest::Url::parse(&format!(
        "https://{HOST}:{}/player_api.php",
        server.addr.port()
    ))
    .unwrap();

    let report = probe(
        &url,
        &[LOOPBACK],
        &transport_options(Duration::from_secs(2)),
    )
    .await;

    assert!(!report.reachable);
    assert_eq!(find(&report.checks, "transport.tcp").verdict, Verdict::Ok);
    let tls = find(&report.checks, "transport.tls");
    assert_eq!(
        (tls.verdict, tls.points_to),
        (Verdict::Fault, Some(Cause::ServerUnreachable))
    );
    assert!(
        tls.title.contains("not from a trusted authority"),
        "{}",
        tls.title
    );
    assert!(report.checks.iter().all(|c| c.id != "transport.http"));
}

#[tokio::test]
async fn a_trusted_certificate_for_another_name_is_a_name_mismatch() {
    let cert = TestCert::for_names(&["other.example"]);
    let server = HttpServer::start_tls(
        &cert,
        Arc::new(|_| Response::new(200, "application/json", "{}")),
    )
    .await;
    let url = reqwest::Url::parse(&format!(
        "https://{HOST}:{}/player_api.php",
        server.addr.port()
    ))
    .unwrap();
    let opts = TransportOptions {
        extra_ca_pem: Some(cert.cert_pem.clone().into_bytes()),
        ..transport_options(Duration::from_secs(2))
    };

    let report = probe(&url, &[LOOPBACK], &opts).await;

    let tls = find(&report.checks, "transport.tls");
    assert_eq!(tls.verdict, Verdict::Fault);
    assert!(tls.title.contains("for another name"), "{}", tls.title);
}

#[tokio::test]
async fn an_expired_certificate_is_named() {
    let cert = TestCert::expired_for_names(&[HOST]);
    let server = HttpServer::start_tls(
        &cert,
        Arc::new(|_| Response::new(200, "application/json", "{}")),
    )
    .await;
    let url = reqwest::Url::parse(&format!("https://{HOST}:{}/", server.addr.port())).unwrap();
    let opts = TransportOptions {
        extra_ca_pem: Some(cert.cert_pem.clone().into_bytes()),
        ..transport_options(Duration::from_secs(2))
    };

    let report = probe(&url, &[LOOPBACK], &opts).await;

    let tls = find(&report.checks, "transport.tls");
    assert_eq!(tls.verdict, Verdict::Fault);
    assert!(tls.title.contains("expired"), "{}", tls.title);
    assert!(tls.fix.contains("date and time"), "{}", tls.fix);
}

#[tokio::test]
async fn a_reset_right_after_the_client_hello_looks_like_a_filter() {
    let server = ResettingServer::start().await;
    let url = reqwest::Url::parse(&format!("https://{HOST}:{}/", server.addr.port())).unwrap();

    let report = probe(
        &url,
        &[LOOPBACK],
        &transport_options(Duration::from_secs(2)),
    )
    .await;

    assert!(!report.reachable);
    let tls = find(&report.checks, "transport.tls");
    assert_eq!(
        (tls.verdict, tls.points_to),
        (Verdict::Fault, Some(Cause::ServerUnreachable))
    );
    assert!(
        tls.title.contains("cut right after the secure greeting"),
        "{tls:#?}"
    );
    assert!(tls.fix.contains("blocks servers by name"), "{}", tls.fix);
}

#[tokio::test]
async fn a_server_that_accepts_and_never_answers_times_out() {
    let server = SilentServer::start().await;
    let url = reqwest::Url::parse(&format!(
        "http://{HOST}:{}/player_api.php",
        server.addr.port()
    ))
    .unwrap();
    let timeout = Duration::from_millis(800);

    let started = Instant::now();
    let report = probe(&url, &[LOOPBACK], &transport_options(timeout)).await;
    let took = started.elapsed();

    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert!(!report.reachable);
    assert_eq!(find(&report.checks, "transport.tcp").verdict, Verdict::Ok);
    let http = find(&report.checks, "transport.http");
    assert_eq!(
        (http.verdict, http.points_to),
        (Verdict::Fault, Some(Cause::ServerUnreachable))
    );
    assert!(http.title.contains("never answers"), "{}", http.title);
}

#[tokio::test]
async fn a_silent_https_server_times_out_in_the_handshake() {
    let server = SilentServer::start().await;
    let url = reqwest::Url::parse(&format!("https://{HOST}:{}/", server.addr.port())).unwrap();

    let started = Instant::now();
    let report = probe(
        &url,
        &[LOOPBACK],
        &transport_options(Duration::from_millis(800)),
    )
    .await;

    assert!(started.elapsed() < Duration::from_secs(3));
    let tls = find(&report.checks, "transport.tls");
    assert_eq!(tls.verdict, Verdict::Fault);
    assert!(tls.title.contains("never completes"), "{}", tls.title);
}

#[tokio::test]
async fn a_fake_nginx_404_where_json_was_expected_is_named() {
    let server = HttpServer::start(Arc::new(|_| {
        Response::new(404, "text/html", FAKE_NGINX_404)
    }))
    .await;
    let url = reqwest::Url::parse(&format!(
        "http://{HOST}:{}/player_api.php",
        server.addr.port()
    ))
    .unwrap();

    let report = probe(
        &url,
        &[LOOPBACK],
        &transport_options(Duration::from_secs(2)),
    )
    .await;

    assert!(!report.reachable);
    let http = find(&report.checks, "transport.http");
    assert_eq!(
        (http.verdict, http.points_to),
        (Verdict::Fault, Some(Cause::ServerUnreachable))
    );
    assert!(http.title.contains("404 Not Found"), "{}", http.title);
    assert!(
        http.evidence.iter().any(|e| e.contains("XUI")),
        "{:#?}",
        http.evidence
    );
    assert!(http
        .evidence
        .iter()
        .any(|e| e.contains("HTTP 404") && e.contains("text/html")));
}

#[tokio::test]
async fn a_block_page_in_place_of_json_is_named() {
    let page = "<!DOCTYPE html><html><body><h1>This website is blocked</h1><p>Access to this site has been blocked by court order.</p></body></html>";
    let server = HttpServer::start(Arc::new(move |_| {
        Response::new(200, "text/html; charset=utf-8", page)
    }))
    .await;
    let url = reqwest::Url::parse(&format!(
        "http://{HOST}:{}/player_api.php",
        server.addr.port()
    ))
    .unwrap();

    let report = probe(
        &url,
        &[LOOPBACK],
        &transport_options(Duration::from_secs(2)),
    )
    .await;

    let http = find(&report.checks, "transport.http");
    assert_eq!(http.verdict, Verdict::Fault);
    assert!(http.title.contains("blocking page"), "{}", http.title);
}

#[tokio::test]
async fn a_redirect_elsewhere_is_shown_by_host_only() {
    let server = HttpServer::start(Arc::new(|_| {
        Response::new(302, "text/html", "")
            .header("Location", "http://blocked.isp.example/notice?u=secret")
    }))
    .await;
    let url = reqwest::Url::parse(&format!("http://{HOST}:{}/", server.addr.port())).unwrap();

    let report = probe(
        &url,
        &[LOOPBACK],
        &transport_options(Duration::from_secs(2)),
    )
    .await;

    let http = find(&report.checks, "transport.http");
    assert_eq!(http.verdict, Verdict::Warning);
    assert!(http.title.contains("blocked.isp.example"), "{}", http.title);
    assert!(!format!("{http:?}").contains("secret"));
}

#[tokio::test]
async fn a_good_server_is_reachable_at_the_pinned_address() {
    let server = HttpServer::start(Arc::new(|_| {
        Response::new(200, "application/json", r#"{"user_info":{"auth":0}}"#)
    }))
    .await;
    let url = reqwest::Url::parse(&format!(
        "http://{HOST}:{}/player_api.php",
        server.addr.port()
    ))
    .unwrap();
    let opts = TransportOptions {
        user_agent: "TestPlayer/1.0".to_string(),
        ..transport_options(Duration::from_secs(2))
    };

    let report = probe(&url, &[LOOPBACK], &opts).await;

    assert!(report.reachable, "{:#?}", report.checks);
    assert_eq!(report.reachable_addr, Some(LOOPBACK));
    assert!(
        report.checks.iter().all(|c| c.verdict == Verdict::Ok),
        "{:#?}",
        report.checks
    );
    let requests = server.requests.lock().unwrap().clone();
    let port = server.addr.port();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0].header("host"),
        Some(format!("{HOST}:{port}").as_str())
    );
    assert_eq!(requests[0].header("user-agent"), Some("TestPlayer/1.0"));
}

#[tokio::test]
async fn a_good_https_server_is_trusted_through_the_extra_ca() {
    let cert = TestCert::for_names(&[HOST]);
    let server = HttpServer::start_tls(
        &cert,
        Arc::new(|_| Response::new(200, "application/json", "{}")),
    )
    .await;
    let url = reqwest::Url::parse(&format!(
        "https://{HOST}:{}/player_api.php",
        server.addr.port()
    ))
    .unwrap();
    let opts = TransportOptions {
        extra_ca_pem: Some(cert.cert_pem.clone().into_bytes()),
        ..transport_options(Duration::from_secs(2))
    };

    let report = probe(&url, &[LOOPBACK], &opts).await;

    assert!(report.reachable, "{:#?}", report.checks);
    let ids: Vec<&str> = report.checks.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["transport.tcp", "transport.tls", "transport.http"]);
    assert!(
        report.checks.iter().all(|c| c.verdict == Verdict::Ok),
        "{:#?}",
        report.checks
    );
}

#[tokio::test]
async fn dns_then_transport_reach_the_real_server_past_the_block() {
    let server =
        HttpServer::start(Arc::new(|_| Response::new(200, "application/json", "{}"))).await;
    let isp = DnsServer::start(
        ISP_RESOLVER,
        Behaviour::Answer(vec!["0.0.0.0".parse().unwrap()]),
    )
    .await;
    let doh = Doh::start(Behaviour::Answer(vec![LOOPBACK])).await;

    let dns = resolve(HOST, &dns_options(&isp, &doh)).await;
    let url = reqwest::Url::parse(&format!(
        "http://{HOST}:{}/player_api.php",
        server.addr.port()
    ))
    .unwrap();
    let transport = probe(
        &url,
        &dns.usable,
        &transport_options(Duration::from_secs(2)),
    )
    .await;

    assert!(dns.looks_blocked);
    assert!(transport.reachable, "{:#?}", transport.checks);
}
