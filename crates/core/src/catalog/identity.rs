//! How tvgate presents itself to a source's provider: a user agent and
//! extra request headers, sent on every upstream request of the source
//! (the relay, proxied HLS, the VOD proxy, refreshes). Providers block
//! apps they do not know, or want a token in a header.
//!
//! Header values may carry tokens, so they are write-only: `Debug` masks
//! them, and faces show a header by its name only ([`UpstreamHeader::shown`]).
//! Checked once here ([`UpstreamHeader::parse`], [`check_user_agent`]), so
//! every stored value is one an HTTP client can send as it is.

use std::fmt;

/// Most extra headers per source.
pub const MAX_HEADERS: usize = 20;
/// Longest header value or user agent (bytes).
pub const MAX_VALUE_LEN: usize = 4096;

/// Headers an operator may not set: the client manages them, or they
/// would change what a request means (the user agent has its own setting).
const RESERVED: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-connection",
    "upgrade",
    "te",
    "trailer",
    "expect",
    "range",
    "user-agent",
];

/// One extra request header of a source.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct UpstreamHeader {
    pub name: String,
    pub value: String,
}

impl fmt::Debug for UpstreamHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ***", self.name)
    }
}

impl UpstreamHeader {
    /// `Name: value`, checked: a token name (not one of the reserved ones,
    /// such as Host or Range), a value of visible characters and spaces
    /// (no line breaks), at most [`MAX_VALUE_LEN`] bytes. The error never
    /// repeats the value.
    pub fn parse(raw: &str) -> Result<UpstreamHeader, String> {
        let Some((name, value)) = raw.split_once(':') else {
            return Err(format!(
                "a header is `Name: value` (got one without a colon, starting {:?})",
                raw.chars().take(20).collect::<String>()
            ));
        };
        UpstreamHeader::new(name, value)
    }

    /// A header from its name and value, checked as [`UpstreamHeader::parse`].
    pub fn new(name: &str, value: &str) -> Result<UpstreamHeader, String> {
        let name = name.trim();
        let value = value.trim();
        if name.is_empty() || name.len() > 64 || !name.bytes().all(is_token) {
            return Err(format!(
                "header name {name:?}: use letters, digits and -, at most 64"
            ));
        }
        if RESERVED.contains(&name.to_ascii_lowercase().as_str()) {
            return Err(if name.eq_ignore_ascii_case("user-agent") {
                "set the user agent with its own setting (user_agent), not as a header".into()
            } else {
                format!("header {name} is set by tvgate itself and cannot be configured")
            });
        }
        check_value(value).map_err(|why| format!("header {name}: {why}"))?;
        Ok(UpstreamHeader {
            name: name.to_owned(),
            value: value.to_owned(),
        })
    }

    /// How the header is shown back: its name, never its value.
    pub fn shown(&self) -> String {
        format!("{}: ***", self.name)
    }
}

/// A user agent as stored: trimmed, checked like a header value.
pub fn check_user_agent(raw: &str) -> Result<String, String> {
    let ua = raw.trim();
    if ua.is_empty() {
        return Err("the user agent is empty (clear it instead to send tvgate's own)".into());
    }
    check_value(ua).map_err(|why| format!("user agent: {why}"))?;
    Ok(ua.to_owned())
}

/// A list of headers, checked as a whole: at most [`MAX_HEADERS`], no name
/// twice (case-insensitive).
pub fn check_headers(headers: &[UpstreamHeader]) -> Result<(), String> {
    if headers.len() > MAX_HEADERS {
        return Err(format!(
            "{} headers: at most {MAX_HEADERS} per source",
            headers.len()
        ));
    }
    for (i, h) in headers.iter().enumerate() {
        if headers[..i]
            .iter()
            .any(|o| o.name.eq_ignore_ascii_case(&h.name))
        {
            return Err(format!("header {} is given twice", h.name));
        }
    }
    Ok(())
}

fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn check_value(value: &str) -> Result<(), String> {
    if value.len() > MAX_VALUE_LEN {
        return Err(format!("longer than {MAX_VALUE_LEN} bytes"));
    }
    if !value
        .bytes()
        .all(|b| b == b' ' || b == b'\t' || (0x21..0x7f).contains(&b))
    {
        return Err("only visible ASCII characters and spaces (no line breaks)".into());
    }
    Ok(())
}

/// A source's user agent and extra headers (none: tvgate's own user agent).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct UpstreamIdentity {
    /// `None`: tvgate's own (`tvgate/VERSION`).
    pub user_agent: Option<String>,
    pub headers: Vec<UpstreamHeader>,
}

impl UpstreamIdentity {
    /// Nothing set: requests go as tvgate's own.
    pub fn is_empty(&self) -> bool {
        self.user_agent.is_none() && self.headers.is_empty()
    }

    /// The headers as shown back (`Name: ***`).
    pub fn shown_headers(&self) -> Vec<String> {
        self.headers.iter().map(UpstreamHeader::shown).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_parse_and_bad_ones_are_named_without_their_value() {
        let h = UpstreamHeader::parse(" X-Token :  s3cret-value ").unwrap();
        assert_eq!(
            (h.name.as_str(), h.value.as_str()),
            ("X-Token", "s3cret-value")
        );
        assert_eq!(format!("{h:?}"), "X-Token: ***");
        assert_eq!(h.shown(), "X-Token: ***");
        for (raw, want) in [
            ("NoColon", "without a colon"),
            (": v", "header name"),
            ("Bad Name: v", "header name"),
            ("Host: evil", "set by tvgate"),
            ("range: bytes=0-", "set by tvgate"),
            ("User-Agent: x", "its own setting"),
        ] {
            let e = UpstreamHeader::parse(raw).unwrap_err();
            assert!(e.contains(want), "{raw}: {e}");
        }
        let e = UpstreamHeader::parse("X-Token: secret\r\nHost: x").unwrap_err();
        assert!(e.contains("line breaks") && !e.contains("secret"), "{e}");
        let long = format!("X-A: {}", "a".repeat(MAX_VALUE_LEN + 1));
        assert!(UpstreamHeader::parse(&long).is_err());
    }

    #[test]
    fn lists_and_user_agents() {
        let h = |s| UpstreamHeader::parse(s).unwrap();
        assert!(check_headers(&[h("A: 1"), h("B: 2")]).is_ok());
        assert!(check_headers(&[h("A: 1"), h("a: 2")])
            .unwrap_err()
            .contains("twice"));
        let many: Vec<_> = (0..=MAX_HEADERS)
            .map(|i| UpstreamHeader::new(&format!("X-{i}"), "v").unwrap())
            .collect();
        assert!(check_headers(&many).is_err());
        assert_eq!(
            check_user_agent(" VLC/3.0.18 LibVLC/3.0.18 ").unwrap(),
            "VLC/3.0.18 LibVLC/3.0.18"
        );
        assert!(check_user_agent("  ").is_err());
        assert!(check_user_agent("a\nb").is_err());
        let id = UpstreamIdentity {
            user_agent: None,
            headers: vec![h("X-Token: abc")],
        };
        assert!(!id.is_empty() && UpstreamIdentity::default().is_empty());
        assert_eq!(id.shown_headers(), vec!["X-Token: ***".to_string()]);
        assert!(!format!("{id:?}").contains("abc"));
    }
}
