//! The MPEG-TS path of a relayed channel: the upstream's aligner
//! (`tvgate_relay::upstream::fuzz_align`: sync search, junk detection,
//! discontinuity marks after a switch), the segmenter's keyframe finder
//! and cutter (`tvgate_relay::segmenter::Cutter`), the packet readers of
//! `tvgate_formats::mpegts` and the doctor's sync check.
//!
//! Input: a byte choosing how the data is split into reads, a byte
//! choosing where a failover switch happens, then the bytes of the stream.
//!
//! Checks: no panic; the aligner writes only whole packets that start with
//! the sync byte; with no switch every input byte is either written or
//! counted as skipped (none lost, none made up), and after a switch the
//! only bytes added are whole marker packets; every segment is whole
//! packets, at most twice the size cap plus its tables; timestamps shifted
//! by a packet's own reader stay readable.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::time::{Duration, SystemTime};
use tvgate_formats::mpegts::{self, PACKET_LEN, SYNC_BYTE};
use tvgate_relay::segmenter::{CutConfig, Cutter};

fn whole_packets(bytes: &[u8]) {
    assert_eq!(bytes.len() % PACKET_LEN, 0, "not whole packets");
    for p in bytes.chunks_exact(PACKET_LEN) {
        assert_eq!(p[0], SYNC_BYTE, "a packet without the sync byte");
    }
}

fn packet_readers(pkt: &[u8]) {
    let _ = mpegts::pmt(pkt);
    let _ = mpegts::pat_pmt_pid(pkt);
    let _ = mpegts::pcr(pkt);
    let _ = mpegts::is_keyframe_start(pkt);
    for st in [0x01, 0x02, 0x1B, 0x24, 0x0F, 0x81] {
        let _ = mpegts::starts_keyframe(pkt, st);
    }
    let ts = mpegts::pes_timestamps(pkt);
    let mut copy = pkt.to_vec();
    mpegts::shift_timestamps(&mut copy, 90_000);
    if ts.is_some() {
        assert!(mpegts::pes_timestamps(&copy).is_some());
    }
    let _ = mpegts::set_continuity_counter(&mut copy, 5);
}

fuzz_target!(|data: &[u8]| {
    let [split, switch, stream @ ..] = data else {
        return;
    };
    let _ = tvgate_doctor::stream::ts_sync(stream);

    // Reads of 1 to 256 bytes, then a whole packet's multiple.
    let size = usize::from(*split) + 1;
    let pieces: Vec<&[u8]> = stream.chunks(size).collect();
    let switch_at = (*switch != 0).then_some(usize::from(*switch % 8));
    let (out, skipped, _junk) = tvgate_relay::upstream::fuzz_align(&pieces, 1024, switch_at);
    whole_packets(&out);
    let accounted = out.len() as u64 + skipped;
    let input = stream.len() as u64;
    if switch_at.is_none_or(|i| i >= pieces.len()) {
        assert_eq!(accounted, input, "bytes lost or made up");
    } else {
        assert!(accounted >= input, "bytes lost");
        assert_eq!((accounted - input) % PACKET_LEN as u64, 0);
    }
    for p in out.chunks_exact(PACKET_LEN) {
        packet_readers(p);
    }

    let cfg = CutConfig {
        segment: Duration::from_millis(400),
        longest: Duration::from_millis(1200),
        max_bytes: 16 * PACKET_LEN,
    };
    let mut cutter = Cutter::new(cfg, "fuzz");
    let wall = SystemTime::UNIX_EPOCH;
    let mut mono = Duration::ZERO;
    for chunk in out.chunks(3 * PACKET_LEN) {
        mono += Duration::from_millis(150);
        for cut in cutter.push(chunk, mono, wall) {
            whole_packets(&cut.bytes);
            assert!(
                cut.bytes.len() <= 2 * cfg.max_bytes + 3 * PACKET_LEN,
                "a segment of {} bytes",
                cut.bytes.len()
            );
            assert!(!cut.duration.is_zero());
        }
    }
});
