//! Lines as CSV: the one reader behind `tvgate line import`, the console's
//! import form and `POST /api/v1/lines/import`, and the one writer behind
//! `tvgate line export`, the console's export link and
//! `GET /api/v1/lines/export`.
//!
//! The writer's columns are exactly what the reader reads, so an export
//! re-imports without loss. Passwords and hashes are never written. Like
//! the `formats` readers, the reader never fails on content: a bad row
//! becomes a [`RowError`] with its line number and the rest is kept; only
//! a file without a `username` column is refused as a whole.

use crate::access::{Line, Status};
use crate::gate::{ImportRow, RowError};
use crate::ledger::LimitPolicy;
use crate::UnixTime;
use chrono::{Datelike, NaiveDate, SecondsFormat, TimeZone, Utc};

/// The columns [`write_rows`] writes, in order.
pub const EXPORT_COLUMNS: [&str; 7] = [
    "username",
    "status",
    "expires",
    "max_connections",
    "limit_policy",
    "is_trial",
    "note",
];

/// Parses an expiry as an operator writes it: `YYYY-MM-DD` (the end of
/// that day, UTC), an RFC 3339 time, or `never`/`unlimited` (`None`).
pub fn parse_expiry(s: &str) -> Result<Option<UnixTime>, String> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("never") || s.eq_ignore_ascii_case("unlimited") {
        return Ok(None);
    }
    // Years 0 to 9999 only: chrono also reads `-030-01-02`, an instant
    // no export could write back (found by fuzz/).
    if let Some(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .filter(|d| (0..=9999).contains(&d.year()))
    {
        if let Some(end) = d.and_hms_opt(23, 59, 59) {
            return Ok(Some(Utc.from_utc_datetime(&end).timestamp()));
        }
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(Some(t.timestamp()));
    }
    Err(format!(
        "expiry {s:?} is not a date: use YYYY-MM-DD, an RFC 3339 time, or never"
    ))
}

/// An expiry as the export writes it: RFC 3339 to the second (exact on
/// re-import), or `never`. An instant RFC 3339 cannot write (after the
/// year 9999, which the import takes as unix seconds) is written as unix
/// seconds, never as `never`.
pub fn format_expiry(t: Option<UnixTime>) -> String {
    let Some(t) = t else {
        return "never".to_string();
    };
    match Utc.timestamp_opt(t, 0).single() {
        Some(d) if (0..=9999).contains(&d.year()) => d.to_rfc3339_opts(SecondsFormat::Secs, true),
        _ => t.to_string(),
    }
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" | "y" => Some(true),
        "false" | "no" | "0" | "n" => Some(false),
        _ => None,
    }
}

/// Reads the CSV: a header row names the columns (`username`, and any of
/// `password`, `max_connections`, `expires`, `status`, `limit_policy`,
/// `is_trial`, `note`). An empty cell leaves the field as it is (or the
/// default for a new line). Rows that cannot be read are returned as errors
/// with their line numbers. `Err` only when the header row is unreadable or
/// has no username column.
pub fn read_rows(text: impl std::io::Read) -> Result<(Vec<ImportRow>, Vec<RowError>), String> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::Headers)
        .from_reader(text);
    let headers = reader
        .headers()
        .map_err(|e| format!("reading the header row: {e}"))?
        .clone();
    let col = |names: &[&str]| {
        headers
            .iter()
            .position(|h| names.iter().any(|n| h.eq_ignore_ascii_case(n)))
    };
    let Some(user_col) = col(&["username", "user", "login"]) else {
        return Err(format!(
            "the header row has no `username` column (found: {})",
            headers.iter().collect::<Vec<_>>().join(", ")
        ));
    };
    let pass_col = col(&["password", "pass"]);
    let max_col = col(&["max_connections", "max_cons", "connections"]);
    let exp_col = col(&["expires", "exp_date", "expiry", "expires_at"]);
    let status_col = col(&["status"]);
    let policy_col = col(&["limit_policy", "policy"]);
    let trial_col = col(&["is_trial", "trial"]);
    let note_col = col(&["note", "notes", "comment"]);
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                errors.push(RowError {
                    line,
                    message: format!("unreadable row: {e}"),
                });
                continue;
            }
        };
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        let field = |c: Option<usize>| {
            c.and_then(|c| record.get(c))
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let parsed = (|| -> Result<ImportRow, String> {
            let username = record.get(user_col).unwrap_or("").to_string();
            if username.trim().is_empty() {
                return Err("empty username".into());
            }
            let max_connections = field(max_col)
                .map(|v| {
                    v.parse::<u32>()
                        .map_err(|_| format!("max_connections {v:?} is not a number"))
                })
                .transpose()?;
            let expires_at = field(exp_col)
                .map(|v| {
                    // Unix seconds are accepted as well (other panels export them).
                    if v.bytes().all(|b| b.is_ascii_digit()) && v.len() >= 9 {
                        v.parse::<i64>()
                            .map(Some)
                            .map_err(|e| format!("expiry {v:?}: {e}"))
                    } else {
                        parse_expiry(v)
                    }
                })
                .transpose()?;
            let status = field(status_col).map(str::parse::<Status>).transpose()?;
            // Empty: unchanged; `default`: the server-wide setting.
            let limit_policy = field(policy_col)
                .map(LimitPolicy::parse_for_line)
                .transpose()?;
            let is_trial = field(trial_col)
                .map(|v| {
                    parse_bool(v).ok_or_else(|| format!("is_trial {v:?} is not true or false"))
                })
                .transpose()?;
            let note = field(note_col).map(str::to_string);
            if note
                .as_ref()
                .is_some_and(|n| n.chars().count() > MAX_NOTE_CHARS)
            {
                return Err(format!("note is longer than {MAX_NOTE_CHARS} characters"));
            }
            Ok(ImportRow {
                line,
                username,
                // Passwords are taken as written; the gate validates them.
                password: pass_col
                    .and_then(|c| record.get(c))
                    .unwrap_or("")
                    .to_string(),
                max_connections,
                expires_at,
                status,
                limit_policy,
                is_trial,
                note,
                only_new: false,
            })
        })();
        match parsed {
            Ok(row) => rows.push(row),
            Err(message) => errors.push(RowError { line, message }),
        }
    }
    Ok((rows, errors))
}

