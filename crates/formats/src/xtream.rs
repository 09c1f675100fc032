//! The Xtream Codes JSON shapes exactly as players parse them.
//!
//! Types follow the canonical XC v2 wire types (protocols.md §1.16): many
//! numbers are strings because PHP returned MySQL columns as strings, and
//! clients index keys without checking, so every key is always present.
//! Comments name the client that breaks otherwise. Fields borrow, so
//! rendering a list allocates nothing per entry.
//!
//! The list entries ([`LiveStream`], [`VodStream`], [`SeriesEntry`]) are
//! written by hand (`write_json`), a 100k-entry list being the largest
//! answer we send; their `Serialize` derive stays as the reference the
//! tests compare the hand-written bytes with.
//!
//! [`upstream`] is the other direction: reading a provider's answers when
//! tvgate imports an Xtream account.

pub mod upstream;

use serde::Serialize;
use std::io::Write as _;

/// `user_info` of the login payload.
#[derive(Debug, Serialize)]
pub struct UserInfo<'a> {
    /// Echo what authenticated: Hypnotix, pyxtream and Smarters build every
    /// stream URL from these two, not from what the user typed.
    pub username: &'a str,
    pub password: &'a str,
    pub message: &'a str,
    /// A JSON number: XStreamity treats a string `"0"` as authorised.
    pub auth: u8,
    /// `Active`, `Expired`, `Banned` or `Disabled` (case matters to XStreamity).
    pub status: &'a str,
    /// Unix seconds as a string, or null for unlimited (pyxtream `int()`s it).
    pub exp_date: Option<&'a str>,
    pub is_trial: &'a str,
    /// Enigma2 clients index it unconditionally (Dispatcharr bug #990).
    pub active_cons: &'a str,
    pub created_at: &'a str,
    pub max_connections: &'a str,
    /// @iptv/xtream-api and XStreamity take the first entry as the default.
    pub allowed_output_formats: &'a [&'a str],
}

/// `server_info` of the login payload.
#[derive(Debug, Serialize)]
pub struct ServerInfo<'a> {
    /// Host only: no scheme, no port.
    pub url: &'a str,
    pub port: &'a str,
    pub https_port: &'a str,
    pub server_protocol: &'a str,
    pub rtmp_port: &'a str,
    /// EPG date strings are in this zone.
    pub timezone: &'a str,
    /// A JSON number.
    pub timestamp_now: i64,
    /// `YYYY-MM-DD HH:MM:SS` in `timezone`; XStreamity derives its offset from it.
    pub time_now: &'a str,
    pub process: bool,
}

/// tvgate's extension: the exact reason, for `doctor` and support. Players
/// ignore unknown keys. Documented in docs/denials.md.
#[derive(Debug, Serialize)]
pub struct Extension<'a> {
    pub reason: &'a str,
    pub message: &'a str,
}

/// The login payload. Answered on every login, so it is written by hand
/// ([`Login::write_json`]) into one buffer; the `Serialize` derive stays as
/// the reference the tests compare the bytes with.
#[derive(Debug, Serialize)]
pub struct Login<'a> {
    pub user_info: UserInfo<'a>,
    pub server_info: ServerInfo<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tvgate: Option<Extension<'a>>,
}

