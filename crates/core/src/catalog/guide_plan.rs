//! Planning a guide import: from an XMLTV guide's channels and programmes
//! to what a store writes, with every rule about them decided here and not
//! in SQL.
//!
//! The rules:
//! - A channel is known by its id. The first `<channel>` of a repeated id
//!   wins, whole (its name and icon); channels keep the order in which
//!   their ids first appear.
//! - A channel's name is its first display name, else its id; its icon is
//!   its first icon, if any.
//! - Programmes are ordered by (channel, start); programmes with the same
//!   channel and start keep their order in the guide. A programme naming a
//!   channel the guide does not list is kept (players look programmes up
//!   by the channel's guide id, not through the channel list).
//! - XMLTV makes `stop` optional; the catalog needs one. A programme
//!   without a stop ends when the next later programme on its channel
//!   starts, and one with no later programme on its channel lasts
//!   [`LAST_PROGRAMME_SECS`].
//!
//! [`GuidePlanner`] takes channels and programmes one at a time as the
//! XMLTV reader produces them. A guide is the largest thing an import
//! holds (a million programmes is common), so the plan keeps them in the
//! one vector they were pushed into: [`GuidePlanner::finish`] sorts it in
//! place, without the scratch buffer of a stable sort (a programme carries
//! its position in the guide as the tie-breaker, in space its layout pads
//! anyway), and fills the missing stops in the same vector. No I/O.

use tvgate_formats::xmltv;

/// How long the last programme of a channel lasts when the guide gives no
/// stop.
pub const LAST_PROGRAMME_SECS: i64 = 3600;

/// A guide channel as a store writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedGuideChannel {
    /// Unique within the plan.
    pub id: String,
    pub name: String,
    pub icon: Option<String>,
}

/// A programme as a store writes it, its stop settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedProgramme {
    /// The guide id of its channel.
    pub channel: String,
    pub start: i64,
    /// The guide's stop, or the one the rules give (see the module doc).
    pub stop: i64,
    pub title: String,
    pub desc: Option<String>,
    pub lang: Option<String>,
    /// Its position in the guide, which orders programmes with the same
    /// channel and start. A `u32` fits in the padding after `stop_given`;
    /// past 2^32 programmes (more than a store takes from one guide) it
    /// wraps and only the order of such ties could differ.
    position: u32,
    /// Whether the guide gave `stop`; [`GuidePlanner::finish`] fills the
    /// others once the programmes are sorted.
    stop_given: bool,
}

/// A source's guide as a store writes it: channels unique in order of
/// first appearance, programmes sorted by (channel, start) with every stop
/// filled.
///
/// Only [`GuidePlanner`] makes one, so a store is never handed repeated
/// channel ids, unsorted programmes or a programme without a stop.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GuidePlan {
    channels: Vec<PlannedGuideChannel>,
    programmes: Vec<PlannedProgramme>,
}

impl GuidePlan {
    /// Plans a whole guide at once (tests, small imports).
    pub fn from_guide(
        channels: impl IntoIterator<Item = xmltv::Channel>,
        programmes: impl IntoIterator<Item = xmltv::Programme>,
    ) -> GuidePlan {
        let mut planner = GuidePlanner::default();
        for channel in channels {
            planner.push_channel(channel);
        }
        for programme in programmes {
            planner.push_programme(programme);
        }
        planner.finish()
    }

    /// Every channel, in order of first appearance.
    pub fn channels(&self) -> &[PlannedGuideChannel] {
        &self.channels
    }

    /// Every programme, in (channel, start) order.
    pub fn programmes(&self) -> &[PlannedProgramme] {
        &self.programmes
    }
}

/// Builds a [`GuidePlan`] from a guide's items pushed in document order.
#[derive(Debug, Default)]
pub struct GuidePlanner {
    channels: Vec<PlannedGuideChannel>,
    /// The ids in `channels`. A guide has thousands of channels at most,
    /// so the copies cost little.
    channel_ids: std::collections::HashSet<String>,
    programmes: Vec<PlannedProgramme>,
}

