//! An HLS upstream read as one continuous MPEG-TS stream, for players that
//! ask for `.ts` on a channel whose source only speaks HLS.
//!
//! One poller per channel (the hub shares it among the channel's viewers):
//! it reloads the media playlist about every half target duration (RFC 8216
//! §6.3.4 asks for no less than half when nothing changed), fetches each new
//! segment once, in media-sequence order, and yields its whole 188-byte
//! packets (a torn tail is dropped, so a viewer never sees half a packet).
//! A master playlist is followed to its highest-bandwidth variant.
//!
//! The stream ends on `#EXT-X-ENDLIST` once every segment is out, after
//! [`HlsToTsConfig::idle_timeout`] without a new segment (upstream dead or
//! stuck), or on content it cannot pass on as TS (encrypted or fMP4
//! segments). Errors are logged without the URL: upstream URLs carry the
//! provider's credentials.

use bytes::{Bytes, BytesMut};
use futures::stream::{BoxStream, StreamExt};
use std::collections::VecDeque;
use std::time::Duration;
use tokio::time::Instant;
use tvgate_formats::hls::{self, Playlist, Segment};
use tvgate_formats::mpegts::{self, PACKET_LEN, SYNC_BYTE};

/// How an HLS upstream is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HlsToTsConfig {
    /// End the stream after this long without a new segment.
    pub idle_timeout: Duration,
    /// Time limit of each upstream request.
    pub fetch_timeout: Duration,
    /// How many segments back from the live edge a live stream starts.
    pub live_start_segments: usize,
    /// Largest segment accepted; a larger one is skipped.
    pub max_segment_bytes: usize,
}

impl Default for HlsToTsConfig {
    fn default() -> Self {
        HlsToTsConfig {
            idle_timeout: Duration::from_secs(30),
            fetch_timeout: Duration::from_secs(15),
            live_start_segments: 3,
            max_segment_bytes: 32 << 20,
        }
    }
}

/// Largest playlist accepted.
pub const MAX_PLAYLIST_BYTES: usize = 4 << 20;

/// Why an upstream fetch failed. Never names the URL.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("upstream request failed: {0}")]
    Request(reqwest::Error),
    #[error("upstream answered HTTP {0}")]
    Status(u16),
    #[error("upstream response larger than {0} bytes")]
    TooLarge(usize),
}

impl FetchError {
    /// The upstream did not answer in time.
    pub fn is_timeout(&self) -> bool {
        matches!(self, FetchError::Request(e) if e.is_timeout())
    }
}

impl From<reqwest::Error> for FetchError {
    fn from(e: reqwest::Error) -> Self {
        // reqwest's message includes the URL, which may hold credentials.
        FetchError::Request(e.without_url())
    }
}

/// A fetched body with its content type and the final URL after redirects.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub body: Bytes,
    pub content_type: Option<String>,
    pub final_url: String,
}

/// GETs `url` whole, refusing bodies over `max` bytes.
pub async fn fetch(
    client: &reqwest::Client,
    url: &str,
    timeout: Duration,
    max: usize,
) -> Result<Fetched, FetchError> {
    let mut resp = client.get(url).timeout(timeout).send().await?;
    if !resp.status().is_success() {
        return Err(FetchError::Status(resp.status().as_u16()));
    }
    if resp.content_length().is_some_and(|n| n > max as u64) {
        return Err(FetchError::TooLarge(max));
    }
    let final_url = resp.url().to_string();
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut body = BytesMut::new();
    while let Some(chunk) = resp.chunk().await? {
        if body.len() + chunk.len() > max {
            return Err(FetchError::TooLarge(max));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Fetched {
        body: body.freeze(),
        content_type,
        final_url,
    })
}

/// The whole packets of a segment: from its first sync (a segment should
/// start on one) to the last complete packet.
pub fn whole_packets(mut data: Bytes) -> Bytes {
    if data.first() != Some(&SYNC_BYTE) {
        match mpegts::find_sync(&data) {
            Some(at) => {
                let _ = data.split_to(at);
            }
            None => return Bytes::new(),
        }
    }
    data.truncate(data.len() / PACKET_LEN * PACKET_LEN);
    data
}

/// One continuous TS stream from the HLS playlist at `playlist_url`.
pub fn hls_to_ts(
    client: reqwest::Client,
    playlist_url: String,
    cfg: HlsToTsConfig,
) -> BoxStream<'static, Bytes> {
    let poller = Poller {
        client,
        url: playlist_url,
        followed_master: false,
        last_seq: None,
        queue: VecDeque::new(),
        last_new: Instant::now(),
        reload_every: Duration::from_secs(1),
        next_reload: None,
        ended: false,
        cfg,
    };
    futures::stream::unfold(poller, |mut p| async move {
        let chunk = p.next_chunk().await?;
        Some((chunk, p))
    })
    .boxed()
}

