//! XMLTV: a streaming, tolerant reader (quick-xml) and a DTD-valid writer.
//!
//! Reading ([`read()`]) keeps what a player needs from a guide: channel ids,
//! display names and the first icon; for each programme its channel,
//! start/stop (unix seconds), first title (and its `lang`) and first
//! description. Real guides are messy (ids with spaces, files that fail the
//! DTD, HTML entities, truncated downloads), so the reader skips a programme
//! it cannot use with a diagnostic naming the element's line, and when the
//! XML itself breaks it reports the line and stops, keeping what it read.
//! Memory stays constant: one event buffer, reused.
//!
//! Writing ([`Writer`], or the `push_*` functions into a `Vec<u8>`) emits
//! what every consumer of protocols.md §5 accepts: an XML declaration,
//! channels before programmes, explicit `+0000`-style zones, escaped text
//! without the control characters XML 1.0 forbids.
//!
//! Times ([`parse_time`], [`format_time`]) are plain arithmetic on the civil
//! calendar: no time-zone database, no clock.
//!
//! Deliberately absent: the rest of the DTD (credits, categories, ratings...),
//! encodings other than UTF-8 and Latin-1, DTD validation.

mod read;
mod time;
mod write;

#[cfg(test)]
mod tests;

pub use read::read;
pub use time::{format_time, parse_time, push_time};
pub use write::{
    push_channel, push_epilogue, push_programme, push_programme_ref, push_prologue, ProgrammeRef,
    Writer,
};

/// A `<channel>` element.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Channel {
    pub id: String,
    pub display_names: Vec<String>,
    pub icon: Option<String>,
}

/// A `<programme>` element, with times as unix seconds (UTC).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Programme {
    pub line: u64,
    pub channel: String,
    pub start: i64,
    pub stop: Option<i64>,
    pub title: String,
    pub desc: Option<String>,
    pub lang: Option<String>,
}

/// One item of a guide, in document order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Channel(Channel),
    Programme(Programme),
}
