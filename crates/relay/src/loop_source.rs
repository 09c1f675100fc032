//! An endless live channel made from one short MPEG-TS clip.
//!
//! `tvgate demo` needs live channels without any upstream: it loops a small
//! bundled clip ([`demo_clip`]). Sending the same bytes again and again is
//! not a valid transport stream, and players notice at every loop point:
//!
//! * **Continuity counters.** Every packet carries a 4-bit counter that must
//!   advance by one per payload-bearing packet of its PID. Restarting the
//!   clip makes it jump, which demuxers report as "continuity check failed"
//!   and flag the packets as corrupt ("Packet corrupt"), dropping or
//!   concealing the frames.
//! * **Timestamps.** PTS/DTS (90 kHz) and the PCR (27 MHz) would jump back by
//!   the clip's length: non-monotonic DTS, a decoder clock reset, A/V sync
//!   recovery. So loop `n` has all of them shifted forward by `n * D`, where
//!   `D` is the clip duration computed from the clip itself: for each PID the
//!   timestamp span plus one frame duration (the smallest step between
//!   consecutive timestamps), the largest over all PIDs. With video and audio
//!   ending together, timestamps then advance across the loop point exactly
//!   as within the clip. PTS/DTS and the PCR base are 33-bit counters; the
//!   shift wraps them like an encoder would after ~26.5 hours.
//! * **Pacing.** A live source delivers media in real time. The stream sends
//!   each packet at its PCR time (interpolated between PCRs), ahead by a small
//!   lead ([`Pacing::lead`]): a burst of about one second when a viewer
//!   starts, so players fill their buffer quickly, then real time.
//!
//! Requirements on the clip (see `assets/make_demo_clip.sh`): whole 188-byte
//! packets, one program with PCRs, PAT/PMT and a keyframe at the start,
//! closed GOPs (the loop point must be a clean random-access point), and one
//! access unit per PES packet (ffmpeg: `-pes_payload_size 0`), since the last
//! frame's duration is inferred from the timestamp step.
//!
//! * **Seams.** Between two loops the stream carries a seam marker
//!   ([`crate::segmenter::seam_marker`], a null packet players drop): the
//!   HLS segmenter starts a segment there and marks it
//!   `#EXT-X-DISCONTINUITY`, since the encoder's state starts over.
//!
//! [`LoopClip::render_loop`] is the reusable, clock-free part: it yields the
//! rewritten packets of loop `n`, so a shared fan-out relay can render each
//! loop once for all its viewers. [`LoopStream`] adds the pacing for one
//! viewer.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::Stream;
use tokio::time::{Instant, Sleep};
use tvgate_formats::mpegts::{self, PACKET_LEN, PCR_HZ, PTS_HZ, PTS_MODULUS};

/// The clip `tvgate demo` loops: 6.4 s of H.264 640x360 + AAC test pattern,
/// made by `assets/make_demo_clip.sh`.
pub fn demo_clip() -> Bytes {
    Bytes::from_static(include_bytes!("../../../assets/demo.ts"))
}

/// Why a clip cannot be looped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoopError {
    /// No bytes at all.
    #[error("clip is empty")]
    Empty,
    /// The length is not a whole number of packets.
    #[error("clip length {0} is not a whole number of 188-byte packets")]
    PartialPacket(usize),
    /// A packet does not start with the sync byte.
    #[error("packet {index} (byte {offset}) does not start with the sync byte 0x47")]
    LostSync {
        /// Packet index.
        index: usize,
        /// Byte offset of the packet.
        offset: usize,
    },
    /// No PCR: nothing to pace the output by.
    #[error("clip carries no PCR")]
    NoPcr,
    /// The PCR goes backwards within the clip.
    #[error("PCR goes backwards at packet {0}")]
    PcrBackwards(usize),
    /// No PES packet with a PTS.
    #[error("clip carries no PES timestamps")]
    NoTimestamps,
    /// The duration computed from the timestamps is zero or absurdly long.
    #[error("clip duration of {0} ticks (90 kHz) cannot be looped")]
    BadDuration(u64),
}

