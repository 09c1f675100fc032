//! The Stalker portal's request parameters (`tvgate_http::stalker`): the
//! MAC and token a box presents (`identity::presented`, from the query or
//! form, the `mac`/`token` cookies and `Authorization: Bearer`), the MAC's
//! many spellings (`identity::Mac::parse`), the channel a `create_link`
//! `cmd` names, the numbers a call reads, and the device identity the
//! profile call hands the decision (`DevicePresented::mag`).
//!
//! Input: the query string, a cookie header, an Authorization header and
//! the serial, separated by NUL bytes.
//!
//! Checks: no panic; a parsed MAC is canonical (`XX:XX:XX:XX:XX:XX`,
//! upper-case hex) and parses to itself; every MAC the portal accepts is
//! one the core's device step accepts as the same MAC (else a bound box
//! would be refused).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tvgate_core::access::device::{normalize_mac, DevicePresented};
use tvgate_http::params::Params;
use tvgate_http::stalker::channel_of_cmd;
use tvgate_http::stalker::identity::{self, Mac};

fn check_mac(raw: &str) {
    let Some(mac) = Mac::parse(raw) else {
        return;
    };
    let s = mac.as_str();
    assert_eq!(s.len(), 17, "{s:?}");
    for (i, b) in s.bytes().enumerate() {
        if i % 3 == 2 {
            assert_eq!(b, b':', "{s:?}");
        } else {
            assert!(b.is_ascii_digit() || (b'A'..=b'F').contains(&b), "{s:?}");
        }
    }
    assert_eq!(Mac::parse(s).as_ref(), Some(&mac));
    assert_eq!(normalize_mac(s).as_deref(), Some(s), "core refuses {s:?}");
    let device = DevicePresented::mag(s, None, None, None).expect("a MAC the portal accepts");
    assert_eq!(&*device.id, s);
}

fuzz_target!(|data: &[u8]| {
    let mut parts = data.split(|b| *b == 0);
    let query = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let cookie = parts.next().unwrap_or_default();
    let authorization = parts.next().unwrap_or_default();
    let serial = String::from_utf8_lossy(parts.next().unwrap_or_default());

    let params = Params::from_query(Some(&query));
    let mut headers = reqwest::header::HeaderMap::new();
    if let Ok(v) = reqwest::header::HeaderValue::from_bytes(cookie) {
        headers.insert(reqwest::header::COOKIE, v);
    }
    if let Ok(v) = reqwest::header::HeaderValue::from_bytes(authorization) {
        headers.insert(reqwest::header::AUTHORIZATION, v);
    }
    let who = identity::presented(&headers, &params);
    if let Some(raw) = who.raw_mac.as_deref() {
        check_mac(raw);
    }
    if let Some(token) = who.token.as_deref() {
        assert!(!token.is_empty());
    }
    let _ = who.mac();
    for (_, value) in params.iter() {
        check_mac(value);
    }
    check_mac(&query);

    let _ = channel_of_cmd(params.str("cmd"));
    let _ = channel_of_cmd(&query);
    let _ = params.number::<usize>("p");
    let _ = params.number::<u32>("ch_id");
    if let Some(mac) = who.mac() {
        let d = DevicePresented::mag(
            mac.as_str(),
            Some(&serial),
            params.get("device_id"),
            params.get("device_id2"),
        )
        .expect("a MAC the portal accepts");
        let _ = d.describe();
    }
});
