//! The client's address: the one function every limit, IP lock, log line
//! and lease takes it from ([`client_ip`], through `crate::access::Caller`).
//!
//! A header naming the client (`X-Forwarded-For`, or RFC 7239's
//! `Forwarded`) is written by whoever sends the request, so it is believed
//! only when the socket's peer is one of the operator's `trusted_proxies`.
//! Even then only what the trusted proxies appended counts: the list is
//! read from the right (each proxy appends the address it saw), skipping
//! trusted proxies, and the first address that is not one is the client.
//! Whatever a client wrote to the left of that is ignored, so a player
//! behind a trusted proxy cannot pose as another address either.
//!
//! Only one header is read, the one the operator's proxy writes
//! ([`ForwardedHeader`]): a proxy that appends to `X-Forwarded-For` passes
//! a client's own `Forwarded` header on untouched, and believing that one
//! would let the client choose its address.

use axum::http::HeaderMap;
use std::net::IpAddr;
use tvgate_formats::cidr::{canonical, CidrList};

/// Which header the trusted proxies write the client's address in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2` (nginx's
    /// `$proxy_add_x_forwarded_for`, HAProxy's `option forwardfor`).
    #[default]
    XForwardedFor,
    /// `Forwarded: for=client, for=proxy1` (RFC 7239).
    Forwarded,
}

impl ForwardedHeader {
    pub fn parse(s: &str) -> Option<ForwardedHeader> {
        match s.trim().to_ascii_lowercase().as_str() {
            "x-forwarded-for" => Some(ForwardedHeader::XForwardedFor),
            "forwarded" => Some(ForwardedHeader::Forwarded),
            _ => None,
        }
    }
}

/// Who may name the client: the operator's proxies and the header they
/// write.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    pub networks: CidrList,
    pub header: ForwardedHeader,
}

/// The client's address: the socket's peer, unless that peer is a trusted
/// proxy, in which case the rightmost address of the forwarding header
/// that is not itself a trusted proxy. A hop that cannot be read (a
/// `Forwarded: for=unknown`, garbage) ends the walk at the proxy that
/// passed it on.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &TrustedProxies) -> IpAddr {
    let peer = canonical(peer);
    if trusted.networks.is_empty() || !trusted.networks.contains(peer) {
        return peer;
    }
    let hops: Vec<Option<IpAddr>> = match trusted.header {
        ForwardedHeader::XForwardedFor => headers
            .get_all("x-forwarded-for")
            .iter()
            .flat_map(|v| v.to_str().unwrap_or("?").split(','))
            .map(|hop| parse_hop(hop.trim()))
            .collect(),
        ForwardedHeader::Forwarded => headers
            .get_all("forwarded")
            .iter()
            .flat_map(|v| v.to_str().unwrap_or("for=?").split(','))
            .map(forwarded_for)
            .collect(),
    };
    let mut client = peer;
    for hop in hops.into_iter().rev() {
        match hop {
            Some(ip) if trusted.networks.contains(ip) => client = ip,
            Some(ip) => return ip,
            None => return client,
        }
    }
    client
}

/// The `for=` of one `Forwarded` element (`for=1.2.3.4;proto=https`).
fn forwarded_for(element: &str) -> Option<IpAddr> {
    let value = element.split(';').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        k.trim().eq_ignore_ascii_case("for").then_some(v.trim())
    })?;
    parse_hop(value.trim_matches('"'))
}

/// An address as proxies write it: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`,
/// `[2001:db8::1]` or `[2001:db8::1]:5678`.
fn parse_hop(text: &str) -> Option<IpAddr> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Some(rest) = text.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        if !(after.is_empty() || after.strip_prefix(':').is_some_and(is_port)) {
            return None;
        }
        return inside.parse().ok().map(canonical);
    }
    let (host, port) = text.rsplit_once(':')?;
    if !is_port(port) {
        return None;
    }
    host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

fn is_port(s: &str) -> bool {
    s.parse::<u16>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn trusted(list: &str, header: ForwardedHeader) -> TrustedProxies {
        TrustedProxies {
            networks: CidrList::parse(list).unwrap(),
            header,
        }
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_writes() {
        let t = trusted("10.0.0.0/8", ForwardedHeader::XForwardedFor);
        let h = headers(&[("x-forwarded-for", "1.1.1.1"), ("forwarded", "for=2.2.2.2")]);
        assert_eq!(client_ip(ip("203.0.113.9"), &h, &t), ip("203.0.113.9"));
        let none = TrustedProxies::default();
        assert_eq!(client_ip(ip("10.0.0.1"), &h, &none), ip("10.0.0.1"));
    }

    #[test]
    fn rightmost_untrusted_hop_of_x_forwarded_for() {
        let t = trusted("10.0.0.0/8", ForwardedHeader::XForwardedFor);
        // The client wrote 6.6.6.6 itself; nginx appended what it saw.
        let h = headers(&[
            ("x-forwarded-for", "6.6.6.6, 198.51.100.7"),
            ("x-forwarded-for", "10.1.1.1"),
        ]);
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &t), ip("198.51.100.7"));
        // Only trusted hops: the leftmost of them.
        let h = headers(&[("x-forwarded-for", "10.3.3.3, 10.1.1.1")]);
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &t), ip("10.3.3.3"));
        // No header: the proxy itself.
        assert_eq!(
            client_ip(ip("10.0.0.2"), &HeaderMap::new(), &t),
            ip("10.0.0.2")
        );
        // Garbage ends the walk at the proxy that passed it on.
        let h = headers(&[("x-forwarded-for", "1.2.3.4, nonsense, 10.1.1.1")]);
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &t), ip("10.1.1.1"));
        // The other header is not read.
        let h = headers(&[("forwarded", "for=1.2.3.4")]);
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &t), ip("10.0.0.2"));
    }

    #[test]
    fn forwarded_elements_with_ports_and_brackets() {
        let t = trusted("10.0.0.0/8, ::1", ForwardedHeader::Forwarded);
        let h = headers(&[(
            "forwarded",
            "for=9.9.9.9, for=\"[2001:db8:cafe::17]:4711\";proto=https, For=10.2.2.2:80",
        )]);
        assert_eq!(client_ip(ip("::1"), &h, &t), ip("2001:db8:cafe::17"));
        let h = headers(&[("forwarded", "for=unknown, for=10.2.2.2")]);
        assert_eq!(client_ip(ip("10.0.0.1"), &h, &t), ip("10.2.2.2"));
        let h = headers(&[("x-forwarded-for", "1.2.3.4")]);
        assert_eq!(client_ip(ip("10.0.0.1"), &h, &t), ip("10.0.0.1"));
    }

    #[test]
    fn mapped_peers_count_as_ipv4() {
        let t = trusted("127.0.0.1", ForwardedHeader::XForwardedFor);
        let h = headers(&[("x-forwarded-for", "203.0.113.1:5555")]);
        assert_eq!(client_ip(ip("::ffff:127.0.0.1"), &h, &t), ip("203.0.113.1"));
    }
}
