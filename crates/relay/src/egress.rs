//! Where the server may connect (the SSRF guard). A source, backup or
//! guide URL is written by whoever holds a console session or an API
//! token; without this guard it could make the server fetch from its own
//! loopback, the LAN behind it or a cloud's metadata address
//! (169.254.169.254) and show the answer back as a playlist or its errors.
//!
//! Only public addresses are allowed unless the operator lists a network in
//! `allowed_source_networks` ([`EgressGuard::public_only`]). The check is
//! on the addresses actually connected to, at the moment of connecting,
//! for the first request and every redirect alike, in three places of
//! every HTTP client built by [`EgressGuard::client_builder`]:
//! - the resolver hands the connector only allowed addresses of a name (a
//!   name that resolves to nothing else fails, so DNS rebinding gets
//!   nowhere: what is checked is what is connected to);
//! - the redirect policy refuses a hop to a literal address that is not
//!   allowed before connecting to it (names are checked by the resolver);
//! - the connector checks the peer of every new connection before a byte
//!   of HTTP is written (the one check a literal address in the first URL
//!   meets, after a TCP connect and, for `https`, a TLS hello).
//!
//! The command line (`tvgate source add|refresh`, run by the operator on
//! the server) is trusted: it builds its clients with
//! [`EgressGuard::unrestricted`].
//!
//! Redirects, on every client alike (the command line's too): at most
//! [`MAX_REDIRECTS`] hops, a hop back to a URL already visited is a loop,
//! and each refusal is a [`RedirectRefused`] naming the hop (its number and
//! its target, credentials redacted).

use futures::future::BoxFuture;
use hyper_util::client::legacy::connect::{Connection, HttpInfo};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::task::{Context, Poll};
use tvgate_formats::cidr::{canonical, CidrList};

/// Redirect hops followed at most for one request.
pub const MAX_REDIRECTS: usize = 5;

/// A redirect not followed, and which hop it was.
#[derive(Debug, Clone, thiserror::Error)]
#[error("redirect hop {hop} (to {to}) refused: {why}")]
pub struct RedirectRefused {
    /// 1 for the first redirect.
    pub hop: usize,
    /// The hop's target, credentials redacted.
    pub to: String,
    pub why: RedirectProblem,
}

/// Why a redirect hop was refused.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RedirectProblem {
    #[error("a loop: that URL was already visited in this chain")]
    Loop,
    #[error("more than {MAX_REDIRECTS} redirects")]
    TooMany,
    #[error("{0}")]
    Forbidden(Forbidden),
}

/// The redirect rule of every client: see the module doc. `guard` judges
/// literal addresses (names are judged by the resolver when connecting).
fn redirect_policy(guard: Option<EgressGuard>) -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(move |attempt| {
        let hop = attempt.previous().len();
        let refuse = |why| RedirectRefused {
            hop,
            to: tvgate_formats::redact_url(attempt.url().as_str()),
            why,
        };
        if hop > MAX_REDIRECTS {
            let e = refuse(RedirectProblem::TooMany);
            return attempt.error(e);
        }
        let same = |u: &reqwest::Url| {
            let (mut a, mut b) = (u.clone(), attempt.url().clone());
            a.set_fragment(None);
            b.set_fragment(None);
            a == b
        };
        if attempt.previous().iter().any(same) {
            let e = refuse(RedirectProblem::Loop);
            return attempt.error(e);
        }
        let literal = match attempt.url().host() {
            Some(url::Host::Ipv4(v4)) => Some(IpAddr::V4(v4)),
            Some(url::Host::Ipv6(v6)) => Some(IpAddr::V6(v6)),
            _ => None,
        };
        match (literal, &guard) {
            (Some(ip), Some(guard)) => match guard.check(ip) {
                Err(forbidden) => {
                    let e = refuse(RedirectProblem::Forbidden(forbidden));
                    attempt.error(e)
                }
                Ok(()) => attempt.follow(),
            },
            _ => attempt.follow(),
        }
    })
}

/// Which addresses the server may connect to.
#[derive(Debug, Clone, Default)]
pub struct EgressGuard {
    inner: Arc<Rules>,
}

