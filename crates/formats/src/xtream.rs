//! The Xtream Codes JSON shapes exactly as players parse them.
//!
//! Types follow the canonical XC v2 wire types (protocols.md §1.16): many
//! numbers are strings because PHP returned MySQL columns as strings, and
//! clients index keys without checking, so every key is always present.
//! Comments name the client that breaks otherwise. Fields borrow, so
//! rendering a list allocates nothing per entry.

use serde::Serialize;

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
    pub exp_date: Option<String>,
    pub is_trial: &'a str,
    /// Enigma2 clients index it unconditionally (Dispatcharr bug #990).
    pub active_cons: String,
    pub created_at: String,
    pub max_connections: String,
    /// @iptv/xtream-api and XStreamity take the first entry as the default.
    pub allowed_output_formats: Vec<&'a str>,
}

/// `server_info` of the login payload.
#[derive(Debug, Serialize)]
pub struct ServerInfo<'a> {
    /// Host only: no scheme, no port.
    pub url: &'a str,
    pub port: String,
    pub https_port: String,
    pub server_protocol: &'a str,
    pub rtmp_port: String,
    /// EPG date strings are in this zone.
    pub timezone: &'a str,
    /// A JSON number.
    pub timestamp_now: i64,
    /// `YYYY-MM-DD HH:MM:SS` in `timezone`; XStreamity derives its offset from it.
    pub time_now: String,
    pub process: bool,
}

/// tvgate's extension: the exact reason, for `doctor` and support. Players
/// ignore unknown keys. Documented in docs/denials.md.
#[derive(Debug, Serialize)]
pub struct Extension<'a> {
    pub reason: &'a str,
    pub message: &'a str,
}

/// The login payload.
#[derive(Debug, Serialize)]
pub struct Login<'a> {
    pub user_info: UserInfo<'a>,
    pub server_info: ServerInfo<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tvgate: Option<Extension<'a>>,
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
    pub name: &'a str,
    /// Always `live`: Hypnotix builds the URL path from this value.
    pub stream_type: &'a str,
    pub stream_id: u32,
    /// Hypnotix reads it unconditionally.
    pub stream_icon: &'a str,
    pub epg_channel_id: Option<&'a str>,
    /// Never empty: Hypnotix needs it, pyxtream `int()`s it.
    pub added: String,
    /// A string: pyxtream compares to `"1"`.
    pub is_adult: &'a str,
    pub category_id: Option<String>,
    pub category_ids: Vec<u32>,
    pub custom_sid: &'a str,
    pub tv_archive: u8,
    /// Kept empty so upstream URLs never leak.
    pub direct_source: &'a str,
    /// Days.
    pub tv_archive_duration: u16,
    pub thumbnail: &'a str,
}

/// An entry of `get_vod_streams`.
#[derive(Debug, Serialize)]
pub struct VodStream<'a> {
    pub num: u32,
    pub name: &'a str,
    pub title: &'a str,
    pub year: String,
    pub stream_type: &'a str,
    pub stream_id: u32,
    pub stream_icon: &'a str,
    pub rating: String,
    pub rating_5based: f32,
    pub added: String,
    pub is_adult: &'a str,
    pub category_id: Option<String>,
    pub category_ids: Vec<u32>,
    /// Hypnotix and pyxtream build `/movie/U/P/ID.EXT` from it.
    pub container_extension: &'a str,
    pub custom_sid: &'a str,
    pub direct_source: &'a str,
}

/// An entry of `get_series`.
#[derive(Debug, Serialize)]
pub struct SeriesEntry<'a> {
    pub num: u32,
    pub name: &'a str,
    pub title: &'a str,
    pub series_id: u32,
    pub stream_type: &'a str,
    /// Hypnotix requires it.
    pub cover: &'a str,
    pub plot: &'a str,
    pub cast: &'a str,
    pub director: &'a str,
    pub genre: &'a str,
    #[serde(rename = "releaseDate")]
    pub release_date: &'a str,
    /// pyxtream reads it unconditionally.
    pub last_modified: String,
    pub rating: String,
    pub rating_5based: f32,
    pub backdrop_path: Vec<&'a str>,
    pub youtube_trailer: &'a str,
    pub episode_run_time: String,
    pub category_id: Option<String>,
    pub category_ids: Vec<u32>,
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
