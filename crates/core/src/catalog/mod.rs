//! The catalog: what there is to watch, as one immutable snapshot.
//!
//! Faces read a `Arc<Catalog>` without locks; a source refresh builds a new
//! snapshot and swaps it in. Strings are boxed (no spare capacity), a live
//! channel's four strings share one allocation ([`LiveText`]), categories
//! are referred to by id, and stream ids are looked up in a dense table, so
//! a live channel costs about 64 bytes plus its text plus 8 bytes of index.
//!
//! What the relay needs beside the streams sits in side tables, so a channel
//! without it pays nothing: each source's cap and delivery
//! ([`SourceSettings`], a few per catalog) and the backup URLs of the
//! channels that have some (a map by stream id). Every stream's [`Feed`]
//! (built-in, fetched over HTTP or HLS, or redirected) is read once from its
//! URL and its source's delivery when the snapshot is built, one byte each.
//!
//! The snapshot is what players see: [`Catalog::build`] leaves out the
//! items of a source the operator disabled (the store keeps them, so
//! enabling it again needs no refresh). Single streams the operator
//! disabled never reach the build: the store's catalog load leaves them out.

pub mod backups;
pub mod catchup;
mod feed;
pub mod guide_match;
pub mod guide_plan;
pub mod identity;
mod index;
pub mod ingest;
pub mod plan;
pub mod source;
mod text;

use crate::ids::{CategoryId, SeriesId, SourceId, StreamId};
use crate::UnixTime;
use catchup::{Catchup, CatchupKind};
use feed::FeedKind;
use index::IdIndex;
use std::collections::HashMap;

pub use feed::Feed;
pub use guide_match::GuideMatches;
use guide_match::MatchReport;
pub use identity::{UpstreamHeader, UpstreamIdentity};
pub use source::{
    Delivery, DiagnosticRow, HeldRefresh, ShrinkGuard, Source, SourceKind, SourceSettings,
    XtreamAccount,
};
pub use text::{is_plain, LiveText};

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
    pub category: Option<CategoryId>,
    pub added: UnixTime,
    pub is_adult: bool,
    /// Catch-up depth in days (0: none).
    pub archive_days: u16,
    /// Name, logo, upstream URL and guide id: read them through
    /// [`name`](Self::name), [`logo`](Self::logo), [`url`](Self::url) and
    /// [`epg_id`](Self::epg_id).
    pub text: LiveText,
}

impl LiveChannel {
    pub fn name(&self) -> &str {
        self.text.name()
    }

    /// Logo URL, empty when none.
    pub fn logo(&self) -> &str {
        self.text.logo()
    }

    /// Where the stream comes from (never shown to players).
    pub fn url(&self) -> &str {
        self.text.url()
    }

    /// XMLTV channel id (`tvg-id`, Xtream `epg_channel_id`).
    pub fn epg_id(&self) -> Option<&str> {
        self.text.epg_id()
    }
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
    /// Every source's settings.
    pub sources: Vec<SourceSettings>,
    /// Backup URLs of the live channels that have some, in order.
    pub backups: Vec<(StreamId, Vec<Box<str>>)>,
    /// How the archive of each live channel that has one is reached (a
    /// channel with archive days and no entry here is `xc` when its URL is
    /// an Xtream one, and has no archive otherwise).
    pub catchups: Vec<(StreamId, Catchup)>,
}

/// A stream a URL can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamRef {
    Live(usize),
    Movie(usize),
    /// (series index, episode index)
    Episode(usize, usize),
}

impl StreamRef {
    /// Packed into a non-zero `u64` for [`IdIndex`]: a 2-bit tag and two
    /// 31-bit indices (a catalog holds far fewer than 2^31 of anything).
    fn pack(self) -> u64 {
        let (tag, a, b) = match self {
            StreamRef::Live(i) => (1u64, i, 0),
            StreamRef::Movie(i) => (2, i, 0),
            StreamRef::Episode(s, e) => (3, s, e),
        };
        debug_assert!(a < 1 << 31 && b < 1 << 31);
        tag << 62 | (a as u64 & 0x7fff_ffff) << 31 | (b as u64 & 0x7fff_ffff)
    }

