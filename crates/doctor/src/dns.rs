//! Name resolution, side by side. Internet providers block IPTV servers
//! most often through their DNS: the resolver a device gets by default
//! answers "no such name", never answers, or points the name at a dead end
//! (0.0.0.0, loopback, a private address, a block page), while every other
//! resolver gives the real address. So the host is resolved through the
//! system's resolver, each `--resolver` (plain DNS over UDP, TCP when the
//! answer is truncated) and each DNS-over-HTTPS endpoint (RFC 8484) at
//! once, and the answers are compared.
//!
//! When it looks like blocking, the doctor says so plainly and reports it;
//! it never quietly switches to another resolver. The addresses it hands to
//! the transport step are the real ones, so the rest of the diagnosis
//! still runs.
//!
//! `system_resolver` is the documented override of the system's resolver
//! (`--system-resolver`): a plain DNS query to that address stands in for
//! the operating system's lookup, e.g. to ask the router directly, or a
//! test's own DNS server.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::future::join_all;
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use crate::check::{Cause, Check, Step, Verdict};
use crate::transport::{describe_error, reqwest_roots, secs};

/// Where and how to resolve.
#[derive(Debug, Clone)]
pub struct DnsOptions {
    /// Ask this DNS server (plain UDP) in place of the operating system's
    /// lookup (`--system-resolver`). `None`: the operating system's.
    pub system_resolver: Option<SocketAddr>,
    /// Other plain DNS servers to compare with (`--resolver`).
    pub resolvers: Vec<SocketAddr>,
    /// DNS-over-HTTPS endpoints to compare with (`--doh`).
    pub doh: Vec<String>,
    /// Extra trusted certificates in PEM (`--ca-file`) for the DoH endpoints.
    pub extra_ca_pem: Option<Vec<u8>>,
    /// Limit for each resolver's answer.
    pub timeout: Duration,
}

impl DnsOptions {
    /// Well-known public DNS-over-HTTPS endpoints: Cloudflare, Google, Quad9.
    pub fn default_doh() -> Vec<String> {
        vec![
            "https://cloudflare-dns.com/dns-query".to_string(),
            "https://dns.google/dns-query".to_string(),
            "https://dns.quad9.net/dns-query".to_string(),
        ]
    }
}

impl Default for DnsOptions {
    fn default() -> Self {
        DnsOptions {
            system_resolver: None,
            resolvers: Vec::new(),
            doh: DnsOptions::default_doh(),
            extra_ca_pem: None,
            timeout: Duration::from_secs(5),
        }
    }
}

/// One resolver's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolverAnswer {
    /// `"system"`, `"resolver 1.1.1.1:53"` or `"DoH https://…"`.
    pub via: String,
    /// The addresses (IPv4 first), or why there are none: a string that
    /// starts with `timeout`, `NXDOMAIN`, `no address`, `SERVFAIL`,
    /// `REFUSED` or `error`.
    pub outcome: Result<Vec<IpAddr>, String>,
    /// How long the answer took.
    pub millis: u64,
}

/// What name resolution found.
#[derive(Debug, Clone)]
pub struct DnsReport {
    /// `dns.literal` for an IP address; otherwise `dns.system` first (it
    /// carries the verdict on blocking), then one `dns.resolver` or
    /// `dns.doh` per resolver asked.
    pub checks: Vec<Check>,
    /// Every resolver's answer, the system's first.
    pub answers: Vec<ResolverAnswer>,
    /// Addresses for the transport step: the system's unless it looks
    /// blocked, then the others'; never 0.0.0.0 or `::`.
    pub usable: Vec<IpAddr>,
    /// The system's resolver hides the name that others resolve.
    pub looks_blocked: bool,
}

/// Why a resolver gave no address.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Failure {
    Timeout(Duration),
    NxDomain,
    NoAddress,
    ServFail,
    Refused,
    Other(String),
}

impl Failure {
    /// The stable text of [`ResolverAnswer::outcome`].
    fn code(&self) -> String {
        match self {
            Failure::Timeout(t) => format!("timeout after {}", secs(*t)),
            Failure::NxDomain => "NXDOMAIN".to_string(),
            Failure::NoAddress => "no address".to_string(),
            Failure::ServFail => "SERVFAIL".to_string(),
            Failure::Refused => "REFUSED".to_string(),
            Failure::Other(e) => format!("error: {e}"),
        }
    }

