//! The HLS playlist reader and rewriter (`tvgate_formats::hls`): what the
//! proxied-HLS face and the HLS upstream read from providers.
//!
//! Checks: no panic; `parse` and `rewrite` accept and refuse the same
//! texts; the URIs `rewrite` hands over are the ones `parse` found (each
//! segment with the same sequence number, each variant in order); and a
//! playlist rewritten with every URI left as resolved parses to the same
//! playlist.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tvgate_formats::hls::{self, Playlist, UriKind};

const BASES: [&str; 3] = [
    "http://up.example:8080/live/user/pass/42/index.m3u8?token=abc",
    "https://cdn.example/a/b/",
    "http://[::1]:81/x.m3u8",
];

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let base = BASES[usize::from(first) % BASES.len()];
    let text = String::from_utf8_lossy(rest);
    let parsed = hls::parse(&text, base);
    let mut seen: Vec<(UriKind, String, Option<u64>)> = Vec::new();
    let rewritten = hls::rewrite(&text, base, |u| {
        seen.push((u.kind, u.resolved.to_string(), u.sequence));
        u.resolved.to_string()
    });
    let (parsed, rewritten) = match (parsed, rewritten) {
        (Ok(p), Ok(r)) => (p, r),
        (Err(a), Err(b)) => {
            assert_eq!(a, b);
            return;
        }
        (p, r) => panic!("parse and rewrite disagree: {p:?} / {r:?}"),
    };
    match &parsed {
        Playlist::Media(m) => {
            let _ = m.target_duration_secs();
            let segments: Vec<(&str, Option<u64>)> = seen
                .iter()
                .filter(|(k, _, _)| *k == UriKind::Segment)
                .map(|(_, u, s)| (u.as_str(), *s))
                .collect();
            let want: Vec<(&str, Option<u64>)> = m
                .segments
                .iter()
                .map(|s| (s.uri.as_str(), Some(s.sequence)))
                .collect();
            assert_eq!(segments, want);
        }
        Playlist::Master(m) => {
            let variants: Vec<&str> = seen
                .iter()
                .filter(|(k, _, _)| *k == UriKind::Variant)
                .map(|(_, u, _)| u.as_str())
                .collect();
            let want: Vec<&str> = m.variants.iter().map(|v| v.uri.as_str()).collect();
            assert_eq!(variants, want);
        }
    }
    let again = hls::parse(&rewritten, base).expect("a rewritten playlist parses");
    assert_eq!(parsed, again, "rewritten:\n{rewritten}");
});
