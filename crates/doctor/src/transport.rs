//! Transport: can this device actually talk to the server at each address
//! name resolution gave? Three steps per address, each with its own
//! timeout so nothing hangs: a TCP connect (refused, timed out, reset,
//! unreachable), the TLS handshake when the URL is https (untrusted or
//! self-signed certificate, a certificate for another name, an expired
//! one, a connection cut right after the client's greeting, which is how
//! deep-packet-inspection filters usually block), and an HTTP GET of the
//! given URL pinned to that address (status, content type, redirects, a
//! web page where the app expects data, a server that accepts and never
//! answers).
//!
//! Connection-level faults point to [`Cause::ServerUnreachable`]; the
//! account step reads what the server says, this step only whether it can
//! be heard at all.

use std::error::Error as StdError;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::join_all;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{CertificateError, RootCertStore};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::check::{Cause, Check, Step, Verdict};

/// How the transport probe behaves.
#[derive(Debug, Clone)]
pub struct TransportOptions {
    /// Limit for each network step (connect, handshake, whole HTTP exchange).
    pub timeout: Duration,
    /// Extra trusted certificates in PEM (`--ca-file`), on top of the
    /// well-known public authorities.
    pub extra_ca_pem: Option<Vec<u8>>,
    /// Sent with the HTTP request, as a player would.
    pub user_agent: String,
}

/// A widespread player's user agent; providers that filter by app accept it.
pub const DEFAULT_USER_AGENT: &str = "VLC/3.0.20 LibVLC/3.0.20";

impl Default for TransportOptions {
    fn default() -> Self {
        TransportOptions {
            timeout: Duration::from_secs(10),
            extra_ca_pem: None,
            user_agent: DEFAULT_USER_AGENT.to_string(),
        }
    }
}

/// What the transport step found.
#[derive(Debug, Clone)]
pub struct TransportReport {
    /// `transport.tcp`, `transport.tls` (https only) and `transport.http`
    /// for each address, in address order.
    pub checks: Vec<Check>,
    /// True when at least one address answered HTTP with something that is
    /// not itself a fault (any status below 500 that is not a block page or
    /// a web page where data was expected).
    pub reachable: bool,
    /// The first address that was reachable, for the later steps to pin to.
    pub reachable_addr: Option<IpAddr>,
    /// An http:// address whose port speaks HTTPS: the plain request was
    /// refused (nginx's 400 "The plain HTTP request was sent to HTTPS
    /// port", a reset, garbage) and a TLS handshake on the same port gets
    /// an answer. The runner retries with https://.
    pub wants_https: bool,
}

/// The most of a response body read to judge it.
const BODY_SAMPLE_LIMIT: usize = 64 * 1024;

/// Probes `url` at each of `addrs` (all at once), in the URL's port.
pub async fn probe(
    url: &reqwest::Url,
    addrs: &[IpAddr],
    opts: &TransportOptions,
) -> TransportReport {
    let scheme = url.scheme();
    if scheme != "http" && scheme != "https" {
        let check = Check::new(
            Step::Transport,
            "transport.tcp",
            format!("\"{scheme}://\" is not a web address"),
            Verdict::Fault,
        )
        .evidence(format!("URL: {}", redact_url(url)))
        .fix("The server address must start with http:// or https://.")
        .points_to(Cause::ServerUnreachable);
        return TransportReport {
            checks: vec![check],
            reachable: false,
            reachable_addr: None,
            wants_https: false,
        };
    }
    if addrs.is_empty() {
        let check = Check::new(
            Step::Transport,
            "transport.tcp",
            "No address to connect to",
            Verdict::Skipped,
        )
        .evidence("name resolution gave no usable address");
        return TransportReport {
            checks: vec![check],
            reachable: false,
            reachable_addr: None,
            wants_https: false,
        };
    }
    let port = url.port_or_known_default().unwrap_or(80);
    let outcomes = join_all(
        addrs
            .iter()
            .map(|ip| probe_one(url, SocketAddr::new(*ip, port), opts)),
    )
    .await;
    let mut checks = Vec::new();
    let mut reachable_addr = None;
    let mut wants_https = false;
    for (ip, outcome) in addrs.iter().zip(outcomes) {
        if outcome.reachable && reachable_addr.is_none() {
            reachable_addr = Some(*ip);
        }
        wants_https |= outcome.speaks_tls;
        checks.extend(outcome.checks);
    }
    TransportReport {
        checks,
        reachable: reachable_addr.is_some(),
        reachable_addr,
        wants_https: wants_https && reachable_addr.is_none(),
    }
}

