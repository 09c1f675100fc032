//! Denial slates: a refused live stream can be answered with a short, valid
//! MPEG-TS clip that says the reason on screen, because most players show a
//! spinner or a generic "playback failed" for an HTTP error and the viewer
//! never learns that the subscription expired or that another device holds
//! the last connection.
//!
//! The clips (`assets/slates/*.ts`, made by `assets/slates/make.sh`) are
//! embedded in the binary. Their wording is fixed per reason; the exact
//! figures ("2 of 2 in use by ...") go in the `X-Tvgate-Message` header and
//! the log. Which answer a request gets is [`StreamDenials`], explained in
//! docs/denials.md ("What a player sees"); the refusal that chooses between
//! the slate and the status is `crate::answer::Refused`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use tvgate_core::access::Denial;

/// How a refused stream is answered (the `stream_denials` setting).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StreamDenials {
    /// The slate for a TS stream asked for by something that looks like a
    /// player ([`looks_like_player`]); the status answer otherwise.
    #[default]
    Auto,
    /// Always the HTTP status with a text body.
    Status,
    /// The slate for every TS stream request, whatever the client.
    Slate,
}

impl StreamDenials {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Some(StreamDenials::Auto),
            "status" => Some(StreamDenials::Status),
            "slate" => Some(StreamDenials::Slate),
            _ => None,
        }
    }
}

/// Reasons that are always answered with the status: a caller over its
/// failure budget must get 429 and `Retry-After`, not a clip that plays as
/// if the request had worked; and a server whose connection ledger does not
/// answer gets a player's retry (503) rather than a clip the player would
/// take for the channel and stop at. `no_archive` is only said of catch-up,
/// which is a recording (a clip would be taken for its length), never a
/// live `.ts`.
pub const STATUS_ONLY: &[&str] = &["rate_limited", "ledger_unavailable", "no_archive"];

/// The clip for each reason code.
const CLIPS: &[(&str, &[u8])] = &[
    (
        "invalid_credentials",
        include_bytes!("../../../assets/slates/invalid_credentials.ts"),
    ),
    (
        "disabled",
        include_bytes!("../../../assets/slates/disabled.ts"),
    ),
    ("banned", include_bytes!("../../../assets/slates/banned.ts")),
    (
        "expired",
        include_bytes!("../../../assets/slates/expired.ts"),
    ),
    (
        "output_format_not_allowed",
        include_bytes!("../../../assets/slates/output_format_not_allowed.ts"),
    ),
    (
        "not_in_package",
        include_bytes!("../../../assets/slates/not_in_package.ts"),
    ),
    (
        "connection_limit",
        include_bytes!("../../../assets/slates/connection_limit.ts"),
    ),
    (
        "source_at_capacity",
        include_bytes!("../../../assets/slates/source_at_capacity.ts"),
    ),
    (
        "device_not_registered",
        include_bytes!("../../../assets/slates/device_not_registered.ts"),
    ),
];

/// The slate clip for a reason code, if it has one.
pub fn clip(code: &str) -> Option<&'static [u8]> {
    if STATUS_ONLY.contains(&code) {
        return None;
    }
    CLIPS
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, clip)| *clip)
}

/// User agents of tools and libraries that fetch URLs for a person or a
/// script, matched at the start (case-insensitive). They get the status.
const TOOLS: &[&str] = &[
    "curl/",
    "wget/",
    "python-requests/",
    "python-urllib/",
    "python-httpx/",
    "python/",
    "aiohttp/",
    "go-http-client/",
    "libwww-perl/",
    "httpie/",
    "node-fetch",
    "axios/",
    "undici",
    "postmanruntime/",
    "insomnia/",
];

/// Words (case-insensitive, anywhere) that mark a player, a TV or a set-top
/// box even when the agent also says `Mozilla/`, as smart TVs and MAG boxes
/// do.
const PLAYERS: &[&str] = &[
    "vlc",
    "kodi",
    "xbmc",
    "exoplayer",
    "lavf",
    "mpv",
    "gstreamer",
    "stagefright",
    "applecoremedia",
    "tivimate",
    "smarters",
    "iptv",
    "ott navigator",
    "ottnavigator",
    "perfect player",
    "perfectplayer",
    "stbapp",
    "mag200",
    "mag250",
    "mag254",
    "mag322",
    "mag420",
    "smart-tv",
    "smarttv",
    "tizen",
    "web0s",
    "webos",
    "netcast",
    "hbbtv",
    "appletv",
    "roku",
    "crkey",
    "enigma2",
];

