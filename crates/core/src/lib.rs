//! tvgate's domain: who may watch what, and what there is to watch.
//!
//! - [`access`]: lines (subscriber lines), credential hygiene, password
//!   hashing and the keyed verifier, the failed-login limiter and the one pure
//!   function that decides every request ([`access::decide()`]).
//! - [`catalog`]: categories, live channels, movies, series and the guide, as
//!   an immutable in-memory snapshot that faces read without locks.
//! - [`ports`]: the traits the adapters implement (the store).
//! - [`stats`]: per-minute samples of what a node served (the dashboard's
//!   graphs); [`timeline`]: a line's logins and streams.
//!
//! Deliberately absent: network and disk I/O, tokio, reading the clock. Time
//! is always a parameter (`now`), so every rule here is testable as a table.
//! Types do not derive `Serialize`: wire shapes live in `tvgate-formats` and
//! are converted by hand in the faces.
#![forbid(unsafe_code)]

pub mod access;
pub mod admin;
pub mod catalog;
pub mod gate;
pub mod ids;
pub mod ledger;
pub mod ports;
pub mod stats;
pub mod timeline;

/// Seconds since the Unix epoch, UTC.
pub type UnixTime = i64;
