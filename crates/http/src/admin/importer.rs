//! Source refreshes started from the console or the API, run in the
//! background with their progress kept in memory.
//!
//! The importer's I/O (download, streaming parse) lives in the binary
//! (`src/sources.rs`), which this crate cannot call; it is handed in as a
//! [`SourceImporter`] on [`crate::state::App`], so the CLI and the web
//! run the one importer, and both end in `Gate::import_source` (store,
//! record the outcome, reload the catalog). The importer reports through
//! [`Progress`]; [`RefreshProgress`] keeps that in atomics the pages and the
//! API read without locks.
//!
//! At most one refresh per source runs at a time: [`Refreshes::start`]
//! hands back the running job instead of starting a second one. The last
//! job of each source is kept (until the source is removed or the server
//! restarts) so its outcome can still be read. A job that panics ends as
//! failed, never as running forever.

use crate::state::App;
use futures::future::BoxFuture;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use tvgate_core::catalog::Source;
use tvgate_core::ids::SourceId;
use tvgate_core::UnixTime;

/// Where a refresh is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Starting,
    Downloading,
    Parsing,
    Storing,
    Done,
    Failed,
}

impl Phase {
    const ALL: [Phase; 6] = [
        Phase::Starting,
        Phase::Downloading,
        Phase::Parsing,
        Phase::Storing,
        Phase::Done,
        Phase::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Starting => "starting",
            Phase::Downloading => "downloading",
            Phase::Parsing => "parsing",
            Phase::Storing => "storing",
            Phase::Done => "done",
            Phase::Failed => "failed",
        }
    }

    /// Still running (not done, not failed).
    pub fn is_running(self) -> bool {
        !matches!(self, Phase::Done | Phase::Failed)
    }
}

/// What an importer reports while it works.
pub trait Progress: Send + Sync {
    /// A new phase begins; `total` is its size in bytes when known. The
    /// byte count starts again from zero.
    fn phase(&self, phase: Phase, total: Option<u64>);
    /// `bytes` more of the current phase are done.
    fn advance(&self, bytes: u64);
    /// `n` more entries (playlist entries, programmes, an account's
    /// streams and episodes) were read; counted over the whole refresh.
    fn entries(&self, _n: u64) {}
}

/// Runs one refresh of a source: the summary of what it imported, or why
/// it failed. Implemented by the binary with its importer.
pub trait SourceImporter: Send + Sync {
    /// `accept_shrink`: apply it even when the shrink guard would hold it
    /// (the operator applies a held refresh).
    fn refresh(
        &self,
        source: Source,
        progress: Arc<dyn Progress>,
        accept_shrink: bool,
    ) -> BoxFuture<'static, Result<String, String>>;
}

/// One refresh job's progress, shared by the job and its readers.
#[derive(Debug)]
pub struct RefreshProgress {
    phase: AtomicU8,
    bytes: AtomicU64,
    entries: AtomicU64,
    /// `u64::MAX`: unknown.
    total: AtomicU64,
    started: UnixTime,
    /// `i64::MIN`: not finished.
    finished: AtomicI64,
    outcome: Mutex<Option<Result<String, String>>>,
}

/// A reading of a job at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshState {
    pub source: SourceId,
    pub phase: Phase,
    pub bytes: u64,
    pub total: Option<u64>,
    /// Entries read so far (over the whole refresh).
    pub entries: u64,
    pub started: UnixTime,
    pub finished: Option<UnixTime>,
    pub summary: Option<String>,
    pub error: Option<String>,
}

impl RefreshProgress {
    fn new(started: UnixTime) -> Self {
        RefreshProgress {
            phase: AtomicU8::new(Phase::Starting as u8),
            bytes: AtomicU64::new(0),
            entries: AtomicU64::new(0),
            total: AtomicU64::new(u64::MAX),
            started,
            finished: AtomicI64::new(i64::MIN),
            outcome: Mutex::new(None),
        }
    }

    pub fn phase_now(&self) -> Phase {
        let n = self.phase.load(Ordering::Acquire);
        Phase::ALL
            .into_iter()
            .find(|p| *p as u8 == n)
            .unwrap_or(Phase::Failed)
    }

    fn finish(&self, at: UnixTime, outcome: Result<String, String>) {
        let phase = if outcome.is_ok() {
            Phase::Done
        } else {
            Phase::Failed
        };
        *self.outcome.lock().unwrap_or_else(|p| p.into_inner()) = Some(outcome);
        self.finished.store(at, Ordering::Release);
        self.phase.store(phase as u8, Ordering::Release);
    }