    /// The same for a person.
    fn plain(&self) -> String {
        match self {
            Failure::Timeout(t) => format!("no answer within {}", secs(*t)),
            Failure::NxDomain => "says the name does not exist (NXDOMAIN)".to_string(),
            Failure::NoAddress => "knows the name but gives no address".to_string(),
            Failure::ServFail => "failed to look it up (SERVFAIL)".to_string(),
            Failure::Refused => "refused to answer (REFUSED)".to_string(),
            Failure::Other(e) => format!("failed: {e}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    System,
    Resolver,
    Doh,
}

#[derive(Debug, Clone)]
struct Lookup {
    kind: Kind,
    via: String,
    /// Longer description for evidence.
    label: String,
    result: Result<Vec<IpAddr>, Failure>,
    millis: u64,
}

/// Resolves `host` through every resolver at once and compares.
pub async fn resolve(host: &str, opts: &DnsOptions) -> DnsReport {
    let host = host.trim().trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = host.parse::<IpAddr>() {
        let check = Check::new(
            Step::NameResolution,
            "dns.literal",
            format!("The server is given by its address ({ip}): no name to look up"),
            Verdict::Ok,
        )
        .evidence(format!("{ip} is an IP address, so DNS is not involved"));
        return DnsReport {
            checks: vec![check],
            answers: Vec::new(),
            usable: vec![ip],
            looks_blocked: false,
        };
    }
    let name = match Name::from_utf8(host) {
        Ok(name) if !host.is_empty() => name,
        _ => {
            let check = Check::new(
                Step::NameResolution,
                "dns.system",
                format!("\"{host}\" is not a valid server name"),
                Verdict::Fault,
            )
            .evidence(format!("the server name \"{host}\" cannot be looked up"))
            .fix("Check the server address for typos: it should look like example.com or an address like 1.2.3.4.")
            .points_to(Cause::ServerUnreachable);
            return DnsReport {
                checks: vec![check],
                answers: Vec::new(),
                usable: Vec::new(),
                looks_blocked: false,
            };
        }
    };

    let system = async {
        let started = Instant::now();
        let (label, result) = match opts.system_resolver {
            None => (
                "your device's DNS".to_string(),
                system_lookup(host, opts.timeout).await,
            ),
            Some(server) => (
                format!("your device's DNS (asked directly at {server})"),
                udp_lookup(server, &name, opts.timeout).await,
            ),
        };
        Lookup {
            kind: Kind::System,
            via: "system".to_string(),
            label,
            result,
            millis: ms(started),
        }
    };
    let resolvers = join_all(opts.resolvers.iter().map(|server| {
        let name = &name;
        async move {
            let started = Instant::now();
            let result = udp_lookup(*server, name, opts.timeout).await;
            Lookup {
                kind: Kind::Resolver,
                via: format!("resolver {server}"),
                label: format!("DNS server {server}"),
                result,
                millis: ms(started),
            }
        }
    }));
    let doh_client = doh_client(opts);
    let dohs = join_all(opts.doh.iter().map(|endpoint| {
        let name = &name;
        let client = &doh_client;
        async move {
            let started = Instant::now();
            let result = match client {
                Ok(client) => doh_lookup(client, endpoint, name, opts.timeout).await,
                Err(e) => Err(Failure::Other(e.clone())),
            };
            Lookup {
                kind: Kind::Doh,
                via: format!("DoH {endpoint}"),
                label: format!("DNS-over-HTTPS {endpoint}"),
                result,
                millis: ms(started),
            }
        }
    }));
    let (system, resolvers, dohs) = tokio::join!(system, resolvers, dohs);

    let mut lookups = vec![system];
    lookups.extend(resolvers);
    lookups.extend(dohs);
    judge(host, &lookups)
}

fn ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// The operating system's lookup (getaddrinfo), bounded by `timeout`.
async fn system_lookup(host: &str, timeout: Duration) -> Result<Vec<IpAddr>, Failure> {
    match tokio::time::timeout(timeout, tokio::net::lookup_host((host, 0))).await {
        Err(_) => Err(Failure::Timeout(timeout)),
        Ok(Ok(addrs)) => {
            let mut ips: Vec<IpAddr> = Vec::new();
            for addr in addrs {
                if !ips.contains(&addr.ip()) {
                    ips.push(addr.ip());
                }
            }
            ips.sort_by_key(|ip| ip.is_ipv6());
            if ips.is_empty() {
                Err(Failure::NoAddress)
            } else {
                Ok(ips)
            }
        }
        Ok(Err(e)) => {
            let text = e.to_string();
            let lower = text.to_lowercase();
            // getaddrinfo's words for "no such name" (EAI_NONAME, EAI_NODATA).
            if lower.contains("not known")
                || lower.contains("no address associated")
                || lower.contains("nodename nor servname")
            {
                Err(Failure::NxDomain)
            } else {
                Err(Failure::Other(text))
            }
        }
    }
}

/// A query message for `name` and `record_type`.
fn query_message(name: &Name, record_type: RecordType, id: u16) -> Message {
    let mut message = Message::new();
    message
        .set_id(id)
        .set_message_type(MessageType::Query)
        .set_op_code(OpCode::Query)
        .set_recursion_desired(true)
        .add_query(Query::query(name.clone(), record_type));
    message
}

/// A fresh query id; good enough to tell our answers apart (this is a
/// diagnostic, not a resolver exposed to spoofing at scale).
fn next_id() -> u16 {
    static COUNTER: AtomicU16 = AtomicU16::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    (nanos as u16) ^ COUNTER.fetch_add(0x9e37, Ordering::Relaxed)
}

/// The addresses in an answer, or why there are none.
fn addresses_in(message: &Message) -> Result<Vec<IpAddr>, Failure> {
    match message.response_code() {
        ResponseCode::NoError => {}
        ResponseCode::NXDomain => return Err(Failure::NxDomain),
        ResponseCode::ServFail => return Err(Failure::ServFail),
        ResponseCode::Refused => return Err(Failure::Refused),
        other => return Err(Failure::Other(format!("the DNS server answered {other}"))),
    }
    let ips: Vec<IpAddr> = message
        .answers()
        .iter()
        .filter_map(|record| match record.data() {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            RData::AAAA(aaaa) => Some(IpAddr::V6(aaaa.0)),
            _ => None,
        })
        .collect();
    if ips.is_empty() {
        Err(Failure::NoAddress)
    } else {
        Ok(ips)
    }
}

/// The A and AAAA answers together: addresses if either has some (IPv4
/// first); otherwise the more telling failure.
fn combine(
    a: Result<Vec<IpAddr>, Failure>,
    aaaa: Result<Vec<IpAddr>, Failure>,
) -> Result<Vec<IpAddr>, Failure> {
    match (a, aaaa) {
        (Ok(mut v4), Ok(v6)) => {
            v4.extend(
                v6.into_iter()
                    .filter(|ip| !v4.contains(ip))
                    .collect::<Vec<_>>(),
            );
            Ok(v4)
        }
        (Ok(v4), Err(_)) => Ok(v4),
        (Err(_), Ok(v6)) => Ok(v6),
        (Err(Failure::NxDomain), _) | (_, Err(Failure::NxDomain)) => Err(Failure::NxDomain),
        (Err(Failure::NoAddress), Err(other)) => Err(other),
        (Err(first), Err(_)) => Err(first),
    }
}

/// A and AAAA through a plain DNS server, UDP first, TCP when the UDP
/// answer is truncated.
async fn udp_lookup(
    server: SocketAddr,
    name: &Name,
    timeout: Duration,
) -> Result<Vec<IpAddr>, Failure> {
    let (a, aaaa) = tokio::join!(
        exchange(server, name, RecordType::A, timeout),
        exchange(server, name, RecordType::AAAA, timeout)
    );
    combine(a, aaaa)
}

async fn exchange(
    server: SocketAddr,
    name: &Name,
    record_type: RecordType,
    timeout: Duration,
) -> Result<Vec<IpAddr>, Failure> {
    let id = next_id();
    let bytes = query_message(name, record_type, id)
        .to_vec()
        .map_err(|e| Failure::Other(format!("could not build the query: {e}")))?;
    let answer = match tokio::time::timeout(timeout, udp_exchange(server, &bytes, id)).await {
        Err(_) => return Err(Failure::Timeout(timeout)),
        Ok(result) => result?,
    };
    if answer.truncated() {
        let answer = match tokio::time::timeout(timeout, tcp_exchange(server, &bytes, id)).await {
            Err(_) => return Err(Failure::Timeout(timeout)),
            Ok(result) => result?,
        };
        return addresses_in(&answer);
    }
    addresses_in(&answer)
}

async fn udp_exchange(server: SocketAddr, query: &[u8], id: u16) -> Result<Message, Failure> {
    let local: SocketAddr = match server {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let io = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::ConnectionRefused => {
            Failure::Other(format!("nothing answers DNS at {server}"))
        }
        _ => Failure::Other(describe_error(&e)),
    };
    let socket = UdpSocket::bind(local).await.map_err(io)?;
    socket.connect(server).await.map_err(io)?;
    socket.send(query).await.map_err(io)?;
    let mut buf = vec![0u8; 4096];
    loop {
        let n = socket.recv(&mut buf).await.map_err(io)?;
        // Stray or malformed datagrams are skipped: the timeout bounds this.
        if let Ok(message) = Message::from_vec(&buf[..n]) {
            if message.id() == id && message.message_type() == MessageType::Response {
                return Ok(message);
            }
        }
    }
}

async fn tcp_exchange(server: SocketAddr, query: &[u8], id: u16) -> Result<Message, Failure> {
    let io = |e: std::io::Error| Failure::Other(format!("over TCP: {}", describe_error(&e)));
    let mut stream = TcpStream::connect(server).await.map_err(io)?;
    let len =
        u16::try_from(query.len()).map_err(|_| Failure::Other("query too long".to_string()))?;
    let mut framed = len.to_be_bytes().to_vec();
    framed.extend_from_slice(query);
    stream.write_all(&framed).await.map_err(io)?;
    let answer_len = stream.read_u16().await.map_err(io)?;
    let mut buf = vec![0u8; usize::from(answer_len)];
    stream.read_exact(&mut buf).await.map_err(io)?;
    let message =
        Message::from_vec(&buf).map_err(|e| Failure::Other(format!("unreadable answer: {e}")))?;
    if message.id() != id {
        return Err(Failure::Other(
            "the answer does not match the question".to_string(),
        ));
    }
    Ok(message)
}

fn doh_client(opts: &DnsOptions) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .timeout(opts.timeout)
        .connect_timeout(opts.timeout);
    for cert in reqwest_roots(opts.extra_ca_pem.as_deref())? {
        builder = builder.add_root_certificate(cert);
    }
    builder.build().map_err(|e| describe_error(&e))
}

/// A and AAAA through a DNS-over-HTTPS endpoint (RFC 8484, POST).
async fn doh_lookup(
    client: &reqwest::Client,
    endpoint: &str,
    name: &Name,
    timeout: Duration,
) -> Result<Vec<IpAddr>, Failure> {
    let both = async {
        let (a, aaaa) = tokio::join!(
            doh_exchange(client, endpoint, name, RecordType::A, timeout),
            doh_exchange(client, endpoint, name, RecordType::AAAA, timeout)
        );
        combine(a, aaaa)
    };
    tokio::time::timeout(timeout, both)
        .await
        .unwrap_or(Err(Failure::Timeout(timeout)))
}

async fn doh_exchange(
    client: &reqwest::Client,
    endpoint: &str,
    name: &Name,
    record_type: RecordType,
    timeout: Duration,
) -> Result<Vec<IpAddr>, Failure> {
    // RFC 8484 §4.1: id 0 keeps answers cacheable.
    let body = query_message(name, record_type, 0)
        .to_vec()
        .map_err(|e| Failure::Other(format!("could not build the query: {e}")))?;
    let web = |e: reqwest::Error| {
        if e.is_timeout() {
            Failure::Timeout(timeout)
        } else {
            Failure::Other(describe_error(&e))
        }
    };
    let response = client
        .post(endpoint)
        .header(reqwest::header::CONTENT_TYPE, "application/dns-message")
        .header(reqwest::header::ACCEPT, "application/dns-message")
        .body(body)
        .send()
        .await
        .map_err(web)?;
    let status = response.status();
    if !status.is_success() {
        return Err(Failure::Other(format!(
            "the DNS-over-HTTPS server answered HTTP {}",
            status.as_u16()
        )));
    }
    let bytes = response.bytes().await.map_err(web)?;
    let message =
        Message::from_vec(&bytes).map_err(|e| Failure::Other(format!("unreadable answer: {e}")))?;
    addresses_in(&message)
}

/// Addresses a blocking resolver hands out instead of the real one: they
/// lead nowhere on the internet, or to a block notice. Only telling when
/// the system's answer differs from the others (a test's real answers are
/// loopback too).
pub fn is_sink(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_sink_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_sink_v4(v4),
            None => {
                let first = v6.segments()[0];
                v6.is_unspecified()
                    || v6.is_loopback()
                    || (first & 0xffc0) == 0xfe80 // link-local fe80::/10
                    || (first & 0xfe00) == 0xfc00 // unique local fc00::/7
            }
        },
    }
}

