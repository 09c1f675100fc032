//! Who a request says it is: the box's MAC (the `mac` cookie, or a `mac`
//! parameter, which Xtream panels prefer) and its session token
//! (`Authorization: Bearer`, or a `token` cookie as stb-reader sends it).
//!
//! MACs arrive URL-encoded by the stock JS (`00%3A1A%3A79...`), raw from
//! Kodi, in either case, and with `:`, `-`, `.` or no separators from
//! emulators; all of them become one canonical form, `00:1A:79:00:00:01`,
//! before anything looks them up (protocols.md §3.2).

use crate::params::Params;
use axum::http::{header, HeaderMap};
use std::borrow::Cow;

/// A MAC address in canonical form: six upper-case hex pairs joined by `:`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mac(String);

impl Mac {
    /// Parses any common spelling; `None` unless it is 12 hex digits.
    pub fn parse(raw: &str) -> Option<Mac> {
        let decoded = percent_encoding::percent_decode_str(raw.trim()).decode_utf8_lossy();
        let mut hex = String::with_capacity(12);
        for c in decoded.trim().chars() {
            match c {
                ':' | '-' | '.' => {}
                c if c.is_ascii_hexdigit() && hex.len() < 13 => hex.push(c.to_ascii_uppercase()),
                _ => return None,
            }
        }
        if hex.len() != 12 {
            return None;
        }
        let pairs: Vec<&str> = (0..6).map(|i| &hex[i * 2..i * 2 + 2]).collect();
        Some(Mac(pairs.join(":")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Mac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What the box presented; the MAC text is kept raw so an unparsable one
/// can still be counted by the scan limiter.
#[derive(Debug, Clone)]
pub struct Presented<'a> {
    pub raw_mac: Option<Cow<'a, str>>,
    pub token: Option<Cow<'a, str>>,
}

impl Presented<'_> {
    pub fn mac(&self) -> Option<Mac> {
        self.raw_mac.as_deref().and_then(Mac::parse)
    }
}

/// Reads the MAC and token of a request.
pub fn presented<'a>(headers: &'a HeaderMap, params: &'a Params) -> Presented<'a> {
    let raw_mac = params
        .get("mac")
        .filter(|m| !m.trim().is_empty())
        .map(Cow::Borrowed)
        .or_else(|| crate::web::cookie(headers, "mac").map(Cow::Owned));
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .filter(|t| !t.is_empty())
        .map(Cow::Borrowed);
    let token = bearer.or_else(|| crate::web::cookie(headers, "token").map(Cow::Owned));
    Presented { raw_mac, token }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_is_one_mac() {
        let want = Some(Mac("00:1A:79:AB:CD:EF".into()));
        for raw in [
            "00:1A:79:AB:CD:EF",
            "00:1a:79:ab:cd:ef",
            "00%3A1A%3A79%3Aab%3Acd%3Aef",
            "00-1A-79-AB-CD-EF",
            "001A.79AB.CDEF",
            "001a79abcdef",
            " 00:1A:79:AB:CD:EF ",
        ] {
            assert_eq!(Mac::parse(raw), want, "{raw}");
        }
        for bad in [
            "",
            "00:1A:79:AB:CD",
            "00:1A:79:AB:CD:EF:01",
            "zz:1A:79:AB:CD:EF",
            "00 1A 79 AB CD EF",
        ] {
            assert_eq!(Mac::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn cookie_bearer_and_parameter() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            "stb_lang=en; mac=00%3A1A%3A79%3A00%3A00%3A01; timezone=UTC"
                .parse()
                .expect("header"),
        );
        h.insert(header::AUTHORIZATION, "Bearer ABC".parse().expect("header"));
        let p = Params::from_query(None);
        let got = presented(&h, &p);
        assert_eq!(
            got.mac().map(|m| m.to_string()).as_deref(),
            Some("00:1A:79:00:00:01")
        );
        assert_eq!(got.token.as_deref(), Some("ABC"));
        let p = Params::from_query(Some("mac=00:1A:79:00:00:02"));
        assert_eq!(
            presented(&h, &p).mac().map(|m| m.to_string()).as_deref(),
            Some("00:1A:79:00:00:02")
        );
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, "mac=x; token=T1".parse().expect("header"));
        assert_eq!(
            presented(&h, &Params::from_query(None)).token.as_deref(),
            Some("T1")
        );
    }
}
