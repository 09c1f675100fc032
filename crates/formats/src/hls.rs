//! HLS playlists (RFC 8216): reading master and media playlists, and
//! rewriting every URI they hold.
//!
//! tvgate proxies HLS upstreams: it must learn a media playlist's segments
//! (to relay them, or to stitch them into one TS stream) and hand players a
//! copy whose every URI points back at tvgate. Real playlists vary: CRLF line
//! ends, a UTF-8 BOM, blank lines, lower-case attribute values, relative and
//! absolute URIs, tags this reader does not know. Unknown tags are kept as
//! they are; only URIs change.
//!
//! Relative URIs are resolved against the playlist's own URL, which must be
//! the final one after redirects (the caller knows it; nothing here does
//! I/O). Never panics on input.

use url::Url;

/// A parsed playlist.
#[derive(Debug, Clone, PartialEq)]
pub enum Playlist {
    Master(MasterPlaylist),
    Media(MediaPlaylist),
}

/// A master playlist: the variants (and renditions) of one programme.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MasterPlaylist {
    pub variants: Vec<Variant>,
    /// `URI` attributes of `#EXT-X-MEDIA` (alternative audio, subtitles).
    pub renditions: Vec<String>,
}

/// One `#EXT-X-STREAM-INF` entry.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Variant {
    /// Resolved against the playlist URL.
    pub uri: String,
    /// `BANDWIDTH`, bits per second (0 when absent or unreadable).
    pub bandwidth: u64,
}

/// A media playlist: the segments of one rendition.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MediaPlaylist {
    /// `#EXT-X-TARGETDURATION` in seconds, when present.
    pub target_duration: Option<u32>,
    /// `#EXT-X-MEDIA-SEQUENCE` (0 when absent, as the RFC says).
    pub media_sequence: u64,
    /// `#EXT-X-ENDLIST` was seen: nothing will be added.
    pub ended: bool,
    pub segments: Vec<Segment>,
}

/// One media segment.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Segment {
    /// Resolved against the playlist URL.
    pub uri: String,
    /// Media sequence number.
    pub sequence: u64,
    /// `#EXTINF` duration in seconds (0 when absent or unreadable).
    pub duration: f64,
    /// Encrypted (an `#EXT-X-KEY` other than `METHOD=NONE` applies).
    pub encrypted: bool,
    /// An `#EXT-X-MAP` applies (fragmented MP4, not MPEG-TS).
    pub has_map: bool,
    /// `#EXT-X-DISCONTINUITY` precedes it.
    pub discontinuity: bool,
}

impl MediaPlaylist {
    /// The target duration, or the longest segment when the tag is missing.
    pub fn target_duration_secs(&self) -> Option<f64> {
        self.target_duration.map(f64::from).or_else(|| {
            self.segments
                .iter()
                .map(|s| s.duration)
                .filter(|d| d.is_finite() && *d > 0.0)
                .reduce(f64::max)
        })
    }
}

/// Why a text is not an HLS playlist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HlsError {
    #[error("not an HLS playlist: it does not start with #EXTM3U")]
    NotAPlaylist,
    #[error("the playlist URL {0:?} is not an absolute URL")]
    BadBase(String),
}

/// What a URI in a playlist stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UriKind {
    /// A media segment (a URI line of a media playlist).
    Segment,
    /// A variant playlist (the URI line after `#EXT-X-STREAM-INF`).
    Variant,
    /// Another playlist named in a tag: `#EXT-X-MEDIA`,
    /// `#EXT-X-I-FRAME-STREAM-INF`, `#EXT-X-RENDITION-REPORT`.
    Rendition,
    /// A decryption key (`#EXT-X-KEY`, `#EXT-X-SESSION-KEY`).
    Key,
    /// An initialisation section (`#EXT-X-MAP`).
    Map,
    /// Any other tag's `URI` (`#EXT-X-PART`, `#EXT-X-PRELOAD-HINT`,
    /// `#EXT-X-SESSION-DATA`, tags this reader does not know).
    Other,
}

/// A URI handed to the rewrite closure.
#[derive(Debug, Clone, PartialEq)]
pub struct UriRef<'a> {
    pub kind: UriKind,
    /// The URI resolved against the playlist URL.
    pub resolved: &'a str,
    /// The media sequence number, for segments.
    pub sequence: Option<u64>,
}

