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
//! The ledger is async (a shared ledger does I/O) and a `Drop` cannot wait:
//! the guard polls the end once where it drops, which finishes it at once
//! for the in-process ledger, and hands an end that has to wait (a round
//! trip to Redis) to [`Releases`], one background task per app that drives
//! them to completion. A renewal runs beside the body the same way: polled
//! with each chunk, never holding the bytes back.
//!
//! The body is also where `/metrics` learns what viewers got: bytes handed
//! on, streams by kind, how each lease ended, and how long a slot outlived
//! its viewer (last poll of the body to the lease's end in the ledger).

use crate::access::Caller;
use crate::state::{App, Clock};
use bytes::Bytes;
use futures::future::{BoxFuture, FutureExt};
use futures::stream::{BoxStream, FuturesUnordered, Stream, StreamExt};
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, Once};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tvgate_core::access::{Denial, Line};
use tvgate_core::ids::{LineId, StreamId};
use tvgate_core::ledger::{Admission, LeaseId, LeaseKind, LeaseRequest, Ledger};
use tvgate_core::UnixTime;

/// The ends of leases that could not finish where their guard dropped,
/// driven to completion by one background task, all at once (one slow
/// round trip never holds up the next end).
pub struct Releases {
    tx: mpsc::UnboundedSender<BoxFuture<'static, ()>>,
    // Taken by the task when it starts; held only for that.
    rx: Mutex<Option<mpsc::UnboundedReceiver<BoxFuture<'static, ()>>>>,
    started: Once,
}

impl Default for Releases {
    fn default() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Releases {
            tx,
            rx: Mutex::new(Some(rx)),
            started: Once::new(),
        }
    }
}

impl Releases {
    /// Starts the release task the first time a lease is taken (admission
    /// runs on the runtime; `App::new` need not). It ends when the app's
    /// last clone is gone, after the ends it holds.
    fn start(&self) {
        self.started.call_once(|| {
            let rx = self.rx.lock().unwrap_or_else(|p| p.into_inner()).take();
            if let Some(rx) = rx {
                tokio::spawn(drive(rx));
            }
        });
    }

    /// Runs `end` now as far as it goes without waiting; the rest goes to
    /// the release task. An end that cannot be handed over (the runtime is
    /// shutting down) is dropped: its lease expires after its time-to-live.
    fn release(&self, end: BoxFuture<'static, ()>) {
        let mut end = end;
        let mut cx = Context::from_waker(std::task::Waker::noop());
        if end.as_mut().poll(&mut cx).is_pending() {
            let _ = self.tx.send(end);
        }
    }
}

async fn drive(mut rx: mpsc::UnboundedReceiver<BoxFuture<'static, ()>>) {
    let mut ends = FuturesUnordered::new();
    loop {
        tokio::select! {
            end = rx.recv() => match end {
                Some(end) => ends.push(end),
                None => break,
            },
            Some(()) = ends.next(), if !ends.is_empty() => {}
        }
    }
    while ends.next().await.is_some() {}
}