struct AddrOutcome {
    checks: Vec<Check>,
    reachable: bool,
    /// A plain request failed and the port answers a TLS handshake.
    speaks_tls: bool,
}

async fn probe_one(url: &reqwest::Url, addr: SocketAddr, opts: &TransportOptions) -> AddrOutcome {
    let mut checks = Vec::new();
    let started = Instant::now();
    let tcp = tokio::time::timeout(opts.timeout, TcpStream::connect(addr)).await;
    let stream = match tcp {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => {
            checks.push(tcp_fault(addr, &e, started));
            return AddrOutcome {
                checks,
                reachable: false,
                speaks_tls: false,
            };
        }
        Err(_) => {
            checks.push(tcp_timeout(addr, opts.timeout, started));
            return AddrOutcome {
                checks,
                reachable: false,
                speaks_tls: false,
            };
        }
    };
    checks.push(
        Check::new(
            Step::Transport,
            "transport.tcp",
            format!("Connected to {addr}"),
            Verdict::Ok,
        )
        .evidence(format!("TCP connection to {addr} opened"))
        .millis(elapsed_ms(started)),
    );

    if url.scheme() == "https" {
        let tls = tls_handshake(stream, url, addr, opts).await;
        let ok = tls.verdict == Verdict::Ok;
        checks.push(tls);
        if !ok {
            return AddrOutcome {
                checks,
                reachable: false,
                speaks_tls: false,
            };
        }
    } else {
        drop(stream);
    }

    let (mut http, reachable) = http_get(url, addr, opts).await;
    let mut speaks_tls = false;
    // A plain request refused (or answered with garbage, or cut): does
    // the port speak TLS? A timeout is not asked about (a filter, not a
    // scheme).
    let failed = !reachable && !http.title.contains("never answers");
    if url.scheme() == "http" && failed && tls_answers(url, addr, opts).await {
        speaks_tls = true;
        http.title = format!("{addr} speaks HTTPS: the plain http:// request was refused");
        http = http
            .evidence(format!(
                "a TLS handshake on port {} gets an answer: the port expects https://",
                addr.port()
            ))
            .fix("Use https:// in the server address (same host and port).")
            .points_to(Cause::Credentials);
    }
    checks.push(http);
    AddrOutcome {
        checks,
        reachable,
        speaks_tls,
    }
}

/// True when a TLS handshake on `addr` gets a TLS answer (a trusted or
/// an untrusted certificate, or a TLS alert): the port speaks HTTPS.
async fn tls_answers(url: &reqwest::Url, addr: SocketAddr, opts: &TransportOptions) -> bool {
    let Ok(Ok(stream)) = tokio::time::timeout(opts.timeout, TcpStream::connect(addr)).await else {
        return false;
    };
    let Ok(roots) = root_store(opts.extra_ca_pem.as_deref()) else {
        return false;
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let Ok(builder) =
        rustls::ClientConfig::builder_with_provider(provider).with_safe_default_protocol_versions()
    else {
        return false;
    };
    let config = builder.with_root_certificates(roots).with_no_client_auth();
    let host = url_host(url);
    let name =
        ServerName::try_from(host).unwrap_or_else(|_| ServerName::IpAddress(addr.ip().into()));
    let connector = TlsConnector::from(Arc::new(config));
    match tokio::time::timeout(opts.timeout, connector.connect(name, stream)).await {
        Ok(Ok(_)) => true,
        Ok(Err(e)) => match e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            // Plain text where a TLS record was due: not TLS.
            Some(rustls::Error::InvalidMessage(_)) | None => false,
            Some(_) => true,
        },
        Err(_) => false,
    }
}

fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

