//! Pure readers and writers for the formats IPTV players and sources speak:
//! M3U (extended "m3u_plus"), XMLTV, the Xtream Codes JSON shapes and the
//! basics of MPEG-TS packets; and the one URL redactor ([`redact`]) every
//! crate shows provider URLs through.
//!
//! Deliberately absent: I/O beyond the `BufRead`/`Write` a caller hands in,
//! tokio, the clock. Readers never fail on content: each bad line becomes a
//! [`Diagnostic`] with its line number and the rest of the input is kept.
#![forbid(unsafe_code)]

pub mod cidr;
pub mod diag;
pub mod gzip;
pub mod hls;
pub mod hls_live;
pub mod m3u;
pub mod mpegts;
pub mod redact;
pub mod xmltv;
pub mod xtream;

pub use diag::Diagnostic;
pub use redact::{redact_location, redact_url};
