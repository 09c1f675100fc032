use super::*;
use crate::loop_source::{demo_clip, LoopClip};
use std::collections::HashMap;
use std::time::UNIX_EPOCH;

const VIDEO: u16 = 0x100;
const AUDIO: u16 = 0x101;
const PMT_PID: u16 = 0x1000;

/// Feeds `stream` in chunks of `per` packets, the clock following the
/// media: each chunk arrives at the decode time of the last frame start in
/// it (the pace of a live source).
fn cut_all(cutter: &mut Cutter, stream: &[u8], per: usize) -> Vec<Cut> {
    let mut out = Vec::new();
    let mut clock = Duration::ZERO;
    let mut base: Option<u64> = None;
    for chunk in stream.chunks(per * PACKET_LEN) {
        for pkt in chunk.chunks_exact(PACKET_LEN) {
            if let Some(t) = mpegts::pes_timestamps(pkt).and_then(|t| t.decode_time()) {
                let b = *base.get_or_insert(t);
                let d = mpegts::pts_diff(b, t);
                if d > 0 {
                    clock = clock.max(from_ticks(d as u64, PTS_HZ));
                }
            }
        }
        out.extend(cutter.push(chunk, clock, UNIX_EPOCH + clock));
    }
    out
}

fn packets(b: &[u8]) -> Vec<&[u8]> {
    b.chunks_exact(PACKET_LEN).collect()
}

/// Checks a segment's start: PAT, PMT, then (past the flags of a
/// discontinuous segment) a keyframe of the video.
fn assert_starts_right(cut: &Cut, i: usize) {
    let p = packets(&cut.bytes);
    assert_eq!(p[0][0], SYNC_BYTE, "segment {i}");
    assert_eq!(
        mpegts::pid(p[0]),
        Some(PID_PAT),
        "segment {i} starts with the PAT"
    );
    assert!(mpegts::payload_unit_start(p[0]));
    assert_eq!(mpegts::pid(p[1]), Some(PMT_PID), "then the PMT");
    assert!(mpegts::payload_unit_start(p[1]));
    let first_video = p
        .iter()
        .find(|q| mpegts::pid(q) == Some(VIDEO) && mpegts::has_payload(q))
        .expect("video");
    assert!(
        mpegts::starts_keyframe(first_video, 0x1B),
        "segment {i}: the video starts with a keyframe"
    );
    // Nothing but PAT/PMT and flags before that keyframe.
    for q in p.iter().take_while(|q| !std::ptr::eq(**q, *first_video)) {
        let pid = mpegts::pid(q).unwrap_or(0);
        assert!(
            pid == PID_PAT || pid == PMT_PID || !mpegts::has_payload(q),
            "segment {i}: pid {pid:#x} before the keyframe"
        );
    }
}

/// What a demuxer checks: the continuity counter of each pid goes up by
/// one per payload packet, except where the discontinuity_indicator says.
fn continuity_errors(stream: &[u8]) -> Vec<String> {
    let mut last: HashMap<u16, u8> = HashMap::new();
    let mut errors = Vec::new();
    for (i, p) in packets(stream).into_iter().enumerate() {
        let Some(pid) = mpegts::pid(p) else {
            errors.push(format!("packet {i}: no sync"));
            continue;
        };
        if pid == PID_NULL {
            continue;
        }
        let cc = mpegts::continuity_counter(p).unwrap_or(0);
        if let Some(&prev) = last.get(&pid) {
            let want = if mpegts::has_payload(p) {
                (prev + 1) & 0x0F
            } else {
                prev
            };
            if cc != want && !mpegts::discontinuity_indicator(p) {
                errors.push(format!("packet {i} pid {pid:#x}: cc {cc}, expected {want}"));
            }
        }
        last.insert(pid, cc);
    }
    errors
}