fn tcp_timeout(addr: SocketAddr, timeout: Duration, started: Instant) -> Check {
    Check::new(
        Step::Transport,
        "transport.tcp",
        format!("No answer from {addr}: the connection timed out"),
        Verdict::Fault,
    )
    .evidence(format!(
        "TCP connect to {addr}: no answer within {}",
        secs(timeout)
    ))
    .fix(
        "Something between you and the server silently drops the connection: the server may be \
         down, or your internet provider or a firewall may block it. Try from another network \
         (for example mobile data) to tell which; if it fails everywhere, ask your provider.",
    )
    .points_to(Cause::ServerUnreachable)
    .millis(elapsed_ms(started))
}

fn tcp_fault(addr: SocketAddr, e: &io::Error, started: Instant) -> Check {
    let port = addr.port();
    let (title, fix) = match e.kind() {
        io::ErrorKind::ConnectionRefused => (
            format!("The server refuses connections on port {port} ({addr})"),
            format!(
                "Nothing answers at that address on port {port}: the port in the server address may \
                 be wrong, or the server is down or has moved. Check the port your provider gave \
                 you (often 80, 8080 or 25461); if it is right, ask your provider."
            ),
        ),
        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => (
            format!("The connection to {addr} was cut as it opened"),
            "Something cut the connection as soon as it opened: often a firewall or your internet \
             provider blocking the server. Try from another network (for example mobile data); if \
             it fails everywhere, ask your provider."
                .to_string(),
        ),
        io::ErrorKind::TimedOut => (
            format!("No answer from {addr}: the connection timed out"),
            "Something between you and the server silently drops the connection: the server may \
             be down, or your internet provider or a firewall may block it. Try from another \
             network (for example mobile data) to tell which."
                .to_string(),
        ),
        io::ErrorKind::HostUnreachable | io::ErrorKind::NetworkUnreachable => (
            format!("There is no route to {addr}"),
            "This device cannot reach that address at all: check that it is online. An IPv6 \
             address fails like this on a network without IPv6; if every address fails, the \
             server is unreachable from this network."
                .to_string(),
        ),
        _ => (
            format!("Could not connect to {addr}"),
            "The connection failed. Check that this device is online, then try another network; \
             if it fails everywhere, ask your provider."
                .to_string(),
        ),
    };
    Check::new(Step::Transport, "transport.tcp", title, Verdict::Fault)
        .evidence(format!("TCP connect to {addr}: {}", describe_error(e)))
        .fix(fix)
        .points_to(Cause::ServerUnreachable)
        .millis(elapsed_ms(started))
}

/// The trust store the probes use: the public authorities plus any extra
/// certificates from `--ca-file`. A file with no certificate is an error.
pub(crate) fn root_store(extra_ca_pem: Option<&[u8]>) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(pem) = extra_ca_pem {
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert =
                cert.map_err(|e| format!("the extra certificate file is not valid PEM: {e}"))?;
            roots.add(cert).map_err(|e| {
                format!("the extra certificate file holds an unusable certificate: {e}")
            })?;
            added += 1;
        }
        if added == 0 {
            return Err("the extra certificate file holds no certificate".to_string());
        }
    }
    Ok(roots)
}

/// The extra certificates as reqwest wants them.
pub(crate) fn reqwest_roots(
    extra_ca_pem: Option<&[u8]>,
) -> Result<Vec<reqwest::Certificate>, String> {
    match extra_ca_pem {
        None => Ok(Vec::new()),
        Some(pem) => reqwest::Certificate::from_pem_bundle(pem).map_err(|e| {
            format!(
                "the extra certificate file is not valid PEM: {}",
                describe_error(&e)
            )
        }),
    }
}

fn tls_check(title: String, verdict: Verdict, started: Instant) -> Check {
    Check::new(Step::Transport, "transport.tls", title, verdict).millis(elapsed_ms(started))
}

