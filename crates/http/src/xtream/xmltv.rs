//! `xmltv.php` (and `/epg/USER/PASS[/gz]`): the guide for the channels the
//! line can see. Channels first, then programmes, streamed per channel.

use crate::access::{self, Ask, Caller};
use crate::answer::Face;
use crate::body::{chunked, CHUNK};
use crate::params::Params;
use crate::state::App;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::Response;
use std::collections::HashSet;
use tvgate_formats::xmltv as fmt;

pub async fn xmltv_php(State(app): State<App>, caller: Caller, params: Params) -> Response {
    guide(&app, &caller, &params).await
}

/// `/epg/USER/PASS` and `/epg/USER/PASS/gz`.
pub async fn epg_path(
    State(app): State<App>,
    caller: Caller,
    Path(rest): Path<String>,
    mut params: Params,
) -> Response {
    params.set_from_path(&rest, "format");
    guide(&app, &caller, &params).await
}

async fn guide(app: &App, caller: &Caller, params: &Params) -> Response {
    let checked = access::check(
        app,
        caller,
        params.str("username"),
        params.str("password"),
        Ask::face(Face::Guide),
    )
    .await;
    let line = match checked.allowed() {
        Ok(proven) => proven.line,
        Err(refused) => return refused.answer(app),
    };
    let catalog = app.gate.catalog();
    // Guide channels the line can see, in playlist order, each once.
    let mut seen = HashSet::new();
    let mut channels: Vec<usize> = Vec::new();
    for (i, c) in catalog.live.iter().enumerate() {
        if let Some(id) = c.epg_id() {
            if line.may_see(c.category) && seen.insert(id) {
                channels.push(i);
            }
        }
    }
    drop(seen);
    let mut phase = 0usize; // 0 header, 1 channels, 2 programmes, 3 done
    let mut next = 0usize;
    let render = move |buf: &mut Vec<u8>| loop {
        if buf.len() >= CHUNK {
            return true;
        }
        match phase {
            0 => {
                fmt::push_prologue(buf);
                phase = 1;
            }
            1 if next < channels.len() => {
                let c = &catalog.live[channels[next]];
                let id = c.epg_id().unwrap_or("");
                let guide = catalog.guide_channel(id);
                let name = guide
                    .map(|g| &*g.name)
                    .filter(|n| !n.is_empty())
                    .unwrap_or(c.name());
                let icon = guide
                    .map(|g| &*g.icon)
                    .filter(|i| !i.is_empty())
                    .unwrap_or(c.logo());
                let channel = fmt::Channel {
                    id: id.to_string(),
                    display_names: vec![name.to_string()],
                    icon: (!icon.is_empty()).then(|| icon.to_string()),
                };
                fmt::push_channel(buf, &channel);
                next += 1;
            }
            1 => {
                phase = 2;
                next = 0;
            }
            2 if next < channels.len() => {
                let id = catalog.live[channels[next]].epg_id().unwrap_or("");
                for p in catalog.programmes(id) {
                    let programme = fmt::ProgrammeRef {
                        channel: id,
                        start: p.start,
                        stop: Some(p.stop),
                        title: &p.title,
                        desc: (!p.desc.is_empty()).then_some(&*p.desc),
                        lang: (!p.lang.is_empty()).then_some(&*p.lang),
                    };
                    fmt::push_programme_ref(buf, &programme, 0);
                }
                next += 1;
            }
            2 => {
                fmt::push_epilogue(buf);
                phase = 3;
            }
            _ => return false,
        }
    };
    // XC_VM serves `gzip=1` and `/epg/U/P/gz` compressed, as epg.xml.gz.
    let gzip = params.get("gzip") == Some("1") || params.get("format") == Some("gz");
    let (body, filename) = if gzip {
        (gzipped(render), "attachment; filename=\"epg.xml.gz\"")
    } else {
        (chunked(render), "attachment; filename=\"epg.xml\"")
    };
    let mut r = Response::new(body);
    let content_type = if gzip {
        "application/gzip"
    } else {
        "application/xml; charset=utf-8"
    };
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r.headers_mut().insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static(filename),
    );
    r
}

/// The same chunks, gzip-compressed as they are produced (level 1: the
/// guide is large and repetitive, speed matters more than the last bytes).
fn gzipped<F>(mut render: F) -> axum::body::Body
where
    F: FnMut(&mut Vec<u8>) -> bool + Send + 'static,
{
    use flate2::write::GzEncoder;
    use std::io::Write;
    let mut encoder = Some(GzEncoder::new(Vec::new(), flate2::Compression::fast()));
    let mut plain = Vec::with_capacity(CHUNK + 4096);
    chunked(move |out| {
        let Some(enc) = encoder.as_mut() else {
            return false;
        };
        plain.clear();
        let more = render(&mut plain);
        if enc.write_all(&plain).is_err() {
            return false;
        }
        if more {
            out.append(enc.get_mut());
            return true;
        }
        if let Some(enc) = encoder.take() {
            if let Ok(rest) = enc.finish() {
                out.extend_from_slice(&rest);
            }
        }
        false
    })
}
