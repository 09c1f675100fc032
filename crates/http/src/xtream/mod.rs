//! The Xtream Codes face: `player_api.php`, `panel_api.php`, `get.php`,
//! `xmltv.php`, their path aliases, and stream URLs. Handlers are thin: they
//! extract, call the gate, and render the wire shape (see `wire`).
//!
//! What this face shares with the others is the floor's, not here: the
//! first step and its refusals (`crate::access`, `crate::answer`, which
//! also holds the JSON of a failed login), and the delivery of a stream
//! once its URL is read (`crate::deliver`). Nothing here is imported by
//! another face.

pub mod get_php;
pub mod lists;
pub mod player_api;
pub mod streams;
pub mod wire;
pub mod xmltv;
