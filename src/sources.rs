//! Importing sources: fetch a playlist or guide (file or URL), parse it as
//! it streams in, hand the items to the store, and record the outcome with
//! every skipped line. Used by `tvgate source add|refresh` and, through
//! the [`SourceImporter`] hook ([`Importer`]), by the console and the admin
//! API, which run it in the background.
//!
//! Progress goes to a [`Progress`] sink: the CLI draws a terminal bar
//! ([`TerminalProgress`]), the web keeps atomics it shows on a page
//! (`tvgate_http::admin::importer::RefreshProgress`).

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tvgate_core::catalog::ingest::{classify, ImportedItem};
use tvgate_core::catalog::{Source, SourceKind};
use tvgate_core::gate::Gate;
use tvgate_core::ids::SourceId;
use tvgate_core::ports::{GuideImport, ImportCounts, RefreshRecord};
use tvgate_formats::{redact_location, redact_url};
pub use tvgate_http::admin::importer::{Phase, Progress, SourceImporter};

/// What one refresh did.
#[derive(Debug, Clone, Default)]
pub struct RefreshReport {
    pub items: ImportCounts,
    pub programmes: u64,
    pub channels: u64,
    pub diagnostics: Vec<String>,
}

impl RefreshReport {
    pub fn summary(&self, kind: SourceKind) -> String {
        match kind {
            SourceKind::M3u => format!(
                "{} live channels, {} movies, {} episodes in {} series ({} removed), {} lines skipped",
                self.items.live,
                self.items.movies,
                self.items.episodes,
                self.items.series,
                self.items.removed,
                self.diagnostics.len()
            ),
            SourceKind::Xmltv => format!("{} guide channels, {} programmes, {} problems skipped", self.channels, self.programmes, self.diagnostics.len()),
        }
    }
}