struct Poller {
    client: reqwest::Client,
    /// The media playlist (the master's URL until it has been followed).
    url: String,
    followed_master: bool,
    /// Sequence number of the last segment queued.
    last_seq: Option<u64>,
    queue: VecDeque<Segment>,
    /// When the last new segment appeared.
    last_new: Instant,
    reload_every: Duration,
    /// `None` before the first load.
    next_reload: Option<Instant>,
    /// `#EXT-X-ENDLIST` seen, or content that cannot be passed on.
    ended: bool,
    cfg: HlsToTsConfig,
}

impl Poller {
    async fn next_chunk(&mut self) -> Option<Bytes> {
        loop {
            if let Some(segment) = self.queue.pop_front() {
                match fetch(
                    &self.client,
                    &segment.uri,
                    self.cfg.fetch_timeout,
                    self.cfg.max_segment_bytes,
                )
                .await
                {
                    Ok(f) => {
                        let packets = whole_packets(f.body);
                        if !packets.is_empty() {
                            return Some(packets);
                        }
                        tracing::debug!(seq = segment.sequence, "HLS segment holds no TS packets");
                    }
                    Err(e) => {
                        tracing::warn!(seq = segment.sequence, error = %e, "HLS segment skipped")
                    }
                }
                continue;
            }
            if self.ended || self.last_new.elapsed() >= self.cfg.idle_timeout {
                return None;
            }
            if let Some(at) = self.next_reload {
                tokio::time::sleep_until(at.min(self.last_new + self.cfg.idle_timeout)).await;
                if Instant::now() < at {
                    continue; // The idle deadline came first.
                }
            }
            self.reload().await;
        }
    }

