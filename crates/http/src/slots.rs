//! Connection slots for the streams tvgate serves itself: admission through
//! the ledger (waiting briefly for a slot that is being released, so
//! zapping never hits the limit), and a lease that lives exactly as long as
//! the response body.
//!
//! The lease guard moves into the body: when the player's socket closes,
//! hyper drops the body at its next write (a live stream writes several
//! times a second), the guard drops and the slot is free. The body also
//! renews the lease; a renewal that fails (the lease was ended by newest-wins
//! or by the operator) ends the stream.

use crate::access::Caller;
use crate::state::App;
use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tvgate_core::access::{Account, Denial};
use tvgate_core::ids::StreamId;
use tvgate_core::ledger::{Admission, LeaseId, LeaseKind, LeaseRequest, Ledger};

/// Ends a lease when dropped.
pub struct LeaseGuard {
    ledger: Arc<dyn Ledger>,
    metrics: Arc<crate::metrics::Metrics>,
    id: LeaseId,
}

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        // `None`: the lease was already ended by another admission.
        if self.ledger.end(self.id).is_some() {
            self.metrics.leases_closed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Takes a slot for `account`, waiting up to the configured admission wait
/// for one that is being released.
pub async fn admit(
    app: &App,
    caller: &Caller,
    account: &Account,
    stream: StreamId,
    kind: LeaseKind,
) -> Result<LeaseGuard, Denial> {
    let (id, _resumed) = admit_lease(
        app,
        caller,
        account,
        stream,
        kind,
        app.settings.lease_ttl_secs,
    )
    .await?;
    Ok(LeaseGuard {
        ledger: app.ledger.clone(),
        metrics: app.metrics.clone(),
        id,
    })
}

/// Like [`admit`], for a lease with no body to hold it (HLS): the lease
/// lives `ttl_secs` unless renewed, and `true` says an HLS viewer's own live
/// lease was resumed rather than a slot taken.
pub async fn admit_lease(
    app: &App,
    caller: &Caller,
    account: &Account,
    stream: StreamId,
    kind: LeaseKind,
    ttl_secs: u32,
) -> Result<(LeaseId, bool), Denial> {
    let req = LeaseRequest {
        account: account.id,
        max_connections: account.max_connections,
        policy: app.settings.limit_policy,
        stream,
        ip: caller.ip,
        user_agent: caller.user_agent().into(),
        device: None,
        kind,
    };
    let deadline = tokio::time::Instant::now() + app.settings.admission_wait;
    loop {
        match app.ledger.admit(&req, app.now(), ttl_secs) {
            Admission::Admitted { id, ended, resumed } => {
                if resumed {
                    return Ok((id, true));
                }
                app.metrics.leases_opened.fetch_add(1, Ordering::Relaxed);
                for gone in ended {
                    let replaced = gone.ip == req.ip && gone.user_agent == req.user_agent;
                    let counter = if replaced {
                        &app.metrics.leases_replaced
                    } else {
                        &app.metrics.leases_evicted
                    };
                    counter.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(
                        account = account.id.0,
                        lease = gone.id.0,
                        ip = %gone.ip,
                        cause = if replaced { "replaced" } else { "evicted" },
                        "connection ended by a newer one"
                    );
                }
                return Ok((id, false));
            }
            Admission::Full { holders } => {
                if tokio::time::Instant::now() >= deadline {
                    return Err(Denial::ConnectionLimit {
                        max: account.max_connections,
                        holders,
                    });
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// The body of a served stream, holding its lease: renewed as data flows,
/// ended when the body is dropped, and cut when a renewal fails.
pub fn leased(
    app: &App,
    guard: LeaseGuard,
    source: BoxStream<'static, Bytes>,
) -> BoxStream<'static, Bytes> {
    let clock = app.clock.clone();
    let ttl = app.settings.lease_ttl_secs;
    let renew_every = i64::from((ttl / 3).max(1));
    let mut last = clock();
    source
        .take_while(move |_| {
            let now = clock();
            let alive = if now - last >= renew_every {
                last = now;
                guard.ledger.renew(guard.id, now, ttl)
            } else {
                true
            };
            futures::future::ready(alive)
        })
        .boxed()
}
