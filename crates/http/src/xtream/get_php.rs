//! `get.php` (and `/playlist/U/P[/TYPE]`): the line's M3U playlist.
//!
//! Entries are rendered straight into 256 KiB chunks with the line's
//! credentials spliced into each URL; nothing is built whole. Emission follows
//! protocols.md §4.2 so every parser we test with agrees: `#EXTM3U` first,
//! every attribute quoted, no raw `"` inside values, a quoted attribute
//! before the comma, `x-tvg-url` and `url-tvg` pointing at our `xmltv.php`.

use crate::access::{self, Ask, Caller, Proven};
use crate::answer::Face;
use crate::body::{chunked, CHUNK};
use crate::params::{path_segment, query_value, Params};
use crate::state::App;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use std::sync::Arc;
use tvgate_core::access::{Line, OutputFormat};
use tvgate_core::catalog::{Catalog, LiveChannel};
use tvgate_core::ids::CategoryId;
use tvgate_formats::m3u::{self, Value};

/// Playlist flavour (`type=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// `#EXTINF:-1,Name` only.
    Plain,
    /// With tvg-id, tvg-name, tvg-logo and group-title.
    Plus,
}

pub async fn get_php(State(app): State<App>, caller: Caller, params: Params) -> Response {
    playlist(&app, &caller, &params).await
}

/// `/playlist/USER/PASS[/TYPE]`.
pub async fn playlist_path(
    State(app): State<App>,
    caller: Caller,
    Path(rest): Path<String>,
    mut params: Params,
) -> Response {
    params.set_from_path(&rest, "type");
    playlist(&app, &caller, &params).await
}

async fn playlist(app: &App, caller: &Caller, params: &Params) -> Response {
    let flavour = match params.str("type") {
        "m3u" | "simple" => Flavour::Plain,
        _ => Flavour::Plus,
    };
    let output = match params.str("output") {
        "" => OutputFormat::Ts,
        other => match OutputFormat::from_name(other) {
            Some(f) => f,
            None => {
                let mut r =
                    Response::new(format!("unknown output {other:?}; use ts or m3u8\n").into());
                *r.status_mut() = StatusCode::BAD_REQUEST;
                return r;
            }
        },
    };
    let ask = Ask {
        face: Face::Playlist,
        output: Some(output),
        item_category: None,
    };
    let checked = access::check(
        app,
        caller,
        params.str("username"),
        params.str("password"),
        ask,
    )
    .await;
    let Proven {
        line,
        username,
        password,
    } = match checked.allowed() {
        Ok(proven) => proven,
        Err(refused) => return refused.answer(app),
    };
    app.metrics
        .playlists
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let base = app.public_url_for(caller).base();
    let creds = format!("{}/{}", path_segment(&username), path_segment(&password));
    let epg_url = format!(
        "{base}/xmltv.php?username={}&password={}",
        query_value(&username),
        query_value(&password)
    );
    let filename = format!(
        "attachment; filename=\"tv_channels_{}_plus.m3u\"",
        username.replace(|c: char| !c.is_ascii_alphanumeric(), "_")
    );
    let urls = UrlPrefixes::new(&base, &creds, output);
    let body =
        chunked(Playlist::new(app.gate.catalog(), &line, flavour, urls, epg_url).into_fill());
    let mut r = Response::new(body);
    // No `; charset=utf-8`: mpv (and players built on it) match the type
    // exactly and, with a parameter, fail with "Failed to recognize file
    // format". Extended M3U is UTF-8 by convention, so nothing is lost.
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("audio/x-mpegurl"),
    );
    if let Ok(v) = HeaderValue::from_str(&filename) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

/// Where the renderer is in the catalog.
#[derive(Clone, Copy)]
enum Cursor {
    Header,
    Live(usize),
    Movie(usize),
    Episode(usize, usize),
    Done,
}

/// The start of every stream URL of one request: `BASE/live/USER/PASS/`
/// and its movie and series siblings, built once instead of per entry.
pub struct UrlPrefixes {
    live: Vec<u8>,
    movie: Vec<u8>,
    series: Vec<u8>,
    /// `BASE/timeshift/USER/PASS/{duration:60}/{utc}/`: the start of an
    /// archive channel's `catchup-source` template.
    timeshift: String,
    /// Extension of live URLs (`ts`, `m3u8`).
    live_ext: &'static str,
}

impl UrlPrefixes {
    /// `creds` is `USER/PASS`, already encoded for a path.
    pub fn new(base: &str, creds: &str, output: OutputFormat) -> UrlPrefixes {
        let prefix = |kind: &str| format!("{base}/{kind}/{creds}/").into_bytes();
        UrlPrefixes {
            live: prefix("live"),
            movie: prefix("movie"),
            series: prefix("series"),
            timeshift: format!("{base}/timeshift/{creds}/{{duration:60}}/{{utc}}/"),
            live_ext: output.as_str(),
        }
    }
}

/// Per category of the snapshot (by [`Catalog::category_index`]): may the
/// line see it, and does its name need cleaning. Worked out once per
/// request: a package is a list of ids, too slow to scan per entry.
#[derive(Clone, Copy)]
struct Group {
    visible: bool,
    plain: bool,
}

/// One request's playlist, rendered chunk by chunk.
pub struct Playlist {
    catalog: Arc<Catalog>,
    line: Arc<Line>,
    plus: bool,
    urls: UrlPrefixes,
    epg_url: String,
    groups: Vec<Group>,
    cursor: Cursor,
}

