//! Access: subscriber lines, their credentials, and the decision that answers
//! every request.
//!
//! The order of work for any request is fixed: the limiter may refuse a
//! caller that is already over its failure budget; otherwise the presented
//! credentials are cleaned ([`credentials::clean_presented`]), looked up and
//! proven ([`secrets`]); then [`decide()`] turns the proof and the request into
//! `Allow` or `Deny(reason)`; the last rule is the line's device binding
//! ([`device`]). Nothing about the line is revealed before its
//! credentials are proven.

pub mod credentials;
pub mod decide;
pub mod denial;
pub mod device;
pub mod directory;
pub mod limiter;
pub mod line;
pub mod lines_csv;
pub mod proven;
pub mod refusal;
pub mod secrets;
pub mod share;
pub mod token;

pub use decide::{decide, verdict, AccessRequest, Decision, DeviceAsk, Face, Proof, Verdict};
pub use denial::Denial;
pub use device::{Binding, DevicePresented};
pub use line::{Line, LinePatch, OutputFormat, OutputFormats, Status};
