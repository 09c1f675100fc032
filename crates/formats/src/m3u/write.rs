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
#[inline]
pub fn push_attr(out: &mut Vec<u8>, key: &str, value: &str) {
    push_attr_known(out, key, value, false);
}

/// [`push_attr`] for a value whose cleanliness may already be known:
/// `known_clean` promises it holds no `"` and no control character (a
/// catalog checks its strings once, when it is built), and the value is
/// then copied without looking at it. With `false` the value is checked.
#[inline(always)]
pub fn push_attr_known(out: &mut Vec<u8>, key: &str, value: &str, known_clean: bool) {
    let bytes = value.as_bytes();
    debug_assert!(!known_clean || attr_is_clean(bytes), "{value:?}");
    out.reserve(key.len() + bytes.len() + 4);
    out.push(b' ');
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"=\"");
    if known_clean || attr_is_clean(bytes) {
        out.extend_from_slice(bytes);
    } else {
        push_cleaned_attr(out, bytes);
    }
    out.push(b'"');
}

#[cold]
fn push_cleaned_attr(out: &mut Vec<u8>, bytes: &[u8]) {
    push_clean(out, bytes, |b| match b {
        b'"' => Some(b'\''),
        _ if is_control(b) => Some(b' '),
        _ => None,
    });
}

/// Ends the `#EXTINF` line: `,title` and a newline. Control characters (CR
/// and LF included) become a space, so the title stays on its line. A comma
/// or a quote in the title is fine: readers take the text after the first
/// comma outside quotes (and Kodi after the last quote, so write at least
/// one attribute first; [`push_entry`] does).
#[inline]
pub fn push_title(out: &mut Vec<u8>, title: &str) {
    push_title_known(out, title, false);
}

/// [`push_title`] for a title whose cleanliness may already be known:
/// `known_clean` promises it holds no control character.
#[inline(always)]
pub fn push_title_known(out: &mut Vec<u8>, title: &str, known_clean: bool) {
    let bytes = title.as_bytes();
    debug_assert!(!known_clean || !has_control(bytes), "{title:?}");
    out.reserve(bytes.len() + 2);
    out.push(b',');
    if known_clean || !has_control(bytes) {
        out.extend_from_slice(bytes);
    } else {
        push_cleaned_title(out, bytes);
    }
    out.push(b'\n');
}

#[cold]
fn push_cleaned_title(out: &mut Vec<u8>, bytes: &[u8]) {
    push_clean(out, bytes, |b| is_control(b).then_some(b' '));
}

/// A value to write, and whether it is already known to need no cleaning
/// (see [`push_attr_known`]); `known_clean: false` means "check it".
#[derive(Debug, Clone, Copy)]
pub struct Value<'a> {
    pub text: &'a str,
    pub known_clean: bool,
}

impl<'a> Value<'a> {
    /// A value the writer checks.
    pub fn new(text: &'a str) -> Value<'a> {
        Value {
            text,
            known_clean: false,
        }
    }
}

/// The `#EXTINF` line of an m3u_plus entry as `get.php` writes it:
/// `#EXTINF:-1 tvg-id="…" tvg-name="…" tvg-logo="…" group-title="…"`, with
/// `catchup="default" catchup-days="N" catchup-source="TEMPLATE"` when the
/// channel has an archive, then `,title` and a newline.
#[derive(Debug, Clone, Copy)]
pub struct PlusLine<'a> {
    pub tvg_id: Value<'a>,
    pub tvg_name: Value<'a>,
    pub tvg_logo: Value<'a>,
    pub group_title: Value<'a>,
    /// Catch-up depth in days (0: none).
    pub catchup_days: u16,
    /// The archive URL template players fill (`{utc}`, `{duration:60}`),
    /// written with `catchup="default"` when `catchup_days` is not 0. An
    /// explicit template rather than `catchup="xc"`: Kodi derives an `xc`
    /// archive only from `/U/P/ID` and `/live/U/P/ID.m3u8` stream URLs
    /// (not `/live/U/P/ID.ts`), and fills its date in UTC where the server
    /// may read another zone; unix seconds mean one moment everywhere.
    pub catchup_source: &'a str,
    pub title: Value<'a>,
}

