//! Planning an import: from a playlist's classified items to what a store
//! writes, with every rule about series, categories and keys decided here
//! and not in SQL.
//!
//! The rules:
//! - An item's key (its URL) is what keeps its stream id across refreshes.
//!   A key repeated within one import is made unique in playlist order:
//!   `url`, `url#2`, `url#3`, skipping a suffixed key the playlist itself
//!   has (a literal `url#2` later on keeps its own key). The same playlist
//!   gives the same keys on the next refresh, hence the same ids.
//! - Episodes are grouped into series by series name. A series takes its
//!   category from the first of its episodes that has a group and its
//!   cover from the first that has a logo; its position is that of its
//!   first episode, and series are listed in that order.
//! - Categories are one per (kind, name), listed in order of first use,
//!   where a series uses its category at its first episode; an episode has
//!   no category of its own (it is its series'). A store that creates the
//!   missing ones in this order gives new categories ids in playlist order.
//!
//! [`Planner`] takes items one at a time as the parser produces them, so
//! an import never holds the classified items and the plan side by side;
//! [`Planner::finish`] settles the keys and the category order. No I/O.

use super::catchup::Catchup;
use super::ingest::{EpisodeOf, ImportedItem, ItemKind};
use super::CategoryKind;
use crate::ports::ImportCounts;
use std::collections::{HashMap, HashSet};

/// A category the import uses, found or created by (kind, name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedCategory {
    pub kind: CategoryKind,
    pub name: String,
}

/// A series of the import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedSeries {
    pub name: String,
    /// Index into [`CatalogPlan::categories`].
    pub category: Option<usize>,
    pub cover: Option<String>,
    /// Playlist position (index into [`CatalogPlan::items`]) of its first
    /// episode.
    pub first: usize,
}

/// Where an episode belongs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpisodeSlot {
    /// Index into [`CatalogPlan::series`].
    pub series: usize,
    pub season: u32,
    pub episode: u32,
}

/// One item of the import, in playlist order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedItem {
    /// Unique within the import.
    pub key: String,
    pub kind: ItemKind,
    pub name: String,
    /// Index into [`CatalogPlan::categories`]; always `None` for an episode.
    pub category: Option<usize>,
    pub epg_id: Option<String>,
    pub logo: Option<String>,
    pub url: String,
    pub container: Option<String>,
    pub is_adult: bool,
    pub archive_days: u16,
    /// How a live channel's archive is reached (`None` without one).
    pub catchup: Option<Catchup>,
    /// `Some` exactly for episodes.
    pub episode: Option<EpisodeSlot>,
}

/// A source's items as a store writes them: keyed, grouped and ordered.
///
/// Only [`Planner`] makes one, so a store is never handed items whose keys
/// repeat or whose indices point nowhere.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CatalogPlan {
    categories: Vec<PlannedCategory>,
    series: Vec<PlannedSeries>,
    items: Vec<PlannedItem>,
}

impl CatalogPlan {
    /// Plans a whole list at once (tests, small imports).
    pub fn from_items(items: impl IntoIterator<Item = ImportedItem>) -> CatalogPlan {
        let mut planner = Planner::default();
        for item in items {
            planner.push(item);
        }
        planner.finish()
    }

    /// Every category the items and series use, in order of first use.
    pub fn categories(&self) -> &[PlannedCategory] {
        &self.categories
    }

    /// Every series, in order of its first episode.
    pub fn series(&self) -> &[PlannedSeries] {
        &self.series
    }

    /// Every item, in playlist order.
    pub fn items(&self) -> &[PlannedItem] {
        &self.items
    }

    /// How many items of each kind, and series, the plan has (`removed` is
    /// the store's to say).
    pub fn counts(&self) -> ImportCounts {
        let mut counts = ImportCounts {
            series: self.series.len() as u64,
            ..ImportCounts::default()
        };
        for item in &self.items {
            match item.kind {
                ItemKind::Live => counts.live += 1,
                ItemKind::Movie => counts.movies += 1,
                ItemKind::Episode => counts.episodes += 1,
            }
        }
        counts
    }
}