fn is_sink_v4(v4: Ipv4Addr) -> bool {
    let [a, b, ..] = v4.octets();
    a == 0 // 0.0.0.0/8, "this network"
        || v4.is_loopback() // 127.0.0.0/8
        || v4.is_private() // 10/8, 172.16/12, 192.168/16
        || v4.is_link_local() // 169.254/16
        || (a == 100 && (b & 0xc0) == 64) // 100.64/10, carrier-grade NAT
        || is_known_block_page(v4)
}

/// Public addresses known to serve block notices. Kept small and
/// conservative: an entry here turns an answer into "blocked" only when the
/// system's answer differs from every other resolver's.
///
/// - 146.112.61.104–146.112.61.110: Cisco OpenDNS / Umbrella block pages
///   (`hit-block.opendns.com` and its siblings).
pub const KNOWN_BLOCK_PAGES: &[(Ipv4Addr, Ipv4Addr)] = &[(
    Ipv4Addr::new(146, 112, 61, 104),
    Ipv4Addr::new(146, 112, 61, 110),
)];

fn is_known_block_page(v4: Ipv4Addr) -> bool {
    KNOWN_BLOCK_PAGES
        .iter()
        .any(|(first, last)| (*first..=*last).contains(&v4))
}

/// Addresses that cannot be the real server even with nothing to compare:
/// "nowhere" and block pages.
fn is_dead_end(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.octets()[0] == 0 || is_known_block_page(v4),
        IpAddr::V6(v6) => v6.is_unspecified(),
    }
}

