//! The sliding window of a live channel's segments, and the rules of its
//! playlist (RFC 8216 §6.2.2). Pure.
//!
//! * **Listed**: at least `listed` segments, and never fewer than span
//!   three target durations (a segment leaves only when what stays still
//!   does). Segments leave from the front only, so the media sequence
//!   number grows by one per segment that leaves and never goes back.
//! * **Kept after leaving**: a segment that left the playlist stays
//!   available as long as a player may still ask for it (RFC 8216: its own
//!   duration plus that of a playlist that listed it); here, while no more
//!   than one window plus one segment have left after it. Older ones are
//!   gone: asking for them is answered 404 at once.
//! * **Target duration**: every segment's duration rounded to the nearest
//!   second, at least the configured segment duration; it never goes down
//!   (players take the first one they see).
//! * **Discontinuity sequence**: grows by one per discontinuous segment
//!   that leaves the playlist.
//! * **Program date-time**: the wall clock at the first segment and after
//!   every discontinuity, then each segment's start is the previous one's
//!   plus its duration, so the dates follow the media time.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tvgate_formats::hls_live::{rounded_secs, LiveEntry, LiveHead};

use super::cut::Cut;

/// One kept segment.
#[derive(Debug, Clone)]
struct Kept {
    entry: LiveEntry,
    bytes: Bytes,
    /// Discontinuous segments up to and including this one.
    discontinuities: u64,
}

/// The segments of one channel.
#[derive(Debug)]
pub struct Window {
    listed: usize,
    target: u32,
    /// Oldest first; `kept[listed_from..]` are in the playlist.
    kept: VecDeque<Kept>,
    listed_from: usize,
    next_seq: u64,
    discontinuities: u64,
    /// The first segment pushed is marked discontinuous (the window
    /// continues the numbering of an earlier run for the same channel).
    mark_first: bool,
}

impl Window {
    /// An empty window listing at least `listed` segments, for segments of
    /// about `segment`; its first segment gets media sequence `first_seq`.
    pub fn new(listed: usize, segment: Duration, first_seq: u64, mark_first: bool) -> Window {
        Window {
            listed: listed.max(1),
            target: segment.as_secs_f64().ceil().max(1.0) as u32,
            kept: VecDeque::new(),
            listed_from: 0,
            next_seq: first_seq,
            discontinuities: 0,
            mark_first,
        }
    }

    /// Adds a finished segment; returns its media sequence number.
    pub fn push(&mut self, cut: Cut) -> u64 {
        let duration_ms = (cut.duration.as_millis() as u64).max(1);
        let discontinuity = cut.discontinuity || std::mem::take(&mut self.mark_first);
        let wall = unix_ms(cut.started_at);
        let program_date_time_ms = match self.kept.back() {
            Some(prev) if !discontinuity => {
                prev.entry.program_date_time_ms + prev.entry.duration_ms as i64
            }
            _ => wall,
        };
        let sequence = self.next_seq;
        self.next_seq += 1;
        self.discontinuities += u64::from(discontinuity);
        self.target = self.target.max(rounded_secs(duration_ms) as u32);
        self.kept.push_back(Kept {
            entry: LiveEntry {
                sequence,
                duration_ms,
                discontinuity,
                program_date_time_ms,
            },
            bytes: cut.bytes,
            discontinuities: self.discontinuities,
        });
        self.slide();
        sequence
    }

    /// Moves the playlist's start forward while what stays is enough, and
    /// forgets segments no player may still ask for.
    fn slide(&mut self) {
        let min_span_ms = 3 * u64::from(self.target) * 1000;
        let mut span: u64 = self
            .kept
            .iter()
            .skip(self.listed_from)
            .map(|k| k.entry.duration_ms)
            .sum();
        loop {
            let count = self.kept.len() - self.listed_from;
            let Some(first) = self.kept.get(self.listed_from) else {
                break;
            };
            let rest = span - first.entry.duration_ms;
            if count <= self.listed || rest < min_span_ms {
                break;
            }
            span = rest;
            self.listed_from += 1;
        }
        let keep_left = self.kept.len() - self.listed_from + 1;
        while self.listed_from > keep_left {
            self.kept.pop_front();
            self.listed_from -= 1;
        }
    }

    /// `#EXT-X-TARGETDURATION`.
    pub fn target_duration(&self) -> u32 {
        self.target
    }

    /// The playlist: its head and its segments, or `None` before the first
    /// segment.
    pub fn playlist(&self) -> Option<(LiveHead, Vec<LiveEntry>)> {
        let first = self.kept.get(self.listed_from)?;
        let head = LiveHead {
            target_duration: self.target,
            media_sequence: first.entry.sequence,
            discontinuity_sequence: first.discontinuities - u64::from(first.entry.discontinuity),
        };
        let entries = self
            .kept
            .iter()
            .skip(self.listed_from)
            .map(|k| k.entry)
            .collect();
        Some((head, entries))
    }