    fn unpack(v: u64) -> Option<StreamRef> {
        let a = ((v >> 31) & 0x7fff_ffff) as usize;
        let b = (v & 0x7fff_ffff) as usize;
        match v >> 62 {
            1 => Some(StreamRef::Live(a)),
            2 => Some(StreamRef::Movie(a)),
            3 => Some(StreamRef::Episode(a, b)),
            _ => None,
        }
    }
}

/// The immutable snapshot faces read.
#[derive(Debug, Default)]
pub struct Catalog {
    pub categories: Vec<Category>,
    pub live: Vec<LiveChannel>,
    pub movies: Vec<Movie>,
    pub series: Vec<Series>,
    pub guide_channels: Vec<GuideChannel>,
    /// Stream id → packed [`StreamRef`].
    by_stream: IdIndex,
    /// Series id → index + 1.
    by_series: IdIndex,
    /// Category id → index + 1.
    by_category: IdIndex,
    by_guide_channel: HashMap<Box<str>, usize>,
    /// Programmes per guide channel id, sorted by start.
    programmes: HashMap<Box<str>, Vec<Programme>>,
    /// Sorted by id (a catalog has a handful of sources).
    sources: Vec<SourceSettings>,
    /// Only the live channels that have backups.
    backups: HashMap<StreamId, Box<[Box<str>]>>,
    /// The archive convention of the live channels that have an archive
    /// and are not plain `xc` (derived from the URL when asked for).
    catchups: HashMap<StreamId, Catchup>,
    /// The [`Feed`] of each live channel, movie and (per series) episode,
    /// by the same index as the lists.
    live_feeds: Box<[FeedKind]>,
    movie_feeds: Box<[FeedKind]>,
    episode_feeds: Box<[Box<[FeedKind]>]>,
    /// How the live channels found their guide, per source.
    guide_matches: MatchReport,
}

