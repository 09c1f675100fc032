//! The live media playlists tvgate writes for the channels it cuts into
//! segments itself (RFC 8216 §4.3 and §6.2.2): a sliding window whose
//! `#EXT-X-MEDIA-SEQUENCE` grows by one per segment that leaves it, whose
//! `#EXT-X-DISCONTINUITY-SEQUENCE` counts the discontinuities that left it,
//! every segment with its `#EXT-X-PROGRAM-DATE-TIME` and its duration to the
//! millisecond.
//!
//! What the window holds, and so every rule about which segments are
//! listed, is decided by the caller; this module only writes. The segment
//! URIs come from a closure, so the signed links of each viewer are written
//! straight into the text.

use std::fmt::Write;

/// The head of a live media playlist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveHead {
    /// `#EXT-X-TARGETDURATION`, whole seconds: at least every listed
    /// segment's duration rounded to the nearest second.
    pub target_duration: u32,
    /// Media sequence number of the first listed segment.
    pub media_sequence: u64,
    /// Discontinuity sequence number of the first listed segment.
    pub discontinuity_sequence: u64,
}

/// One listed segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveEntry {
    /// Media sequence number.
    pub sequence: u64,
    /// Duration in milliseconds.
    pub duration_ms: u64,
    /// An `#EXT-X-DISCONTINUITY` comes before it (the encoding or the
    /// timestamps do not follow from the previous segment).
    pub discontinuity: bool,
    /// Wall-clock time of its first sample, Unix milliseconds.
    pub program_date_time_ms: i64,
}

/// Writes the playlist; `uri` names each entry's segment.
pub fn write_live(
    head: &LiveHead,
    entries: &[LiveEntry],
    mut uri: impl FnMut(&LiveEntry) -> String,
) -> String {
    let mut out = String::with_capacity(160 + entries.len() * 200);
    // Writing into a String cannot fail.
    let _ = write!(
        out,
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:{}\n#EXT-X-MEDIA-SEQUENCE:{}\n",
        head.target_duration, head.media_sequence
    );
    if head.discontinuity_sequence > 0 {
        let _ = writeln!(
            out,
            "#EXT-X-DISCONTINUITY-SEQUENCE:{}",
            head.discontinuity_sequence
        );
    }
    for e in entries {
        if e.discontinuity {
            out.push_str("#EXT-X-DISCONTINUITY\n");
        }
        out.push_str("#EXT-X-PROGRAM-DATE-TIME:");
        write_date_time(&mut out, e.program_date_time_ms);
        let _ = write!(
            out,
            "\n#EXTINF:{}.{:03},\n",
            e.duration_ms / 1000,
            e.duration_ms % 1000
        );
        out.push_str(&uri(e));
        out.push('\n');
    }
    out
}

/// A duration in milliseconds rounded to the nearest second, as RFC 8216
/// compares it with the target duration (half a second rounds up).
pub fn rounded_secs(duration_ms: u64) -> u64 {
    (duration_ms + 500) / 1000
}

/// `YYYY-MM-DDThh:mm:ss.sssZ` (ISO 8601 in UTC, as `#EXT-X-PROGRAM-DATE-TIME`
/// takes it) for Unix milliseconds.
pub fn write_date_time(out: &mut String, unix_ms: i64) {
    let secs = unix_ms.div_euclid(1000);
    let ms = unix_ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let _ = write!(
        out,
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    );
}

/// The proleptic Gregorian date `days` after 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // Count from 0000-03-01, so that leap days end each 4-, 100- and
    // 400-year cycle.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(ms: i64) -> String {
        let mut s = String::new();
        write_date_time(&mut s, ms);
        s
    }

    #[test]
    fn dates_are_utc_iso_8601_with_milliseconds() {
        assert_eq!(date(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(date(1_800_000_000_123), "2027-01-15T08:00:00.123Z");
        assert_eq!(date(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(date(951_868_799_999), "2000-02-29T23:59:59.999Z");
        assert_eq!(date(4_107_542_400_000), "2100-03-01T00:00:00.000Z");
        assert_eq!(date(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn rounding_follows_the_rfc() {
        assert_eq!(rounded_secs(3_499), 3);
        assert_eq!(rounded_secs(3_500), 4);
        assert_eq!(rounded_secs(3_840), 4);
        assert_eq!(rounded_secs(0), 0);
    }

    #[test]
    fn a_window_with_a_discontinuity() {
        let head = LiveHead {
            target_duration: 4,
            media_sequence: 41,
            discontinuity_sequence: 2,
        };
        let entries = [
            LiveEntry {
                sequence: 41,
                duration_ms: 3_840,
                discontinuity: false,
                program_date_time_ms: 1_800_000_000_000,
            },
            LiveEntry {
                sequence: 42,
                duration_ms: 2_560,
                discontinuity: true,
                program_date_time_ms: 1_800_000_003_840,
            },
        ];
        let text = write_live(&head, &entries, |e| format!("/hls/t/{}.ts", e.sequence));
        assert_eq!(
            text,
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:41\n\
             #EXT-X-DISCONTINUITY-SEQUENCE:2\n\
             #EXT-X-PROGRAM-DATE-TIME:2027-01-15T08:00:00.000Z\n#EXTINF:3.840,\n/hls/t/41.ts\n\
             #EXT-X-DISCONTINUITY\n\
             #EXT-X-PROGRAM-DATE-TIME:2027-01-15T08:00:03.840Z\n#EXTINF:2.560,\n/hls/t/42.ts\n"
        );
        // What tvgate writes, tvgate's reader reads back.
        match crate::hls::parse(&text, "http://h/p.m3u8").expect("a playlist") {
            crate::hls::Playlist::Media(m) => {
                assert_eq!(m.target_duration, Some(4));
                assert_eq!(m.media_sequence, 41);
                assert_eq!(m.segments.len(), 2);
                assert!(m.segments[1].discontinuity && !m.segments[0].discontinuity);
                assert_eq!(m.segments[1].sequence, 42);
                assert!((m.segments[0].duration - 3.84).abs() < 1e-9);
            }
            other => panic!("not a media playlist: {other:?}"),
        }
    }
}
