//! Importing a source: the one operation that turns a refresh's parsed
//! playlist or guide into stored items, records how the refresh went
//! (count, error, diagnostics) and swaps in the new catalog snapshot.
//!
//! Fetching, unpacking and parsing are I/O and stay in the binary
//! (`src/sources.rs`), which runs them for the CLI and, through the web's
//! refresh hook, for the console and the API alike. What reaches the gate
//! is the parsed content, a playlist or guide already planned while it
//! was read ([`crate::catalog::plan`], [`crate::catalog::guide_plan`]), or
//! why there is none; either way the outcome is recorded here, so a failed
//! refresh is as visible as a good one.

use super::{Gate, GateError};
use crate::catalog::guide_plan::GuidePlan;
use crate::catalog::plan::CatalogPlan;
use crate::catalog::{GuideMatches, HeldRefresh, SourceKind};
use crate::ids::SourceId;
use crate::ports::{ImportCounts, RefreshRecord};
use crate::UnixTime;
use tvgate_formats::Diagnostic;

/// What a refresh read from a source.
#[derive(Debug)]
pub enum SourceContent {
    /// A playlist's items, planned as they were read.
    Playlist(CatalogPlan),
    /// A guide's channels and programmes, planned as they were read.
    Guide(GuidePlan),
    /// An Xtream account's catalog, its guide, and what it allows.
    Account(AccountContent),
}

/// What an Xtream account's refresh read.
#[derive(Debug)]
pub struct AccountContent {
    /// Live channels, movies and episodes, keyed by the provider's ids.
    pub catalog: CatalogPlan,
    /// The account's guide (`xmltv.php`); `None` when it could not be
    /// read (the reason is among the diagnostics): the guide stored
    /// before stays.
    pub guide: Option<GuidePlan>,
    /// The account's `max_connections` (0: unlimited or not said).
    pub max_connections: u32,
}

impl SourceContent {
    /// How many entries the refresh read, counted as a source's
    /// `item_count` is: a playlist's or an account's live channels, movies
    /// and episodes, a guide's programmes.
    pub fn entries(&self) -> u64 {
        let items = |plan: &CatalogPlan| {
            let c = plan.counts();
            c.live + c.movies + c.episodes
        };
        match self {
            SourceContent::Playlist(plan) => items(plan),
            SourceContent::Guide(plan) => plan.len(),
            SourceContent::Account(account) => items(&account.catalog),
        }
    }
}

/// A source as its refresh parsed it: the content and every line the
/// reader skipped.
#[derive(Debug)]
pub struct ParsedSource {
    pub content: SourceContent,
    pub diagnostics: Vec<Diagnostic>,
}

/// What one refresh imported.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RefreshReport {
    /// A playlist's items.
    pub items: ImportCounts,
    /// A guide's programmes and channels, as stored (a repeated channel id
    /// counts once).
    pub programmes: u64,
    pub channels: u64,
    pub diagnostics: Vec<Diagnostic>,
    /// How the live channels found their guide after this refresh (see
    /// [`GuideMatches`]): a playlist's or an account's own channels, every
    /// channel for a guide.
    pub guide: Option<GuideMatches>,
}

impl RefreshReport {
    /// One line for the operator (the CLI prints it, the web shows it as
    /// the refresh job's outcome).
    pub fn summary(&self, kind: SourceKind) -> String {
        let mut line = self.counts_line(kind);
        if let Some(g) = &self.guide {
            line.push_str(&format!("; {g}"));
        }
        line
    }

    fn counts_line(&self, kind: SourceKind) -> String {
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
            SourceKind::Xmltv => format!(
                "{} guide channels, {} programmes, {} problems skipped",
                self.channels,
                self.programmes,
                self.diagnostics.len()
            ),
            SourceKind::Xtream => format!(
                "{} live channels, {} movies, {} episodes in {} series ({} removed), {} guide channels, {} programmes, {} problems skipped",
                self.items.live,
                self.items.movies,
                self.items.episodes,
                self.items.series,
                self.items.removed,
                self.channels,
                self.programmes,
                self.diagnostics.len()
            ),
        }
    }
}

impl Gate {
    /// Imports one refresh of a source read at `now`: `parsed` is what the
    /// refresh read, or why it could not (a download or a file that
    /// failed). Stores the content (replacing the source's items or
    /// guide), records the outcome on the source and reloads the catalog.
    ///
    /// A refresh that failed, in reading or in storing, is recorded with
    /// its error and comes back as [`GateError::ImportFailed`]; the items
    /// stored before it stay (and stay counted on the source).
    ///
    /// A refresh that read so much less than the source has that the
    /// shrink guard (`refresh_shrink_guard`) holds it is not stored: the
    /// hold is recorded on the source and comes back as
    /// [`GateError::RefreshHeld`]. [`Gate::import_source_accepting`]
    /// applies such a refresh.
    pub async fn import_source(
        &self,
        source: SourceId,
        parsed: Result<ParsedSource, String>,
        now: UnixTime,
    ) -> Result<RefreshReport, GateError> {
        self.import(source, parsed, now, false).await
    }

