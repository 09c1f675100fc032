//! Refreshing sources, the I/O half: fetch a playlist or guide (file or
//! URL), unpack and parse it on a blocking thread as it streams in (a
//! playlist is planned item by item, see `tvgate_core::catalog::plan`, a
//! guide channel by channel and programme by programme, see
//! `tvgate_core::catalog::guide_plan`),
//! then hand it to [`Gate::import_source`], which stores it, records the
//! outcome with every skipped line and swaps in the new catalog. An Xtream
//! account is read by its API instead (`sources/xtream.rs`). Used by
//! `tvgate source add|refresh` and, through the [`SourceImporter`] hook
//! ([`Importer`]), by the console and the admin API, which run it in the
//! background.
//!
//! Progress goes to a [`Progress`] sink: the CLI draws a terminal bar
//! ([`TerminalProgress`]), the web keeps atomics it shows on a page
//! (`tvgate_http::admin::importer::RefreshProgress`).

mod xtream;

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tvgate_core::catalog::guide_plan::{FileSpool, GuidePlanner};
use tvgate_core::catalog::ingest::classify;
use tvgate_core::catalog::plan::Planner;
use tvgate_core::catalog::{Source, SourceKind};
pub use tvgate_core::gate::RefreshReport;
use tvgate_core::gate::{Gate, GateError, ParsedSource, SourceContent};
use tvgate_core::ids::SourceId;
use tvgate_formats::{redact_location, redact_url};
pub use tvgate_http::admin::importer::{Phase, Progress, SourceImporter};

fn progress_bar(len: Option<u64>, what: &str) -> ProgressBar {
    let pb = match len {
        Some(n) => ProgressBar::new(n),
        None => ProgressBar::new_spinner(),
    };
    let template = match len {
        Some(_) => "{prefix} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta}) {msg}",
        None => "{spinner} {prefix} {bytes} ({bytes_per_sec}) {msg}",
    };
    let style = ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    pb.set_style(style);
    pb.set_prefix(what.to_string());
    pb
}

/// The CLI's progress: a bar on the terminal per phase with the bytes read
/// and their rate, and the entries read and theirs (nothing when standard
/// error is not a terminal).
pub struct TerminalProgress {
    show: bool,
    bar: std::sync::Mutex<Option<ProgressBar>>,
    /// Entries read over the whole refresh, and since when.
    entries: std::sync::atomic::AtomicU64,
    started: std::time::Instant,
}

impl TerminalProgress {
    pub fn new(show: bool) -> Arc<TerminalProgress> {
        Arc::new(TerminalProgress {
            show,
            bar: std::sync::Mutex::new(None),
            entries: std::sync::atomic::AtomicU64::new(0),
            started: std::time::Instant::now(),
        })
    }

    /// `N entries (R/s)` for the bar's message.
    fn entries_text(&self) -> String {
        let n = self.entries.load(std::sync::atomic::Ordering::Relaxed);
        if n == 0 {
            return String::new();
        }
        let secs = self.started.elapsed().as_secs_f64().max(0.001);
        format!(
            "{} entries ({}/s)",
            indicatif::HumanCount(n),
            indicatif::HumanCount((n as f64 / secs) as u64)
        )
    }
}

impl Progress for TerminalProgress {
    fn phase(&self, phase: Phase, total: Option<u64>) {
        let mut bar = self.bar.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(old) = bar.take() {
            old.finish_and_clear();
        }
        let what = match phase {
            Phase::Downloading => "downloading",
            Phase::Parsing => "importing",
            Phase::Storing => "storing",
            _ => return,
        };
        if self.show {
            let pb = progress_bar(total, what);
            pb.set_message(self.entries_text());
            if phase == Phase::Storing {
                pb.enable_steady_tick(std::time::Duration::from_millis(200));
            }
            *bar = Some(pb);
        }
    }

    fn advance(&self, bytes: u64) {
        if let Some(bar) = &*self.bar.lock().unwrap_or_else(|p| p.into_inner()) {
            bar.inc(bytes);
            bar.set_message(self.entries_text());
        }
    }

