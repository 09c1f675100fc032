//! MPEG-TS packet basics (ISO/IEC 13818-1): 188-byte packets, sync, PID,
//! continuity counter, adaptation field, PCR and PES PTS/DTS; the PAT and
//! PMT of a single program; where a decoder can start (keyframes).
//!
//! Everything here works on one packet given as a byte slice (normally
//! exactly [`PACKET_LEN`] bytes; only the first 188 bytes are looked at).
//! Readers return `None`/`false` when a field is absent or the slice is too
//! short or malformed; writers return `false` and leave the packet untouched
//! in that case. Nothing panics on any input.
//!
//! Timestamps are plain integers: PTS/DTS in 90 kHz ticks (33 bits, wrapping
//! at [`PTS_MODULUS`]), PCR in 27 MHz ticks (`base * 300 + extension`,
//! wrapping at [`PCR_MODULUS`]). [`pts_add`], [`pts_diff`], [`pcr_add`] and
//! [`pcr_diff`] do the modular arithmetic.

/// Size of one transport-stream packet.
pub const PACKET_LEN: usize = 188;
/// First byte of every packet.
pub const SYNC_BYTE: u8 = 0x47;
/// PID of the program association table.
pub const PID_PAT: u16 = 0x0000;
/// PID of null (stuffing) packets.
pub const PID_NULL: u16 = 0x1FFF;
/// Largest PID (13 bits).
pub const PID_MAX: u16 = 0x1FFF;
/// PTS/DTS clock rate (ticks per second).
pub const PTS_HZ: u64 = 90_000;
/// PCR clock rate (ticks per second).
pub const PCR_HZ: u64 = 27_000_000;
/// PTS, DTS and the PCR base are 33-bit counters: they wrap at this value.
pub const PTS_MODULUS: u64 = 1 << 33;
/// A full PCR (`base * 300 + extension`) wraps at this value (~26.5 h).
pub const PCR_MODULUS: u64 = PTS_MODULUS * 300;

/// `true` if `buf` holds a packet's fixed 4-byte header and starts with the sync byte.
fn header_ok(pkt: &[u8]) -> bool {
    pkt.len() >= 4 && pkt[0] == SYNC_BYTE
}

/// First offset in `buf` where the sync byte is found at `offset`,
/// `offset + 188` and `offset + 376`, i.e. three consecutive packet starts.
/// Needs at least three packets' worth of data after the offset (the last
/// one may be truncated to its sync byte); returns `None` otherwise.
pub fn find_sync(buf: &[u8]) -> Option<usize> {
    let need = 2 * PACKET_LEN + 1;
    if buf.len() < need {
        return None;
    }
    (0..=buf.len() - need).find(|&i| {
        buf[i] == SYNC_BYTE
            && buf[i + PACKET_LEN] == SYNC_BYTE
            && buf[i + 2 * PACKET_LEN] == SYNC_BYTE
    })
}

/// The 13-bit packet identifier.
pub fn pid(pkt: &[u8]) -> Option<u16> {
    header_ok(pkt).then(|| u16::from_be_bytes([pkt[1] & 0x1F, pkt[2]]))
}

/// The transport_error_indicator bit.
pub fn transport_error(pkt: &[u8]) -> bool {
    header_ok(pkt) && pkt[1] & 0x80 != 0
}

/// The payload_unit_start_indicator bit: a PES packet or a PSI section starts
/// in this packet's payload.
pub fn payload_unit_start(pkt: &[u8]) -> bool {
    header_ok(pkt) && pkt[1] & 0x40 != 0
}

/// The 2-bit transport_scrambling_control field (0 = not scrambled).
pub fn scrambling_control(pkt: &[u8]) -> Option<u8> {
    header_ok(pkt).then(|| (pkt[3] >> 6) & 0x03)
}

/// The 4-bit continuity counter.
pub fn continuity_counter(pkt: &[u8]) -> Option<u8> {
    header_ok(pkt).then(|| pkt[3] & 0x0F)
}

/// Overwrites the continuity counter with `cc & 0x0F`.
pub fn set_continuity_counter(pkt: &mut [u8], cc: u8) -> bool {
    if !header_ok(pkt) {
        return false;
    }
    pkt[3] = (pkt[3] & 0xF0) | (cc & 0x0F);
    true
}

/// `true` if the adaptation_field_control says the packet carries a payload.
/// The continuity counter only advances on such packets.
pub fn has_payload(pkt: &[u8]) -> bool {
    header_ok(pkt) && pkt[3] & 0x10 != 0
}