fn demo_loops(n: u64, seams: bool) -> Vec<u8> {
    let clip = LoopClip::parse(demo_clip()).expect("demo clip");
    let mut out = Vec::new();
    for i in 0..n {
        if seams && i > 0 {
            out.extend_from_slice(&seam_marker());
        }
        out.extend_from_slice(&clip.render_loop(i));
    }
    out
}

fn secs(c: &Cut) -> f64 {
    c.duration.as_secs_f64()
}

#[test]
fn the_seam_marker_is_a_null_packet() {
    let m = seam_marker();
    assert_eq!(m.len(), PACKET_LEN);
    assert_eq!(mpegts::pid(&m), Some(PID_NULL));
    assert!(is_seam_marker(&m));
    assert!(!is_seam_marker(&demo_clip()[..PACKET_LEN]));
}

#[test]
fn a_continuous_stream_is_cut_at_keyframes_near_the_target() {
    let stream = demo_loops(4, false);
    let mut cutter = Cutter::new(CutConfig::new(Duration::from_secs(4)), "t");
    let cuts = cut_all(&mut cutter, &stream, 7);
    // 25.6 s of media, keyframes every 1.28 s: cut every third one, 3.84 s.
    assert_eq!(
        cuts.len(),
        6,
        "{:?}",
        cuts.iter().map(secs).collect::<Vec<_>>()
    );
    for (i, c) in cuts.iter().enumerate() {
        assert_starts_right(c, i);
        assert!((secs(c) - 3.84).abs() < 1e-3, "segment {i}: {} s", secs(c));
        assert_eq!(c.timing, Timing::Pts);
        assert!(!c.discontinuity && c.keyframe);
    }
    let all: Vec<u8> = cuts.iter().flat_map(|c| c.bytes.to_vec()).collect();
    assert_eq!(continuity_errors(&all), Vec::<String>::new());
    assert_eq!(cutter.forced_cuts(), 0);
}

#[test]
fn the_loop_seam_starts_a_discontinuous_segment() {
    let stream = demo_loops(4, true);
    let mut cutter = Cutter::new(CutConfig::new(Duration::from_secs(4)), "t");
    let cuts = cut_all(&mut cutter, &stream, 7);
    // Each loop of 6.4 s: 3.84 s, then the 2.56 s up to the seam.
    let got: Vec<(f64, bool)> = cuts
        .iter()
        .map(|c| ((secs(c) * 100.0).round() / 100.0, c.discontinuity))
        .collect();
    assert_eq!(
        got,
        vec![
            (3.84, false),
            (2.56, false),
            (3.84, true),
            (2.56, false),
            (3.84, true),
            (2.56, false),
            (3.84, true),
        ]
    );
    for (i, c) in cuts.iter().enumerate() {
        assert_starts_right(c, i);
    }
    let all: Vec<u8> = cuts.iter().flat_map(|c| c.bytes.to_vec()).collect();
    assert_eq!(continuity_errors(&all), Vec::<String>::new());
    assert!(
        !packets(&all).iter().any(|p| is_seam_marker(p)),
        "the marker stays out of the segments"
    );
}

#[test]
fn keyframes_are_found_when_the_source_does_not_flag_them() {
    let mut stream = demo_loops(3, false);
    for p in stream.chunks_exact_mut(PACKET_LEN) {
        if mpegts::adaptation_field(p).is_some_and(|af| !af.is_empty()) {
            p[5] &= !0x40; // random_access_indicator off
        }
    }
    let mut cutter = Cutter::new(CutConfig::new(Duration::from_secs(4)), "t");
    let cuts = cut_all(&mut cutter, &stream, 50);
    assert_eq!(cuts.len(), 4);
    for (i, c) in cuts.iter().enumerate() {
        assert_starts_right(c, i);
        assert!((secs(c) - 3.84).abs() < 1e-3);
    }
}

/// A synthetic program: PAT, PMT (H.264 on VIDEO, AAC on AUDIO, PCR on
/// VIDEO) and frames of three packets.
#[derive(Default)]
struct Synth {
    cc: HashMap<u16, u8>,
    out: Vec<u8>,
}

