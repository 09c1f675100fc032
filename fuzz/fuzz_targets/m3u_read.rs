//! The M3U reader (`tvgate_formats::m3u::read`): what every playlist
//! source import reads.
//!
//! Checks: no panic; the same entries and summary whether the input comes
//! in one buffer or through a tiny `BufRead` (lines that straddle two
//! fills, a CR at the end of one fill and its LF at the start of the next);
//! and writing what was read (`push_entry`), once the writer has cleaned
//! the values, reads back to every entry written and writes the same
//! bytes again: the writer's output is a fixed point.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::io::BufReader;
use tvgate_formats::m3u::{self, Entry, ReadSummary};

fn read_all(data: &[u8], capacity: Option<usize>) -> (ReadSummary, Vec<Entry>) {
    let mut entries = Vec::new();
    let summary = match capacity {
        None => m3u::read(data, |e| entries.push(e)),
        Some(c) => m3u::read(BufReader::with_capacity(c, data), |e| entries.push(e)),
    }
    .expect("reading from memory cannot fail");
    (summary, entries)
}

/// A key the writer takes as given (its callers pass constants).
fn plain_key(k: &str) -> bool {
    !k.is_empty()
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn render(summary: &ReadSummary, entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    m3u::write_header(&mut out, summary.header.epg_url());
    for e in entries {
        if e.url.trim().is_empty() {
            continue;
        }
        let attrs: Vec<(&str, &str)> = e
            .attrs
            .iter()
            .filter(|(k, _)| plain_key(k))
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        m3u::push_entry(&mut out, &attrs, &e.title, &e.url);
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, input)) = data.split_first() else {
        return;
    };
    let (summary, entries) = read_all(input, None);
    assert_eq!(summary.entries, entries.len() as u64);

    // Streaming: a buffer of 1 to 16 bytes gives the same result.
    let capacity = usize::from(first % 16) + 1;
    let (small_summary, small_entries) = read_all(input, Some(capacity));
    assert_eq!(summary, small_summary, "buffer of {capacity}");
    assert_eq!(entries, small_entries, "buffer of {capacity}");

    // Writing is a fixed point once the writer has cleaned the values
    // (the first write turns control characters into spaces, which the
    // next read may trim): write, read, write, read, write, and the last
    // two writes are the same bytes, with every written entry read back.
    let once = render(&summary, &entries);
    let (s2, e2) = read_all(&once, None);
    let twice = render(&s2, &e2);
    let (s3, e3) = read_all(&twice, None);
    assert_eq!(e3.len(), e2.len(), "entries lost on a re-read");
    let thrice = render(&s3, &e3);
    assert_eq!(
        String::from_utf8_lossy(&twice),
        String::from_utf8_lossy(&thrice),
        "not a fixed point"
    );
});
