//! A stand-in IPTV provider on an ephemeral loopback port: the third party
//! behind tvgate, which tests make misbehave (die, stall, send a web page).
//!
//! `GET /live/{n}.ts` is an endless MPEG-TS body: the demo clip looped and
//! paced at its own bitrate, like a live channel. Every request is counted.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// How the provider behaves towards new and running requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Mode {
    /// Serves the channel.
    Healthy = 0,
    /// Running streams stop sending (the socket stays open); new ones
    /// get headers and then nothing.
    Stall = 1,
    /// Running streams switch to an HTML error page; new ones get one.
    Html = 2,
}

struct Shared {
    clip: Bytes,
    requests: AtomicU64,
    open: AtomicU64,
    mode: AtomicU8,
    killed: CancellationToken,
    /// Times the clip's own bitrate the channel is paced at.
    speed: f64,
}

pub struct Provider {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
}

/// Bytes per second of the demo clip (540 KB in 6.42 s).
pub fn clip_rate(clip: &[u8]) -> f64 {
    clip.len() as f64 / 6.42
}

impl Provider {
    pub async fn start() -> Provider {
        Provider::start_at(1.0).await
    }

    /// A provider whose channels run at `speed` times the clip's bitrate
    /// (the demo clip is 0.7 Mbit/s; real channels run at 2 to 8).
    pub async fn start_at(speed: f64) -> Provider {
        let clip = tvgate_relay::loop_source::demo_clip();
        let shared = Arc::new(Shared {
            clip,
            requests: AtomicU64::new(0),
            open: AtomicU64::new(0),
            mode: AtomicU8::new(Mode::Healthy as u8),
            killed: CancellationToken::new(),
            speed,
        });
        let app = axum::Router::new()
            .route("/live/{file}", axum::routing::get(live))
            .with_state(shared.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let killed = shared.killed.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(killed.cancelled_owned())
                .await;
        });
        Provider { addr, shared }
    }

    pub fn url(&self, n: u32) -> String {
        format!("http://{}/live/{n}.ts", self.addr)
    }

    /// Requests received so far.
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }

    /// Streams being served now.
    pub fn open(&self) -> u64 {
        self.shared.open.load(Ordering::Relaxed)
    }

    pub fn set_mode(&self, mode: Mode) {
        self.shared.mode.store(mode as u8, Ordering::Relaxed);
    }

    /// Dies: the listener closes and every running stream ends at once.
    pub fn kill(&self) {
        self.shared.killed.cancel();
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Decrements `open` when the body is dropped.
struct OpenGuard(Arc<Shared>);
impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn live(State(shared): State<Arc<Shared>>) -> Response {
    shared.requests.fetch_add(1, Ordering::Relaxed);
    if shared.mode.load(Ordering::Relaxed) == Mode::Html as u8 {
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/html")],
            "<!DOCTYPE html><html><body>Service temporarily unavailable</body></html>",
        )
            .into_response();
    }
    shared.open.fetch_add(1, Ordering::Relaxed);
    let guard = OpenGuard(shared.clone());
    let tick = Duration::from_millis(20);
    let rate = clip_rate(&shared.clip) * shared.speed;
    let per_tick = ((rate * tick.as_secs_f64()) as usize / 188).max(1) * 188;
    let state = (guard, 0usize, tokio::time::interval(tick));
    let body = futures::stream::unfold(state, move |(guard, pos, mut interval)| async move {
        let shared = guard.0.clone();
        loop {
            tokio::select! {
                () = shared.killed.cancelled() => return None,
                _ = interval.tick() => {}
            }
            match shared.mode.load(Ordering::Relaxed) {
                m if m == Mode::Stall as u8 => continue,
                m if m == Mode::Html as u8 => {
                    let page = Bytes::from_static(b"<html><body>502 Bad Gateway</body></html>\n");
                    return Some((Ok::<_, std::io::Error>(page), (guard, pos, interval)));
                }
                _ => {}
            }
            let clip = &shared.clip;
            let end = (pos + per_tick).min(clip.len());
            let piece = clip.slice(pos..end);
            let next = if end == clip.len() { 0 } else { end };
            return Some((Ok(piece), (guard, next, interval)));
        }
    });
    (
        [(header::CONTENT_TYPE, "video/mp2t")],
        axum::body::Body::from_stream(body),
    )
        .into_response()
}
