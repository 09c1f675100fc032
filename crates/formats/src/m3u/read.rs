//! The tolerant, streaming M3U reader.
//!
//! Lines end at `\n`, `\r\n` or a bare `\r`. Each line is handed over as a
//! slice of the reader's own buffer when it lies within one fill (the common
//! case), or gathered in one reused `Vec` when it straddles two. Invalid UTF-8
//! is replaced line by line (U+FFFD) and reported once.

use super::{Entry, ReadSummary};
use crate::Diagnostic;
use std::borrow::Cow;
use std::io::{self, BufRead};

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Reads a playlist, streaming: each entry is handed to `on_entry` as soon as
/// its URL line is read. Only I/O fails; bad content becomes diagnostics.
///
/// What is kept and what is reported (see protocols.md §4.2):
/// - a missing `#EXTM3U` is reported and the lines are read anyway;
/// - attribute values may be `"double"`- or `'single'`-quoted or bare
///   (`tvg-shift=+1`, ending at white space or the title comma); the title is
///   the text after the first comma outside quotes;
/// - an `#EXTINF` without a comma takes `tvg-name` as its title (reported);
///   an unterminated quote ends at the last comma of the line (reported);
/// - `#EXTGRP:` and `#EXTVLCOPT:` apply to the entry they sit in, or, when
///   written before an `#EXTINF`, to the next entry; other `#` lines are
///   ignored;
/// - an `#EXTINF` not followed by a URL, a URL without an `#EXTINF` and a
///   line that is neither a directive nor a URL (say, the second half of a
///   name broken by a newline) are reported and skipped;
/// - a playlist with `#EXT-X-TARGETDURATION` or `#EXT-X-MEDIA-SEQUENCE` is an
///   HLS media playlist: reported, and reading stops there.
pub fn read<R: BufRead>(mut input: R, mut on_entry: impl FnMut(Entry)) -> io::Result<ReadSummary> {
    let mut parser = Parser::default();
    // Holds a line only when it straddles two fills of the reader's buffer.
    let mut partial: Vec<u8> = Vec::new();
    // A `\r` ended the last line: a `\n` right after it belongs to it.
    let mut after_cr = false;
    let mut line_no: u64 = 0;
    loop {
        let available = match input.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            if !partial.is_empty() {
                line_no += 1;
                parser.line(line_no, &partial, &mut on_entry);
            }
            break;
        }
        if after_cr {
            after_cr = false;
            if available[0] == b'\n' {
                input.consume(1);
                continue;
            }
        }
        let (used, flow) = match memchr::memchr2(b'\n', b'\r', available) {
            Some(end) => {
                let mut used = end + 1;
                if available[end] == b'\r' {
                    match available.get(end + 1) {
                        Some(b'\n') => used += 1,
                        Some(_) => {}
                        None => after_cr = true,
                    }
                }
                line_no += 1;
                let flow = if partial.is_empty() {
                    parser.line(line_no, &available[..end], &mut on_entry)
                } else {
                    partial.extend_from_slice(&available[..end]);
                    let flow = parser.line(line_no, &partial, &mut on_entry);
                    partial.clear();
                    flow
                };
                (used, flow)
            }
            None => {
                partial.extend_from_slice(available);
                (available.len(), Flow::Go)
            }
        };
        input.consume(used);
        if flow == Flow::Stop {
            return Ok(parser.summary);
        }
    }
    Ok(parser.finish())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Go,
    Stop,
}

#[derive(Default)]
struct Parser {
    summary: ReadSummary,
    /// The `#EXTINF` waiting for its URL.
    pending: Option<Entry>,
    /// `#EXTGRP:` / `#EXTVLCOPT:` seen before the next `#EXTINF`.
    pre_group: Option<String>,
    pre_vlc_opts: Vec<(String, String)>,
    /// `#EXTM3U` was seen, or its absence reported.
    header_done: bool,
    /// Invalid UTF-8 was reported already.
    reported_utf8: bool,
}

impl Parser {
    fn report(&mut self, line: u64, message: impl Into<String>) {
        self.summary
            .diagnostics
            .push(Diagnostic::new(line, message));
    }

