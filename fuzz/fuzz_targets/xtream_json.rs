//! The Xtream JSON readers: what `tvgate source add xtream` reads from a
//! provider (`tvgate_formats::xtream::upstream`: the login answer, the
//! category, live, VOD and series lists, `get_series_info`) and what the
//! doctor reads from a server (`tvgate_doctor::account::interpret`, the
//! login answer, and `read_first_live_channel`).
//!
//! Input: a byte choosing the HTTP status and content type the doctor is
//! shown, then the body.
//!
//! Checks: no panic; every list reader accounts for every entry
//! `read_list` counts (read, or a diagnostic), and they agree on whether
//! the answer is readable at all; `read_list` hands over positions 1, 2,
//! 3... in order.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use reqwest::header::HeaderMap;
use reqwest::{StatusCode, Url};
use tvgate_doctor::fetch::Fetched;
use tvgate_formats::xtream::upstream as xt;

const STATUSES: [u16; 6] = [200, 200, 401, 404, 429, 500];

fuzz_target!(|data: &[u8]| {
    let Some((&first, body)) = data.split_first() else {
        return;
    };

    // The source import.
    let mut positions = Vec::new();
    let listed = xt::read_list(body, |p, _| positions.push(p));
    if let Ok(n) = listed {
        assert_eq!(n, positions.len() as u64);
        assert!(positions.iter().copied().eq(1..=n), "{positions:?}");
    }
    let count = |got: Result<Vec<_>, String>, read: usize| match (&listed, got) {
        (Ok(n), Ok(diags)) => assert_eq!(*n, (read + diags.len()) as u64, "{diags:?}"),
        (Err(a), Err(b)) => assert_eq!(a, &b),
        (a, b) => panic!("read_list and a reader disagree: {a:?} / {b:?}"),
    };
    let mut read = 0;
    count(
        xt::read_categories(body, "get_live_categories", |_| read += 1),
        read,
    );
    let mut read = 0;
    count(xt::read_live(body, |_| read += 1), read);
    let mut read = 0;
    count(xt::read_vod(body, |_| read += 1), read);
    let mut read = 0;
    count(xt::read_series(body, |_| read += 1), read);
    let _ = xt::read_series_info(body, 7);
    if let Ok(account) = xt::read_account(body) {
        let _ = account.refusal();
    }
    let _ = xt::not_json(body);

    // The doctor.
    let status = STATUSES[usize::from(first) % STATUSES.len()];
    let content_type = if first & 0x80 != 0 {
        "text/html; charset=utf-8"
    } else {
        "application/json"
    };
    let requested = Url::parse("http://iptv.example:8080/player_api.php?username=u&password=p")
        .expect("a constant URL");
    let fetched = Fetched {
        status: StatusCode::from_u16(status).expect("a constant status"),
        headers: HeaderMap::new(),
        content_type: content_type.to_string(),
        body: Bytes::copy_from_slice(body),
        truncated: false,
        final_url: requested.clone(),
        millis: 1,
    };
    let _ = tvgate_doctor::account::read_first_live_channel(&fetched);
    let login = tvgate_doctor::account::interpret(&Ok(fetched), &requested, 1_800_000_000);
    let _ = login.playable();
});