/// `true` if the adaptation_field_control says an adaptation field is present.
pub fn has_adaptation_field(pkt: &[u8]) -> bool {
    header_ok(pkt) && pkt[3] & 0x20 != 0
}

/// The adaptation field's content after its length byte (flags first), or
/// `None` if there is none or it would overrun the packet. May be empty (a
/// zero-length field, used for one byte of stuffing).
pub fn adaptation_field(pkt: &[u8]) -> Option<&[u8]> {
    if !has_adaptation_field(pkt) || pkt.len() < 5 {
        return None;
    }
    let len = usize::from(pkt[4]);
    let end = 5 + len;
    if end > PACKET_LEN.min(pkt.len()) {
        return None;
    }
    Some(&pkt[5..end])
}

/// Offset of the payload within the packet, if the packet has one.
pub fn payload_offset(pkt: &[u8]) -> Option<usize> {
    if !has_payload(pkt) {
        return None;
    }
    let start = if has_adaptation_field(pkt) {
        5 + usize::from(*pkt.get(4)?)
    } else {
        4
    };
    let end = PACKET_LEN.min(pkt.len());
    (start <= end).then_some(start)
}

/// The payload bytes (possibly empty), if the packet has a payload.
pub fn payload(pkt: &[u8]) -> Option<&[u8]> {
    let start = payload_offset(pkt)?;
    pkt.get(start..PACKET_LEN.min(pkt.len()))
}

fn af_flags(pkt: &[u8]) -> u8 {
    adaptation_field(pkt)
        .and_then(|af| af.first().copied())
        .unwrap_or(0)
}

/// The adaptation field's discontinuity_indicator.
pub fn discontinuity_indicator(pkt: &[u8]) -> bool {
    af_flags(pkt) & 0x80 != 0
}

/// The adaptation field's random_access_indicator: the next PES packet of
/// this PID starts at a random-access point (for video: a keyframe).
pub fn random_access_indicator(pkt: &[u8]) -> bool {
    af_flags(pkt) & 0x40 != 0
}

/// `true` if the packet starts a PES packet at a random-access point: the
/// payload_unit_start_indicator and the random_access_indicator are both set
/// (encoders such as ffmpeg mark keyframes this way).
pub fn is_keyframe_start(pkt: &[u8]) -> bool {
    payload_unit_start(pkt) && random_access_indicator(pkt)
}

/// Offset of the 6-byte PCR field, if the packet carries a PCR.
fn pcr_offset(pkt: &[u8]) -> Option<usize> {
    let af = adaptation_field(pkt)?;
    (af.len() >= 7 && af[0] & 0x10 != 0).then_some(6)
}

/// The program clock reference in 27 MHz ticks (`base * 300 + extension`).
pub fn pcr(pkt: &[u8]) -> Option<u64> {
    let o = pcr_offset(pkt)?;
    let b = &pkt[o..o + 6];
    let base = (u64::from(b[0]) << 25)
        | (u64::from(b[1]) << 17)
        | (u64::from(b[2]) << 9)
        | (u64::from(b[3]) << 1)
        | (u64::from(b[4]) >> 7);
    let ext = (u64::from(b[4] & 0x01) << 8) | u64::from(b[5]);
    Some(base * 300 + ext)
}

/// Overwrites an existing PCR with `pcr` (27 MHz ticks, taken modulo
/// [`PCR_MODULUS`]). Returns `false` if the packet has no PCR field.
pub fn set_pcr(pkt: &mut [u8], pcr: u64) -> bool {
    let Some(o) = pcr_offset(pkt) else {
        return false;
    };
    let pcr = pcr % PCR_MODULUS;
    let (base, ext) = (pcr / 300, pcr % 300);
    let b = &mut pkt[o..o + 6];
    b[0] = (base >> 25) as u8;
    b[1] = (base >> 17) as u8;
    b[2] = (base >> 9) as u8;
    b[3] = (base >> 1) as u8;
    // 6 reserved bits are written as ones.
    b[4] = (((base & 1) as u8) << 7) | 0x7E | ((ext >> 8) as u8 & 0x01);
    b[5] = ext as u8;
    true
}

/// PTS and DTS found in a PES header (90 kHz ticks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PesTimestamps {
    /// Presentation time stamp.
    pub pts: Option<u64>,
    /// Decoding time stamp (only present together with a PTS).
    pub dts: Option<u64>,
}

