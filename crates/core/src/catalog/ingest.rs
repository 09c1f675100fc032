//! Turns playlist entries into catalog items: is this a live channel, a movie
//! or an episode of a series, and which category does it belong to?

use super::catchup::Catchup;
use tvgate_formats::m3u::Entry;

/// What an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    Live,
    Movie,
    Episode,
}

/// Which series an episode belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpisodeOf {
    pub series: String,
    pub season: u32,
    pub episode: u32,
}

/// One entry of a source, classified, ready for the planner ([`super::plan`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedItem {
    /// Identity within the source across refreshes (keeps `stream_id` stable).
    pub key: String,
    pub kind: ItemKind,
    pub name: String,
    /// Category name (`group-title`).
    pub group: Option<String>,
    pub epg_id: Option<String>,
    pub logo: Option<String>,
    pub url: String,
    /// Container extension for movies and episodes.
    pub container: Option<String>,
    pub is_adult: bool,
    /// Days of catch-up archive (0: none; then `catchup` is `None`).
    pub archive_days: u16,
    /// How the archive is reached, for a live channel that has one.
    pub catchup: Option<Catchup>,
    pub episode_of: Option<EpisodeOf>,
    /// Line of the `#EXTINF` in the source.
    pub line: u64,
}

const VIDEO_FILE_EXTENSIONS: &[&str] = &[
    "mp4", "mkv", "avi", "mov", "m4v", "webm", "wmv", "flv", "mpg", "mpeg", "divx", "ogv",
];

/// The URL's path extension, lower-case (`mkv` for `http://h/x/1.mkv?t=1`).
fn url_extension(url: &str) -> Option<String> {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let last = path.rsplit('/').next()?;
    let (_, ext) = last.rsplit_once('.')?;
    (!ext.is_empty() && ext.len() <= 5 && ext.chars().all(|c| c.is_ascii_alphanumeric()))
        .then(|| ext.to_ascii_lowercase())
}

/// Finds `S01E02`, `S1 E2` or `1x02` in a name: (series name, season, episode).
pub fn parse_episode_name(name: &str) -> Option<EpisodeOf> {
    let bytes = name.as_bytes();
    for i in 0..bytes.len() {
        let at_word_start = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
        if !at_word_start || !matches!(bytes[i], b'S' | b's') {
            continue;
        }
        let mut j = i + 1;
        let s_start = j;
        while j < bytes.len() && bytes[j].is_ascii_digit() {
            j += 1;
        }
        if j == s_start || j - s_start > 3 {
            continue;
        }
        let season: u32 = name[s_start..j].parse().ok()?;
        while j < bytes.len() && bytes[j] == b' ' {
            j += 1;
        }
        if j >= bytes.len() || !matches!(bytes[j], b'E' | b'e') {
            continue;
        }
        j += 1;
        let e_start = j;
        while j < bytes.len() && bytes[j].is_ascii_digit() {
            j += 1;
        }
        if j == e_start || j - e_start > 4 {
            continue;
        }
        let episode: u32 = name[e_start..j].parse().ok()?;
        let series = name[..i]
            .trim()
            .trim_end_matches(['-', ':', '|', '.'])
            .trim()
            .to_string();
        let series = if series.is_empty() {
            name[j..].trim().to_string()
        } else {
            series
        };
        return Some(EpisodeOf {
            series,
            season,
            episode,
        });
    }
    None
}