    fn line(&mut self, no: u64, raw: &[u8], on_entry: &mut impl FnMut(Entry)) -> Flow {
        let raw = if no == 1 {
            raw.strip_prefix(BOM).unwrap_or(raw)
        } else {
            raw
        };
        let text = match std::str::from_utf8(raw) {
            Ok(s) => Cow::Borrowed(s),
            Err(_) => {
                if !self.reported_utf8 {
                    self.reported_utf8 = true;
                    self.report(
                        no,
                        "invalid UTF-8 (a Latin-1 playlist?): bad bytes replaced with U+FFFD; \
                         later lines with bad bytes are not reported",
                    );
                }
                String::from_utf8_lossy(raw)
            }
        };
        let line = text.trim_ascii();
        if line.is_empty() {
            return Flow::Go;
        }
        if let Some(rest) = strip_prefix_ci(line, "#EXTM3U") {
            if rest.is_empty() || rest.starts_with([' ', '\t']) {
                // A later header (concatenated playlists) is ignored.
                if !self.header_done {
                    self.header_done = true;
                    let mut attrs = Vec::new();
                    self.parse_attrs(no, rest, &mut attrs, false);
                    self.summary.header.attrs = attrs;
                }
                return Flow::Go;
            }
        }
        if !line.starts_with('#') {
            self.check_header(no);
            self.url_line(no, line, on_entry);
            return Flow::Go;
        }
        if let Some(rest) = strip_prefix_ci(line, "#EXTINF:") {
            self.check_header(no);
            self.extinf(no, rest);
        } else if let Some(rest) = strip_prefix_ci(line, "#EXTGRP:") {
            let group = rest.trim().to_owned();
            match &mut self.pending {
                Some(entry) => entry.group = Some(group),
                None => self.pre_group = Some(group),
            }
        } else if let Some(rest) = strip_prefix_ci(line, "#EXTVLCOPT:") {
            let (k, v) = rest.split_once('=').unwrap_or((rest, ""));
            let opt = (k.trim().to_owned(), v.trim().to_owned());
            match &mut self.pending {
                Some(entry) => entry.vlc_opts.push(opt),
                None => self.pre_vlc_opts.push(opt),
            }
        } else if strip_prefix_ci(line, "#EXT-X-TARGETDURATION").is_some()
            || strip_prefix_ci(line, "#EXT-X-MEDIA-SEQUENCE").is_some()
        {
            self.report(no, "this is an HLS media playlist, not a channel list");
            self.pending = None;
            return Flow::Stop;
        }
        // Any other `#` line (#KODIPROP, #EXT-X-..., comments) is ignored.
        Flow::Go
    }

    /// Kodi logs a missing header and reads on; IPP and xTeVe refuse the file.
    fn check_header(&mut self, no: u64) {
        if !self.header_done {
            self.header_done = true;
            self.report(no, "no #EXTM3U header before the first entry; reading on");
        }
    }