/// Writes a [`PlusLine`]: the same bytes as [`push_extinf`], [`push_attr`]
/// for each attribute and [`push_title`], but when every value is clean
/// (known or checked) with one reservation and the constant parts fused,
/// the hot loop of a playlist.
pub fn push_extinf_plus(out: &mut Vec<u8>, line: &PlusLine<'_>) {
    let attr_ok = |v: Value<'_>| {
        debug_assert!(!v.known_clean || attr_is_clean(v.text.as_bytes()));
        v.known_clean || attr_is_clean(v.text.as_bytes())
    };
    let title_ok = {
        let t = line.title;
        debug_assert!(!t.known_clean || !has_control(t.text.as_bytes()));
        t.known_clean || !has_control(t.text.as_bytes())
    };
    let mut days = itoa::Buffer::new();
    let days = if line.catchup_days > 0 {
        days.format(line.catchup_days)
    } else {
        ""
    };
    if attr_ok(line.tvg_id)
        && attr_ok(line.tvg_name)
        && attr_ok(line.tvg_logo)
        && attr_ok(line.group_title)
        && attr_ok(Value::new(line.catchup_source))
        && title_ok
    {
        let values = [
            line.tvg_id.text,
            line.tvg_name.text,
            line.tvg_logo.text,
            line.group_title.text,
            days,
            line.catchup_source,
            line.title.text,
        ];
        out.reserve(values.iter().map(|v| v.len()).sum::<usize>() + 100);
        out.extend_from_slice(b"#EXTINF:-1 tvg-id=\"");
        out.extend_from_slice(line.tvg_id.text.as_bytes());
        out.extend_from_slice(b"\" tvg-name=\"");
        out.extend_from_slice(line.tvg_name.text.as_bytes());
        out.extend_from_slice(b"\" tvg-logo=\"");
        out.extend_from_slice(line.tvg_logo.text.as_bytes());
        out.extend_from_slice(b"\" group-title=\"");
        out.extend_from_slice(line.group_title.text.as_bytes());
        if !days.is_empty() {
            out.extend_from_slice(b"\" catchup=\"default\" catchup-days=\"");
            out.extend_from_slice(days.as_bytes());
            out.extend_from_slice(b"\" catchup-source=\"");
            out.extend_from_slice(line.catchup_source.as_bytes());
        }
        out.extend_from_slice(b"\",");
        out.extend_from_slice(line.title.text.as_bytes());
        out.push(b'\n');
        return;
    }
    push_extinf(out);
    push_attr(out, "tvg-id", line.tvg_id.text);
    push_attr(out, "tvg-name", line.tvg_name.text);
    push_attr(out, "tvg-logo", line.tvg_logo.text);
    push_attr(out, "group-title", line.group_title.text);
    if !days.is_empty() {
        push_attr(out, "catchup", "default");
        push_attr(out, "catchup-days", days);
        push_attr(out, "catchup-source", line.catchup_source);
    }
    push_title(out, line.title.text);
}

/// Writes the URL line and its newline; control characters are dropped.
pub fn push_url(out: &mut Vec<u8>, url: &str) {
    let bytes = url.as_bytes();
    if has_control(bytes) {
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

#[inline(always)]
fn is_control(b: u8) -> bool {
    b < 0x20 || b == 0x7f
}

// The scans below have no early exit: a branch-free OR over the bytes is a
// reduction the compiler vectorises, much faster on names and URLs (tens of
// bytes) than a byte loop that can stop.

/// True when `bytes` hold a control character.
#[inline(always)]
fn has_control(bytes: &[u8]) -> bool {
    bytes.iter().fold(false, |found, &b| found | is_control(b))
}

/// True when `bytes` can go into a quoted attribute value as they are.
#[inline(always)]
fn attr_is_clean(bytes: &[u8]) -> bool {
    !bytes
        .iter()
        .fold(false, |found, &b| found | is_control(b) | (b == b'"'))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_clean_values_are_written_as_checked_ones() {
        for value in ["", "News HD", "Ünï 日本 'x' \\ <b>", "http://up/1.ts?a=b&c"] {
            let (mut checked, mut known) = (Vec::new(), Vec::new());
            push_attr(&mut checked, "tvg-name", value);
            push_title(&mut checked, value);
            push_attr_known(&mut known, "tvg-name", value, true);
            push_title_known(&mut known, value, true);
            assert_eq!(checked, known);
        }
    }

    #[test]
    fn unknown_values_are_cleaned() {
        let mut out = Vec::new();
        push_attr_known(&mut out, "tvg-name", "a\"b\r\nc\u{7f}\td", false);
        push_title_known(&mut out, "a\"b\r\nc\u{7f}\td", false);
        assert_eq!(out, b" tvg-name=\"a'b  c  d\",a\"b  c  d\n");
    }
}
