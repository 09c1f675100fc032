//! Probing the primary while a backup serves, and the hand-over back to it.
//!
//! One [`Prober`] per upstream: at most one probe connection at a time (so
//! a channel never holds more than one extra connection), taken within the
//! source's cap ([`super::ProbeCap`]; a source at its cap is not probed,
//! the next try waits longer). A probe reads the primary as the relay
//! would (alignment, junk, stalls, the keyframe clock); any failure ends
//! it and the next one waits twice as long (`probe_after` doubling up to
//! `probe_max_wait`). Once it has delivered clean packets for
//! `primary_recheck`, it waits for the primary's next keyframe (a program
//! without video: its next PAT) and hands over the connection with the
//! start a joiner would get: PAT, PMT, then the packets from the keyframe.
//!
//! [`Prober::run`] is cancel-safe: it keeps all of its state in `self`,
//! so the upstream can select it against its own reads.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::future::BoxFuture;
use futures::stream::{BoxStream, StreamExt};
use tokio::time::Instant;
use tvgate_formats::redact_url;

use super::align::{Aligner, DiscontinuityMarks};
use super::program::Program;
use super::{Failure, ProbeCap, UpstreamConfig};
use crate::caps::SourcePermit;
use crate::stats::{Counter, RelayStats};

/// A healthy primary, ready to take over.
pub(crate) struct Returned {
    pub body: BoxStream<'static, reqwest::Result<Bytes>>,
    /// Carries the partial packet that follows `start`.
    pub aligner: Aligner,
    pub program: Program,
    /// PAT, PMT and the packets from the keyframe (whole, aligned).
    pub start: BytesMut,
    pub opened_at: Instant,
}

enum State {
    /// On the primary (or returns are off): nothing to do.
    Off,
    /// The next probe starts then.
    Waiting(Instant),
    Connecting {
        request: BoxFuture<'static, reqwest::Result<reqwest::Response>>,
        deadline: Instant,
        permit: Option<SourcePermit>,
    },
    Reading(Box<Reading>),
}

struct Reading {
    body: BoxStream<'static, reqwest::Result<Bytes>>,
    aligner: Aligner,
    marks: DiscontinuityMarks,
    program: Program,
    out: BytesMut,
    opened_at: Instant,
    any_bytes: bool,
    last_packet_at: Instant,
    /// First good packet of the probe.
    clean_since: Option<Instant>,
    last_key_at: Instant,
    _permit: Option<SourcePermit>,
}

/// The probes of one upstream's primary.
pub(crate) struct Prober {
    client: reqwest::Client,
    url: Option<String>,
    headers: reqwest::header::HeaderMap,
    cfg: UpstreamConfig,
    stats: Arc<RelayStats>,
    cap: Option<ProbeCap>,
    state: State,
    /// Wait before the next probe.
    wait: Duration,
}

/// How long an armed probe waits for a keyframe or PAT before it takes
/// over at a packet boundary anyway (a stream without either has no clean
/// place to join).
fn cut_anyway_after(cfg: &UpstreamConfig) -> Duration {
    cfg.keyframe_timeout.max(Duration::from_secs(10))
}

impl Prober {
    pub(crate) fn new(
        client: reqwest::Client,
        url: Option<String>,
        headers: reqwest::header::HeaderMap,
        cfg: UpstreamConfig,
        stats: Arc<RelayStats>,
        cap: Option<ProbeCap>,
    ) -> Prober {
        Prober {
            client,
            url,
            headers,
            cfg,
            stats,
            cap,
            state: State::Off,
            wait: cfg.probe_after,
        }
    }

    /// The upstream now reads a backup: schedule a probe unless one is due
    /// or running.
    pub(crate) fn on_backup(&mut self) {
        if self.cfg.primary_recheck.is_zero() || self.url.is_none() {
            return;
        }
        if matches!(self.state, State::Off) {
            self.state = State::Waiting(Instant::now() + self.wait);
        }
    }

    /// The upstream is on the primary again: no probe, and the next
    /// failover starts the waits afresh.
    pub(crate) fn stop(&mut self) {
        self.state = State::Off;
        self.wait = self.cfg.probe_after;
    }

