//! A line's story, for its console page: the logins and streams it made
//! (the refusals are the denial log's, `access::refusal`). Recorded by the
//! faces in batches, kept by the store, pruned with the denial log.

use crate::ids::LineId;
use crate::UnixTime;
use std::net::IpAddr;

/// Most characters kept of a channel's name, a player's name or a detail.
pub const TEXT_MAX: usize = 200;
/// Most events a line's page reads.
pub const PAGE_MAX: u32 = 500;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A player logged in (player_api, the portal, a Stalker handshake).
    Login,
    /// A stream was served on a connection slot, and ended.
    Stream,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Login => "login",
            EventKind::Stream => "stream",
        }
    }

    pub fn parse(text: &str) -> Option<EventKind> {
        match text {
            "login" => Some(EventKind::Login),
            "stream" => Some(EventKind::Stream),
            _ => None,
        }
    }
}

/// One entry of a line's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineEvent {
    pub line: LineId,
    pub kind: EventKind,
    /// When the login happened, or the stream started.
    pub at: UnixTime,
    /// When the stream ended (`None` for a login).
    pub ended: Option<UnixTime>,
    /// The channel (movie, episode) watched; empty for a login.
    pub channel: String,
    /// The player's own name (its User-Agent).
    pub player: String,
    pub ip: IpAddr,
    /// Why a stream ended (`closed`, `replaced`, `evicted`, `expired`,
    /// `frozen`, `cut`, `upstream`); the face of a login.
    pub detail: String,
}

impl LineEvent {
    /// The event with its texts cut to [`TEXT_MAX`] characters.
    pub fn bounded(mut self) -> LineEvent {
        for s in [&mut self.channel, &mut self.player, &mut self.detail] {
            if let Some((i, _)) = s.char_indices().nth(TEXT_MAX) {
                s.truncate(i);
            }
        }
        self
    }
}