    /// [`Gate::import_source`] with the shrink guard off for this one
    /// refresh: the operator looked at a held refresh and applies it.
    pub async fn import_source_accepting(
        &self,
        source: SourceId,
        parsed: Result<ParsedSource, String>,
        now: UnixTime,
    ) -> Result<RefreshReport, GateError> {
        self.import(source, parsed, now, true).await
    }

    /// Imports one refresh, the shrink guard applied unless `accept_shrink`.
    pub async fn import_source_with(
        &self,
        source: SourceId,
        parsed: Result<ParsedSource, String>,
        now: UnixTime,
        accept_shrink: bool,
    ) -> Result<RefreshReport, GateError> {
        self.import(source, parsed, now, accept_shrink).await
    }

    async fn import(
        &self,
        source: SourceId,
        parsed: Result<ParsedSource, String>,
        now: UnixTime,
        accept_shrink: bool,
    ) -> Result<RefreshReport, GateError> {
        let before = self.source(source).await?.item_count;
        // A guide's report counts every channel's match; a playlist's, its own.
        let whose = match &parsed {
            Ok(ParsedSource {
                content: SourceContent::Guide(_),
                ..
            }) => None,
            _ => Some(source),
        };
        if let Ok(parsed) = &parsed {
            let after = parsed.content.entries();
            let guard = self.settings.refresh_shrink_guard;
            if !accept_shrink && guard.holds(before, after) {
                let held = HeldRefresh::new(source, now, before, after, guard);
                self.store.hold_refresh(source, held.clone()).await?;
                return Err(GateError::RefreshHeld(held));
            }
        }
        let stored = match parsed {
            Ok(parsed) => self.store_content(source, parsed, now).await,
            Err(error) => Err(error),
        };
        let (mut report, item_count, error) = match stored {
            Ok((report, item_count)) => (report, item_count, None),
            // Nothing was replaced: the source still has what it had.
            Err(error) => (RefreshReport::default(), before, Some(error)),
        };
        let record = RefreshRecord {
            at: now,
            item_count,
            error: error.clone(),
            diagnostics: report.diagnostics.clone(),
        };
        self.store.record_refresh(source, record).await?;
        self.reload_catalog().await?;
        report.guide = Some(self.catalog().guide_matches(whose));
        match error {
            Some(error) => Err(GateError::ImportFailed(error)),
            None => Ok(report),
        }
    }

    /// Writes the content; the report and the count recorded on the source
    /// (a playlist's items, a guide's programmes), or the failure as
    /// recorded.
    async fn store_content(
        &self,
        source: SourceId,
        parsed: ParsedSource,
        now: UnixTime,
    ) -> Result<(RefreshReport, u64), String> {
        let mut report = RefreshReport {
            diagnostics: parsed.diagnostics,
            ..RefreshReport::default()
        };
        let item_count = match parsed.content {
            SourceContent::Playlist(plan) => {
                report.items = self
                    .store
                    .replace_items(source, plan, now)
                    .await
                    .map_err(|e| format!("storing the catalog: {e}"))?;
                report.items.live + report.items.movies + report.items.episodes
            }
            SourceContent::Guide(plan) => {
                report.channels = plan.channels().len() as u64;
                report.programmes = self
                    .store
                    .replace_guide(source, plan)
                    .await
                    .map_err(|e| format!("storing the guide: {e}"))?;
                report.programmes
            }
            SourceContent::Account(account) => {
                report.items = self
                    .store
                    .replace_items(source, account.catalog, now)
                    .await
                    .map_err(|e| format!("storing the catalog: {e}"))?;
                self.store
                    .set_account_connections(source, account.max_connections)
                    .await
                    .map_err(|e| format!("storing the account's connection cap: {e}"))?;
                // The catalog is in; a guide that cannot be stored is a
                // problem of this refresh, not a reason to call it failed.
                if let Some(guide) = account.guide {
                    let channels = guide.channels().len() as u64;
                    match self.store.replace_guide(source, guide).await {
                        Ok(programmes) => {
                            report.channels = channels;
                            report.programmes = programmes;
                        }
                        Err(e) => report
                            .diagnostics
                            .push(Diagnostic::new(0, format!("the guide was not stored: {e}"))),
                    }
                }
                report.items.live + report.items.movies + report.items.episodes
            }
        };
        Ok((report, item_count))
    }
}