/// Whether a user agent looks like a video player (or a TV, or a set-top
/// box) rather than a browser or a command-line tool:
/// 1. no user agent: not a player;
/// 2. one of `TOOLS` at the start: not a player;
/// 3. one of `PLAYERS` anywhere: a player;
/// 4. `Mozilla/` anywhere: a browser, not a player;
/// 5. anything else: a player (players and boxes name themselves freely).
pub fn looks_like_player(user_agent: &str) -> bool {
    let ua = user_agent.trim().to_ascii_lowercase();
    if ua.is_empty() || TOOLS.iter().any(|t| ua.starts_with(t)) {
        return false;
    }
    if PLAYERS.iter().any(|p| ua.contains(p)) {
        return true;
    }
    !ua.contains("mozilla/")
}

/// The slate answer: `clip` (of [`clip`]) with the reason and `message`
/// (the refusal in plain words) in headers. Only a live stream asked for as
/// MPEG-TS gets one: an HLS playlist or a movie keeps the status, so a
/// player never records a three-second clip as the film it resumes.
pub fn answer(denial: &Denial, message: &str, clip: &'static [u8]) -> Response {
    tracing::debug!(
        target: "tvgate::denial",
        reason = denial.code(),
        message = %message,
        "answered with the slate"
    );
    let mut r = Response::new(axum::body::Body::from(Bytes::from_static(clip)));
    *r.status_mut() = StatusCode::OK;
    let headers = r.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("video/mp2t"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("x-tvgate-reason", HeaderValue::from_static(denial.code()));
    if let Ok(v) = HeaderValue::from_str(&header_text(message)) {
        headers.insert("x-tvgate-message", v);
    }
    r
}

/// `text` as a header value: visible ASCII and spaces, at most 512 bytes.
fn header_text(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c == ' ' || c.is_ascii_graphic() {
                c
            } else {
                '?'
            }
        })
        .take(512)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn players_browsers_and_tools() {
        for player in [
            "VLC/3.0.20 LibVLC/3.0.20",
            "Lavf/60.3.100",
            "TiviMate/4.7.0 (Android 11)",
            "IPTVSmartersPlayer",
            "okhttp/4.9.0",
            "ExoPlayerLib/2.18.1",
            "Kodi/20.2 (Linux; Android 11) Android/11",
            "Mozilla/5.0 (SMART-TV; LINUX; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) Version/6.0 TV Safari/537.36",
            "Mozilla/5.0 (QtEmbedded; U; Linux; C) AppleWebKit/533.3 (KHTML, like Gecko) MAG200 stbapp ver: 2 rev: 250 Safari/533.3",
            "AppleCoreMedia/1.0.0.20G75 (iPhone; U; CPU OS 16_6 like Mac OS X)",
            "LivingRoomTV/1.0",
        ] {
            assert!(looks_like_player(player), "{player}");
        }
        for other in [
            "",
            "curl/8.5.0",
            "Wget/1.21.4",
            "python-requests/2.31.0",
            "Go-http-client/1.1",
            "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0 Safari/537.36",
        ] {
            assert!(!looks_like_player(other), "{other}");
        }
    }

    #[test]
    fn every_stream_reason_has_a_clip_except_the_status_only_ones() {
        for code in Denial::CODES.iter().copied() {
            if STATUS_ONLY.contains(&code) {
                assert!(clip(code).is_none(), "{code}");
            } else {
                let clip = clip(code).unwrap_or_else(|| panic!("no slate for {code}"));
                assert!(clip.len() < 100_000, "{code}: {} bytes", clip.len());
                assert_eq!(clip.len() % 188, 0, "{code}: whole TS packets");
                assert!(clip.chunks(188).all(|p| p[0] == 0x47), "{code}: sync bytes");
            }
        }
        assert!(clip("source_at_capacity").is_some());
        let total: usize = CLIPS.iter().map(|(_, c)| c.len()).sum();
        assert!(total < 1_000_000, "{total} bytes of slates");
    }

    #[test]
    fn settings_parse() {
        assert_eq!(StreamDenials::parse("auto"), Some(StreamDenials::Auto));
        assert_eq!(StreamDenials::parse(" Slate "), Some(StreamDenials::Slate));
        assert_eq!(StreamDenials::parse("status"), Some(StreamDenials::Status));
        assert_eq!(StreamDenials::parse("video"), None);
    }

    #[test]
    fn header_text_is_visible_ascii() {
        assert_eq!(
            header_text("1 of 1 in use by Télé\n"),
            "1 of 1 in use by T?l??"
        );
    }
}
