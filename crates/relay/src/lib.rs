//! Moves MPEG-TS bytes from sources to viewers. Knows nothing of lines:
//! deciding who may watch what happens before a stream is asked for.
//!
//! * [`loop_source`]: an endless live channel made from one short clip (the
//!   demo channels).
//! * [`hls_source`]: an HLS upstream read as one continuous TS stream.
//! * [`hub`]: per-channel fan-out, one upstream per key shared by its viewers.
//! * [`upstream`]: HTTP MPEG-TS upstreams with failover to backups.
//! * [`segmenter`]: live HLS cut from a channel's TS stream, shared by its
//!   HLS viewers.
//! * [`caps`]: per-source connection caps (RAII permits).
//! * [`egress`]: where the server may connect (the SSRF guard every
//!   upstream and source client is built with).
//! * [`stats`]: the relay's counters for metrics.
#![forbid(unsafe_code)]

pub mod caps;
pub mod egress;
pub mod hls_source;
pub mod hub;
pub mod loop_source;
pub mod segmenter;
pub mod stats;
pub mod upstream;

pub use caps::{SourceCaps, SourcePermit};
pub use egress::{EgressGuard, RedirectRefused};
pub use hub::{ChannelInfo, Hub, HubConfig, Viewer};
pub use loop_source::{demo_clip, LoopClip, LoopError, LoopStream, Pacing};
pub use segmenter::{LiveSegments, SegmenterConfig, Segmenters};
pub use stats::{FailureReason, RelayStats, RelayStatsSnapshot};
pub use upstream::{http_ts, HttpTs, ProbeCap, UpstreamConfig};
