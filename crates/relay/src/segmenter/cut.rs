//! Cutting a live MPEG-TS stream into HLS segments, packet by packet. Pure:
//! the caller says what time it is, so tests feed any stream at any pace.
//!
//! * **Where**: before a keyframe of the program's video (for a radio
//!   channel, before any audio frame), once the segment has about the
//!   configured duration: at the first keyframe at or past it, or one half
//!   a keyframe interval before it when waiting for the next keyframe would
//!   overshoot more. Each segment starts with the PAT and the PMT (moved
//!   from the end of the previous segment when the stream sent them right
//!   before the keyframe, copies otherwise, with continuity counters kept
//!   continuous) and then the keyframe, so a player can start at any
//!   segment.
//! * **How long**: from the decode timestamps of the keyframes (90 kHz);
//!   without them from the PCR; the wall clock only as the last resort.
//! * **Seams**: a jump of the timestamps, a packet flagged with the
//!   discontinuity_indicator (the upstream's failover marks every PID so,
//!   [`crate::upstream`]) or tvgate's own seam marker (a null packet the
//!   demo loop sends between two loops, [`seam_marker`]) ends the segment
//!   there; the next one starts at the next keyframe, carries the
//!   discontinuity (the playlist's `#EXT-X-DISCONTINUITY`), and flags the
//!   first packet of each PID so demuxers accept the jump in counters.
//! * **Bad input**: a stream without keyframes is cut at the longest
//!   allowed duration (at a frame start of the video when there is one),
//!   warned about once; a segment never grows past `max_bytes`. Null
//!   packets are stuffing and are dropped.

use bytes::{Bytes, BytesMut};
use std::time::{Duration, SystemTime};
use tvgate_formats::mpegts::{
    self, Elementary, ProgramMap, PACKET_LEN, PCR_HZ, PID_NULL, PID_PAT, PTS_HZ, SYNC_BYTE,
};

/// The payload that makes a null packet tvgate's seam marker.
const SEAM_MAGIC: &[u8] = b"tvgate:seam";

/// A null packet (PID 0x1FFF, which every demuxer discards) that tells the
/// segmenter "a new encoding starts here": the demo loop sends one between
/// two loops of its clip.
pub fn seam_marker() -> Bytes {
    let mut p = [0xFFu8; PACKET_LEN];
    p[0] = SYNC_BYTE;
    p[1] = 0x1F;
    p[2] = 0xFF;
    p[3] = 0x10; // payload only, counter 0 (ignored on null packets)
    p[4..4 + SEAM_MAGIC.len()].copy_from_slice(SEAM_MAGIC);
    Bytes::copy_from_slice(&p)
}

/// `true` for the packet [`seam_marker`] makes.
pub fn is_seam_marker(pkt: &[u8]) -> bool {
    mpegts::pid(pkt) == Some(PID_NULL)
        && mpegts::payload(pkt).is_some_and(|p| p.starts_with(SEAM_MAGIC))
}

/// How segments are cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CutConfig {
    /// The duration aimed at (`hls_segment_secs`).
    pub segment: Duration,
    /// A segment without a keyframe to cut at is cut at this duration.
    pub longest: Duration,
    /// A segment is cut at this size whatever its duration.
    pub max_bytes: usize,
}

impl CutConfig {
    /// Segments of about `segment`, never longer than three times that.
    pub fn new(segment: Duration) -> CutConfig {
        let segment = segment.max(Duration::from_millis(100));
        CutConfig {
            segment,
            longest: segment * 3,
            max_bytes: 64 << 20,
        }
    }
}

/// Where a segment's duration was measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timing {
    /// Decode timestamps of the video (or of the only stream).
    Pts,
    /// The program clock reference.
    Pcr,
    /// The wall clock: the stream carries no usable time.
    Wall,
}

/// A finished segment.
#[derive(Debug, Clone)]
pub struct Cut {
    /// Whole packets, PAT and PMT first.
    pub bytes: Bytes,
    pub duration: Duration,
    pub timing: Timing,
    /// It does not follow on from the previous segment.
    pub discontinuity: bool,
    /// It starts at a keyframe (false only for bad input).
    pub keyframe: bool,
    /// When its first packet arrived.
    pub started_at: SystemTime,
}

/// A position in the stream: the times known there.
#[derive(Debug, Clone, Copy, Default)]
struct Stamp {
    /// Decode time of the video frame starting here (90 kHz).
    dts: Option<u64>,
    /// The latest PCR (27 MHz).
    pcr: Option<u64>,
    /// The caller's monotonic clock.
    mono: Duration,
}

