//! Turns one upstream connection's bytes into whole, aligned TS packets.
//!
//! * Bytes before the first sync (three sync bytes 188 apart) and garbage
//!   between packets are skipped and counted; sync is found again by the same
//!   three-in-a-row rule.
//! * A connection whose data shows no sync within `max_search` bytes, or
//!   whose body starts with `<` (an HTML or XML error page), is junk: the
//!   caller drops it and tries the next URL.
//! * One [`Aligner`] serves one connection. [`Aligner::reset`] at a switch
//!   drops the partial packet, so it is never glued to the next upstream's
//!   bytes.
//! * After a switch, the first packet of each PID gets the
//!   discontinuity_indicator ([`DiscontinuityMarks`]), so demuxers accept the
//!   jump in continuity counters and timestamps. If the packet has no room
//!   for the flag (no adaptation field with a flags byte), an
//!   adaptation-field-only packet carrying the flag is put before it.

use bytes::{Buf, BytesMut};
use tvgate_formats::mpegts::{self, PACKET_LEN, PID_MAX, PID_NULL, SYNC_BYTE};

/// The connection's data is not a transport stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Junk {
    /// The body starts like markup (`<`), e.g. an HTML error page.
    Markup,
    /// No sync found in this many bytes.
    NoSync(usize),
}

/// Packet alignment state of one connection.
#[derive(Debug)]
pub(crate) struct Aligner {
    max_search: usize,
    /// Bytes not yet emitted: a partial packet while in sync, or data being
    /// searched for sync.
    carry: BytesMut,
    in_sync: bool,
    /// Bytes dropped since sync was last lost (or the connection began).
    searched: usize,
    /// Nothing has arrived yet on this connection.
    at_start: bool,
    /// Garbage bytes dropped, not yet collected by [`Self::take_skipped`].
    skipped: u64,
}

impl Aligner {
    pub(crate) fn new(max_search: usize) -> Aligner {
        Aligner {
            max_search: max_search.max(4 * PACKET_LEN),
            carry: BytesMut::new(),
            in_sync: false,
            searched: 0,
            at_start: true,
            skipped: 0,
        }
    }

    /// Forgets the connection: the partial packet (or unsynced data) is
    /// dropped and counted as skipped.
    pub(crate) fn reset(&mut self) {
        self.skipped += self.carry.len() as u64;
        self.carry.clear();
        self.in_sync = false;
        self.searched = 0;
        self.at_start = true;
    }

    /// Garbage bytes dropped since the last call.
    pub(crate) fn take_skipped(&mut self) -> u64 {
        std::mem::take(&mut self.skipped)
    }

    /// Appends the whole packets in `input` (after any carried bytes) to
    /// `out`, marking them with `marks`. Garbage is counted for
    /// [`Self::take_skipped`]. Fails if the connection is junk.
    pub(crate) fn feed(
        &mut self,
        input: &[u8],
        out: &mut BytesMut,
        marks: &mut DiscontinuityMarks,
    ) -> Result<(), Junk> {
        if self.at_start {
            let Some(&first) = input.iter().find(|b| !b.is_ascii_whitespace()) else {
                // Only whitespace so far: garbage, keep looking.
                self.skipped += input.len() as u64;
                self.searched += input.len();
                return self.check_budget();
            };
            self.at_start = false;
            if first == b'<' {
                self.skipped += input.len() as u64;
                return Err(Junk::Markup);
            }
        }
        let mut input = input;
        // Fast path: in sync with nothing carried, emit straight from input.
        if self.in_sync && self.carry.is_empty() {
            let run = aligned_run(input);
            marks.emit(&input[..run], out);
            input = &input[run..];
        }
        if input.is_empty() {
            return Ok(());
        }
        self.carry.extend_from_slice(input);
        loop {
            if !self.in_sync {
                match mpegts::find_sync(&self.carry) {
                    Some(at) => {
                        self.carry.advance(at);
                        self.skipped += at as u64;
                        self.in_sync = true;
                        self.searched = 0;
                    }
                    None => {
                        // Keep a tail that may still hold the start of three packets.
                        let drop = self.carry.len().saturating_sub(2 * PACKET_LEN);
                        self.carry.advance(drop);
                        self.skipped += drop as u64;
                        self.searched += drop;
                        return self.check_budget();
                    }
                }
            }
            let run = aligned_run(&self.carry);
            marks.emit(&self.carry[..run], out);
            self.carry.advance(run);
            if self.carry.len() < PACKET_LEN {
                return Ok(());
            }
            // A whole packet's worth that does not start with sync: lost it.
            self.in_sync = false;
        }
    }

    fn check_budget(&self) -> Result<(), Junk> {
        if self.searched > self.max_search {
            Err(Junk::NoSync(self.searched))
        } else {
            Ok(())
        }
    }
}

