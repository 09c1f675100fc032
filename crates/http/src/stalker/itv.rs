//! `type=itv`: live TV. Genres are the line's live categories behind the
//! stock `*` ("All"); channels are the live channels the line's package
//! shows, numbered in catalog order. A channel's `cmd` is a portal-internal
//! pseudo URL (`ffrt http://localhost/ch/ID_`) with `use_http_tmp_link`, so
//! every client asks `create_link` before playing, and only `create_link`
//! hands out a real URL: a short-lived signed link (`super::play`).

use super::{allowed_link, Call};
use crate::answer::stalker::js;
use crate::localtime::{formatted, local_time};
use crate::state::App;
use axum::response::Response;
use serde_json::{json, Value};
use tvgate_core::catalog::{Catalog, LiveChannel, Programme, StreamRef};
use tvgate_core::ids::StreamId;

/// Most programmes per channel in `get_short_epg`, and hours in `get_epg_info`.
const MAX_SHORT_EPG: usize = 100;
const MAX_EPG_HOURS: i64 = 7 * 24;

pub fn answer(call: &Call<'_>, action: &str) -> Response {
    match action {
        "get_genres" => js(genres(call)),
        "get_all_channels" => {
            let catalog = call.app.gate.catalog();
            let shown = visible(&catalog, call);
            let data: Vec<Value> = shown.iter().map(|(n, c)| channel(c, *n)).collect();
            let total = data.len();
            js(
                json!({"total_items": total, "max_page_items": total.max(1), "selected_item": 0,
                      "cur_page": 0, "data": data}),
            )
        }
        "get_ordered_list" => js(ordered_list(call)),
        "create_link" => create_link(call),
        "get_short_epg" => js(short_epg(call)),
        "get_epg_info" => js(epg_info(call)),
        "get_fav_ids" => js(json!([])),
        "get_all_fav_channels" => js(super::empty_page()),
        _ => super::other("itv", action),
    }
}

/// The line's live channels with their numbers (1-based, catalog order).
fn visible<'c>(catalog: &'c Catalog, call: &Call<'_>) -> Vec<(usize, &'c LiveChannel)> {
    catalog
        .live
        .iter()
        .filter(|c| call.line.may_see(c.category))
        .enumerate()
        .map(|(i, c)| (i + 1, c))
        .collect()
}

fn genres(call: &Call<'_>) -> Value {
    let catalog = call.app.gate.catalog();
    let mut out = vec![json!({"id": "*", "title": "All", "alias": "*", "censored": 0})];
    let used: std::collections::HashSet<u32> = catalog
        .live
        .iter()
        .filter(|c| call.line.may_see(c.category))
        .filter_map(|c| c.category.map(|id| id.0))
        .collect();
    let live = catalog
        .categories
        .iter()
        .filter(|c| c.kind == tvgate_core::catalog::CategoryKind::Live && used.contains(&c.id.0));
    for (n, c) in live.enumerate() {
        out.push(
            json!({"id": c.id.0.to_string(), "title": &*c.name, "alias": c.name.to_lowercase(),
                        "censored": 0, "number": n + 1}),
        );
    }
    Value::Array(out)
}

/// A channel as Kodi, iptvpy and stb-reader read it: `number` is a string
/// (Kodi's jsoncpp throws on a number there).
fn channel(c: &LiveChannel, number: usize) -> Value {
    let id = c.id.0;
    let cmd = format!("ffrt http://localhost/ch/{id}_");
    json!({
        "id": id.to_string(),
        "name": c.name(),
        "number": number.to_string(),
        "cmd": cmd,
        "cmds": [{"id": id.to_string(), "ch_id": id.to_string(), "priority": 0, "url": cmd,
                  "status": 1, "use_http_tmp_link": "1", "use_load_balancing": 0}],
        "logo": c.logo(),
        "tv_genre_id": c.category.map(|g| g.0.to_string()).unwrap_or_default(),
        "use_http_tmp_link": "1",
        "use_load_balancing": 0,
        "xmltv_id": c.epg_id().unwrap_or(""),
        "censored": u8::from(c.is_adult),
        "archive": 0,
        "tv_archive_duration": 0,
        "status": 1,
        "fav": 0,
        "lock": 0,
        "hd": 0,
        "epg": [],
    })
}

/// `get_ordered_list&genre=*|ID&p=N&sortby=number|name`: one page.
fn ordered_list(call: &Call<'_>) -> Value {
    let catalog = call.app.gate.catalog();
    let genre = call.params.str("genre");
    let genre: Option<u32> = match genre {
        "" | "*" | "0" => None,
        g => Some(g.parse().unwrap_or(u32::MAX)),
    };
    let mut shown: Vec<(usize, &LiveChannel)> = visible(&catalog, call)
        .into_iter()
        .filter(|(_, c)| genre.is_none_or(|g| c.category.map(|id| id.0) == Some(g)))
        .collect();
    if call.params.str("sortby") == "name" {
        shown.sort_by_key(|(_, c)| c.name().to_lowercase());
    }
    let per_page = call.app.settings.stalker.page_size.max(1) as usize;
    let page = call.params.number::<usize>("p").unwrap_or(1).max(1);
    let data: Vec<Value> = shown
        .iter()
        .skip((page - 1).saturating_mul(per_page))
        .take(per_page)
        .map(|(n, c)| channel(c, *n))
        .collect();
    json!({"total_items": shown.len(), "max_page_items": per_page, "selected_item": 0,
           "cur_page": page, "data": data})
}