    pub fn state(&self, source: SourceId) -> RefreshState {
        let phase = self.phase_now();
        let total = self.total.load(Ordering::Acquire);
        let finished = self.finished.load(Ordering::Acquire);
        let outcome = self
            .outcome
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        RefreshState {
            source,
            phase,
            bytes: self.bytes.load(Ordering::Acquire),
            entries: self.entries.load(Ordering::Acquire),
            total: (total != u64::MAX).then_some(total),
            started: self.started,
            finished: (finished != i64::MIN).then_some(finished),
            summary: outcome.clone().and_then(Result::ok),
            error: outcome.and_then(Result::err),
        }
    }
}

impl Progress for RefreshProgress {
    fn phase(&self, phase: Phase, total: Option<u64>) {
        // Done and failed are the job's to say (after the import returned).
        if !phase.is_running() {
            return;
        }
        self.bytes.store(0, Ordering::Release);
        self.total
            .store(total.unwrap_or(u64::MAX), Ordering::Release);
        self.phase.store(phase as u8, Ordering::Release);
    }

    fn advance(&self, bytes: u64) {
        self.bytes.fetch_add(bytes, Ordering::AcqRel);
    }

    fn entries(&self, n: u64) {
        self.entries.fetch_add(n, Ordering::AcqRel);
    }
}

/// Why a refresh did not start.
#[derive(Debug)]
pub enum StartError {
    /// One is running for this source: its progress.
    Running(Arc<RefreshProgress>),
    /// This server was built without an importer (a test double).
    NoImporter,
}

/// The last refresh job of each source.
#[derive(Debug, Default)]
pub struct Refreshes {
    jobs: Mutex<HashMap<SourceId, Arc<RefreshProgress>>>,
}

impl Refreshes {
    /// The last (or running) job of a source.
    pub fn get(&self, id: SourceId) -> Option<Arc<RefreshProgress>> {
        self.lock().get(&id).cloned()
    }

    /// Forgets a removed source's job.
    pub fn forget(&self, id: SourceId) {
        self.lock().remove(&id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SourceId, Arc<RefreshProgress>>> {
        self.jobs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts refreshing `source` in the background, unless a refresh of it
    /// is running.
    pub fn start(&self, app: &App, source: Source) -> Result<Arc<RefreshProgress>, StartError> {
        self.start_with(app, source, false)
    }

    /// [`Refreshes::start`]; with `accept_shrink`, the refresh is applied
    /// even when the shrink guard would hold it.
    pub fn start_with(
        &self,
        app: &App,
        source: Source,
        accept_shrink: bool,
    ) -> Result<Arc<RefreshProgress>, StartError> {
        let importer = app.importer.clone().ok_or(StartError::NoImporter)?;
        let id = source.id;
        let progress = {
            let mut jobs = self.lock();
            if let Some(running) = jobs.get(&id).filter(|j| j.phase_now().is_running()) {
                return Err(StartError::Running(running.clone()));
            }
            let progress = Arc::new(RefreshProgress::new(app.now()));
            jobs.insert(id, progress.clone());
            progress
        };
        let job = progress.clone();
        let clock = app.clock.clone();
        tokio::spawn(async move {
            let work = importer.refresh(source, job.clone(), accept_shrink);
            // Its own task, so a panic in the importer ends as a failure.
            let outcome = match tokio::spawn(work).await {
                Ok(outcome) => outcome,
                Err(e) => Err(format!("the import stopped unexpectedly: {e}")),
            };
            match &outcome {
                Ok(summary) => tracing::info!(source = id.0, %summary, "source refreshed"),
                Err(error) => tracing::warn!(source = id.0, %error, "source refresh failed"),
            }
            job.finish(clock(), outcome);
        });
        Ok(progress)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_reads_back_and_ends_once() {
        let p = RefreshProgress::new(5);
        assert_eq!(p.state(SourceId(1)).phase, Phase::Starting);
        p.phase(Phase::Parsing, Some(100));
        p.advance(40);
        p.entries(7);
        let s = p.state(SourceId(1));
        assert_eq!((s.phase, s.bytes, s.total), (Phase::Parsing, 40, Some(100)));
        assert_eq!(s.entries, 7);
        // Entries count over the whole refresh, across phases.
        p.phase(Phase::Storing, None);
        assert_eq!(p.state(SourceId(1)).entries, 7);
        // The importer cannot claim the end; only the job does.
        p.phase(Phase::Done, None);
        assert!(p.phase_now().is_running());
        p.finish(9, Err("boom".into()));
        let s = p.state(SourceId(1));
        assert_eq!(s.phase, Phase::Failed);
        assert_eq!(s.finished, Some(9));
        assert_eq!(s.error.as_deref(), Some("boom"));
        assert_eq!(s.summary, None);
    }
}
