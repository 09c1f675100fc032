//! A line's story, read once for both faces that show it: the console's
//! line page (`console_lines.rs`) and `GET /api/v1/lines/{name}/timeline`
//! (`api.rs`). Its connections now (the ledger), then its logins and
//! streams (the timeline the faces record, `crate::stats`) and its
//! refusals (the denial log), merged newest first.

use crate::slots::{self, Connection};
use crate::state::App;
use serde_json::{json, Value};
use tvgate_core::access::refusal::{Refusal, RefusalFilter};
use tvgate_core::access::Line;
use tvgate_core::timeline::{EventKind, LineEvent};

/// Entries shown when the caller does not say.
pub const DEFAULT_LIMIT: u32 = 100;
/// Most entries one read returns.
pub const MAX_LIMIT: u32 = tvgate_core::timeline::PAGE_MAX;

/// One entry of a line's story, from the timeline or the denial log.
pub enum Entry {
    Event(LineEvent),
    Refusal(Refusal),
}

impl Entry {
    pub fn at(&self) -> i64 {
        match self {
            Entry::Event(e) => e.at,
            Entry::Refusal(r) => r.at,
        }
    }
}

/// A line's story: what it watches now, and its last entries.
pub struct Story {
    pub now: Vec<Connection>,
    /// Newest first, at most the limit asked for.
    pub entries: Vec<Entry>,
}

/// The line's connections now and its last `limit` entries (logins,
/// streams, refusals), newest first. Events still queued are written
/// first, so a stream that just ended is in it. A store that fails to
/// answer leaves its part out (logged), never the whole page.
pub async fn story(app: &App, line: &Line, limit: u32) -> Story {
    let limit = limit.min(MAX_LIMIT);
    crate::stats::flush_events(app).await;
    let now = slots::connections(app, line.id).await;
    let events = app
        .gate
        .line_events(line.id, limit)
        .await
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e, "reading a line's timeline failed");
            Vec::new()
        });
    let refusals = crate::refusals::page(
        app,
        RefusalFilter {
            line: Some(line.id),
            limit,
            ..Default::default()
        },
    )
    .await
    .map(|p| p.items)
    .unwrap_or_else(|e| {
        tracing::warn!(error = %e, "reading a line's refusals failed");
        Vec::new()
    });
    let mut entries: Vec<Entry> = events
        .into_iter()
        .map(Entry::Event)
        .chain(refusals.into_iter().map(|r| Entry::Refusal(r.refusal)))
        .collect();
    // Newest first; a tie keeps events before refusals, as recorded
    // (the sort is stable).
    entries.sort_by_key(|e| std::cmp::Reverse(e.at()));
    entries.truncate(limit as usize);
    Story { now, entries }
}

/// What ended a stream, as a stable code: `closed`, `frozen`, `expired`
/// or `ended_elsewhere` (as recorded by `crate::slots`).
pub fn ended_by(detail: &str) -> String {
    detail.replace(' ', "_")
}

/// What ended a stream, in words.
pub fn why_ended(detail: &str) -> &str {
    match detail {
        "closed" => "the player closed it",
        "frozen" => "the player stopped reading (frozen)",
        "expired" => "its slot ran out (the server stalled)",
        "ended elsewhere" => "ended by a newer connection or an operator",
        other => other,
    }
}

/// The story as the API's `Timeline` (openapi.json).
pub fn story_json(username: &str, story: &Story) -> Value {
    let now: Vec<Value> = story
        .now
        .iter()
        .map(|c| {
            let l = &c.lease;
            json!({
                "id": l.id.0,
                "stream_id": l.stream.0,
                "watching": c.watching,
                "player": &*l.user_agent,
                "ip": l.ip.to_string(),
                "started_at": l.started,
            })
        })
        .collect();
    let items: Vec<Value> = story.entries.iter().map(entry_json).collect();
    json!({"line": username, "now": now, "items": items})
}

fn entry_json(e: &Entry) -> Value {
    match e {
        Entry::Event(e) if e.kind == EventKind::Login => json!({
            "kind": "login",
            "at": e.at,
            "player": e.player,
            "ip": e.ip.to_string(),
            "face": e.detail,
        }),
        Entry::Event(e) => json!({
            "kind": "stream",
            "at": e.at,
            "ended_at": e.ended,
            "channel": e.channel,
            "player": e.player,
            "ip": e.ip.to_string(),
            "ended_by": e.ended.map(|_| ended_by(&e.detail)),
            "why": e.ended.map(|_| why_ended(&e.detail)),
        }),
        Entry::Refusal(r) => json!({
            "kind": "refusal",
            "at": r.at,
            "reason": r.reason,
            "text": r.text,
            "ip": r.ip.to_string(),
            "face": r.face,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_recorded_ending_has_a_code_and_words() {
        for (detail, code) in [
            ("closed", "closed"),
            ("frozen", "frozen"),
            ("expired", "expired"),
            ("ended elsewhere", "ended_elsewhere"),
        ] {
            assert_eq!(ended_by(detail), code);
            assert_ne!(why_ended(detail), detail, "{detail} has words");
        }
    }
}
