//! The operator's faces: the JSON API under `/api/v1/` (token auth,
//! [`api`]), its OpenAPI document ([`openapi`]), and the console's
//! sessions with CSRF protection under `/admin/` ([`session`]) and its
//! pages ([`console`]); sources and channels in both ([`api_sources`],
//! [`console_sources`]) with refreshes run in the background ([`importer`]).
//!
//! Every operation calls the same gate method the CLI calls; this module
//! only turns requests into those calls and answers into JSON or HTML.

pub mod api;
pub mod api_sources;
pub mod console;
pub mod console_sources;
pub mod error;
pub mod importer;
pub mod openapi;
pub mod session;

pub use error::ApiError;
