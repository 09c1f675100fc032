//! Moves MPEG-TS bytes from sources to viewers. Knows nothing of accounts:
//! deciding who may watch what happens before a stream is asked for.
//!
//! * [`loop_source`]: an endless live channel made from one short clip (the
//!   demo channels).
//! * [`hls_source`]: an HLS upstream read as one continuous TS stream.
//! * [`hub`]: per-channel fan-out, one upstream per key shared by its viewers.
#![forbid(unsafe_code)]

pub mod hls_source;
pub mod hub;
pub mod loop_source;

pub use hub::{Hub, HubConfig, Viewer};
pub use loop_source::{demo_clip, LoopClip, LoopError, LoopStream, Pacing};