    /// Segment `seq`, if it is still kept.
    pub fn segment(&self, seq: u64) -> Option<Bytes> {
        let first = self.kept.front()?.entry.sequence;
        let at = usize::try_from(seq.checked_sub(first)?).ok()?;
        self.kept.get(at).map(|k| k.bytes.clone())
    }

    /// The media sequence number the next segment will get.
    pub fn next_sequence(&self) -> u64 {
        self.next_seq
    }

    /// Bytes of the segments kept.
    pub fn bytes(&self) -> usize {
        self.kept.iter().map(|k| k.bytes.len()).sum()
    }
}

fn unix_ms(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i64,
        Err(e) => -(e.duration().as_millis() as i64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segmenter::cut::Timing;

    fn cut(ms: u64, discontinuity: bool, at_ms: u64) -> Cut {
        Cut {
            bytes: Bytes::from(vec![0x47; 188]),
            duration: Duration::from_millis(ms),
            timing: Timing::Pts,
            discontinuity,
            keyframe: true,
            started_at: UNIX_EPOCH + Duration::from_millis(at_ms),
        }
    }

    #[test]
    fn the_window_slides_one_segment_at_a_time_and_keeps_three_targets() {
        let mut w = Window::new(3, Duration::from_secs(4), 100, false);
        assert!(w.playlist().is_none(), "nothing to list yet");
        for i in 0..10u64 {
            assert_eq!(w.push(cut(4_000, false, 1_000 + i * 4_000)), 100 + i);
            let (head, entries) = w.playlist().expect("a playlist");
            assert_eq!(head.target_duration, 4);
            assert_eq!(entries.len(), (i as usize + 1).min(3));
            assert_eq!(head.media_sequence, entries[0].sequence);
            assert_eq!(entries.last().map(|e| e.sequence), Some(100 + i));
        }
        // Dates follow the media: 4 s apart from the first one's wall clock.
        let (_, entries) = w.playlist().expect("a playlist");
        assert_eq!(entries[0].program_date_time_ms, 1_000 + 7 * 4_000);
        // Kept: the listed three, plus four that left (one window + one).
        assert!(w.segment(102).is_none(), "long gone");
        assert!(w.segment(103).is_some(), "left the playlist, still served");
        assert!(w.segment(109).is_some());
        assert!(w.segment(110).is_none(), "not cut yet");
        assert!(w.segment(0).is_none());
    }

    #[test]
    fn short_segments_are_listed_until_they_span_three_targets() {
        let mut w = Window::new(2, Duration::from_secs(4), 0, false);
        for i in 0..12u64 {
            w.push(cut(1_500, false, i * 1_500));
        }
        let (head, entries) = w.playlist().expect("a playlist");
        let span: u64 = entries.iter().map(|e| e.duration_ms).sum();
        assert!(span >= 12_000, "{span}");
        assert!(
            span - entries[0].duration_ms < 12_000,
            "no more than needed"
        );
        assert_eq!(head.target_duration, 4);
    }

    #[test]
    fn the_target_follows_the_longest_segment_and_never_shrinks() {
        let mut w = Window::new(3, Duration::from_secs(4), 0, false);
        w.push(cut(3_840, false, 0));
        assert_eq!(w.target_duration(), 4);
        w.push(cut(5_500, false, 0));
        assert_eq!(w.target_duration(), 6, "5.5 rounds to 6");
        for _ in 0..10 {
            w.push(cut(2_000, false, 0));
        }
        assert_eq!(w.target_duration(), 6);
        let (head, entries) = w.playlist().expect("a playlist");
        assert!(entries.iter().map(|e| e.duration_ms).sum::<u64>() >= 18_000);
        assert_eq!(head.target_duration, 6);
    }

    #[test]
    fn discontinuities_are_counted_as_they_leave() {
        let mut w = Window::new(2, Duration::from_secs(1), 0, true);
        w.push(cut(1_000, false, 50_000));
        w.push(cut(1_000, false, 0));
        w.push(cut(1_000, true, 90_000));
        w.push(cut(1_000, false, 0));
        // Listed now: segments 1, 2, 3 (three targets of 1 s).
        let (head, entries) = w.playlist().expect("a playlist");
        assert_eq!(head.media_sequence, 1);
        assert_eq!(head.discontinuity_sequence, 1, "segment 0 was one");
        assert!(entries[1].discontinuity);
        assert_eq!(
            entries[1].program_date_time_ms, 90_000,
            "a discontinuity takes the wall clock again"
        );
        assert_eq!(entries[2].program_date_time_ms, 91_000);
        w.push(cut(1_000, false, 0));
        w.push(cut(1_000, false, 0));
        let (head, entries) = w.playlist().expect("a playlist");
        assert_eq!(head.media_sequence, 3);
        assert_eq!(head.discontinuity_sequence, 2);
        assert!(!entries[0].discontinuity);
    }
}
