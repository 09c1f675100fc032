//! XMLTV times: `YYYYMMDDhhmmss ±HHMM` and every shortening the DTD allows.

/// Parses an XMLTV time (`YYYYMMDDhhmmss`, any leading part, optional ` +HHMM`
/// zone; no zone means UTC) into unix seconds.
///
/// Accepted: 4 to 14 digits in whole fields (`2025`, `202501`, ...,
/// `20250101120000`), then optionally a zone, with or without a space before
/// it: `+0100`, `-04:00`, `+01`, `Z`, `UTC`/`GMT`, or one of the few
/// unambiguous names real guides use (`BST`, `CET`, `CEST`, `EET`, `EEST`,
/// `WET`, `WEST`, `MSK`, `EST`, `EDT`, `MST`, `MDT`, `PST`, `PDT`). Anything
/// else (an impossible date, a stray character, an unknown zone name) gives
/// `None`: a wrong time is worse than none.
pub fn parse_time(text: &str) -> Option<i64> {
    let s = text.trim();
    let b = s.as_bytes();
    let digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
    if !(4..=14).contains(&digits) || digits % 2 != 0 {
        return None;
    }
    let field = |at: usize, len: usize, default: i64| -> i64 {
        if at + len > digits {
            return default;
        }
        b[at..at + len]
            .iter()
            .fold(0, |n, d| n * 10 + i64::from(d - b'0'))
    };
    let (year, month, day) = (field(0, 4, 0), field(4, 2, 1), field(6, 2, 1));
    let (hour, minute, second) = (field(8, 2, 0), field(10, 2, 0), field(12, 2, 0));
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let offset = parse_zone(s.get(digits..)?.trim_start())?;
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

/// A zone after an XMLTV time, as seconds east of UTC. Empty means UTC.
fn parse_zone(z: &str) -> Option<i64> {
    let b = z.as_bytes();
    match b.first() {
        None => Some(0),
        Some(&sign @ (b'+' | b'-')) => {
            let rest = &b[1..];
            let two = |d: &[u8]| -> Option<i64> {
                match d {
                    [a @ b'0'..=b'9', c @ b'0'..=b'9'] => {
                        Some(i64::from((a - b'0') * 10 + (c - b'0')))
                    }
                    _ => None,
                }
            };
            let (h, m) = match rest.len() {
                2 => (two(rest)?, 0),
                4 => (two(&rest[..2])?, two(&rest[2..])?),
                5 if rest[2] == b':' => (two(&rest[..2])?, two(&rest[3..])?),
                _ => return None,
            };
            if h > 23 || m > 59 {
                return None;
            }
            let secs = h * 3600 + m * 60;
            Some(if sign == b'-' { -secs } else { secs })
        }
        Some(_) => {
            const NAMES: &[(&str, i64)] = &[
                ("Z", 0),
                ("UT", 0),
                ("UTC", 0),
                ("GMT", 0),
                ("WET", 0),
                ("BST", 3600),
                ("CET", 3600),
                ("WEST", 3600),
                ("CEST", 7200),
                ("EET", 7200),
                ("EEST", 10_800),
                ("MSK", 10_800),
                ("EST", -5 * 3600),
                ("EDT", -4 * 3600),
                ("MST", -7 * 3600),
                ("MDT", -6 * 3600),
                ("PST", -8 * 3600),
                ("PDT", -7 * 3600),
            ];
            NAMES
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(z))
                .map(|&(_, secs)| secs)
        }
    }
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`, <http://howardhinnant.github.io/date_algorithms.html>).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`]: (year, month, day).
fn civil_from_days(days: i64) -> (i64, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    // Both are small by construction (1..=31 and 1..=12).
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `unix_secs` as an XMLTV time in the zone `offset_secs` east of UTC:
/// `20250101120000 +0000`.
pub fn format_time(unix_secs: i64, offset_secs: i32) -> String {
    let mut out = Vec::with_capacity(20);
    push_time(&mut out, unix_secs, offset_secs);
    // push_time writes ASCII only.
    String::from_utf8(out).unwrap_or_default()
}

/// Appends [`format_time`]'s text to `out`, without allocating. The offset is
/// written to the minute; times beyond year 9999 are written with more digits
/// (no consumer can read them, but nothing panics).
pub fn push_time(out: &mut Vec<u8>, unix_secs: i64, offset_secs: i32) {
    // Clamped so that neither the sum nor the day arithmetic can overflow.
    const LIMIT: i64 = 1 << 50;
    let local = unix_secs.clamp(-LIMIT, LIMIT) + i64::from(offset_secs);
    let (year, month, day) = civil_from_days(local.div_euclid(86_400));
    let secs = local.rem_euclid(86_400);
    if year < 0 {
        out.push(b'-');
    }
    let year = year.unsigned_abs();
    if year < 1000 {
        push_2(out, (year / 100) as u8);
        push_2(out, (year % 100) as u8);
    } else {
        out.extend_from_slice(itoa::Buffer::new().format(year).as_bytes());
    }
    for n in [
        month,
        day,
        (secs / 3600) as u8,
        (secs / 60 % 60) as u8,
        (secs % 60) as u8,
    ] {
        push_2(out, n);
    }
    out.extend_from_slice(if offset_secs < 0 { b" -" } else { b" +" });
    let off = offset_secs.unsigned_abs() / 60;
    push_2(out, (off / 60 % 100) as u8);
    push_2(out, (off % 60) as u8);
}

fn push_2(out: &mut Vec<u8>, n: u8) {
    out.push(b'0' + n / 10 % 10);
    out.push(b'0' + n % 10);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(text: &str, want: Option<i64>) {
        assert_eq!(parse_time(text), want, "parse_time({text:?})");
    }

    #[test]
    fn full_times_and_zones() {
        check("20250101120000 +0000", Some(1_735_732_800));
        check("20250101120000", Some(1_735_732_800));
        check("20250101120000 +0100", Some(1_735_729_200));
        check("20250101120000+0100", Some(1_735_729_200));
        check(
            "20250101120000 -0430",
            Some(1_735_732_800 + 4 * 3600 + 1800),
        );
        check("20250101120000 +01:00", Some(1_735_729_200));
        check("20250101120000 +01", Some(1_735_729_200));
        check("  20250101120000 Z ", Some(1_735_732_800));
        check("20250101120000 gmt", Some(1_735_732_800));
        check("200007281733 BST", Some(964_801_980));
        check("19880523083000 +0300", Some(580_368_600));
    }

    #[test]
    fn shortened_times() {
        check("2025", Some(1_735_689_600));
        check("202501", Some(1_735_689_600));
        check("20250101", Some(1_735_689_600));
        check("2025010112", Some(1_735_732_800));
        check("202501011200", Some(1_735_732_800));
        check("20250101 +0100", Some(1_735_689_600 - 3600));
    }

    #[test]
    fn bad_times() {
        for bad in [
            "",
            "abc",
            "202",
            "20250",
            "2025010112000",
            "202501011200000",
            "20251301000000",
            "20250230000000",
            "20250101240000",
            "20250101120000 +2500",
            "20250101120000 +010",
            "20250101120000 XYZ",
            "20250101120000 +0000 junk",
            "20250101120000.000",
        ] {
            check(bad, None);
        }
        check("20240229000000", Some(1_709_164_800));
        check("19700101000000", Some(0));
        check("19691231235959", Some(-1));
    }

    #[test]
    fn format_round_trips() {
        assert_eq!(format_time(1_735_732_800, 0), "20250101120000 +0000");
        assert_eq!(format_time(1_735_732_800, 3600), "20250101130000 +0100");
        assert_eq!(format_time(1_735_732_800, -16_200), "20250101073000 -0430");
        assert_eq!(format_time(-1, 0), "19691231235959 +0000");
        assert_eq!(format_time(-62_135_596_800, 0), "00010101000000 +0000");
        // Extreme values do not panic.
        let _ = format_time(i64::MAX, i32::MAX);
        let _ = format_time(i64::MIN, i32::MIN);
        for t in (-3_000_000_000_i64..5_000_000_000).step_by(86_399 * 37 + 13) {
            for off in [0, 3600, -18_000, 20_700] {
                assert_eq!(parse_time(&format_time(t, off)), Some(t), "{t} {off}");
            }
        }
    }
}
