//! The program of one upstream connection, read from its packets as they
//! pass: the PAT's PMT pid, the PMT's video stream, the latest PAT and PMT
//! packets, and where keyframes start. Used for the keyframe clock of a
//! connection and for the seam of a return to the primary (PAT, PMT, then
//! a keyframe, as a joining viewer starts).

use bytes::Bytes;
use tvgate_formats::mpegts::{self, Elementary, PACKET_LEN, PID_PAT, SYNC_BYTE};

/// What one connection has said about its program so far.
#[derive(Debug, Clone, Default)]
pub(crate) struct Program {
    pmt_pid: Option<u16>,
    video: Option<Elementary>,
    pat: Option<Bytes>,
    pmt: Option<Bytes>,
}

/// Where, in the packets just scanned, a clean start is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Found {
    /// Offset of the first packet that starts a keyframe of the video stream.
    pub key: Option<usize>,
    /// Offset of the first packet that starts a PAT.
    pub pat: Option<usize>,
}

impl Program {
    /// Reads `packets` (whole, aligned): the tables they carry are
    /// remembered; returns where the first keyframe and PAT are.
    pub(crate) fn scan(&mut self, packets: &[u8]) -> Found {
        let mut found = Found::default();
        for (i, pkt) in packets.chunks_exact(PACKET_LEN).enumerate() {
            if pkt[0] != SYNC_BYTE || !mpegts::payload_unit_start(pkt) {
                continue;
            }
            let Some(pid) = mpegts::pid(pkt) else {
                continue;
            };
            if pid == PID_PAT {
                if let Some(pmt_pid) = mpegts::pat_pmt_pid(pkt) {
                    self.pmt_pid = Some(pmt_pid);
                    self.pat = Some(Bytes::copy_from_slice(pkt));
                    found.pat.get_or_insert(i * PACKET_LEN);
                }
            } else if Some(pid) == self.pmt_pid {
                if let Some(map) = mpegts::pmt(pkt) {
                    self.video = map.video;
                    self.pmt = Some(Bytes::copy_from_slice(pkt));
                }
            } else if let Some(video) = self.video.filter(|v| v.pid == pid) {
                if found.key.is_none() && mpegts::starts_keyframe(pkt, video.stream_type) {
                    found.key = Some(i * PACKET_LEN);
                }
            }
        }
        found
    }

    /// The program has a video stream (so it must send keyframes).
    pub(crate) fn has_video(&self) -> bool {
        self.video.is_some()
    }

    /// The latest PAT and PMT packets, once both are known.
    pub(crate) fn tables(&self) -> Option<(&Bytes, &Bytes)> {
        Some((self.pat.as_ref()?, self.pmt.as_ref()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_tables_and_keyframes_in_the_demo_clip() {
        let clip = crate::loop_source::demo_clip();
        let mut p = Program::default();
        let found = p.scan(&clip);
        assert!(p.has_video(), "the clip has H.264 video");
        assert!(p.tables().is_some());
        let (pat, key) = (found.pat.unwrap(), found.key.unwrap());
        assert!(pat < key, "PAT before the first keyframe");
        assert!(mpegts::payload_unit_start(&clip[key..key + PACKET_LEN]));
    }

    #[test]
    fn noise_finds_nothing_and_never_panics() {
        let mut p = Program::default();
        let mut junk = vec![0x47u8; PACKET_LEN * 4];
        junk[1] = 0x40; // PAT with a unit start but no valid section
        assert_eq!(p.scan(&junk), Found::default());
        assert!(!p.has_video());
        assert!(p.tables().is_none());
        assert_eq!(p.scan(&[0u8; 100]), Found::default());
    }
}
