//! Extended M3U ("m3u_plus"): a tolerant streaming reader and a writer that
//! every parser in protocols.md §4.2 agrees with.
//!
//! API CONTRACT (implementation pending): see the doc comments.

use crate::Diagnostic;
use std::io::{self, BufRead};

/// Attributes of the `#EXTM3U` header line (`x-tvg-url`, `url-tvg`, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Header {
    pub attrs: Vec<(String, String)>,
}

/// One playlist entry: an `#EXTINF` line, its directive lines and its URL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entry {
    /// Line number of the `#EXTINF` line (1-based).
    pub line: u64,
    /// The duration field as written (`-1`, `0`, ...).
    pub duration: String,
    /// `key="value"` attributes in the order written; keys as written.
    pub attrs: Vec<(String, String)>,
    /// The display name after the comma.
    pub title: String,
    /// The URL line, without any `|Header=value` suffix.
    pub url: String,
    /// `#EXTGRP:` of this entry, if any.
    pub group: Option<String>,
    /// `#EXTVLCOPT:key=value` lines.
    pub vlc_opts: Vec<(String, String)>,
}

impl Entry {
    /// The value of an attribute, matching the key case-insensitively.
    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }
}

/// What a read produced besides the entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadSummary {
    pub header: Header,
    pub entries: u64,
    pub diagnostics: Vec<Diagnostic>,
}

/// Reads a playlist, streaming: each entry is handed to `on_entry` as soon as
/// its URL line is read. Only I/O fails; bad content becomes diagnostics.
pub fn read<R: BufRead>(input: R, on_entry: impl FnMut(Entry)) -> io::Result<ReadSummary> {
    let _ = (input, on_entry);
    unimplemented!("m3u::read")
}
