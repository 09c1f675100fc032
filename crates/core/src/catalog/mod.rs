//! The catalog: what there is to watch, as one immutable snapshot.
//!
//! Faces read a `Arc<Catalog>` without locks; a source refresh builds a new
//! snapshot and swaps it in. Strings are boxed (no spare capacity) and
//! categories are referred to by id, to keep an entry near 200 bytes.

pub mod ingest;
pub mod source;

use crate::ids::{CategoryId, SeriesId, SourceId, StreamId};
use crate::UnixTime;
use std::collections::HashMap;

pub use source::{Source, SourceKind};

/// Which list a category belongs to (Xtream keeps three).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CategoryKind {
    Live,
    Movie,
    Series,
}

impl CategoryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CategoryKind::Live => "live",
            CategoryKind::Movie => "movie",
            CategoryKind::Series => "series",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "live" => Some(CategoryKind::Live),
            "movie" => Some(CategoryKind::Movie),
            "series" => Some(CategoryKind::Series),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Category {
    pub id: CategoryId,
    pub kind: CategoryKind,
    pub name: Box<str>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LiveChannel {
    pub id: StreamId,
    pub source: SourceId,
    pub name: Box<str>,
    pub category: Option<CategoryId>,
    /// XMLTV channel id (`tvg-id`, Xtream `epg_channel_id`).
    pub epg_id: Option<Box<str>>,
    /// Logo URL, empty when none.
    pub logo: Box<str>,
    /// Where the stream comes from (never shown to players).
    pub url: Box<str>,
    pub added: UnixTime,
    pub is_adult: bool,
    /// Catch-up depth in days (0: none).
    pub archive_days: u16,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Movie {
    pub id: StreamId,
    pub source: SourceId,
    pub name: Box<str>,
    pub category: Option<CategoryId>,
    pub logo: Box<str>,
    pub url: Box<str>,
    /// `mp4`, `mkv`, ...: players build `/movie/U/P/ID.EXT` from it.
    pub container: Box<str>,
    pub added: UnixTime,
    pub is_adult: bool,
    pub plot: Box<str>,
    pub year: Option<u16>,
    pub rating: Option<f32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Episode {
    pub id: StreamId,
    pub season: u32,
    pub episode: u32,
    pub title: Box<str>,
    pub url: Box<str>,
    pub container: Box<str>,
    pub added: UnixTime,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub id: SeriesId,
    pub source: SourceId,
    pub name: Box<str>,
    pub category: Option<CategoryId>,
    pub cover: Box<str>,
    pub plot: Box<str>,
    pub last_modified: UnixTime,
    /// Sorted by season, then episode.
    pub episodes: Vec<Episode>,
}

/// A guide channel (XMLTV `<channel>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuideChannel {
    pub id: Box<str>,
    pub name: Box<str>,
    pub icon: Box<str>,
}

/// One programme of the guide, times in unix seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Programme {
    pub start: UnixTime,
    pub stop: UnixTime,
    pub title: Box<str>,
    pub desc: Box<str>,
    pub lang: Box<str>,
}

/// Everything the store holds about the catalog, as loaded.
#[derive(Debug, Clone, Default)]
pub struct CatalogData {
    pub categories: Vec<Category>,
    pub live: Vec<LiveChannel>,
    pub movies: Vec<Movie>,
    pub series: Vec<Series>,
    pub guide_channels: Vec<GuideChannel>,
    /// (guide channel id, programme)
    pub programmes: Vec<(Box<str>, Programme)>,
}

/// A stream a URL can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamRef {
    Live(usize),
    Movie(usize),
    /// (series index, episode index)
    Episode(usize, usize),
}

/// The immutable snapshot faces read.
#[derive(Debug, Default)]
pub struct Catalog {
    pub categories: Vec<Category>,
    pub live: Vec<LiveChannel>,
    pub movies: Vec<Movie>,
    pub series: Vec<Series>,
    pub guide_channels: Vec<GuideChannel>,
    by_stream: HashMap<StreamId, StreamRef>,
    by_series: HashMap<SeriesId, usize>,
    by_category: HashMap<CategoryId, usize>,
    by_guide_channel: HashMap<Box<str>, usize>,
    /// Programmes per guide channel id, sorted by start.
    programmes: HashMap<Box<str>, Vec<Programme>>,
}