/// The segment being filled.
struct Building {
    buf: BytesMut,
    start: Stamp,
    started_at: SystemTime,
    keyframe: bool,
    discontinuity: bool,
    /// Packets of something other than PAT and PMT so far.
    media: usize,
    /// The run of PAT/PMT packets at the end of `buf`.
    psi_tail: Option<PsiTail>,
    /// PIDs already flagged in a discontinuous segment.
    flagged: Vec<u16>,
    /// Largest decode time of the video seen in it.
    last_dts: Option<u64>,
}

/// PAT and PMT packets at the end of a segment, which go to the next one
/// when the cut comes right after them.
#[derive(Debug)]
struct PsiTail {
    /// Where they start in the segment.
    at: usize,
    /// Which of the two it holds (bit 0 PAT, bit 1 PMT).
    kinds: u8,
    /// The counters written out before them, to go back to if they are
    /// dropped after all.
    before: [Option<u8>; 2],
}

/// Continuity of the PAT or PMT pid in the segments, which carry copies
/// the stream did not have.
#[derive(Debug, Default, Clone, Copy)]
struct PsiCounter {
    /// Added to the stream's counter of this pid.
    shift: u8,
    /// Counter of the last packet written out.
    last_out: Option<u8>,
}

/// Cuts one stream. Feed it whole, aligned packets with [`Cutter::push`].
pub struct Cutter {
    cfg: CutConfig,
    /// For log lines.
    label: String,
    pat: Option<[u8; PACKET_LEN]>,
    pmt_pid: Option<u16>,
    pmt: Option<[u8; PACKET_LEN]>,
    map: Option<ProgramMap>,
    pat_cc: PsiCounter,
    pmt_cc: PsiCounter,
    building: Option<Building>,
    /// While no segment is being filled: the first time seen waiting.
    waiting_since: Option<Stamp>,
    /// The next segment follows a seam.
    pending_discontinuity: bool,
    /// PIDs flagged discontinuous since the last seam, and when it was.
    seam_pids: Vec<u16>,
    seam_at: Option<Duration>,
    last_pcr: Option<u64>,
    /// The last keyframe, and the interval before it.
    last_key: Option<Stamp>,
    gop: Option<Duration>,
    /// Smallest step between decode times of the video: a frame.
    frame: Option<u64>,
    prev_dts: Option<u64>,
    warned: bool,
    forced: u64,
    /// PAT and PMT split off the end of the last segment, for the next,
    /// with the counters before them.
    moved_psi: Option<(BytesMut, [Option<u8>; 2])>,
}

impl std::fmt::Debug for Cutter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cutter")
            .field("label", &self.label)
            .field("forced", &self.forced)
            .finish_non_exhaustive()
    }
}

fn ticks(d: Duration, hz: u64) -> u64 {
    (d.as_nanos() * u128::from(hz) / 1_000_000_000) as u64
}

fn from_ticks(t: u64, hz: u64) -> Duration {
    Duration::from_nanos((u128::from(t) * 1_000_000_000 / u128::from(hz)) as u64)
}

impl Cutter {
    /// A cutter for the channel `label` (used in log lines only).
    pub fn new(cfg: CutConfig, label: impl Into<String>) -> Cutter {
        Cutter {
            cfg,
            label: label.into(),
            pat: None,
            pmt_pid: None,
            pmt: None,
            map: None,
            pat_cc: PsiCounter::default(),
            pmt_cc: PsiCounter::default(),
            building: None,
            waiting_since: None,
            pending_discontinuity: false,
            seam_pids: Vec::new(),
            seam_at: None,
            last_pcr: None,
            last_key: None,
            gop: None,
            frame: None,
            prev_dts: None,
            warned: false,
            forced: 0,
            moved_psi: None,
        }
    }

    /// Segments cut without a keyframe (bad input) so far.
    pub fn forced_cuts(&self) -> u64 {
        self.forced
    }

    /// Feeds `chunk` (whole packets), which arrived at `mono` (any
    /// monotonic clock) and `wall`; returns the segments it completed.
    pub fn push(&mut self, chunk: &[u8], mono: Duration, wall: SystemTime) -> Vec<Cut> {
        let mut out = Vec::new();
        for pkt in chunk.chunks_exact(PACKET_LEN) {
            self.packet(pkt, mono, wall, &mut out);
        }
        out
    }