impl Synth {
    fn header(&mut self, pid: u16, start: bool, afc: u8) -> [u8; PACKET_LEN] {
        let cc = self.cc.entry(pid).or_insert(15);
        if afc & 1 != 0 {
            *cc = (*cc + 1) & 0x0F;
        }
        let mut p = [0xFFu8; PACKET_LEN];
        p[0] = SYNC_BYTE;
        p[1] = (u8::from(start) << 6) | (pid >> 8) as u8;
        p[2] = pid as u8;
        p[3] = (afc << 4) | *cc;
        p
    }

    fn psi(&mut self, pid: u16, sec: &[u8]) {
        let mut p = self.header(pid, true, 0b01);
        p[4] = 0;
        p[5..5 + sec.len()].copy_from_slice(sec);
        self.out.extend_from_slice(&p);
    }

    fn tables(&mut self) {
        self.psi(
            PID_PAT,
            &[
                0x00, 0xB0, 13, 0, 1, 0xC1, 0, 0, 0, 1, 0xF0, 0x00, 0, 0, 0, 0,
            ],
        );
        self.psi(
            PMT_PID,
            &[
                0x02, 0xB0, 23, 0, 1, 0xC1, 0, 0, 0xE1, 0x00, 0xF0, 0x00, 0x1B, 0xE1, 0x00, 0xF0,
                0x00, 0x0F, 0xE1, 0x01, 0xF0, 0x00, 0, 0, 0, 0,
            ],
        );
    }

    /// A video frame decoded at `dts` (None: a PES header without
    /// timestamps), with a PCR when `pcr` is set.
    fn frame(&mut self, dts: Option<u64>, key: bool, flag: bool, pcr: Option<u64>) {
        let mut p = self.header(VIDEO, true, 0b11);
        let mut at = 4;
        if flag || pcr.is_some() {
            let len = if pcr.is_some() { 7 } else { 1 };
            p[4] = len;
            p[5] = (u8::from(flag) << 6) | (u8::from(pcr.is_some()) << 4);
            if let Some(v) = pcr {
                let base = v / 300;
                p[6] = (base >> 25) as u8;
                p[7] = (base >> 17) as u8;
                p[8] = (base >> 9) as u8;
                p[9] = (base >> 1) as u8;
                p[10] = ((base as u8 & 1) << 7) | 0x7E;
                p[11] = 0;
            }
            at = 5 + usize::from(len);
        } else {
            p[3] = (p[3] & 0xCF) | 0x10; // payload only
        }
        let mut h = vec![0x00, 0x00, 0x01, 0xE0, 0x00, 0x00, 0x80];
        match dts {
            Some(d) => {
                h.extend([0x80, 5]);
                let ts = d;
                h.extend([
                    0x21 | (((ts >> 30) as u8 & 7) << 1),
                    (ts >> 22) as u8,
                    (((ts >> 15) as u8) << 1) | 1,
                    (ts >> 7) as u8,
                    ((ts as u8) << 1) | 1,
                ]);
            }
            None => h.extend([0x00, 0]),
        }
        h.extend([
            0,
            0,
            0,
            1,
            0x09,
            0xF0,
            0,
            0,
            1,
            if key { 0x65 } else { 0x41 },
        ]);
        p[at..at + h.len()].copy_from_slice(&h);
        self.out.extend_from_slice(&p);
        for _ in 0..2 {
            let q = self.header(VIDEO, false, 0b01);
            self.out.extend_from_slice(&q);
        }
        let a = self.header(AUDIO, false, 0b01);
        self.out.extend_from_slice(&a);
    }

