//! `player_api.php` (and `panel_api.php`, and the `/player_api/U/P[/ACTION]`
//! alias): the login payload and every list action players use.
//!
//! A proven but inactive line (expired, banned, disabled) gets `auth:1`
//! with its real status and a plain-words message, and every action answers
//! the login payload instead of data, as Xtream Codes v2 does.

use super::{lists, wire};
use crate::access::{self, Ask, Caller, Checked, Proven};
use crate::answer::xtream::json;
use crate::answer::Face;
use crate::params::Params;
use crate::state::App;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use tvgate_core::catalog::CategoryKind;

/// Which endpoint is answering (panel_api adds categories and channels).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    PlayerApi,
    PanelApi,
}

pub async fn player_api(State(app): State<App>, caller: Caller, params: Params) -> Response {
    answer(&app, &caller, params, Endpoint::PlayerApi).await
}

pub async fn panel_api(State(app): State<App>, caller: Caller, params: Params) -> Response {
    answer(&app, &caller, params, Endpoint::PanelApi).await
}

/// `/player_api/USER/PASS` and `/player_api/USER/PASS/ACTION` (XUI's rewrites).
pub async fn player_api_path(
    State(app): State<App>,
    caller: Caller,
    Path(rest): Path<String>,
    mut params: Params,
) -> Response {
    params.set_from_path(&rest, "action");
    answer(&app, &caller, params, Endpoint::PlayerApi).await
}

/// Maps numeric action aliases (200–209) to names.
fn action_name(action: &str) -> &str {
    match action {
        "200" => "get_vod_categories",
        "201" => "get_live_categories",
        "202" => "get_live_streams",
        "203" => "get_vod_streams",
        "204" => "get_series_info",
        "205" => "get_short_epg",
        "206" => "get_series_categories",
        "207" => "get_simple_data_table",
        "208" => "get_series",
        "209" => "get_vod_info",
        "get_simple_date_table" => "get_simple_data_table",
        other => other,
    }
}

async fn answer(app: &App, caller: &Caller, params: Params, endpoint: Endpoint) -> Response {
    // A login POSTed as a form may carry its device id in the body.
    let with_device = caller.with_form_device(&params);
    let caller = with_device.as_ref().unwrap_or(caller);
    let username = params.str("username");
    let password = params.str("password");
    let checked = access::check(app, caller, username, password, Ask::face(Face::XtreamApi)).await;
    // A proven line that may not be served is told why in the login payload.
    let (proven, denial) = match checked {
        Checked::Allowed(proven) => (proven, None),
        Checked::Refused {
            proven: Some(proven),
            refused,
        } => (proven, Some(refused.record(app))),
        Checked::Refused {
            proven: None,
            refused,
        } => return refused.answer(app),
    };
    let Proven {
        line,
        username,
        password,
    } = &proven;
    let now = app.now();
    let public = app.public_url_for(caller);
    let ctx = wire::LoginContext {
        app,
        public: &public,
        arrival: caller.arrival,
        username,
        password,
        active_cons: app.ledger.active(line.id, now).await,
        now,
    };
    let denial = denial.as_ref();
    let action = action_name(params.str("action"));
    if denial.is_some() || action.is_empty() {
        if denial.is_none() {
            app.metrics
                .logins_ok
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            app.stats.login(line.id, now, caller, "player_api");
        }
        if endpoint == Endpoint::PanelApi && denial.is_none() {
            return json(StatusCode::OK, lists::panel(app, &ctx, line));
        }
        return json(StatusCode::OK, wire::login(&ctx, line, denial));
    }
    let catalog = app.gate.catalog();
    let category = params.number::<u32>("category_id").filter(|c| *c != 0);
    match action {
        "get_live_categories" => json(
            StatusCode::OK,
            wire::categories(&catalog, CategoryKind::Live, line),
        ),
        "get_vod_categories" => json(
            StatusCode::OK,
            wire::categories(&catalog, CategoryKind::Movie, line),
        ),
        "get_series_categories" => json(
            StatusCode::OK,
            wire::categories(&catalog, CategoryKind::Series, line),
        ),
        "get_live_streams" => json(
            StatusCode::OK,
            lists::live_streams(catalog, line.clone(), category),
        ),
        "get_vod_streams" => json(
            StatusCode::OK,
            lists::vod_streams(catalog, line.clone(), category),
        ),
        "get_series" => json(
            StatusCode::OK,
            lists::series(catalog, line.clone(), category),
        ),
        "get_vod_info" => json(
            StatusCode::OK,
            lists::vod_info(&catalog, line, params.number("vod_id")),
        ),
        "get_series_info" => json(
            StatusCode::OK,
            lists::series_info(&catalog, line, params.number("series_id")),
        ),
        "get_short_epg" => {
            let limit = params
                .number::<usize>("limit")
                .filter(|l| *l > 0)
                .unwrap_or(4);
            json(
                StatusCode::OK,
                lists::epg(
                    app,
                    &catalog,
                    line,
                    params.number("stream_id"),
                    Some(limit),
                    now,
                ),
            )
        }
        "get_simple_data_table" | "get_epg" => json(
            StatusCode::OK,
            lists::epg(app, &catalog, line, params.number("stream_id"), None, now),
        ),
        // Unknown actions (get_profile, get_server_info, get_account_info, ...)
        // answer the login payload: @iptv/xtream-api and IPTVnator rely on it.
        _ => {
            app.metrics
                .logins_ok
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            app.stats.login(line.id, now, caller, "player_api");
            json(StatusCode::OK, wire::login(&ctx, line, None))
        }
    }
}