/// Builds a [`CatalogPlan`] from items pushed in playlist order.
#[derive(Debug, Default)]
pub struct Planner {
    items: Vec<PlannedItem>,
    series: Vec<PlannedSeries>,
    series_by_name: HashMap<String, usize>,
    /// In order of first mention; [`Planner::finish`] puts them in order
    /// of first use.
    categories: Vec<PlannedCategory>,
    category_by_name: HashMap<(CategoryKind, String), usize>,
}

impl Planner {
    /// Adds the next item of the playlist.
    pub fn push(&mut self, item: ImportedItem) {
        let ImportedItem {
            key,
            kind,
            name,
            group,
            epg_id,
            logo,
            url,
            container,
            is_adult,
            archive_days,
            catchup,
            episode_of,
            line: _,
        } = item;
        let (category, episode) = match kind {
            ItemKind::Live => (group.map(|g| self.category(CategoryKind::Live, g)), None),
            ItemKind::Movie => (group.map(|g| self.category(CategoryKind::Movie, g)), None),
            ItemKind::Episode => {
                // Classification always names the series; an item built
                // elsewhere without one is its own series.
                let of = episode_of.unwrap_or_else(|| EpisodeOf {
                    series: name.clone(),
                    season: 1,
                    episode: 1,
                });
                let series = self.series_of(of.series);
                if self.series[series].category.is_none() {
                    if let Some(group) = group {
                        let category = self.category(CategoryKind::Series, group);
                        self.series[series].category = Some(category);
                    }
                }
                if self.series[series].cover.is_none() {
                    self.series[series].cover.clone_from(&logo);
                }
                let slot = EpisodeSlot {
                    series,
                    season: of.season,
                    episode: of.episode,
                };
                (None, Some(slot))
            }
        };
        self.items.push(PlannedItem {
            key,
            kind,
            name,
            category,
            epg_id,
            logo,
            url,
            container,
            is_adult,
            archive_days,
            catchup,
            episode,
        });
    }

    /// The index of the series named `name`, added (with the next item as
    /// its first episode) when it is new.
    fn series_of(&mut self, name: String) -> usize {
        if let Some(&index) = self.series_by_name.get(&name) {
            return index;
        }
        let index = self.series.len();
        self.series.push(PlannedSeries {
            name: name.clone(),
            category: None,
            cover: None,
            first: self.items.len(),
        });
        self.series_by_name.insert(name, index);
        index
    }

    /// The index of the category (kind, name), added when it is new.
    fn category(&mut self, kind: CategoryKind, name: String) -> usize {
        let key = (kind, name);
        if let Some(&index) = self.category_by_name.get(&key) {
            return index;
        }
        let index = self.categories.len();
        self.categories.push(PlannedCategory {
            kind,
            name: key.1.clone(),
        });
        self.category_by_name.insert(key, index);
        index
    }

    /// The plan: keys made unique, categories in order of first use.
    pub fn finish(self) -> CatalogPlan {
        let Planner {
            mut items,
            mut series,
            categories,
            ..
        } = self;
        make_keys_unique(&mut items);
        let categories = order_categories(categories, &mut items, &mut series);
        CatalogPlan {
            categories,
            series,
            items,
        }
    }
}

/// Renames repeated keys in playlist order (see the module doc). Only the
/// repeats are copied; the first of each key keeps its string.
fn make_keys_unique(items: &mut [PlannedItem]) {
    let renames = {
        // Every key of the import, and whether the walk below has met it.
        let mut met: HashMap<&str, bool> = HashMap::with_capacity(items.len());
        for item in items.iter() {
            met.entry(item.key.as_str()).or_insert(false);
        }
        let mut made: HashSet<String> = HashSet::new();
        let mut next_suffix: HashMap<&str, u32> = HashMap::new();
        let mut renames: Vec<(usize, String)> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let key = item.key.as_str();
            match met.get_mut(key) {
                Some(seen) if !*seen => {
                    *seen = true;
                    continue;
                }
                _ => {}
            }
            let n = next_suffix.entry(key).or_insert(2);
            loop {
                let candidate = format!("{key}#{n}");
                *n += 1;
                if !met.contains_key(candidate.as_str()) && made.insert(candidate.clone()) {
                    renames.push((i, candidate));
                    break;
                }
            }
        }
        renames
    };
    for (i, key) in renames {
        items[i].key = key;
    }
}

