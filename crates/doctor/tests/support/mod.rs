//! Loopback stand-ins for the network faults the doctor names: a DNS
//! server the test drives (the ISP's resolver), certificates made at test
//! time, and small HTTP(S) servers that answer, lie or stay silent. Every
//! server listens on an ephemeral port on a 127/8 address and stops when
//! its handle is dropped.

#![allow(dead_code)]

pub mod dns;
pub mod http;
pub mod tls;

/// A port on 127.0.0.1 with nothing listening: bound, then released.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local address").port()
}