impl Login<'_> {
    /// Appends the payload, byte for byte what `serde_json::to_vec` writes.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        let u = &self.user_info;
        out.reserve(640);
        out.extend_from_slice(b"{\"user_info\":{\"username\":");
        push_json_str(out, u.username);
        for (key, value) in [
            (&b",\"password\":"[..], u.password),
            (b",\"message\":", u.message),
        ] {
            out.extend_from_slice(key);
            push_json_str(out, value);
        }
        out.extend_from_slice(b",\"auth\":");
        push_u64(out, u.auth.into());
        out.extend_from_slice(b",\"status\":");
        push_json_str(out, u.status);
        out.extend_from_slice(b",\"exp_date\":");
        match u.exp_date {
            Some(d) => push_json_str(out, d),
            None => out.extend_from_slice(b"null"),
        }
        for (key, value) in [
            (&b",\"is_trial\":"[..], u.is_trial),
            (b",\"active_cons\":", u.active_cons),
            (b",\"created_at\":", u.created_at),
            (b",\"max_connections\":", u.max_connections),
        ] {
            out.extend_from_slice(key);
            push_json_str(out, value);
        }
        out.extend_from_slice(b",\"allowed_output_formats\":");
        push_json_str_array(out, u.allowed_output_formats.iter().copied());
        let s = &self.server_info;
        out.extend_from_slice(b"},\"server_info\":{\"url\":");
        push_json_str(out, s.url);
        for (key, value) in [
            (&b",\"port\":"[..], s.port),
            (b",\"https_port\":", s.https_port),
            (b",\"server_protocol\":", s.server_protocol),
            (b",\"rtmp_port\":", s.rtmp_port),
            (b",\"timezone\":", s.timezone),
        ] {
            out.extend_from_slice(key);
            push_json_str(out, value);
        }
        out.extend_from_slice(b",\"timestamp_now\":");
        push_i64(out, s.timestamp_now);
        out.extend_from_slice(b",\"time_now\":");
        push_json_str(out, s.time_now);
        out.extend_from_slice(if s.process {
            b",\"process\":true}"
        } else {
            b",\"process\":false}"
        });
        if let Some(t) = &self.tvgate {
            out.extend_from_slice(b",\"tvgate\":{\"reason\":");
            push_json_str(out, t.reason);
            out.extend_from_slice(b",\"message\":");
            push_json_str(out, t.message);
            out.push(b'}');
        }
        out.push(b'}');
    }
}

/// A category of any of the three lists.
#[derive(Debug, Serialize)]
pub struct Category<'a> {
    /// A numeric string: pyxtream's schema drops the group otherwise.
    pub category_id: String,
    pub category_name: &'a str,
    /// A JSON number (pyxtream's schema).
    pub parent_id: u32,
}

/// An entry of `get_live_streams`.
#[derive(Debug, Serialize)]
pub struct LiveStream<'a> {
    pub num: u32,
    pub name: Text<'a>,
    /// Always `live`: Hypnotix builds the URL path from this value.
    pub stream_type: &'a str,
    pub stream_id: u32,
    /// Hypnotix reads it unconditionally.
    pub stream_icon: Text<'a>,
    pub epg_channel_id: Option<Text<'a>>,
    /// Unix seconds as a string, never empty: Hypnotix needs it, pyxtream
    /// `int()`s it.
    #[serde(serialize_with = "as_string")]
    pub added: i64,
    /// A string: pyxtream compares to `"1"`.
    pub is_adult: &'a str,
    /// A numeric string, or null.
    #[serde(serialize_with = "category_id")]
    pub category_id: Option<u32>,
    /// `[id]`, or `[]` without a category.
    #[serde(serialize_with = "category_ids")]
    pub category_ids: Option<u32>,
    pub custom_sid: &'a str,
    pub tv_archive: u8,
    /// Kept empty so upstream URLs never leak.
    pub direct_source: &'a str,
    /// Days.
    pub tv_archive_duration: u16,
    pub thumbnail: &'a str,
}

impl LiveStream<'_> {
    /// Appends the JSON object, byte for byte what serde_json writes for
    /// this struct, without serde and without allocating.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"num\":");
        push_u64(out, self.num.into());
        out.extend_from_slice(b",\"name\":");
        self.name.write_json(out);
        out.extend_from_slice(b",\"stream_type\":");
        push_json_str(out, self.stream_type);
        out.extend_from_slice(b",\"stream_id\":");
        push_u64(out, self.stream_id.into());
        out.extend_from_slice(b",\"stream_icon\":");
        self.stream_icon.write_json(out);
        out.extend_from_slice(b",\"epg_channel_id\":");
        match self.epg_channel_id {
            Some(t) => t.write_json(out),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"added\":\"");
        push_i64(out, self.added);
        out.extend_from_slice(b"\",\"is_adult\":");
        push_json_str(out, self.is_adult);
        push_category(out, self.category_id, self.category_ids);
        out.extend_from_slice(b",\"custom_sid\":");
        push_json_str(out, self.custom_sid);
        out.extend_from_slice(b",\"tv_archive\":");
        push_u64(out, self.tv_archive.into());
        out.extend_from_slice(b",\"direct_source\":");
        push_json_str(out, self.direct_source);
        out.extend_from_slice(b",\"tv_archive_duration\":");
        push_u64(out, self.tv_archive_duration.into());
        out.extend_from_slice(b",\"thumbnail\":");
        push_json_str(out, self.thumbnail);
        out.push(b'}');
    }
}