    /// `secs` of 25 fps video from `dts0`, a keyframe every `gop` frames
    /// (0: never), PAT and PMT before each keyframe and every second.
    fn video(&mut self, dts0: u64, secs: u64, gop: u64, flag: bool, timestamps: bool, pcr: bool) {
        for f in 0..secs * 25 {
            let key = gop != 0 && f % gop == 0;
            if key || f % 25 == 0 {
                self.tables();
            }
            let dts = dts0 + f * 3600;
            self.frame(
                timestamps.then_some(dts),
                key,
                flag && key,
                pcr.then_some(dts * 300),
            );
        }
    }
}

/// Feeds `stream` with a clock advancing 40 ms per video frame start.
fn cut_by_frames(cutter: &mut Cutter, stream: &[u8]) -> Vec<Cut> {
    let mut out = Vec::new();
    let mut frames = 0u64;
    for pkt in stream.chunks_exact(PACKET_LEN) {
        if mpegts::pid(pkt) == Some(VIDEO) && mpegts::payload_unit_start(pkt) {
            frames += 1;
        }
        let clock = Duration::from_millis(40 * frames);
        out.extend(cutter.push(pkt, clock, UNIX_EPOCH + clock));
    }
    out
}

#[test]
fn a_stream_without_keyframes_is_cut_at_the_longest_duration() {
    let mut s = Synth::default();
    s.video(1_000_000, 40, 0, false, true, true);
    let mut cutter = Cutter::new(CutConfig::new(Duration::from_secs(4)), "t");
    let cuts = cut_by_frames(&mut cutter, &s.out);
    // Waits 12 s for a keyframe, then cuts every 12 s.
    assert_eq!(
        cuts.len(),
        2,
        "{:?}",
        cuts.iter().map(secs).collect::<Vec<_>>()
    );
    for c in &cuts {
        assert!(!c.keyframe);
        assert!((secs(c) - 12.0).abs() < 1e-3, "{}", secs(c));
        let p = packets(&c.bytes);
        assert_eq!(
            mpegts::pid(p[0]),
            Some(PID_PAT),
            "tables first all the same"
        );
        assert_eq!(mpegts::pid(p[1]), Some(PMT_PID));
    }
    assert_eq!(cutter.forced_cuts(), 3, "the third is being filled");
}

#[test]
fn a_long_gop_makes_longer_segments_and_keyframes_win_over_the_clock() {
    let mut s = Synth::default();
    // A keyframe every 5 s: 5 s segments, never cut in between.
    s.video(0, 31, 125, true, true, true);
    let mut cutter = Cutter::new(CutConfig::new(Duration::from_secs(4)), "t");
    let cuts = cut_by_frames(&mut cutter, &s.out);
    assert_eq!(cuts.len(), 6);
    assert!(cuts
        .iter()
        .all(|c| (secs(c) - 5.0).abs() < 1e-3 && c.keyframe));
    let all: Vec<u8> = cuts.iter().flat_map(|c| c.bytes.to_vec()).collect();
    assert_eq!(continuity_errors(&all), Vec::<String>::new());
}

#[test]
fn a_jump_of_the_timestamps_is_a_seam() {
    let mut s = Synth::default();
    s.video(900_000, 10, 25, true, true, true);
    // The source restarts: timestamps from near zero.
    s.video(9_000, 10, 25, true, true, true);
    let mut cutter = Cutter::new(CutConfig::new(Duration::from_secs(4)), "t");
    let cuts = cut_by_frames(&mut cutter, &s.out);
    let got: Vec<(u64, bool)> = cuts
        .iter()
        .map(|c| (c.duration.as_millis() as u64, c.discontinuity))
        .collect();
    assert_eq!(
        got,
        vec![
            (4_000, false),
            (4_000, false),
            (2_000, false),
            (4_000, true),
            (4_000, false)
        ]
    );
    let all: Vec<u8> = cuts.iter().flat_map(|c| c.bytes.to_vec()).collect();
    assert_eq!(continuity_errors(&all), Vec::<String>::new());
}