    /// The stream the cuts are timed by: the video, else the first stream.
    fn primary(&self) -> Option<Elementary> {
        self.map.and_then(|m| m.video.or(m.first))
    }

    fn packet(&mut self, pkt: &[u8], mono: Duration, wall: SystemTime, out: &mut Vec<Cut>) {
        let Some(pid) = mpegts::pid(pkt) else {
            return;
        };
        if pid == PID_NULL {
            if is_seam_marker(pkt) {
                self.seam(mono, out);
            }
            return;
        }
        let start = mpegts::payload_unit_start(pkt);
        let mut psi = 0u8;
        if pid == PID_PAT {
            psi = 1;
            if start {
                self.pmt_pid = mpegts::pat_pmt_pid(pkt).or(self.pmt_pid);
                self.pat = Some(copy(pkt));
            }
        } else if Some(pid) == self.pmt_pid {
            psi = 2;
            if start {
                self.map = mpegts::pmt(pkt).or(self.map);
                self.pmt = Some(copy(pkt));
            }
        }
        if let Some(pcr) = mpegts::pcr(pkt) {
            if self.map.and_then(|m| m.pcr_pid).is_none_or(|p| p == pid) {
                self.last_pcr = Some(pcr);
            }
        }
        if mpegts::discontinuity_indicator(pkt) {
            let same_seam = self
                .seam_at
                .is_some_and(|at| mono.saturating_sub(at) < Duration::from_secs(2))
                && !self.seam_pids.contains(&pid);
            if !same_seam {
                self.seam(mono, out);
            }
            self.seam_pids.push(pid);
            if self.building.is_none() && !mpegts::has_payload(pkt) {
                // A flag for data that is dropped while waiting: the
                // segment flags its own packets.
                return;
            }
        }

        // Is this a frame start of the stream cuts are timed by, and a
        // keyframe?
        let primary = self.primary();
        let (frame_start, key) = match primary {
            Some(e) if e.pid == pid && start => {
                let key = if e.is_video() {
                    mpegts::starts_keyframe(pkt, e.stream_type)
                } else {
                    true // audio: every frame is a place to start
                };
                (true, key)
            }
            Some(_) => (false, false),
            None => {
                let key = mpegts::is_keyframe_start(pkt);
                (key, key)
            }
        };
        let dts = if frame_start {
            mpegts::pes_timestamps(pkt).and_then(|t| t.decode_time())
        } else {
            None
        };
        if let Some(d) = dts {
            self.check_jump(d, mono, out);
        }
        let stamp = Stamp {
            dts,
            pcr: self.last_pcr,
            mono,
        };
        if key {
            if let Some(prev) = self.last_key {
                let g = self.elapsed(&prev, &stamp).0;
                if !g.is_zero() && g < self.cfg.longest {
                    self.gop = Some(g);
                }
            }
            self.last_key = Some(stamp);
        }

        if self.building.is_none() {
            let since = *self.waiting_since.get_or_insert(stamp);
            let since = Stamp {
                dts: since.dts.or(dts),
                ..since
            };
            self.waiting_since = Some(since);
            let waited = self.elapsed(&since, &stamp).0;
            if key {
                self.begin(stamp, wall, true);
            } else if (frame_start || primary.is_none()) && waited >= self.cfg.longest {
                self.warn_forced();
                self.begin(stamp, wall, false);
            } else {
                // Dropped: so are tables that were kept for this segment.
                if let Some((_, before)) = self.moved_psi.take() {
                    self.pat_cc.last_out = before[0];
                    self.pmt_cc.last_out = before[1];
                }
                return;
            }
        } else if let Some(b) = &self.building {
            let (d, _) = self.elapsed(&b.start, &stamp);
            let has_media = b.media > 0;
            let too_big = b.buf.len() >= self.cfg.max_bytes;
            let far_too_big = b.buf.len() >= self.cfg.max_bytes.saturating_mul(2);
            if key && has_media {
                let half_gop = self.gop.map_or(Duration::ZERO, |g| g / 2);
                if d >= self.cfg.segment || d + half_gop >= self.cfg.segment || too_big {
                    self.finish(stamp, out);
                    self.begin(stamp, wall, true);
                }
            } else if has_media
                && (((frame_start || primary.is_none()) && (d >= self.cfg.longest || too_big))
                    || far_too_big)
            {
                self.warn_forced();
                self.finish(stamp, out);
                self.begin(stamp, wall, false);
            }
        }
        if let Some(d) = dts {
            if let Some(p) = self.prev_dts {
                let step = mpegts::pts_diff(p, d);
                if step > 0 {
                    let step = step as u64;
                    self.frame = Some(self.frame.map_or(step, |f| f.min(step)));
                }
            }
            self.prev_dts = Some(d);
        }
        self.write(pkt, pid, psi, dts);
    }