async fn tls_handshake(
    stream: TcpStream,
    url: &reqwest::Url,
    addr: SocketAddr,
    opts: &TransportOptions,
) -> Check {
    let started = Instant::now();
    let roots = match root_store(opts.extra_ca_pem.as_deref()) {
        Ok(roots) => roots,
        Err(e) => {
            return tls_check(
                "Could not set up a secure connection".to_string(),
                Verdict::Fault,
                started,
            )
            .evidence(e)
            .fix("Check the file given with --ca-file: it must hold PEM certificates.");
        }
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = match rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
    {
        Ok(builder) => builder.with_root_certificates(roots).with_no_client_auth(),
        Err(e) => {
            return tls_check(
                "Could not set up a secure connection".to_string(),
                Verdict::Fault,
                started,
            )
            .evidence(format!("TLS setup: {e}"));
        }
    };
    let host = url_host(url);
    let server_name = match ServerName::try_from(host.clone()) {
        Ok(name) => name,
        Err(_) => {
            return tls_check(
                format!("\"{host}\" is not a valid server name"),
                Verdict::Fault,
                started,
            )
            .fix("Check the server address for typos.")
            .points_to(Cause::ServerUnreachable);
        }
    };
    let connector = TlsConnector::from(Arc::new(config));
    match tokio::time::timeout(opts.timeout, connector.connect(server_name, stream)).await {
        Ok(Ok(tls)) => {
            let version = tls
                .get_ref()
                .1
                .protocol_version()
                .map(|v| format!("{v:?}"))
                .unwrap_or_else(|| "unknown version".to_string());
            tls_check(format!("Secure connection to {addr} is trusted"), Verdict::Ok, started)
                .evidence(format!("TLS handshake with {addr} for \"{host}\": {version}, certificate trusted"))
        }
        Ok(Err(e)) => tls_fault(addr, &host, &e, started),
        Err(_) => tls_check(
            format!("{addr} accepts the connection but never completes the secure handshake"),
            Verdict::Fault,
            started,
        )
        .evidence(format!("TLS handshake with {addr}: no answer within {}", secs(opts.timeout)))
        .fix(
            "The server or something on the way holds the connection without answering. Check that \
             the address really is https:// (not http://), then try another network; if it fails \
             everywhere, ask your provider.",
        )
        .points_to(Cause::ServerUnreachable),
    }
}

fn tls_fault(addr: SocketAddr, host: &str, e: &io::Error, started: Instant) -> Check {
    let evidence = format!(
        "TLS handshake with {addr} for \"{host}\": {}",
        describe_error(e)
    );
    let rustls_error = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    let (title, fix) = match rustls_error {
        Some(rustls::Error::InvalidCertificate(cert_error)) => {
            certificate_problem(host, cert_error)
        }
        Some(_) => (
            format!("{addr} does not speak https properly"),
            "The secure connection failed. If your provider gave you an http:// address, use \
             exactly that; otherwise tell them their https setup is broken."
                .to_string(),
        ),
        None => match e.kind() {
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionAborted => (
                format!("The connection to {addr} was cut right after the secure greeting"),
                "The connection was cut as soon as this device named the server it wanted, which \
                 is typical of a filter (your internet provider's or your network's) that blocks \
                 servers by name. Try from another network (for example mobile data) to confirm, \
                 and ask your provider for an alternate address."
                    .to_string(),
            ),
            _ => (
                format!("The secure connection to {addr} failed"),
                "Try again from another network; if it fails everywhere, ask your provider."
                    .to_string(),
            ),
        },
    };
    tls_check(title, Verdict::Fault, started)
        .evidence(evidence)
        .fix(fix)
        .points_to(Cause::ServerUnreachable)
}

fn certificate_problem(host: &str, e: &CertificateError) -> (String, String) {
    match e {
        CertificateError::UnknownIssuer | CertificateError::BadSignature => (
            "The server's certificate is not from a trusted authority (self-signed or unknown issuer)"
                .to_string(),
            "The secure connection cannot be trusted. If your provider gave you an http:// address, \
             use that; otherwise tell them their certificate is self-signed or untrusted. On a work \
             or school network, a filter may be intercepting the connection."
                .to_string(),
        ),
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => (
            format!("The server's certificate is for another name than \"{host}\""),
            "The certificate does not belong to this server name: either the address is not the one \
             your provider uses for https, or something on the way (a block page, a filter) answers \
             in its place. Check the address with your provider."
                .to_string(),
        ),
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => (
            "The server's certificate has expired".to_string(),
            "First check that this device's date and time are right. If they are, the provider let \
             their certificate expire: tell them, or use their http:// address if they have one."
                .to_string(),
        ),
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => (
            "The server's certificate is not valid yet".to_string(),
            "This device's date and time are probably wrong: set them to automatic and try again."
                .to_string(),
        ),
        other => (
            "The server's certificate was rejected".to_string(),
            format!("The certificate could not be accepted ({other:?}): tell your provider."),
        ),
    }
}

/// The URL's host without IPv6 brackets.
pub(crate) fn url_host(url: &reqwest::Url) -> String {
    let host = url.host_str().unwrap_or("");
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .to_string()
}

/// The URL as shown in evidence: the one redactor's (no user info, no
/// credentials in the query or an Xtream path).
pub(crate) fn redact_url(url: &reqwest::Url) -> String {
    tvgate_formats::redact_url(url.as_str())
}

async fn http_get(url: &reqwest::Url, addr: SocketAddr, opts: &TransportOptions) -> (Check, bool) {
    let started = Instant::now();
    let shown = redact_url(url);
    let check = |title: String, verdict: Verdict| {
        Check::new(Step::Transport, "transport.http", title, verdict).millis(elapsed_ms(started))
    };
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .timeout(opts.timeout)
        .connect_timeout(opts.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(opts.user_agent.clone());
    let host = url_host(url);
    if host.parse::<IpAddr>().is_err() {
        // Pins the name to this address; the port here is ignored, the
        // URL's own is used.
        builder = builder.resolve(&host, SocketAddr::new(addr.ip(), 0));
    }
    match reqwest_roots(opts.extra_ca_pem.as_deref()) {
        Ok(certs) => {
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        Err(e) => {
            return (
                check(
                    "Could not set up the web request".to_string(),
                    Verdict::Fault,
                )
                .evidence(e)
                .fix("Check the file given with --ca-file: it must hold PEM certificates."),
                false,
            );
        }
    }
    let client = match builder.build() {
        Ok(client) => client,
        Err(e) => {
            return (
                check(
                    "Could not set up the web request".to_string(),
                    Verdict::Fault,
                )
                .evidence(describe_error(&e)),
                false,
            );
        }
    };
    let exchange = async {
        let mut response = client.get(url.clone()).send().await?;
        let mut sample = Vec::new();
        while sample.len() < BODY_SAMPLE_LIMIT {
            match response.chunk().await? {
                Some(chunk) => sample.extend_from_slice(&chunk),
                None => break,
            }
        }
        Ok::<_, reqwest::Error>((response, sample))
    };
    let (response, sample) = match exchange.await {
        Ok(pair) => pair,
        Err(e) if e.is_timeout() => {
            return (
                check(
                    format!("{addr} accepts the connection but never answers"),
                    Verdict::Fault,
                )
                .evidence(format!(
                    "GET {shown} at {addr}: no complete answer within {}",
                    secs(opts.timeout)
                ))
                .fix(
                    "The server takes the connection and then says nothing: it is overloaded or \
                         broken, or a filter holds the connection open. Try again later and from \
                         another network; if it persists, tell your provider.",
                )
                .points_to(Cause::ServerUnreachable),
                false,
            );
        }
        Err(e) => {
            return (
                check(format!("The web request to {addr} failed"), Verdict::Fault)
                    .evidence(format!("GET {shown} at {addr}: {}", describe_error(&e)))
                    .fix("Try again from another network; if it fails everywhere, ask your provider.")
                    .points_to(Cause::ServerUnreachable),
                false,
            );
        }
    };
    judge_response(url, addr, &response, &sample, check)
}

fn judge_response(
    url: &reqwest::Url,
    addr: SocketAddr,
    response: &reqwest::Response,
    sample: &[u8],
    check: impl Fn(String, Verdict) -> Check,
) -> (Check, bool) {
    let status = response.status();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = Body::read(&content_type, sample);
    let mut facts = vec![format!(
        "GET {} at {addr}: HTTP {}, {}, {} bytes read",
        redact_url(url),
        status.as_u16(),
        if content_type.is_empty() {
            "no content type"
        } else {
            &content_type
        },
        sample.len()
    )];
    let with_facts =
        |c: Check, facts: &[String]| facts.iter().fold(c, |c, line| c.evidence(line.clone()));

    if status.is_redirection() {
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|loc| url.join(loc).ok());
        let target = location
            .as_ref()
            .map(|to| format!("{}://{}", to.scheme(), to.host_str().unwrap_or("?")))
            .unwrap_or_else(|| "nowhere (no Location header)".to_string());
        facts.push(format!("redirects to {target}"));
        let same_host = location.as_ref().and_then(|to| to.host_str()) == url.host_str();
        let (title, fix) = if same_host {
            (
                format!("The server redirects to {target}"),
                format!("Some apps don't follow redirects: use {target} as the server address."),
            )
        } else {
            (
                format!("The server sends you to another place: {target}"),
                "If that is a page from your internet provider or about blocking, this server is \
                 blocked on your network. If it is your provider's new address, use it in the app."
                    .to_string(),
            )
        };
        return (
            with_facts(check(title, Verdict::Warning), &facts).fix(fix),
            true,
        );
    }

    if body.plain_to_https {
        return (
            with_facts(
                check(
                    format!(
                        "The server says the port expects https:// (HTTP {})",
                        status.as_u16()
                    ),
                    Verdict::Fault,
                ),
                &facts,
            )
            .evidence("the answer reads \"The plain HTTP request was sent to HTTPS port\" (nginx)")
            .fix("Use https:// in the server address (same host and port).")
            .points_to(Cause::Credentials),
            false,
        );
    }

    if body.is_html && body.block_page {
        return (
            with_facts(
                check("A blocking page came back instead of the server's answer".to_string(), Verdict::Fault),
                &facts,
            )
            .evidence("the page reads like a block notice (\"blocked\", \"court order\", \"access denied\"…)")
            .fix(
                "Your internet provider or a filter on your network blocks this server. Try from \
                 another network (for example mobile data) to confirm, and ask your IPTV provider \
                 for an alternate address.",
            )
            .points_to(Cause::ServerUnreachable),
            false,
        );
    }

    if status.is_server_error() {
        return (
            with_facts(
                check(
                    format!(
                        "The server has an internal error (HTTP {})",
                        status.as_u16()
                    ),
                    Verdict::Fault,
                ),
                &facts,
            )
            .fix("The trouble is at the provider's end: wait a while and try again, or tell them.")
            .points_to(Cause::ServerUnreachable),
            false,
        );
    }

    if expects_json(url) && !body.is_json {
        if body.is_html {
            let (title, hint) = if body.fake_nginx_404 {
                (
                    "The server answers with a bare \"404 Not Found\" page where the app expects data",
                    "the page is the plain nginx \"404 Not Found\" that XUI-style panels show instead \
                     of their API: the address or path is wrong, or the panel refuses this app, \
                     this network or this account",
                )
            } else {
                (
                    "A web page came back where the app expects data",
                    "an HTML page came back instead of the JSON an IPTV app reads: a wrong address, \
                     a login or parking page, or a page put in the way by a filter",
                )
            };
            return (
                with_facts(check(title.to_string(), Verdict::Fault), &facts)
                    .evidence(hint)
                    .fix(
                        "Check the server address with your provider (exact host, port and http or \
                         https). If it is right, open it in a browser on this network: a page about \
                         blocking means your network blocks it; otherwise tell your provider what \
                         this report shows.",
                    )
                    .points_to(Cause::ServerUnreachable),
                false,
            );
        }
        return (
            with_facts(
                check(
                    format!(
                        "The server's answer is not the data an app expects (HTTP {})",
                        status.as_u16()
                    ),
                    Verdict::Warning,
                ),
                &facts,
            )
            .fix(
                "Check the server address with your provider: exact host, port, and http or https.",
            ),
            true,
        );
    }

    if status.is_success() || body.is_json {
        let title = format!("The server answers (HTTP {})", status.as_u16());
        return (with_facts(check(title, Verdict::Ok), &facts), true);
    }
    // A 4xx on a page that is not the app's API: the server is there and
    // answering, which is all this step asks.
    facts
        .push("the server answered; what it says about the account is the next step's".to_string());
    let title = format!("The server answers (HTTP {})", status.as_u16());
    (with_facts(check(title, Verdict::Ok), &facts), true)
}

/// Paths whose answer is JSON on every Xtream-style panel.
fn expects_json(url: &reqwest::Url) -> bool {
    let path = url.path().to_ascii_lowercase();
    path.ends_with("player_api.php") || path.ends_with("panel_api.php") || path.ends_with(".json")
}

/// What a response body looks like, from its first bytes.
struct Body {
    is_html: bool,
    is_json: bool,
    block_page: bool,
    fake_nginx_404: bool,
    /// nginx's 400 for a plain request on its TLS port.
    plain_to_https: bool,
}

/// Words that block notices use; looked for in HTML bodies only.
const BLOCK_PAGE_MARKERS: &[&str] = &[
    "has been blocked",
    "access to this site",
    "access denied by",
    "blocked by order",
    "court order",
    "blocked in accordance",
    "restricted by",
    "this website is blocked",
    "this site is blocked",
];

impl Body {
    fn read(content_type: &str, sample: &[u8]) -> Body {
        let text = String::from_utf8_lossy(&sample[..sample.len().min(16 * 1024)]).to_lowercase();
        let trimmed = text.trim_start();
        let content_type = content_type.to_ascii_lowercase();
        let is_html = content_type.contains("html")
            || trimmed.starts_with("<!doctype html")
            || trimmed.starts_with("<html")
            || text.contains("<html");
        let is_json =
            content_type.contains("json") || trimmed.starts_with('{') || trimmed.starts_with('[');
        Body {
            is_html,
            is_json: is_json && !is_html,
            block_page: is_html && BLOCK_PAGE_MARKERS.iter().any(|m| text.contains(m)),
            fake_nginx_404: is_html && text.contains("404 not found") && text.contains("nginx"),
            plain_to_https: text.contains("plain http request was sent to https port"),
        }
    }
}

/// An error and its causes on one line, e.g. "error sending request: client
/// error (Connect): tcp connect error: Connection refused".
pub(crate) fn describe_error(e: &(dyn StdError + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let line = cause.to_string();
        if !text.contains(&line) {
            text.push_str(": ");
            text.push_str(&line);
        }
        source = cause.source();
    }
    text
}

pub(crate) fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_told_apart() {
        let nginx = b"<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>";
        let body = Body::read("text/html", nginx);
        assert!(body.is_html && body.fake_nginx_404 && !body.block_page && !body.is_json);
        let block = Body::read(
            "",
            b"<!DOCTYPE html><p>This site has been blocked by court order</p>",
        );
        assert!(block.is_html && block.block_page);
        let nginx_tls = Body::read(
            "text/html",
            b"<html><head><title>400 The plain HTTP request was sent to HTTPS port</title></head></html>",
        );
        assert!(nginx_tls.plain_to_https && !body.plain_to_https);
        let json = Body::read("text/plain", b"  {\"user_info\":{\"auth\":0}}");
        assert!(json.is_json && !json.is_html);
    }

    #[test]
    fn json_is_expected_from_the_api_paths() {
        let api =
            reqwest::Url::parse("http://example.test:8080/player_api.php?username=u").unwrap();
        assert!(expects_json(&api));
        let base = reqwest::Url::parse("http://example.test:8080/").unwrap();
        assert!(!expects_json(&base));
    }

    #[test]
    fn shown_urls_carry_no_secrets() {
        let url = reqwest::Url::parse("http://u:p@example.test/get.php?username=u&password=secret")
            .unwrap();
        let shown = redact_url(&url);
        assert!(
            !shown.contains("secret") && !shown.contains("u:p"),
            "{shown}"
        );
    }

    #[test]
    fn an_extra_ca_file_without_certificates_is_an_error() {
        assert!(root_store(Some(b"not a certificate")).is_err());
        assert!(root_store(None).is_ok());
    }
}
