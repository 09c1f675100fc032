//! tvgate's durable state: [`tvgate_core::ports::Store`] implemented on
//! SQLite, the embedded default that needs nothing set up.
//!
//! - [`sqlite`]: the store itself ([`SqliteStore`], opened with
//!   [`open_sqlite`] or [`open_in_memory`]), its versioned migrations
//!   (`migrations/sqlite/NNNN_name.sql`, embedded in the binary) and one
//!   module per group of trait methods.
//!
//! This is the only crate that contains SQL. It knows nothing of HTTP,
//! players or the access rules: it stores what `core` hands it and gives it
//! back, and every write is durable when the call returns.
#![forbid(unsafe_code)]

pub mod sqlite;

pub use sqlite::{open_in_memory, open_sqlite, SqliteStore};
