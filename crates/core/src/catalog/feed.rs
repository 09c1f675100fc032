//! Where a stream's bytes come from, and so how it is handed to a player:
//! one reading of its URL and of its source's [`Delivery`], made when the
//! snapshot is built, so no face ever looks at URL text to decide.
//!
//! Built-in names come first (the demo's `loop:` and `clip:` entries are
//! never redirected), then the source's delivery: an http(s) URL of a
//! source set to `proxy` is fetched by tvgate, as an HLS playlist when its
//! path ends in `.m3u8`; anything else is a redirect to the URL.

use super::Delivery;

/// How a stream reaches a player.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feed<'a> {
    /// `loop:NAME`: a built-in endless channel (anything after `?` only
    /// keeps catalog entries distinct and is not part of the name).
    Loop(&'a str),
    /// `clip:NAME`: a built-in finite file (named as [`Feed::Loop`]).
    Clip(&'a str),
    /// An http(s) URL tvgate fetches itself: an MPEG-TS stream, a movie
    /// or an episode.
    Http(&'a str),
    /// An http(s) URL of an HLS playlist tvgate fetches itself.
    Hls(&'a str),
    /// The player is sent to the URL (302): its source is set to
    /// `redirect`, or the URL is not one tvgate fetches (`rtmp://`, ...).
    Redirect(&'a str),
}

/// A [`Feed`] without its URL: what the snapshot keeps per stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FeedKind {
    Loop,
    Clip,
    Http,
    Hls,
    Redirect,
}

const LOOP: &str = "loop:";
const CLIP: &str = "clip:";

impl<'a> Feed<'a> {
    /// The feed of a stream at `url` whose source delivers by `delivery`.
    pub fn of(url: &'a str, delivery: Delivery) -> Feed<'a> {
        FeedKind::of(url, delivery).with(url)
    }
}

impl FeedKind {
    pub(super) fn of(url: &str, delivery: Delivery) -> FeedKind {
        if url.starts_with(LOOP) {
            FeedKind::Loop
        } else if url.starts_with(CLIP) {
            FeedKind::Clip
        } else if delivery == Delivery::Redirect || !is_http(url) {
            FeedKind::Redirect
        } else if is_hls_path(url) {
            FeedKind::Hls
        } else {
            FeedKind::Http
        }
    }

    /// The feed of the stream at `url` (the URL this kind was read from).
    pub(super) fn with(self, url: &str) -> Feed<'_> {
        let builtin = |prefix: &str| {
            let rest = url.get(prefix.len()..).unwrap_or("");
            rest.split('?').next().unwrap_or(rest)
        };
        match self {
            FeedKind::Loop => Feed::Loop(builtin(LOOP)),
            FeedKind::Clip => Feed::Clip(builtin(CLIP)),
            FeedKind::Http => Feed::Http(url),
            FeedKind::Hls => Feed::Hls(url),
            FeedKind::Redirect => Feed::Redirect(url),
        }
    }
}

/// Whether tvgate can fetch the URL itself (`http://` or `https://`, any case).
fn is_http(url: &str) -> bool {
    let scheme = url.split_once("://").map_or("", |(s, _)| s);
    scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")
}

/// Whether the URL's path (before `?` and `#`) ends in `.m3u8`, any case.
fn is_hls_path(url: &str) -> bool {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let n = path.len();
    n >= 5 && path.is_char_boundary(n - 5) && path[n - 5..].eq_ignore_ascii_case(".m3u8")
}

#[cfg(test)]
mod tests {
    use super::*;
    use Delivery::{Proxy, Redirect};

    #[test]
    fn built_ins_then_delivery_then_the_path() {
        for (url, delivery, feed) in [
            ("loop:demo", Proxy, Feed::Loop("demo")),
            ("loop:demo?ch=2", Redirect, Feed::Loop("demo")),
            ("clip:movie.ts?e=1", Proxy, Feed::Clip("movie.ts")),
            ("clip:", Proxy, Feed::Clip("")),
            (
                "http://h/live/1.ts",
                Proxy,
                Feed::Http("http://h/live/1.ts"),
            ),
            ("HTTPS://h/1.mp4", Proxy, Feed::Http("HTTPS://h/1.mp4")),
            (
                "http://h/get?x=.m3u8x",
                Proxy,
                Feed::Http("http://h/get?x=.m3u8x"),
            ),
            (
                "http://h/get.php?f=a.m3u8",
                Proxy,
                Feed::Http("http://h/get.php?f=a.m3u8"),
            ),
            (
                "http://h/live/index.m3u8",
                Proxy,
                Feed::Hls("http://h/live/index.m3u8"),
            ),
            (
                "https://h/a/B.M3U8?token=1#x",
                Proxy,
                Feed::Hls("https://h/a/B.M3U8?token=1#x"),
            ),
            (
                "http://h/live/1.ts",
                Redirect,
                Feed::Redirect("http://h/live/1.ts"),
            ),
            (
                "http://h/i.m3u8",
                Redirect,
                Feed::Redirect("http://h/i.m3u8"),
            ),
            ("rtmp://x/y", Proxy, Feed::Redirect("rtmp://x/y")),
            ("/local/file.mkv", Proxy, Feed::Redirect("/local/file.mkv")),
            ("", Proxy, Feed::Redirect("")),
            ("http://h/é.m3u8", Proxy, Feed::Hls("http://h/é.m3u8")),
            ("http://h/éé", Proxy, Feed::Http("http://h/éé")),
        ] {
            assert_eq!(Feed::of(url, delivery), feed, "{url} ({delivery})");
        }
    }
}