impl GuidePlanner {
    /// Adds the next item of the guide.
    pub fn push(&mut self, item: xmltv::Item) {
        match item {
            xmltv::Item::Channel(channel) => self.push_channel(channel),
            xmltv::Item::Programme(programme) => self.push_programme(programme),
        }
    }

    /// Adds the next `<channel>`; a repeated id is left out (the first
    /// wins).
    pub fn push_channel(&mut self, channel: xmltv::Channel) {
        let xmltv::Channel {
            id,
            display_names,
            icon,
        } = channel;
        if self.channel_ids.contains(&id) {
            return;
        }
        self.channel_ids.insert(id.clone());
        let name = display_names
            .into_iter()
            .next()
            .unwrap_or_else(|| id.clone());
        self.channels.push(PlannedGuideChannel { id, name, icon });
    }

    /// Adds the next `<programme>`.
    pub fn push_programme(&mut self, programme: xmltv::Programme) {
        let xmltv::Programme {
            line: _,
            channel,
            start,
            stop,
            title,
            desc,
            lang,
        } = programme;
        let position = self.programmes.len() as u32;
        self.programmes.push(PlannedProgramme {
            channel,
            start,
            stop: stop.unwrap_or(0),
            title,
            desc,
            lang,
            position,
            stop_given: stop.is_some(),
        });
    }

    /// The plan: programmes sorted, their stops filled.
    pub fn finish(self) -> GuidePlan {
        let GuidePlanner {
            channels,
            mut programmes,
            ..
        } = self;
        programmes.sort_unstable_by(|a, b| {
            (&a.channel, a.start, a.position).cmp(&(&b.channel, b.start, b.position))
        });
        fill_stops(&mut programmes);
        GuidePlan {
            channels,
            programmes,
        }
    }
}

