//! The list and detail actions of `player_api.php`, filtered by the line's
//! package. Lists stream: entries are rendered into 256 KiB chunks as the
//! socket drains, so a 200,000-entry list costs a chunk of memory (256 KiB), not the
//! whole answer.

use super::wire;
use crate::body::{chunked, CHUNK};
use crate::state::App;
use axum::body::Body;
use serde_json::json;
use std::sync::Arc;
use tvgate_core::access::Line;
use tvgate_core::catalog::{Catalog, CategoryKind, StreamRef};
use tvgate_core::ids::{CategoryId, SeriesId, StreamId};
use tvgate_core::UnixTime;
use tvgate_formats::xtream::{self, Text};

/// Streams a JSON array whose items `render` writes; `render(i, buf, comma)`
/// returns whether item `i` was written (it may be filtered out), with a
/// leading comma when `comma`.
fn json_array<F>(total: usize, render: F) -> Body
where
    F: FnMut(usize, &mut Vec<u8>, bool) -> bool + Send + 'static,
{
    chunked(json_array_fill(total, render))
}

fn json_array_fill<F>(total: usize, mut render: F) -> impl FnMut(&mut Vec<u8>) -> bool + Send
where
    F: FnMut(usize, &mut Vec<u8>, bool) -> bool + Send + 'static,
{
    let mut next = 0usize;
    let mut wrote_any = false;
    let mut started = false;
    move |buf| {
        if !started {
            buf.push(b'[');
            started = true;
        }
        while next < total && buf.len() < CHUNK {
            if render(next, buf, wrote_any) {
                wrote_any = true;
            }
            next += 1;
        }
        if next >= total {
            buf.push(b']');
            return false;
        }
        true
    }
}

/// Which categories a list shows, worked out once per request for every
/// category of the snapshot (by [`Catalog::category_index`]): the line's
/// package (a list of ids, too slow to scan per entry) and the
/// `category_id` filter.
struct Shown {
    by_index: Vec<bool>,
    filter: Option<u32>,
}

impl Shown {
    fn new(catalog: &Catalog, line: &Line, filter: Option<u32>) -> Shown {
        let by_index = catalog
            .categories
            .iter()
            .map(|c| wanted(line, Some(c.id), filter))
            .collect();
        Shown { by_index, filter }
    }

    #[inline]
    fn shows(&self, catalog: &Catalog, line: &Line, category: Option<CategoryId>) -> bool {
        match category {
            None => self.filter.is_none(),
            Some(id) => match catalog.category_index(id) {
                Some(i) => self.by_index[i],
                None => wanted(line, category, self.filter),
            },
        }
    }
}

fn wanted(line: &Line, item_category: Option<CategoryId>, filter: Option<u32>) -> bool {
    line.may_see(item_category) && filter.is_none_or(|f| item_category.map(|c| c.0) == Some(f))
}

pub fn live_streams(catalog: Arc<Catalog>, line: Arc<Line>, filter: Option<u32>) -> Body {
    chunked(live_streams_fill(catalog, line, filter))
}

/// The fill function of [`live_streams`] (see [`chunked`]).
pub fn live_streams_fill(
    catalog: Arc<Catalog>,
    line: Arc<Line>,
    filter: Option<u32>,
) -> impl FnMut(&mut Vec<u8>) -> bool + Send {
    let shown = Shown::new(&catalog, &line, filter);
    let mut num = 0u32;
    json_array_fill(catalog.live.len(), move |i, buf, comma| {
        let c = &catalog.live[i];
        if !shown.shows(&catalog, &line, c.category) {
            return false;
        }
        num += 1;
        if comma {
            buf.push(b',');
        }
        let t = &c.text;
        xtream::LiveStream {
            num,
            name: Text::known(t.name(), t.name_is_plain()),
            stream_type: "live",
            stream_id: c.id.0,
            stream_icon: Text::known(t.logo(), t.logo_is_plain()),
            epg_channel_id: t.epg_id().map(|e| Text::known(e, t.epg_id_is_plain())),
            added: c.added,
            is_adult: if c.is_adult { "1" } else { "0" },
            category_id: c.category.map(|c| c.0),
            category_ids: c.category.map(|c| c.0),
            custom_sid: "",
            tv_archive: u8::from(c.archive_days > 0),
            direct_source: "",
            tv_archive_duration: c.archive_days,
            thumbnail: "",
        }
        .write_json(buf);
        true
    })
}

