//! Sources an operator adds: where the catalog and the guide come from.

use crate::ids::SourceId;
use crate::UnixTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// An M3U playlist (channels, movies, series).
    M3u,
    /// An XMLTV guide, plain or gzip.
    Xmltv,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::M3u => "m3u",
            SourceKind::Xmltv => "xmltv",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "m3u" | "m3u8" | "m3u_plus" => Some(SourceKind::M3u),
            "xmltv" | "epg" | "xml" => Some(SourceKind::Xmltv),
            _ => None,
        }
    }
}

/// A source and the outcome of its last refresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub id: SourceId,
    pub kind: SourceKind,
    /// A file path or an http(s) URL.
    pub location: String,
    pub name: String,
    pub created_at: UnixTime,
    pub last_refresh: Option<UnixTime>,
    /// Entries (or programmes) the last refresh kept.
    pub item_count: u64,
    /// Why the last refresh failed as a whole, if it did.
    pub last_error: Option<String>,
    /// Lines the last refresh skipped, as `line N: what`.
    pub diagnostics: Vec<String>,
    pub enabled: bool,
}
