//! The denial log's front: refusals are recorded on the request path and
//! written to the store in batches by one background task, so recording
//! never waits for the database. The subscriber portal shows a line its own
//! last refusals, the operator console and `GET /api/v1/denials` page
//! through all of them (docs/denials.md).
//!
//! - Recording ([`RefusalLog::record`]) is synchronous and cheap: one push
//!   onto a bounded queue under a mutex held for that push. When the queue
//!   is full (the store is slower than a flood) the refusal is dropped and
//!   counted (`tvgate_refusals_dropped_total`); the `tvgate::denial` log
//!   line and the denial counter still have it. Guessing runs are already
//!   thinned before this (`answer::Refused` records a rate-limited
//!   address at most once per 10 s), and what reaches the store is held to
//!   [`STORE_RATE`] a second with bursts of [`STORE_BURST`] (a run spread
//!   over many addresses), dropped and counted beyond.
//! - The writer ([`run`]) writes a batch every [`FLUSH_EVERY`], or at once
//!   when [`BATCH`] refusals wait, and once more at shutdown. Refusals older
//!   than `denial_log_days` are pruned before the server accepts its first
//!   connection ([`prune`]) and every hour.
//! - Reads see every refusal recorded before them: [`page`] first writes
//!   what is queued ([`flush`]), under the same lock as the writer, so no
//!   batch is half-way between the queue and the store while it reads.

use crate::state::App;
use std::sync::atomic::Ordering;
use std::sync::Mutex;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tvgate_core::access::refusal::{Refusal, RefusalFilter, RefusalPage};
use tvgate_core::gate::GateError;
use tvgate_core::ids::LineId;

/// Refusals waiting to be written, at most.
pub const QUEUE: usize = 4096;
/// Waiting refusals that wake the writer before its next tick.
pub const BATCH: usize = 256;
/// How often the writer writes what waits.
pub const FLUSH_EVERY: Duration = Duration::from_millis(250);
/// How often refusals past the retention are deleted.
pub const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// Refusals the portal shows a line.
pub const PER_LINE: u32 = 20;
/// Refusals stored per second, sustained, across every caller.
pub const STORE_RATE: u64 = 100;
/// Refusals stored in a burst above [`STORE_RATE`].
pub const STORE_BURST: u64 = 2000;

/// A token bucket over the refusals' own times (seconds): a guessing run
/// spread over many addresses, each under its failure budget, is stored at
/// [`STORE_RATE`] a second, not at the flood's rate. Each stored refusal
/// costs a row insert; unbounded, a botnet's run tripled the CPU of every
/// refused login (bench/README.md, B1b raw) and grew the table by the
/// gigabyte a day. Real refusals (expired lines, full lines, a source
/// down for a whole audience) come in bursts the [`STORE_BURST`] covers.
#[derive(Debug)]
struct StoreBudget {
    tokens: u64,
    at: tvgate_core::UnixTime,
}

impl Default for StoreBudget {
    fn default() -> Self {
        StoreBudget {
            tokens: STORE_BURST,
            at: i64::MIN,
        }
    }
}

impl StoreBudget {
    fn take(&mut self, at: tvgate_core::UnixTime) -> bool {
        if at > self.at {
            let elapsed = if self.at == i64::MIN {
                u64::MAX
            } else {
                u64::try_from(at.saturating_sub(self.at)).unwrap_or(u64::MAX)
            };
            self.tokens = self
                .tokens
                .saturating_add(elapsed.saturating_mul(STORE_RATE))
                .min(STORE_BURST);
            self.at = at;
        }
        match self.tokens.checked_sub(1) {
            Some(left) => {
                self.tokens = left;
                true
            }
            None => false,
        }
    }
}

/// What waits for the writer, and how many more may join it now.
#[derive(Default)]
struct Pending {
    refusals: Vec<Refusal>,
    budget: StoreBudget,
}

/// The queue between the request path and the store.
#[derive(Default)]
pub struct RefusalLog {
    /// std Mutex: held for one push or one swap, never across an await.
    queue: Mutex<Pending>,
    /// Wakes the writer when a batch is full.
    full: tokio::sync::Notify,
    /// Held while a batch goes to the store: a reader that flushes waits
    /// for the writer's batch to be committed.
    writing: tokio::sync::Mutex<()>,
}

impl RefusalLog {
    /// Queues a refusal; `false` when it was dropped (the queue is full, or
    /// the store budget of this second is spent).
    pub fn record(&self, refusal: Refusal) -> bool {
        let at = refusal.at;
        self.record_with(at, || refusal)
    }