impl Catalog {
    /// Builds the indexes over loaded data.
    pub fn build(data: CatalogData) -> Catalog {
        let CatalogData {
            categories,
            mut live,
            mut movies,
            mut series,
            guide_channels,
            programmes: rows,
            mut sources,
            backups,
            catchups,
        } = data;
        sources.sort_by_key(|s| s.id);
        sources.dedup_by_key(|s| s.id);
        sources.shrink_to_fit();
        // A source without settings cannot be told apart from an enabled
        // one (stores always load both); only an explicit "off" hides.
        let disabled: Vec<SourceId> = sources
            .iter()
            .filter(|s| !s.enabled)
            .map(|s| s.id)
            .collect();
        if !disabled.is_empty() {
            live.retain(|c| !disabled.contains(&c.source));
            movies.retain(|m| !disabled.contains(&m.source));
            series.retain(|s| !disabled.contains(&s.source));
        }
        let catchups = reachable_archives(&mut live, catchups);
        let mut programmes: HashMap<Box<str>, Vec<Programme>> = HashMap::new();
        for (channel, p) in rows {
            programmes.entry(channel).or_default().push(p);
        }
        for list in programmes.values_mut() {
            list.sort_by_key(|p| p.start);
            list.dedup_by(|b, a| a.start == b.start);
        }
        let guide_matches = guide_match::match_channels(&mut live, &guide_channels, |id| {
            programmes.contains_key(id)
        });
        let backups = backups
            .into_iter()
            .filter(|(_, urls)| !urls.is_empty())
            .map(|(id, urls)| (id, urls.into_boxed_slice()))
            .collect();
        let delivery = |id: SourceId| {
            sources
                .binary_search_by_key(&id, |s| s.id)
                .map_or(Delivery::default(), |i| sources[i].delivery)
        };
        let live_feeds = live
            .iter()
            .map(|c| FeedKind::of(c.url(), delivery(c.source)))
            .collect();
        let movie_feeds = movies
            .iter()
            .map(|m| FeedKind::of(&m.url, delivery(m.source)))
            .collect();
        let episode_feeds = series
            .iter()
            .map(|s| {
                let d = delivery(s.source);
                s.episodes.iter().map(|e| FeedKind::of(&e.url, d)).collect()
            })
            .collect();
        // The lists were collected row by row; give back the spare capacity.
        live.shrink_to_fit();
        movies.shrink_to_fit();
        series.shrink_to_fit();
        // Later kinds win on a repeated id, as they always did.
        let by_stream = IdIndex::build(
            live.iter()
                .enumerate()
                .map(|(i, c)| (c.id.0, StreamRef::Live(i)))
                .chain(
                    movies
                        .iter()
                        .enumerate()
                        .map(|(i, m)| (m.id.0, StreamRef::Movie(i))),
                )
                .chain(series.iter().enumerate().flat_map(|(si, s)| {
                    s.episodes
                        .iter()
                        .enumerate()
                        .map(move |(ei, e)| (e.id.0, StreamRef::Episode(si, ei)))
                }))
                .map(|(id, r)| (id, r.pack())),
        );
        let by_series = IdIndex::build(
            series
                .iter()
                .enumerate()
                .map(|(i, s)| (s.id.0, i as u64 + 1)),
        );
        let by_category = IdIndex::build(
            categories
                .iter()
                .enumerate()
                .map(|(i, c)| (c.id.0, i as u64 + 1)),
        );
        let by_guide_channel = guide_channels
            .iter()
            .enumerate()
            .map(|(i, g)| (g.id.clone(), i))
            .collect();
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
            sources,
            backups,
            catchups,
            live_feeds,
            movie_feeds,
            episode_feeds,
            guide_matches,
        }
    }

    /// How the live channels of a source (`None`: of every source) found
    /// their guide when this snapshot was built.
    pub fn guide_matches(&self, source: Option<SourceId>) -> GuideMatches {
        self.guide_matches.of(source)
    }

    pub fn stream(&self, id: StreamId) -> Option<StreamRef> {
        self.by_stream.get(id.0).and_then(StreamRef::unpack)
    }

    pub fn series_by_id(&self, id: SeriesId) -> Option<&Series> {
        let i = self.by_series.get(id.0)? - 1;
        self.series.get(i as usize)
    }

    pub fn category(&self, id: CategoryId) -> Option<&Category> {
        self.categories.get(self.category_index(id)?)
    }

    /// Where a category is in [`categories`](Self::categories), for faces
    /// that keep something per category in a table of their own.
    pub fn category_index(&self, id: CategoryId) -> Option<usize> {
        Some((self.by_category.get(id.0)? - 1) as usize)
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

    /// The name a person knows a stream by (a channel's, a movie's, an
    /// episode's title).
    pub fn stream_name(&self, r: StreamRef) -> &str {
        match r {
            StreamRef::Live(i) => self.live[i].name(),
            StreamRef::Movie(i) => &self.movies[i].name,
            StreamRef::Episode(s, e) => &self.series[s].episodes[e].title,
        }
    }

    /// The upstream URL of a stream.
    pub fn stream_url(&self, r: StreamRef) -> &str {
        match r {
            StreamRef::Live(i) => self.live[i].url(),
            StreamRef::Movie(i) => &self.movies[i].url,
            StreamRef::Episode(s, e) => &self.series[s].episodes[e].url,
        }
    }

    /// How a stream reaches players: built in, fetched by tvgate (over HTTP
    /// or as HLS) or redirected to, from its URL and its source's delivery.
    pub fn feed(&self, r: StreamRef) -> Feed<'_> {
        let kind = match r {
            StreamRef::Live(i) => self.live_feeds.get(i),
            StreamRef::Movie(i) => self.movie_feeds.get(i),
            StreamRef::Episode(s, e) => self.episode_feeds.get(s).and_then(|f| f.get(e)),
        };
        let url = self.stream_url(r);
        match kind {
            Some(kind) => kind.with(url),
            // Only a snapshot made without `build` lacks the table.
            None => Feed::of(url, self.delivery(r)),
        }
    }

    /// The source a stream comes from.
    pub fn source_id(&self, r: StreamRef) -> SourceId {
        match r {
            StreamRef::Live(i) => self.live[i].source,
            StreamRef::Movie(i) => self.movies[i].source,
            StreamRef::Episode(s, _) => self.series[s].source,
        }
    }

    /// A source's settings (`None` for an id the snapshot does not know).
    pub fn source(&self, id: SourceId) -> Option<&SourceSettings> {
        let i = self.sources.binary_search_by_key(&id, |s| s.id).ok()?;
        self.sources.get(i)
    }

    /// Every source's settings, by id.
    pub fn sources(&self) -> &[SourceSettings] {
        &self.sources
    }

    /// The settings of the source a stream comes from.
    pub fn source_of(&self, r: StreamRef) -> Option<&SourceSettings> {
        self.source(self.source_id(r))
    }

    /// How a stream reaches players: its source's delivery ([`Delivery::Proxy`]
    /// when the source is unknown, which never happens in a loaded snapshot).
    pub fn delivery(&self, r: StreamRef) -> Delivery {
        self.source_of(r).map(|s| s.delivery).unwrap_or_default()
    }

    /// The connection cap of the source a stream comes from, with the
    /// source's id (the key the cap is counted under). 0: unlimited.
    pub fn source_cap(&self, r: StreamRef) -> (SourceId, u32) {
        let id = self.source_id(r);
        (id, self.source(id).map_or(0, |s| s.max_connections))
    }

    /// The backup URLs of a live channel, in the order to try them (empty
    /// for a channel without backups, a movie or an episode).
    pub fn backups(&self, id: StreamId) -> &[Box<str>] {
        self.backups.get(&id).map_or(&[], |b| &b[..])
    }

    /// Every URL a stream can be fetched from, in order: its own, then its
    /// backups.
    pub fn upstream_urls(&self, r: StreamRef) -> impl Iterator<Item = &str> {
        let backups: &[Box<str>] = match r {
            StreamRef::Live(i) => self.backups(self.live[i].id),
            _ => &[],
        };
        std::iter::once(self.stream_url(r)).chain(backups.iter().map(|b| &**b))
    }

    /// The catch-up archive of a live channel: how many days it keeps and
    /// how it is reached upstream. `None` for a channel without one (and
    /// for movies and episodes).
    pub fn archive(&self, r: StreamRef) -> Option<(u16, Catchup)> {
        let StreamRef::Live(i) = r else {
            return None;
        };
        let c = self.live.get(i)?;
        if c.archive_days == 0 {
            return None;
        }
        let catchup = self
            .catchups
            .get(&c.id)
            .cloned()
            .unwrap_or_else(catchup::xc);
        Some((c.archive_days, catchup))
    }

    /// Live channels that have backups.
    pub fn channels_with_backups(&self) -> usize {
        self.backups.len()
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
        &all[first..all.len().min(first.saturating_add(limit))]
    }

    pub fn entry_count(&self) -> usize {
        self.live.len()
            + self.movies.len()
            + self.series.iter().map(|s| s.episodes.len()).sum::<usize>()
    }
}