pub fn vod_streams(catalog: Arc<Catalog>, line: Arc<Line>, filter: Option<u32>) -> Body {
    let shown = Shown::new(&catalog, &line, filter);
    let mut num = 0u32;
    json_array(catalog.movies.len(), move |i, buf, comma| {
        let m = &catalog.movies[i];
        if !shown.shows(&catalog, &line, m.category) {
            return false;
        }
        num += 1;
        if comma {
            buf.push(b',');
        }
        xtream::VodStream {
            num,
            name: Text::new(&m.name),
            title: Text::new(&m.name),
            year: m.year,
            stream_type: "movie",
            stream_id: m.id.0,
            stream_icon: Text::new(&m.logo),
            rating: m.rating,
            rating_5based: m.rating.map(|r| r / 2.0).unwrap_or(0.0),
            added: m.added,
            is_adult: if m.is_adult { "1" } else { "0" },
            category_id: m.category.map(|c| c.0),
            category_ids: m.category.map(|c| c.0),
            container_extension: Text::new(&m.container),
            custom_sid: "",
            direct_source: "",
        }
        .write_json(buf);
        true
    })
}

pub fn series(catalog: Arc<Catalog>, line: Arc<Line>, filter: Option<u32>) -> Body {
    let shown = Shown::new(&catalog, &line, filter);
    let mut num = 0u32;
    json_array(catalog.series.len(), move |i, buf, comma| {
        let s = &catalog.series[i];
        if !shown.shows(&catalog, &line, s.category) {
            return false;
        }
        num += 1;
        if comma {
            buf.push(b',');
        }
        xtream::SeriesEntry {
            num,
            name: Text::new(&s.name),
            title: Text::new(&s.name),
            series_id: s.id.0,
            stream_type: "series",
            cover: Text::new(&s.cover),
            plot: Text::new(&s.plot),
            cast: "",
            director: "",
            genre: "",
            release_date: "",
            last_modified: s.last_modified,
            rating: "",
            rating_5based: 0.0,
            backdrop_path: &[],
            youtube_trailer: "",
            episode_run_time: "",
            category_id: s.category.map(|c| c.0),
            category_ids: s.category.map(|c| c.0),
        }
        .write_json(buf);
        true
    })
}

