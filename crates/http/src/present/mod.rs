//! How domain values are shown to people and scripts outside the player
//! protocols: one presenter per concept, used by every face that shows it
//! (the admin API, the console, the portal) and by the command line, so
//! the same thing never reads two ways.
//!
//! Core types do not derive `Serialize` (ARCHITECTURE.md): each JSON shape
//! here is written field by field, so a change to a domain type cannot
//! silently change what a script reads. The players' wire shapes are
//! elsewhere (`xtream/wire.rs`, `stalker/`), bound by the players' quirks.

pub mod line;
