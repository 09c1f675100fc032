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
//!
//! The body is also where `/metrics` learns what viewers got: bytes handed
//! on, streams by kind, how each lease ended, and how long a slot outlived
//! its viewer (last poll of the body to the guard's drop).

use crate::access::Caller;
use crate::state::{App, Clock};
use bytes::Bytes;
use futures::stream::{BoxStream, Stream, StreamExt};
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tvgate_core::access::{Denial, Line};
use tvgate_core::ids::StreamId;
use tvgate_core::ledger::{Admission, LeaseId, LeaseKind, LeaseRequest, Ledger};
use tvgate_core::UnixTime;

/// Ends a lease when dropped, counting how and how late.
pub struct LeaseGuard {
    ledger: Arc<dyn Ledger>,
    metrics: Arc<crate::metrics::Metrics>,
    clock: Clock,
    id: LeaseId,
    kind: LeaseKind,
    /// When the lease runs out unless renewed (the ledger's time).
    expires: UnixTime,
    /// When the body last asked its source for more (hyper polls the body
    /// once it has taken the previous chunk); `None` without a body.
    last_poll: Option<Instant>,
}

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        let expired = (self.clock)() >= self.expires;
        // `None`: the lease was already gone. An admission that ended it
        // (replaced, evicted) counted it; one the ledger dropped as expired
        // was counted by nobody.
        let counter = match self.ledger.end(self.id) {
            Some(_) if expired => Some(&self.metrics.leases_expired),
            Some(_) => Some(&self.metrics.leases_closed),
            None if expired => Some(&self.metrics.leases_expired),
            None => None,
        };
        if let Some(counter) = counter {
            counter.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(at) = self.last_poll {
            self.metrics.lease_release.observe(at.elapsed());
        }
    }
}

/// One connection of a line as a person (the portal, the admin API, a
/// refusal) sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub lease: tvgate_core::ledger::Lease,
    /// The channel, movie or episode it watches, by name, when known.
    pub watching: Option<String>,
}

/// The connections a line holds now, oldest first: what a refusal names,
/// and what the portal and the admin API will list (and end).
pub fn connections(app: &App, line: tvgate_core::ids::LineId) -> Vec<Connection> {
    let catalog = app.gate.catalog();
    app.ledger
        .holders(line, app.now())
        .into_iter()
        .map(|lease| Connection {
            watching: catalog
                .stream(lease.stream)
                .map(|r| catalog.stream_name(r).to_string()),
            lease,
        })
        .collect()
}

/// Ends one lease now, as a person asked (the portal's or the console's
/// "end" button): the lease is gone from the ledger at once, and every
/// streaming body re-checks its lease at its next chunk (see [`leased`]),
/// so the viewer is cut within a fraction of a second. The caller has
/// checked that the lease is one it may end.
pub fn end_connection(app: &App, id: LeaseId) -> Option<tvgate_core::ledger::Lease> {
    let ended = app.ledger.end(id);
    if ended.is_some() {
        app.lease_ends.fetch_add(1, Ordering::Release);
    }
    ended
}

/// Takes a slot for `line`, waiting up to the configured admission wait
/// for one that is being released.
pub async fn admit(
    app: &App,
    caller: &Caller,
    line: &Line,
    stream: StreamId,
    kind: LeaseKind,
) -> Result<LeaseGuard, Denial> {
    let (id, _resumed) =
        admit_lease(app, caller, line, stream, kind, app.settings.lease_ttl_secs).await?;
    Ok(LeaseGuard {
        ledger: app.ledger.clone(),
        metrics: app.metrics.clone(),
        clock: app.clock.clone(),
        id,
        kind,
        expires: app.now() + i64::from(app.settings.lease_ttl_secs),
        last_poll: None,
    })
}

/// Like [`admit`], for a lease with no body to hold it (HLS): the lease
/// lives `ttl_secs` unless renewed, and `true` says an HLS viewer's own live
/// lease was resumed rather than a slot taken.
pub async fn admit_lease(
    app: &App,
    caller: &Caller,
    line: &Line,
    stream: StreamId,
    kind: LeaseKind,
    ttl_secs: u32,
) -> Result<(LeaseId, bool), Denial> {
    let req = LeaseRequest {
        line: line.id,
        max_connections: line.max_connections,
        policy: line.limit_policy.unwrap_or(app.settings.limit_policy),
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
                        line = line.id.0,
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
                        max: line.max_connections,
                        holders,
                    });
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// A piece of a served stream: its size counts towards the bytes relayed.
pub trait Chunk {
    fn byte_len(&self) -> usize;
}

impl Chunk for Bytes {
    fn byte_len(&self) -> usize {
        self.len()
    }
}

/// A proxied body's chunk or the upstream's error (which aborts the
/// player's connection rather than ending the body cleanly).
impl<E> Chunk for Result<Bytes, E> {
    fn byte_len(&self) -> usize {
        self.as_ref().map_or(0, Bytes::len)
    }
}

/// The body of a served stream, holding its lease: renewed as data flows,
/// ended when the body is dropped, and cut when a renewal fails.
pub fn leased<I: Chunk + Send + 'static>(
    app: &App,
    mut guard: LeaseGuard,
    source: BoxStream<'static, I>,
) -> BoxStream<'static, I> {
    app.metrics.count_stream(guard.kind);
    guard.last_poll = Some(Instant::now());
    let ttl = app.settings.lease_ttl_secs;
    Leased {
        source,
        last_renewal: (guard.clock)(),
        // Every second, not every third of the TTL: a lease newest-wins
        // ended is noticed within a second (one ending by a person is
        // noticed at once through `lease_ends`). A renewal is a map update
        // in memory.
        renew_every: 1,
        ttl,
        ends_seen: app.lease_ends.load(Ordering::Acquire),
        ends: app.lease_ends.clone(),
        guard,
        cut: false,
    }
    .boxed()
}

pin_project_lite::pin_project! {
    struct Leased<S> {
        #[pin]
        source: S,
        guard: LeaseGuard,
        last_renewal: UnixTime,
        renew_every: i64,
        ttl: u32,
        // A person ended some lease since `ends_seen`: renew at once to
        // learn whether it was this one.
        ends: Arc<std::sync::atomic::AtomicU64>,
        ends_seen: u64,
        cut: bool,
    }
}

impl<S: Stream> Stream for Leased<S>
where
    S::Item: Chunk,
{
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let this = self.project();
        if *this.cut {
            return Poll::Ready(None);
        }
        let guard = this.guard;
        guard.last_poll = Some(Instant::now());
        let chunk = match this.source.poll_next(cx) {
            Poll::Ready(Some(chunk)) => chunk,
            other => return other,
        };
        let now = (guard.clock)();
        let ends = this.ends.load(Ordering::Acquire);
        let ended_somewhere = ends != *this.ends_seen;
        *this.ends_seen = ends;
        if ended_somewhere || now - *this.last_renewal >= *this.renew_every {
            *this.last_renewal = now;
            if guard.ledger.renew(guard.id, now, *this.ttl) {
                guard.expires = now + i64::from(*this.ttl);
            } else {
                *this.cut = true;
                guard.metrics.streams_cut.fetch_add(1, Ordering::Relaxed);
                return Poll::Ready(None);
            }
        }
        guard
            .metrics
            .viewer_bytes
            .fetch_add(chunk.byte_len() as u64, Ordering::Relaxed);
        Poll::Ready(Some(chunk))
    }
}
