//! URLs as they may be shown anywhere outside the server's memory: logs,
//! error messages, the console, the admin API, the command line and the
//! doctor's report. The one redactor every crate uses, so a credential
//! form it learns is hidden everywhere at once.
//!
//! Providers put credentials in the user info (`http://u:p@host/`), in the
//! query (`?token=..`, and Xtream's `get.php?username=..&password=..`) and,
//! for Xtream Codes, in the path (`/live/u/p/123.ts`, `/movie/u/p/1.mkv`,
//! the short `/u/p/123`). What is left is enough to tell one address from
//! another: scheme, host, port, the path without its credentials.

/// The Xtream endpoints whose query carries the line's credentials; their
/// other parameters (`type`, `output`, `action`) are worth showing.
const CREDENTIAL_ENDPOINTS: [&str; 4] = ["get.php", "player_api.php", "xmltv.php", "panel_api.php"];

/// Query parameters of [`CREDENTIAL_ENDPOINTS`] whose values are shown as
/// they are; every other value is masked.
const PLAIN_PARAMETERS: [&str; 3] = ["type", "output", "action"];

/// What a masked credential reads as.
const MASK: &str = "***";

/// `url` without credentials: no user info and no fragment; the query
/// replaced by `redacted` (on the Xtream endpoints, kept with every value
/// but `type`, `output` and `action` masked); the user and password
/// segments of Xtream paths replaced by `***`. Something that does not
/// parse as a URL is not shown at all.
pub fn redact_url(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url.trim()) else {
        return "<unparsable url>".to_owned();
    };
    // Fails only for URLs that cannot have credentials (e.g. `data:`).
    let _ = parsed.set_username("");
    let _ = parsed.set_password(None);
    parsed.set_fragment(None);
    let segments: Vec<String> = parsed
        .path_segments()
        .map(|s| s.map(str::to_owned).collect())
        .unwrap_or_default();
    let endpoint = segments.last().map(|s| s.to_ascii_lowercase());
    if parsed.query().is_some() {
        let shown = match endpoint {
            Some(e) if CREDENTIAL_ENDPOINTS.contains(&e.as_str()) => masked_query(&parsed),
            _ => "redacted".to_owned(),
        };
        parsed.set_query(Some(&shown));
    }
    if let Some(range) = path_credentials(&segments) {
        let mut segments = segments;
        for s in &mut segments[range] {
            MASK.clone_into(s);
        }
        parsed.set_path(&segments.join("/"));
    }
    parsed.into()
}

/// A source's location as it may be shown: a URL redacted by
/// [`redact_url`], anything else (a file path on the server) as it is.
pub fn redact_location(location: &str) -> String {
    if location.contains("://") {
        redact_url(location)
    } else {
        location.to_owned()
    }
}

/// The query of an Xtream endpoint with every value masked but those of
/// [`PLAIN_PARAMETERS`].
fn masked_query(url: &url::Url) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in url.query_pairs() {
        let plain = PLAIN_PARAMETERS.contains(&name.to_ascii_lowercase().as_str());
        out.append_pair(&name, if plain { &value } else { MASK });
    }
    out.finish()
}

/// Which path segments are an Xtream user and password:
/// `/live|movie|series|timeshift/USER/PASS/...` and `/USER/PASS/ID`.
fn path_credentials(segments: &[String]) -> Option<std::ops::Range<usize>> {
    match segments.first().map(String::as_str) {
        Some("live" | "movie" | "series" | "timeshift") if segments.len() >= 4 => Some(1..3),
        _ if segments.len() == 3 && is_stream_id(&segments[2]) => Some(0..2),
        _ => None,
    }
}

/// `123` or `123.ts`: the last segment of an Xtream short stream URL.
fn is_stream_id(segment: &str) -> bool {
    let stem = segment.split_once('.').map_or(segment, |(stem, _)| stem);
    !stem.is_empty() && stem.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::{redact_location, redact_url};

    #[test]
    fn credentials_never_survive() {
        let cases = [
            (
                "http://bob:hunter2@tv.example:8080/live/bob/hunter2/123.ts",
                "http://tv.example:8080/live/***/***/123.ts",
            ),
            (
                "http://tv.example/movie/bob/hunter2/77.mkv",
                "http://tv.example/movie/***/***/77.mkv",
            ),
            (
                "http://tv.example/series/bob/hunter2/9.mp4",
                "http://tv.example/series/***/***/9.mp4",
            ),
            (
                "http://tv.example/bob/hunter2/123",
                "http://tv.example/***/***/123",
            ),
            (
                "http://tv.example/bob/hunter2/123.m3u8",
                "http://tv.example/***/***/123.m3u8",
            ),
            (
                "https://cdn.example/ch/1/index.ts?token=hunter2&password=x",
                "https://cdn.example/ch/1/index.ts?redacted",
            ),
            (
                "http://tv.example/timeshift/bob/hunter2/60/2024-01-01:10-00/5.ts",
                "http://tv.example/timeshift/***/***/60/2024-01-01:10-00/5.ts",
            ),
            (
                "http://bob:hunter2@tv.example/get.php?username=bob&password=hunter2&type=m3u_plus&output=ts",
                "http://tv.example/get.php?username=***&password=***&type=m3u_plus&output=ts",
            ),
            (
                "http://tv.example/player_api.php?username=bob&password=hunter2&action=get_live_streams",
                "http://tv.example/player_api.php?username=***&password=***&action=get_live_streams",
            ),
            (
                "http://tv.example/XMLTV.PHP?Username=bob&PASSWORD=hunter2&token=hunter2",
                "http://tv.example/XMLTV.PHP?Username=***&PASSWORD=***&token=***",
            ),
            (
                "http://tv.example/news.ts#hunter2",
                "http://tv.example/news.ts",
            ),
            (
                "http://10.0.0.1:9981/stream/channel",
                "http://10.0.0.1:9981/stream/channel",
            ),
            ("not a url bob:hunter2", "<unparsable url>"),
            ("", "<unparsable url>"),
        ];
        for (raw, want) in cases {
            let got = redact_url(raw);
            assert_eq!(got, want, "{raw}");
            assert!(!got.contains("hunter2") && !got.contains("bob"), "{got}");
        }
    }

    #[test]
    fn plain_paths_and_ids_are_kept() {
        // Four segments under a known prefix, or three ending in an id: only
        // these look like Xtream credentials.
        assert_eq!(
            redact_url("http://tv.example/live/news/index.m3u8"),
            "http://tv.example/live/news/index.m3u8"
        );
        assert_eq!(
            redact_url("http://tv.example/a/b/index.ts"),
            "http://tv.example/a/b/index.ts"
        );
    }

    #[test]
    fn file_locations_are_shown_as_they_are() {
        assert_eq!(redact_location("/srv/tv/list.m3u"), "/srv/tv/list.m3u");
        assert_eq!(
            redact_location("http://u:secret@host/get.php?username=u&password=secret"),
            "http://host/get.php?username=***&password=***"
        );
    }
}