    fn entries(&self, n: u64) {
        self.entries
            .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Drop for TerminalProgress {
    fn drop(&mut self) {
        if let Some(bar) = self.bar.get_mut().ok().and_then(Option::take) {
            bar.finish_and_clear();
        }
    }
}

/// No progress shown (tests, the demo).
pub struct NoProgress;

/// A sink that shows nothing.
pub fn quiet() -> Arc<dyn Progress> {
    Arc::new(NoProgress)
}

impl Progress for NoProgress {
    fn phase(&self, _: Phase, _: Option<u64>) {}
    fn advance(&self, _: u64) {}
}

/// The importer the console and the API run (`App::importer`): its
/// fetches go through the server's SSRF guard.
pub struct Importer {
    pub gate: Arc<Gate>,
    pub data_dir: PathBuf,
    pub egress: tvgate_relay::EgressGuard,
}

impl SourceImporter for Importer {
    fn refresh(
        &self,
        source: Source,
        progress: Arc<dyn Progress>,
        accept_shrink: bool,
    ) -> futures::future::BoxFuture<'static, Result<String, String>> {
        let gate = self.gate.clone();
        let dir = self.data_dir.clone();
        let egress = self.egress.clone();
        Box::pin(async move {
            refresh_with(&gate, &source, &dir, progress, accept_shrink, &egress)
                .await
                .map(|report| report.summary(source.kind))
                .map_err(|e| format!("{e:#}"))
        })
    }
}

/// Counts bytes read into the progress sink.
struct Counted<R> {
    inner: R,
    progress: Arc<dyn Progress>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.advance(n as u64);
        Ok(n)
    }
}

/// Counts entries read into a progress sink, a batch at a time (the rest
/// when dropped).
pub(crate) struct EntryCounter {
    sink: Arc<dyn Progress>,
    pending: std::cell::Cell<u64>,
}

impl EntryCounter {
    const BATCH: u64 = 1024;

    pub(crate) fn new(sink: Arc<dyn Progress>) -> EntryCounter {
        EntryCounter {
            sink,
            pending: std::cell::Cell::new(0),
        }
    }

    pub(crate) fn one(&self) {
        let n = self.pending.get() + 1;
        if n >= Self::BATCH {
            self.sink.entries(n);
            self.pending.set(0);
        } else {
            self.pending.set(n);
        }
    }
}

impl Drop for EntryCounter {
    fn drop(&mut self) {
        let n = self.pending.get();
        if n > 0 {
            self.sink.entries(n);
        }
    }
}

