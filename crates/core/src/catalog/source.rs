//! Sources an operator adds: where the catalog and the guide come from,
//! and how tvgate may use them: a provider sells a source with a cap on
//! simultaneous connections, and its streams are either relayed through
//! tvgate (so the cap and every line's limit hold) or handed to players as
//! a redirect to the source URL.

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

/// How a source's streams reach players.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Delivery {
    /// tvgate fetches the stream and relays it: the player never sees the
    /// source URL, viewers of a channel share one upstream connection, and
    /// the source's connection cap holds.
    #[default]
    Proxy,
    /// tvgate answers with a redirect (302) to the source URL and the player
    /// fetches it itself: no bandwidth through tvgate, but the URL (and any
    /// credentials in it) is shown to the player and nothing is counted
    /// against the source's cap once the player has it.
    Redirect,
}

impl Delivery {
    pub fn as_str(self) -> &'static str {
        match self {
            Delivery::Proxy => "proxy",
            Delivery::Redirect => "redirect",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "proxy" | "relay" => Some(Delivery::Proxy),
            "redirect" | "302" => Some(Delivery::Redirect),
            _ => None,
        }
    }
}

impl std::fmt::Display for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
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
    /// Most simultaneous upstream connections the provider allows for this
    /// source (0: unlimited). tvgate never opens more.
    pub max_connections: u32,
    pub delivery: Delivery,
}

impl Source {
    /// What the catalog snapshot keeps of the source for the server.
    pub fn settings(&self) -> SourceSettings {
        SourceSettings {
            id: self.id,
            name: self.name.as_str().into(),
            max_connections: self.max_connections,
            delivery: self.delivery,
            enabled: self.enabled,
        }
    }
}

/// A source as the server needs it while serving streams: its cap and how
/// to deliver, without the refresh history [`Source`] carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceSettings {
    pub id: SourceId,
    /// For logs and metrics.
    pub name: Box<str>,
    /// 0: unlimited.
    pub max_connections: u32,
    pub delivery: Delivery,
    /// Off: players see none of the source's items.
    pub enabled: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_names_round_trip() {
        for d in [Delivery::Proxy, Delivery::Redirect] {
            assert_eq!(Delivery::parse(d.as_str()), Some(d));
        }
        assert_eq!(Delivery::parse(" Redirect "), Some(Delivery::Redirect));
        assert_eq!(Delivery::parse("stream"), None);
        assert_eq!(Delivery::default(), Delivery::Proxy);
    }
}