/// The longest note a line may have (the API's and the console's limit).
pub const MAX_NOTE_CHARS: usize = 1000;

/// Writes `lines` as CSV with [`EXPORT_COLUMNS`], sorted by username. A
/// line on the server-wide limit policy is written `default`, one that
/// never expires `never`, so re-importing the file restores both.
pub fn write_rows<'a>(
    lines: impl IntoIterator<Item = &'a Line>,
    out: impl std::io::Write,
) -> Result<(), String> {
    let mut lines: Vec<&Line> = lines.into_iter().collect();
    lines.sort_by(|a, b| a.username.cmp(&b.username));
    let mut w = csv::Writer::from_writer(out);
    let fail = |e: csv::Error| format!("writing the CSV: {e}");
    w.write_record(EXPORT_COLUMNS).map_err(fail)?;
    for a in lines {
        w.write_record([
            &*a.username,
            a.status.as_str(),
            &format_expiry(a.expires_at),
            &a.max_connections.to_string(),
            a.limit_policy.map_or("default", LimitPolicy::as_str),
            if a.is_trial { "true" } else { "false" },
            &*a.note,
        ])
        .map_err(fail)?;
    }
    w.flush().map_err(|e| format!("writing the CSV: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_rows_are_reported_by_line_and_the_rest_kept() {
        let text = "username,password,expires,is_trial,note,status\n\
                    ann,pw-1,2030-01-02,yes,hotel 12,active\n\
                    bob,,soon,,,\n\
                    ,x,,,,\n\
                    cy,,never,false,,banned\n";
        let (rows, errors) = read_rows(text.as_bytes()).expect("read");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].username, "ann");
        assert_eq!(rows[0].is_trial, Some(true));
        assert_eq!(rows[0].note.as_deref(), Some("hotel 12"));
        assert_eq!(
            rows[0].expires_at,
            Some(parse_expiry("2030-01-02").expect("date"))
        );
        assert_eq!(rows[1].expires_at, Some(None));
        assert_eq!(rows[1].status, Some(Status::Banned));
        assert_eq!(rows[1].is_trial, Some(false));
        let lines: Vec<u64> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![3, 4], "{errors:?}");
        assert!(errors[0].message.contains("soon"), "{errors:?}");
        assert!(read_rows("name,password\n".as_bytes()).is_err());
    }

    /// Found by fuzz/ (`lines_csv`): an expiry after the year 9999, which
    /// the import reads as unix seconds, was exported as `+11476-…` (which
    /// the import refuses) or, past chrono's range, as `never`.
    #[test]
    fn an_expiry_past_9999_exports_as_seconds_and_reimports() {
        for secs in ["300000000000", "1000000000000000000"] {
            let text = format!("username,expires\nann,{secs}\n");
            let (rows, errors) = read_rows(text.as_bytes()).expect("read");
            assert!(errors.is_empty(), "{errors:?}");
            let t = rows[0].expires_at.expect("an expiry");
            assert_eq!(format_expiry(t), secs);
            let text = format!("username,expires\nann,{}\n", format_expiry(t));
            let (again, _) = read_rows(text.as_bytes()).expect("read");
            assert_eq!(again[0].expires_at, Some(t));
        }
    }

    /// Found by fuzz/ (`lines_csv`): a date before the year 0 was read
    /// (chrono takes a sign), and no export could write it back.
    #[test]
    fn a_date_before_the_year_0_is_refused() {
        assert!(parse_expiry("-030-01-02").is_err());
        let (rows, errors) =
            read_rows("username,expires\nann,-030-01-02\n".as_bytes()).expect("read");
        assert!(rows.is_empty() && errors.len() == 1, "{errors:?}");
        assert!(parse_expiry("0000-01-01").is_ok());
    }

    #[test]
    fn expiries_round_trip_exactly() {
        for t in [Some(1_800_000_123), None] {
            assert_eq!(parse_expiry(&format_expiry(t)), Ok(t));
        }
    }
}