impl PesTimestamps {
    /// The decoding time: the DTS, or the PTS when there is no DTS.
    pub fn decode_time(&self) -> Option<u64> {
        self.dts.or(self.pts)
    }
}

/// Offsets of the 5-byte PTS and DTS fields of a PES header that starts in
/// this packet's payload.
fn pes_ts_offsets(pkt: &[u8]) -> Option<(Option<usize>, Option<usize>)> {
    if !payload_unit_start(pkt) {
        return None;
    }
    let p = payload_offset(pkt)?;
    let h = pkt.get(p..PACKET_LEN.min(pkt.len()))?;
    if h.len() < 9 || h[0..3] != [0x00, 0x00, 0x01] {
        return None;
    }
    // Stream ids whose PES packets have no optional header (13818-1 2.4.3.7).
    match h[3] {
        0xBC | 0xBE | 0xBF | 0xF0 | 0xF1 | 0xF2 | 0xF8 | 0xFF => return None,
        _ => {}
    }
    if h[6] & 0xC0 != 0x80 {
        return None;
    }
    let header_len = usize::from(h[8]);
    let (pts, dts) = match h[7] >> 6 {
        0b10 => (true, false),
        0b11 => (true, true),
        _ => (false, false),
    };
    let need = 5 * (usize::from(pts) + usize::from(dts));
    if header_len < need || h.len() < 9 + need {
        return None;
    }
    Some((pts.then_some(p + 9), dts.then_some(p + 14)))
}

fn read_ts(b: &[u8]) -> u64 {
    (u64::from(b[0] & 0x0E) << 29)
        | (u64::from(b[1]) << 22)
        | (u64::from(b[2] >> 1) << 15)
        | (u64::from(b[3]) << 7)
        | (u64::from(b[4]) >> 1)
}

fn write_ts(b: &mut [u8], ts: u64) {
    let ts = ts % PTS_MODULUS;
    // Keep the 4-bit prefix ('0010'/'0011'/'0001'), set the marker bits.
    b[0] = (b[0] & 0xF0) | (((ts >> 30) as u8 & 0x07) << 1) | 0x01;
    b[1] = (ts >> 22) as u8;
    b[2] = (((ts >> 15) as u8) << 1) | 0x01;
    b[3] = (ts >> 7) as u8;
    b[4] = ((ts as u8) << 1) | 0x01;
}

/// PTS/DTS of a PES header starting in this packet (payload_unit_start set,
/// header entirely within the packet). `None` if there is no such header;
/// `Some` with both fields `None` for a PES header without timestamps.
pub fn pes_timestamps(pkt: &[u8]) -> Option<PesTimestamps> {
    let (pts, dts) = pes_ts_offsets(pkt)?;
    Some(PesTimestamps {
        pts: pts.map(|o| read_ts(&pkt[o..o + 5])),
        dts: dts.map(|o| read_ts(&pkt[o..o + 5])),
    })
}

/// Overwrites the PTS and/or DTS already present in a PES header starting in
/// this packet (values taken modulo [`PTS_MODULUS`]). A `None` argument
/// leaves that field as it is. Returns `false`, changing nothing, if a field
/// to write is not present in the header.
pub fn set_pes_timestamps(pkt: &mut [u8], pts: Option<u64>, dts: Option<u64>) -> bool {
    let Some((pts_at, dts_at)) = pes_ts_offsets(pkt) else {
        return false;
    };
    if (pts.is_some() && pts_at.is_none()) || (dts.is_some() && dts_at.is_none()) {
        return false;
    }
    if let (Some(v), Some(o)) = (pts, pts_at) {
        write_ts(&mut pkt[o..o + 5], v);
    }
    if let (Some(v), Some(o)) = (dts, dts_at) {
        write_ts(&mut pkt[o..o + 5], v);
    }
    true
}

/// Adds `delta` ticks to every timestamp in the packet: the PCR (shifted by
/// `delta * 300`) and the PES PTS/DTS, all wrapping like the 33-bit counters
/// they are. Returns `true` if anything was changed.
pub fn shift_timestamps(pkt: &mut [u8], delta: u64) -> bool {
    let mut changed = false;
    if let Some(v) = pcr(pkt) {
        changed |= set_pcr(pkt, pcr_add(v, (delta % PTS_MODULUS) * 300));
    }
    if let Some(ts) = pes_timestamps(pkt) {
        changed |= set_pes_timestamps(
            pkt,
            ts.pts.map(|v| pts_add(v, delta)),
            ts.dts.map(|v| pts_add(v, delta)),
        );
    }
    changed
}

