//! Upstream URLs as they may appear in logs: provider credentials removed.
//!
//! Providers put credentials in the userinfo (`http://u:p@host/`), in the
//! query (`?username=..&password=..`, tokens) and, for Xtream Codes, in the
//! path (`/live/u/p/123.ts`, `/movie/u/p/1.mkv`, the short `/u/p/123`).

/// `url` with the userinfo removed, the query replaced by `redacted`, and
/// the user and password segments of Xtream-style paths replaced by `***`.
/// Something that does not parse as a URL is not shown at all.
pub fn redact_url(url: &str) -> String {
    let Ok(mut parsed) = reqwest::Url::parse(url) else {
        return "<unparsable url>".to_owned();
    };
    // Fails only for URLs that cannot have credentials (e.g. `data:`).
    let _ = parsed.set_username("");
    let _ = parsed.set_password(None);
    if parsed.query().is_some() {
        parsed.set_query(Some("redacted"));
    }
    parsed.set_fragment(None);
    let segments: Option<Vec<String>> = parsed
        .path_segments()
        .map(|s| s.map(str::to_owned).collect());
    if let Some(mut segments) = segments {
        let secret = match segments.first().map(String::as_str) {
            Some("live" | "movie" | "series" | "timeshift") if segments.len() >= 4 => Some(1..3),
            _ if segments.len() == 3 && is_stream_id(&segments[2]) => Some(0..2),
            _ => None,
        };
        if let Some(range) = secret {
            for s in &mut segments[range] {
                "***".clone_into(s);
            }
            parsed.set_path(&segments.join("/"));
        }
    }
    parsed.into()
}

/// `123` or `123.ts`: the last segment of an Xtream short stream URL.
fn is_stream_id(segment: &str) -> bool {
    let stem = segment.split_once('.').map_or(segment, |(stem, _)| stem);
    !stem.is_empty() && stem.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn credentials_never_survive() {
        let cases = [
            (
                "http://bob:hunter2@tv.example:8080/live/bob/hunter2/123.ts",
                "http://tv.example:8080/live/***/***/123.ts",
            ),
            (
                "http://tv.example/bob/hunter2/123",
                "http://tv.example/***/***/123",
            ),
            (
                "https://cdn.example/ch/1/index.ts?token=abc&password=x",
                "https://cdn.example/ch/1/index.ts?redacted",
            ),
            (
                "http://tv.example/timeshift/bob/hunter2/60/2024-01-01:10-00/5.ts",
                "http://tv.example/timeshift/***/***/60/2024-01-01:10-00/5.ts",
            ),
            (
                "http://10.0.0.1:9981/stream/channel",
                "http://10.0.0.1:9981/stream/channel",
            ),
            ("not a url bob:hunter2", "<unparsable url>"),
        ];
        for (raw, want) in cases {
            let got = redact_url(raw);
            assert_eq!(got, want, "{raw}");
            assert!(!got.contains("hunter2"));
        }
    }
}