/// The lines of a playlist without BOM and line ends, or `None` if the text
/// does not start with `#EXTM3U`.
fn lines(text: &str) -> Option<impl Iterator<Item = &str>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut it = text.lines().map(|l| l.trim());
    let first = it.by_ref().find(|l| !l.is_empty())?;
    first.starts_with("#EXTM3U").then_some(it)
}

/// `#EXT-X-NAME:value` → ("EXT-X-NAME", "value"); `#EXT-X-ENDLIST` → (.., "").
fn tag(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix('#').filter(|r| r.starts_with("EXT"))?;
    Some(rest.split_once(':').unwrap_or((rest, "")))
}

/// The value of attribute `name` in an attribute list (`A=1,B="x,y"`), with
/// its quotes removed. Attribute names are matched case-insensitively.
pub fn attribute<'a>(list: &'a str, name: &str) -> Option<&'a str> {
    attributes(list)
        .find(|(n, _, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v, _)| v)
}

/// Iterates `(name, value without quotes, byte range of the raw value)`.
fn attributes(list: &str) -> impl Iterator<Item = (&str, &str, std::ops::Range<usize>)> {
    let bytes = list.as_bytes();
    let mut pos = 0;
    std::iter::from_fn(move || {
        while pos < bytes.len() {
            let start = pos;
            let eq = start + list[start..].find('=')?;
            let name = list[start..eq].trim();
            let mut i = eq + 1;
            while i < bytes.len() && bytes[i] == b' ' {
                i += 1;
            }
            let (value, range, next) = if bytes.get(i) == Some(&b'"') {
                let close = list[i + 1..].find('"').map_or(bytes.len(), |c| i + 1 + c);
                let after = list[close..]
                    .find(',')
                    .map_or(bytes.len(), |c| close + c + 1);
                (&list[i + 1..close], i + 1..close, after)
            } else {
                let end = list[i..].find(',').map_or(bytes.len(), |c| i + c);
                (list[i..end].trim_end(), i..end, (end + 1).min(bytes.len()))
            };
            pos = next.max(start + 1);
            if !name.is_empty() {
                return Some((name, value, range));
            }
        }
        None
    })
}

/// Resolves `uri` against `base`; a URI that cannot be resolved is kept as is.
fn resolve(base: &Url, uri: &str) -> String {
    base.join(uri)
        .map(String::from)
        .unwrap_or_else(|_| uri.to_string())
}

fn parse_base(base_url: &str) -> Result<Url, HlsError> {
    Url::parse(base_url).map_err(|_| HlsError::BadBase(base_url.to_string()))
}

