//! The query and form parameter parser every face reads requests with
//! (`tvgate_http::params::Params`), and the link encoders beside it.
//!
//! Checks: no panic; a query string and the same bytes as a form body give
//! the same pairs; writing the pairs back as a form and reading that gives
//! the same pairs (round trip); the lookups agree with the pairs (first
//! wins, `last_filled` trims); `query_value` (and `path_segment`, for values
//! without `%`, as credentials are) decode back to what they encoded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use percent_encoding::percent_decode_str;
use tvgate_http::params::{path_segment, query_value, Params};

fuzz_target!(|data: &[u8]| {
    let form = Params::from_form(data);
    let text = String::from_utf8_lossy(data);
    if let std::borrow::Cow::Borrowed(s) = &text {
        assert_eq!(Params::from_query(Some(s)), form);
    }
    let pairs: Vec<(&str, &str)> = form.iter().collect();

    // Round trip through the encoder.
    let mut ser = form_urlencoded::Serializer::new(String::new());
    for (k, v) in &pairs {
        ser.append_pair(k, v);
    }
    let encoded = ser.finish();
    let again = Params::from_form(encoded.as_bytes());
    assert_eq!(again, form, "{encoded}");

    // Lookups.
    for (k, v) in &pairs {
        let first = pairs.iter().find(|(n, _)| n == k).map(|(_, v)| *v);
        assert_eq!(form.get(k), first);
        assert!(form.has(k, v));
        assert_eq!(
            form.all(k).count(),
            pairs.iter().filter(|(n, _)| n == k).count()
        );
        if let Some(f) = form.first_filled(k) {
            assert!(!f.trim().is_empty());
        }
        if let Some(l) = form.last_filled(k) {
            assert!(!l.is_empty() && l == l.trim());
        }
        let _ = form.number::<u64>(k);
        let _ = form.number::<i32>(k);

        // The link encoders.
        let q = query_value(v);
        assert!(q.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'%'));
        assert_eq!(percent_decode_str(&q).decode_utf8().expect("utf-8"), *v);
        // Path segments hold credentials, which never hold `%` (nor any
        // other URL-breaking ASCII): only those are promised to decode back.
        if !v.contains('%') {
            let p = path_segment(v);
            assert_eq!(percent_decode_str(&p).decode_utf8().expect("utf-8"), *v);
        }
    }

    // Path aliases put values first.
    let mut aliased = form.clone();
    aliased.set_from_path(&text, "action");
    let mut segments = text.split('/');
    if let Some(user) = segments.next() {
        assert_eq!(aliased.get("username"), Some(user));
    }
});
