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
pub mod agents;
pub mod binding;
pub mod check;
pub mod console;
pub mod dns;
pub mod fetch;
pub mod input;
pub mod report;
pub mod run;
pub mod stalker;
pub mod stream;
pub mod transport;
pub mod typing;
pub mod verdict;

pub use check::{Cause, Check, Step, Verdict};
pub use run::{run, DoctorError, Options};
