//! Live channels relayed through the hub (channels over HTTP, HLS channels
//! asked for as MPEG-TS, built-in loops): the viewer takes a connection slot
//! first, then joins the channel's one upstream connection (opened now if
//! nobody watches it, within the source's cap).
//!
//! The order matters: a viewer refused for its own limit never touches the
//! source, and a channel already relayed is shared without asking the
//! source's cap, so `source_at_capacity` only refuses a channel nobody of
//! this server watches yet.
//!
//! A refusal here is a live stream's: the slate where it is wanted
//! (`crate::answer::Face::LiveTs`).

use crate::access::Caller;
use crate::answer::{Face, Refused};
use crate::slots;
use crate::state::App;
use axum::http::{header, HeaderValue};
use axum::response::Response;
use futures::StreamExt;
use tvgate_core::access::{Denial, Line};
use tvgate_core::ids::{SourceId, StreamId};
use tvgate_core::ledger::LeaseKind;
use tvgate_relay::Viewer;

/// What the relay reads for a channel.
#[derive(Clone)]
pub enum Upstream {
    /// An MPEG-TS stream over HTTP: its URLs in order (its own, then its
    /// backups), and its source's id and connection cap (0: none).
    Ts {
        urls: Vec<String>,
        source: SourceId,
        cap: u32,
    },
    /// A live HLS playlist, turned into one continuous TS stream.
    Hls {
        url: String,
        source: SourceId,
        cap: u32,
    },
    /// A built-in channel (`loop:NAME`): no provider connection to count.
    Builtin(std::sync::Arc<dyn crate::state::LiveSource>),
}

/// The hub's key of a channel: its stream id, which is also the channel's
/// label in /metrics (never the URL). The HLS segmenter of a channel goes
/// by the same key.
pub fn channel_key(stream: StreamId) -> String {
    stream.0.to_string()
}

/// Joins the channel's one upstream in the hub, opening it if nobody
/// watches it yet (then within the source's cap). Quick: it never waits on
/// the upstream.
pub fn join(app: &App, stream: StreamId, upstream: Upstream) -> Result<Viewer, Denial> {
    // Only a channel nobody watches yet needs a provider connection, so
    // only `open` asks for the source's permit.
    let permit = |source: SourceId, cap: u32| {
        app.caps
            .try_acquire(source.0 as u64, cap)
            .ok_or(Denial::SourceAtCapacity)
    };
    app.hub.try_subscribe(&channel_key(stream), || {
        Ok(match upstream {
            Upstream::Builtin(source) => source.open(),
            // The source's identity rides in its client (default headers),
            // so probes and redirect hops carry it too.
            Upstream::Ts { urls, source, cap } => tvgate_relay::HttpTs {
                client: app.client_for_source(source),
                urls,
                headers: Default::default(),
                cfg: app.settings.upstream,
                stats: app.hub.stats(),
                permit: Some(permit(source, cap)?),
                cap: Some(tvgate_relay::ProbeCap {
                    caps: app.caps.clone(),
                    source: source.0 as u64,
                    cap,
                }),
            }
            .open(),
            Upstream::Hls { url, source, cap } => {
                let held = permit(source, cap)?;
                let segments = tvgate_relay::hls_source::hls_to_ts(
                    app.client_for_source(source),
                    url,
                    super::hls::ts_config(app),
                );
                // The permit lives as long as the poller.
                segments
                    .map(move |b| {
                        let _held = &held;
                        b
                    })
                    .boxed()
            }
        })
    })
}

/// Serves `stream` as a continuous MPEG-TS body to one viewer.
pub async fn serve(
    app: &App,
    caller: &Caller,
    line: &Line,
    stream: StreamId,
    username: &str,
    upstream: Upstream,
) -> Response {
    let refuse = |denial: Denial| Refused::new(Face::LiveTs, denial, caller, username).answer(app);
    let guard = match slots::admit(app, caller, line, stream, LeaseKind::LiveTs).await {
        Ok(g) => g,
        Err(denial) => return refuse(denial),
    };
    let joined = join(app, stream, upstream);
    let viewer = match joined {
        Ok(v) => v,
        Err(denial) => {
            drop(guard);
            return refuse(denial);
        }
    };
    let body = slots::leased(app, guard, viewer.boxed()).map(Ok::<_, std::convert::Infallible>);
    let mut r = Response::new(axum::body::Body::from_stream(body));
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("video/mp2t"));
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}