/// `get_vod_info`: unknown (or invisible) ids answer `{"info":[]}`, which
/// @iptv/xtream-api's getMovie reads as "not found".
pub fn vod_info(catalog: &Catalog, line: &Line, vod_id: Option<u32>) -> Vec<u8> {
    let movie = vod_id.and_then(|id| match catalog.stream(StreamId(id)) {
        Some(StreamRef::Movie(i)) => Some(&catalog.movies[i]),
        _ => None,
    });
    let Some(m) = movie.filter(|m| line.may_see(m.category)) else {
        return br#"{"info":[]}"#.to_vec();
    };
    let info = json!({
        "kinopoisk_url": "", "tmdb_id": "", "name": &*m.name, "o_name": &*m.name,
        "cover_big": &*m.logo, "movie_image": &*m.logo, "releasedate": m.year.map(|y| format!("{y}-01-01")).unwrap_or_default(),
        "episode_run_time": 0, "youtube_trailer": "", "director": "", "actors": "", "cast": "",
        "description": &*m.plot, "plot": &*m.plot, "age": "", "mpaa_rating": "", "rating_count_kinopoisk": 0,
        "country": "", "genre": "", "backdrop_path": [], "duration_secs": 0, "duration": "00:00:00",
        "bitrate": 0, "rating": m.rating.unwrap_or(0.0), "subtitles": [],
    });
    let body = json!({
        "info": info,
        "movie_data": {
            "stream_id": m.id.0, "name": &*m.name, "title": &*m.name,
            "year": m.year.map(|y| y.to_string()).unwrap_or_default(),
            "added": m.added.to_string(), "category_id": wire::category_id(m.category),
            "category_ids": wire::category_ids(m.category), "container_extension": &*m.container,
            "custom_sid": "", "direct_source": "",
        }
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

/// `get_series_info`: one `seasons` entry per season (Hypnotix lists
/// episodes only through `seasons`), `episodes` keyed by season as strings.
pub fn series_info(catalog: &Catalog, line: &Line, series_id: Option<u32>) -> Vec<u8> {
    let Some(s) = series_id
        .and_then(|id| catalog.series_by_id(SeriesId(id)))
        .filter(|s| line.may_see(s.category))
    else {
        return br#"{"seasons":[],"info":{},"episodes":{}}"#.to_vec();
    };
    let mut seasons = Vec::new();
    let mut episodes = serde_json::Map::new();
    for e in &s.episodes {
        let key = e.season.to_string();
        let list = episodes
            .entry(key.clone())
            .or_insert_with(|| serde_json::Value::Array(Vec::new()));
        if let serde_json::Value::Array(list) = list {
            if list.is_empty() {
                seasons.push(json!({
                    "air_date": "", "episode_count": 0, "id": e.season, "name": format!("Season {}", e.season),
                    "overview": "", "season_number": e.season, "cover": &*s.cover, "cover_big": &*s.cover,
                }));
            }
            list.push(json!({
                "id": e.id.0.to_string(), "episode_num": e.episode, "title": &*e.title,
                "container_extension": &*e.container,
                "info": {"movie_image": &*s.cover, "plot": "", "releasedate": "", "rating": 0, "name": &*e.title,
                         "duration_secs": 0, "duration": "00:00:00", "bitrate": 0},
                "custom_sid": "", "added": e.added.to_string(), "season": e.season, "direct_source": "",
            }));
        }
    }
    for season in &mut seasons {
        let n = season["season_number"].as_u64().unwrap_or(0).to_string();
        let count = episodes
            .get(&n)
            .and_then(|v| v.as_array())
            .map(Vec::len)
            .unwrap_or(0);
        season["episode_count"] = json!(count);
    }
    let body = json!({
        "seasons": seasons,
        "info": {
            "name": &*s.name, "title": &*s.name, "cover": &*s.cover, "plot": &*s.plot, "cast": "", "director": "",
            "genre": "", "releaseDate": "", "last_modified": s.last_modified.to_string(), "rating": "0",
            "rating_5based": 0, "backdrop_path": [], "youtube_trailer": "", "episode_run_time": "",
            "category_id": wire::category_id(s.category), "category_ids": wire::category_ids(s.category),
        },
        "episodes": episodes,
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

/// `get_short_epg` (`limit` programmes from now on) and
/// `get_simple_data_table` (`limit` = None: everything stored).
pub fn epg(
    app: &App,
    catalog: &Catalog,
    line: &Line,
    stream_id: Option<u32>,
    limit: Option<usize>,
    now: UnixTime,
) -> Vec<u8> {
    let channel = stream_id.and_then(|id| match catalog.stream(StreamId(id)) {
        Some(StreamRef::Live(i)) => Some(&catalog.live[i]),
        _ => None,
    });
    let Some(c) = channel.filter(|c| line.may_see(c.category)) else {
        return br#"{"epg_listings":[]}"#.to_vec();
    };
    let Some(epg_id) = c.epg_id() else {
        return br#"{"epg_listings":[]}"#.to_vec();
    };
    let programmes = match limit {
        Some(n) => catalog.upcoming(epg_id, now, n),
        None => catalog.programmes(epg_id),
    };
    let archive_from = now - i64::from(c.archive_days) * 86_400;
    let listings: Vec<_> = programmes
        .iter()
        .map(|p| {
            let end = crate::localtime::local_time(app, p.stop);
            xtream::EpgListing {
                id: format!("{}{}", c.id.0, p.start),
                epg_id: c.id.0.to_string(),
                title: xtream::base64(&p.title),
                lang: &p.lang,
                start: crate::localtime::local_time(app, p.start),
                stop: end.clone(),
                end,
                description: xtream::base64(&p.desc),
                channel_id: epg_id,
                start_timestamp: p.start.to_string(),
                stop_timestamp: p.stop.to_string(),
                now_playing: u8::from(p.start <= now && now < p.stop),
                // Finished, and started within the archive: what a
                // catch-up request for it is served (`catchup::in_window`).
                has_archive: u8::from(
                    c.archive_days > 0 && p.stop <= now && p.start >= archive_from,
                ),
            }
        })
        .collect();
    serde_json::to_vec(&json!({ "epg_listings": listings })).unwrap_or_default()
}

/// `panel_api.php` without action: the login payload plus `categories` and
/// `available_channels` (old apps only).
pub fn panel(app: &App, ctx: &wire::LoginContext<'_>, line: &Line) -> Vec<u8> {
    let catalog = app.gate.catalog();
    let mut value: serde_json::Value =
        serde_json::from_slice(&wire::login(ctx, line, None)).unwrap_or_default();
    let cats = |kind: CategoryKind| -> serde_json::Value {
        catalog
            .categories
            .iter()
            .filter(|c| c.kind == kind && line.may_see(Some(c.id)))
            .map(|c| json!({"category_id": c.id.0.to_string(), "category_name": &*c.name, "parent_id": 0}))
            .collect()
    };
    value["categories"] = json!({"live": cats(CategoryKind::Live), "movie": cats(CategoryKind::Movie), "series": cats(CategoryKind::Series)});
    let mut channels = serde_json::Map::new();
    let name_of = |c: Option<CategoryId>| {
        c.and_then(|c| catalog.category(c))
            .map(|c| c.name.to_string())
            .unwrap_or_default()
    };
    for (n, c) in catalog
        .live
        .iter()
        .filter(|c| line.may_see(c.category))
        .enumerate()
    {
        channels.insert(
            c.id.0.to_string(),
            json!({
                "num": n + 1, "name": c.name(), "stream_type": "live", "type_name": "Live Streams",
                "stream_id": c.id.0.to_string(), "stream_icon": c.logo(), "epg_channel_id": c.epg_id(),
                "added": c.added.to_string(), "category_name": name_of(c.category),
                "category_id": wire::category_id(c.category), "series_no": null, "live": "1",
                "container_extension": null, "custom_sid": "", "tv_archive": u8::from(c.archive_days > 0),
                "direct_source": "", "tv_archive_duration": c.archive_days,
            }),
        );
    }
    for (n, m) in catalog
        .movies
        .iter()
        .filter(|m| line.may_see(m.category))
        .enumerate()
    {
        channels.insert(
            m.id.0.to_string(),
            json!({
                "num": n + 1, "name": &*m.name, "stream_type": "movie", "type_name": "Movies",
                "stream_id": m.id.0.to_string(), "stream_icon": &*m.logo, "epg_channel_id": null,
                "added": m.added.to_string(), "category_name": name_of(m.category),
                "category_id": wire::category_id(m.category), "series_no": null, "live": "0",
                "container_extension": &*m.container, "custom_sid": "", "tv_archive": 0,
                "direct_source": "", "tv_archive_duration": 0,
            }),
        );
    }
    value["available_channels"] = serde_json::Value::Object(channels);
    serde_json::to_vec(&value).unwrap_or_default()
}
