//! The XMLTV writer: a document that passes `xmllint --dtdvalid xmltv.dtd`.
//!
//! [`Writer`] streams items to any `Write`: the channels, then the
//! programmes, as the caller produces them. The `push_*` functions write the
//! same pieces into a `Vec<u8>` for callers that hand out body chunks.

use super::{push_time, Channel, Programme};
use std::io::{self, Write};

/// The XML declaration, the DOCTYPE and the `<tv>` start tag.
pub fn push_prologue(out: &mut Vec<u8>) {
    out.extend_from_slice(
        b"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
          <!DOCTYPE tv SYSTEM \"xmltv.dtd\">\n\
          <tv generator-info-name=\"tvgate\">\n",
    );
}

/// The `</tv>` end tag.
pub fn push_epilogue(out: &mut Vec<u8>) {
    out.extend_from_slice(b"</tv>\n");
}

/// One `<channel>` line. The DTD wants at least one `display-name`: a
/// channel without one is given its id as its name.
pub fn push_channel(out: &mut Vec<u8>, channel: &Channel) {
    out.extend_from_slice(b"  <channel id=\"");
    push_escaped(out, &channel.id, false);
    out.extend_from_slice(b"\">");
    let names = channel.display_names.iter().map(String::as_str);
    let fallback = channel
        .display_names
        .is_empty()
        .then_some(channel.id.as_str());
    for name in names.chain(fallback) {
        out.extend_from_slice(b"<display-name>");
        push_escaped(out, name, false);
        out.extend_from_slice(b"</display-name>");
    }
    if let Some(icon) = &channel.icon {
        out.extend_from_slice(b"<icon src=\"");
        push_escaped(out, icon, false);
        out.extend_from_slice(b"\"/>");
    }
    out.extend_from_slice(b"</channel>\n");
}

/// A programme to write, borrowed: what a server holds in its own types can
/// be written without building an owned [`Programme`] per row.
#[derive(Debug, Clone, Copy)]
pub struct ProgrammeRef<'a> {
    pub channel: &'a str,
    pub start: i64,
    pub stop: Option<i64>,
    pub title: &'a str,
    pub desc: Option<&'a str>,
    pub lang: Option<&'a str>,
}

impl<'a> From<&'a Programme> for ProgrammeRef<'a> {
    fn from(p: &'a Programme) -> Self {
        ProgrammeRef {
            channel: &p.channel,
            start: p.start,
            stop: p.stop,
            title: &p.title,
            desc: p.desc.as_deref(),
            lang: p.lang.as_deref(),
        }
    }
}

/// One `<programme>` line, times in the zone `offset_secs` east of UTC (XC
/// writes its server's zone; `0` gives `+0000`). Exactly one `<title>` (the
/// DTD wants one; it may be empty), the description if any; newlines are
/// kept in the description only.
pub fn push_programme(out: &mut Vec<u8>, programme: &Programme, offset_secs: i32) {
    push_programme_ref(out, &programme.into(), offset_secs);
}

/// [`push_programme`] for a borrowed programme.
pub fn push_programme_ref(out: &mut Vec<u8>, programme: &ProgrammeRef<'_>, offset_secs: i32) {
    out.extend_from_slice(b"  <programme start=\"");
    push_time(out, programme.start, offset_secs);
    if let Some(stop) = programme.stop {
        out.extend_from_slice(b"\" stop=\"");
        push_time(out, stop, offset_secs);
    }
    out.extend_from_slice(b"\" channel=\"");
    push_escaped(out, programme.channel, false);
    out.extend_from_slice(b"\"><title");
    if let Some(lang) = programme.lang {
        out.extend_from_slice(b" lang=\"");
        push_escaped(out, lang, false);
        out.push(b'"');
    }
    out.push(b'>');
    push_escaped(out, programme.title, false);
    out.extend_from_slice(b"</title>");
    if let Some(desc) = programme.desc {
        out.extend_from_slice(b"<desc>");
        push_escaped(out, desc, true);
        out.extend_from_slice(b"</desc>");
    }
    out.extend_from_slice(b"</programme>\n");
}

/// Appends `s` escaped for XML text and attribute values: `&`, `<`, `>`, `"`
/// as entities; the control characters XML 1.0 forbids and the
/// non-characters U+FFFE/U+FFFF dropped; tab, CR and LF turned into a space,
/// except that a description (`multiline`) keeps tab and LF.
fn push_escaped(out: &mut Vec<u8>, s: &str, multiline: bool) {
    let bytes = s.as_bytes();
    let mut done = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let (skip, replacement): (usize, &[u8]) = match b {
            b'&' => (1, b"&amp;"),
            b'<' => (1, b"&lt;"),
            b'>' => (1, b"&gt;"),
            b'"' => (1, b"&quot;"),
            b'\n' | b'\t' if multiline => {
                i += 1;
                continue;
            }
            b'\t' | b'\n' | b'\r' => (1, b" "),
            0..=0x1f => (1, b""),
            // U+FFFE and U+FFFF are EF BF BE / EF BF BF in UTF-8.
            0xef if matches!(bytes.get(i + 1..i + 3), Some([0xbf, 0xbe | 0xbf])) => (3, b""),
            _ => {
                i += 1;
                continue;
            }
        };
        out.extend_from_slice(&bytes[done..i]);
        out.extend_from_slice(replacement);
        i += skip;
        done = i;
    }
    out.extend_from_slice(&bytes[done..]);
}

/// Streams a guide to `out`: [`Writer::new`] writes the prologue, then
/// [`channel`](Writer::channel) for each channel, then
/// [`programme`](Writer::programme) for each programme, then
/// [`finish`](Writer::finish) writes `</tv>` and flushes. Output is gathered
/// in a 64 KiB buffer, so `out` need not be buffered. Dropping the writer
/// without `finish` loses the end of the document.
pub struct Writer<W: Write> {
    out: W,
    buf: Vec<u8>,
    offset_secs: i32,
    programmes_started: bool,
}

const FLUSH_AT: usize = 64 * 1024;

impl<W: Write> Writer<W> {
    /// A writer giving times in UTC (`+0000`).
    pub fn new(out: W) -> Self {
        Self::with_offset(out, 0)
    }

    /// A writer giving times in the zone `offset_secs` east of UTC.
    pub fn with_offset(out: W, offset_secs: i32) -> Self {
        let mut buf = Vec::with_capacity(FLUSH_AT + 4096);
        push_prologue(&mut buf);
        Writer {
            out,
            buf,
            offset_secs,
            programmes_started: false,
        }
    }

    /// Writes a channel. The DTD puts all channels before all programmes:
    /// a channel after a programme is refused (`InvalidInput`).
    pub fn channel(&mut self, channel: &Channel) -> io::Result<()> {
        if self.programmes_started {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "XMLTV channels must come before the programmes",
            ));
        }
        push_channel(&mut self.buf, channel);
        self.flush_if_full()
    }

    /// Writes a programme.
    pub fn programme(&mut self, programme: &Programme) -> io::Result<()> {
        self.programmes_started = true;
        push_programme(&mut self.buf, programme, self.offset_secs);
        self.flush_if_full()
    }

    /// Ends the document, flushes and hands back the output.
    pub fn finish(mut self) -> io::Result<W> {
        push_epilogue(&mut self.buf);
        self.out.write_all(&self.buf)?;
        self.out.flush()?;
        Ok(self.out)
    }

    fn flush_if_full(&mut self) -> io::Result<()> {
        if self.buf.len() >= FLUSH_AT {
            self.out.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }
}
