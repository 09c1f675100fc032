//! The streaming XMLTV reader.
//!
//! One quick-xml event buffer is reused for the whole file. Line numbers come
//! from counting the newlines of each event's bytes as they go by (every byte
//! of the document except the `<`, `>`, `</` delimiters is in some event,
//! because text is not trimmed), so nothing is scanned twice.
//!
//! Text and attribute values are unescaped leniently: the five XML entities,
//! character references and a few HTML entities real guides use (`&nbsp;`)
//! are resolved, and anything else (`AT&T`, `&unknown;`) is kept as written
//! rather than losing the element.

use super::{parse_time, Channel, Item, Programme};
use crate::Diagnostic;
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use std::borrow::Cow;
use std::io::{self, BufRead};

/// Reads a guide, streaming. Only I/O fails; a bad element is skipped with a
/// diagnostic naming its line.
///
/// A `<channel>` without an `id`, or a `<programme>` without a `channel` or
/// a usable `start`, is skipped and reported. An unusable `stop` is reported
/// and left out. Malformed XML (say, mismatched tags) is reported with its
/// line and ends the read: the items before it have been handed over, and
/// `Ok` is returned with the diagnostics. Gzip is the caller's business
/// (`crate::gzip::maybe_gunzip`).
pub fn read<R: BufRead>(input: R, on_item: impl FnMut(Item)) -> io::Result<Vec<Diagnostic>> {
    let mut reader = Reader::from_reader(input);
    // Defaults, stated because the line count relies on them: text is not
    // trimmed, end tag names are checked (a mismatch is malformed XML).
    let config = reader.config_mut();
    config.trim_text(false);
    config.check_end_names = true;
    config.expand_empty_elements = false;

    let mut state = State::new(on_item);
    let mut buf: Vec<u8> = Vec::with_capacity(16 * 1024);
    // Newlines before the event being read.
    let mut newlines: u64 = 0;
    loop {
        newlines += count_newlines(&buf);
        buf.clear();
        let line = newlines + 1;
        let event = match reader.read_event_into(&mut buf) {
            Ok(event) => event,
            Err(quick_xml::Error::Io(e)) => return Err(io::Error::new(e.kind(), e.to_string())),
            Err(e) => {
                state.report(line, format!("malformed XML ({e}); stopped reading here"));
                state.abandon(line);
                return Ok(state.diagnostics);
            }
        };
        match event {
            Event::Start(e) => state.start(&e, line, false),
            Event::Empty(e) => state.start(&e, line, true),
            Event::End(_) => state.end(),
            Event::Text(t) => state.text(&t, line, true),
            Event::CData(t) => state.text(&t, line, false),
            Event::Decl(d) => {
                if let Some(Ok(enc)) = d.encoding() {
                    state.latin1 = is_latin1(&enc);
                }
            }
            Event::Eof => {
                state.abandon(line);
                return Ok(state.diagnostics);
            }
            Event::Comment(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
}

fn count_newlines(bytes: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', bytes).count() as u64
}

fn is_latin1(name: &[u8]) -> bool {
    const NAMES: &[&[u8]] = &[
        b"iso-8859-1",
        b"iso8859-1",
        b"latin1",
        b"latin-1",
        b"iso-8859-15",
        b"windows-1252",
        b"cp1252",
    ];
    NAMES.iter().any(|n| n.eq_ignore_ascii_case(name))
}

/// The element being read at the top of the guide.
enum Open {
    None,
    Channel(Channel),
    Programme(Programme),
    /// An unusable element (already reported), read through to its end.
    Skip,
}

/// The child element whose text is being gathered.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    None,
    DisplayName,
    Title,
    Desc,
}

struct State<F> {
    on_item: F,
    diagnostics: Vec<Diagnostic>,
    /// Elements open right now.
    depth: u32,
    open: Open,
    /// Depth and line of the open channel or programme.
    item_depth: u32,
    item_line: u64,
    field: Field,
    /// The open programme's first title / desc was seen (even if empty).
    has_title: bool,
    has_desc: bool,
    /// Text of `field` so far (reused).
    text: String,
    /// The declaration names a Latin-1 encoding (else UTF-8 is assumed).
    latin1: bool,
    reported_utf8: bool,
}

impl<F: FnMut(Item)> State<F> {
    fn new(on_item: F) -> Self {
        State {
            on_item,
            diagnostics: Vec::new(),
            depth: 0,
            open: Open::None,
            item_depth: 0,
            item_line: 0,
            field: Field::None,
            has_title: false,
            has_desc: false,
            text: String::new(),
            latin1: false,
            reported_utf8: false,
        }
    }

    fn report(&mut self, line: u64, message: impl Into<String>) {
        self.diagnostics.push(Diagnostic::new(line, message));
    }

    fn start(&mut self, e: &BytesStart<'_>, line: u64, empty: bool) {
        self.depth += 1;
        let name = e.name();
        let name = name.as_ref();
        match &self.open {
            Open::None => match name {
                b"channel" => self.open_channel(e, line),
                b"programme" => self.open_programme(e, line),
                _ => {}
            },
            Open::Channel(_) | Open::Programme(_) if self.depth == self.item_depth + 1 => {
                self.open_child(e, name, line);
            }
            _ => {}
        }
        if empty {
            self.end();
        }
    }

    fn open_channel(&mut self, e: &BytesStart<'_>, line: u64) {
        self.item_depth = self.depth;
        self.item_line = line;
        let id = self.attr(e, b"id", line);
        self.open = match id {
            Some(id) if !id.is_empty() => Open::Channel(Channel {
                id,
                ..Channel::default()
            }),
            _ => {
                self.report(line, "channel without an id; skipped");
                Open::Skip
            }
        };
    }

    fn open_programme(&mut self, e: &BytesStart<'_>, line: u64) {
        self.item_depth = self.depth;
        self.item_line = line;
        self.has_title = false;
        self.has_desc = false;
        let (mut channel, mut start, mut stop) = (None, None, None);
        for attr in e.html_attributes().with_checks(false).flatten() {
            let slot = match attr.key.as_ref() {
                b"channel" => &mut channel,
                b"start" => &mut start,
                b"stop" => &mut stop,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(self.value(&attr.value, line));
            }
        }
        let channel = match channel {
            Some(c) if !c.is_empty() => c,
            _ => {
                self.report(line, "programme without a channel; skipped");
                self.open = Open::Skip;
                return;
            }
        };
        let Some(start_text) = start else {
            self.report(line, "programme without a start time; skipped");
            self.open = Open::Skip;
            return;
        };
        let Some(start) = parse_time(&start_text) else {
            self.report(
                line,
                format!("programme start {start_text:?} is not an XMLTV time; skipped"),
            );
            self.open = Open::Skip;
            return;
        };
        let stop = stop.and_then(|text| {
            let t = parse_time(&text);
            if t.is_none() {
                self.report(
                    line,
                    format!("programme stop {text:?} is not an XMLTV time; left out"),
                );
            }
            t
        });
        self.open = Open::Programme(Programme {
            line,
            channel,
            start,
            stop,
            ..Programme::default()
        });
    }

    fn open_child(&mut self, e: &BytesStart<'_>, name: &[u8], line: u64) {
        let field = match (&self.open, name) {
            (Open::Channel(_), b"display-name") => Field::DisplayName,
            (Open::Channel(c), b"icon") if c.icon.is_none() => {
                let src = self.attr(e, b"src", line).filter(|s| !s.is_empty());
                if let Open::Channel(c) = &mut self.open {
                    c.icon = src;
                }
                Field::None
            }
            // Only the first title and the first desc count; an element
            // seen but empty (`<title/>`) still counts as the first.
            (Open::Programme(_), b"title") if !self.has_title => {
                self.has_title = true;
                let lang = self.attr(e, b"lang", line).filter(|l| !l.is_empty());
                if let Open::Programme(p) = &mut self.open {
                    p.lang = lang;
                }
                Field::Title
            }
            (Open::Programme(_), b"desc") if !self.has_desc => {
                self.has_desc = true;
                Field::Desc
            }
            _ => Field::None,
        };
        self.field = field;
        self.text.clear();
    }

    fn end(&mut self) {
        let depth = self.depth;
        self.depth = depth.saturating_sub(1);
        if matches!(self.open, Open::None) {
            return;
        }
        if depth == self.item_depth + 1 && self.field != Field::None {
            let text = self.text.trim();
            match (&mut self.open, self.field) {
                (Open::Channel(c), Field::DisplayName) if !text.is_empty() => {
                    c.display_names.push(text.to_owned());
                }
                (Open::Programme(p), Field::Title) => p.title = text.to_owned(),
                (Open::Programme(p), Field::Desc) if !text.is_empty() => {
                    p.desc = Some(text.to_owned());
                }
                _ => {}
            }
            self.field = Field::None;
        } else if depth == self.item_depth {
            match std::mem::replace(&mut self.open, Open::None) {
                Open::Channel(c) => (self.on_item)(Item::Channel(c)),
                Open::Programme(p) => (self.on_item)(Item::Programme(p)),
                Open::None | Open::Skip => {}
            }
        }
    }

    fn text(&mut self, raw: &[u8], line: u64, escaped: bool) {
        if self.field == Field::None {
            return;
        }
        let decoded = self.decode(raw, line);
        if escaped {
            unescape_into(&mut self.text, &decoded);
        } else {
            self.text.push_str(&decoded);
        }
    }

    /// The file ended or broke: an element still open is lost.
    fn abandon(&mut self, line: u64) {
        let what = match self.open {
            Open::Channel(_) => "channel",
            Open::Programme(_) => "programme",
            Open::None | Open::Skip => return,
        };
        let opened = self.item_line;
        self.report(
            line,
            format!("the {what} opened on line {opened} is not closed; skipped"),
        );
        self.open = Open::None;
    }

    /// The unescaped value of attribute `key`, if present.
    fn attr(&mut self, e: &BytesStart<'_>, key: &[u8], line: u64) -> Option<String> {
        let attr = e
            .html_attributes()
            .with_checks(false)
            .flatten()
            .find(|a| a.key.as_ref() == key)?;
        Some(self.value(&attr.value, line))
    }

    fn value(&mut self, raw: &[u8], line: u64) -> String {
        let decoded = self.decode(raw, line);
        let mut out = String::with_capacity(decoded.len());
        unescape_into(&mut out, &decoded);
        out
    }

    fn decode<'a>(&mut self, raw: &'a [u8], line: u64) -> Cow<'a, str> {
        if self.latin1 {
            return Cow::Owned(raw.iter().map(|&b| char::from(b)).collect());
        }
        // `from_utf8` has an ASCII fast path that `from_utf8_lossy` lacks.
        if let Ok(text) = std::str::from_utf8(raw) {
            return Cow::Borrowed(text);
        }
        let text = String::from_utf8_lossy(raw);
        if !self.reported_utf8 {
            self.reported_utf8 = true;
            self.report(
                line,
                "invalid UTF-8: bad bytes replaced with U+FFFD; later ones are not reported",
            );
        }
        text
    }
}