impl Playlist {
    pub fn new(
        catalog: Arc<Catalog>,
        line: &Arc<Line>,
        flavour: Flavour,
        urls: UrlPrefixes,
        epg_url: String,
    ) -> Playlist {
        let groups = catalog
            .categories
            .iter()
            .map(|c| Group {
                visible: line.may_see(Some(c.id)),
                plain: tvgate_core::catalog::is_plain(&c.name),
            })
            .collect();
        Playlist {
            catalog,
            line: line.clone(),
            plus: flavour == Flavour::Plus,
            urls,
            epg_url,
            groups,
            cursor: Cursor::Header,
        }
    }

    /// The body's fill function (see [`chunked`]).
    pub fn into_fill(mut self) -> impl FnMut(&mut Vec<u8>) -> bool + Send + 'static {
        move |buf| self.fill(buf)
    }

    /// Whether the line sees items of `category`, and the group title to
    /// write for them.
    #[inline]
    fn group(&self, category: Option<CategoryId>) -> (bool, Value<'_>) {
        let Some(id) = category else {
            return (true, EMPTY);
        };
        match self.catalog.category_index(id) {
            Some(i) => {
                let g = self.groups[i];
                let text = &*self.catalog.categories[i].name;
                (
                    g.visible,
                    Value {
                        text,
                        known_clean: g.plain,
                    },
                )
            }
            // Not in the snapshot: no title, and the package decides.
            None => (self.line.may_see(category), EMPTY),
        }
    }

    /// Appends entries until `buf` holds about a chunk; false when done.
    pub fn fill(&mut self, buf: &mut Vec<u8>) -> bool {
        let catalog = Arc::clone(&self.catalog);
        loop {
            if buf.len() >= CHUNK {
                return true;
            }
            self.cursor = match self.cursor {
                Cursor::Header => {
                    m3u::write_header(buf, Some(&self.epg_url));
                    Cursor::Live(0)
                }
                Cursor::Live(mut i) => {
                    while i < catalog.live.len() && buf.len() < CHUNK {
                        self.live_entry(buf, &catalog.live[i]);
                        i += 1;
                    }
                    if i < catalog.live.len() {
                        Cursor::Live(i)
                    } else {
                        Cursor::Movie(0)
                    }
                }
                Cursor::Movie(mut i) => {
                    while i < catalog.movies.len() && buf.len() < CHUNK {
                        let m = &catalog.movies[i];
                        let (visible, group) = self.group(m.category);
                        if visible {
                            let name = Value::new(&m.name);
                            self.extinf(buf, EMPTY, name, Value::new(&m.logo), group, (0, ""));
                            url_line(buf, &self.urls.movie, m.id.0, &m.container);
                        }
                        i += 1;
                    }
                    if i < catalog.movies.len() {
                        Cursor::Movie(i)
                    } else {
                        Cursor::Episode(0, 0)
                    }
                }
                Cursor::Episode(mut s, mut e) => {
                    while s < catalog.series.len() && buf.len() < CHUNK {
                        let series = &catalog.series[s];
                        let (visible, group) = self.group(series.category);
                        if e >= series.episodes.len() || !visible {
                            s += 1;
                            e = 0;
                            continue;
                        }
                        let ep = &series.episodes[e];
                        let title = Value::new(&ep.title);
                        self.extinf(buf, EMPTY, title, Value::new(&series.cover), group, (0, ""));
                        url_line(buf, &self.urls.series, ep.id.0, &ep.container);
                        e += 1;
                    }
                    if s < catalog.series.len() {
                        Cursor::Episode(s, e)
                    } else {
                        Cursor::Done
                    }
                }
                Cursor::Done => return false,
            };
        }
    }

    #[inline(always)]
    fn live_entry(&self, buf: &mut Vec<u8>, c: &LiveChannel) {
        let (visible, group) = self.group(c.category);
        if !visible {
            return;
        }
        let t = &c.text;
        let known = |text, known_clean| Value { text, known_clean };
        // Few channels have an archive: their template is made apart.
        let source = if c.archive_days > 0 {
            format!("{}{}.{}", self.urls.timeshift, c.id.0, self.urls.live_ext)
        } else {
            String::new()
        };
        self.extinf(
            buf,
            known(t.epg_id().unwrap_or(""), t.epg_id_is_plain()),
            known(t.name(), t.name_is_plain()),
            known(t.logo(), t.logo_is_plain()),
            group,
            (c.archive_days, &source),
        );
        url_line(buf, &self.urls.live, c.id.0, self.urls.live_ext);
    }

    /// The `#EXTINF` line of an entry.
    #[inline(always)]
    fn extinf(
        &self,
        buf: &mut Vec<u8>,
        tvg_id: Value<'_>,
        name: Value<'_>,
        logo: Value<'_>,
        group: Value<'_>,
        (archive_days, catchup_source): (u16, &str),
    ) {
        if self.plus {
            m3u::push_extinf_plus(
                buf,
                &m3u::PlusLine {
                    tvg_id,
                    tvg_name: name,
                    tvg_logo: logo,
                    group_title: group,
                    catchup_days: archive_days,
                    catchup_source,
                    title: name,
                },
            );
        } else {
            buf.extend_from_slice(b"#EXTINF:-1");
            m3u::push_title_known(buf, name.text, name.known_clean);
        }
    }
}

const EMPTY: Value<'static> = Value {
    text: "",
    known_clean: true,
};

/// `PREFIX` `ID` `.EXT` and a newline. The prefix is the server's own
/// address and the encoded credentials; the extension comes from the
/// catalog, written as it always was.
#[inline(always)]
fn url_line(buf: &mut Vec<u8>, prefix: &[u8], id: u32, ext: &str) {
    let mut n = itoa::Buffer::new();
    let id = n.format(id).as_bytes();
    buf.reserve(prefix.len() + id.len() + ext.len() + 2);
    buf.extend_from_slice(prefix);
    buf.extend_from_slice(id);
    buf.push(b'.');
    buf.extend_from_slice(ext.as_bytes());
    buf.push(b'\n');
}
