//! XMLTV: a streaming, tolerant reader (quick-xml) and a DTD-valid writer.
//!
//! API CONTRACT (implementation pending): see the doc comments.

use crate::Diagnostic;
use std::io::{self, BufRead};

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

/// Reads a guide, streaming. Only I/O fails; a bad element is skipped with a
/// diagnostic naming its line.
pub fn read<R: BufRead>(input: R, on_item: impl FnMut(Item)) -> io::Result<Vec<Diagnostic>> {
    let _ = (input, on_item);
    unimplemented!("xmltv::read")
}

/// Parses an XMLTV time (`YYYYMMDDhhmmss`, any leading part, optional ` +HHMM`
/// zone; no zone means UTC) into unix seconds.
pub fn parse_time(text: &str) -> Option<i64> {
    let _ = text;
    unimplemented!("xmltv::parse_time")
}