/// An entry of `get_vod_streams`.
#[derive(Debug, Serialize)]
pub struct VodStream<'a> {
    pub num: u32,
    pub name: Text<'a>,
    pub title: Text<'a>,
    /// A string, empty when unknown.
    #[serde(serialize_with = "year")]
    pub year: Option<u16>,
    pub stream_type: &'a str,
    pub stream_id: u32,
    pub stream_icon: Text<'a>,
    /// Out of 10 with one decimal (`"7.5"`), empty when unknown.
    #[serde(serialize_with = "rating")]
    pub rating: Option<f32>,
    pub rating_5based: f32,
    /// Unix seconds as a string.
    #[serde(serialize_with = "as_string")]
    pub added: i64,
    pub is_adult: &'a str,
    #[serde(serialize_with = "category_id")]
    pub category_id: Option<u32>,
    #[serde(serialize_with = "category_ids")]
    pub category_ids: Option<u32>,
    /// Hypnotix and pyxtream build `/movie/U/P/ID.EXT` from it.
    pub container_extension: Text<'a>,
    pub custom_sid: &'a str,
    pub direct_source: &'a str,
}

impl VodStream<'_> {
    /// Appends the JSON object, byte for byte what serde_json writes.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"num\":");
        push_u64(out, self.num.into());
        out.extend_from_slice(b",\"name\":");
        self.name.write_json(out);
        out.extend_from_slice(b",\"title\":");
        self.title.write_json(out);
        out.extend_from_slice(b",\"year\":\"");
        if let Some(y) = self.year {
            push_u64(out, y.into());
        }
        out.extend_from_slice(b"\",\"stream_type\":");
        push_json_str(out, self.stream_type);
        out.extend_from_slice(b",\"stream_id\":");
        push_u64(out, self.stream_id.into());
        out.extend_from_slice(b",\"stream_icon\":");
        self.stream_icon.write_json(out);
        out.extend_from_slice(b",\"rating\":");
        match self.rating {
            Some(r) => {
                // `{:.1}` of a float holds no character JSON escapes.
                out.push(b'"');
                let _ = write!(out, "{r:.1}");
                out.push(b'"');
            }
            None => out.extend_from_slice(b"\"\""),
        }
        out.extend_from_slice(b",\"rating_5based\":");
        push_f32(out, self.rating_5based);
        out.extend_from_slice(b",\"added\":\"");
        push_i64(out, self.added);
        out.extend_from_slice(b"\",\"is_adult\":");
        push_json_str(out, self.is_adult);
        push_category(out, self.category_id, self.category_ids);
        out.extend_from_slice(b",\"container_extension\":");
        self.container_extension.write_json(out);
        out.extend_from_slice(b",\"custom_sid\":");
        push_json_str(out, self.custom_sid);
        out.extend_from_slice(b",\"direct_source\":");
        push_json_str(out, self.direct_source);
        out.push(b'}');
    }
}

/// An entry of `get_series`.
#[derive(Debug, Serialize)]
pub struct SeriesEntry<'a> {
    pub num: u32,
    pub name: Text<'a>,
    pub title: Text<'a>,
    pub series_id: u32,
    pub stream_type: &'a str,
    /// Hypnotix requires it.
    pub cover: Text<'a>,
    pub plot: Text<'a>,
    pub cast: &'a str,
    pub director: &'a str,
    pub genre: &'a str,
    #[serde(rename = "releaseDate")]
    pub release_date: &'a str,
    /// Unix seconds as a string: pyxtream reads it unconditionally.
    #[serde(serialize_with = "as_string")]
    pub last_modified: i64,
    pub rating: &'a str,
    pub rating_5based: f32,
    pub backdrop_path: &'a [&'a str],
    pub youtube_trailer: &'a str,
    pub episode_run_time: &'a str,
    #[serde(serialize_with = "category_id")]
    pub category_id: Option<u32>,
    #[serde(serialize_with = "category_ids")]
    pub category_ids: Option<u32>,
}

