//! The doctor's input parser (`tvgate_doctor::input::normalise`): what a
//! person pasted or typed (one line from a welcome e-mail, a server, a
//! username and password, an M3U link, a MAC), and the typing check run on
//! it (`tvgate_doctor::typing::inspect`).
//!
//! Input: the fields of `Given` (line, server, username, password, m3u,
//! mac, device id, serial), separated by NUL bytes; an empty field is not
//! given.
//!
//! Checks: no panic; an accepted input names a base URL that ends in `/`
//! and holds no query, fragment or credentials; the method has what it
//! needs (Xtream: a server, M3U: a link); and for an Xtream target, giving
//! the doctor its own base back (as `display_base` shows it) with the same
//! username and password gives the same base (unless the base is two path
//! segments long, which alone reads as `host/user/pass`, or ends in an
//! endpoint such as `get.php`, which is stripped once per reading).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tvgate_doctor::input::{self, Given, Method};

fuzz_target!(|data: &[u8]| {
    let mut fields = data.split(|b| *b == 0).map(|f| {
        let s = String::from_utf8_lossy(f).into_owned();
        (!s.is_empty()).then_some(s)
    });
    let mut next = || fields.next().flatten();
    let given = Given {
        line: next(),
        server: next(),
        username: next(),
        password: next(),
        m3u: next(),
        mac: next(),
        device_id: next(),
        serial: next(),
    };
    for f in [&given.line, &given.server, &given.mac]
        .into_iter()
        .flatten()
    {
        let _ = input::looks_like_mac(f);
    }
    let Ok(target) = input::normalise(&given) else {
        return;
    };
    let _ = tvgate_doctor::typing::inspect(
        &target.username,
        &target.password,
        target.raw.server.as_deref(),
    );
    if let Some(base) = &target.server {
        assert!(base.path().ends_with('/'), "{base}");
        assert!(base.query().is_none(), "{base}");
        assert!(base.fragment().is_none(), "{base}");
        assert!(
            base.username().is_empty() && base.password().is_none(),
            "{base}"
        );
        assert!(matches!(base.scheme(), "http" | "https"), "{base}");
    }
    match target.method {
        Method::Xtream => assert!(target.server.is_some()),
        Method::M3u => assert!(target.m3u.is_some()),
        Method::Stalker => assert!(target.server.is_some() && target.portal.is_some()),
    }
    // A base of exactly two path segments is left out: given back alone,
    // `host/a/b` is read as `host/user/pass` (the doctor's documented
    // reading of a pasted `http://host:port/user/pass/`).
    // Nor a base whose last segment is an endpoint (`host/get.php/get.php`
    // loses one `/get.php`; given back, it loses the other).
    const ENDPOINTS: [&str; 5] = [
        "player_api.php",
        "get.php",
        "panel_api.php",
        "xmltv.php",
        "portal.php",
    ];
    let base = target.server.as_ref().filter(|b| {
        let segments: Vec<&str> = b
            .path_segments()
            .map(|s| s.filter(|s| !s.is_empty()).collect())
            .unwrap_or_default();
        segments.len() != 2
            && !segments
                .last()
                .is_some_and(|l| ENDPOINTS.iter().any(|e| l.eq_ignore_ascii_case(e)))
    });
    if let (Method::Xtream, Some(base)) = (target.method, base) {
        let shown = input::display_base(base);
        let again = input::normalise(&Given {
            server: Some(shown.clone()),
            username: Some(target.username.clone()),
            password: Some(target.password.clone()),
            ..Given::default()
        })
        .expect("the doctor's own base is accepted");
        assert_eq!(again.server.as_ref(), Some(base), "{shown}");
    }
});