/// The channel a `cmd` names: our pseudo URL (`.../ch/ID_`), a bare id, or
/// a link this portal made earlier (`.../ID.ts`).
pub fn channel_of_cmd(cmd: &str) -> Option<u32> {
    let cmd = cmd.trim();
    let digits = |s: &str| -> Option<u32> {
        let d: String = s.chars().take_while(|c| c.is_ascii_digit()).collect();
        d.parse().ok()
    };
    if let Some((_, rest)) = cmd.rsplit_once("/ch/") {
        return digits(rest);
    }
    if let Ok(id) = cmd.parse() {
        return Some(id);
    }
    let last = cmd.rsplit('/').next()?;
    last.strip_suffix(".ts").and_then(digits)
}

fn create_link(call: &Call<'_>) -> Response {
    let app = call.app;
    let catalog = app.gate.catalog();
    let id = channel_of_cmd(call.params.str("cmd"));
    let found = id.and_then(|id| match catalog.stream(StreamId(id)) {
        Some(r @ StreamRef::Live(_)) => Some((id, r)),
        _ => None,
    });
    let Some((id, r)) = found else {
        return js(json!({"id": id.unwrap_or(0), "cmd": "", "error": "nothing_to_play"}));
    };
    if let Err(refused) = allowed_link(call, id, catalog.stream_category(r)) {
        return refused.answer(app);
    }
    let base = app.public_url_for(call.caller).base();
    let link = super::play::link(app, &base, call.line.id, StreamId(id), call.session.number);
    js(
        json!({"id": id, "cmd": format!("ffmpeg {link}"), "streamer_id": 0, "link_id": 0,
           "load": 0, "error": ""}),
    )
}

fn programme(app: &App, ch: u32, p: &Programme) -> Value {
    json!({
        "id": format!("{ch}{}", p.start),
        "ch_id": ch.to_string(),
        "time": local_time(app, p.start),
        "time_to": local_time(app, p.stop),
        "duration": p.stop - p.start,
        "name": &*p.title,
        "descr": &*p.desc,
        "real_id": format!("{ch}_{}", p.start),
        "category": "", "director": "", "actor": "",
        "start_timestamp": p.start,
        "stop_timestamp": p.stop,
        "t_time": formatted(app, p.start, "%H:%M"),
        "t_time_to": formatted(app, p.stop, "%H:%M"),
        "mark_memo": 0, "mark_archive": 0,
    })
}

/// The guide id of a channel the line may see.
fn guide_of<'c>(catalog: &'c Catalog, call: &Call<'_>, ch: u32) -> Option<&'c str> {
    match catalog.stream(StreamId(ch))? {
        StreamRef::Live(i) => {
            let c = catalog.live.get(i)?;
            call.line.may_see(c.category).then_some(())?;
            c.epg_id()
        }
        _ => None,
    }
}

/// `get_short_epg&ch_id=ID&size=N`: now and next.
fn short_epg(call: &Call<'_>) -> Value {
    let catalog = call.app.gate.catalog();
    let Some(ch) = call.params.number::<u32>("ch_id") else {
        return json!([]);
    };
    let Some(epg_id) = guide_of(&catalog, call, ch) else {
        return json!([]);
    };
    let size = call
        .params
        .number::<usize>("size")
        .filter(|s| *s > 0)
        .unwrap_or(10)
        .min(MAX_SHORT_EPG);
    let now = call.app.now();
    Value::Array(
        catalog
            .upcoming(epg_id, now, size)
            .iter()
            .map(|p| programme(call.app, ch, p))
            .collect(),
    )
}

/// `get_epg_info&period=HOURS`: every channel's programmes from now on.
fn epg_info(call: &Call<'_>) -> Value {
    let catalog = call.app.gate.catalog();
    let hours = call
        .params
        .number::<i64>("period")
        .filter(|h| *h > 0)
        .unwrap_or(3)
        .min(MAX_EPG_HOURS);
    let now = call.app.now();
    let until = now + hours * 3600;
    let mut data = serde_json::Map::new();
    for (_, c) in visible(&catalog, call) {
        let Some(epg_id) = c.epg_id() else { continue };
        let ch = c.id.0;
        let all = catalog.programmes(epg_id);
        let first = all.partition_point(|p| p.stop <= now);
        let items: Vec<Value> = all[first..]
            .iter()
            .take_while(|p| p.start < until)
            .map(|p| programme(call.app, ch, p))
            .collect();
        if !items.is_empty() {
            data.insert(ch.to_string(), Value::Array(items));
        }
    }
    json!({"data": data})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_name_their_channel() {
        assert_eq!(channel_of_cmd("ffrt http://localhost/ch/123_"), Some(123));
        assert_eq!(channel_of_cmd("http://localhost/ch/7"), Some(7));
        assert_eq!(channel_of_cmd("42"), Some(42));
        assert_eq!(
            channel_of_cmd("ffmpeg http://h:1/stalker/live/TOK/9.ts"),
            Some(9)
        );
        assert_eq!(channel_of_cmd("auto /media/1.mpg"), None);
        assert_eq!(channel_of_cmd(""), None);
    }
}