#[derive(Debug, Default)]
struct Rules {
    /// No check at all (the command line).
    unrestricted: bool,
    /// Networks allowed although they are not public.
    allowed: CidrList,
}

/// A connection the guard did not allow.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{addr} is not a public address (loopback, private, link-local or reserved); list its network in allowed_source_networks to fetch from it")]
pub struct Forbidden {
    pub addr: IpAddr,
}

impl EgressGuard {
    /// Public addresses, and those in `allowed`.
    pub fn public_only(allowed: CidrList) -> EgressGuard {
        EgressGuard {
            inner: Arc::new(Rules {
                unrestricted: false,
                allowed,
            }),
        }
    }

    /// Every address (the command line, run by the operator).
    pub fn unrestricted() -> EgressGuard {
        EgressGuard {
            inner: Arc::new(Rules {
                unrestricted: true,
                allowed: CidrList::default(),
            }),
        }
    }

    /// Whether a connection to `ip` is allowed.
    pub fn permits(&self, ip: IpAddr) -> bool {
        self.inner.unrestricted || is_public(ip) || self.inner.allowed.contains(ip)
    }

    /// `Ok` when `ip` is allowed.
    pub fn check(&self, ip: IpAddr) -> Result<(), Forbidden> {
        match self.permits(ip) {
            true => Ok(()),
            false => Err(Forbidden {
                addr: canonical(ip),
            }),
        }
    }

    /// Checks a URL's host now, as an early answer to the person adding it
    /// (the console or the API): a literal address, or every address its
    /// name resolves to. The connection is checked again when it is made.
    /// A name that does not resolve passes (it may resolve later; the
    /// connection's check decides then).
    pub async fn check_url(&self, url: &str) -> Result<(), Forbidden> {
        if self.inner.unrestricted {
            return Ok(());
        }
        let Ok(url) = reqwest::Url::parse(url) else {
            return Ok(());
        };
        let port = url.port_or_known_default().unwrap_or(80);
        match url.host() {
            Some(url::Host::Ipv4(v4)) => self.check(IpAddr::V4(v4)),
            Some(url::Host::Ipv6(v6)) => self.check(IpAddr::V6(v6)),
            Some(url::Host::Domain(name)) => {
                let addrs = tokio::net::lookup_host((name, port)).await;
                for addr in addrs.into_iter().flatten() {
                    self.check(addr.ip())?;
                }
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// A client builder whose every connection this guard checks.
    pub fn client_builder(&self) -> reqwest::ClientBuilder {
        let builder = reqwest::Client::builder();
        if self.inner.unrestricted {
            return builder.redirect(redirect_policy(None));
        }
        builder
            .dns_resolver(Arc::new(GuardedResolver(self.clone())))
            .redirect(redirect_policy(Some(self.clone())))
            .connector_layer(GuardLayer(self.clone()))
    }
}

/// Whether `ip` is a public unicast address: not loopback, unspecified,
/// private (RFC 1918), shared (CGNAT, 100.64.0.0/10), link-local (with
/// the metadata address 169.254.169.254), benchmarking, multicast,
/// reserved or broadcast; for IPv6 not ::1, ::, unique-local (fc00::/7),
/// link-local (fe80::/10), site-local (fec0::/10) or multicast, and an
/// IPv4 address carried in IPv6 (mapped, compatible, NAT64 64:ff9b::/96,
/// 6to4 2002::/16) is judged as that IPv4 address.
pub fn is_public(ip: IpAddr) -> bool {
    match canonical(ip) {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0
        || a == 10
        || a == 127
        || (a == 100 && (64..128).contains(&b))
        || (a == 169 && b == 254)
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 168)
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (18..20).contains(&b))
        || a >= 224)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let embedded_v4 = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    if s[..6] == [0; 6] {
        // ::, ::1 and the deprecated IPv4-compatible ::a.b.c.d
        return !ip.is_unspecified() && !ip.is_loopback() && is_public_v4(embedded_v4(s[6], s[7]));
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_public_v4(embedded_v4(s[6], s[7]));
    }
    if s[0] == 0x2002 {
        return is_public_v4(embedded_v4(s[1], s[2]));
    }
    !((s[0] & 0xfe00) == 0xfc00
        || (s[0] & 0xffc0) == 0xfe80
        || (s[0] & 0xffc0) == 0xfec0
        || (s[0] & 0xff00) == 0xff00)
}

/// The system resolver, keeping only the addresses the guard allows.
struct GuardedResolver(EgressGuard);

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let guard = self.0.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let first = all.first().map(|a| a.ip());
            let allowed: Vec<SocketAddr> =
                all.into_iter().filter(|a| guard.permits(a.ip())).collect();
            match (allowed.is_empty(), first) {
                (false, _) => {
                    let addrs: reqwest::dns::Addrs = Box::new(allowed.into_iter());
                    Ok(addrs)
                }
                (true, Some(addr)) => Err(Box::new(Forbidden {
                    addr: canonical(addr),
                }) as _),
                (true, None) => Err(format!("{host} has no address").into()),
            }
        })
    }
}

