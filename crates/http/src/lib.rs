//! tvgate's protocol faces, all on one router and all thin: each handler
//! extracts the request, asks the gate (`tvgate-core`), and renders the wire
//! shape players expect. This crate is the only one that knows HTTP status
//! codes and the players' field names and quirks.
//!
//! The faces sit side by side and import nothing from each other:
//! [`xtream`] (player_api, get.php, xmltv.php, stream URLs), [`stalker`]
//! (the portal MAG boxes speak), [`portal`] (the subscriber's pages) and
//! [`admin`] (the operator's console and API). What more than one of them
//! needs is the floor beneath them:
//! - [`access`]: who calls ([`access::Caller`], its address from
//!   [`client_addr`]) and the shared first step
//!   (authenticate, decide);
//! - [`answer`]: one [`answer::Refused`] per refusal, answered in each
//!   face's shape and logged once; the plain words of a denial;
//! - [`deliver`]: a stream authorized once into a plan and handed over
//!   (relay, proxied HLS, VOD, built-ins, redirect);
//! - [`params`]: request parameters, read one way;
//! - [`frozen`]: the socket watch and the watchdog that end frozen viewers;
//! - [`slots`], [`slate`], [`refusals`], [`localtime`], [`web`], [`body`],
//!   [`mod@metrics`], [`cors`]; [`tls`] (the HTTPS listener and its
//!   reloadable certificate); [`state`] (the [`App`]) and this file (the
//!   router, and [`serve_with_tls`], which puts it on the listeners) wire
//!   the faces together.
//!
//! Deliberately absent: business rules (they live in `tvgate-core`) and
//! storage (the gate holds the store port).

pub mod access;
pub mod admin;
pub mod answer;
pub mod assets;
pub mod body;
pub mod client_addr;
pub mod conn;
pub mod cors;
pub mod deliver;
pub mod frozen;
pub mod localtime;
pub mod metrics;
pub mod params;
pub mod portal;
pub mod present;
pub mod refusals;
pub mod slate;
pub mod slots;
pub mod stalker;
pub mod state;
pub mod stats;
pub mod tls;
pub mod web;
pub mod xtream;

pub use state::{App, BuiltIns, FailedLoginStyle, HttpSettings, PublicUrl, UnlimitedExpiry};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use xtream::{get_php, player_api, streams, xmltv};

/// Every route of the server.
pub fn router(app: App) -> Router {
    // The console's pages, each with the page headers (web::protect_page).
    let console = Router::new()
        .route(
            "/admin",
            get(|| async { axum::response::Redirect::permanent("/admin/") }),
        )
        .route("/admin/", get(admin::session::index))
        .route("/admin/login", axum::routing::post(admin::session::login))
        .route("/admin/logout", axum::routing::post(admin::session::logout))
        .merge(admin::console::routes())
        .merge(admin::console_sources::routes())
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            admin::console::with_path,
        ))
        .layer(axum::middleware::map_response(
            |mut r: axum::response::Response| async move {
                web::protect_page(r.headers_mut());
                r
            },
        ));
    admin::api::mount(Router::new())
        .merge(console)
        .merge(assets::routes())
        .route("/player_api.php", any(player_api::player_api))
        .route("/panel_api.php", any(player_api::panel_api))
        .route("/player_api/{*rest}", any(player_api::player_api_path))
        .route("/get.php", any(get_php::get_php))
        .route("/playlist/{*rest}", any(get_php::playlist_path))
        .route("/xmltv.php", any(xmltv::xmltv_php))
        .route("/epg/{*rest}", any(xmltv::epg_path))
        .route("/live/{u}/{p}/{file}", get(streams::live))
        .route("/movie/{u}/{p}/{file}", get(streams::movie))
        .route("/series/{u}/{p}/{file}", get(streams::series))
        .route(
            "/timeshift/{u}/{p}/{minutes}/{start}/{file}",
            get(streams::timeshift),
        )
        .route("/streaming/timeshift.php", get(streams::timeshift_php))
        .route("/hls/{token}/{file}", get(deliver::hls::hls_file))
        .route("/portal.php", any(stalker::portal))
        .route("/c/portal.php", any(stalker::portal))
        .route("/server/load.php", any(stalker::portal))
        .route("/stalker_portal/server/load.php", any(stalker::portal))
        .route("/stalker_portal/c/portal.php", any(stalker::portal))
        .route("/c/version.js", get(stalker::version_js))
        .route("/stalker_portal/c/version.js", get(stalker::version_js))
        .route("/c/xpcom.common.js", get(stalker::xpcom_js))
        .route("/stalker_portal/c/xpcom.common.js", get(stalker::xpcom_js))
        .route("/stalker/live/{token}/{file}", get(stalker::play::live))
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/{u}/{p}/{file}", get(streams::live))
        .merge(portal::routes())
        .fallback(not_found)
        .layer(cors::CorsLayer)
        .with_state(app)
}

/// How long sent data may stay unacknowledged (a reader that stopped)
/// before the kernel closes the connection (set on every accepted socket by
/// `frozen`; a paused film's socket gets `vod_pause` more).
pub const SEND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Serves `router(app)` on a listener the caller bound, until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    app: App,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    serve_with_tls(listener, None, app, shutdown).await
}

