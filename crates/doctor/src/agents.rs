//! Providers that block apps. Some panels refuse a user agent they do not
//! like (an app they do not support, or one abused by resellers) with a
//! 403, an empty answer or a web page, and let a common player in. Read
//! from the subscriber's side, that looks like a wrong password or a
//! captive portal. So when a login or a stream is refused that way (never
//! for a plain `auth: 0` or a 429, which are answers about the account),
//! the doctor asks again, once each, as two or three common players and as
//! no app at all, and says which gets in.

/// Common players' user agents, tried in this order, then none at all.
pub const CANDIDATES: [&str; 4] = [
    "VLC/3.0.20 LibVLC/3.0.20",
    "TiviMate/4.7.0 (Linux; Android 11)",
    "okhttp/4.12.0",
    "",
];

/// The candidates other than `current`.
pub fn others(current: &str) -> Vec<&'static str> {
    CANDIDATES
        .into_iter()
        .filter(|c| !c.eq_ignore_ascii_case(current.trim()))
        .collect()
}

/// A user agent for a person: its text, or "no user agent".
pub fn shown(ua: &str) -> String {
    if ua.is_empty() {
        "no user agent at all".to_string()
    } else {
        format!("\"{ua}\"")
    }
}

/// The app a user agent belongs to, in words.
pub fn app_of(ua: &str) -> &'static str {
    let l = ua.to_ascii_lowercase();
    if l.is_empty() {
        "a request without a user agent"
    } else if l.contains("vlc") {
        "VLC"
    } else if l.contains("tivimate") {
        "TiviMate"
    } else if l.contains("okhttp") {
        "a generic Android player (okhttp)"
    } else if l.contains("smarters") {
        "IPTV Smarters"
    } else {
        "another player"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_current_agent_is_not_retried() {
        assert_eq!(others("vlc/3.0.20 libvlc/3.0.20").len(), 3);
        assert_eq!(others("IPTVSmartersPro").len(), 4);
        assert_eq!(others("").len(), 3);
        assert_eq!(app_of(CANDIDATES[1]), "TiviMate");
    }
}
