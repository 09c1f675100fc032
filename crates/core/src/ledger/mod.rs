//! The connection ledger: who is watching what, right now.
//!
//! A connection is a *lease* with a time-to-live that the task serving it
//! renews; there are no counters that go up and down, so no crash, panic or
//! lost message can leak a slot: a lease nobody renews simply expires.
//! Admission is one atomic step (count, replace, evict, insert) so the
//! connection limit holds under any concurrency.
//!
//! The trait is async because one implementation does I/O: the Redis
//! ledger of `tvgate-redis`, shared by several nodes. The in-process
//! [`local::LocalLedger`] is the default; its futures are ready at once.
//! No I/O here, no clock: `now` is a parameter.
//!
//! `conformance` (tests only) holds the scenarios every implementation must pass; the
//! local ledger's unit tests and the Redis ledger's tests run the same ones.

#[cfg(any(test, feature = "conformance"))]
pub mod chaos;
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
pub mod local;

use crate::ids::{LineId, StreamId};
use crate::UnixTime;
use std::net::IpAddr;

/// Identifies one lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LeaseId(pub u64);

/// How the connection is served, which decides how its end is detected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseKind {
    /// A live TS socket: ends when the socket closes.
    LiveTs,
    /// HLS: no socket to watch; ends after an idle window.
    Hls,
    /// A movie or an episode.
    Vod,
}

/// What to do when a line is at its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LimitPolicy {
    /// Refuse the newcomer, naming what holds the slots.
    #[default]
    Refuse,
    /// End the oldest lease (same address and player first, then same
    /// address, then the oldest), as Xtream Codes does.
    NewestWins,
}

/// What a newcomer asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRequest {
    pub line: LineId,
    /// 0 means unlimited.
    pub max_connections: u32,
    pub policy: LimitPolicy,
    pub stream: StreamId,
    pub ip: IpAddr,
    pub user_agent: Box<str>,
    pub device: Option<Box<str>>,
    pub kind: LeaseKind,
}

/// A held slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub id: LeaseId,
    pub line: LineId,
    pub stream: StreamId,
    pub ip: IpAddr,
    pub user_agent: Box<str>,
    pub device: Option<Box<str>>,
    pub kind: LeaseKind,
    pub started: UnixTime,
    pub last_seen: UnixTime,
    /// The lease ends at this time unless renewed.
    pub expires: UnixTime,
}

/// The answer to an admission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// A slot was granted. `ended` lists leases this admission ended: the
    /// newcomer's own earlier connection (same address and player), or the
    /// oldest one under newest-wins. Their serving tasks learn it on their
    /// next renewal and stop.
    ///
    /// `resumed`: an HLS viewer came back for the same stream from the same
    /// address and player while its lease was live (a playlist reload): that
    /// lease was renewed and `id` is its id; nothing was ended or added.
    Admitted {
        id: LeaseId,
        ended: Vec<Lease>,
        resumed: bool,
    },
    /// Every slot is taken; these hold them, oldest first.
    Full { holders: Vec<Lease> },
    /// The ledger cannot be asked (a shared ledger that does not answer, under
    /// the `refuse` policy): nothing was admitted. The in-process ledger never
    /// says this.
    Unavailable,
}

/// The ledger's operations. Implementations must make `admit` atomic.
///
/// Dyn-compatible through `async-trait`, as the store port is: one
/// allocation per call is nothing next to a network round trip, and the
/// local ledger's futures complete on their first poll (its callers rely on
/// that to end a lease inside a `Drop`, see `tvgate_http::slots`).
#[async_trait::async_trait]
pub trait Ledger: Send + Sync + 'static {
    /// Admits a connection whose lease lives `ttl_secs` unless renewed. An
    /// HLS request from the same line, address, player and stream as a live
    /// HLS lease resumes that lease instead (see [`Admission::Admitted`]).
    async fn admit(&self, req: &LeaseRequest, now: UnixTime, ttl_secs: u32) -> Admission;
    /// Extends a lease; `false` when it no longer exists (ended by another
    /// admission, by the operator, or expired): the caller must stop serving.
    async fn renew(&self, id: LeaseId, now: UnixTime, ttl_secs: u32) -> bool;
    /// Ends a lease (the viewer left). Ending an unknown lease is a no-op.
    /// A movie lease shared by several range requests of one player (a seek
    /// opens another before the first closes) ends with its last request;
    /// the earlier ends return `None`.
    async fn end(&self, id: LeaseId) -> Option<Lease>;
    /// Ends a lease from outside (an operator or the subscriber in the
    /// portal), all of it however many requests share it, and makes it
    /// [`Ledger::was_ended`] on the node that serves it, so that node cuts
    /// the stream at once. `None` when there was no such lease.
    async fn cut(&self, id: LeaseId) -> Option<Lease>;
    /// The live leases of a line, oldest first.
    async fn holders(&self, line: LineId, now: UnixTime) -> Vec<Lease>;
    /// How many leases a line holds now (`active_cons`). What a person or a
    /// player is shown, never what admission decides on: a shared ledger may
    /// answer from a count at most a second old.
    async fn active(&self, line: LineId, now: UnixTime) -> u32 {
        self.holders(line, now).await.len() as u32
    }
    /// [`Ledger::active`] of each line, in the order given (a page of the
    /// console's line list in one question).
    async fn active_of(&self, lines: &[LineId], now: UnixTime) -> Vec<u32> {
        let mut counts = Vec::with_capacity(lines.len());
        for line in lines {
            counts.push(self.active(*line, now).await);
        }
        counts
    }
    /// Every live lease, by line and oldest first within a line: what the
    /// operator's live view and connection list show, in one question
    /// however many lines there are.
    async fn all(&self, now: UnixTime) -> Vec<Lease>;
    /// True when this node already knows that the lease was ended by
    /// someone else than its viewer (an admission that replaced or evicted
    /// it, a [`Ledger::cut`]), here or on another node. Answered from memory:
    /// a streaming body asks it whenever a lease end is announced (cheap
    /// for every body), and learns the rest at its next renewal.
    fn was_ended(&self, id: LeaseId) -> bool;
}

/// Picks which lease newest-wins ends: the same address and player first,
/// then the same address, then the oldest. `holders` is oldest first.
pub fn eviction_victim<'a>(holders: &'a [Lease], req: &LeaseRequest) -> Option<&'a Lease> {
    holders
        .iter()
        .find(|l| l.ip == req.ip && l.user_agent == req.user_agent)
        .or_else(|| holders.iter().find(|l| l.ip == req.ip))
        .or_else(|| holders.first())
}