    /// Runs probes until the primary is ready to take over. Never returns
    /// while there is nothing to probe.
    pub(crate) async fn run(&mut self) -> Returned {
        loop {
            match &mut self.state {
                State::Off => std::future::pending::<()>().await,
                State::Waiting(at) => {
                    tokio::time::sleep_until(*at).await;
                    self.start();
                }
                State::Connecting {
                    request, deadline, ..
                } => {
                    let answer = tokio::time::timeout_at(*deadline, request).await;
                    let permit = match std::mem::replace(&mut self.state, State::Off) {
                        State::Connecting { permit, .. } => permit,
                        _ => None,
                    };
                    match answer {
                        Err(_) => self.failed(&Failure::ConnectTimeout),
                        Ok(Err(e)) => self.failed(&Failure::Request(e)),
                        Ok(Ok(resp)) if !resp.status().is_success() => {
                            self.failed(&Failure::Status(resp.status()))
                        }
                        Ok(Ok(resp)) => {
                            let now = Instant::now();
                            self.state = State::Reading(Box::new(Reading {
                                body: resp.bytes_stream().boxed(),
                                aligner: Aligner::new(self.cfg.sync_search),
                                marks: DiscontinuityMarks::new(),
                                program: Program::default(),
                                out: BytesMut::new(),
                                opened_at: now,
                                any_bytes: false,
                                last_packet_at: now,
                                clean_since: None,
                                last_key_at: now,
                                _permit: permit,
                            }));
                        }
                    }
                }
                State::Reading(r) => {
                    let stall_at = r.last_packet_at + self.cfg.stall_timeout;
                    let next = tokio::time::timeout_at(stall_at, r.body.next()).await;
                    match read_step(r, next, &self.cfg) {
                        Ok(false) => {}
                        Ok(true) => {
                            let State::Reading(r) = std::mem::replace(&mut self.state, State::Off)
                            else {
                                continue;
                            };
                            self.wait = self.cfg.probe_after;
                            let Reading {
                                body,
                                aligner,
                                program,
                                out,
                                opened_at,
                                ..
                            } = *r;
                            return Returned {
                                body,
                                aligner,
                                program,
                                start: out,
                                opened_at,
                            };
                        }
                        Err(why) => self.failed(&why),
                    }
                }
            }
        }
    }

    /// Starts a probe now, if the source's cap leaves room for it.
    fn start(&mut self) {
        let Some(url) = self.url.clone() else {
            self.state = State::Off;
            return;
        };
        let permit = match &self.cap {
            None => None,
            Some(c) => match c.caps.try_acquire(c.source, c.cap) {
                Some(p) => Some(p),
                None => {
                    self.stats.add(Counter::UpstreamProbesAtCap, 1);
                    tracing::debug!(
                        url = %redact_url(&url),
                        "source at its connection cap; the primary is not probed"
                    );
                    self.again();
                    return;
                }
            },
        };
        self.stats.add(Counter::UpstreamProbes, 1);
        let request = self.client.get(&url).headers(self.headers.clone()).send();
        self.state = State::Connecting {
            request: Box::pin(request),
            deadline: Instant::now() + self.cfg.connect_timeout,
            permit,
        };
    }

    /// The next probe waits longer.
    fn again(&mut self) {
        self.state = State::Waiting(Instant::now() + self.wait);
        self.wait = (self.wait * 2).min(self.cfg.probe_max_wait.max(self.cfg.probe_after));
    }

    fn failed(&mut self, why: &Failure) {
        self.stats.add(Counter::UpstreamProbeFailures, 1);
        tracing::info!(
            url = %self.url.as_deref().map(redact_url).unwrap_or_default(),
            reason = why.reason().code(),
            next_in_s = self.wait.as_secs(),
            "probe of the primary failed ({why}); staying on the backup"
        );
        self.again();
    }
}

/// One read of a probe: `Ok(true)` when `r.out` holds the hand-over start.
fn read_step(
    r: &mut Reading,
    next: Result<Option<reqwest::Result<Bytes>>, tokio::time::error::Elapsed>,
    cfg: &UpstreamConfig,
) -> Result<bool, Failure> {
    let bytes = match next {
        Err(_) => return Err(Failure::Stalled),
        Ok(None) if !r.any_bytes => return Err(Failure::Empty),
        Ok(None) => return Err(Failure::Ended),
        Ok(Some(Err(e))) => return Err(Failure::Body(e)),
        Ok(Some(Ok(bytes))) => bytes,
    };
    r.any_bytes |= !bytes.is_empty();
    r.out.clear();
    r.aligner
        .feed(&bytes, &mut r.out, &mut r.marks)
        .map_err(Failure::Junk)?;
    let _ = r.aligner.take_skipped();
    if r.out.is_empty() {
        return Ok(false);
    }
    let now = Instant::now();
    r.last_packet_at = now;
    let clean_since = *r.clean_since.get_or_insert(now);
    let found = r.program.scan(&r.out);
    if found.key.is_some() {
        r.last_key_at = now;
    } else if r.program.has_video()
        && !cfg.keyframe_timeout.is_zero()
        && now.duration_since(r.last_key_at) >= cfg.keyframe_timeout
    {
        return Err(Failure::NoKeyframe(cfg.keyframe_timeout));
    }
    let clean_for = now.duration_since(clean_since);
    if clean_for < cfg.primary_recheck {
        return Ok(false);
    }
    // Armed: hand over at the next clean start.
    let cut = match (r.program.has_video(), r.program.tables()) {
        (true, Some((pat, pmt))) => found.key.map(|at| {
            let mut start = BytesMut::with_capacity(2 * pat.len() + r.out.len() - at);
            start.extend_from_slice(pat);
            start.extend_from_slice(pmt);
            start.extend_from_slice(&r.out[at..]);
            start
        }),
        _ => found.pat.map(|at| BytesMut::from(&r.out[at..])),
    };
    let cut = match cut {
        Some(start) => Some(start),
        None if clean_for >= cfg.primary_recheck + cut_anyway_after(cfg) => {
            Some(std::mem::take(&mut r.out))
        }
        None => None,
    };
    match cut {
        Some(start) => {
            r.out = start;
            Ok(true)
        }
        None => Ok(false),
    }
}
