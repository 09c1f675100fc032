//! The connection to Redis, and whether it answers.
//!
//! One multiplexed connection per node carries every script (concurrent
//! requests share the socket, pipelined). When a request fails the link is
//! marked down and the connection dropped; from then on callers are told
//! at once that Redis is away (no request waits for a timeout per viewer)
//! and the ledger's watch task reconnects, a few times a second.

use crate::{Config, ConnectError};
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, RedisError};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::RwLock;
use std::time::Duration;

/// How long a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(1000);
/// How long one script may take to answer before Redis counts as away.
/// Scripts take microseconds; a second is a Redis that is stuck.
const RESPONSE_TIMEOUT: Duration = Duration::from_millis(1000);

pub(crate) struct Link {
    client: Client,
    /// The URL as it may be shown (no password).
    pub(crate) shown: String,
    // Held only to clone the handle or to swap it, never across `.await`.
    conn: RwLock<Option<MultiplexedConnection>>,
    up: AtomicBool,
}

impl Link {
    /// Parses the URL and connects once. An unreachable Redis is an error
    /// only under the `refuse` policy; a URL the client does not understand
    /// or a Redis that refuses the login always is.
    pub(crate) async fn open(config: &Config) -> Result<Link, ConnectError> {
        let shown = tvgate_formats::redact_url(&config.url);
        let client = Client::open(config.url.as_str()).map_err(|e| ConnectError::BadUrl {
            url: shown.clone(),
            reason: describe(&e),
        })?;
        let link = Link {
            client,
            shown,
            conn: RwLock::new(None),
            up: AtomicBool::new(false),
        };
        match link.reconnect().await {
            Ok(()) => Ok(link),
            Err(e) if is_unreachable(&e) => match config.when_unavailable {
                crate::WhenUnavailable::AdmitLocal => {
                    tracing::error!(
                        url = %link.shown,
                        error = %describe(&e),
                        "the ledger does not answer: starting with this node's own ledger (ledger_unavailable = admit_local); connection limits hold per node until it answers"
                    );
                    Ok(link)
                }
                crate::WhenUnavailable::Refuse => Err(ConnectError::Unreachable {
                    url: link.shown.clone(),
                    reason: describe(&e),
                }),
            },
            Err(e) => Err(ConnectError::Refused {
                url: link.shown.clone(),
                reason: describe(&e),
            }),
        }
    }

    /// A new connection, checked with a PING; the link is up after it.
    pub(crate) async fn reconnect(&self) -> Result<(), RedisError> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(CONNECT_TIMEOUT)
            .set_response_timeout(RESPONSE_TIMEOUT);
        let mut conn = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        redis::cmd("PING").query_async::<()>(&mut conn).await?;
        *self.conn.write().unwrap_or_else(|p| p.into_inner()) = Some(conn);
        self.up.store(true, Ordering::Release);
        Ok(())
    }

    /// The connection, `None` while the link is down.
    pub(crate) fn conn(&self) -> Option<MultiplexedConnection> {
        if !self.up.load(Ordering::Acquire) {
            return None;
        }
        self.conn.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub(crate) fn is_up(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }

    /// Marks the link down after `error`; true for the call that did (the
    /// one that logs it).
    pub(crate) fn down(&self, error: &RedisError) -> bool {
        let was_up = self.up.swap(false, Ordering::AcqRel);
        *self.conn.write().unwrap_or_else(|p| p.into_inner()) = None;
        if was_up {
            tracing::error!(url = %self.shown, error = %describe(error), "the ledger stopped answering");
        }
        was_up
    }

    /// A connection for a subscription of its own.
    pub(crate) async fn pubsub(&self) -> Result<redis::aio::PubSub, RedisError> {
        tokio::time::timeout(CONNECT_TIMEOUT, self.client.get_async_pubsub())
            .await
            .map_err(|_| {
                RedisError::from(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "no answer within a second",
                ))
            })?
    }
}

/// A Redis that is not there (as opposed to one that refused us).
pub(crate) fn is_unreachable(e: &RedisError) -> bool {
    e.is_io_error() || e.is_timeout() || e.is_connection_refusal() || e.is_connection_dropped()
}

/// The error in one line. The client's messages never carry the URL's
/// password (they name the address at most).
pub(crate) fn describe(e: &RedisError) -> String {
    e.to_string().replace('\n', " ")
}
