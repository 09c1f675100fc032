//! Networks written as CIDR (`10.0.0.0/8`, `fc00::/7`, a bare address for
//! one host) and lists of them, as the settings `trusted_proxies` and
//! `allowed_source_networks` hold them. Pure: parsing and membership only.
//!
//! An IPv4 address carried in IPv6 (`::ffff:10.0.0.1`, what a dual-stack
//! socket reports for an IPv4 peer) is compared as the IPv4 address it is,
//! so a list written in IPv4 matches it and it cannot slip past one.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// One network: an address and how many leading bits of it count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

/// Why a network could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{text:?} is not a network (write an address, or ADDRESS/BITS such as 10.0.0.0/8 or fc00::/7)"
)]
pub struct CidrError {
    pub text: String,
}

/// The address an IPv4-mapped IPv6 address carries, else the address.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

impl Cidr {
    /// The network of `addr` with `prefix` bits (at most 32 or 128).
    pub fn new(addr: IpAddr, prefix: u8) -> Option<Cidr> {
        let addr = canonical(addr);
        let max = if addr.is_ipv4() { 32 } else { 128 };
        (prefix <= max).then_some(Cidr { addr, prefix })
    }

    /// Whether `ip` lies in this network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(s: &str) -> Result<Cidr, CidrError> {
        let err = || CidrError {
            text: s.to_string(),
        };
        let text = s.trim();
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let addr: IpAddr = addr
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .map_err(|_| err())?;
        let mapped = matches!(addr, IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some());
        let full = if addr.is_ipv4() { 32 } else { 128 };
        let prefix: u8 = match prefix {
            Some(p) => p.parse().map_err(|_| err())?,
            None => full,
        };
        if prefix > full {
            return Err(err());
        }
        // ::ffff:10.0.0.0/104 is 10.0.0.0/8.
        let prefix = match mapped {
            true if prefix < 96 => return Err(err()),
            true => prefix - 96,
            false => prefix,
        };
        Cidr::new(addr, prefix).ok_or_else(err)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// Several networks, written comma-separated (spaces allowed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CidrList(Vec<Cidr>);

impl CidrList {
    /// Reads `10.0.0.0/8, 192.168.1.7, ::1`; empty text is the empty list.
    pub fn parse(text: &str) -> Result<CidrList, CidrError> {
        text.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::parse)
            .collect::<Result<Vec<_>, _>>()
            .map(CidrList)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether any network of the list holds `ip`.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|n| n.contains(ip))
    }

    pub fn iter(&self) -> impl Iterator<Item = &Cidr> {
        self.0.iter()
    }
}

impl FromIterator<Cidr> for CidrList {
    fn from_iter<I: IntoIterator<Item = Cidr>>(iter: I) -> Self {
        CidrList(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn membership_by_prefix() {
        let l = CidrList::parse("10.0.0.0/8, 192.168.1.7 ,fc00::/7,0.0.0.0/0").unwrap();
        assert!(l.contains(ip("10.200.3.4")));
        assert!(l.contains(ip("192.168.1.7")));
        assert!(l.contains(ip("fd12::1")));
        assert!(l.contains(ip("8.8.8.8")), "0.0.0.0/0 holds every IPv4");
        assert!(!l.contains(ip("fe80::1")));
        let one = CidrList::parse("192.168.1.7").unwrap();
        assert!(!one.contains(ip("192.168.1.8")));
        assert!(CidrList::parse("").unwrap().is_empty());
    }

    #[test]
    fn mapped_addresses_are_their_ipv4() {
        let l = CidrList::parse("127.0.0.0/8").unwrap();
        assert!(l.contains(ip("::ffff:127.0.0.1")));
        let m = CidrList::parse("::ffff:10.0.0.0/104").unwrap();
        assert!(m.contains(ip("10.9.9.9")));
        assert!(!CidrList::parse("::1").unwrap().contains(ip("127.0.0.1")));
    }

    #[test]
    fn bad_networks_are_refused() {
        for bad in [
            "10.0.0.0/33",
            "fc00::/129",
            "example.com",
            "10.0.0/8",
            "1.2.3.4/x",
        ] {
            assert!(CidrList::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            "10.1.2.3/8".parse::<Cidr>().unwrap().to_string(),
            "10.1.2.3/8"
        );
    }
}