/// Longest loopable clip: well inside the half range of the 33-bit clock
/// (needed to tell forward from backward), ~3.3 hours.
const MAX_DURATION_TICKS: u64 = PTS_MODULUS / 8;

/// A validated clip, ready to be looped. Cheap to clone (shared).
#[derive(Clone)]
pub struct LoopClip {
    inner: Arc<Inner>,
}

struct Inner {
    /// The clip, with continuity counters made continuous per PID.
    packets: Bytes,
    /// Per packet: time to send it, in 27 MHz ticks after the first PCR.
    send_at: Vec<u64>,
    /// Per PID (index = PID): how far its counter advances per loop (mod 16).
    cc_step: Vec<u8>,
    /// Loop period in 90 kHz ticks.
    duration: u64,
}

impl fmt::Debug for LoopClip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoopClip")
            .field("bytes", &self.inner.packets.len())
            .field("duration", &self.duration())
            .finish()
    }
}

/// Per-PID timestamp extent, relative to the PID's first decode time.
#[derive(Default)]
struct Extent {
    reference: Option<u64>,
    last_decode: i64,
    /// (min, max) of decode times and of presentation times.
    decode: Option<(i64, i64)>,
    present: Option<(i64, i64)>,
    /// Smallest positive step between consecutive decode times.
    step: Option<i64>,
}

impl Extent {
    fn add(&mut self, ts: mpegts::PesTimestamps) {
        let Some(decode) = ts.decode_time() else {
            return;
        };
        let reference = *self.reference.get_or_insert(decode);
        let rel = |v: u64| mpegts::pts_diff(reference, v);
        let d = rel(decode);
        let p = ts.pts.map_or(d, rel);
        if d > self.last_decode {
            let step = d - self.last_decode;
            self.step = Some(self.step.map_or(step, |s| s.min(step)));
        }
        self.last_decode = d;
        let widen = |r: Option<(i64, i64)>, v: i64| {
            Some(r.map_or((v, v), |(lo, hi)| (lo.min(v), hi.max(v))))
        };
        self.decode = widen(self.decode, d);
        self.present = widen(self.present, p);
    }

    /// Time this PID needs per loop: the larger of its decode and
    /// presentation spans, plus one frame.
    fn period(&self) -> Option<i64> {
        let (d, p) = (self.decode?, self.present?);
        let span = (d.1 - d.0).max(p.1 - p.0);
        Some(span + self.step.unwrap_or(0))
    }
}

