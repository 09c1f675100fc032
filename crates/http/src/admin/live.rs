//! What the relay is doing now, as the operator reads it: open upstream
//! connections per source and viewers per relayed channel, named. The
//! console's live page and `GET /api/v1/relay` both read [`snapshot`], so
//! the two faces show the same figures under the same names.

use crate::state::App;
use tvgate_core::ids::StreamId;

/// Open upstream connections of one source.
pub struct UpstreamRow {
    pub source: u64,
    /// The source's name, or `source N` when it has just been removed.
    pub name: String,
    pub open: usize,
}

/// One relayed channel.
pub struct ChannelRow {
    /// The stream id when the relay key is one (built-in channels have names).
    pub stream_id: Option<u32>,
    pub name: String,
    pub viewers: usize,
    pub bytes_in: u64,
    pub up_secs: u64,
}

/// Upstreams by source (sorted by source id) and channels (as the hub
/// lists them).
pub async fn snapshot(app: &App) -> (Vec<UpstreamRow>, Vec<ChannelRow>) {
    // A store error only costs the names: the figures still come from memory.
    let sources = app.gate.sources().await.unwrap_or_default();
    let upstreams = app
        .caps
        .snapshot()
        .into_iter()
        .map(|(source, open)| UpstreamRow {
            source,
            name: sources
                .iter()
                .find(|s| u64::try_from(s.id.0).ok() == Some(source))
                .map(|s| s.name.clone())
                .unwrap_or_else(|| format!("source {source}")),
            open,
        })
        .collect();
    let catalog = app.gate.catalog();
    let channels = app
        .hub
        .channels()
        .into_iter()
        .map(|c| {
            let stream_id = c.key.parse::<u32>().ok();
            let name = stream_id
                .and_then(|id| catalog.stream(StreamId(id)))
                .map(|r| catalog.stream_name(r).to_string())
                .unwrap_or_else(|| c.key.clone());
            ChannelRow {
                stream_id,
                name,
                viewers: c.viewers,
                bytes_in: c.bytes_in,
                up_secs: c.uptime.as_secs(),
            }
        })
        .collect();
    (upstreams, channels)
}