    fn extinf(&mut self, no: u64, rest: &str) {
        self.report_dangling();
        let rest = rest.trim_start();
        let dur_len = rest
            .bytes()
            .take_while(|b| matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.'))
            .count();
        let (duration, rest) = rest.split_at(dur_len);
        let mut entry = Entry {
            line: no,
            duration: duration.to_owned(),
            attrs: Vec::with_capacity(8),
            group: self.pre_group.take(),
            vlc_opts: std::mem::take(&mut self.pre_vlc_opts),
            ..Entry::default()
        };
        match self.parse_attrs(no, rest, &mut entry.attrs, true) {
            AttrsEnd::Comma(at) => entry.title = rest.get(at..).unwrap_or("").trim().to_owned(),
            end => {
                if end == AttrsEnd::NoComma {
                    self.report(no, "#EXTINF has no comma before the title; using tvg-name");
                }
                entry.title = entry.attr("tvg-name").unwrap_or("").trim().to_owned();
            }
        }
        self.pending = Some(entry);
    }

    fn url_line(&mut self, no: u64, line: &str, on_entry: &mut impl FnMut(Entry)) {
        // Kodi's `url|User-Agent=...&Referer=...`: the headers are not ours.
        let url = line.split('|').next().unwrap_or("").trim_ascii_end();
        if !looks_like_url(url) {
            self.report(no, "line is neither a directive nor a URL; skipped");
            return;
        }
        match self.pending.take() {
            Some(mut entry) => {
                entry.url = url.to_owned();
                self.summary.entries += 1;
                on_entry(entry);
            }
            None => self.report(no, "URL without a preceding #EXTINF; skipped"),
        }
    }

    fn report_dangling(&mut self) {
        if let Some(entry) = self.pending.take() {
            self.report(entry.line, "#EXTINF without a URL after it; skipped");
        }
    }

    fn finish(mut self) -> ReadSummary {
        self.report_dangling();
        self.summary
    }

    /// Reads `key="value"` pairs from `s`. In an `#EXTINF` (`in_extinf`) the
    /// first comma outside quotes ends them and starts the title.
    fn parse_attrs(
        &mut self,
        no: u64,
        s: &str,
        attrs: &mut Vec<(String, String)>,
        in_extinf: bool,
    ) -> AttrsEnd {
        let b = s.as_bytes();
        let is_comma = |c: u8| c == b',' && in_extinf;
        let mut i = 0;
        // Every index below stops at an ASCII byte or at the end, so every
        // `s.get(..)` is on a char boundary; `unwrap_or` is never taken.
        let sub = |from: usize, to: usize| s.get(from..to).unwrap_or("");
        loop {
            while i < b.len() && (b[i].is_ascii_whitespace() || (b[i] == b',' && !in_extinf)) {
                i += 1;
            }
            if i >= b.len() {
                return AttrsEnd::NoComma;
            }
            if is_comma(b[i]) {
                return AttrsEnd::Comma(i + 1);
            }
            let key_start = i;
            while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'=' && !is_comma(b[i]) {
                i += 1;
            }
            let key = sub(key_start, i);
            if i >= b.len() || b[i] != b'=' {
                // A bare word: not an attribute, nothing to keep.
                continue;
            }
            i += 1;
            let value = match b.get(i) {
                Some(&q) if q == b'"' || q == b'\'' => {
                    i += 1;
                    match memchr::memchr(q, &b[i..]) {
                        Some(len) => {
                            let v = sub(i, i + len);
                            i += len + 1;
                            v
                        }
                        None => {
                            self.report(
                                no,
                                format!("unterminated quote in the value of {key}; it ends at the last comma"),
                            );
                            let comma = if in_extinf {
                                memchr::memrchr(b',', &b[i..])
                            } else {
                                None
                            };
                            let end = comma.map_or(b.len(), |c| i + c);
                            if !key.is_empty() {
                                attrs.push((key.to_owned(), sub(i, end).to_owned()));
                            }
                            return match comma {
                                Some(_) => AttrsEnd::Comma(end + 1),
                                None => AttrsEnd::Unterminated,
                            };
                        }
                    }
                }
                _ => {
                    let start = i;
                    while i < b.len() && !b[i].is_ascii_whitespace() && !is_comma(b[i]) {
                        i += 1;
                    }
                    sub(start, i)
                }
            };
            if !key.is_empty() {
                attrs.push((key.to_owned(), value.to_owned()));
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AttrsEnd {
    /// The title starts at this byte index.
    Comma(usize),
    NoComma,
    /// An unterminated quote ran to the end of the line (already reported).
    Unterminated,
}

/// `line` without `prefix`, compared ASCII-case-insensitively.
fn strip_prefix_ci<'a>(line: &'a str, prefix: &str) -> Option<&'a str> {
    let head = line.as_bytes().get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix.as_bytes()) {
        line.get(prefix.len()..)
    } else {
        None
    }
}

/// A URL, or a path a player would open: `scheme://...`, or one word with a
/// `/`, `.`, `:` or `\` in it. Rules out stray words such as the second half
/// of a display name broken by a newline.
fn looks_like_url(s: &str) -> bool {
    if s.is_empty() {
        return false;
    }
    if memchr::memmem::find(s.as_bytes(), b"://").is_some() {
        return true;
    }
    let b = s.as_bytes();
    !b.iter().any(u8::is_ascii_whitespace)
        && b.iter().any(|c| matches!(c, b'/' | b'.' | b':' | b'\\'))
}
