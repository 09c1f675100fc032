//! An HTTP MPEG-TS upstream with failover: the real sources behind the hub.
//!
//! [`http_ts`] returns an endless stream of whole, aligned 188-byte packets
//! read from the first URL that works (primary first, then backups):
//!
//! * **Failover.** The next URL is tried when a request fails or times out
//!   ([`UpstreamConfig::connect_timeout`], up to the response headers), the
//!   status is not 2xx, the body errors or ends, no byte arrives for
//!   [`UpstreamConfig::stall_timeout`], or the data is junk (an HTML page, or
//!   no TS sync within [`UpstreamConfig::sync_search`] bytes). URLs are tried
//!   in a cycle, so after the last backup comes the primary again. Each
//!   failure is logged once at warn with credentials redacted
//!   (`tvgate_formats::redact_url`) and counted in [`RelayStats`].
//! * **Clean seams.** Alignment is per connection (`align`): a partial
//!   packet at a switch is dropped, never glued to the next upstream's bytes,
//!   and the first packet of every PID after a switch carries the
//!   discontinuity_indicator.
//! * **Backoff and giving up.** Reconnects wait with exponential backoff
//!   (`backoff_min` doubling to `backoff_max`; back to `backoff_min` after a
//!   connection was healthy for `healthy_after`). With no good packets from
//!   any URL for `give_up_after` the stream ends, and with it the channel's
//!   viewers.
//! * **Big chunks.** Small reads are coalesced into chunks of up to
//!   `chunk_bytes`, held back at most `max_hold`, so the fan-out writes big
//!   buffers.
//! * **Caps.** The optional [`SourcePermit`] lives inside the stream: the
//!   source's connection slot is held exactly as long as the upstream runs.

mod align;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::stream::{self, BoxStream, StreamExt};
use tokio::time::Instant;
use tvgate_formats::mpegts::PACKET_LEN;
use tvgate_formats::redact_url;

use crate::caps::SourcePermit;
use crate::stats::{Counter, RelayStats};
use align::{Aligner, DiscontinuityMarks, Junk};

/// Settings of an HTTP upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpstreamConfig {
    /// Longest wait for a response's headers (connect included).
    pub connect_timeout: Duration,
    /// A connection that delivers no byte for this long is dropped.
    pub stall_timeout: Duration,
    /// With no good packets from any URL for this long, the stream ends.
    pub give_up_after: Duration,
    /// First reconnect delay; doubles per failure.
    pub backoff_min: Duration,
    /// Largest reconnect delay.
    pub backoff_max: Duration,
    /// A connection that delivered good data for this long resets the
    /// backoff when it fails.
    pub healthy_after: Duration,
    /// Bytes searched for TS sync before a connection is called junk.
    pub sync_search: usize,
    /// Target size of the chunks handed to the hub.
    pub chunk_bytes: usize,
    /// Longest time data is held back to fill a chunk.
    pub max_hold: Duration,
}

impl Default for UpstreamConfig {
    fn default() -> UpstreamConfig {
        UpstreamConfig {
            connect_timeout: Duration::from_secs(5),
            stall_timeout: Duration::from_secs(5),
            give_up_after: Duration::from_secs(30),
            backoff_min: Duration::from_millis(250),
            backoff_max: Duration::from_secs(8),
            healthy_after: Duration::from_secs(60),
            sync_search: 64 << 10,
            chunk_bytes: 64 << 10,
            max_hold: Duration::from_millis(30),
        }
    }
}

/// Streams MPEG-TS from `urls` (primary first, then backups) as whole,
/// aligned packets, failing over between them; see the module doc. Lazy:
/// nothing is requested until the stream is first polled. `permit`, if any,
/// is released when the stream is dropped.
pub fn http_ts(
    client: reqwest::Client,
    urls: Vec<String>,
    cfg: UpstreamConfig,
    stats: Arc<RelayStats>,
    permit: Option<SourcePermit>,
) -> BoxStream<'static, Bytes> {
    let fetcher = Fetcher {
        client,
        urls,
        cfg,
        stats,
        _permit: permit,
        index: 0,
        conn: None,
        aligner: Aligner::new(cfg.sync_search),
        marks: DiscontinuityMarks::new(),
        out: BytesMut::new(),
        backoff: cfg.backoff_min,
        last_good: None,
        attempts: 0,
        emitted_any: false,
    };
    stream::unfold(fetcher, |mut f| async move {
        let chunk = f.next_chunk().await?;
        Some((chunk, f))
    })
    .boxed()
}

