//! What the API and the console both do for lines beyond a single call
//! into the gate: the search both list lines by, CSV import and export,
//! bulk creation (with the hashing moved off the async threads), and
//! checking a package against the catalog. One copy, so the two faces
//! cannot disagree; the rules themselves are the gate's and `lines_csv`'s.
//! How a line reads (its state word, its JSON) is [`crate::present::line`].

use super::ApiError;
use crate::state::App;
use std::sync::Arc;
use tvgate_core::access::lines_csv;
use tvgate_core::access::secrets::{self, KdfError, KdfParams};
use tvgate_core::access::Line;
use tvgate_core::gate::{BulkSpec, ImportReport};
use tvgate_core::ids::CategoryId;

/// The lines whose username or note contains `needle` (any case; empty:
/// every line), sorted by username: the API's list, the console's lines
/// page and its dashboard read lines in this one order.
pub(crate) fn search(app: &App, needle: &str) -> Vec<Arc<Line>> {
    let needle = needle.to_lowercase();
    let mut lines: Vec<_> = app
        .gate
        .lines()
        .into_iter()
        .filter(|a| {
            needle.is_empty()
                || a.username.to_lowercase().contains(&needle)
                || a.note.to_lowercase().contains(&needle)
        })
        .collect();
    lines.sort_by(|a, b| a.username.cmp(&b.username));
    lines
}

/// Largest CSV body the import accepts (about 300,000 lines).
pub const MAX_CSV_BYTES: usize = 32 * 1024 * 1024;

/// Hashes on every core on a blocking thread, so a bulk job never stalls
/// the server's async threads.
pub(crate) async fn hash_off_thread(
    passwords: Vec<String>,
    params: KdfParams,
) -> Vec<Result<String, KdfError>> {
    let n = passwords.len();
    match tokio::task::spawn_blocking(move || secrets::hash_many(&passwords, params, || ())).await {
        Ok(hashes) => hashes,
        Err(e) => (0..n)
            .map(|_| Err(KdfError(format!("the hashing thread failed: {e}"))))
            .collect(),
    }
}

/// Imports a CSV (see `lines_csv::read_rows`): bad rows come back in the
/// report's errors, sorted by line; a file without a username column is a
/// 400.
pub(crate) async fn import_csv(app: &App, text: &[u8]) -> Result<ImportReport, ApiError> {
    let (rows, errors) = lines_csv::read_rows(text).map_err(ApiError::bad_request)?;
    let mut report = app
        .gate
        .import_lines(rows, app.now(), hash_off_thread)
        .await?;
    report.errors.extend(errors);
    report.errors.sort_by_key(|e| e.line);
    tracing::info!(
        created = report.counts.created,
        updated = report.counts.updated,
        refused = report.errors.len(),
        "lines imported from CSV"
    );
    Ok(report)
}

/// Every line as CSV, without passwords.
pub(crate) fn export_csv(app: &App) -> Result<Vec<u8>, ApiError> {
    let lines = app.gate.lines();
    let mut out = Vec::new();
    lines_csv::write_rows(lines.iter().map(|a| &**a), &mut out)
        .map_err(|e| ApiError::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, "internal", e))?;
    Ok(out)
}

/// Creates lines in bulk; (username, password) of each.
pub(crate) async fn bulk(app: &App, spec: BulkSpec) -> Result<Vec<(String, String)>, ApiError> {
    let count = spec.count;
    let made = app
        .gate
        .create_lines_in_bulk(spec, app.now(), hash_off_thread)
        .await?;
    tracing::info!(asked = count, made = made.len(), "lines created in bulk");
    Ok(made)
}

/// Category ids checked against the current catalog.
pub(crate) fn package(app: &App, ids: &[u32]) -> Result<Vec<CategoryId>, String> {
    let catalog = app.gate.catalog();
    let mut out = Vec::with_capacity(ids.len());
    for &id in ids {
        let id = CategoryId(id);
        if catalog.category(id).is_none() {
            return Err(format!("package: there is no category {}", id.0));
        }
        if !out.contains(&id) {
            out.push(id);
        }
    }
    Ok(out)
}