impl SeriesEntry<'_> {
    /// Appends the JSON object, byte for byte what serde_json writes.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"num\":");
        push_u64(out, self.num.into());
        out.extend_from_slice(b",\"name\":");
        self.name.write_json(out);
        out.extend_from_slice(b",\"title\":");
        self.title.write_json(out);
        out.extend_from_slice(b",\"series_id\":");
        push_u64(out, self.series_id.into());
        out.extend_from_slice(b",\"stream_type\":");
        push_json_str(out, self.stream_type);
        out.extend_from_slice(b",\"cover\":");
        self.cover.write_json(out);
        out.extend_from_slice(b",\"plot\":");
        self.plot.write_json(out);
        for (key, value) in [
            (&b",\"cast\":"[..], self.cast),
            (b",\"director\":", self.director),
            (b",\"genre\":", self.genre),
            (b",\"releaseDate\":", self.release_date),
        ] {
            out.extend_from_slice(key);
            push_json_str(out, value);
        }
        out.extend_from_slice(b",\"last_modified\":\"");
        push_i64(out, self.last_modified);
        out.extend_from_slice(b"\",\"rating\":");
        push_json_str(out, self.rating);
        out.extend_from_slice(b",\"rating_5based\":");
        push_f32(out, self.rating_5based);
        out.extend_from_slice(b",\"backdrop_path\":");
        push_json_str_array(out, self.backdrop_path.iter().copied());
        out.extend_from_slice(b",\"youtube_trailer\":");
        push_json_str(out, self.youtube_trailer);
        out.extend_from_slice(b",\"episode_run_time\":");
        push_json_str(out, self.episode_run_time);
        push_category(out, self.category_id, self.category_ids);
        out.push(b'}');
    }
}

/// A string value of a list entry whose escaping need may be known in
/// advance (the catalog checks its strings once): [`Text::new`] decides
/// when written, [`Text::known`] takes the caller's word. Serialises as the
/// plain string.
#[derive(Debug, Clone, Copy)]
pub struct Text<'a> {
    text: &'a str,
    /// Known to hold no `"`, `\` or control character below 0x20.
    plain: bool,
}

impl<'a> Text<'a> {
    /// A string checked when it is written.
    pub fn new(text: &'a str) -> Text<'a> {
        Text { text, plain: false }
    }

    /// A string with `plain` promising no `"`, no `\` and no character
    /// below 0x20 (it is then copied as is); `false` means "check it".
    pub fn known(text: &'a str, plain: bool) -> Text<'a> {
        debug_assert!(!plain || !needs_escape(text.as_bytes()), "{text:?}");
        Text { text, plain }
    }

    pub fn as_str(&self) -> &'a str {
        self.text
    }

    /// Appends the quoted, escaped string.
    #[inline(always)]
    pub fn write_json(&self, out: &mut Vec<u8>) {
        if self.plain {
            out.reserve(self.text.len() + 2);
            out.push(b'"');
            out.extend_from_slice(self.text.as_bytes());
            out.push(b'"');
        } else {
            push_json_str(out, self.text);
        }
    }
}

impl<'a> From<&'a str> for Text<'a> {
    fn from(text: &'a str) -> Self {
        Text::new(text)
    }
}

impl Serialize for Text<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.text)
    }
}

/// Appends a JSON array of strings, `[]` when empty, as serde_json writes it.
fn push_json_str_array<'s>(out: &mut Vec<u8>, items: impl Iterator<Item = &'s str>) {
    out.push(b'[');
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_json_str(out, item);
    }
    out.push(b']');
}

/// Appends `text` as a quoted JSON string, escaped exactly as serde_json
/// does: `"` and `\` backslashed, `\b \t \n \f \r` by name, other bytes
/// below 0x20 as `\u00XX` (lowercase hex), everything else (DEL and
/// non-ASCII included) as is.
#[inline(always)]
pub fn push_json_str(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    if needs_escape(bytes) {
        push_escaped(out, bytes);
    } else {
        out.extend_from_slice(bytes);
    }
    out.push(b'"');
}

/// True when `bytes` hold a byte JSON escapes. No early exit: a
/// branch-free OR the compiler vectorises.
#[inline(always)]
fn needs_escape(bytes: &[u8]) -> bool {
    bytes.iter().fold(false, |found, &b| {
        found | (b < 0x20) | (b == b'"') | (b == b'\\')
    })
}

