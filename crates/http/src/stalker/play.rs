//! Channel links: `/stalker/live/{token}/{ID}.ts`. The token is the signed
//! short-lived kind proxied HLS uses (`tvgate_core::access::token`), bound to
//! the line and the channel, with the portal session in its opaque target
//! (tagged, so an HLS token is never a channel link nor the reverse). It is
//! not a credential: the link is decided again when it is opened, so a line
//! stopped after `create_link` is refused here.
//!
//! The stream goes through exactly the path of an Xtream live stream
//! (`crate::deliver`: authorized as a live MPEG-TS request, then a
//! connection slot in the ledger and the relay). When the relay ends it
//! because its lease was ended from outside (newest-wins, the operator),
//! the box's session gets an event for its next watchdog call.

use crate::access::Caller;
use crate::deliver::{self, parse_file, Credentials, Kind, StreamAsk};
use crate::state::App;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use futures::StreamExt;
use tvgate_core::access::token::Claims;
use tvgate_core::access::OutputFormat;
use tvgate_core::ids::{LineId, StreamId};
use tvgate_core::ledger::{LeaseId, LeaseKind};

/// High 16 bits of a channel link's target ("ST"); the low 48 carry the session.
const LINK_TAG: u64 = 0x5354;
const SESSION_BITS: u64 = (1 << 48) - 1;

/// What a box is told when its stream was ended from outside.
const ENDED: &str = "Playback stopped: another device of this line started watching, or the connection was ended by the provider.";

/// A link to `stream` for the portal session `session`.
pub fn link(app: &App, base: &str, line: LineId, stream: StreamId, session: u64) -> String {
    let claims = Claims {
        line,
        stream,
        lease: LeaseId(0),
        expires: app.now() + i64::from(app.settings.stalker.link_ttl_secs.max(1)),
        target: LINK_TAG << 48 | (session & SESSION_BITS),
    };
    let token = app.stalker.key.sign(&claims);
    format!("{base}/stalker/live/{token}/{}.ts", stream.0)
}

/// `GET /stalker/live/{token}/{file}`.
pub async fn live(
    State(app): State<App>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    Path((token, file)): Path<(String, String)>,
) -> Response {
    // One answer for every kind of bad link: nothing to learn from it.
    let bad = || deliver::plain(StatusCode::FORBIDDEN, "invalid or expired link");
    let Ok(claims) = app.stalker.key.verify(&token, app.now()) else {
        return bad();
    };
    let asked = parse_file(&file);
    let matches = matches!(asked, Some((id, ext)) if id == claims.stream.0 && ext.is_none_or(|e| e.eq_ignore_ascii_case("ts")));
    if claims.target >> 48 != LINK_TAG || claims.lease != LeaseId(0) || !matches {
        return bad();
    }
    let Some(line) = app.gate.line(claims.line) else {
        return bad();
    };
    let stream = claims.stream;
    let ask = StreamAsk {
        kind: Kind::Live,
        stream,
        output: Some(OutputFormat::Ts),
        credentials: Credentials::Link(line.clone()),
    };
    let response = match deliver::authorize(&app, &caller, ask).await {
        Ok(grant) => deliver::hand_over(&app, &caller, grant, &method, &headers).await,
        Err(stop) => return stop.answer(&app),
    };
    let relayed = response.status() == StatusCode::OK
        && response
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes() == b"video/mp2t");
    if !relayed {
        return response;
    }
    // The lease the relay just took: this line's newest for this channel
    // from this address.
    let lease = app
        .ledger
        .holders(line.id, app.now())
        .await
        .into_iter()
        .filter(|l| l.stream == stream && l.ip == caller.ip && l.kind == LeaseKind::LiveTs)
        .map(|l| l.id)
        .max_by_key(|id| id.0);
    let Some(lease) = lease else {
        return response;
    };
    let session = claims.target & SESSION_BITS;
    let (parts, body) = response.into_parts();
    let watch = app.clone();
    let line_id = line.id;
    // Runs only when the relay ended the body itself (not when the viewer
    // left): if the lease is gone by then, it was ended from outside.
    let tail = futures::stream::once(async move {
        let held = watch
            .ledger
            .holders(line_id, watch.now())
            .await
            .iter()
            .any(|l| l.id == lease);
        if !held {
            watch
                .stalker
                .sessions
                .notify(session, "send_msg", ENDED.to_string());
        }
        None::<Result<Bytes, axum::Error>>
    })
    .filter_map(futures::future::ready);
    let body = axum::body::Body::from_stream(body.into_data_stream().chain(tail));
    Response::from_parts(parts, body)
}