    /// A decode time that does not follow the previous one (the source
    /// restarted, or switched without flagging it) is a seam.
    fn check_jump(&mut self, dts: u64, mono: Duration, out: &mut Vec<Cut>) {
        let Some(prev) = self.prev_dts else {
            return;
        };
        let step = mpegts::pts_diff(prev, dts);
        let ahead = ticks(self.cfg.longest + Duration::from_secs(5), PTS_HZ) as i64;
        if step < -(PTS_HZ as i64) || step > ahead {
            tracing::debug!(channel = %self.label, step, "timestamps jumped: a seam");
            self.seam(mono, out);
        }
    }

    fn warn_forced(&mut self) {
        self.forced += 1;
        if !self.warned {
            self.warned = true;
            tracing::warn!(
                channel = %self.label,
                longest_secs = self.cfg.longest.as_secs_f64(),
                "no keyframe in the channel's stream for the longest segment duration: segments are cut without one (players may show artefacts); logged once per channel"
            );
        }
    }

    /// Ends the segment being filled at a seam; the next one starts at
    /// the next keyframe and carries the discontinuity.
    fn seam(&mut self, mono: Duration, out: &mut Vec<Cut>) {
        self.seam_pids.clear();
        self.seam_at = Some(mono);
        // Intervals across a seam mean nothing.
        self.last_key = None;
        if let Some(b) = &self.building {
            if b.media > 0 {
                let end = Stamp {
                    dts: b
                        .last_dts
                        .map(|d| mpegts::pts_add(d, self.frame.unwrap_or(PTS_HZ / 25))),
                    pcr: self.last_pcr,
                    mono,
                };
                self.finish(end, out);
            } else {
                self.building = None;
            }
        }
        self.prev_dts = None;
        self.pending_discontinuity = true;
        self.waiting_since = None;
    }

    /// How long from `a` to `b`, and by which clock.
    fn elapsed(&self, a: &Stamp, b: &Stamp) -> (Duration, Timing) {
        let limit = self.cfg.longest * 4 + Duration::from_secs(10);
        if let (Some(x), Some(y)) = (a.dts, b.dts) {
            let d = mpegts::pts_diff(x, y);
            if d >= 0 && from_ticks(d as u64, PTS_HZ) <= limit {
                return (from_ticks(d as u64, PTS_HZ), Timing::Pts);
            }
        }
        if let (Some(x), Some(y)) = (a.pcr, b.pcr) {
            let d = mpegts::pcr_diff(x, y);
            if d >= 0 && from_ticks(d as u64, PCR_HZ) <= limit {
                return (from_ticks(d as u64, PCR_HZ), Timing::Pcr);
            }
        }
        (b.mono.saturating_sub(a.mono), Timing::Wall)
    }

    /// Completes the segment being filled, ending at `end`.
    fn finish(&mut self, end: Stamp, out: &mut Vec<Cut>) {
        let Some(mut b) = self.building.take() else {
            return;
        };
        // PAT and PMT sent right before the cut belong to the next segment.
        let moved = match b.psi_tail.take() {
            Some(t) if t.kinds == 0b11 => Some((b.buf.split_off(t.at), t.before)),
            _ => None,
        };
        let (duration, timing) = self.elapsed(&b.start, &end);
        out.push(Cut {
            bytes: b.buf.freeze(),
            duration: duration.max(Duration::from_millis(1)),
            timing,
            discontinuity: b.discontinuity,
            keyframe: b.keyframe,
            started_at: b.started_at,
        });
        self.moved_psi = moved;
    }

    /// Starts a segment at `stamp`: PAT and PMT first.
    fn begin(&mut self, stamp: Stamp, wall: SystemTime, keyframe: bool) {
        let discontinuity = std::mem::take(&mut self.pending_discontinuity);
        self.waiting_since = None;
        let mut b = Building {
            buf: BytesMut::with_capacity(1 << 20),
            start: stamp,
            started_at: wall,
            keyframe,
            discontinuity,
            media: 0,
            psi_tail: None,
            flagged: Vec::new(),
            last_dts: None,
        };
        match self.moved_psi.take() {
            Some((psi, _)) => {
                // Counters continue from the previous segment's: no flag.
                b.flagged.push(PID_PAT);
                b.flagged.extend(self.pmt_pid);
                b.buf.extend_from_slice(&psi);
            }
            None => {
                if let Some(pat) = self.pat {
                    let cc = next_copy_cc(&mut self.pat_cc, &pat);
                    push_copy(&mut b, &pat, cc);
                }
                if let Some(pmt) = self.pmt {
                    let cc = next_copy_cc(&mut self.pmt_cc, &pmt);
                    push_copy(&mut b, &pmt, cc);
                }
            }
        }
        self.building = Some(b);
    }

