//! `xmltv.php` (and `/epg/USER/PASS[/gz]`): the guide for the channels the
//! line can see. Channels first, then programmes, streamed per channel.

use super::get_php::text_denial;
use crate::access::{self, Ask, Caller};
use crate::body::{chunked, CHUNK};
use crate::params::Params;
use crate::state::App;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::Response;
use std::collections::HashSet;
use tvgate_core::access::Face;
use tvgate_core::gate::Authn;
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
    let mut parts = rest.split('/').map(str::to_string);
    if let Some(u) = parts.next() {
        params.set("username", u);
    }
    if let Some(p) = parts.next() {
        params.set("password", p);
    }
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
    if let Some(denial) = checked.denial() {
        return text_denial(app, denial);
    }
    let Authn::Proven { account, .. } = checked.authn else {
        return text_denial(app, &tvgate_core::access::Denial::InvalidCredentials);
    };
    let catalog = app.gate.catalog();
    // Guide channels the line can see, in playlist order, each once.
    let mut seen = HashSet::new();
    let mut channels: Vec<usize> = Vec::new();
    for (i, c) in catalog.live.iter().enumerate() {
        if let Some(id) = c.epg_id.as_deref() {
            if account.may_see(c.category) && seen.insert(id) {
                channels.push(i);
            }
        }
    }
    drop(seen);
    let mut phase = 0usize; // 0 header, 1 channels, 2 programmes, 3 done
    let mut next = 0usize;
    let body = chunked(move |buf| loop {
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
                let id = c.epg_id.as_deref().unwrap_or("");
                let guide = catalog.guide_channel(id);
                let name = guide
                    .map(|g| &*g.name)
                    .filter(|n| !n.is_empty())
                    .unwrap_or(&c.name);
                let icon = guide
                    .map(|g| &*g.icon)
                    .filter(|i| !i.is_empty())
                    .unwrap_or(&c.logo);
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
                let id = catalog.live[channels[next]].epg_id.as_deref().unwrap_or("");
                for p in catalog.programmes(id) {
                    let programme = fmt::Programme {
                        line: 0,
                        channel: id.to_string(),
                        start: p.start,
                        stop: Some(p.stop),
                        title: p.title.to_string(),
                        desc: (!p.desc.is_empty()).then(|| p.desc.to_string()),
                        lang: (!p.lang.is_empty()).then(|| p.lang.to_string()),
                    };
                    fmt::push_programme(buf, &programme, 0);
                }
                next += 1;
            }
            2 => {
                fmt::push_epilogue(buf);
                phase = 3;
            }
            _ => return false,
        }
    });
    let mut r = Response::new(body);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml; charset=utf-8"),
    );
    r.headers_mut().insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"epg.xml\""),
    );
    r
}
