//! tvgate's state shared by several nodes, in Redis (docs/redis.md).
//!
//! - `ledger.rs`: [`RedisLedger`], the connection ledger of `tvgate-core`
//!   on Redis: one Lua script per atomic step (`lua/`), leases as keys with
//!   a time-to-live in a sorted set per line, so a node that dies frees its
//!   slots when their time runs out, and no counter can leak. What happens
//!   while Redis does not answer is the operator's choice
//!   ([`WhenUnavailable`]).
//! - `subscriber.rs`: one pub/sub subscription per node, through which a
//!   node learns at once of the leases another node ended (newest-wins, an
//!   operator's end), and of the failed-login and MAC-scan limits shared
//!   with it (`limits.rs`).
//! - `link.rs`: the connection and whether Redis answers.
//!
//! Deliberately absent: a rule of admission of its own (the scripts carry
//! `LocalLedger`'s rules step by step, and core's conformance scenarios
//! run against both), HTTP and the store.
#![forbid(unsafe_code)]

mod ledger;
mod limits;
mod link;
mod scripts;
mod subscriber;

pub use ledger::RedisLedger;
pub use limits::{ScanLimits, SharedLimits};

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

/// What a node does while Redis does not answer (`ledger_unavailable`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenUnavailable {
    /// No new connection is admitted (the viewer is told
    /// `ledger_unavailable`); viewers already watching keep watching.
    Refuse,
    /// New connections are admitted against this node's own ledger (limits
    /// per node), until Redis answers again and takes them over.
    AdmitLocal,
}

impl WhenUnavailable {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "refuse" => Some(WhenUnavailable::Refuse),
            "admit_local" => Some(WhenUnavailable::AdmitLocal),
            _ => None,
        }
    }
}

/// How to reach the shared Redis.
#[derive(Debug, Clone)]
pub struct Config {
    /// `redis://[user:password@]host[:port][/db]` (or `rediss://`, `unix://`).
    pub url: String,
    /// Put before every key and channel, so several deployments can share
    /// one Redis (`tvgate:` by default).
    pub prefix: String,
    pub when_unavailable: WhenUnavailable,
    /// The failed-login buckets' limits (every node must use the same).
    pub login_limits: tvgate_core::access::limiter::LimiterSettings,
    /// The MAC-scan limits (every node must use the same).
    pub scan_limits: ScanLimits,
}

/// Why a node could not start with Redis. Every message names the URL
/// without its password.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The URL is not one the client understands.
    #[error("ledger URL {url}: {reason}")]
    BadUrl { url: String, reason: String },
    /// Redis did not answer (and the policy is `refuse`).
    #[error("cannot reach the ledger at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    /// Redis answered but refused (a wrong password, a wrong database).
    #[error("the ledger at {url} refused: {reason}")]
    Refused { url: String, reason: String },
}

/// Checks a ledger URL without connecting: `Err` says, in one line and
/// without the password, why the client cannot use it.
pub fn check_url(url: &str) -> Result<(), String> {
    redis::Client::open(url).map(|_| ()).map_err(|e| {
        format!(
            "ledger URL {}: {}",
            tvgate_formats::redact_url(url),
            link::describe(&e)
        )
    })
}

/// What this node shares through Redis.
pub struct Node {
    pub ledger: Arc<RedisLedger>,
    pub limits: Arc<SharedLimits>,
    /// Limits other nodes shared, to apply to this node's own limiters
    /// (`tvgate_core::access::share`).
    pub incoming: tokio::sync::mpsc::UnboundedReceiver<tvgate_core::access::share::SharedLimit>,
}

/// Connects this node to Redis: the ledger (whose ends and evictions bump
/// `lease_ends`, the counter the node's streaming bodies watch) and the
/// shared limits, with one subscription for both. Redis that does not
/// answer at start is an error, unless the policy is
/// [`WhenUnavailable::AdmitLocal`]: then the node starts on its own ledger,
/// says so once, and moves to Redis when it answers.
pub async fn connect(config: Config, lease_ends: Arc<AtomicU64>) -> Result<Node, ConnectError> {
    let link = Arc::new(link::Link::open(&config).await?);
    let ledger = RedisLedger::start(link.clone(), &config, lease_ends).await;
    let (limits, incoming) = SharedLimits::new(
        link.clone(),
        &config.prefix,
        config.login_limits,
        config.scan_limits,
    );
    let limits = Arc::new(limits);
    subscriber::start(
        link,
        &config.prefix,
        Arc::downgrade(&ledger),
        Arc::downgrade(&limits),
    );
    Ok(Node {
        ledger,
        limits,
        incoming,
    })
}
