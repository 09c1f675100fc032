//! Finding each live channel's guide: by its guide id (`tvg-id`, Xtream's
//! `epg_channel_id`) when the guide lists that id, else by its name.
//!
//! Providers' playlists and guides rarely agree on ids: a channel named
//! `UK: BBC One HD` with no `tvg-id`, or one the guide does not know, is
//! the guide's `BBC One`. Names are compared [`normalised`]: case and
//! accents folded, a country prefix (`UK:`, `US |`, `[FR]`, `DE -`) and
//! quality suffixes (`HD`, `FHD`, `UHD`, `4K`, `SD`, `HEVC`, `1080p`, …)
//! dropped, everything but letters and digits left out. A guide channel is
//! indexed by its display name and by its id (without a trailing country
//! such as `.uk`); where two normalise alike, the first in the guide wins.
//!
//! A channel matched by name takes the guide channel's id as its own guide
//! id in the snapshot, so every face (`epg_channel_id`, `tvg-id`, the
//! short EPG) finds its programmes with no second lookup. The counts
//! ([`GuideMatches`]) go into each refresh's report. No I/O.

use super::{GuideChannel, LiveChannel, LiveText};
use crate::ids::SourceId;
use std::collections::HashMap;
use std::fmt;
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// How the live channels found their guide.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GuideMatches {
    /// The guide lists the channel's own guide id.
    pub by_id: u64,
    /// Found by the channel's normalised name.
    pub by_name: u64,
    /// No guide for the channel.
    pub unmatched: u64,
}

impl GuideMatches {
    /// Channels that have a guide.
    pub fn matched(&self) -> u64 {
        self.by_id + self.by_name
    }

    fn add(&mut self, other: GuideMatches) {
        self.by_id += other.by_id;
        self.by_name += other.by_name;
        self.unmatched += other.unmatched;
    }
}

impl fmt::Display for GuideMatches {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "guide matched for {} channels ({} by id, {} by name), {} unmatched",
            self.matched(),
            self.by_id,
            self.by_name,
            self.unmatched
        )
    }
}

/// The counts per source, and their total.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MatchReport {
    per_source: HashMap<SourceId, GuideMatches>,
    total: GuideMatches,
}

impl MatchReport {
    /// One source's live channels (`None`: every source's).
    pub fn of(&self, source: Option<SourceId>) -> GuideMatches {
        match source {
            Some(id) => self.per_source.get(&id).copied().unwrap_or_default(),
            None => self.total,
        }
    }
}

/// Quality words dropped from the end of a name.
const QUALITY: &[&str] = &[
    "hd", "fhd", "uhd", "sd", "4k", "8k", "hevc", "h264", "h265", "hdr", "1080p", "1080i", "720p",
    "2160p", "576p", "576i", "480p", "50fps", "60fps", "hq", "lq", "raw", "backup",
];

/// A name as matching compares it (see the module doc).
pub fn normalised(name: &str) -> String {
    // Accents off: decompose, drop the combining marks, fold case (most
    // names are ASCII, which needs no decomposition).
    let folded: String = if name.is_ascii() {
        name.to_ascii_lowercase()
    } else {
        name.nfkd()
            .filter(|c| !is_combining_mark(*c))
            .flat_map(char::to_lowercase)
            .collect()
    };
    let mut words: Vec<&str> = folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    // A country prefix: a two- or three-letter code before a separator
    // (`UK:`, `US |`, `[FR]`, `DE -`), when a name follows.
    if words.len() > 1 && is_country(words[0]) && has_prefix_separator(&folded, words[0]) {
        words.remove(0);
    }
    while words.len() > 1 && words.last().is_some_and(|w| QUALITY.contains(w)) {
        words.pop();
    }
    words.concat()
}

/// Two or three ASCII letters: a country or language code.
fn is_country(word: &str) -> bool {
    (2..=3).contains(&word.len()) && word.bytes().all(|b| b.is_ascii_lowercase())
}

/// Whether the first word of `folded` is set apart by a prefix separator
/// (`:`, `|`, `-`, brackets) rather than being part of the name (`ABC News`).
fn has_prefix_separator(folded: &str, first: &str) -> bool {
    let trimmed = folded.trim_start();
    let trimmed = trimmed.strip_prefix(['[', '(', '|']).unwrap_or(trimmed);
    let Some(rest) = trimmed.trim_start().strip_prefix(first) else {
        return false;
    };
    rest.trim_start()
        .starts_with([':', '|', '-', ']', ')', '/', '•'])
}

/// A guide id without a trailing country (`BBCOne.uk` → `BBCOne`).
fn id_stem(id: &str) -> &str {
    match id.rsplit_once('.') {
        Some((stem, tail)) if !stem.is_empty() && is_country(&tail.to_ascii_lowercase()) => stem,
        _ => id,
    }
}

