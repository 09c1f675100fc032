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
//! * **Return to the primary.** While a backup serves, the primary is probed
//!   on one extra connection ([`probe`]), within the source's cap, after
//!   [`UpstreamConfig::probe_after`] (doubling after each failed probe up to
//!   [`UpstreamConfig::probe_max_wait`]). Once the primary has delivered
//!   clean packets for [`UpstreamConfig::primary_recheck`], the relay moves
//!   back at its next keyframe: the primary's PAT and PMT, then its data
//!   from that keyframe, as a joining viewer starts; the backup is closed.
//! * **Keyframes.** A connection whose program has a video stream that sends
//!   no keyframe for [`UpstreamConfig::keyframe_timeout`] has failed.
//! * **Identity.** [`HttpTs::headers`] (a source's user agent and extra
//!   headers) go with every request, probes included; they are never logged.

mod align;
mod probe;
mod program;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::stream::{self, BoxStream, StreamExt};
use tokio::time::Instant;
use tvgate_formats::mpegts::PACKET_LEN;
use tvgate_formats::redact_url;

use crate::caps::{SourceCaps, SourcePermit};
use crate::stats::{Counter, FailureReason, RelayStats};
#[doc(hidden)]
pub use align::fuzz_align;
use align::{Aligner, DiscontinuityMarks, Junk};
use probe::{Prober, Returned};
use program::Program;

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
    /// On a backup, how long the primary must deliver clean packets before
    /// the relay returns to it. Zero: never return (stay on the backup until
    /// it fails).
    pub primary_recheck: Duration,
    /// Wait before the first probe of the primary after a move to a backup.
    pub probe_after: Duration,
    /// Longest wait between probes (each failed probe doubles the wait).
    pub probe_max_wait: Duration,
    /// A connection whose program has a video stream that delivers no
    /// keyframe for this long has failed. Zero: never.
    pub keyframe_timeout: Duration,
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
            primary_recheck: Duration::from_secs(30),
            probe_after: Duration::from_secs(5),
            probe_max_wait: Duration::from_secs(120),
            keyframe_timeout: Duration::from_secs(60),
        }
    }
}

/// Streams MPEG-TS from `urls` (primary first, then backups) as whole,
/// aligned packets, failing over between them; see the module doc. Lazy:
/// nothing is requested until the stream is first polled. `permit`, if any,
/// is released when the stream is dropped. The short form of [`HttpTs`]
/// (no extra headers, probes not counted against a cap).
pub fn http_ts(
    client: reqwest::Client,
    urls: Vec<String>,
    cfg: UpstreamConfig,
    stats: Arc<RelayStats>,
    permit: Option<SourcePermit>,
) -> BoxStream<'static, Bytes> {
    HttpTs {
        client,
        urls,
        headers: reqwest::header::HeaderMap::new(),
        cfg,
        stats,
        permit,
        cap: None,
    }
    .open()
}

/// Where a probe of the primary takes its extra connection: the source's
/// caps, the source and its cap (0: unlimited).
#[derive(Clone)]
pub struct ProbeCap {
    pub caps: SourceCaps,
    pub source: u64,
    pub cap: u32,
}

/// Everything an HTTP MPEG-TS upstream needs; [`HttpTs::open`] starts it.
pub struct HttpTs {
    pub client: reqwest::Client,
    /// The primary, then the backups.
    pub urls: Vec<String>,
    /// Sent with every request (the source's user agent and extra headers).
    /// Values may hold tokens: never logged.
    pub headers: reqwest::header::HeaderMap,
    pub cfg: UpstreamConfig,
    pub stats: Arc<RelayStats>,
    /// The source's slot for the upstream's one connection.
    pub permit: Option<SourcePermit>,
    /// The cap a probe's extra connection counts against (`None`: none).
    pub cap: Option<ProbeCap>,
}

impl HttpTs {
    /// The stream of whole packets (see [`http_ts`]).
    pub fn open(self) -> BoxStream<'static, Bytes> {
        let HttpTs {
            client,
            urls,
            headers,
            cfg,
            stats,
            permit,
            cap,
        } = self;
        let prober = Prober::new(
            client.clone(),
            urls.first().cloned(),
            headers.clone(),
            cfg,
            Arc::clone(&stats),
            cap,
        );
        let fetcher = Fetcher {
            client,
            urls,
            headers,
            cfg,
            stats,
            _permit: permit,
            index: 0,
            conn: None,
            aligner: Aligner::new(cfg.sync_search),
            marks: DiscontinuityMarks::new(),
            program: Program::default(),
            out: BytesMut::new(),
            backoff: cfg.backoff_min,
            last_good: None,
            attempts: 0,
            emitted_any: false,
            prober,
        };
        stream::unfold(fetcher, |mut f| async move {
            let chunk = f.next_chunk().await?;
            Some((chunk, f))
        })
        .boxed()
    }
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
    /// The body ended before its first byte.
    Empty,
    /// A video stream without a keyframe for this long.
    NoKeyframe(Duration),
}