/// Marks the first packet of every pid in `stream` as the upstream does
/// after a switch: an adaptation-only packet with the flag before it.
fn flag_switch(stream: &[u8]) -> Vec<u8> {
    let mut seen: Vec<u16> = Vec::new();
    let mut out = Vec::new();
    for p in stream.chunks_exact(PACKET_LEN) {
        let pid = mpegts::pid(p).unwrap_or(PID_NULL);
        if !seen.contains(&pid) {
            seen.push(pid);
            let cc = mpegts::continuity_counter(p).unwrap_or(0).wrapping_sub(1) & 0x0F;
            let mut q = [0xFFu8; PACKET_LEN];
            q[0] = SYNC_BYTE;
            q[1] = p[1] & 0x1F;
            q[2] = p[2];
            q[3] = 0x20 | cc;
            q[4] = 183;
            q[5] = 0x80;
            out.extend_from_slice(&q);
        }
        out.extend_from_slice(p);
    }
    out
}

#[test]
fn a_failover_is_one_seam_whatever_the_pids_flagged() {
    let mut a = Synth::default();
    a.video(900_000, 10, 25, true, true, true);
    // The backup: other counters, timestamps far away, joined mid-GOP.
    let mut b = Synth::default();
    b.cc.insert(VIDEO, 7);
    b.video(5_000_000, 10, 25, true, true, true);
    let joined = flag_switch(&b.out[20 * 4 * PACKET_LEN..]);
    let mut stream = a.out.clone();
    stream.extend_from_slice(&joined);
    let mut cutter = Cutter::new(CutConfig::new(Duration::from_secs(4)), "t");
    let cuts = cut_by_frames(&mut cutter, &stream);
    let flags: Vec<bool> = cuts.iter().map(|c| c.discontinuity).collect();
    assert_eq!(flags, vec![false, false, false, true, false], "one seam");
    for (i, c) in cuts.iter().enumerate() {
        assert_starts_right(c, i);
    }
    // The backup's part before its first keyframe is dropped.
    assert!((secs(&cuts[3]) - 4.0).abs() < 1e-3, "{}", secs(&cuts[3]));
    let all: Vec<u8> = cuts.iter().flat_map(|c| c.bytes.to_vec()).collect();
    assert_eq!(continuity_errors(&all), Vec::<String>::new());
}

#[test]
fn without_timestamps_the_pcr_then_the_wall_clock_time_segments() {
    let mut s = Synth::default();
    s.video(0, 13, 25, true, false, true);
    let mut cutter = Cutter::new(CutConfig::new(Duration::from_secs(4)), "t");
    let cuts = cut_by_frames(&mut cutter, &s.out);
    assert_eq!(cuts.len(), 3);
    for c in &cuts {
        assert_eq!(c.timing, Timing::Pcr);
        assert!((secs(c) - 4.0).abs() < 1e-3, "{}", secs(c));
    }
    let mut s = Synth::default();
    s.video(0, 13, 25, true, false, false);
    let mut cutter = Cutter::new(CutConfig::new(Duration::from_secs(4)), "t");
    let cuts = cut_by_frames(&mut cutter, &s.out);
    assert_eq!(cuts.len(), 3);
    for c in &cuts {
        assert_eq!(c.timing, Timing::Wall);
        assert!((secs(c) - 4.0).abs() < 0.05, "{}", secs(c));
    }
}

#[test]
fn garbage_never_panics() {
    let mut cutter = Cutter::new(CutConfig::new(Duration::from_secs(1)), "t");
    let mut x: u32 = 7;
    let mut junk = vec![0u8; PACKET_LEN * 2000];
    for b in junk.iter_mut() {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        *b = (x >> 16) as u8;
    }
    for p in junk.chunks_exact_mut(PACKET_LEN) {
        p[0] = SYNC_BYTE;
    }
    let mut clock = Duration::ZERO;
    for chunk in junk.chunks(PACKET_LEN * 10) {
        clock += Duration::from_millis(100);
        for c in cutter.push(chunk, clock, UNIX_EPOCH) {
            assert_eq!(c.bytes.len() % PACKET_LEN, 0);
        }
    }
}