/// Length of the longest prefix of `buf` made of whole packets that each
/// start with the sync byte.
fn aligned_run(buf: &[u8]) -> usize {
    buf.chunks_exact(PACKET_LEN)
        .take_while(|p| p[0] == SYNC_BYTE)
        .count()
        * PACKET_LEN
}

/// Which PIDs still need the discontinuity_indicator after a switch.
#[derive(Debug)]
pub(crate) struct DiscontinuityMarks {
    /// Off until the first switch: the first connection needs no marks.
    active: bool,
    /// One bit per PID: already marked since the last switch.
    done: Box<[u64; (PID_MAX as usize + 1) / 64]>,
}

impl DiscontinuityMarks {
    pub(crate) fn new() -> DiscontinuityMarks {
        DiscontinuityMarks {
            active: false,
            done: Box::new([0; (PID_MAX as usize + 1) / 64]),
        }
    }

    /// A switch happened: mark the next packet of every PID.
    pub(crate) fn arm(&mut self) {
        self.active = true;
        self.done.fill(0);
    }

    /// Appends `packets` (whole, aligned) to `out`, flagging the first
    /// packet of each PID since the last [`Self::arm`].
    pub(crate) fn emit(&mut self, packets: &[u8], out: &mut BytesMut) {
        if !self.active {
            out.extend_from_slice(packets);
            return;
        }
        let mut from = 0;
        for (i, pkt) in packets.chunks_exact(PACKET_LEN).enumerate() {
            let Some(pid) = mpegts::pid(pkt) else {
                continue;
            };
            let (word, bit) = (usize::from(pid) / 64, 1u64 << (pid % 64));
            if pid == PID_NULL || self.done[word] & bit != 0 {
                continue;
            }
            self.done[word] |= bit;
            let at = i * PACKET_LEN;
            out.extend_from_slice(&packets[from..at]);
            from = at + PACKET_LEN;
            let mut marked = [0u8; PACKET_LEN];
            marked.copy_from_slice(pkt);
            if has_flags_byte(&marked) {
                marked[5] |= 0x80;
            } else {
                out.extend_from_slice(&discontinuity_packet(&marked));
            }
            out.extend_from_slice(&marked);
        }
        out.extend_from_slice(&packets[from..]);
    }
}

/// The packet has an adaptation field with room for its flags byte.
fn has_flags_byte(pkt: &[u8]) -> bool {
    mpegts::adaptation_field(pkt).is_some_and(|af| !af.is_empty())
}

/// An adaptation-field-only packet for `next`'s PID with the
/// discontinuity_indicator set, to go right before `next`. Its continuity
/// counter is the one `next` expects before it (adaptation-only packets do
/// not advance the counter).
fn discontinuity_packet(next: &[u8]) -> [u8; PACKET_LEN] {
    let cc = mpegts::continuity_counter(next).unwrap_or(0);
    let cc = if mpegts::has_payload(next) {
        cc.wrapping_sub(1) & 0x0F
    } else {
        cc
    };
    let mut p = [0xFFu8; PACKET_LEN];
    p[0] = SYNC_BYTE;
    p[1] = next[1] & 0x1F; // pid high bits; no error, no unit start, no priority
    p[2] = next[2];
    p[3] = 0x20 | cc; // not scrambled, adaptation field only
    p[4] = (PACKET_LEN - 5) as u8;
    p[5] = 0x80; // discontinuity_indicator
    p
}

