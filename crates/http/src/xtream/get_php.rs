//! `get.php` (and `/playlist/U/P[/TYPE]`): the line's M3U playlist.
//!
//! Entries are rendered straight into 64 KiB chunks with the line's
//! credentials spliced into each URL; nothing is built whole. Emission follows
//! protocols.md §4.2 so every parser we test with agrees: `#EXTM3U` first,
//! every attribute quoted, no raw `"` inside values, a quoted attribute
//! before the comma, `x-tvg-url` and `url-tvg` pointing at our `xmltv.php`.

use crate::access::{self, Ask, Caller};
use crate::body::{chunked, CHUNK};
use crate::params::Params;
use crate::state::App;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use std::sync::Arc;
use tvgate_core::access::{Account, Denial, Face, OutputFormat};
use tvgate_core::catalog::Catalog;
use tvgate_core::gate::Authn;
use tvgate_formats::m3u;

/// Playlist flavour (`type=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavour {
    /// `#EXTINF:-1,Name` only.
    Plain,
    /// With tvg-id, tvg-name, tvg-logo and group-title.
    Plus,
}

pub async fn get_php(
    State(app): State<App>,
    caller: Caller,
    headers: HeaderMap,
    params: Params,
) -> Response {
    playlist(&app, &caller, &headers, &params).await
}

/// `/playlist/USER/PASS[/TYPE]`.
pub async fn playlist_path(
    State(app): State<App>,
    caller: Caller,
    headers: HeaderMap,
    Path(rest): Path<String>,
    mut params: Params,
) -> Response {
    params.set_from_path(&rest, "type");
    playlist(&app, &caller, &headers, &params).await
}

/// A plain-text refusal for faces that are not JSON (playlists, guides,
/// streams). Unknown user and wrong password share one answer.
pub fn text_denial(app: &App, denial: &Denial) -> Response {
    let (status, body) = match denial {
        Denial::InvalidCredentials => (
            StatusCode::UNAUTHORIZED,
            "invalid_credentials: Invalid username or password\n".to_string(),
        ),
        Denial::RateLimited { .. } => (
            StatusCode::TOO_MANY_REQUESTS,
            format!("{}: {}\n", denial.code(), denial.message(|t| t.to_string())),
        ),
        other => (
            StatusCode::FORBIDDEN,
            format!(
                "{}: {}\n",
                other.code(),
                other.message(|t| super::wire::local_date(app, t))
            ),
        ),
    };
    let mut r = Response::new(body.into());
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r.headers_mut()
        .insert("x-tvgate-reason", HeaderValue::from_static(denial.code()));
    if let Denial::RateLimited { retry_after_secs } = denial {
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
    }
    r
}

/// Percent-encodes a credential for a URL path segment. Credentials cannot
/// hold URL-breaking ASCII (credentials.rs), so only non-ASCII is encoded.
pub fn path_segment(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::CONTROLS).to_string()
}