/// Ends a lease when dropped, counting how and how late.
pub struct LeaseGuard {
    ledger: Arc<dyn Ledger>,
    releases: Arc<Releases>,
    metrics: Arc<crate::metrics::Metrics>,
    clock: Clock,
    id: LeaseId,
    kind: LeaseKind,
    /// Whose and what, for the watchdog's log line.
    line: LineId,
    stream: StreamId,
    /// When the lease runs out unless renewed (the ledger's time).
    expires: UnixTime,
    /// When the body last asked its source for more (hyper polls the body
    /// once it has taken the previous chunk); `None` without a body.
    last_poll: Option<Instant>,
    /// The connection's socket, watched for a frozen viewer once the body
    /// streams (`crate::frozen`).
    socket: Option<Arc<crate::frozen::SocketWatch>>,
    /// The body's registration with the watchdog.
    watching: Option<crate::frozen::Watching>,
    /// The stream's entry in the line's timeline, finished and queued
    /// when the lease ends.
    story: Option<(Arc<crate::stats::Stats>, tvgate_core::timeline::LineEvent)>,
}

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        let (mut frozen, mut expires) = (false, self.expires);
        if let Some(w) = self.watching.take() {
            // The watchdog renewed the lease while the viewer was paused.
            expires = expires.max(w.state.renewed_until.load(Ordering::Acquire));
            frozen = w.state.frozen.load(Ordering::Acquire);
        }
        let expired = (self.clock)() >= expires;
        let (ledger, metrics, id, last_poll) = (
            self.ledger.clone(),
            self.metrics.clone(),
            self.id,
            self.last_poll,
        );
        let clock = self.clock.clone();
        let story = self.story.take();
        self.releases.release(
            async move {
                // `None`: the lease was already gone. An admission that ended
                // it (replaced, evicted) counted it; one the ledger dropped as
                // expired was counted by nobody.
                let (counter, why) = match ledger.end(id).await {
                    Some(_) if frozen => (Some(&metrics.leases_frozen), "frozen"),
                    Some(_) if expired => (Some(&metrics.leases_expired), "expired"),
                    Some(_) => (Some(&metrics.leases_closed), "closed"),
                    None if expired => (Some(&metrics.leases_expired), "expired"),
                    None => (None, "ended elsewhere"),
                };
                if let Some((stats, mut event)) = story {
                    event.ended = Some(clock());
                    event.detail = why.to_string();
                    stats.record(event);
                }
                if let Some(counter) = counter {
                    counter.fetch_add(1, Ordering::Relaxed);
                }
                if let Some(at) = last_poll {
                    metrics.lease_release.observe(at.elapsed());
                }
            }
            .boxed(),
        );
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
pub async fn connections(app: &App, line: LineId) -> Vec<Connection> {
    named(app, app.ledger.holders(line, app.now()).await)
}

/// Every connection now, by line (oldest first within a line): the
/// operator's live view and connection list, in one question to the ledger
/// however many lines there are.
pub async fn all_connections(app: &App) -> std::collections::HashMap<LineId, Vec<Connection>> {
    let mut by_line: std::collections::HashMap<LineId, Vec<Connection>> =
        std::collections::HashMap::new();
    for c in named(app, app.ledger.all(app.now()).await) {
        by_line.entry(c.lease.line).or_default().push(c);
    }
    by_line
}

