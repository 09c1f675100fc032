//! tvgate's durable state: [`tvgate_core::ports::Store`] implemented on
//! SQLite, the embedded default that needs nothing set up, and on
//! PostgreSQL, which several nodes share.
//!
//! - [`sqlite`]: the SQLite store ([`SqliteStore`], opened with
//!   [`open_sqlite`] or [`open_in_memory`]) and one module per group of
//!   trait methods.
//! - [`postgres`]: the PostgreSQL store ([`PgStore`], opened with
//!   [`open_postgres`]): a small pool of tokio-postgres connections, bulk
//!   writes by binary COPY, and change notification by LISTEN/NOTIFY.
//! - [`migrations`]: the one list of schema versions, with each version's
//!   SQL for both backends (`migrations/{sqlite,postgres}/NNNN_name.sql`,
//!   embedded in the binary).
//! - [`location`]: which store a `store_url` names, and the URL as it may
//!   be shown (password redacted).
//! - `codec`: how both backends write values into columns and read them
//!   back, so the two agree on every stored text and on damaged rows.
//!
//! This is the only crate that contains SQL. It knows nothing of HTTP,
//! players or the access rules: it stores what `core` hands it and gives it
//! back, and every write is durable when the call returns.
#![forbid(unsafe_code)]

mod codec;
pub mod location;
pub mod migrations;
pub mod postgres;
pub mod sqlite;

pub use codec::{MAX_DIAGNOSTICS, MAX_DIAGNOSTIC_LEN};
pub use location::{redact_store_url, StoreLocation};
pub use postgres::{open_postgres, PgStore};
pub use sqlite::{open_in_memory, open_sqlite, SqliteStore};
