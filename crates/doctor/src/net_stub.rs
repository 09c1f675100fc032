//! A stand-in for the DNS and transport probes (`dns.rs`, `transport.rs`),
//! which another engineer writes in parallel with the same signatures. It
//! lets the runner be tested end to end until they land; the lead deletes
//! this file at merge and declares `pub mod dns; pub mod transport;`.

#![allow(dead_code)]

pub mod dns {
    use crate::check::{Cause, Check, Step, Verdict};
    use std::net::{IpAddr, SocketAddr};
    use std::time::{Duration, Instant};

    pub struct DnsOptions {
        pub system_resolver: Option<SocketAddr>,
        pub resolvers: Vec<SocketAddr>,
        pub doh: Vec<String>,
        pub extra_ca_pem: Option<Vec<u8>>,
        pub timeout: Duration,
    }

    impl DnsOptions {
        pub fn default_doh() -> Vec<String> {
            vec![
                "https://cloudflare-dns.com/dns-query".into(),
                "https://dns.google/dns-query".into(),
            ]
        }
    }

    pub struct ResolverAnswer {
        pub resolver: String,
        pub addrs: Vec<IpAddr>,
    }

    pub struct DnsReport {
        pub checks: Vec<Check>,
        pub answers: Vec<ResolverAnswer>,
        pub usable: Vec<IpAddr>,
        pub looks_blocked: bool,
    }

    /// The system resolver only.
    pub async fn resolve(host: &str, opts: &DnsOptions) -> DnsReport {
        let started = Instant::now();
        let found = tokio::time::timeout(opts.timeout, tokio::net::lookup_host((host, 0))).await;
        let ms = started.elapsed().as_millis() as u64;
        let (check, usable) = match found {
            Ok(Ok(addrs)) => {
                let ips: Vec<IpAddr> = addrs.map(|a| a.ip()).collect();
                (
                    Check::new(
                        Step::NameResolution,
                        "dns.system",
                        format!("{host} resolves"),
                        Verdict::Ok,
                    )
                    .evidence(format!("system resolver: {ips:?}")),
                    ips,
                )
            }
            Ok(Err(e)) => (
                Check::new(
                    Step::NameResolution,
                    "dns.system",
                    format!("{host} does not resolve"),
                    Verdict::Fault,
                )
                .evidence(format!("system resolver: {e}"))
                .points_to(Cause::ServerUnreachable),
                Vec::new(),
            ),
            Err(_) => (
                Check::new(
                    Step::NameResolution,
                    "dns.system",
                    format!("{host}: the resolver did not answer"),
                    Verdict::Fault,
                )
                .points_to(Cause::ServerUnreachable),
                Vec::new(),
            ),
        };
        DnsReport {
            checks: vec![check.millis(ms)],
            answers: vec![ResolverAnswer {
                resolver: "system".into(),
                addrs: usable.clone(),
            }],
            usable,
            looks_blocked: false,
        }
    }
}

pub mod transport {
    use crate::check::{Cause, Check, Step, Verdict};
    use std::net::IpAddr;
    use std::time::{Duration, Instant};

    pub struct TransportOptions {
        pub timeout: Duration,
        pub extra_ca_pem: Option<Vec<u8>>,
        pub user_agent: String,
    }

    pub struct TransportReport {
        pub checks: Vec<Check>,
        pub reachable: bool,
    }

    /// One GET of the URL; any HTTP answer counts as reachable.
    pub async fn probe(
        url: &reqwest::Url,
        _addrs: &[IpAddr],
        opts: &TransportOptions,
    ) -> TransportReport {
        let started = Instant::now();
        let client = match reqwest::Client::builder()
            .user_agent(opts.user_agent.clone())
            .timeout(opts.timeout)
            .build()
        {
            Ok(c) => c,
            Err(e) => {
                return TransportReport {
                    checks: vec![Check::new(
                        Step::Transport,
                        "transport.http",
                        format!("could not set up HTTP: {e}"),
                        Verdict::Fault,
                    )],
                    reachable: false,
                }
            }
        };
        let answer = client.get(url.clone()).send().await;
        let ms = started.elapsed().as_millis() as u64;
        let host = url.host_str().unwrap_or("?");
        let port = url.port_or_known_default().unwrap_or(80);
        let (check, reachable) = match answer {
            Ok(r) => (
                Check::new(
                    Step::Transport,
                    "transport.http",
                    format!("The server at {host}:{port} answers"),
                    Verdict::Ok,
                )
                .evidence(format!("HTTP {}", r.status().as_u16())),
                true,
            ),
            Err(e) => (
                Check::new(
                    Step::Transport,
                    "transport.http",
                    format!("The server at {host}:{port} cannot be reached"),
                    Verdict::Fault,
                )
                .evidence(e.to_string())
                .fix("Check that the server address and port are exactly as your provider gave them; if they are, the server is down or blocked on this network: try mobile data.")
                .points_to(Cause::ServerUnreachable),
                false,
            ),
        };
        TransportReport {
            checks: vec![check.millis(ms)],
            reachable,
        }
    }
}