/// Percent-encodes a query value.
pub fn query_value(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

async fn playlist(app: &App, caller: &Caller, headers: &HeaderMap, params: &Params) -> Response {
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
    if let Some(denial) = checked.denial() {
        return text_denial(app, denial);
    }
    let Authn::Proven {
        account,
        username,
        password,
    } = checked.authn
    else {
        return text_denial(app, &Denial::InvalidCredentials);
    };
    app.metrics
        .playlists
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let base = app.public_url(headers).base();
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
    let body = render(
        app.gate.catalog(),
        account,
        flavour,
        output,
        base,
        creds,
        epg_url,
    );
    let mut r = Response::new(body);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("audio/x-mpegurl; charset=utf-8"),
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

fn render(
    catalog: Arc<Catalog>,
    account: Arc<Account>,
    flavour: Flavour,
    output: OutputFormat,
    base: String,
    creds: String,
    epg_url: String,
) -> axum::body::Body {
    let mut cursor = Cursor::Header;
    let live_ext = output.as_str();
    chunked(move |buf| {
        while buf.len() < CHUNK {
            cursor = match cursor {
                Cursor::Header => {
                    m3u::write_header(buf, Some(&epg_url));
                    Cursor::Live(0)
                }
                Cursor::Live(i) if i < catalog.live.len() => {
                    let c = &catalog.live[i];
                    if account.may_see(c.category) {
                        let group = c
                            .category
                            .and_then(|id| catalog.category(id))
                            .map(|c| &*c.name)
                            .unwrap_or("");
                        extinf(
                            buf,
                            flavour,
                            c.epg_id.as_deref().unwrap_or(""),
                            &c.name,
                            &c.logo,
                            group,
                            c.archive_days,
                        );
                        push_url(buf, &base, "live", &creds, c.id.0, live_ext);
                    }
                    Cursor::Live(i + 1)
                }
                Cursor::Live(_) => Cursor::Movie(0),
                Cursor::Movie(i) if i < catalog.movies.len() => {
                    let m = &catalog.movies[i];
                    if account.may_see(m.category) {
                        let group = m
                            .category
                            .and_then(|id| catalog.category(id))
                            .map(|c| &*c.name)
                            .unwrap_or("");
                        extinf(buf, flavour, "", &m.name, &m.logo, group, 0);
                        push_url(buf, &base, "movie", &creds, m.id.0, &m.container);
                    }
                    Cursor::Movie(i + 1)
                }
                Cursor::Movie(_) => Cursor::Episode(0, 0),
                Cursor::Episode(s, e) if s < catalog.series.len() => {
                    let series = &catalog.series[s];
                    if e >= series.episodes.len() || !account.may_see(series.category) {
                        Cursor::Episode(s + 1, 0)
                    } else {
                        let ep = &series.episodes[e];
                        let group = series
                            .category
                            .and_then(|id| catalog.category(id))
                            .map(|c| &*c.name)
                            .unwrap_or("");
                        extinf(buf, flavour, "", &ep.title, &series.cover, group, 0);
                        push_url(buf, &base, "series", &creds, ep.id.0, &ep.container);
                        Cursor::Episode(s, e + 1)
                    }
                }
                Cursor::Episode(..) | Cursor::Done => Cursor::Done,
            };
            if matches!(cursor, Cursor::Done) {
                return false;
            }
        }
        true
    })
}

fn extinf(
    buf: &mut Vec<u8>,
    flavour: Flavour,
    tvg_id: &str,
    name: &str,
    logo: &str,
    group: &str,
    archive_days: u16,
) {
    buf.extend_from_slice(b"#EXTINF:-1");
    if flavour == Flavour::Plus {
        m3u::push_attr(buf, "tvg-id", tvg_id);
        m3u::push_attr(buf, "tvg-name", name);
        m3u::push_attr(buf, "tvg-logo", logo);
        m3u::push_attr(buf, "group-title", group);
        if archive_days > 0 {
            // Kodi derives the archive URL itself (catchup="xc"); others read
            // the depth from catchup-days.
            m3u::push_attr(buf, "catchup", "xc");
            m3u::push_attr(
                buf,
                "catchup-days",
                itoa::Buffer::new().format(archive_days),
            );
        }
    }
    m3u::push_title(buf, name);
}

fn push_url(buf: &mut Vec<u8>, base: &str, kind: &str, creds: &str, id: u32, ext: &str) {
    buf.extend_from_slice(base.as_bytes());
    buf.push(b'/');
    buf.extend_from_slice(kind.as_bytes());
    buf.push(b'/');
    buf.extend_from_slice(creds.as_bytes());
    buf.push(b'/');
    buf.extend_from_slice(itoa::Buffer::new().format(id).as_bytes());
    buf.push(b'.');
    buf.extend_from_slice(ext.as_bytes());
    buf.push(b'\n');
}