/// Puts categories in order of first use (a series uses its category at
/// its first episode) and points items and series at the new indices.
fn order_categories(
    categories: Vec<PlannedCategory>,
    items: &mut [PlannedItem],
    series: &mut [PlannedSeries],
) -> Vec<PlannedCategory> {
    const UNUSED: usize = usize::MAX;
    let mut new_index = vec![UNUSED; categories.len()];
    let mut next = 0;
    let mut take = |category: usize| {
        if new_index[category] == UNUSED {
            new_index[category] = next;
            next += 1;
        }
    };
    for (position, item) in items.iter().enumerate() {
        match (item.category, item.episode) {
            (Some(category), _) => take(category),
            (None, Some(slot)) if series[slot.series].first == position => {
                if let Some(category) = series[slot.series].category {
                    take(category);
                }
            }
            _ => {}
        }
    }
    // Every category is used by the item or series that added it; should
    // one not be, it goes last rather than being lost.
    for index in new_index.iter_mut().filter(|i| **i == UNUSED) {
        *index = next;
        next += 1;
    }
    for item in items.iter_mut() {
        item.category = item.category.map(|c| new_index[c]);
    }
    for s in series.iter_mut() {
        s.category = s.category.map(|c| new_index[c]);
    }
    let mut slots: Vec<Option<PlannedCategory>> = vec![None; categories.len()];
    for (old, category) in categories.into_iter().enumerate() {
        slots[new_index[old]] = Some(category);
    }
    slots.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(url: &str, group: Option<&str>) -> ImportedItem {
        ImportedItem {
            key: url.into(),
            kind: ItemKind::Live,
            name: url.into(),
            group: group.map(str::to_string),
            epg_id: None,
            logo: None,
            url: url.into(),
            container: None,
            is_adult: false,
            archive_days: 0,
            catchup: None,
            episode_of: None,
            line: 0,
        }
    }

    fn movie(url: &str, group: Option<&str>) -> ImportedItem {
        ImportedItem {
            kind: ItemKind::Movie,
            container: Some("mkv".into()),
            ..live(url, group)
        }
    }

    fn episode(series: &str, number: u32, group: Option<&str>, logo: Option<&str>) -> ImportedItem {
        let url = format!("http://up/{series}/{number}.mp4");
        ImportedItem {
            kind: ItemKind::Episode,
            logo: logo.map(str::to_string),
            container: Some("mp4".into()),
            episode_of: Some(EpisodeOf {
                series: series.into(),
                season: 1,
                episode: number,
            }),
            ..live(&url, group)
        }
    }

    fn keys(plan: &CatalogPlan) -> Vec<&str> {
        plan.items().iter().map(|i| i.key.as_str()).collect()
    }

    fn category_names(plan: &CatalogPlan) -> Vec<(CategoryKind, &str)> {
        plan.categories()
            .iter()
            .map(|c| (c.kind, c.name.as_str()))
            .collect()
    }

    #[test]
    fn repeated_keys_get_numbered_in_order() {
        let plan = CatalogPlan::from_items(["a", "b", "a", "a", "b"].map(|k| live(k, None)));
        assert_eq!(keys(&plan), ["a", "b", "a#2", "a#3", "b#2"]);
    }

    #[test]
    fn a_literal_suffixed_key_keeps_its_own_key() {
        let plan = CatalogPlan::from_items(["a", "a", "a#2"].map(|k| live(k, None)));
        assert_eq!(keys(&plan), ["a", "a#3", "a#2"]);
    }

    #[test]
    fn a_series_takes_the_first_group_and_the_first_cover_of_its_episodes() {
        let plan = CatalogPlan::from_items([
            episode("Show", 1, None, None),
            episode("Show", 2, Some("Shows"), Some("http://logo/2.png")),
            episode("Show", 3, Some("Later"), Some("http://logo/3.png")),
        ]);
        assert_eq!(plan.series().len(), 1);
        let show = &plan.series()[0];
        assert_eq!(show.name, "Show");
        assert_eq!(show.first, 0);
        assert_eq!(show.cover.as_deref(), Some("http://logo/2.png"));
        let category = show.category.map(|c| &plan.categories()[c].name);
        assert_eq!(category.map(String::as_str), Some("Shows"));
        // Only the group the series took is a category; episodes have none.
        assert_eq!(category_names(&plan), [(CategoryKind::Series, "Shows")]);
        assert!(plan.items().iter().all(|i| i.category.is_none()));
        // Each episode keeps its own logo.
        assert_eq!(plan.items()[2].logo.as_deref(), Some("http://logo/3.png"));
    }

    #[test]
    fn series_are_in_order_of_their_first_episode_and_episodes_point_at_them() {
        let plan = CatalogPlan::from_items([
            live("http://up/1.ts", Some("News")),
            episode("B", 1, None, None),
            episode("A", 1, None, None),
            episode("B", 2, None, None),
        ]);
        let names: Vec<_> = plan.series().iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["B", "A"]);
        let firsts: Vec<_> = plan.series().iter().map(|s| s.first).collect();
        assert_eq!(firsts, [1, 2]);
        let slots: Vec<_> = plan
            .items()
            .iter()
            .map(|i| i.episode.map(|e| (e.series, e.episode)))
            .collect();
        assert_eq!(slots, [None, Some((0, 1)), Some((1, 1)), Some((0, 2))]);
    }

    #[test]
    fn categories_are_in_order_of_first_use_a_series_using_its_own_at_its_first_episode() {
        // The series' group appears after the News channel in the file, but
        // its first episode comes before it: Shows is used first.
        let plan = CatalogPlan::from_items([
            episode("Show", 1, None, None),
            live("http://up/1.ts", Some("News")),
            episode("Show", 2, Some("Shows"), None),
            live("http://up/2.ts", Some("News")),
            movie("http://up/film.mkv", Some("News")),
        ]);
        assert_eq!(
            category_names(&plan),
            [
                (CategoryKind::Series, "Shows"),
                (CategoryKind::Live, "News"),
                (CategoryKind::Movie, "News"),
            ]
        );
        let categories: Vec<_> = plan.items().iter().map(|i| i.category).collect();
        assert_eq!(categories, [None, Some(1), None, Some(1), Some(2)]);
        assert_eq!(plan.series()[0].category, Some(0));
    }

    #[test]
    fn an_episode_without_a_series_name_is_its_own_series() {
        let mut lone = episode("x", 1, None, None);
        lone.episode_of = None;
        lone.name = "Lone".into();
        let plan = CatalogPlan::from_items([lone]);
        assert_eq!(plan.series()[0].name, "Lone");
        assert_eq!(
            plan.items()[0].episode,
            Some(EpisodeSlot {
                series: 0,
                season: 1,
                episode: 1
            })
        );
    }

    #[test]
    fn counts() {
        let plan = CatalogPlan::from_items([
            live("http://up/1.ts", None),
            movie("http://up/film.mkv", None),
            episode("A", 1, None, None),
            episode("A", 2, None, None),
            episode("B", 1, None, None),
        ]);
        assert_eq!(
            plan.counts(),
            ImportCounts {
                live: 1,
                movies: 1,
                episodes: 3,
                series: 2,
                removed: 0
            }
        );
        assert_eq!(CatalogPlan::default().counts(), ImportCounts::default());
    }
}
