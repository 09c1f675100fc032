//! Extended M3U ("m3u_plus"): a tolerant streaming reader and allocation-free
//! writing helpers whose output every parser in protocols.md §4.2 agrees with.
//!
//! Reading ([`read()`]) never fails on content. Real playlists come with a BOM,
//! CRLF or bare CR line ends, no `#EXTM3U`, unquoted or single-quoted
//! attribute values, Latin-1 bytes, names broken over two lines, URLs without
//! an `#EXTINF`: each problem becomes a [`Diagnostic`](crate::Diagnostic)
//! with its line number and the rest of the playlist is kept. The input is
//! read line by line from the `BufRead` (no line is copied unless it spans two
//! buffer fills), so a playlist of any size streams through in constant memory
//! apart from the entries the caller keeps.
//!
//! Writing ([`write_header`], [`push_extinf`], [`push_attr`], [`push_title`],
//! [`push_url`], [`push_entry`]) appends to a `Vec<u8>` the caller reuses, so
//! `get.php` can stream a 200k-entry playlist without a String per entry.
//!
//! Deliberately absent: I/O of our own, HTTP headers (the `|Header=value`
//! suffix of a URL line is dropped, not interpreted), HLS media playlists
//! (recognised and refused with a diagnostic).

mod read;
mod write;

#[cfg(test)]
mod tests;

pub use read::read;
pub use write::{
    push_attr, push_attr_known, push_entry, push_extinf, push_extinf_plus, push_title,
    push_title_known, push_url, write_header, PlusLine, Value,
};

/// Attributes of the `#EXTM3U` header line (`x-tvg-url`, `url-tvg`, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Header {
    pub attrs: Vec<(String, String)>,
}

impl Header {
    /// The value of a header attribute, matching the key case-insensitively.
    pub fn attr(&self, key: &str) -> Option<&str> {
        find_attr(&self.attrs, key)
    }

    /// Where the guide is: the first of `x-tvg-url`, `url-tvg`, `tvg-url`
    /// that is set, and of a comma-separated list the first URL (as Kodi).
    pub fn epg_url(&self) -> Option<&str> {
        ["x-tvg-url", "url-tvg", "tvg-url"]
            .iter()
            .filter_map(|k| self.attr(k))
            .filter_map(|v| v.split(',').map(str::trim).find(|u| !u.is_empty()))
            .next()
    }
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
        find_attr(&self.attrs, key)
    }
}

fn find_attr<'a>(attrs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.as_str())
}

/// What a read produced besides the entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadSummary {
    pub header: Header,
    pub entries: u64,
    pub diagnostics: Vec<crate::Diagnostic>,
}