impl LoopClip {
    /// Validates `clip` and computes what looping needs: duration, per-PID
    /// continuity steps, per-packet send times.
    pub fn parse(clip: Bytes) -> Result<LoopClip, LoopError> {
        if clip.is_empty() {
            return Err(LoopError::Empty);
        }
        if clip.len() % PACKET_LEN != 0 {
            return Err(LoopError::PartialPacket(clip.len()));
        }
        let mut packets = BytesMut::from(&clip[..]);
        let count = clip.len() / PACKET_LEN;
        let pids = usize::from(mpegts::PID_MAX) + 1;
        let mut last_cc: Vec<Option<u8>> = vec![None; pids];
        let mut payload_packets = vec![0u64; pids];
        let mut extents: Vec<Extent> = Vec::new();
        let mut extent_of: Vec<Option<usize>> = vec![None; pids];
        // (packet index, PCR relative to the first one); PCRs of the first
        // PCR PID only.
        let mut pcrs: Vec<(usize, u64)> = Vec::new();
        let mut pcr_pid = None;
        let mut first_pcr = 0;
        let mut seen_pat = false;
        let mut warned_start = false;

        for (index, pkt) in packets.chunks_exact_mut(PACKET_LEN).enumerate() {
            let Some(pid) = mpegts::pid(pkt) else {
                return Err(LoopError::LostSync {
                    index,
                    offset: index * PACKET_LEN,
                });
            };
            let p = usize::from(pid);
            seen_pat |= pid == mpegts::PID_PAT;

            // Make the counters continuous within the clip, so that a
            // constant per-loop step keeps them continuous across loops.
            if pid != mpegts::PID_NULL {
                let cc = mpegts::continuity_counter(pkt).unwrap_or(0);
                let fixed = match (last_cc[p], mpegts::has_payload(pkt)) {
                    (Some(prev), true) => (prev + 1) & 0x0F,
                    (Some(prev), false) => prev,
                    (None, _) => cc,
                };
                if fixed != cc {
                    tracing::debug!(index, pid, cc, fixed, "loop clip: continuity counter fixed");
                    mpegts::set_continuity_counter(pkt, fixed);
                }
                last_cc[p] = Some(fixed);
                if mpegts::has_payload(pkt) {
                    payload_packets[p] += 1;
                }
            }

            if let Some(v) = mpegts::pcr(pkt) {
                match pcr_pid {
                    None => {
                        pcr_pid = Some(pid);
                        first_pcr = v;
                        pcrs.push((index, 0));
                    }
                    Some(pp) if pp == pid => {
                        let prev = pcrs.last().map_or(0, |&(_, r)| r);
                        let step = mpegts::pcr_diff(first_pcr, v) - prev as i64;
                        if step < 0 {
                            return Err(LoopError::PcrBackwards(index));
                        }
                        pcrs.push((index, prev + step as u64));
                    }
                    Some(_) => {}
                }
            }

            if let Some(ts) = mpegts::pes_timestamps(pkt) {
                if ts.pts.is_some() {
                    if !warned_start {
                        warned_start = true;
                        if !seen_pat {
                            tracing::warn!("loop clip: first PES packet comes before any PAT");
                        }
                        if !mpegts::random_access_indicator(pkt) {
                            tracing::warn!(
                                pid,
                                "loop clip: does not start at a random-access point"
                            );
                        }
                    }
                    let e = *extent_of[p].get_or_insert_with(|| {
                        extents.push(Extent::default());
                        extents.len() - 1
                    });
                    extents[e].add(ts);
                }
            }
        }

        if pcrs.is_empty() {
            return Err(LoopError::NoPcr);
        }
        let pes_period = extents
            .iter()
            .filter_map(Extent::period)
            .max()
            .ok_or(LoopError::NoTimestamps)?;
        let pcr_span = pcrs.last().map_or(0, |&(_, r)| r);
        // The next loop's first PCR must come after this loop's last one.
        let duration = u64::try_from(pes_period)
            .unwrap_or(0)
            .max(pcr_span / 300 + 1);
        if pes_period <= 0 || duration >= MAX_DURATION_TICKS {
            return Err(LoopError::BadDuration(duration));
        }

        let mut cc_step = vec![0u8; pids];
        for (step, n) in cc_step.iter_mut().zip(&payload_packets) {
            *step = (n % 16) as u8;
        }

        let send_at = interpolate_send_times(count, &pcrs);
        tracing::debug!(
            packets = count,
            duration_ticks = duration,
            pcr_span_ticks = pcr_span / 300,
            "loop clip parsed"
        );
        Ok(LoopClip {
            inner: Arc::new(Inner {
                packets: packets.freeze(),
                send_at,
                cc_step,
                duration,
            }),
        })
    }

    /// Loop period (the clip's duration as computed from its timestamps).
    pub fn duration(&self) -> Duration {
        ticks_to_duration(u128::from(self.inner.duration) * 300)
    }

    /// Loop period in 90 kHz ticks: loop `n` is shifted by `n` times this.
    pub fn duration_ticks(&self) -> u64 {
        self.inner.duration
    }

    /// Number of 188-byte packets per loop.
    pub fn packet_count(&self) -> usize {
        self.inner.send_at.len()
    }