/// Keeps the archive of the live channels whose archive tvgate can reach
/// and takes it away from the others (their `archive_days` becomes 0, so no
/// list offers what no request could play). Returns the conventions worth
/// keeping: all but plain `xc`, which is derived from the URL when asked.
fn reachable_archives(
    live: &mut [LiveChannel],
    given: Vec<(StreamId, Catchup)>,
) -> HashMap<StreamId, Catchup> {
    let mut given: HashMap<StreamId, Catchup> = given.into_iter().collect();
    let mut kept = HashMap::new();
    for c in live.iter_mut().filter(|c| c.archive_days > 0) {
        let catchup = given.remove(&c.id).unwrap_or_else(catchup::xc);
        // A sample moment: whether an archive URL can be built at all.
        if catchup
            .archive_url(c.url(), 1_700_000_000, 3600, 1_700_003_600)
            .is_none()
        {
            c.archive_days = 0;
        } else if catchup.kind != CatchupKind::Xc || catchup.source.is_some() {
            kept.insert(c.id, catchup);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(id: u32, category: Option<u32>) -> LiveChannel {
        LiveChannel {
            id: StreamId(id),
            source: SourceId(1),
            category: category.map(CategoryId),
            added: 0,
            is_adult: false,
            archive_days: 0,
            text: LiveText::new(&format!("C{id}"), "", &format!("http://up/{id}.ts"), None),
        }
    }

    fn data(ids: &[u32]) -> CatalogData {
        let episode = |id: u32| Episode {
            id: StreamId(id),
            season: 1,
            episode: id,
            title: "E".into(),
            url: format!("http://up/e{id}.mp4").into(),
            container: "mp4".into(),
            added: 0,
        };
        CatalogData {
            categories: vec![
                Category {
                    id: CategoryId(9),
                    kind: CategoryKind::Live,
                    name: "Nine".into(),
                },
                Category {
                    id: CategoryId(2),
                    kind: CategoryKind::Series,
                    name: "Two".into(),
                },
            ],
            live: ids.iter().map(|&id| live(id, Some(9))).collect(),
            movies: vec![Movie {
                id: StreamId(500),
                source: SourceId(1),
                name: "M".into(),
                category: None,
                logo: "".into(),
                url: "http://up/m.mkv".into(),
                container: "mkv".into(),
                added: 0,
                is_adult: false,
                plot: "".into(),
                year: None,
                rating: None,
            }],
            series: vec![Series {
                id: SeriesId(4_000_000_000),
                source: SourceId(1),
                name: "S".into(),
                category: Some(CategoryId(2)),
                cover: "".into(),
                plot: "".into(),
                last_modified: 0,
                episodes: vec![episode(600), episode(601)],
            }],
            ..CatalogData::default()
        }
    }

    #[test]
    fn lookups_by_id_dense_or_sparse() {
        for ids in [vec![1, 2, 3, 7], vec![1, 2, 3, u32::MAX - 1]] {
            let last = *ids.last().unwrap();
            let c = Catalog::build(data(&ids));
            assert_eq!(c.stream(StreamId(1)), Some(StreamRef::Live(0)));
            assert_eq!(c.stream(StreamId(last)), Some(StreamRef::Live(3)));
            assert_eq!(c.stream(StreamId(500)), Some(StreamRef::Movie(0)));
            assert_eq!(c.stream(StreamId(601)), Some(StreamRef::Episode(0, 1)));
            for missing in [0, 4, 499, 602, u32::MAX] {
                assert_eq!(c.stream(StreamId(missing)), None, "{missing}");
            }
            assert_eq!(
                c.stream_url(StreamRef::Live(3)),
                format!("http://up/{last}.ts")
            );
            assert_eq!(
                c.stream_category(StreamRef::Episode(0, 0)),
                Some(CategoryId(2))
            );
            assert_eq!(
                c.series_by_id(SeriesId(4_000_000_000)).map(|s| &*s.name),
                Some("S")
            );
            assert!(c.series_by_id(SeriesId(0)).is_none());
            assert_eq!(c.category(CategoryId(9)).map(|c| &*c.name), Some("Nine"));
            assert_eq!(c.category_index(CategoryId(2)), Some(1));
            assert!(c.category(CategoryId(3)).is_none());
            assert_eq!(c.live[3].name(), format!("C{last}"));
            assert_eq!(c.entry_count(), 7);
        }
    }

    #[test]
    fn stream_refs_pack_both_ways() {
        for r in [
            StreamRef::Live(0),
            StreamRef::Movie(12345),
            StreamRef::Episode(0, 0),
            StreamRef::Episode((1 << 31) - 1, (1 << 31) - 1),
        ] {
            assert_ne!(r.pack(), 0);
            assert_eq!(StreamRef::unpack(r.pack()), Some(r));
        }
    }

    #[test]
    fn a_disabled_sources_items_are_left_out() {
        let mut d = data(&[1, 2, 3]);
        d.live[1].source = SourceId(2);
        d.sources = vec![SourceSettings {
            identity: Default::default(),
            id: SourceId(2),
            name: "Off".into(),
            max_connections: 0,
            delivery: Delivery::Proxy,
            enabled: false,
        }];
        let c = Catalog::build(d);
        let ids: Vec<u32> = c.live.iter().map(|l| l.id.0).collect();
        assert_eq!(ids, [1, 3]);
        assert_eq!(c.stream(StreamId(2)), None, "its URL names nothing");
        assert!(c.stream(StreamId(500)).is_some(), "other sources stay");
    }

    #[test]
    fn sources_and_backups_are_looked_up_per_stream() {
        let mut d = data(&[1, 2, 3, 7]);
        d.live[1].source = SourceId(2);
        d.sources = vec![
            SourceSettings {
                identity: Default::default(),
                id: SourceId(2),
                name: "Two".into(),
                max_connections: 5,
                delivery: Delivery::Redirect,
                enabled: true,
            },
            SourceSettings {
                identity: Default::default(),
                id: SourceId(1),
                name: "One".into(),
                max_connections: 0,
                delivery: Delivery::Proxy,
                enabled: true,
            },
        ];
        d.backups = vec![
            (
                StreamId(2),
                vec!["http://b/2.ts".into(), "http://c/2.ts".into()],
            ),
            (StreamId(3), vec![]),
        ];
        let c = Catalog::build(d);
        let two = StreamRef::Live(1);
        assert_eq!(c.source_of(two).map(|s| &*s.name), Some("Two"));
        assert_eq!(c.delivery(two), Delivery::Redirect);
        assert_eq!(c.source_cap(two), (SourceId(2), 5));
        assert_eq!(c.delivery(StreamRef::Movie(0)), Delivery::Proxy);
        assert_eq!(c.source_cap(StreamRef::Episode(0, 1)), (SourceId(1), 0));
        assert_eq!(c.backups(StreamId(2)).len(), 2);
        assert!(
            c.backups(StreamId(3)).is_empty(),
            "an empty list is no entry"
        );
        assert!(c.backups(StreamId(500)).is_empty());
        assert_eq!(c.channels_with_backups(), 1);
        assert_eq!(
            c.upstream_urls(two).collect::<Vec<_>>(),
            ["http://up/2.ts", "http://b/2.ts", "http://c/2.ts"]
        );
        assert_eq!(
            c.upstream_urls(StreamRef::Movie(0)).collect::<Vec<_>>(),
            ["http://up/m.mkv"]
        );
        // A source the snapshot does not know (never so once loaded): proxied,
        // so the URL stays hidden; no cap.
        let bare = Catalog::build(data(&[1]));
        assert_eq!(bare.source_of(StreamRef::Live(0)), None);
        assert_eq!(bare.delivery(StreamRef::Live(0)), Delivery::Proxy);
    }

    #[test]
    fn each_stream_is_fed_by_its_url_and_its_sources_delivery() {
        let mut d = data(&[1, 2, 3]);
        d.live[1].source = SourceId(2);
        d.live[2].text = LiveText::new("Loop", "", "loop:demo?ch=3", None);
        d.series[0].source = SourceId(2);
        d.movies[0].url = "http://up/m.m3u8".into();
        d.sources = vec![SourceSettings {
            identity: Default::default(),
            id: SourceId(2),
            name: "Two".into(),
            max_connections: 0,
            delivery: Delivery::Redirect,
            enabled: true,
        }];
        let c = Catalog::build(d);
        assert_eq!(c.feed(StreamRef::Live(0)), Feed::Http("http://up/1.ts"));
        assert_eq!(c.feed(StreamRef::Live(1)), Feed::Redirect("http://up/2.ts"));
        assert_eq!(c.feed(StreamRef::Live(2)), Feed::Loop("demo"));
        assert_eq!(c.feed(StreamRef::Movie(0)), Feed::Hls("http://up/m.m3u8"));
        assert_eq!(
            c.feed(StreamRef::Episode(0, 1)),
            Feed::Redirect("http://up/e601.mp4")
        );
        // Without the table (a snapshot not made by `build`), read on demand.
        let mut bare = Catalog::build(data(&[1]));
        bare.live_feeds = Box::default();
        assert_eq!(bare.feed(StreamRef::Live(0)), Feed::Http("http://up/1.ts"));
    }

    #[test]
    fn archives_are_kept_only_where_a_url_can_be_built() {
        let mut d = data(&[1, 2, 3, 4]);
        d.live[0].text = LiveText::new("X", "", "http://xc/live/u/p/9.ts", None);
        d.live[0].archive_days = 3;
        d.live[1].archive_days = 2;
        d.live[2].archive_days = 5;
        d.catchups = vec![(
            StreamId(3),
            Catchup {
                kind: CatchupKind::Shift,
                source: None,
            },
        )];
        let c = Catalog::build(d);
        assert_eq!(c.archive(StreamRef::Live(0)), Some((3, catchup::xc())));
        assert_eq!(
            c.archive(StreamRef::Live(1)),
            None,
            "no kind, not an xc URL"
        );
        assert_eq!(c.live[1].archive_days, 0, "so no list offers it");
        assert_eq!(
            c.archive(StreamRef::Live(2)).map(|(d, k)| (d, k.kind)),
            Some((5, CatchupKind::Shift))
        );
        assert_eq!(c.archive(StreamRef::Live(3)), None);
        assert_eq!(c.archive(StreamRef::Movie(0)), None);
        assert_eq!(c.catchups.len(), 1, "plain xc is derived, not kept");
    }

    #[test]
    fn a_live_channel_is_small() {
        assert!(std::mem::size_of::<LiveChannel>() <= 64);
    }
}
