//! End-to-end tests: a real server on 127.0.0.1:0 with a real SQLite store
//! (or, in `postgres`, a PostgreSQL database of its own), spoken to over
//! HTTP. One binary, one module per topic. `cluster` runs the binary
//! itself, three processes on one PostgreSQL and one Redis.

mod admin_api;
mod architecture;
mod catalog;
mod catchup;
mod cli;
mod client_address;
mod cluster;
mod console;
mod crash_consistency;
mod denials;
mod devices;
mod doctor;
mod doctor_devices;
mod failback;
mod frozen;
mod guide_scale;
mod harness;
mod hls;
mod hygiene;
mod limits;
mod lines_admin;
mod live_hls;
mod multinode;
mod oracles;
mod portal;
mod postgres;
mod provider;
mod refresh_safety;
// The Redis tests' support (a key prefix of a test's own, a throw-away
// redis-server), shared rather than copied.
#[path = "../../crates/redis/tests/support/mod.rs"]
mod redis_support;
mod relay;
mod request_limits;
mod slate;
mod sources_admin;
mod ssrf;
mod stalker;
mod stats;
mod tls;
mod upstream_identity;
mod vod;
mod xtream;
mod xtream_source;
