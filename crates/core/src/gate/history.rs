//! The gate's operations on the dashboard's history: each node writes its
//! per-minute samples and reads everyone's summed; the faces record lines'
//! logins and streams, and a line's page reads them back. Samples live a
//! day; events as long as the denial log.

use super::{Gate, GateError};
use crate::ids::LineId;
use crate::stats::{Sample, MAX_WINDOW_SECS};
use crate::timeline::{LineEvent, PAGE_MAX};
use crate::UnixTime;

impl Gate {
    /// Writes a node's samples (each in place of its minute's).
    pub async fn record_samples(&self, node: &str, samples: Vec<Sample>) -> Result<(), GateError> {
        if samples.is_empty() {
            return Ok(());
        }
        Ok(self.store.save_samples(node.to_string(), samples).await?)
    }

    /// The samples from `since` on, oldest first: one node's, or every
    /// node's summed per minute (`None`).
    pub async fn samples(
        &self,
        node: Option<&str>,
        since: UnixTime,
    ) -> Result<Vec<Sample>, GateError> {
        Ok(self.store.samples(node.map(str::to_string), since).await?)
    }

    /// Appends events to lines' timelines (each cut to its bounds).
    pub async fn record_line_events(&self, events: Vec<LineEvent>) -> Result<(), GateError> {
        if events.is_empty() {
            return Ok(());
        }
        let events = events.into_iter().map(LineEvent::bounded).collect();
        Ok(self.store.insert_line_events(events).await?)
    }

    /// A line's last `limit` events (at most [`PAGE_MAX`]), newest first.
    pub async fn line_events(&self, line: LineId, limit: u32) -> Result<Vec<LineEvent>, GateError> {
        Ok(self.store.line_events(line, limit.min(PAGE_MAX)).await?)
    }

    /// Forgets samples older than a day and events older than `days` days
    /// (0: keeps the events). Returns how many rows went.
    pub async fn prune_history(&self, now: UnixTime, days: u32) -> Result<u64, GateError> {
        let mut n = self
            .store
            .prune_samples(now.saturating_sub(MAX_WINDOW_SECS + 3600))
            .await?;
        if days > 0 {
            let before = now.saturating_sub(i64::from(days) * 86_400);
            n += self.store.prune_line_events(before).await?;
        }
        Ok(n)
    }
}
