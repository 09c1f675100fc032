//! MPEG-TS packet basics: 188-byte packets, sync, PID, continuity counter,
//! PCR/PTS/DTS. (Implementation pending.)

/// Size of one transport-stream packet.
pub const PACKET_LEN: usize = 188;
/// First byte of every packet.
pub const SYNC_BYTE: u8 = 0x47;
