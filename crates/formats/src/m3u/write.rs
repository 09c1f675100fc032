//! Writing helpers: append one piece of a playlist to a reused `Vec<u8>`.
//!
//! An entry is written as `push_extinf`, then `push_attr` for each attribute,
//! then `push_title` and `push_url` (or all at once with [`push_entry`]):
//!
//! ```text
//! #EXTINF:-1 tvg-id="news.uk" tvg-name="News HD" group-title="News",News HD
//! http://host/live/u/p/1001.ts
//! ```
//!
//! Values are made safe for every parser of protocols.md §4.2 (emission
//! rules): no raw `"` inside a quoted value (it becomes `'`), no CR, LF or
//! other control character anywhere (they become a space in values and titles
//! and are dropped from URLs), so one entry always stays two lines.

/// Writes the first line: `#EXTM3U`, and with a guide URL
/// ` x-tvg-url="…" url-tvg="…"` (Dispatcharr writes both; Kodi and IPP each
/// read one of them).
pub fn write_header(out: &mut Vec<u8>, epg_url: Option<&str>) {
    out.extend_from_slice(b"#EXTM3U");
    if let Some(url) = epg_url {
        push_attr(out, "x-tvg-url", url);
        push_attr(out, "url-tvg", url);
    }
    out.push(b'\n');
}

/// Starts an entry: `#EXTINF:-1` (the IPTV convention for live and VOD alike).
pub fn push_extinf(out: &mut Vec<u8>) {
    out.extend_from_slice(b"#EXTINF:-1");
}

/// Appends ` key="value"`. The key is written as given (callers pass
/// constants); the value has `"` replaced with `'` and control characters
/// (CR and LF included) replaced with a space.
pub fn push_attr(out: &mut Vec<u8>, key: &str, value: &str) {
    out.push(b' ');
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"=\"");
    push_clean(out, value.as_bytes(), |b| match b {
        b'"' => Some(b'\''),
        _ if is_control(b) => Some(b' '),
        _ => None,
    });
    out.push(b'"');
}

/// Ends the `#EXTINF` line: `,title` and a newline. Control characters (CR
/// and LF included) become a space, so the title stays on its line. A comma
/// or a quote in the title is fine: readers take the text after the first
/// comma outside quotes (and Kodi after the last quote, so write at least
/// one attribute first; [`push_entry`] does).
pub fn push_title(out: &mut Vec<u8>, title: &str) {
    out.push(b',');
    push_clean(out, title.as_bytes(), |b| is_control(b).then_some(b' '));
    out.push(b'\n');
}

/// Writes the URL line and its newline; control characters are dropped.
pub fn push_url(out: &mut Vec<u8>, url: &str) {
    let bytes = url.as_bytes();
    if bytes.iter().any(|&b| is_control(b)) {
        out.extend(bytes.iter().copied().filter(|&b| !is_control(b)));
    } else {
        out.extend_from_slice(bytes);
    }
    out.push(b'\n');
}

/// Writes a whole entry. With no attributes it writes `tvg-id=""`, so that
/// Kodi's "comma after the last quote" rule still finds the right comma
/// (emission rule 4).
pub fn push_entry(out: &mut Vec<u8>, attrs: &[(&str, &str)], title: &str, url: &str) {
    push_extinf(out);
    if attrs.is_empty() {
        push_attr(out, "tvg-id", "");
    }
    for (key, value) in attrs {
        push_attr(out, key, value);
    }
    push_title(out, title);
    push_url(out, url);
}

fn is_control(b: u8) -> bool {
    b < 0x20 || b == 0x7f
}

/// Appends `bytes`, replacing each byte for which `map` gives a substitute.
/// Only ASCII bytes are ever replaced (by ASCII), so UTF-8 stays valid.
fn push_clean(out: &mut Vec<u8>, bytes: &[u8], map: impl Fn(u8) -> Option<u8>) {
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if let Some(sub) = map(b) {
            out.extend_from_slice(&bytes[start..i]);
            out.push(sub);
            start = i + 1;
        }
    }
    out.extend_from_slice(&bytes[start..]);
}