/// Serves `router(app)` on a plain listener and, when given, an HTTPS one
/// beside it, until `shutdown`: one App, so a line's slots, sessions and
/// limits are the same on both. Each request carries the
/// [`access::Arrival`] of its listener, from which the answers that name
/// the server take their scheme and ports.
pub async fn serve_with_tls(
    listener: TcpListener,
    https: Option<tls::HttpsListener>,
    app: App,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let http_port = Some(listener.local_addr()?.port());
    let https = https.map(tls::HttpsListener::start).transpose()?;
    let https_port = match &https {
        Some(h) => Some(axum::serve::Listener::local_addr(h)?.port()),
        None => None,
    };
    let arrival = access::Arrival {
        tls: false,
        http_port,
        https_port,
    };
    // The denial log is pruned before the first request can read it; its
    // writer outlives the last request (graceful shutdown lets them finish)
    // and then writes what is left.
    refusals::prune(&app).await;
    let writer_stop = CancellationToken::new();
    let writer = tokio::spawn(refusals::run(app.clone(), writer_stop.clone()));
    // The node's samples: put back and baselined before the first request.
    stats::start(&app, http_port).await;
    let sampler = tokio::spawn(stats::run(app.clone(), writer_stop.clone()));
    let schedule = tokio::spawn(admin::schedule::run(app.clone(), writer_stop.clone()));
    let watchdog = tokio::spawn(frozen::run(app.clone(), writer_stop.clone()));
    let limits = app.settings.conn_limits.clone();
    let counts = conn::PerAddress::new(
        limits.per_address,
        app.settings.trusted_proxies.networks.clone(),
    );
    let router = router(app);
    // Every connection's socket is watched (`frozen`): a viewer that stops
    // reading (a frozen box, a stopped process) leaves a write waiting, and
    // the watchdog ends its stream after `viewer_stall`. Beneath that, the
    // kernel ends a connection whose sent data has gone unacknowledged for
    // SEND_TIMEOUT (TCP_USER_TIMEOUT, raised for a paused film). Each
    // connection is served under `conn`'s limits.
    let plain = conn::serve(
        frozen::WatchedListener::new(listener),
        router.clone(),
        arrival,
        limits.clone(),
        counts.clone(),
        shutdown.clone(),
    );
    let served = match https {
        None => plain.await,
        Some(https) => {
            let tls = conn::serve(
                frozen::WatchedListener::new(https),
                router,
                access::Arrival {
                    tls: true,
                    ..arrival
                },
                limits,
                counts,
                shutdown.clone(),
            );
            let (plain, tls) = tokio::join!(plain, tls);
            plain.and(tls)
        }
    };
    writer_stop.cancel();
    let _ = writer.await;
    let _ = sampler.await;
    let _ = schedule.await;
    let _ = watchdog.await;
    served
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found\n").into_response()
}

async fn metrics(State(app): State<App>) -> Response {
    let catalog = app.gate.catalog();
    let mut body = app
        .metrics
        .render(app.gate.lines().len(), catalog.entry_count());
    let _ = std::fmt::Write::write_fmt(
        &mut body,
        format_args!(
            "# HELP tvgate_viewers Viewers on this node now: the connection slots it granted that are still open.\n# TYPE tvgate_viewers gauge\ntvgate_viewers {}\n",
            stats::viewers_now(&app).await
        ),
    );
    metrics::render_relay(
        &mut body,
        &app.hub,
        &app.caps,
        app.hls.segment_fetches(),
        app.segmenters.stats(),
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

#[cfg(test)]
mod layering {
    //! The faces stand side by side on the floor: a face names no other
    //! face, and the floor names none (only the wiring, `lib.rs` and
    //! `state.rs`, knows them all).

    const FACES: [&str; 4] = ["xtream", "stalker", "portal", "admin"];

    fn sources(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    #[test]
    fn faces_import_nothing_from_each_other_and_the_floor_nothing_from_them() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        sources(&root, &mut files);
        assert!(files.len() > 20, "found the sources");
        let mut wrong = Vec::new();
        for path in files {
            let rel = path.strip_prefix(&root).unwrap_or(&path);
            let first = rel
                .components()
                .next()
                .map(|c| c.as_os_str().to_string_lossy());
            let owner = first
                .as_deref()
                .map(|f| f.trim_end_matches(".rs"))
                .unwrap_or("");
            if owner == "lib" || owner == "state" {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let code = text
                .lines()
                .enumerate()
                .filter(|(_, l)| !l.trim_start().starts_with("//"));
            for (n, line) in code {
                for face in FACES.iter().filter(|f| **f != owner) {
                    if line.contains(&format!("crate::{face}")) {
                        wrong.push(format!("{}:{}: {}", rel.display(), n + 1, line.trim()));
                    }
                }
            }
        }
        assert!(
            wrong.is_empty(),
            "a face or the floor names another face:\n{}",
            wrong.join("\n")
        );
    }
}