/// Downloads a URL into a file under `dir`, so parsing streams from disk.
async fn download(
    url: &str,
    dir: &Path,
    id: SourceId,
    progress: &Arc<dyn Progress>,
    egress: &tvgate_relay::EgressGuard,
    identity: &tvgate_core::catalog::UpstreamIdentity,
) -> Result<PathBuf> {
    // The source's user agent and headers go with the request and each
    // redirect hop (the guard checks every hop's address).
    let client = egress
        .client_builder()
        .user_agent(tvgate_http::state::OWN_USER_AGENT)
        .default_headers(tvgate_http::state::upstream_headers(identity))
        .build()
        .context("building the HTTP client")?;
    // reqwest's errors carry the whole URL (query and path credentials
    // included): the message names it redacted instead.
    let response = client
        .get(url)
        .send()
        .await
        .map_err(reqwest::Error::without_url)
        .with_context(|| format!("fetching {}", redact_url(url)))?;
    if !response.status().is_success() {
        anyhow::bail!("fetching {}: HTTP {}", redact_url(url), response.status());
    }
    progress.phase(Phase::Downloading, response.content_length());
    // One file per process and source: the server refreshes several sources
    // at once (never one source twice).
    let path = dir.join(format!("download-{}-{}.tmp", std::process::id(), id.0));
    let mut file = tokio::fs::File::create(&path)
        .await
        .with_context(|| format!("creating {}", path.display()))?;
    let mut response = response;
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(reqwest::Error::without_url)
        .with_context(|| format!("reading {}", redact_url(url)))?
    {
        tokio::io::AsyncWriteExt::write_all(&mut file, &chunk)
            .await
            .with_context(|| format!("writing {}", path.display()))?;
        progress.advance(chunk.len() as u64);
    }
    // tokio's File hands each write to a blocking thread and returns before
    // it lands: without this flush the parser, which opens the path right
    // after, could read a file the last writes have not reached yet (seen
    // as an empty playlist under load).
    tokio::io::AsyncWriteExt::flush(&mut file)
        .await
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// Fetches and parses one source, then imports it through the gate
/// (which records the outcome, also a failure, and swaps in the new
/// catalog). The command line's refresh: its fetches may reach any
/// address (the operator runs it on the server; docs/security.md).
pub async fn refresh(
    gate: &Arc<Gate>,
    source: &Source,
    data_dir: &Path,
    progress: Arc<dyn Progress>,
) -> Result<RefreshReport> {
    let trusted = tvgate_relay::EgressGuard::unrestricted();
    refresh_with(gate, source, data_dir, progress, false, &trusted).await
}

/// [`refresh`], applied even when it removes more of the source's entries
/// than the shrink guard allows when `accept_shrink` (the operator applies
/// a held refresh: it is read again and imported), with its fetches
/// checked by `egress` (the server's refreshes, started from the web or the
/// schedule, are; the CLI's are trusted).
pub async fn refresh_with(
    gate: &Arc<Gate>,
    source: &Source,
    data_dir: &Path,
    progress: Arc<dyn Progress>,
    accept_shrink: bool,
    egress: &tvgate_relay::EgressGuard,
) -> Result<RefreshReport> {
    let now = chrono::Utc::now().timestamp();
    let parsed = fetch(source, data_dir, &progress, egress)
        .await
        .map_err(|e| format!("{e:#}"));
    progress.phase(Phase::Storing, None);
    match gate
        .import_source_with(source.id, parsed, now, accept_shrink)
        .await
    {
        Ok(report) => Ok(report),
        Err(GateError::RefreshHeld(held)) => anyhow::bail!(
            "source {} ({}): the refresh is held, nothing was changed: {}",
            source.id,
            redact_location(&source.location),
            held.reason
        ),
        Err(GateError::ImportFailed(e)) => {
            anyhow::bail!(
                "source {} ({}): {e}",
                source.id,
                redact_location(&source.location)
            )
        }
        Err(e) => Err(e).with_context(|| format!("importing source {}", source.id)),
    }
}

/// Reads a source (downloading it first when it is a URL) and parses it.
async fn fetch(
    source: &Source,
    data_dir: &Path,
    progress: &Arc<dyn Progress>,
    egress: &tvgate_relay::EgressGuard,
) -> Result<ParsedSource> {
    if source.kind == SourceKind::Xtream {
        return xtream::fetch(source, data_dir, progress, egress).await;
    }
    let location = source.location.clone();
    let is_url = location.starts_with("http://") || location.starts_with("https://");
    let (path, temporary) = if is_url {
        (
            download(
                &location,
                data_dir,
                source.id,
                progress,
                egress,
                &source.identity,
            )
            .await?,
            true,
        )
    } else {
        (
            PathBuf::from(location.strip_prefix("file://").unwrap_or(&location)),
            false,
        )
    };
    let kind = source.kind;
    let parse_path = path.clone();
    let sink = progress.clone();
    let spool_dir = data_dir.to_path_buf();
    let parsed =
        tokio::task::spawn_blocking(move || parse_file(&parse_path, kind, sink, &spool_dir))
            .await
            .context("parser thread failed")?;
    if temporary {
        let _ = std::fs::remove_file(&path);
    }
    parsed
}

/// Parses a file; a guide's programmes are spooled to an unnamed temporary
/// file in `spool_dir` (gone when the plan is dropped) rather than held.
fn parse_file(
    path: &Path,
    kind: SourceKind,
    progress: Arc<dyn Progress>,
    spool_dir: &Path,
) -> Result<ParsedSource> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let len = file.metadata().ok().map(|m| m.len());
    progress.phase(Phase::Parsing, len);
    let sink = progress.clone();
    let reader: Box<dyn Read + Send> = Box::new(Counted {
        inner: file,
        progress,
    });
    let input = tvgate_formats::gzip::maybe_gunzip(reader)
        .with_context(|| format!("reading {}", path.display()))?;
    // Entries are told to the sink in batches: one atomic add per entry
    // would cost a million of them on a large list.
    let counter = EntryCounter::new(sink.clone());
    let outcome = match kind {
        SourceKind::M3u => {
            // Planned as it is read: the classified items are never held
            // beside the plan.
            let mut planner = Planner::default();
            let summary = tvgate_formats::m3u::read(input, |entry| {
                counter.one();
                planner.push(classify(&entry))
            })
            .with_context(|| format!("reading {}", path.display()))?;
            ParsedSource {
                content: SourceContent::Playlist(planner.finish()),
                diagnostics: summary.diagnostics,
            }
        }
        SourceKind::Xmltv => {
            // Planned as it is read, each programme written to a spool
            // on disk as it comes: a guide of a gigabyte is never held
            // in memory (see `tvgate_core::catalog::guide_plan`).
            let spool = tempfile::tempfile_in(spool_dir)
                .with_context(|| format!("creating a spool file in {}", spool_dir.display()))?;
            let mut planner = GuidePlanner::spooled(Box::new(FileSpool::new(spool)));
            let diagnostics = tvgate_formats::xmltv::read(input, |item| {
                counter.one();
                planner.push(item)
            })
            .with_context(|| format!("reading {}", path.display()))?;
            ParsedSource {
                content: SourceContent::Guide(planner.finish()),
                diagnostics,
            }
        }
        SourceKind::Xtream => anyhow::bail!("an Xtream account is not a file to parse"),
    };
    Ok(outcome)
}