impl Failure {
    /// The failure's label in metrics.
    fn reason(&self) -> FailureReason {
        match self {
            Failure::Request(e) => request_reason(e),
            Failure::ConnectTimeout => FailureReason::Timeout,
            Failure::Status(_) => FailureReason::Status,
            Failure::Body(_) => FailureReason::Body,
            Failure::Ended => FailureReason::Ended,
            Failure::Empty => FailureReason::Empty,
            Failure::Stalled => FailureReason::Stalled,
            Failure::NoGoodData => FailureReason::NoData,
            Failure::Junk(Junk::Markup) => FailureReason::Html,
            Failure::Junk(Junk::NoSync(_)) => FailureReason::NoSync,
            Failure::NoKeyframe(_) => FailureReason::NoKeyframe,
        }
    }
}

/// Which reason a request error is: a refused redirect, the SSRF guard, a
/// connection that failed, a timeout.
fn request_reason(e: &reqwest::Error) -> FailureReason {
    let mut cause: Option<&dyn std::error::Error> = Some(e);
    while let Some(c) = cause {
        if c.is::<crate::egress::Forbidden>() {
            return FailureReason::Forbidden;
        }
        if c.is::<crate::egress::RedirectRefused>() {
            return FailureReason::Redirect;
        }
        cause = c.source();
    }
    if e.is_redirect() {
        FailureReason::Redirect
    } else if e.is_connect() {
        FailureReason::Connect
    } else if e.is_timeout() {
        FailureReason::Timeout
    } else {
        FailureReason::Request
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Request(e) => write!(f, "request failed: {}", describe(e)),
            Failure::ConnectTimeout => f.write_str("no response in time"),
            Failure::Status(s) => write!(f, "status {s}"),
            Failure::Body(e) => write!(f, "body failed: {}", describe(e)),
            Failure::Ended => f.write_str("body ended"),
            Failure::Empty => f.write_str("empty body (0 bytes)"),
            Failure::NoKeyframe(d) => write!(f, "no keyframe for {} s", d.as_secs()),
            Failure::Stalled => f.write_str("stalled"),
            Failure::NoGoodData => f.write_str("no good data in time"),
            Failure::Junk(Junk::Markup) => f.write_str("junk: markup (HTML) instead of MPEG-TS"),
            Failure::Junk(Junk::NoSync(n)) => write!(f, "junk: no TS sync in {n} bytes"),
        }
    }
}