    /// Appends a packet of the stream to the segment being filled.
    fn write(&mut self, pkt: &[u8], pid: u16, psi: u8, dts: Option<u64>) {
        let Some(b) = self.building.as_mut() else {
            return;
        };
        let before = [self.pat_cc.last_out, self.pmt_cc.last_out];
        let counter = match psi {
            1 => Some(&mut self.pat_cc),
            2 => Some(&mut self.pmt_cc),
            _ => None,
        };
        match counter {
            Some(c) => {
                let mut p = copy(pkt);
                let cc = mpegts::continuity_counter(pkt).unwrap_or(0);
                let out = cc.wrapping_add(c.shift) & 0x0F;
                mpegts::set_continuity_counter(&mut p, out);
                c.last_out = Some(out);
                let at = b.buf.len();
                flag_first(b, &p, pid);
                b.buf.extend_from_slice(&p);
                match &mut b.psi_tail {
                    Some(t) => t.kinds |= psi,
                    None => {
                        b.psi_tail = Some(PsiTail {
                            at,
                            kinds: psi,
                            before,
                        })
                    }
                }
            }
            None => {
                flag_first(b, pkt, pid);
                b.buf.extend_from_slice(pkt);
                b.media += 1;
                b.psi_tail = None;
            }
        }
        if let Some(d) = dts {
            b.last_dts = Some(match b.last_dts {
                Some(l) if mpegts::pts_diff(l, d) < 0 => l,
                _ => d,
            });
        }
    }
}

fn copy(pkt: &[u8]) -> [u8; PACKET_LEN] {
    let mut p = [0xFFu8; PACKET_LEN];
    let n = pkt.len().min(PACKET_LEN);
    p[..n].copy_from_slice(&pkt[..n]);
    p
}

/// The counter of a PAT or PMT copy put at the start of a segment: the
/// one after the last written out on this pid, so the pid's counters stay
/// continuous in the segments whatever was dropped; the stream's later
/// packets of the pid follow on from the copy.
fn next_copy_cc(c: &mut PsiCounter, latest: &[u8]) -> u8 {
    let own = mpegts::continuity_counter(latest).unwrap_or(0);
    let cc = match c.last_out {
        Some(last) => last.wrapping_add(1) & 0x0F,
        None => own.wrapping_add(c.shift) & 0x0F,
    };
    c.shift = cc.wrapping_sub(own) & 0x0F;
    c.last_out = Some(cc);
    cc
}

/// Writes a PAT or PMT copy with counter `cc` (continuous: never flagged).
fn push_copy(b: &mut Building, latest: &[u8; PACKET_LEN], cc: u8) {
    let mut p = *latest;
    mpegts::set_continuity_counter(&mut p, cc);
    b.flagged.push(mpegts::pid(&p).unwrap_or(PID_PAT));
    b.buf.extend_from_slice(&p);
}

/// In a segment after a seam, puts an adaptation-only packet with the
/// discontinuity_indicator before the first packet of each PID, with the
/// counter that packet expects before it.
fn flag_first(b: &mut Building, next: &[u8], pid: u16) {
    if !b.discontinuity || b.flagged.contains(&pid) {
        return;
    }
    b.flagged.push(pid);
    if mpegts::discontinuity_indicator(next) {
        return;
    }
    let cc = mpegts::continuity_counter(next).unwrap_or(0);
    let cc = if mpegts::has_payload(next) {
        cc.wrapping_sub(1) & 0x0F
    } else {
        cc
    };
    let mut p = [0xFFu8; PACKET_LEN];
    p[0] = SYNC_BYTE;
    p[1] = next[1] & 0x1F;
    p[2] = next[2];
    p[3] = 0x20 | cc;
    p[4] = (PACKET_LEN - 5) as u8;
    p[5] = 0x80;
    b.buf.extend_from_slice(&p);
}

#[cfg(test)]
mod tests;