/// Gives each programme of a list sorted by (channel, start) that has no
/// stop the next later start on its channel, else its start plus
/// [`LAST_PROGRAMME_SECS`].
fn fill_stops(sorted: &mut [PlannedProgramme]) {
    // Walking backwards: the nearest start on the current channel strictly
    // after the current programme's.
    let mut next_later: Option<i64> = None;
    for i in (0..sorted.len()).rev() {
        let following = sorted.get(i + 1).map(|f| (f.channel.as_str(), f.start));
        let p = &sorted[i];
        next_later = match following {
            Some((channel, start)) if channel == p.channel => {
                if start > p.start {
                    Some(start)
                } else {
                    next_later
                }
            }
            _ => None,
        };
        let p = &mut sorted[i];
        if !p.stop_given {
            p.stop = next_later.unwrap_or(p.start.saturating_add(LAST_PROGRAMME_SECS));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn programme(channel: &str, start: i64, stop: Option<i64>, title: &str) -> xmltv::Programme {
        xmltv::Programme {
            channel: channel.into(),
            start,
            stop,
            title: title.into(),
            ..Default::default()
        }
    }

    fn channel(id: &str, names: &[&str], icon: Option<&str>) -> xmltv::Channel {
        xmltv::Channel {
            id: id.into(),
            display_names: names.iter().map(|n| n.to_string()).collect(),
            icon: icon.map(str::to_string),
        }
    }

    fn rows(plan: &GuidePlan) -> Vec<(&str, i64, i64, &str)> {
        plan.programmes()
            .iter()
            .map(|p| (p.channel.as_str(), p.start, p.stop, p.title.as_str()))
            .collect()
    }

    #[test]
    fn programmes_are_sorted_by_channel_then_start_ties_in_guide_order() {
        let plan = GuidePlan::from_guide(
            [],
            [
                programme("b", 100, Some(200), "B1"),
                programme("a", 200, Some(300), "A2"),
                programme("a", 100, Some(200), "A1"),
                programme("a", 200, Some(250), "A2 again"),
                programme("a", 200, Some(260), "A2 thrice"),
            ],
        );
        assert_eq!(
            rows(&plan),
            [
                ("a", 100, 200, "A1"),
                ("a", 200, 300, "A2"),
                ("a", 200, 250, "A2 again"),
                ("a", 200, 260, "A2 thrice"),
                ("b", 100, 200, "B1"),
            ]
        );
    }

    #[test]
    fn a_missing_stop_runs_to_the_next_later_start_on_its_channel() {
        let plan = GuidePlan::from_guide(
            [],
            [
                programme("a", 200, None, "third"),
                programme("a", 0, None, "first"),
                programme("a", 100, Some(150), "second"),
                programme("a", 200, None, "third again"),
                programme("a", 300, None, "last"),
                programme("b", 0, None, "other channel"),
            ],
        );
        assert_eq!(
            rows(&plan),
            [
                ("a", 0, 100, "first"),
                // A given stop is kept, even short of the next start.
                ("a", 100, 150, "second"),
                // A programme at the same start is not "later".
                ("a", 200, 300, "third"),
                ("a", 200, 300, "third again"),
                ("a", 300, 300 + LAST_PROGRAMME_SECS, "last"),
                // The next channel's programmes do not end this one's.
                ("b", 0, LAST_PROGRAMME_SECS, "other channel"),
            ]
        );
    }

    #[test]
    fn the_last_programme_of_a_channel_lasts_the_default_even_at_the_end_of_time() {
        let plan = GuidePlan::from_guide([], [programme("a", i64::MAX - 1, None, "edge")]);
        assert_eq!(plan.programmes()[0].stop, i64::MAX);
    }

    #[test]
    fn a_given_stop_is_kept_as_it_is() {
        // Even one before its start: the guide said so, and faces cope.
        let plan = GuidePlan::from_guide(
            [],
            [
                programme("a", 100, Some(50), "odd"),
                programme("a", 200, None, "next"),
            ],
        );
        assert_eq!(
            rows(&plan),
            [
                ("a", 100, 50, "odd"),
                ("a", 200, 200 + LAST_PROGRAMME_SECS, "next")
            ]
        );
    }

    #[test]
    fn the_first_of_a_repeated_channel_id_wins_whole() {
        let plan = GuidePlan::from_guide(
            [
                channel("news.tv", &["News"], None),
                channel("music.tv", &["Music"], Some("http://logo/music.png")),
                channel("news.tv", &["News again"], Some("http://logo/news.png")),
            ],
            [],
        );
        assert_eq!(
            plan.channels(),
            [
                PlannedGuideChannel {
                    id: "news.tv".into(),
                    name: "News".into(),
                    icon: None,
                },
                PlannedGuideChannel {
                    id: "music.tv".into(),
                    name: "Music".into(),
                    icon: Some("http://logo/music.png".into()),
                },
            ]
        );
    }

    #[test]
    fn a_channel_is_named_by_its_first_display_name_else_its_id() {
        let plan = GuidePlan::from_guide(
            [
                channel("news.tv", &["News", "News HD"], None),
                channel("music.tv", &[], None),
            ],
            [],
        );
        let names: Vec<_> = plan.channels().iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["News", "music.tv"]);
    }

    #[test]
    fn programmes_of_unlisted_channels_are_kept_with_their_text() {
        let mut p = programme("elsewhere.tv", 0, Some(1), "Kept");
        p.desc = Some("about".into());
        p.lang = Some("en".into());
        let plan = GuidePlan::from_guide([channel("news.tv", &[], None)], [p]);
        let kept = &plan.programmes()[0];
        assert_eq!(kept.channel, "elsewhere.tv");
        assert_eq!(kept.desc.as_deref(), Some("about"));
        assert_eq!(kept.lang.as_deref(), Some("en"));
    }

    #[test]
    fn items_are_fed_in_document_order() {
        let mut planner = GuidePlanner::default();
        planner.push(xmltv::Item::Programme(programme("a", 0, None, "P")));
        planner.push(xmltv::Item::Channel(channel("a", &["A"], None)));
        let plan = planner.finish();
        assert_eq!(plan.channels().len(), 1);
        assert_eq!(rows(&plan), [("a", 0, LAST_PROGRAMME_SECS, "P")]);
    }

    #[test]
    fn a_planned_programme_is_no_larger_than_a_parsed_one() {
        // The plan holds every programme of the guide, so it must not cost
        // more than the parser's own value did.
        assert!(std::mem::size_of::<PlannedProgramme>() <= std::mem::size_of::<xmltv::Programme>());
    }
}