    /// As [`record`](Self::record), building the refusal only when it will
    /// be kept: under a flood most are dropped, and their text and strings
    /// are then never made.
    pub fn record_with(&self, at: tvgate_core::UnixTime, build: impl FnOnce() -> Refusal) -> bool {
        {
            let mut pending = self.lock();
            if pending.refusals.len() >= QUEUE || !pending.budget.take(at) {
                return false;
            }
        }
        let refusal = build();
        let mut pending = self.lock();
        if pending.refusals.len() >= QUEUE {
            return false;
        }
        pending.refusals.push(refusal);
        let wake = pending.refusals.len() >= BATCH;
        drop(pending);
        if wake {
            self.full.notify_one();
        }
        true
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn take(&self) -> Vec<Refusal> {
        std::mem::take(&mut self.lock().refusals)
    }
}

/// Writes every refusal queued before the call. A batch the store refuses
/// is lost (counted as dropped, logged): the request path never retries.
pub async fn flush(app: &App) {
    let app = app.clone();
    // Its own task: a reader that goes away mid-write (a closed
    // connection) cannot leave a batch half-handled under the lock.
    let _ = tokio::spawn(async move {
        let _writing = app.refusals.writing.lock().await;
        let batch = app.refusals.take();
        let n = batch.len();
        if let Err(e) = app.gate.record_refusals(batch).await {
            app.metrics
                .refusals_dropped
                .fetch_add(n as u64, Ordering::Relaxed);
            tracing::warn!(error = %e, lost = n, "writing refusals to the denial log failed");
        }
    })
    .await;
}

/// One page of the log, with everything recorded before the call.
pub async fn page(app: &App, filter: RefusalFilter) -> Result<RefusalPage, GateError> {
    flush(app).await;
    app.gate.refusals(filter).await
}

/// A line's last [`PER_LINE`] refusals, newest first.
pub async fn of_line(app: &App, line: LineId) -> Result<RefusalPage, GateError> {
    page(
        app,
        RefusalFilter {
            line: Some(line),
            limit: PER_LINE,
            ..Default::default()
        },
    )
    .await
}

/// The writer: writes batches until `shutdown`, then writes what is left;
/// prunes every [`PRUNE_EVERY`]. `tvgate_http::serve` prunes once before it
/// accepts a connection and runs this beside the server.
pub async fn run(app: App, shutdown: CancellationToken) {
    let mut next_prune = tokio::time::Instant::now() + PRUNE_EVERY;
    loop {
        if tokio::time::Instant::now() >= next_prune {
            prune(&app).await;
            next_prune = tokio::time::Instant::now() + PRUNE_EVERY;
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = app.refusals.full.notified() => {}
            _ = tokio::time::sleep(FLUSH_EVERY) => {}
        }
        flush(&app).await;
    }
    flush(&app).await;
}

/// Deletes the refusals older than `denial_log_days`.
pub async fn prune(app: &App) {
    match app
        .gate
        .prune_refusals(app.now(), app.settings.denial_log_days)
        .await
    {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            removed = n,
            days = app.settings.denial_log_days,
            "pruned the denial log"
        ),
        Err(e) => tracing::warn!(error = %e, "pruning the denial log failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};

    fn refusal(at: i64) -> Refusal {
        Refusal {
            at,
            reason: "connection_limit".into(),
            text: format!("refusal {at}"),
            line: None,
            username: "u".into(),
            ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            face: "stream".into(),
        }
    }

    #[test]
    fn a_flood_is_stored_at_the_budgets_rate() {
        let log = RefusalLog::default();
        let burst = (0..STORE_BURST + 500)
            .filter(|_| log.record(refusal(100)))
            .count();
        assert_eq!(burst as u64, STORE_BURST, "the burst, then nothing");
        log.take();
        let next = (0..1000).filter(|_| log.record(refusal(101))).count();
        assert_eq!(next as u64, STORE_RATE, "one second's worth a second later");
        log.take();
        let later = (0..5000).filter(|_| log.record(refusal(200))).count();
        assert_eq!(later as u64, STORE_BURST, "refilled, never past the burst");
        // A clock that steps back does not refill.
        log.take();
        assert!(!log.record(refusal(150)));
    }

    #[test]
    fn a_full_queue_drops_instead_of_growing() {
        let log = RefusalLog::default();
        // Times a second apart: each refills the store budget, so only the
        // queue's bound is at work here.
        for at in 0..QUEUE as i64 {
            assert!(log.record(refusal(at * 3600)));
        }
        assert!(!log.record(refusal(-1)));
        let batch = log.take();
        assert_eq!(batch.len(), QUEUE);
        assert_eq!(batch[0].at, 0, "in the order recorded");
        assert!(
            log.record(refusal(QUEUE as i64 * 3600)),
            "room again once written"
        );
    }
}
