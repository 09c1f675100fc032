//! Times as people and players read them: in the server's advertised zone
//! (the `timezone` setting), in the few formats the faces write. Pure
//! formatting; the time itself is always a parameter.

use crate::state::App;
use chrono::TimeZone;
use tvgate_core::UnixTime;

/// `ts` in the advertised zone with a chrono `format`; "" when out of range.
pub fn formatted(app: &App, ts: UnixTime, format: &str) -> String {
    match app.settings.timezone.timestamp_opt(ts, 0).single() {
        Some(t) => t.format(format).to_string(),
        None => String::new(),
    }
}

/// `YYYY-MM-DD HH:MM:SS` in the advertised zone ("" when out of range).
pub fn local_time(app: &App, ts: UnixTime) -> String {
    formatted(app, ts, "%Y-%m-%d %H:%M:%S")
}

thread_local! {
    // (second, zone, text) of the last `time_now` rendered on this thread:
    // every login in the same second reuses it (`with_time_now`) instead of formatting again.
    static NOW_TEXT: std::cell::RefCell<(UnixTime, chrono_tz::Tz, String)> =
        const { std::cell::RefCell::new((UnixTime::MIN, chrono_tz::UTC, String::new())) };
}

/// [`local_time`] of the current second, cached per thread and lent to `f`.
pub fn with_time_now<R>(app: &App, now: UnixTime, f: impl FnOnce(&str) -> R) -> R {
    let zone = app.settings.timezone;
    NOW_TEXT.with(|cell| {
        if let Ok(mut c) = cell.try_borrow_mut() {
            if c.0 != now || c.1 != zone {
                *c = (now, zone, local_time(app, now));
            }
        }
        // A call from inside `f` finds the text lent out: it formats its own.
        match cell.try_borrow() {
            Ok(c) if c.0 == now && c.1 == zone => f(&c.2),
            _ => f(&local_time(app, now)),
        }
    })
}

/// `YYYY-MM-DD` in the advertised zone, for messages (the bare number when
/// out of range).
pub fn local_date(app: &App, ts: UnixTime) -> String {
    match app.settings.timezone.timestamp_opt(ts, 0).single() {
        Some(t) => t.format("%Y-%m-%d").to_string(),
        None => ts.to_string(),
    }
}

/// `2026-11-28 20:12` in the advertised zone: when a connection began (the
/// bare number when out of range).
pub fn local_minute(app: &App, ts: UnixTime) -> String {
    match app.settings.timezone.timestamp_opt(ts, 0).single() {
        Some(t) => t.format("%Y-%m-%d %H:%M").to_string(),
        None => ts.to_string(),
    }
}