/// `a + b` on the 33-bit PTS/DTS clock.
pub fn pts_add(a: u64, b: u64) -> u64 {
    ((a % PTS_MODULUS) + (b % PTS_MODULUS)) % PTS_MODULUS
}

/// `b - a` on the 33-bit PTS/DTS clock, as the signed distance of smallest
/// magnitude (so a wrap from `2^33 - 1` to `0` is a step of `+1`).
pub fn pts_diff(a: u64, b: u64) -> i64 {
    signed_mod_diff(a, b, PTS_MODULUS)
}

/// `a + b` on the PCR clock (modulo [`PCR_MODULUS`]).
pub fn pcr_add(a: u64, b: u64) -> u64 {
    ((a % PCR_MODULUS) + (b % PCR_MODULUS)) % PCR_MODULUS
}

/// `b - a` on the PCR clock, as the signed distance of smallest magnitude.
pub fn pcr_diff(a: u64, b: u64) -> i64 {
    signed_mod_diff(a, b, PCR_MODULUS)
}

fn signed_mod_diff(a: u64, b: u64, m: u64) -> i64 {
    let d = ((b % m) + m - (a % m)) % m;
    // m <= 2^42, so both values fit in i64.
    if d > m / 2 {
        d as i64 - m as i64
    } else {
        d as i64
    }
}

// ---------------------------------------------------------------------------
// Program tables (single-packet sections) and keyframe detection
// ---------------------------------------------------------------------------

/// The PSI section starting in this packet (after its pointer field),
/// without its 4-byte CRC. Only sections that fit in the packet are read:
/// the PAT and PMT of a single program always do.
fn section(pkt: &[u8]) -> Option<&[u8]> {
    if !payload_unit_start(pkt) {
        return None;
    }
    let payload = payload(pkt)?;
    let pointer = usize::from(*payload.first()?);
    let sec = payload.get(1 + pointer..)?;
    let len = usize::from(u16::from_be_bytes([*sec.get(1)?, *sec.get(2)?]) & 0x0FFF);
    sec.get(..(3 + len).checked_sub(4)?)
}

/// The PMT pid of the first program of a PAT packet (program 0, the
/// network PID, is skipped).
pub fn pat_pmt_pid(pkt: &[u8]) -> Option<u16> {
    let sec = section(pkt)?;
    if sec.first() != Some(&0x00) {
        return None;
    }
    sec.get(8..)?.chunks_exact(4).find_map(|e| {
        let program = u16::from_be_bytes([e[0], e[1]]);
        (program != 0).then(|| u16::from_be_bytes([e[2], e[3]]) & PID_MAX)
    })
}

/// An elementary stream named by a PMT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elementary {
    pub pid: u16,
    /// The PMT's stream_type (0x1B H.264, 0x24 H.265, 0x0F AAC...).
    pub stream_type: u8,
}

impl Elementary {
    /// `true` for the video stream types tvgate knows: MPEG-1/2, MPEG-4
    /// part 2, H.264, H.265, AVS2/3 and VC-1.
    pub fn is_video(&self) -> bool {
        matches!(
            self.stream_type,
            0x01 | 0x02 | 0x10 | 0x1B | 0x24 | 0x42 | 0xD2 | 0xD4 | 0xEA
        )
    }
}

/// What a PMT packet says about its program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProgramMap {
    /// The pid whose packets carry the program's PCR.
    pub pcr_pid: Option<u16>,
    /// The first video stream.
    pub video: Option<Elementary>,
    /// The first stream of any type (the only one of a radio channel).
    pub first: Option<Elementary>,
}

/// Reads a PMT packet (table id 2).
pub fn pmt(pkt: &[u8]) -> Option<ProgramMap> {
    let sec = section(pkt)?;
    if sec.first() != Some(&0x02) {
        return None;
    }
    let pcr_pid = u16::from_be_bytes([*sec.get(8)?, *sec.get(9)?]) & PID_MAX;
    let info_len = usize::from(u16::from_be_bytes([*sec.get(10)?, *sec.get(11)?]) & 0x0FFF);
    let mut map = ProgramMap {
        pcr_pid: (pcr_pid != PID_NULL).then_some(pcr_pid),
        ..ProgramMap::default()
    };
    let mut es = sec.get(12 + info_len..)?;
    while es.len() >= 5 {
        let e = Elementary {
            stream_type: es[0],
            pid: u16::from_be_bytes([es[1], es[2]]) & PID_MAX,
        };
        let es_info = usize::from(u16::from_be_bytes([es[3], es[4]]) & 0x0FFF);
        map.first = map.first.or(Some(e));
        if map.video.is_none() && e.is_video() {
            map.video = Some(e);
        }
        let Some(rest) = es.get(5 + es_info..) else {
            break;
        };
        es = rest;
    }
    Some(map)
}

