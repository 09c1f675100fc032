//! `tvgate doctor`: the subscriber's half of tvgate. Given what a person
//! has (a server URL and credentials, an M3U URL, or a pasted line from a
//! welcome e-mail), it works through the seed article's five causes of
//! "Failed to Authorize" in order (typing, name resolution, transport,
//! account, stream), gives each check a verdict with its evidence and the
//! fix in plain words, names the most likely cause, and writes the support
//! report.
//!
//! It speaks only the public protocols (Xtream Codes API, M3U, HTTP, DNS,
//! DNS-over-HTTPS), so it works against any provider; against tvgate it
//! also reads the documented `tvgate.reason` extension and is exact.
//!
//! Layout: the pure parts (what was typed: `input`, `typing`; the verdict:
//! `verdict`; the report: `report`) never touch the network; the probes
//! (`dns`, `transport`, `account`, `stream`) each return [`check::Check`]s
//! and have a timeout on every step, so the doctor never hangs. `run` ties
//! them together; `console` shows progress.
//!
//! Entry point: [`run::run`] with [`run::Options`]; render the returned
//! [`report::Report`] with [`report::render_text`],
//! [`report::render_markdown`] or [`report::Report::to_json`]; exit with
//! `report.diagnosis.exit_code`.

pub mod account;
pub mod check;
pub mod console;
pub mod fetch;
pub mod input;
pub mod report;
pub mod run;
pub mod stream;
pub mod typing;
pub mod verdict;

// Stand-in for the DNS and transport probes until `dns.rs` and
// `transport.rs` land: the lead replaces these two lines with
// `pub mod dns; pub mod transport;` and `use crate as net;` in run.rs
// (or `crate::{dns, transport}`), then deletes net_stub.rs.
mod net_stub;
pub(crate) use net_stub as net;

pub use check::{Cause, Check, Step, Verdict};
pub use run::{run, DoctorError, Options};