/// Matches every live channel with the guide: a channel whose guide id the
/// guide lists (or has programmes for) keeps it; another takes the id of
/// the guide channel its name matches, if any. Returns the counts.
pub(super) fn match_channels(
    live: &mut [LiveChannel],
    guide_channels: &[GuideChannel],
    has_programmes: impl Fn(&str) -> bool,
) -> MatchReport {
    let known: std::collections::HashSet<&str> = guide_channels.iter().map(|g| &*g.id).collect();
    let mut by_name: HashMap<String, &str> = HashMap::new();
    for g in guide_channels {
        for key in [normalised(&g.name), normalised(id_stem(&g.id))] {
            if !key.is_empty() {
                by_name.entry(key).or_insert(&g.id);
            }
        }
    }
    let mut report = MatchReport::default();
    if guide_channels.is_empty() && by_name.is_empty() {
        // No guide channel to find by name: only ids can match (a
        // million names are not normalised for nothing).
        for c in live.iter() {
            let own = c.epg_id().filter(|id| !id.is_empty());
            let counted = if own.is_some_and(&has_programmes) {
                GuideMatches {
                    by_id: 1,
                    ..GuideMatches::default()
                }
            } else {
                GuideMatches {
                    unmatched: 1,
                    ..GuideMatches::default()
                }
            };
            report.per_source.entry(c.source).or_default().add(counted);
            report.total.add(counted);
        }
        return report;
    }
    for c in live.iter_mut() {
        let mut counted = GuideMatches::default();
        let own = c.epg_id().filter(|id| !id.is_empty());
        if own.is_some_and(|id| known.contains(id) || has_programmes(id)) {
            counted.by_id = 1;
        } else {
            let found = by_name
                .get(&normalised(c.name()))
                .or_else(|| own.and_then(|id| by_name.get(&normalised(id_stem(id)))));
            match found {
                Some(id) => {
                    c.text = LiveText::new(c.name(), c.logo(), c.url(), Some(id));
                    counted.by_name = 1;
                }
                None => counted.unmatched = 1,
            }
        }
        report.per_source.entry(c.source).or_default().add(counted);
        report.total.add(counted);
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::StreamId;

    #[test]
    fn names_fold_case_accents_prefixes_and_quality() {
        assert_eq!(normalised("BBC One"), "bbcone");
        assert_eq!(normalised("UK: BBC One HD"), "bbcone");
        assert_eq!(normalised("US | CNN FHD"), "cnn");
        assert_eq!(normalised("[FR] TF1 4K"), "tf1");
        assert_eq!(normalised("DE - Das Erste UHD"), "daserste");
        assert_eq!(normalised("Télé Québec"), "telequebec");
        assert_eq!(normalised("ČT1 HEVC 1080p"), "ct1");
        // A short first word that is the name, not a country.
        assert_eq!(normalised("ABC News"), "abcnews");
        // A name that is only a quality word stays itself.
        assert_eq!(normalised("HD"), "hd");
        assert_eq!(normalised("  "), "");
    }

    fn channel(id: u32, source: i64, name: &str, epg: Option<&str>) -> LiveChannel {
        LiveChannel {
            id: StreamId(id),
            source: SourceId(source),
            category: None,
            added: 0,
            is_adult: false,
            archive_days: 0,
            text: LiveText::new(name, "", "http://up/1.ts", epg),
        }
    }

    fn guide(id: &str, name: &str) -> GuideChannel {
        GuideChannel {
            id: id.into(),
            name: name.into(),
            icon: "".into(),
        }
    }

    #[test]
    fn by_id_first_then_by_name_and_the_counts_per_source() {
        let mut live = vec![
            channel(1, 1, "Whatever", Some("bbc1.uk")),
            channel(2, 1, "UK: BBC Two HD", None),
            channel(3, 1, "FR: TF1", Some("unknown.id")),
            channel(4, 2, "Nothing Like It", None),
            channel(5, 2, "Programmes only", Some("orphan")),
            channel(6, 2, "x", Some("CNN.us")),
        ];
        let guide = [
            guide("bbc1.uk", "BBC One"),
            guide("bbc2.uk", "BBC Two"),
            guide("tf1.fr", "TF1"),
            guide("cnn.com", "CNN"),
        ];
        let report = match_channels(&mut live, &guide, |id| id == "orphan");
        let epg: Vec<_> = live
            .iter()
            .map(|c| c.epg_id().map(str::to_string))
            .collect();
        assert_eq!(
            epg,
            [
                Some("bbc1.uk".into()),
                Some("bbc2.uk".into()),
                Some("tf1.fr".into()),
                None,
                Some("orphan".into()),
                // The id's stem, normalised, names the guide channel.
                Some("cnn.com".into()),
            ]
        );
        assert_eq!(
            report.of(Some(SourceId(1))),
            GuideMatches {
                by_id: 1,
                by_name: 2,
                unmatched: 0
            }
        );
        assert_eq!(
            report.of(Some(SourceId(2))),
            GuideMatches {
                by_id: 1,
                by_name: 1,
                unmatched: 1
            }
        );
        assert_eq!(report.of(None).matched(), 5);
        assert_eq!(report.of(Some(SourceId(9))), GuideMatches::default());
        // The rest of the channel's text is unchanged.
        assert_eq!(live[1].name(), "UK: BBC Two HD");
        assert_eq!(live[1].url(), "http://up/1.ts");
    }

    #[test]
    fn without_a_guide_every_channel_is_unmatched() {
        let mut live = vec![channel(1, 1, "BBC One", Some("bbc1.uk"))];
        let report = match_channels(&mut live, &[], |_| false);
        assert_eq!(report.of(None).unmatched, 1);
        assert_eq!(live[0].epg_id(), Some("bbc1.uk"));
    }
}