/// Why a connection (attempt) was dropped.
#[derive(Debug)]
enum Failure {
    Request(reqwest::Error),
    ConnectTimeout,
    Status(reqwest::StatusCode),
    Body(reqwest::Error),
    Ended,
    Stalled,
    NoGoodData,
    Junk(Junk),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Request(e) => write!(f, "request failed: {}", describe(e)),
            Failure::ConnectTimeout => f.write_str("no response in time"),
            Failure::Status(s) => write!(f, "status {s}"),
            Failure::Body(e) => write!(f, "body failed: {}", describe(e)),
            Failure::Ended => f.write_str("body ended"),
            Failure::Stalled => f.write_str("stalled"),
            Failure::NoGoodData => f.write_str("no good data in time"),
            Failure::Junk(Junk::Markup) => f.write_str("junk: markup (HTML) instead of MPEG-TS"),
            Failure::Junk(Junk::NoSync(n)) => write!(f, "junk: no TS sync in {n} bytes"),
        }
    }
}

/// An error and its causes, without the URL (which may hold credentials).
fn describe(e: &reqwest::Error) -> String {
    let mut text = String::new();
    let mut cause: Option<&dyn std::error::Error> = std::error::Error::source(e);
    text.push_str(if e.is_connect() {
        "connect"
    } else if e.is_timeout() {
        "timeout"
    } else if e.is_body() || e.is_decode() {
        "body"
    } else {
        "request"
    });
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// One live connection.
struct Conn {
    body: BoxStream<'static, reqwest::Result<Bytes>>,
    opened_at: Instant,
    /// When the last whole packet arrived (the stall clock).
    last_byte_at: Instant,
    /// Delivered at least one good packet.
    good: bool,
}

struct Fetcher {
    client: reqwest::Client,
    urls: Vec<String>,
    cfg: UpstreamConfig,
    stats: Arc<RelayStats>,
    /// Held, never read: the source's slot for as long as the stream lives.
    _permit: Option<SourcePermit>,
    /// The URL in use, or the one to try next.
    index: usize,
    conn: Option<Conn>,
    aligner: Aligner,
    marks: DiscontinuityMarks,
    /// Whole packets not yet handed out.
    out: BytesMut,
    backoff: Duration,
    /// When good packets last arrived; `None` before the first attempt.
    last_good: Option<Instant>,
    attempts: u64,
    emitted_any: bool,
}

impl Fetcher {
    /// The next non-empty chunk of whole packets, or `None` once given up.
    async fn next_chunk(&mut self) -> Option<Bytes> {
        loop {
            if self.conn.is_none() {
                // Whole packets read before a failure go out first.
                if !self.out.is_empty() {
                    return Some(self.take_chunk());
                }
                if !self.connect().await {
                    return None;
                }
            }
            match self.read().await {
                Ok(chunk) => return Some(chunk),
                Err(why) => self.fail(&why),
            }
        }
    }

    /// Connects to the current URL, moving on (with backoff) until one
    /// answers 2xx. `false` once `give_up_after` has passed without good data.
    async fn connect(&mut self) -> bool {
        let give_up_at = *self.last_good.get_or_insert_with(Instant::now) + self.cfg.give_up_after;
        loop {
            if self.attempts > 0 {
                if Instant::now() >= give_up_at {
                    return self.give_up();
                }
                tokio::time::sleep_until((Instant::now() + self.backoff).min(give_up_at)).await;
                self.backoff = (self.backoff * 2).min(self.cfg.backoff_max);
                if Instant::now() >= give_up_at {
                    return self.give_up();
                }
                self.stats.add(Counter::UpstreamReconnects, 1);
            }
            self.attempts += 1;
            let Some(url) = self.urls.get(self.index) else {
                tracing::warn!("upstream has no URL");
                return false;
            };
            let deadline = (Instant::now() + self.cfg.connect_timeout).min(give_up_at);
            let request = self.client.get(url).send();
            let failure = match tokio::time::timeout_at(deadline, request).await {
                Err(_) => Failure::ConnectTimeout,
                Ok(Err(e)) => Failure::Request(e),
                Ok(Ok(resp)) if !resp.status().is_success() => Failure::Status(resp.status()),
                Ok(Ok(resp)) => {
                    self.stats.add(Counter::UpstreamConnects, 1);
                    let now = Instant::now();
                    self.conn = Some(Conn {
                        body: resp.bytes_stream().boxed(),
                        opened_at: now,
                        last_byte_at: now,
                        good: false,
                    });
                    return true;
                }
            };
            self.fail(&failure);
        }
    }

    /// Reads from the connection until a chunk is full or has been held for
    /// `max_hold`. Only returns `Ok` with at least one packet.
    async fn read(&mut self) -> Result<Bytes, Failure> {
        let limit = self.chunk_limit();
        if self.out.len() >= limit {
            return Ok(self.take_chunk());
        }
        let Some(conn) = self.conn.as_mut() else {
            return Err(Failure::Ended);
        };
        let give_up_at = self.last_good.unwrap_or_else(Instant::now) + self.cfg.give_up_after;
        if self.out.capacity() < self.cfg.chunk_bytes {
            self.out.reserve(self.cfg.chunk_bytes);
        }
        // Left over from a big read: goes out with whatever is ready now.
        let mut flush_at = (!self.out.is_empty()).then(Instant::now);
        loop {
            let stall_at = conn.last_byte_at + self.cfg.stall_timeout;
            let deadline = flush_at.unwrap_or(stall_at.min(give_up_at));
            let next = tokio::time::timeout_at(deadline, conn.body.next()).await;
            let now = Instant::now();
            let bytes = match next {
                Err(_) if !self.out.is_empty() => return Ok(self.take_chunk()),
                Err(_) if now >= stall_at => return Err(Failure::Stalled),
                Err(_) => return Err(Failure::NoGoodData),
                Ok(None) => return Err(Failure::Ended),
                Ok(Some(Err(e))) => return Err(Failure::Body(e)),
                Ok(Some(Ok(bytes))) => bytes,
            };
            let before = self.out.len();
            let fed = self.aligner.feed(&bytes, &mut self.out, &mut self.marks);
            let skipped = self.aligner.take_skipped();
            if skipped > 0 {
                self.stats.add(Counter::JunkBytesSkipped, skipped);
            }
            fed.map_err(Failure::Junk)?;
            if self.out.len() > before {
                // A stall is measured in whole packets, not bytes: an
                // upstream that keeps sending an error page or noise
                // mid-stream is as dead as a silent one.
                conn.last_byte_at = now;
                self.last_good = Some(now);
                self.emitted_any = true;
                conn.good = true;
                flush_at.get_or_insert(now + self.cfg.max_hold);
            }
            if self.out.len() >= limit {
                return Ok(self.take_chunk());
            }
        }
    }

    /// `chunk_bytes` rounded down to whole packets (at least one).
    fn chunk_limit(&self) -> usize {
        (self.cfg.chunk_bytes / PACKET_LEN).max(1) * PACKET_LEN
    }

    /// Up to `chunk_limit` bytes of `out`: a single big read never makes a
    /// chunk bigger than that (the hub's ring memory is bounded by it).
    fn take_chunk(&mut self) -> Bytes {
        let n = self.out.len().min(self.chunk_limit());
        self.out.split_to(n).freeze()
    }

    fn count_junk(&mut self) {
        let skipped = self.aligner.take_skipped();
        if skipped > 0 {
            self.stats.add(Counter::JunkBytesSkipped, skipped);
        }
    }

    /// Drops the connection (attempt), logs and counts it, and moves on to
    /// the next URL.
    fn fail(&mut self, why: &Failure) {
        if let Some(conn) = self.conn.take() {
            if conn.good && conn.opened_at.elapsed() >= self.cfg.healthy_after {
                self.backoff = self.cfg.backoff_min;
            }
        }
        // The partial packet goes; the next connection starts clean.
        self.aligner.reset();
        self.count_junk();
        if self.emitted_any {
            self.marks.arm();
        }
        let from = self.index;
        self.index = (self.index + 1) % self.urls.len().max(1);
        self.stats.add(Counter::UpstreamFailures, 1);
        if self.index != from {
            self.stats.add(Counter::UpstreamSwitches, 1);
        }
        let url = |i: usize| self.urls.get(i).map_or_else(String::new, |u| redact_url(u));
        tracing::warn!(
            from = %url(from),
            next = %url(self.index),
            retry_in_ms = self.backoff.as_millis() as u64,
            "upstream failed ({why}); switching"
        );
    }

    fn give_up(&mut self) -> bool {
        self.stats.add(Counter::UpstreamGaveUp, 1);
        tracing::warn!(
            urls = self.urls.len(),
            after_s = self.cfg.give_up_after.as_secs_f64(),
            "no good data from any upstream URL; ending the channel"
        );
        false
    }
}