/// The PES payload (the elementary stream's bytes) of a packet that starts
/// a PES packet, as far as it lies in this packet.
fn pes_payload(pkt: &[u8]) -> Option<&[u8]> {
    if !payload_unit_start(pkt) {
        return None;
    }
    let h = payload(pkt)?;
    if h.len() < 9 || h[0..3] != [0x00, 0x00, 0x01] || h[6] & 0xC0 != 0x80 {
        return None;
    }
    h.get(9 + usize::from(h[8])..)
}

/// `true` if this packet starts a video access unit a decoder can start
/// from: the random_access_indicator says so ([`is_keyframe_start`]), or,
/// for sources that never set it, the first bytes of the access unit show
/// it: an H.264 IDR slice or sequence parameter set, an H.265 IRAP picture
/// or parameter set, an MPEG-1/2 sequence header. `stream_type` is the
/// PMT's for this pid ([`Elementary::stream_type`]).
pub fn starts_keyframe(pkt: &[u8], stream_type: u8) -> bool {
    if is_keyframe_start(pkt) {
        return true;
    }
    let Some(es) = pes_payload(pkt) else {
        return false;
    };
    // Start codes: 00 00 01 followed by the unit's first byte.
    let mut i = 0;
    while i + 3 < es.len() {
        if es[i] == 0 && es[i + 1] == 0 && es[i + 2] == 1 {
            let unit = es[i + 3];
            let found = match stream_type {
                0x1B => matches!(unit & 0x1F, 5 | 7),
                0x24 => matches!((unit >> 1) & 0x3F, 16..=21 | 32 | 33),
                0x01 | 0x02 => unit == 0xB3,
                _ => false,
            };
            if found {
                return true;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A packet with the given header fields; payload bytes 0xFF.
    fn packet(pid: u16, pusi: bool, afc: u8, cc: u8) -> [u8; PACKET_LEN] {
        let mut p = [0xFFu8; PACKET_LEN];
        p[0] = SYNC_BYTE;
        p[1] = (u8::from(pusi) << 6) | ((pid >> 8) as u8 & 0x1F);
        p[2] = pid as u8;
        p[3] = (afc << 4) | (cc & 0x0F);
        p
    }

    /// Packet with an adaptation field carrying a PCR, then a payload.
    fn pcr_packet(pcr_value: u64) -> [u8; PACKET_LEN] {
        let mut p = packet(0x100, false, 0b11, 3);
        p[4] = 7; // adaptation field length
        p[5] = 0x10 | 0x40; // PCR flag + random access
        let base = pcr_value / 300;
        let ext = pcr_value % 300;
        p[6] = (base >> 25) as u8;
        p[7] = (base >> 17) as u8;
        p[8] = (base >> 9) as u8;
        p[9] = (base >> 1) as u8;
        p[10] = ((base as u8 & 1) << 7) | 0x7E | (ext >> 8) as u8;
        p[11] = ext as u8;
        p
    }

    fn ts_bytes(prefix: u8, ts: u64) -> [u8; 5] {
        [
            (prefix << 4) | (((ts >> 30) as u8 & 7) << 1) | 1,
            (ts >> 22) as u8,
            (((ts >> 15) as u8) << 1) | 1,
            (ts >> 7) as u8,
            ((ts as u8) << 1) | 1,
        ]
    }

    /// Start of a video PES packet with PTS (and DTS), no adaptation field.
    fn pes_packet(pts: u64, dts: Option<u64>) -> [u8; PACKET_LEN] {
        let mut p = packet(0x100, true, 0b01, 0);
        let mut h = vec![0x00, 0x00, 0x01, 0xE0, 0x00, 0x00, 0x80];
        match dts {
            Some(d) => {
                h.extend([0xC0, 10]);
                h.extend(ts_bytes(0b0011, pts));
                h.extend(ts_bytes(0b0001, d));
            }
            None => {
                h.extend([0x80, 5]);
                h.extend(ts_bytes(0b0010, pts));
            }
        }
        h.extend([0x00, 0x00, 0x00, 0x01, 0x09, 0xF0]);
        p[4..4 + h.len()].copy_from_slice(&h);
        p
    }

    #[test]
    fn find_sync_needs_three_packet_starts() {
        let mut buf = vec![0u8; 5];
        buf[1] = SYNC_BYTE; // lone sync byte: a false start
        for _ in 0..3 {
            buf.extend_from_slice(&packet(0, true, 1, 0));
        }
        assert_eq!(find_sync(&buf), Some(5));
        assert_eq!(find_sync(&buf[5..]), Some(0));
        // Two packets and the third one's sync byte are enough.
        assert_eq!(find_sync(&buf[5..5 + 2 * PACKET_LEN + 1]), Some(0));
        assert_eq!(find_sync(&buf[5..5 + 2 * PACKET_LEN]), None);
        assert_eq!(find_sync(&[]), None);
        assert_eq!(find_sync(&[0u8; 1000]), None);
    }

    #[test]
    fn header_fields() {
        let p = packet(0x1ABC, true, 0b01, 9);
        assert_eq!(pid(&p), Some(0x1ABC));
        assert!(payload_unit_start(&p));
        assert!(!transport_error(&p));
        assert_eq!(scrambling_control(&p), Some(0));
        assert_eq!(continuity_counter(&p), Some(9));
        assert!(has_payload(&p));
        assert!(!has_adaptation_field(&p));
        assert_eq!(payload_offset(&p), Some(4));
        assert_eq!(payload(&p).map(<[u8]>::len), Some(184));

        let q = packet(PID_NULL, false, 0b10, 0);
        assert_eq!(pid(&q), Some(PID_NULL));
        assert!(!payload_unit_start(&q));
        assert!(!has_payload(&q));
        assert_eq!(payload(&q), None);
    }

    #[test]
    fn continuity_counter_set_keeps_other_bits() {
        let mut p = packet(0x100, false, 0b11, 15);
        assert!(set_continuity_counter(&mut p, 0x12));
        assert_eq!(continuity_counter(&p), Some(2));
        assert!(has_payload(&p) && has_adaptation_field(&p));
        assert_eq!(pid(&p), Some(0x100));
    }

    #[test]
    fn adaptation_field_and_flags() {
        let p = pcr_packet(0);
        assert_eq!(adaptation_field(&p).map(<[u8]>::len), Some(7));
        assert!(random_access_indicator(&p));
        assert!(!discontinuity_indicator(&p));
        assert!(!is_keyframe_start(&p)); // no payload_unit_start
        assert_eq!(payload_offset(&p), Some(12));

        let mut k = p;
        k[1] |= 0x40;
        assert!(is_keyframe_start(&k));

        // Zero-length adaptation field: one byte of stuffing, no flags.
        let mut z = packet(0x100, false, 0b11, 0);
        z[4] = 0;
        assert_eq!(adaptation_field(&z), Some(&[][..]));
        assert!(!random_access_indicator(&z));
        assert_eq!(pcr(&z), None);
        assert_eq!(payload_offset(&z), Some(5));

        // Adaptation field longer than the packet: ignored, no panic.
        let mut bad = packet(0x100, false, 0b11, 0);
        bad[4] = 200;
        assert_eq!(adaptation_field(&bad), None);
        assert_eq!(payload_offset(&bad), None);
        assert_eq!(pcr(&bad), None);
        assert!(!set_pcr(&mut bad, 5));
    }

    #[test]
    fn pcr_read_write_round_trip() {
        for v in [0, 1, 299, 300, 27_000_000 * 3600 + 123, PCR_MODULUS - 1] {
            let p = pcr_packet(v);
            assert_eq!(pcr(&p), Some(v), "read {v}");
            let mut q = pcr_packet(0);
            assert!(set_pcr(&mut q, v));
            assert_eq!(q, p, "write {v}");
        }
        let mut q = pcr_packet(0);
        assert!(set_pcr(&mut q, PCR_MODULUS + 7));
        assert_eq!(pcr(&q), Some(7));
        // No PCR flag: nothing to read or write.
        let mut n = packet(0x100, false, 0b01, 0);
        assert_eq!(pcr(&n), None);
        let before = n;
        assert!(!set_pcr(&mut n, 1));
        assert_eq!(n, before);
    }

    #[test]
    fn pes_timestamps_read_write() {
        let p = pes_packet(133_200, Some(126_000));
        let ts = pes_timestamps(&p).unwrap();
        assert_eq!(ts.pts, Some(133_200));
        assert_eq!(ts.dts, Some(126_000));
        assert_eq!(ts.decode_time(), Some(126_000));

        let mut q = p;
        assert!(set_pes_timestamps(
            &mut q,
            Some(PTS_MODULUS - 1),
            Some(1 << 32)
        ));
        let ts = pes_timestamps(&q).unwrap();
        assert_eq!((ts.pts, ts.dts), (Some(PTS_MODULUS - 1), Some(1 << 32)));
        assert_eq!(q, pes_packet(PTS_MODULUS - 1, Some(1 << 32)));
        // Wrapping on write.
        assert!(set_pes_timestamps(&mut q, Some(PTS_MODULUS + 5), None));
        assert_eq!(pes_timestamps(&q).unwrap().pts, Some(5));
        assert_eq!(pes_timestamps(&q).unwrap().dts, Some(1 << 32));

        let a = pes_packet(90_000, None);
        let ts = pes_timestamps(&a).unwrap();
        assert_eq!(
            (ts.pts, ts.dts, ts.decode_time()),
            (Some(90_000), None, Some(90_000))
        );
        let mut b = a;
        assert!(
            !set_pes_timestamps(&mut b, Some(1), Some(1)),
            "no DTS field to write"
        );
        assert_eq!(a, b);
    }

    #[test]
    fn pes_timestamps_absent_cases() {
        // Not a unit start.
        let mut p = pes_packet(1, None);
        p[1] &= !0x40;
        assert_eq!(pes_timestamps(&p), None);
        // Not a PES start code (e.g. a PSI section).
        let mut s = packet(0, true, 0b01, 0);
        s[4] = 0;
        assert_eq!(pes_timestamps(&s), None);
        // Padding stream has no optional header.
        let mut pad = pes_packet(1, None);
        pad[7] = 0xBE;
        assert_eq!(pes_timestamps(&pad), None);
        // Header with no timestamps.
        let mut none = pes_packet(1, None);
        none[11] = 0x00;
        assert_eq!(pes_timestamps(&none), Some(PesTimestamps::default()));
        // PES header cut off by the end of the packet.
        let mut cut = packet(0x100, true, 0b11, 0);
        cut[4] = 183 - 12;
        cut[5] = 0;
        let at = 5 + 183 - 12;
        cut[at..at + 12].copy_from_slice(&[0, 0, 1, 0xE0, 0, 0, 0x80, 0xC0, 10, 0x31, 0, 1]);
        assert_eq!(pes_timestamps(&cut), None);
        assert!(!set_pes_timestamps(&mut cut, Some(1), None));
    }

    #[test]
    fn short_or_garbage_input_never_panics() {
        for len in 0..=PACKET_LEN + 1 {
            for fill in [0x00u8, 0x47, 0xFF] {
                let mut buf = vec![fill; len];
                if let Some(b) = buf.first_mut() {
                    *b = SYNC_BYTE;
                }
                let _ = (pid(&buf), continuity_counter(&buf), adaptation_field(&buf));
                let _ = (payload(&buf), pcr(&buf), pes_timestamps(&buf));
                let _ = (random_access_indicator(&buf), find_sync(&buf));
                let _ = (pat_pmt_pid(&buf), pmt(&buf), starts_keyframe(&buf, 0x1B));
                let _ = set_continuity_counter(&mut buf, 1);
                let _ = set_pcr(&mut buf, 1);
                let _ = set_pes_timestamps(&mut buf, Some(1), Some(1));
                let _ = shift_timestamps(&mut buf, u64::MAX);
            }
        }
        assert_eq!(pid(&[0x00, 0x01, 0x00, 0x10]), None, "no sync byte");
    }

    #[test]
    fn shift_timestamps_moves_pcr_pts_dts_with_wrap() {
        let mut p = pes_packet(PTS_MODULUS - 100, Some(PTS_MODULUS - 3700));
        assert!(shift_timestamps(&mut p, 3600));
        let ts = pes_timestamps(&p).unwrap();
        assert_eq!((ts.pts, ts.dts), (Some(3500), Some(PTS_MODULUS - 100)));

        let mut q = pcr_packet(PCR_MODULUS - 300);
        assert!(shift_timestamps(&mut q, 2));
        assert_eq!(pcr(&q), Some(300));

        let mut n = packet(0x100, false, 0b01, 0);
        assert!(!shift_timestamps(&mut n, 1));
    }

    #[test]
    fn modular_arithmetic() {
        assert_eq!(pts_add(PTS_MODULUS - 1, 2), 1);
        assert_eq!(pts_diff(PTS_MODULUS - 1, 1), 2);
        assert_eq!(pts_diff(1, PTS_MODULUS - 1), -2);
        assert_eq!(pts_diff(100, 100), 0);
        assert_eq!(pcr_add(PCR_MODULUS - 1, 1), 0);
        assert_eq!(pcr_diff(PCR_MODULUS - 10, 20), 30);
        assert_eq!(pcr_diff(20, PCR_MODULUS - 10), -30);
    }

    /// A single-packet PSI section on `pid`: pointer field 0, then `sec`
    /// (table id onward, CRC bytes included as zeros).
    fn psi_packet(pid: u16, sec: &[u8]) -> [u8; PACKET_LEN] {
        let mut p = packet(pid, true, 0b01, 0);
        p[4] = 0;
        p[5..5 + sec.len()].copy_from_slice(sec);
        p
    }

    #[test]
    fn program_tables() {
        // PAT: network pid entry (program 0) first, then program 1 at 0x1000.
        let pat = psi_packet(
            0,
            &[
                0x00, 0xB0, 17, 0, 1, 0xC1, 0, 0, 0, 0, 0xE0, 0x10, 0, 1, 0xF0, 0x00, 0, 0, 0, 0,
            ],
        );
        assert_eq!(pat_pmt_pid(&pat), Some(0x1000));
        // PMT: PCR on 0x100, AAC on 0x101, then H.264 on 0x100.
        let pmt_sec = [
            0x02, 0xB0, 23, 0, 1, 0xC1, 0, 0, 0xE1, 0x00, 0xF0, 0x00, 0x0F, 0xE1, 0x01, 0xF0, 0x00,
            0x1B, 0xE1, 0x00, 0xF0, 0x00, 0, 0, 0, 0,
        ];
        let map = pmt(&psi_packet(0x1000, &pmt_sec)).expect("a PMT");
        assert_eq!(map.pcr_pid, Some(0x100));
        assert_eq!(
            map.first,
            Some(Elementary {
                pid: 0x101,
                stream_type: 0x0F
            })
        );
        assert_eq!(
            map.video,
            Some(Elementary {
                pid: 0x100,
                stream_type: 0x1B
            })
        );
        assert_eq!(pmt(&pat), None, "a PAT is not a PMT");
        assert_eq!(pat_pmt_pid(&psi_packet(0x1000, &pmt_sec)), None);
        // Cut short: no panic, no answer.
        let mut short = psi_packet(0, &[0x00, 0xB0, 200]);
        assert_eq!(pat_pmt_pid(&short), None);
        short[4] = 190;
        assert_eq!(pat_pmt_pid(&short), None);
    }

    #[test]
    fn keyframes_are_found_without_the_random_access_flag() {
        let frame = |nal: &[u8]| {
            let mut p = pes_packet(90_000, None);
            // pes_packet ends its header with an AUD (00 00 00 01 09 F0).
            let at = 4 + 14 + 6;
            p[at..at + nal.len()].copy_from_slice(nal);
            p
        };
        let sps = frame(&[0, 0, 1, 0x67, 0x4D]);
        let idr = frame(&[0, 0, 0, 1, 0x65, 0x88]);
        let p_slice = frame(&[0, 0, 1, 0x41, 0x9A]);
        assert!(starts_keyframe(&sps, 0x1B));
        assert!(starts_keyframe(&idr, 0x1B));
        assert!(!starts_keyframe(&p_slice, 0x1B));
        // H.265: VPS (type 32) and IDR_W_RADL (19) start one, TRAIL_R (1) does not.
        assert!(starts_keyframe(&frame(&[0, 0, 1, 0x40, 0x01]), 0x24));
        assert!(starts_keyframe(&frame(&[0, 0, 1, 0x26, 0x01]), 0x24));
        assert!(!starts_keyframe(&frame(&[0, 0, 1, 0x02, 0x01]), 0x24));
        // MPEG-2: a sequence header.
        assert!(starts_keyframe(&frame(&[0, 0, 1, 0xB3]), 0x02));
        // Not a PES start: never.
        let mut cont = sps;
        cont[1] &= !0x40;
        assert!(!starts_keyframe(&cont, 0x1B));
        // The flag alone is enough.
        let mut flagged = pcr_packet(0);
        flagged[1] |= 0x40;
        assert!(starts_keyframe(&flagged, 0x1B));
    }
}
