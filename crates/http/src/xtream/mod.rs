//! The Xtream Codes face: `player_api.php`, `panel_api.php`, `get.php`,
//! `xmltv.php`, their path aliases, and stream URLs. Handlers are thin: they
//! extract, call the gate, and render the wire shape (see `wire`).

pub mod get_php;
pub mod lists;
pub mod player_api;
pub mod streams;
pub mod wire;
pub mod xmltv;