#[cold]
fn push_escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short = match b {
            b'"' => b'"',
            b'\\' => b'\\',
            0x08 => b'b',
            0x09 => b't',
            0x0a => b'n',
            0x0c => b'f',
            0x0d => b'r',
            0..=0x1f => b'u',
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if short == b'u' {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        } else {
            out.push(b'\\');
            out.push(short);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

#[inline(always)]
fn push_u64(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

#[inline(always)]
fn push_i64(out: &mut Vec<u8>, n: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// A JSON number as serde_json writes an `f32` (shortest round-trip form,
/// `null` when not finite).
fn push_f32(out: &mut Vec<u8>, f: f32) {
    if f == 0.0 && f.is_sign_positive() {
        out.extend_from_slice(b"0.0");
    } else {
        // Writing into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, &f);
    }
}

/// `,"category_id":"7","category_ids":[7]` (or `null` and `[]`).
#[inline(always)]
fn push_category(out: &mut Vec<u8>, id: Option<u32>, ids: Option<u32>) {
    match id {
        Some(c) => {
            out.extend_from_slice(b",\"category_id\":\"");
            push_u64(out, c.into());
            out.push(b'"');
        }
        None => out.extend_from_slice(b",\"category_id\":null"),
    }
    match ids {
        Some(c) => {
            out.extend_from_slice(b",\"category_ids\":[");
            push_u64(out, c.into());
            out.push(b']');
        }
        None => out.extend_from_slice(b",\"category_ids\":[]"),
    }
}

fn as_string<S: serde::Serializer>(n: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(itoa::Buffer::new().format(*n))
}

fn category_id<S: serde::Serializer>(c: &Option<u32>, s: S) -> Result<S::Ok, S::Error> {
    match c {
        Some(c) => s.serialize_str(itoa::Buffer::new().format(*c)),
        None => s.serialize_none(),
    }
}

fn category_ids<S: serde::Serializer>(c: &Option<u32>, s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(c.iter())
}

fn year<S: serde::Serializer>(y: &Option<u16>, s: S) -> Result<S::Ok, S::Error> {
    match y {
        Some(y) => s.serialize_str(itoa::Buffer::new().format(*y)),
        None => s.serialize_str(""),
    }
}

fn rating<S: serde::Serializer>(r: &Option<f32>, s: S) -> Result<S::Ok, S::Error> {
    match r {
        Some(r) => s.serialize_str(&format!("{r:.1}")),
        None => s.serialize_str(""),
    }
}

/// One EPG listing of `get_short_epg` / `get_simple_data_table`.
#[derive(Debug, Serialize)]
pub struct EpgListing<'a> {
    pub id: String,
    pub epg_id: String,
    /// Standard padded base64 of the UTF-8 title (XStreamity decodes strictly).
    pub title: String,
    pub lang: &'a str,
    /// `YYYY-MM-DD HH:MM:SS` in the server's advertised time zone.
    pub start: String,
    pub end: String,
    pub stop: String,
    pub description: String,
    pub channel_id: &'a str,
    pub start_timestamp: String,
    pub stop_timestamp: String,
    pub now_playing: u8,
    pub has_archive: u8,
}

/// Standard padded base64 (RFC 4648), as XC stores EPG text.
pub fn base64(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every byte below 0x80 and some non-ASCII, alone and in company.
    fn samples() -> Vec<String> {
        let mut v: Vec<String> = (0u8..0x80).map(|b| char::from(b).to_string()).collect();
        v.extend(
            [
                "",
                "News HD",
                "Say \"Hi\" \\ back\u{7f}del\tTab",
                "Ünïcødé 日本 </script> \u{2028}",
                "a\u{1}b\u{1f}c\r\n",
            ]
            .map(String::from),
        );
        v
    }

    fn same<T: Serialize>(item: &T, written: Vec<u8>) {
        let expected = serde_json::to_vec(item).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&written),
            String::from_utf8_lossy(&expected)
        );
    }

    #[test]
    fn strings_escape_as_serde_json_does() {
        for s in samples() {
            let mut out = Vec::new();
            push_json_str(&mut out, &s);
            assert_eq!(out, serde_json::to_vec(&s).unwrap(), "{s:?}");
            let mut known = Vec::new();
            Text::known(&s, !needs_escape(s.as_bytes())).write_json(&mut known);
            assert_eq!(known, out, "{s:?}");
        }
    }

    #[test]
    fn login_payloads_are_written_as_serde_writes_them() {
        let formats: [&[&str]; 3] = [&[], &["ts"], &["ts", "m3u8", "rtmp"]];
        let mut n = 0;
        for (k, s) in samples().iter().enumerate() {
            let pw = format!("{s}-pw\\");
            for exp in [None, Some("1800000000"), Some(s.as_str())] {
                for ext in [false, true] {
                    let login = Login {
                        user_info: UserInfo {
                            username: s,
                            password: &pw,
                            message: s,
                            auth: 1,
                            status: "Active",
                            exp_date: exp,
                            is_trial: if ext { "1" } else { "0" },
                            active_cons: "0",
                            created_at: "1700000000",
                            max_connections: "4294967295",
                            allowed_output_formats: formats[k % 3],
                        },
                        server_info: ServerInfo {
                            url: s,
                            port: "8080",
                            https_port: "",
                            server_protocol: "http",
                            rtmp_port: "",
                            timezone: "Europe/Berlin",
                            timestamp_now: if ext { -1 } else { i64::MAX },
                            time_now: "2026-12-06 03:04:05",
                            process: !ext,
                        },
                        tvgate: ext.then_some(Extension {
                            reason: "expired",
                            message: s,
                        }),
                    };
                    let mut out = b"prefix".to_vec();
                    login.write_json(&mut out);
                    assert_eq!(&out[..6], b"prefix");
                    same(&login, out[6..].to_vec());
                    n += 1;
                }
            }
        }
        assert!(n >= 30);
    }

    #[test]
    fn live_entries_are_written_as_serde_writes_them() {
        for s in samples() {
            for (epg, cat, archive) in [(None, None, 0), (Some("news.uk"), Some(7), 3)] {
                let item = LiveStream {
                    num: 42,
                    name: Text::new(&s),
                    stream_type: "live",
                    stream_id: u32::MAX,
                    stream_icon: Text::known("http://logo/x.png", true),
                    epg_channel_id: epg.map(|_| Text::new(&s)),
                    added: -5,
                    is_adult: "1",
                    category_id: cat,
                    category_ids: cat,
                    custom_sid: "",
                    tv_archive: u8::from(archive > 0),
                    direct_source: "",
                    tv_archive_duration: archive,
                    thumbnail: "",
                };
                let mut out = Vec::new();
                item.write_json(&mut out);
                same(&item, out);
            }
        }
    }

    #[test]
    fn vod_and_series_entries_are_written_as_serde_writes_them() {
        let ratings = [
            None,
            Some(0.0),
            Some(-0.0),
            Some(7.25),
            Some(10.0),
            Some(1e-7),
            Some(3.4e38),
            Some(f32::NAN),
            Some(f32::INFINITY),
        ];
        for s in samples() {
            for (i, rating) in ratings.iter().enumerate() {
                let cat = (i % 2 == 0).then_some(i as u32);
                let item = VodStream {
                    num: 1,
                    name: Text::new(&s),
                    title: Text::new(&s),
                    year: cat.map(|_| 1999),
                    stream_type: "movie",
                    stream_id: 9,
                    stream_icon: Text::new(&s),
                    rating: *rating,
                    rating_5based: rating.map(|r| r / 2.0).unwrap_or(0.0),
                    added: 1_700_000_000,
                    is_adult: "0",
                    category_id: cat,
                    category_ids: cat,
                    container_extension: Text::new("mkv"),
                    custom_sid: "",
                    direct_source: "",
                };
                let mut out = Vec::new();
                item.write_json(&mut out);
                same(&item, out);
                let backdrops: &[&str] = if i % 2 == 0 { &[] } else { &["a\"", "b"] };
                let item = SeriesEntry {
                    num: 2,
                    name: Text::new(&s),
                    title: Text::new(&s),
                    series_id: 3,
                    stream_type: "series",
                    cover: Text::new(&s),
                    plot: Text::new(&s),
                    cast: "",
                    director: &s,
                    genre: "",
                    release_date: "",
                    last_modified: 0,
                    rating: "",
                    rating_5based: rating.unwrap_or(0.0),
                    backdrop_path: backdrops,
                    youtube_trailer: "",
                    episode_run_time: "",
                    category_id: cat,
                    category_ids: cat,
                };
                let mut out = Vec::new();
                item.write_json(&mut out);
                same(&item, out);
            }
        }
    }
}