    /// The packets of loop `n` (0 = the clip as parsed), rewritten to follow
    /// loop `n - 1` seamlessly: continuity counters advanced, PCR and PTS/DTS
    /// shifted by `n` times the duration. Pure: no clock involved.
    pub fn render_loop(&self, n: u64) -> Bytes {
        let inner = &*self.inner;
        if n == 0 {
            return inner.packets.clone();
        }
        let shift = ((u128::from(n) * u128::from(inner.duration)) % u128::from(PTS_MODULUS)) as u64;
        let loops_mod16 = (n % 16) as u8;
        let mut out = BytesMut::from(&inner.packets[..]);
        for pkt in out.chunks_exact_mut(PACKET_LEN) {
            let Some(pid) = mpegts::pid(pkt) else {
                continue;
            };
            let step = inner.cc_step.get(usize::from(pid)).copied().unwrap_or(0);
            if step != 0 {
                let cc = mpegts::continuity_counter(pkt).unwrap_or(0);
                mpegts::set_continuity_counter(
                    pkt,
                    cc.wrapping_add(step.wrapping_mul(loops_mod16)),
                );
            }
            if shift != 0 {
                mpegts::shift_timestamps(pkt, shift);
            }
        }
        out.freeze()
    }

    /// All loops back to back, as fast as the caller pulls: loop 0, 1, 2...
    pub fn loops(&self) -> impl Iterator<Item = Bytes> + Send + 'static {
        let clip = self.clone();
        (0u64..).map(move |n| clip.render_loop(n))
    }

    /// An endless, real-time paced viewer stream with the default [`Pacing`].
    pub fn stream(&self) -> LoopStream {
        self.stream_with(Pacing::default())
    }

    /// An endless viewer stream paced as configured. Each call is independent;
    /// its clock starts when it is first polled.
    pub fn stream_with(&self, pacing: Pacing) -> LoopStream {
        let min = pacing.min_chunk_packets.max(1);
        LoopStream {
            clip: self.clone(),
            lead: pacing.lead,
            min_chunk: min,
            max_chunk: pacing.max_chunk_packets.max(min),
            loop_index: 0,
            next_packet: 0,
            current: self.render_loop(0),
            start: None,
            sleep: None,
        }
    }

    /// Media time at which packet `i` of loop `n` is due, from stream start.
    fn media_time(&self, n: u64, i: usize) -> Duration {
        let inner = &*self.inner;
        let offset = inner.send_at.get(i).copied().unwrap_or(0);
        let ticks = u128::from(n) * u128::from(inner.duration) * 300 + u128::from(offset);
        ticks_to_duration(ticks)
    }
}

/// Send time of every packet: its PCR position, linearly interpolated between
/// PCRs by packet index; before the first PCR 0, after the last one the last.
fn interpolate_send_times(count: usize, pcrs: &[(usize, u64)]) -> Vec<u64> {
    let mut out = vec![0u64; count];
    for w in pcrs.windows(2) {
        let ((a, ta), (b, tb)) = (w[0], w[1]);
        let span = (b - a) as u64;
        for (k, slot) in out[a..b].iter_mut().enumerate() {
            *slot = ta + (tb - ta) * k as u64 / span.max(1);
        }
    }
    if let Some(&(last, t)) = pcrs.last() {
        for slot in &mut out[last..] {
            *slot = t;
        }
    }
    out
}

fn ticks_to_duration(ticks_27mhz: u128) -> Duration {
    let nanos = ticks_27mhz * 1_000_000_000 / u128::from(PCR_HZ);
    let secs = u64::try_from(nanos / 1_000_000_000).unwrap_or(u64::MAX);
    Duration::new(secs, (nanos % 1_000_000_000) as u32)
}

// PCR_HZ is PTS_HZ * 300; the code above relies on it.
const _: () = assert!(PCR_HZ == PTS_HZ * 300);

/// How a [`LoopStream`] paces its output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pacing {
    /// How far ahead of real time packets are sent (the initial burst).
    pub lead: Duration,
    /// Smallest chunk, in packets (the last chunk of a loop may be smaller).
    pub min_chunk_packets: usize,
    /// Largest chunk, in packets, when catching up (start burst, slow reader).
    pub max_chunk_packets: usize,
}