/// For the fuzz targets (`fuzz/`) only: one aligner fed `pieces` as the
/// reads of a connection, the way the upstream feeds it. Before the piece
/// at `switch_at` the connection is switched (reset, marks armed), as a
/// failover does; a connection judged junk is dropped (reset) and the next
/// piece starts a new one, as the next URL. The aligner is reset at the
/// end, so what it still carried counts as skipped. Returns the packets
/// written, the bytes skipped, and how many times it was junk.
#[doc(hidden)]
pub fn fuzz_align(
    pieces: &[&[u8]],
    max_search: usize,
    switch_at: Option<usize>,
) -> (Vec<u8>, u64, usize) {
    let mut aligner = Aligner::new(max_search);
    let mut marks = DiscontinuityMarks::new();
    let mut out = BytesMut::new();
    let mut junk = 0;
    for (i, piece) in pieces.iter().enumerate() {
        if switch_at == Some(i) {
            aligner.reset();
            marks.arm();
        }
        if aligner.feed(piece, &mut out, &mut marks).is_err() {
            junk += 1;
            aligner.reset();
        }
    }
    aligner.reset();
    (out.to_vec(), aligner.take_skipped(), junk)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt(pid: u16, cc: u8, fill: u8) -> [u8; PACKET_LEN] {
        let mut p = [fill; PACKET_LEN];
        p[0] = SYNC_BYTE;
        p[1] = (pid >> 8) as u8;
        p[2] = pid as u8;
        p[3] = 0x10 | cc;
        p
    }

    fn stream(n: usize) -> Vec<u8> {
        (0..n)
            .flat_map(|i| pkt(0x100 + (i % 3) as u16, (i / 3 % 16) as u8, i as u8))
            .collect()
    }

    fn run(a: &mut Aligner, pieces: &[&[u8]]) -> (Vec<u8>, u64, Option<Junk>) {
        let mut out = BytesMut::new();
        let mut marks = DiscontinuityMarks::new();
        let mut skipped = 0;
        for p in pieces {
            let r = a.feed(p, &mut out, &mut marks);
            skipped += a.take_skipped();
            if let Err(j) = r {
                return (out.to_vec(), skipped, Some(j));
            }
        }
        (out.to_vec(), skipped, None)
    }

    #[test]
    fn odd_pieces_come_out_as_the_same_packets() {
        let data = stream(50);
        let pieces: Vec<&[u8]> = data.chunks(77).collect();
        let (out, skipped, junk) = run(&mut Aligner::new(65536), &pieces);
        assert_eq!((out, skipped, junk), (data, 0, None));
    }

    #[test]
    fn garbage_before_and_between_packets_is_skipped_and_counted() {
        let good = stream(20);
        let mut data = vec![1, 2, 3, 4, 5];
        data.extend_from_slice(&good[..10 * PACKET_LEN]);
        data.extend_from_slice(&[9; 50]);
        data.extend_from_slice(&good[10 * PACKET_LEN..]);
        let pieces: Vec<&[u8]> = data.chunks(100).collect();
        let (out, skipped, junk) = run(&mut Aligner::new(65536), &pieces);
        assert_eq!(junk, None);
        assert_eq!(skipped, 55);
        // The garbage cost no good packet (sync is re-found at the next one).
        assert_eq!(out, good);
    }

    #[test]
    fn html_and_unsynced_data_are_junk() {
        let html = b"\r\n<!DOCTYPE html><html>Service unavailable</html>";
        assert_eq!(run(&mut Aligner::new(65536), &[html]).2, Some(Junk::Markup));
        let zeros = vec![0u8; 70_000];
        let (out, skipped, junk) = run(&mut Aligner::new(65536), &[&zeros[..]]);
        assert!(out.is_empty());
        assert!(matches!(junk, Some(Junk::NoSync(n)) if n > 65536));
        assert!(skipped > 65536);
    }

    #[test]
    fn reset_drops_the_partial_packet() {
        let data = stream(4);
        let mut a = Aligner::new(65536);
        let (out, ..) = run(&mut a, &[&data[..3 * PACKET_LEN + 100]]);
        assert_eq!(out, &data[..3 * PACKET_LEN]);
        assert_eq!(a.take_skipped(), 0);
        a.reset();
        assert_eq!(a.take_skipped(), 100);
        let (out, ..) = run(&mut a, &[&data[..]]);
        assert_eq!(out, data, "the next connection starts clean");
    }

    #[test]
    fn first_packet_per_pid_after_a_switch_is_flagged() {
        let mut with_af = pkt(0x200, 5, 0xAA);
        with_af[3] = 0x30 | 5;
        with_af[4] = 1;
        with_af[5] = 0x40; // random access
        let plain = pkt(0x201, 0, 0xBB);
        let mut packets = Vec::new();
        for p in [with_af, plain, with_af, plain] {
            packets.extend_from_slice(&p);
        }
        let mut marks = DiscontinuityMarks::new();
        let mut out = BytesMut::new();
        marks.emit(&packets, &mut out);
        assert_eq!(&out[..], &packets[..], "no marks before a switch");

        marks.arm();
        let mut out = BytesMut::new();
        marks.emit(&packets, &mut out);
        let got: Vec<&[u8]> = out.chunks(PACKET_LEN).collect();
        assert_eq!(got.len(), 5, "one packet inserted for the PID without room");
        assert!(mpegts::discontinuity_indicator(got[0]));
        assert!(mpegts::random_access_indicator(got[0]), "other flags kept");
        assert_eq!(mpegts::pid(got[1]), Some(0x201));
        assert!(mpegts::discontinuity_indicator(got[1]));
        assert!(!mpegts::has_payload(got[1]));
        assert_eq!(mpegts::continuity_counter(got[1]), Some(15));
        assert_eq!(got[2], &plain[..]);
        assert_eq!(got[3], &with_af[..], "only the first per PID");
        assert_eq!(got[4], &plain[..]);
    }
}