/// Reads a playlist fetched from `base_url` (its final URL after redirects).
pub fn parse(text: &str, base_url: &str) -> Result<Playlist, HlsError> {
    let base = parse_base(base_url)?;
    let lines = lines(text).ok_or(HlsError::NotAPlaylist)?;
    let mut master = MasterPlaylist::default();
    let mut media = MediaPlaylist::default();
    let mut is_master = false;
    let mut pending_variant: Option<u64> = None;
    let mut duration = 0.0;
    let mut encrypted = false;
    let mut has_map = false;
    let mut discontinuity = false;
    let mut sequence: Option<u64> = None;
    for line in lines {
        if line.is_empty() {
            continue;
        }
        if let Some((name, value)) = tag(line) {
            match name {
                "EXT-X-STREAM-INF" => {
                    is_master = true;
                    pending_variant = Some(
                        attribute(value, "BANDWIDTH")
                            .and_then(|b| b.parse().ok())
                            .unwrap_or(0),
                    );
                }
                "EXT-X-MEDIA" => {
                    is_master = true;
                    if let Some(uri) = attribute(value, "URI") {
                        master.renditions.push(resolve(&base, uri));
                    }
                }
                "EXT-X-I-FRAME-STREAM-INF" => is_master = true,
                "EXT-X-TARGETDURATION" => {
                    media.target_duration = value
                        .trim()
                        .parse::<f64>()
                        .ok()
                        .filter(|d| d.is_finite() && *d >= 0.0)
                        .map(|d| d.ceil().min(f64::from(u32::MAX)) as u32);
                }
                "EXT-X-MEDIA-SEQUENCE" => {
                    media.media_sequence = value.trim().parse().unwrap_or(0);
                }
                "EXT-X-ENDLIST" => media.ended = true,
                "EXTINF" => {
                    let d = value.split(',').next().unwrap_or("").trim();
                    duration = d
                        .parse::<f64>()
                        .ok()
                        .filter(|d| d.is_finite() && *d >= 0.0)
                        .unwrap_or(0.0);
                }
                "EXT-X-KEY" => {
                    encrypted =
                        attribute(value, "METHOD").is_some_and(|m| !m.eq_ignore_ascii_case("NONE"));
                }
                "EXT-X-MAP" => has_map = true,
                "EXT-X-DISCONTINUITY" => discontinuity = true,
                _ => {}
            }
            continue;
        }
        if line.starts_with('#') {
            continue; // A comment.
        }
        let uri = resolve(&base, line);
        if let Some(bandwidth) = pending_variant.take() {
            master.variants.push(Variant { uri, bandwidth });
            continue;
        }
        // Saturating: a media sequence near 2^64 (a provider's bug, or a
        // hostile playlist) must not overflow (found by fuzz/).
        let seq = sequence.map_or(media.media_sequence, |s| s.saturating_add(1));
        sequence = Some(seq);
        media.segments.push(Segment {
            uri,
            sequence: seq,
            duration,
            encrypted,
            has_map,
            discontinuity,
        });
        duration = 0.0;
        discontinuity = false;
    }
    Ok(if is_master {
        Playlist::Master(master)
    } else {
        Playlist::Media(media)
    })
}

fn tag_uri_kind(name: &str) -> UriKind {
    match name {
        "EXT-X-MEDIA" | "EXT-X-I-FRAME-STREAM-INF" | "EXT-X-RENDITION-REPORT" => UriKind::Rendition,
        "EXT-X-KEY" | "EXT-X-SESSION-KEY" => UriKind::Key,
        "EXT-X-MAP" => UriKind::Map,
        _ => UriKind::Other,
    }
}