/// Checks the peer of every connection the client makes.
#[derive(Clone)]
struct GuardLayer(EgressGuard);

impl<S> tower::Layer<S> for GuardLayer {
    type Service = GuardedConnector<S>;
    fn layer(&self, inner: S) -> GuardedConnector<S> {
        GuardedConnector {
            inner,
            guard: self.0.clone(),
        }
    }
}

#[derive(Clone)]
struct GuardedConnector<S> {
    inner: S,
    guard: EgressGuard,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl<S, R> tower::Service<R> for GuardedConnector<S>
where
    S: tower::Service<R, Error = BoxError>,
    S::Response: Connection + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<S::Response, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: R) -> Self::Future {
        let connecting = self.inner.call(req);
        let guard = self.guard.clone();
        Box::pin(async move {
            let conn = connecting.await?;
            let mut extras = http::Extensions::new();
            conn.connected().get_extras(&mut extras);
            match extras.get::<HttpInfo>() {
                Some(info) => guard.check(info.remote_addr().ip())?,
                // Not a TCP connection (no peer to judge): refused rather
                // than trusted.
                None => return Err("connection without a peer address refused".into()),
            }
            Ok(conn)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn public_and_not() {
        for private in [
            "127.0.0.1",
            "127.8.8.8",
            "0.0.0.0",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.0.1",
            "100.64.0.1",
            "100.127.255.255",
            "169.254.169.254",
            "198.18.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::1",
        ] {
            assert!(!is_public(ip(private)), "{private}");
        }
        for public in [
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "192.0.2.1",
            "2001:4860:4860::8888",
            "::ffff:1.1.1.1",
            "64:ff9b::808:808",
        ] {
            assert!(is_public(ip(public)), "{public}");
        }
    }

    #[test]
    fn the_allow_list_and_the_command_line() {
        let g = EgressGuard::public_only(CidrList::parse("127.0.0.0/8, fd00::/8").unwrap());
        assert!(g.permits(ip("127.0.0.1")));
        assert!(g.permits(ip("::ffff:127.0.0.1")));
        assert!(g.permits(ip("fd00::5")));
        assert!(!g.permits(ip("::1")));
        assert!(!g.permits(ip("169.254.169.254")));
        assert!(EgressGuard::unrestricted().permits(ip("169.254.169.254")));
        assert!(!EgressGuard::default().permits(ip("10.0.0.1")));
    }

    #[tokio::test]
    async fn check_url_resolves_names() {
        let g = EgressGuard::public_only(CidrList::default());
        assert!(g.check_url("http://127.0.0.1:9/x.m3u").await.is_err());
        assert!(g.check_url("http://[::1]/x").await.is_err());
        assert!(g.check_url("http://localhost:9/x").await.is_err());
        assert!(g.check_url("http://8.8.8.8/x").await.is_ok());
        let open = EgressGuard::public_only(CidrList::parse("127.0.0.0/8, ::1").unwrap());
        assert!(open.check_url("http://localhost:9/x").await.is_ok());
    }
}
