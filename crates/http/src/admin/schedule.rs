//! The refresh schedule: an enabled source whose last refresh is
//! `source_refresh_hours` old is re-imported, through the same background
//! jobs (and the same one-per-source rule) as a refresh started from the
//! console or the API. Providers rename and move their streams; a playlist
//! imported once goes stale without anyone noticing until players fail.
//!
//! The schedule reads the stored `last_refresh` (written when a refresh
//! starts, also when it fails; for a source never refreshed, when it was
//! added), so a restart neither repeats a recent refresh nor forgets a due
//! one; a failed refresh is tried again one period later, not in a loop.

use crate::state::App;
use tokio_util::sync::CancellationToken;
use tvgate_core::catalog::Source;
use tvgate_core::UnixTime;

/// Runs until `stop`: every `source_refresh_check`, starts the refreshes
/// that are due. Does nothing when the schedule is off (0 hours) or the
/// server has no importer.
pub async fn run(app: App, stop: CancellationToken) {
    let hours = app.settings.source_refresh_hours;
    if hours == 0 || app.importer.is_none() {
        return;
    }
    let period = i64::from(hours) * 3600;
    let mut tick = tokio::time::interval(app.settings.source_refresh_check);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => start_due(&app, period).await,
        }
    }
}

/// True when `source` should be refreshed at `now`: enabled, and last
/// refreshed (or, never refreshed, added) at least `period` seconds ago.
/// A new source is imported by whoever added it (`tvgate source add`, the
/// console, the API); were it due at once, the schedule would import it a
/// second time alongside, for example while the CLI's import runs.
pub fn is_due(source: &Source, now: UnixTime, period: i64) -> bool {
    let last = source.last_refresh.unwrap_or(source.created_at);
    source.enabled && now.saturating_sub(last) >= period
}

async fn start_due(app: &App, period: i64) {
    let sources = match app.gate.sources().await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "refresh schedule: sources not read");
            return;
        }
    };
    let now = app.now();
    for source in sources.into_iter().filter(|s| is_due(s, now, period)) {
        let id = source.id;
        // A running refresh (started by hand) is left to finish.
        if app.refreshes.start(app, source).is_ok() {
            tracing::info!(source = id.0, "scheduled refresh started");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tvgate_core::catalog::{Delivery, SourceKind};
    use tvgate_core::ids::SourceId;

    fn source(enabled: bool, last_refresh: Option<UnixTime>) -> Source {
        Source {
            id: SourceId(1),
            kind: SourceKind::M3u,
            location: "http://provider.example/list.m3u".into(),
            name: "list".into(),
            created_at: 5,
            last_refresh,
            item_count: 0,
            last_error: None,
            diagnostics: Vec::new(),
            diagnostic_count: 0,
            enabled,
            max_connections: 0,
            delivery: Delivery::Proxy,
            account: None,
            held: None,
            identity: Default::default(),
        }
    }

    #[test]
    fn due_once_a_period_has_passed_and_only_when_enabled() {
        let hour = 3600;
        // Never refreshed: counted from when it was added (at 5).
        assert!(!is_due(&source(true, None), 10, hour));
        assert!(is_due(&source(true, None), 5 + hour, hour));
        assert!(!is_due(&source(true, Some(1000)), 1000 + hour - 1, hour));
        assert!(is_due(&source(true, Some(1000)), 1000 + hour, hour));
        assert!(!is_due(&source(false, Some(1000)), 1000 + 10 * hour, hour));
        assert!(!is_due(&source(false, None), 10, hour));
    }
}
