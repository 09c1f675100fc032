//! Limits shared with other nodes: the port through which a node tells the
//! others about a failed login, a trusted address or an unknown MAC, and
//! what it hears back from them.
//!
//! Each node keeps deciding from its own limiters in memory, so a login
//! never waits for another machine ([`super::limiter`]). What is shared is
//! what fills them: every failure goes out (in the background, after the
//! answer) to a shared bucket, and the level that bucket reaches comes back
//! to every node, which raises its own bucket to it. So a guessing run
//! spread over several nodes meets one budget, late by the time one message
//! takes to go round (docs/security.md says how late).
//!
//! No I/O here: an implementation hands the work to a task of its own and
//! never blocks the caller.

use crate::UnixTime;
use std::net::IpAddr;

/// Where a node's limiter events go (`tvgate-redis` when several nodes
/// share one Redis). Every method returns at once.
pub trait LimitShare: Send + Sync + 'static {
    /// A login failed here (already counted by this node's limiter).
    fn login_failed(&self, ip: IpAddr, username_key: &str, now: UnixTime);
    /// An address proved a line's password here while that username was
    /// being guessed: it is trusted for the username on every node.
    fn login_trusted(&self, ip: IpAddr, username_key: &str);
    /// An address presented an unknown MAC here (the Stalker portal).
    fn mac_missed(&self, ip: IpAddr, mac: &str, now: UnixTime);
}

/// What another node (or the shared bucket) says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SharedLimit {
    /// After a failure somewhere, the shared buckets of its address and of
    /// its username stood at these levels (milli-failures) at `at`.
    Failures {
        ip: IpAddr,
        ip_level_milli: u64,
        username_key: String,
        username_level_milli: u64,
        at: UnixTime,
    },
    /// `ip` logged in to the line of `username_key` successfully.
    Trusted { ip: IpAddr, username_key: String },
    /// `ip` scanned for MACs: blocked until `until`.
    ScanBlocked { ip: IpAddr, until: UnixTime },
}