/// Appends `raw` to `out` with entity and character references resolved.
/// An `&` that does not start a reference we know is kept as written.
fn unescape_into(out: &mut String, raw: &str) {
    let bytes = raw.as_bytes();
    let mut done = 0;
    for amp in memchr::memchr_iter(b'&', bytes) {
        if amp < done {
            continue;
        }
        // Entity names are short; look for the `;` close by.
        let window = &bytes[amp + 1..bytes.len().min(amp + 34)];
        let Some(len) = memchr::memchr(b';', window) else {
            continue;
        };
        let name = raw.get(amp + 1..amp + 1 + len).unwrap_or("");
        if let Some(c) = resolve(name) {
            out.push_str(raw.get(done..amp).unwrap_or(""));
            out.push(c);
            done = amp + len + 2;
        }
    }
    out.push_str(raw.get(done..).unwrap_or(""));
}

fn resolve(name: &str) -> Option<char> {
    if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse().ok()?,
        };
        return char::from_u32(code).filter(|&c| c != '\0');
    }
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        // HTML entities that turn up in scraped guides.
        "nbsp" => '\u{a0}',
        "ndash" => '\u{2013}',
        "mdash" => '\u{2014}',
        "hellip" => '\u{2026}',
        "laquo" => '\u{ab}',
        "raquo" => '\u{bb}',
        "rsquo" => '\u{2019}',
        "lsquo" => '\u{2018}',
        "rdquo" => '\u{201d}',
        "ldquo" => '\u{201c}',
        "copy" => '\u{a9}',
        "reg" => '\u{ae}',
        _ => return None,
    })
}