fn progress_bar(len: Option<u64>, what: &str) -> ProgressBar {
    let pb = match len {
        Some(n) => ProgressBar::new(n),
        None => ProgressBar::new_spinner(),
    };
    let style = ProgressStyle::with_template(
        "{msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    pb.set_style(style);
    pb.set_message(what.to_string());
    pb
}

/// The CLI's progress: a bar on the terminal per phase (nothing when
/// standard error is not a terminal).
pub struct TerminalProgress {
    show: bool,
    bar: std::sync::Mutex<Option<ProgressBar>>,
}

impl TerminalProgress {
    pub fn new(show: bool) -> Arc<TerminalProgress> {
        Arc::new(TerminalProgress {
            show,
            bar: std::sync::Mutex::new(None),
        })
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
            _ => return,
        };
        if self.show {
            *bar = Some(progress_bar(total, what));
        }
    }

    fn advance(&self, bytes: u64) {
        if let Some(bar) = &*self.bar.lock().unwrap_or_else(|p| p.into_inner()) {
            bar.inc(bytes);
        }
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

/// The importer the console and the API run (`App::importer`).
pub struct Importer {
    pub gate: Arc<Gate>,
    pub data_dir: PathBuf,
}

impl SourceImporter for Importer {
    fn refresh(
        &self,
        source: Source,
        progress: Arc<dyn Progress>,
    ) -> futures::future::BoxFuture<'static, Result<String, String>> {
        let gate = self.gate.clone();
        let dir = self.data_dir.clone();
        Box::pin(async move {
            refresh(&gate, &source, &dir, progress)
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

/// Downloads a URL into a file under `dir`, so parsing streams from disk.
async fn download(
    url: &str,
    dir: &Path,
    id: SourceId,
    progress: &Arc<dyn Progress>,
) -> Result<PathBuf> {
    // reqwest's errors carry the whole URL (query and path credentials
    // included): the message names it redacted instead.
    let response = reqwest::get(url)
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
    Ok(path)
}

/// Re-imports one source into the store and swaps in the new catalog.
pub async fn refresh(
    gate: &Arc<Gate>,
    source: &Source,
    data_dir: &Path,
    progress: Arc<dyn Progress>,
) -> Result<RefreshReport> {
    let now = chrono::Utc::now().timestamp();
    let result = import(gate, source, data_dir, &progress, now).await;
    progress.phase(Phase::Storing, None);
    let (report, error) = match result {
        Ok(r) => (r, None),
        Err(e) => (RefreshReport::default(), Some(format!("{e:#}"))),
    };
    let count = match source.kind {
        SourceKind::M3u => report.items.live + report.items.movies + report.items.episodes,
        SourceKind::Xmltv => report.programmes,
    };
    let record = RefreshRecord {
        at: now,
        item_count: count,
        error: error.clone(),
        diagnostics: report.diagnostics.clone(),
    };
    gate.store()
        .record_refresh(source.id, record)
        .await
        .context("recording the refresh")?;
    gate.reload_catalog()
        .await
        .context("reloading the catalog")?;
    match error {
        Some(e) => anyhow::bail!(
            "source {} ({}): {e}",
            source.id,
            redact_location(&source.location)
        ),
        None => Ok(report),
    }
}

async fn import(
    gate: &Arc<Gate>,
    source: &Source,
    data_dir: &Path,
    progress: &Arc<dyn Progress>,
    now: i64,
) -> Result<RefreshReport> {
    let location = source.location.clone();
    let is_url = location.starts_with("http://") || location.starts_with("https://");
    let (path, temporary) = if is_url {
        (
            download(&location, data_dir, source.id, progress).await?,
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
    let parsed = tokio::task::spawn_blocking(move || parse_file(&parse_path, kind, sink))
        .await
        .context("parser thread failed")?;
    if temporary {
        let _ = std::fs::remove_file(&path);
    }
    let parsed = parsed?;
    let mut report = RefreshReport {
        diagnostics: parsed.diagnostics,
        ..Default::default()
    };
    progress.phase(Phase::Storing, None);
    match parsed.content {
        Parsed::Items(items) => {
            report.items = gate
                .store()
                .replace_items(source.id, items, now)
                .await
                .context("storing the catalog")?;
        }
        Parsed::Guide(guide) => {
            report.channels = guide.channels.len() as u64;
            report.programmes = gate
                .store()
                .replace_guide(source.id, guide)
                .await
                .context("storing the guide")?;
        }
    }
    Ok(report)
}

enum Parsed {
    Items(Vec<ImportedItem>),
    Guide(GuideImport),
}

struct ParseOutcome {
    content: Parsed,
    diagnostics: Vec<String>,
}

fn parse_file(path: &Path, kind: SourceKind, progress: Arc<dyn Progress>) -> Result<ParseOutcome> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let len = file.metadata().ok().map(|m| m.len());
    progress.phase(Phase::Parsing, len);
    let reader: Box<dyn Read + Send> = Box::new(Counted {
        inner: file,
        progress,
    });
    let input = tvgate_formats::gzip::maybe_gunzip(reader)
        .with_context(|| format!("reading {}", path.display()))?;
    let outcome = match kind {
        SourceKind::M3u => {
            let mut items = Vec::new();
            let summary = tvgate_formats::m3u::read(input, |entry| items.push(classify(&entry)))
                .with_context(|| format!("reading {}", path.display()))?;
            ParseOutcome {
                content: Parsed::Items(items),
                diagnostics: summary.diagnostics.iter().map(|d| d.to_string()).collect(),
            }
        }
        SourceKind::Xmltv => {
            let mut guide = GuideImport::default();
            let diagnostics = tvgate_formats::xmltv::read(input, |item| match item {
                tvgate_formats::xmltv::Item::Channel(c) => guide.channels.push(c),
                tvgate_formats::xmltv::Item::Programme(p) => guide.programmes.push(p),
            })
            .with_context(|| format!("reading {}", path.display()))?;
            ParseOutcome {
                content: Parsed::Guide(guide),
                diagnostics: diagnostics.iter().map(|d| d.to_string()).collect(),
            }
        }
    };
    Ok(outcome)
}