/// Rewrites every URI of the playlist fetched from `base_url` through `f`,
/// which receives it resolved; every other line is kept. Lines end in `\n`
/// and a BOM is dropped.
pub fn rewrite(
    text: &str,
    base_url: &str,
    mut f: impl FnMut(&UriRef<'_>) -> String,
) -> Result<String, HlsError> {
    let base = parse_base(base_url)?;
    let lines = lines(text).ok_or(HlsError::NotAPlaylist)?;
    let mut out = String::with_capacity(text.len() + 64);
    out.push_str("#EXTM3U\n");
    let mut media_sequence = 0u64;
    let mut next_seq: Option<u64> = None;
    let mut after_stream_inf = false;
    for line in lines {
        if line.is_empty() {
            continue;
        }
        if let Some((name, value)) = tag(line) {
            match name {
                "EXT-X-MEDIA-SEQUENCE" => media_sequence = value.trim().parse().unwrap_or(0),
                "EXT-X-STREAM-INF" => after_stream_inf = true,
                _ => {}
            }
            match attributes(value).find(|(n, _, _)| n.eq_ignore_ascii_case("URI")) {
                Some((_, uri, range)) => {
                    let resolved = resolve(&base, uri);
                    let new = f(&UriRef {
                        kind: tag_uri_kind(name),
                        resolved: &resolved,
                        sequence: None,
                    });
                    // `value` is a suffix of `line`.
                    let offset = line.len() - value.len();
                    out.push_str(&line[..offset + range.start]);
                    out.push_str(&new);
                    out.push_str(&line[offset + range.end..]);
                }
                None => out.push_str(line),
            }
            out.push('\n');
            continue;
        }
        if line.starts_with('#') {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let resolved = resolve(&base, line);
        let new = if after_stream_inf {
            after_stream_inf = false;
            f(&UriRef {
                kind: UriKind::Variant,
                resolved: &resolved,
                sequence: None,
            })
        } else {
            let seq = next_seq.unwrap_or(media_sequence);
            next_seq = Some(seq.saturating_add(1));
            f(&UriRef {
                kind: UriKind::Segment,
                resolved: &resolved,
                sequence: Some(seq),
            })
        };
        out.push_str(&new);
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "http://up.example:8080/live/user/pass/42/index.m3u8?token=abc";

    fn media(text: &str) -> MediaPlaylist {
        match parse(text, BASE).expect("parse") {
            Playlist::Media(m) => m,
            other => panic!("not media: {other:?}"),
        }
    }

    #[test]
    fn a_live_media_playlist_with_crlf_and_bom() {
        let text = "\u{feff}#EXTM3U\r\n#EXT-X-VERSION:3\r\n#EXT-X-TARGETDURATION:6\r\n\
            #EXT-X-MEDIA-SEQUENCE:1200\r\n\r\n#EXTINF:5.005,\r\nseg1200.ts\r\n\
            #EXTINF:6.0,title\r\n/abs/seg1201.ts?x=1\r\n#EXT-X-DISCONTINUITY\r\n\
            #EXTINF:4,\r\nhttps://cdn.example/seg1202.ts\r\n";
        let m = media(text);
        assert_eq!(m.target_duration, Some(6));
        assert_eq!(m.media_sequence, 1200);
        assert!(!m.ended);
        let uris: Vec<_> = m.segments.iter().map(|s| s.uri.as_str()).collect();
        assert_eq!(
            uris,
            [
                "http://up.example:8080/live/user/pass/42/seg1200.ts",
                "http://up.example:8080/abs/seg1201.ts?x=1",
                "https://cdn.example/seg1202.ts",
            ]
        );
        let seqs: Vec<_> = m.segments.iter().map(|s| s.sequence).collect();
        assert_eq!(seqs, [1200, 1201, 1202]);
        assert_eq!(m.segments[0].duration, 5.005);
        assert!(m.segments[2].discontinuity && !m.segments[1].discontinuity);
    }

    #[test]
    fn vod_keys_maps_and_missing_target_duration() {
        let text = "#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=\"key.bin\",IV=0x1\n\
            #EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:3.5,\na.m4s\n\
            #EXT-X-KEY:METHOD=NONE\n#EXTINF:2,\nb.m4s\n#EXT-X-ENDLIST\n";
        let m = media(text);
        assert!(m.ended);
        assert_eq!(m.target_duration, None);
        assert_eq!(m.target_duration_secs(), Some(3.5));
        assert!(m.segments[0].encrypted && !m.segments[1].encrypted);
        assert!(m.segments.iter().all(|s| s.has_map));
        assert_eq!(m.segments[0].sequence, 0);
    }

    #[test]
    fn a_master_playlist() {
        let text = "#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"en, main\",URI=\"audio/en.m3u8\"\n\
            #EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360,CODECS=\"avc1.4d401e,mp4a.40.2\"\nlow/index.m3u8\n\
            #EXT-X-STREAM-INF:PROGRAM-ID=1, BANDWIDTH=2500000\nhttp://other.example/high.m3u8\n";
        let Playlist::Master(m) = parse(text, BASE).expect("parse") else {
            panic!("not a master");
        };
        assert_eq!(m.variants.len(), 2);
        assert_eq!(
            m.variants[0].uri,
            "http://up.example:8080/live/user/pass/42/low/index.m3u8"
        );
        assert_eq!(m.variants[0].bandwidth, 800_000);
        assert_eq!(m.variants[1].bandwidth, 2_500_000);
        assert_eq!(
            m.renditions,
            ["http://up.example:8080/live/user/pass/42/audio/en.m3u8"]
        );
    }

    #[test]
    fn not_a_playlist_and_bad_base() {
        assert_eq!(parse("<html>", BASE).unwrap_err(), HlsError::NotAPlaylist);
        assert_eq!(parse("", BASE).unwrap_err(), HlsError::NotAPlaylist);
        assert!(matches!(
            parse("#EXTM3U\n", "relative/x.m3u8"),
            Err(HlsError::BadBase(_))
        ));
        // Garbage inside a playlist is tolerated.
        let m = media("#EXTM3U\n#EXTINF:abc\nx.ts\n#EXT-X-MEDIA-SEQUENCE:-4\n#EXTINF\n#EXT\n");
        assert_eq!(m.segments.len(), 1);
        assert_eq!(m.segments[0].duration, 0.0);
    }

    #[test]
    fn rewrite_replaces_every_uri_and_keeps_the_rest() {
        let text = "\u{feff}#EXTM3U\r\n#EXT-X-TARGETDURATION:4\r\n#EXT-X-MEDIA-SEQUENCE:7\r\n\
            #EXT-X-KEY:METHOD=AES-128,URI=\"https://keys.example/k?id=1\",IV=0x00\r\n\
            #EXT-X-MAP:URI=init.mp4,BYTERANGE=\"10@0\"\r\n\
            #EXTINF:4.0,\r\nseg7.ts\r\n#EXTINF:4.0,\r\nseg8.ts\r\n# a comment\r\n";
        let mut seen = Vec::new();
        let out = rewrite(text, BASE, |u| {
            seen.push((u.kind, u.resolved.to_string(), u.sequence));
            format!("/hls/T/{}", seen.len())
        })
        .expect("rewrite");
        assert_eq!(
            out,
            "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:7\n\
             #EXT-X-KEY:METHOD=AES-128,URI=\"/hls/T/1\",IV=0x00\n\
             #EXT-X-MAP:URI=/hls/T/2,BYTERANGE=\"10@0\"\n\
             #EXTINF:4.0,\n/hls/T/3\n#EXTINF:4.0,\n/hls/T/4\n# a comment\n"
        );
        assert_eq!(
            seen,
            [
                (UriKind::Key, "https://keys.example/k?id=1".into(), None),
                (
                    UriKind::Map,
                    "http://up.example:8080/live/user/pass/42/init.mp4".into(),
                    None
                ),
                (
                    UriKind::Segment,
                    "http://up.example:8080/live/user/pass/42/seg7.ts".into(),
                    Some(7)
                ),
                (
                    UriKind::Segment,
                    "http://up.example:8080/live/user/pass/42/seg8.ts".into(),
                    Some(8)
                ),
            ]
        );
    }

    #[test]
    fn rewrite_a_master_leaves_no_upstream_uri() {
        let text = "#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"x,y\",URI=\"a.m3u8\"\n\
            #EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1,URI=\"iframe.m3u8\"\n\
            #EXT-X-STREAM-INF:BANDWIDTH=1,AUDIO=\"a\"\nv1.m3u8\n";
        let mut kinds = Vec::new();
        let out = rewrite(text, BASE, |u| {
            kinds.push(u.kind);
            "X".to_string()
        })
        .expect("rewrite");
        assert_eq!(
            kinds,
            [UriKind::Rendition, UriKind::Rendition, UriKind::Variant]
        );
        assert!(!out.contains("m3u8"), "{out}");
        assert!(out.contains("NAME=\"x,y\",URI=\"X\""), "{out}");
    }

    #[test]
    fn attributes_tolerate_spaces_and_odd_quoting() {
        assert_eq!(attribute("A=1, B=\"x,y\" ,c=3", "C"), Some("3"));
        assert_eq!(attribute("A=1, B=\"x,y\" ,c=3", "b"), Some("x,y"));
        assert_eq!(attribute("URI=\"unterminated", "URI"), Some("unterminated"));
        assert_eq!(attribute("noequals", "URI"), None);
        assert_eq!(attribute("", "URI"), None);
        assert_eq!(attribute("=,=,URI=", "URI"), Some(""));
    }

    /// Found by fuzz/ (`hls_playlist`): the sequence of the segment after
    /// one numbered 2^64 - 1 overflowed (a panic with overflow checks).
    #[test]
    fn a_media_sequence_at_the_top_does_not_overflow() {
        let text = "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:18446744073709551615\n\
            #EXTINF:1,\na.ts\n#EXTINF:1,\nb.ts\n";
        let seqs: Vec<_> = media(text).segments.iter().map(|s| s.sequence).collect();
        assert_eq!(seqs, [u64::MAX, u64::MAX]);
        let mut seen = Vec::new();
        rewrite(text, BASE, |u| {
            seen.extend(u.sequence);
            u.resolved.to_string()
        })
        .expect("rewrite");
        assert_eq!(seen, [u64::MAX, u64::MAX]);
    }
}