impl Default for Pacing {
    fn default() -> Self {
        Pacing {
            lead: Duration::from_secs(1),
            min_chunk_packets: 7,
            max_chunk_packets: 348, // 65424 bytes
        }
    }
}

/// One viewer's endless, paced stream of a [`LoopClip`]; see
/// [`LoopClip::stream`]. Items are whole packets (multiples of 188 bytes).
pub struct LoopStream {
    clip: LoopClip,
    lead: Duration,
    min_chunk: usize,
    max_chunk: usize,
    loop_index: u64,
    next_packet: usize,
    current: Bytes,
    start: Option<Instant>,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl fmt::Debug for LoopStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoopStream")
            .field("loop_index", &self.loop_index)
            .field("next_packet", &self.next_packet)
            .finish_non_exhaustive()
    }
}

impl LoopStream {
    fn due(&self, start: Instant, i: usize) -> Instant {
        let at = self
            .clip
            .media_time(self.loop_index, i)
            .saturating_sub(self.lead);
        start
            .checked_add(at)
            .unwrap_or_else(|| start + Duration::from_secs(86_400 * 365))
    }
}

impl Stream for LoopStream {
    type Item = Bytes;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        let this = self.get_mut();
        let start = *this.start.get_or_insert_with(Instant::now);
        let count = this.clip.packet_count();
        if this.next_packet >= count {
            this.loop_index += 1;
            this.next_packet = 0;
            this.current = this.clip.render_loop(this.loop_index);
            // The clip starts again: a new encoding as far as HLS is
            // concerned. Demuxers drop the marker (a null packet).
            return Poll::Ready(Some(crate::segmenter::seam_marker()));
        }
        let first = this.next_packet;
        let due = this.due(start, first);
        if Instant::now() < due {
            let sleep = this
                .sleep
                .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(due)));
            if sleep.deadline() != due {
                sleep.as_mut().reset(due);
            }
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
        }
        let now = Instant::now();
        let mut end = (first + this.min_chunk).min(count);
        while end < count && end - first < this.max_chunk && this.due(start, end) <= now {
            end += 1;
        }
        this.next_packet = end;
        Poll::Ready(Some(
            this.current.slice(first * PACKET_LEN..end * PACKET_LEN),
        ))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (usize::MAX, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt(pid: u16, cc: u8) -> [u8; PACKET_LEN] {
        let mut p = [0xFFu8; PACKET_LEN];
        p[0] = 0x47;
        p[1] = (pid >> 8) as u8;
        p[2] = pid as u8;
        p[3] = 0x10 | cc;
        p
    }

    #[test]
    fn rejects_malformed_clips() {
        assert_eq!(LoopClip::parse(Bytes::new()).unwrap_err(), LoopError::Empty);
        assert_eq!(
            LoopClip::parse(Bytes::from(vec![0x47; 200])).unwrap_err(),
            LoopError::PartialPacket(200)
        );
        let mut two = pkt(0x100, 0).to_vec();
        let mut bad = pkt(0x100, 1);
        bad[0] = 0x48;
        two.extend_from_slice(&bad);
        assert_eq!(
            LoopClip::parse(Bytes::from(two)).unwrap_err(),
            LoopError::LostSync {
                index: 1,
                offset: 188
            }
        );
        let plain: Vec<u8> = (0..4).flat_map(|i| pkt(0x100, i)).collect();
        assert_eq!(
            LoopClip::parse(Bytes::from(plain)).unwrap_err(),
            LoopError::NoPcr
        );
    }

    #[test]
    fn rejects_clip_without_timestamps() {
        // Keep only PAT/PMT/SDT and the PCR-only adaptation field of the
        // demo clip's packets: PCRs but no PES timestamps.
        let demo = demo_clip();
        let mut v = Vec::new();
        for p in demo.chunks_exact(PACKET_LEN) {
            let mut p = p.to_vec();
            if mpegts::payload_unit_start(&p) && mpegts::pes_timestamps(&p).is_some() {
                let at = mpegts::payload_offset(&p).unwrap();
                p[at] = 0xAA; // no longer a PES start code
            }
            v.extend_from_slice(&p);
        }
        assert_eq!(
            LoopClip::parse(Bytes::from(v)).unwrap_err(),
            LoopError::NoTimestamps
        );
    }

    #[test]
    fn demo_clip_properties() {
        let clip = LoopClip::parse(demo_clip()).unwrap();
        assert!(demo_clip().len() < 1 << 20);
        // 160 frames at 25 fps = 300 AAC frames at 48 kHz.
        assert_eq!(clip.duration_ticks(), 576_000);
        assert_eq!(clip.duration(), Duration::from_millis(6400));
        assert_eq!(clip.packet_count() * PACKET_LEN, demo_clip().len());
        // Loop 0 is the clip itself (it already has continuous counters).
        assert_eq!(clip.render_loop(0), demo_clip());
        // It starts with PSI, and the first PES is a keyframe.
        let first = demo_clip();
        let first_pes = first
            .chunks_exact(PACKET_LEN)
            .find(|p| mpegts::pes_timestamps(p).is_some())
            .unwrap();
        assert!(mpegts::is_keyframe_start(first_pes));
    }

    #[test]
    fn render_loop_shifts_timestamps_and_counters() {
        let clip = LoopClip::parse(demo_clip()).unwrap();
        let l0 = clip.render_loop(0);
        let l17 = clip.render_loop(17);
        let d = clip.duration_ticks();
        for (a, b) in l0
            .chunks_exact(PACKET_LEN)
            .zip(l17.chunks_exact(PACKET_LEN))
        {
            assert_eq!(mpegts::pid(a), mpegts::pid(b));
            if let Some(pa) = mpegts::pcr(a) {
                assert_eq!(
                    mpegts::pcr_diff(pa, mpegts::pcr(b).unwrap()),
                    (17 * d * 300) as i64
                );
            }
            if let Some(ta) = mpegts::pes_timestamps(a) {
                let tb = mpegts::pes_timestamps(b).unwrap();
                assert_eq!(tb.pts, ta.pts.map(|v| mpegts::pts_add(v, 17 * d)));
                assert_eq!(tb.dts, ta.dts.map(|v| mpegts::pts_add(v, 17 * d)));
            }
            // Payloads other than the timestamp fields are untouched.
            assert_eq!(a[..3], b[..3]);
        }
    }

    #[test]
    fn fixes_discontinuous_counters_in_the_clip() {
        let demo = demo_clip();
        let mut v = demo.to_vec();
        // Scramble the counters of the first audio packets.
        let mut scrambled = 0;
        for p in v.chunks_exact_mut(PACKET_LEN) {
            if mpegts::pid(p) == Some(0x101) && scrambled < 10 {
                mpegts::set_continuity_counter(p, 7 * scrambled as u8);
                scrambled += 1;
            }
        }
        let clip = LoopClip::parse(Bytes::from(v)).unwrap();
        let mut last = None;
        for n in 0..3 {
            for p in clip.render_loop(n).chunks_exact(PACKET_LEN) {
                if mpegts::pid(p) == Some(0x101) {
                    let cc = mpegts::continuity_counter(p).unwrap();
                    if let Some(prev) = last {
                        assert_eq!(cc, (prev + 1) & 0x0F);
                    }
                    last = Some(cc);
                }
            }
        }
    }

    #[test]
    fn stream_can_be_moved_to_a_task_or_a_response_body() {
        fn check<T: Stream<Item = Bytes> + Send + Sync + Unpin + 'static>(_: &T) {}
        let clip = LoopClip::parse(demo_clip()).unwrap();
        check(&clip.stream()); // no runtime needed to create it
        fn shared<T: Send + Sync + Clone + 'static>(_: &T) {}
        shared(&clip);
    }

    #[test]
    fn send_times_interpolate_between_pcrs() {
        let t = interpolate_send_times(8, &[(2, 0), (4, 100), (6, 300)]);
        assert_eq!(t, vec![0, 0, 0, 50, 100, 200, 300, 300]);
    }
}