impl Catalog {
    /// Builds the indexes over loaded data.
    pub fn build(data: CatalogData) -> Catalog {
        let CatalogData {
            categories,
            live,
            movies,
            series,
            guide_channels,
            programmes: rows,
        } = data;
        let mut by_stream = HashMap::with_capacity(live.len() + movies.len());
        for (i, c) in live.iter().enumerate() {
            by_stream.insert(c.id, StreamRef::Live(i));
        }
        for (i, m) in movies.iter().enumerate() {
            by_stream.insert(m.id, StreamRef::Movie(i));
        }
        let mut by_series = HashMap::with_capacity(series.len());
        for (si, s) in series.iter().enumerate() {
            by_series.insert(s.id, si);
            for (ei, e) in s.episodes.iter().enumerate() {
                by_stream.insert(e.id, StreamRef::Episode(si, ei));
            }
        }
        let by_guide_channel = guide_channels
            .iter()
            .enumerate()
            .map(|(i, g)| (g.id.clone(), i))
            .collect();
        let by_category = categories
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id, i))
            .collect();
        let mut programmes: HashMap<Box<str>, Vec<Programme>> = HashMap::new();
        for (channel, p) in rows {
            programmes.entry(channel).or_default().push(p);
        }
        for list in programmes.values_mut() {
            list.sort_by_key(|p| p.start);
            list.dedup_by(|b, a| a.start == b.start);
        }
        Catalog {
            categories,
            live,
            movies,
            series,
            guide_channels,
            by_stream,
            by_series,
            by_category,
            by_guide_channel,
            programmes,
        }
    }

    pub fn stream(&self, id: StreamId) -> Option<StreamRef> {
        self.by_stream.get(&id).copied()
    }

    pub fn series_by_id(&self, id: SeriesId) -> Option<&Series> {
        self.by_series.get(&id).map(|i| &self.series[*i])
    }

    pub fn category(&self, id: CategoryId) -> Option<&Category> {
        self.by_category.get(&id).map(|i| &self.categories[*i])
    }

    /// The guide's own description of a channel (`<channel id>`).
    pub fn guide_channel(&self, id: &str) -> Option<&GuideChannel> {
        self.by_guide_channel
            .get(id)
            .map(|i| &self.guide_channels[*i])
    }

    /// The category of whatever a stream id names (for package checks).
    pub fn stream_category(&self, r: StreamRef) -> Option<CategoryId> {
        match r {
            StreamRef::Live(i) => self.live[i].category,
            StreamRef::Movie(i) => self.movies[i].category,
            StreamRef::Episode(s, _) => self.series[s].category,
        }
    }

    /// The upstream URL of a stream.
    pub fn stream_url(&self, r: StreamRef) -> &str {
        match r {
            StreamRef::Live(i) => &self.live[i].url,
            StreamRef::Movie(i) => &self.movies[i].url,
            StreamRef::Episode(s, e) => &self.series[s].episodes[e].url,
        }
    }

    /// Programmes of a guide channel, sorted by start.
    pub fn programmes(&self, epg_id: &str) -> &[Programme] {
        self.programmes
            .get(epg_id)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The programmes on now and next: those that end after `now`, at most `limit`.
    pub fn upcoming(&self, epg_id: &str, now: UnixTime, limit: usize) -> &[Programme] {
        let all = self.programmes(epg_id);
        let first = all.partition_point(|p| p.stop <= now);
        &all[first..all.len().min(first + limit)]
    }

    /// Guide channel ids that have programmes.
    pub fn guide_ids(&self) -> impl Iterator<Item = &str> {
        self.programmes.keys().map(|k| k.as_ref())
    }

    pub fn entry_count(&self) -> usize {
        self.live.len()
            + self.movies.len()
            + self.series.iter().map(|s| s.episodes.len()).sum::<usize>()
    }
}