fn named(app: &App, leases: Vec<tvgate_core::ledger::Lease>) -> Vec<Connection> {
    let catalog = app.gate.catalog();
    leases
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
/// "end" button): the lease is gone from the ledger at once (all of it, if
/// several range requests of a movie share it), and every streaming body
/// asks the ledger whether its lease was the one at its next chunk (see
/// [`leased`]), so the viewer is cut within a fraction of a second, on
/// whichever node serves it. The caller has checked that the lease is one
/// it may end.
pub async fn end_connection(app: &App, id: LeaseId) -> Option<tvgate_core::ledger::Lease> {
    let ended = app.ledger.cut(id).await;
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
    app.releases.start();
    let catalog = app.gate.catalog();
    let channel = catalog
        .stream(stream)
        .map(|r| catalog.stream_name(r).to_string())
        .unwrap_or_else(|| format!("stream {}", stream.0));
    let story = tvgate_core::timeline::LineEvent {
        line: line.id,
        kind: tvgate_core::timeline::EventKind::Stream,
        at: app.now(),
        ended: None,
        channel,
        player: caller.user_agent().to_string(),
        ip: caller.ip,
        detail: String::new(),
    };
    Ok(LeaseGuard {
        ledger: app.ledger.clone(),
        releases: app.releases.clone(),
        metrics: app.metrics.clone(),
        clock: app.clock.clone(),
        id,
        kind,
        line: line.id,
        stream,
        expires: app.now() + i64::from(app.settings.lease_ttl_secs),
        last_poll: None,
        socket: caller.socket.clone(),
        watching: None,
        story: Some((app.stats.clone(), story)),
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
        match app.ledger.admit(&req, app.now(), ttl_secs).await {
            Admission::Admitted { id, ended, resumed } => {
                if resumed {
                    return Ok((id, true));
                }
                app.metrics.leases_opened.fetch_add(1, Ordering::Relaxed);
                app.stats.opened(id);
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
            // A shared ledger that does not answer, under the `refuse`
            // policy: the admission wait also bridges a short outage (a
            // Redis restart, a failover).
            Admission::Unavailable => {
                if tokio::time::Instant::now() >= deadline {
                    return Err(Denial::LedgerUnavailable);
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
    watch(app, &mut guard);
    let ttl = app.settings.lease_ttl_secs;
    Leased {
        source,
        last_renewal: (guard.clock)(),
        // Every second, not every third of the TTL: a lease newest-wins
        // ended is noticed within a second even when no announcement of
        // the end reached this node (an end by a person, or by an admission
        // on a shared ledger, is noticed at once through `lease_ends`). A
        // renewal is a map update in memory, or one small script on Redis.
        renew_every: 1,
        ttl,
        ends_seen: app.lease_ends.load(Ordering::Acquire),
        ends: app.lease_ends.clone(),
        guard,
        renewing: None,
        cut: false,
    }
    .boxed()
}

/// Registers a streaming body with the frozen-viewer watchdog: a live
/// stream may leave a write waiting `viewer_stall`, a film `vod_pause`
/// (whose socket's TCP_USER_TIMEOUT is raised to outlast the pause).
fn watch(app: &App, guard: &mut LeaseGuard) {
    let Some(socket) = guard.socket.clone() else {
        return;
    };
    let limit = match guard.kind {
        LeaseKind::LiveTs => app.settings.viewer_stall,
        LeaseKind::Vod => app.settings.vod_pause,
        LeaseKind::Hls => Duration::ZERO,
    };
    if limit.is_zero() {
        return;
    }
    if guard.kind == LeaseKind::Vod {
        socket.want_user_timeout(limit + crate::SEND_TIMEOUT);
    }
    guard.watching = Some(app.watchdog.watch(crate::frozen::Watch {
        socket,
        limit,
        lease: guard.id,
        line: guard.line,
        stream: guard.stream,
        kind: guard.kind,
    }));
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
        // A renewal on its way, and the time it was asked at.
        renewing: Option<(BoxFuture<'static, bool>, UnixTime)>,
        cut: bool,
    }
}

/// Whether a renewal kept the lease: `Some(true)` yes, `Some(false)` no
/// (stop serving), `None` not known yet.
fn renewed(
    renewing: &mut Option<(BoxFuture<'static, bool>, UnixTime)>,
    guard: &mut LeaseGuard,
    ttl: u32,
    cx: &mut Context<'_>,
) -> Option<bool> {
    let (future, asked_at) = renewing.as_mut()?;
    let Poll::Ready(kept) = future.as_mut().poll(cx) else {
        return None;
    };
    if kept {
        guard.expires = *asked_at + i64::from(ttl);
    }
    *renewing = None;
    Some(kept)
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
        let cut = |cut: &mut bool, guard: &LeaseGuard| {
            *cut = true;
            guard.metrics.streams_cut.fetch_add(1, Ordering::Relaxed);
            Poll::Ready(None)
        };
        if renewed(this.renewing, guard, *this.ttl, cx) == Some(false) {
            return cut(this.cut, guard);
        }
        let chunk = match this.source.poll_next(cx) {
            Poll::Ready(Some(chunk)) => chunk,
            other => return other,
        };
        let now = (guard.clock)();
        let ends = this.ends.load(Ordering::Acquire);
        if ends != *this.ends_seen {
            // Someone's lease was ended from outside: this one?
            *this.ends_seen = ends;
            if guard.ledger.was_ended(guard.id) {
                return cut(this.cut, guard);
            }
        }
        if this.renewing.is_none() && now - *this.last_renewal >= *this.renew_every {
            *this.last_renewal = now;
            let (ledger, id, ttl) = (guard.ledger.clone(), guard.id, *this.ttl);
            let renewal = async move { ledger.renew(id, now, ttl).await }.boxed();
            *this.renewing = Some((renewal, now));
            if renewed(this.renewing, guard, *this.ttl, cx) == Some(false) {
                return cut(this.cut, guard);
            }
        }
        guard
            .metrics
            .viewer_bytes
            .fetch_add(chunk.byte_len() as u64, Ordering::Relaxed);
        Poll::Ready(Some(chunk))
    }
}