fn non_empty(v: Option<&str>) -> Option<String> {
    v.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Classifies one playlist entry.
///
/// Rules, first match wins: an Xtream-style URL (`/movie/`, `/series/`,
/// `/live/`) says what it is; an explicit `tvg-type`/`type` attribute;
/// otherwise a video-file extension makes a movie, or an episode when the
/// name carries `S01E02`; everything else is a live channel.
pub fn classify(entry: &Entry) -> ImportedItem {
    let url = entry.url.trim().to_string();
    let lower = url.to_ascii_lowercase();
    let ext = url_extension(&url);
    let declared = entry
        .attr("tvg-type")
        .or_else(|| entry.attr("type"))
        .map(str::to_ascii_lowercase);
    let name = non_empty(Some(entry.title.as_str()))
        .or_else(|| non_empty(entry.attr("tvg-name")))
        .unwrap_or_else(|| format!("Entry at line {}", entry.line));
    let episode_of = parse_episode_name(&name);
    let is_file = ext
        .as_deref()
        .is_some_and(|e| VIDEO_FILE_EXTENSIONS.contains(&e));
    let kind = if lower.contains("/series/") || declared.as_deref() == Some("series") {
        ItemKind::Episode
    } else if lower.contains("/movie/") || declared.as_deref() == Some("movie") {
        ItemKind::Movie
    } else if lower.contains("/live/") || declared.as_deref() == Some("live") {
        ItemKind::Live
    } else if is_file && episode_of.is_some() {
        ItemKind::Episode
    } else if is_file {
        ItemKind::Movie
    } else {
        ItemKind::Live
    };
    let episode_of = match kind {
        ItemKind::Episode => Some(episode_of.unwrap_or(EpisodeOf {
            series: name.clone(),
            season: 1,
            episode: 1,
        })),
        _ => None,
    };
    let group = non_empty(entry.attr("group-title")).or_else(|| non_empty(entry.group.as_deref()));
    let is_adult = entry
        .attr("tvg-adult")
        .or_else(|| entry.attr("adult"))
        .is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
        || group.as_deref().is_some_and(|g| {
            let g = g.to_ascii_lowercase();
            g.contains("adult") || g.contains("xxx")
        });
    // Only a live channel has an archive, and only one tvgate can reach.
    let (catchup, archive_days) = match kind {
        ItemKind::Live => {
            let days = ["catchup-days", "tvg-rec", "timeshift"]
                .iter()
                .find_map(|k| entry.attr(k).and_then(|v| v.trim().parse::<u16>().ok()));
            Catchup::from_playlist(
                entry.attr("catchup").or_else(|| entry.attr("catchup-type")),
                entry.attr("catchup-source"),
                days,
                &url,
            )
            .map_or((None, 0), |(c, d)| (Some(c), d))
        }
        _ => (None, 0),
    };
    let container = match kind {
        ItemKind::Live => None,
        _ => Some(
            ext.filter(|e| e != "m3u8")
                .unwrap_or_else(|| "mp4".to_string()),
        ),
    };
    ImportedItem {
        key: url.clone(),
        kind,
        name,
        group,
        epg_id: non_empty(entry.attr("tvg-id")),
        logo: non_empty(entry.attr("tvg-logo")).or_else(|| non_empty(entry.attr("logo"))),
        url,
        container,
        is_adult,
        archive_days,
        catchup,
        episode_of,
        line: entry.line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(title: &str, url: &str, attrs: &[(&str, &str)]) -> Entry {
        Entry {
            line: 3,
            duration: "-1".into(),
            attrs: attrs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            title: title.into(),
            url: url.into(),
            ..Default::default()
        }
    }

    #[test]
    fn classification() {
        let live = classify(&entry(
            "News",
            "http://up/1.ts",
            &[("group-title", "News"), ("tvg-id", "news.uk")],
        ));
        assert_eq!(
            (live.kind, live.group.as_deref(), live.epg_id.as_deref()),
            (ItemKind::Live, Some("News"), Some("news.uk"))
        );
        let hls = classify(&entry("HLS", "http://up/live/x/index.m3u8", &[]));
        assert_eq!(hls.kind, ItemKind::Live);
        let movie = classify(&entry(
            "The Film (1999)",
            "http://up/films/film.MKV?x=1",
            &[],
        ));
        assert_eq!(
            (movie.kind, movie.container.as_deref()),
            (ItemKind::Movie, Some("mkv"))
        );
        let xc_movie = classify(&entry("Film", "http://up/movie/u/p/9.mp4", &[]));
        assert_eq!(xc_movie.kind, ItemKind::Movie);
        let ep = classify(&entry("My Show S02E05", "http://up/shows/ep.mp4", &[]));
        assert_eq!(ep.kind, ItemKind::Episode);
        assert_eq!(
            ep.episode_of,
            Some(EpisodeOf {
                series: "My Show".into(),
                season: 2,
                episode: 5
            })
        );
        let declared = classify(&entry(
            "Film",
            "http://up/stream/77",
            &[("tvg-type", "movie")],
        ));
        assert_eq!(declared.kind, ItemKind::Movie);
        let adult = classify(&entry(
            "X",
            "http://up/2.ts",
            &[("group-title", "Adult 18+")],
        ));
        assert!(adult.is_adult);
        let archive = classify(&entry(
            "A",
            "http://up/live/u/p/3.ts",
            &[("catchup-days", "3")],
        ));
        assert_eq!(archive.archive_days, 3);
        assert_eq!(archive.catchup, Some(super::super::catchup::xc()));
        let unreachable = classify(&entry("A", "http://up/3.ts", &[("catchup-days", "3")]));
        assert_eq!((unreachable.archive_days, unreachable.catchup), (0, None));
        let shift = classify(&entry(
            "A",
            "http://up/3.ts",
            &[("catchup", "shift"), ("catchup-days", "2")],
        ));
        assert_eq!(
            shift.catchup.map(|c| (c.kind.as_str(), shift.archive_days)),
            Some(("shift", 2))
        );
        let movie = classify(&entry("F", "http://up/f.mkv", &[("catchup", "shift")]));
        assert_eq!((movie.archive_days, movie.catchup), (0, None));
        let unnamed = classify(&entry("", "http://up/4.ts", &[]));
        assert_eq!(unnamed.name, "Entry at line 3");
    }

    #[test]
    fn episode_names() {
        assert_eq!(
            parse_episode_name("Show - S01E02"),
            Some(EpisodeOf {
                series: "Show".into(),
                season: 1,
                episode: 2
            })
        );
        assert_eq!(
            parse_episode_name("Show s1 e10 Title"),
            Some(EpisodeOf {
                series: "Show".into(),
                season: 1,
                episode: 10
            })
        );
        assert_eq!(parse_episode_name("Sports News"), None);
        assert_eq!(parse_episode_name("NEWS24"), None);
    }
}