const BLOCKING_FIX: &str = "This looks like your internet provider blocking this server through its DNS (the \
     service that turns server names into addresses), which is how providers usually block sites. Your \
     subscription and password are not the problem. You can: set this device's or your router's DNS to a \
     public service such as 1.1.1.1 (Cloudflare) or 8.8.8.8 (Google); or ask your IPTV provider for an \
     alternate server address. This report shows the evidence if you want to raise it with your internet \
     provider; make sure using the service is lawful where you live.";

fn list(ips: &[IpAddr]) -> String {
    ips.iter()
        .map(|ip| ip.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn describe(lookup: &Lookup) -> String {
    match &lookup.result {
        Ok(ips) => format!("{}: {} (in {} ms)", lookup.label, list(ips), lookup.millis),
        Err(f) => format!(
            "{}: {} (after {} ms)",
            lookup.label,
            f.plain(),
            lookup.millis
        ),
    }
}

/// Compares the answers and writes the checks. `lookups[0]` is the system's.
fn judge(host: &str, lookups: &[Lookup]) -> DnsReport {
    let answers: Vec<ResolverAnswer> = lookups
        .iter()
        .map(|l| ResolverAnswer {
            via: l.via.clone(),
            outcome: l.result.clone().map_err(|f| f.code()),
            millis: l.millis,
        })
        .collect();
    let Some((system, others)) = lookups.split_first() else {
        return DnsReport {
            checks: Vec::new(),
            answers,
            usable: Vec::new(),
            looks_blocked: false,
        };
    };

    let mut others_ips: Vec<IpAddr> = Vec::new();
    for ip in others
        .iter()
        .filter_map(|l| l.result.as_ref().ok())
        .flatten()
    {
        if !others_ips.contains(ip) {
            others_ips.push(*ip);
        }
    }
    let others_set: HashSet<IpAddr> = others_ips.iter().copied().collect();
    let all_evidence = |check: Check| lookups.iter().fold(check, |c, l| c.evidence(describe(l)));

    let mut looks_blocked = false;
    let system_check = match &system.result {
        Ok(ips) => {
            let disjoint = !others_set.is_empty() && ips.iter().all(|ip| !others_set.contains(ip));
            let sinks: Vec<IpAddr> = ips.iter().copied().filter(|ip| is_sink(*ip)).collect();
            let dead_ends: Vec<IpAddr> =
                ips.iter().copied().filter(|ip| is_dead_end(*ip)).collect();
            if disjoint && !sinks.is_empty() {
                looks_blocked = true;
                all_evidence(Check::new(
                    Step::NameResolution,
                    "dns.system",
                    format!(
                        "Your internet provider's DNS sends {host} to a dead end ({}) while other DNS services give its real address",
                        list(&sinks)
                    ),
                    Verdict::Fault,
                ))
                .evidence(format!("{} is not a public internet address", list(&sinks)))
                .fix(BLOCKING_FIX)
                .points_to(Cause::DnsBlocking)
            } else if others_set.is_empty() && !dead_ends.is_empty() {
                all_evidence(Check::new(
                    Step::NameResolution,
                    "dns.system",
                    format!(
                        "Your device's DNS sends {host} to a dead end ({})",
                        list(&dead_ends)
                    ),
                    Verdict::Warning,
                ))
                .evidence("no other DNS service answered, so this cannot be compared")
                .fix(BLOCKING_FIX)
                .points_to(Cause::DnsBlocking)
            } else if disjoint {
                all_evidence(Check::new(
                    Step::NameResolution,
                    "dns.system",
                    format!("Your device's DNS finds {host} ({})", list(ips)),
                    Verdict::Ok,
                ))
                .evidence("other DNS services give other addresses, which is normal for servers spread over several places")
            } else {
                all_evidence(Check::new(
                    Step::NameResolution,
                    "dns.system",
                    format!("Your device's DNS finds {host} ({})", list(ips)),
                    Verdict::Ok,
                ))
            }
        }
        Err(failure) if !others_ips.is_empty() => {
            looks_blocked = true;
            let title = match failure {
                Failure::Timeout(_) => {
                    format!("Your internet provider's DNS does not answer for {host}, while other DNS services find it")
                }
                _ => format!(
                    "Your internet provider's DNS hides {host}, while other DNS services find it"
                ),
            };
            all_evidence(Check::new(
                Step::NameResolution,
                "dns.system",
                title,
                Verdict::Fault,
            ))
            .fix(BLOCKING_FIX)
            .points_to(Cause::DnsBlocking)
        }
        Err(_) => {
            let every_failure: Vec<&Failure> = lookups
                .iter()
                .filter_map(|l| l.result.as_ref().err())
                .collect();
            let all_timeouts = every_failure
                .iter()
                .all(|f| matches!(f, Failure::Timeout(_)));
            let (title, fix) = if all_timeouts {
                (
                    format!("No DNS service answered for {host}"),
                    "This device could not reach any DNS service: check that it is online (open any \
                     website). If it is, a firewall on this network may block DNS.",
                )
            } else {
                (
                    format!("The server name {host} cannot be found anywhere"),
                    "No DNS service knows this server name, so it is probably mistyped, or the \
                     provider changed or dropped it. Check the server address letter by letter and \
                     ask your provider for the current one.",
                )
            };
            all_evidence(Check::new(
                Step::NameResolution,
                "dns.system",
                title,
                Verdict::Fault,
            ))
            .fix(fix)
            .points_to(Cause::ServerUnreachable)
        }
    };
    let system_check = system_check.millis(system.millis);

    let mut checks = vec![system_check];
    for other in others {
        let id = match other.kind {
            Kind::Doh => "dns.doh",
            _ => "dns.resolver",
        };
        let check = match &other.result {
            Ok(ips) => Check::new(
                Step::NameResolution,
                id,
                format!("{} finds {host} ({})", other.label, list(ips)),
                Verdict::Ok,
            ),
            Err(failure @ Failure::Timeout(_)) => Check::new(
                Step::NameResolution,
                id,
                format!("{} did not answer in time", other.label),
                Verdict::Warning,
            )
            .evidence(format!("{}: {}", other.label, failure.code()))
            .fix(
                "That DNS service did not answer: it may be unreachable from this network. It only \
                 matters if you plan to use it.",
            ),
            Err(failure) => Check::new(
                Step::NameResolution,
                id,
                format!("{} {}", other.label, failure.plain()),
                Verdict::Warning,
            ),
        };
        checks.push(check.evidence(describe(other)).millis(other.millis));
    }

    let mut usable: Vec<IpAddr> = Vec::new();
    let system_ips = if looks_blocked {
        &[][..]
    } else {
        system.result.as_deref().unwrap_or(&[])
    };
    for ip in system_ips.iter().chain(others_ips.iter()) {
        if !ip.is_unspecified() && !usable.contains(ip) {
            usable.push(*ip);
        }
    }
    DnsReport {
        checks,
        answers,
        usable,
        looks_blocked,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(kind: Kind, result: Result<Vec<IpAddr>, Failure>) -> Lookup {
        Lookup {
            kind,
            via: format!("{kind:?}"),
            label: format!("{kind:?}"),
            result,
            millis: 1,
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn sinks_are_the_unroutable_and_block_page_addresses() {
        for s in [
            "0.0.0.0",
            "127.0.0.1",
            "10.1.2.3",
            "172.20.0.1",
            "192.168.1.1",
            "100.64.0.1",
            "169.254.1.1",
            "::",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "146.112.61.106",
        ] {
            assert!(is_sink(ip(s)), "{s}");
        }
        for s in [
            "1.1.1.1",
            "100.128.0.1",
            "172.32.0.1",
            "2606:4700::1111",
            "146.112.61.111",
        ] {
            assert!(!is_sink(ip(s)), "{s}");
        }
    }

    #[test]
    fn agreeing_loopback_answers_are_not_blocking() {
        let report = judge(
            "iptv.test",
            &[
                lookup(Kind::System, Ok(vec![ip("127.0.0.1")])),
                lookup(Kind::Doh, Ok(vec![ip("127.0.0.1")])),
            ],
        );
        assert!(!report.looks_blocked);
        assert!(report.checks.iter().all(|c| c.verdict == Verdict::Ok));
        assert_eq!(report.usable, vec![ip("127.0.0.1")]);
    }

    #[test]
    fn a_differing_public_answer_is_not_blocking() {
        let report = judge(
            "iptv.test",
            &[
                lookup(Kind::System, Ok(vec![ip("1.2.3.4")])),
                lookup(Kind::Doh, Ok(vec![ip("5.6.7.8")])),
            ],
        );
        assert!(!report.looks_blocked);
        assert_eq!(report.usable, vec![ip("1.2.3.4"), ip("5.6.7.8")]);
    }

    #[test]
    fn a_lone_zero_answer_is_a_warning() {
        let report = judge(
            "iptv.test",
            &[lookup(Kind::System, Ok(vec![ip("0.0.0.0")]))],
        );
        assert_eq!(report.checks[0].verdict, Verdict::Warning);
        assert!(report.usable.is_empty());
    }

    #[test]
    fn a_and_aaaa_combine() {
        assert_eq!(
            combine(Ok(vec![ip("1.2.3.4")]), Err(Failure::NoAddress)),
            Ok(vec![ip("1.2.3.4")])
        );
        assert_eq!(
            combine(Err(Failure::NoAddress), Err(Failure::NxDomain)),
            Err(Failure::NxDomain)
        );
        assert_eq!(
            combine(
                Err(Failure::NoAddress),
                Err(Failure::Timeout(Duration::from_secs(1)))
            ),
            Err(Failure::Timeout(Duration::from_secs(1)))
        );
    }
}
