//! Bulk creation: N new lines named `PREFIX001`, `PREFIX002`, … with
//! generated passwords and the same terms, for the console's and the API's
//! "bulk create" (and `tvgate line bulk`).
//!
//! It is an import of N rows without passwords (one transaction, hashing on
//! every core through the caller's `hash_all`, the import cost upgraded on
//! first login), so it shares every rule of [`Gate::import_lines`].
//! A name that already exists is skipped and the next number taken: a
//! bulk create never changes an existing line (one created meanwhile, say
//! by a second bulk create with the same prefix, fails the whole batch
//! with a conflict instead).

use super::{Gate, GateError, ImportRow};
use crate::access::credentials;
use crate::access::secrets::{KdfError, KdfParams};
use crate::UnixTime;

/// Most lines one bulk create makes.
pub const MAX_BULK: u32 = 1000;

/// What every line of a bulk create gets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BulkSpec {
    /// 1..=[`MAX_BULK`].
    pub count: u32,
    /// Usernames are the prefix and a number, zero-padded to three digits.
    pub prefix: String,
    pub expires_at: Option<UnixTime>,
    pub max_connections: u32,
    pub is_trial: bool,
    pub note: String,
}

impl Gate {
    /// Creates `spec.count` lines; returns (username, password) of each, in
    /// order. The passwords exist only in this answer.
    pub async fn create_lines_in_bulk<F, Fut>(
        &self,
        spec: BulkSpec,
        now: UnixTime,
        hash_all: F,
    ) -> Result<Vec<(String, String)>, GateError>
    where
        F: FnOnce(Vec<String>, KdfParams) -> Fut,
        Fut: std::future::Future<Output = Vec<Result<String, KdfError>>>,
    {
        if !(1..=MAX_BULK).contains(&spec.count) {
            return Err(GateError::Invalid(format!(
                "count must be a whole number from 1 to {MAX_BULK}"
            )));
        }
        let prefix = spec.prefix.trim();
        if prefix.is_empty() {
            return Err(GateError::Invalid("prefix is required".into()));
        }
        let width = spec.count.to_string().len().max(3);
        let mut names = Vec::with_capacity(spec.count as usize);
        // Each existing line can push the numbers up by one, no more.
        let last = u64::from(spec.count) + self.directory.len() as u64;
        for n in 1..=last {
            if names.len() == spec.count as usize {
                break;
            }
            let name = format!("{prefix}{n:0width$}");
            credentials::validate("username", &name).map_err(|e| {
                GateError::Invalid(format!("prefix {prefix:?} makes a bad username: {e}"))
            })?;
            if self.directory.find(&name).is_none() {
                names.push(name);
            }
        }
        let rows = names
            .into_iter()
            .enumerate()
            .map(|(i, username)| ImportRow {
                line: i as u64 + 1,
                username,
                password: String::new(),
                max_connections: Some(spec.max_connections),
                expires_at: Some(spec.expires_at),
                status: None,
                limit_policy: None,
                is_trial: Some(spec.is_trial),
                note: Some(spec.note.clone()),
                only_new: true,
            })
            .collect();
        let report = self.import_lines(rows, now, hash_all).await?;
        if let Some(e) = report.errors.first() {
            return Err(GateError::Invalid(format!(
                "line {} of the batch: {}",
                e.line, e.message
            )));
        }
        Ok(report.generated)
    }
}