    async fn reload(&mut self) {
        self.next_reload = Some(Instant::now() + self.reload_every);
        let fetched = match fetch(
            &self.client,
            &self.url,
            self.cfg.fetch_timeout,
            MAX_PLAYLIST_BYTES,
        )
        .await
        {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(error = %e, "HLS playlist reload failed");
                return;
            }
        };
        let text = String::from_utf8_lossy(&fetched.body);
        match hls::parse(&text, &fetched.final_url) {
            Ok(Playlist::Master(m)) => {
                let best = m.variants.iter().max_by_key(|v| v.bandwidth);
                match best {
                    Some(v) if !self.followed_master => {
                        self.followed_master = true;
                        self.url = v.uri.clone();
                        self.next_reload = Some(Instant::now());
                    }
                    _ => {
                        tracing::warn!("HLS master playlist without a usable variant");
                        self.ended = true;
                    }
                }
            }
            Ok(Playlist::Media(m)) => self.take_new(m),
            Err(e) => tracing::warn!(error = %e, "HLS upstream sent no playlist"),
        }
    }

    fn take_new(&mut self, m: hls::MediaPlaylist) {
        let half = m.target_duration_secs().unwrap_or(2.0) / 2.0;
        self.reload_every = Duration::from_secs_f64(half.clamp(0.5, 10.0));
        self.next_reload = Some(Instant::now() + self.reload_every);
        self.ended = m.ended;
        if m.segments.iter().any(|s| s.encrypted || s.has_map) {
            tracing::warn!("HLS upstream is encrypted or fMP4: it cannot be relayed as TS");
            self.ended = true;
            return;
        }
        let newest = m.segments.last().map(|s| s.sequence);
        // An upstream restart numbers its segments from scratch.
        if let (Some(last), Some(newest)) = (self.last_seq, newest) {
            if newest + (m.segments.len() as u64) < last {
                self.last_seq = None;
            }
        }
        let fresh: Vec<Segment> = match self.last_seq {
            Some(last) => m
                .segments
                .into_iter()
                .filter(|s| s.sequence > last)
                .collect(),
            None if m.ended => m.segments,
            None => {
                let skip = m
                    .segments
                    .len()
                    .saturating_sub(self.cfg.live_start_segments.max(1));
                m.segments.into_iter().skip(skip).collect()
            }
        };
        if let Some(last) = fresh.last() {
            self.last_seq = Some(last.sequence);
            self.last_new = Instant::now();
        }
        self.queue.extend(fresh);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(tag: u8) -> Vec<u8> {
        let mut p = vec![tag; PACKET_LEN];
        p[0] = SYNC_BYTE;
        p
    }

    #[test]
    fn only_whole_packets_leave() {
        let mut data = packet(1);
        data.extend(packet(2));
        data.extend(&packet(3)[..100]);
        assert_eq!(
            whole_packets(Bytes::from(data.clone())).len(),
            2 * PACKET_LEN
        );
        // Junk before the first sync is skipped.
        let mut junk = vec![0u8; 5];
        junk.extend(packet(1));
        junk.extend(packet(2));
        junk.extend(packet(3));
        let out = whole_packets(Bytes::from(junk));
        assert_eq!(out.len(), 3 * PACKET_LEN);
        assert_eq!(out[0], SYNC_BYTE);
        assert!(whole_packets(Bytes::from_static(b"<html>nope</html>")).is_empty());
        assert!(whole_packets(Bytes::new()).is_empty());
    }

    fn playlist(first: u64, count: u64) -> hls::MediaPlaylist {
        let mut text = format!("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:{first}\n");
        for n in first..first + count {
            text.push_str(&format!("#EXTINF:4,\ns{n}.ts\n"));
        }
        match hls::parse(&text, "http://up.example/live/index.m3u8") {
            Ok(Playlist::Media(m)) => m,
            other => panic!("{other:?}"),
        }
    }

    fn poller() -> Poller {
        Poller {
            client: reqwest::Client::new(),
            url: String::new(),
            followed_master: false,
            last_seq: None,
            queue: VecDeque::new(),
            last_new: Instant::now(),
            reload_every: Duration::from_secs(1),
            next_reload: None,
            ended: false,
            cfg: HlsToTsConfig::default(),
        }
    }

    fn queued(p: &mut Poller) -> Vec<u64> {
        p.queue.drain(..).map(|s| s.sequence).collect()
    }

    #[tokio::test]
    async fn a_live_window_starts_near_the_edge_and_each_segment_is_taken_once() {
        let mut p = poller();
        p.take_new(playlist(100, 6));
        assert_eq!(queued(&mut p), [103, 104, 105], "three from the live edge");
        assert_eq!(p.reload_every, Duration::from_secs(2), "half the target");
        p.take_new(playlist(100, 6));
        assert!(queued(&mut p).is_empty(), "nothing new");
        p.take_new(playlist(102, 6));
        assert_eq!(queued(&mut p), [106, 107]);
        // The upstream restarted and numbers from 0 again.
        p.take_new(playlist(0, 5));
        assert_eq!(queued(&mut p), [2, 3, 4]);
        assert!(!p.ended);
    }
}
