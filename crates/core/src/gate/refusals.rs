//! The gate's operations on the denial log: the faces record refusals in
//! batches, and the console, the portal and the API read pages of it with
//! the same filter, so a rule (a known reason, a page's bounds, the cursor)
//! exists once. Retention is a prune the server runs at start and hourly.

use super::{Gate, GateError};
use crate::access::refusal::{Refusal, RefusalFilter, RefusalPage, PAGE_MAX};
use crate::access::Denial;
use crate::UnixTime;

/// Checks a reason code against [`Denial::CODES`]; the error lists them.
pub fn check_reason(code: &str) -> Result<(), GateError> {
    if Denial::CODES.contains(&code) {
        Ok(())
    } else {
        Err(GateError::Invalid(format!(
            "reason {code:?} is not a reason code; use one of: {}",
            Denial::CODES.join(", ")
        )))
    }
}

impl Gate {
    /// Appends refusals to the log (each cut to its bounds).
    pub async fn record_refusals(&self, refusals: Vec<Refusal>) -> Result<(), GateError> {
        if refusals.is_empty() {
            return Ok(());
        }
        let refusals = refusals.into_iter().map(Refusal::bounded).collect();
        Ok(self.store.insert_refusals(refusals).await?)
    }

    /// One page of the log, newest first: at most `filter.limit` (1 to
    /// [`PAGE_MAX`]; 0 reads as the most) refusals and the cursor of the
    /// next page.
    pub async fn refusals(&self, mut filter: RefusalFilter) -> Result<RefusalPage, GateError> {
        if let Some(reason) = &filter.reason {
            check_reason(reason)?;
        }
        let limit = match filter.limit {
            0 => PAGE_MAX,
            n => n.min(PAGE_MAX),
        };
        // One more than asked tells whether an older page exists.
        filter.limit = limit + 1;
        let mut items = self.store.refusals(filter).await?;
        let next_before = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(|r| r.id)
        } else {
            None
        };
        Ok(RefusalPage { items, next_before })
    }

    /// Forgets refusals older than `days` days (0: keeps them all).
    pub async fn prune_refusals(&self, now: UnixTime, days: u32) -> Result<u64, GateError> {
        if days == 0 {
            return Ok(0);
        }
        let before = now.saturating_sub(i64::from(days) * 86_400);
        Ok(self.store.prune_refusals(before).await?)
    }
}