/// An error and its causes, without the URL (which may hold credentials).
pub(crate) fn describe(e: &reqwest::Error) -> String {
    let mut text = String::new();
    let mut cause: Option<&dyn std::error::Error> = std::error::Error::source(e);
    text.push_str(if e.is_redirect() {
        "redirect"
    } else if e.is_connect() {
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
    /// Received at least one byte (a 0-byte body is its own failure).
    any_bytes: bool,
    /// When the video stream's last keyframe came (the connection's start
    /// until the first).
    last_key_at: Instant,
}

struct Fetcher {
    client: reqwest::Client,
    urls: Vec<String>,
    headers: reqwest::header::HeaderMap,
    cfg: UpstreamConfig,
    stats: Arc<RelayStats>,
    /// Held, never read: the source's slot for as long as the stream lives.
    _permit: Option<SourcePermit>,
    /// The URL in use, or the one to try next.
    index: usize,
    conn: Option<Conn>,
    aligner: Aligner,
    marks: DiscontinuityMarks,
    /// The connection's program (its video pid), for the keyframe clock.
    program: Program,
    /// Whole packets not yet handed out.
    out: BytesMut,
    backoff: Duration,
    /// When good packets last arrived; `None` before the first attempt.
    last_good: Option<Instant>,
    attempts: u64,
    emitted_any: bool,
    /// Probes the primary while a backup serves.
    prober: Prober,
}

/// Why [`Fetcher::read`] stopped without a chunk.
enum Interrupt {
    Fail(Failure),
    /// The primary is back: switch to it.
    Return(Returned),
}

impl From<Failure> for Interrupt {
    fn from(f: Failure) -> Interrupt {
        Interrupt::Fail(f)
    }
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
                Err(Interrupt::Fail(why)) => self.fail(&why),
                Err(Interrupt::Return(back)) => self.return_to_primary(back),
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
            let request = self.client.get(url).headers(self.headers.clone()).send();
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
                        any_bytes: false,
                        last_key_at: now,
                    });
                    self.program = Program::default();
                    if self.index != 0 {
                        self.prober.on_backup();
                    }
                    return true;
                }
            };
            self.fail(&failure);
        }
    }

    /// Reads from the connection until a chunk is full or has been held for
    /// `max_hold`. Only returns `Ok` with at least one packet. Meanwhile, on
    /// a backup, the primary's probe runs; when it is ready to take over,
    /// `Interrupt::Return` (whatever was read stays in `out`).
    async fn read(&mut self) -> Result<Bytes, Interrupt> {
        let limit = self.chunk_limit();
        if self.out.len() >= limit {
            return Ok(self.take_chunk());
        }
        let Some(conn) = self.conn.as_mut() else {
            return Err(Failure::Ended.into());
        };
        let give_up_at = self.last_good.unwrap_or_else(Instant::now) + self.cfg.give_up_after;
        if self.out.capacity() < self.cfg.chunk_bytes {
            self.out.reserve(self.cfg.chunk_bytes);
        }
        let probing = self.index != 0;
        // Left over from a big read: goes out with whatever is ready now.
        let mut flush_at = (!self.out.is_empty()).then(Instant::now);
        loop {
            let stall_at = conn.last_byte_at + self.cfg.stall_timeout;
            let deadline = flush_at.unwrap_or(stall_at.min(give_up_at));
            let next = tokio::select! {
                next = tokio::time::timeout_at(deadline, conn.body.next()) => next,
                back = self.prober.run(), if probing => return Err(Interrupt::Return(back)),
            };
            let now = Instant::now();
            let bytes = match next {
                Err(_) if !self.out.is_empty() => return Ok(self.take_chunk()),
                Err(_) if now >= stall_at => return Err(Failure::Stalled.into()),
                Err(_) => return Err(Failure::NoGoodData.into()),
                Ok(None) if !conn.any_bytes => return Err(Failure::Empty.into()),
                Ok(None) => return Err(Failure::Ended.into()),
                Ok(Some(Err(e))) => return Err(Failure::Body(e).into()),
                Ok(Some(Ok(bytes))) => bytes,
            };
            conn.any_bytes |= !bytes.is_empty();
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
                if !self.cfg.keyframe_timeout.is_zero() {
                    if self.program.scan(&self.out[before..]).key.is_some() {
                        conn.last_key_at = now;
                    } else if self.program.has_video()
                        && now.duration_since(conn.last_key_at) >= self.cfg.keyframe_timeout
                    {
                        return Err(Failure::NoKeyframe(self.cfg.keyframe_timeout).into());
                    }
                }
            }
            if self.out.len() >= limit {
                return Ok(self.take_chunk());
            }
        }
    }

    /// Moves from the backup to the primary the probe found healthy: the
    /// backup is closed, and the primary's PAT, PMT and data from its
    /// keyframe follow whatever the backup had delivered, marked as a
    /// discontinuity. Logged once, counted.
    fn return_to_primary(&mut self, back: Returned) {
        let from = self.index;
        self.aligner.reset();
        self.count_junk();
        self.marks.arm();
        self.marks.emit(&back.start, &mut self.out);
        self.aligner = back.aligner;
        self.program = back.program;
        let now = Instant::now();
        self.conn = Some(Conn {
            body: back.body,
            opened_at: back.opened_at,
            last_byte_at: now,
            good: true,
            any_bytes: true,
            last_key_at: now,
        });
        self.index = 0;
        self.last_good = Some(now);
        self.backoff = self.cfg.backoff_min;
        self.stats.add(Counter::UpstreamReturns, 1);
        self.stats.add(Counter::UpstreamSwitches, 1);
        let url = |i: usize| self.urls.get(i).map_or_else(String::new, |u| redact_url(u));
        tracing::info!(
            from = %url(from),
            to = %url(0),
            clean_s = self.cfg.primary_recheck.as_secs_f64(),
            "upstream back on the primary"
        );
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
        let reason = why.reason();
        self.stats.failure(reason);
        if self.index != from {
            self.stats.add(Counter::UpstreamSwitches, 1);
        }
        if self.index == 0 {
            // Back to the primary by the cycle: no probe needed.
            self.prober.stop();
        }
        let url = |i: usize| self.urls.get(i).map_or_else(String::new, |u| redact_url(u));
        tracing::warn!(
            from = %url(from),
            next = %url(self.index),
            reason = reason.code(),
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
