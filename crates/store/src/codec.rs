//! How both backends write domain values into columns and read them back,
//! so SQLite and PostgreSQL store the same text for the same value and
//! read a damaged row the same way.
//!
//! Reading back never panics and never fails on a damaged value: a line
//! whose status, limit, formats, package or limit policy cannot be
//! understood loads as `Disabled` (it fails closed); a source's unreadable
//! cap or delivery loads as one connection, proxied; a device policy's
//! unreadable limit keeps binding on at one device. Each names the row in
//! a warning.

use std::collections::HashMap;
use tvgate_core::access::device::{
    Actor, AuditAction, Binding, BoundDevice, DeviceAudit, DeviceKind, DevicePolicy, Enrolment,
    IpRange,
};
use tvgate_core::access::{Line, OutputFormats, Status};
use tvgate_core::catalog::catchup::{Catchup, CatchupKind};
use tvgate_core::catalog::ingest::ItemKind;
use tvgate_core::catalog::{CatalogData, Category, CategoryKind, Delivery};
use tvgate_core::ids::{CategoryId, DeviceId, LineId};
use tvgate_core::ledger::LimitPolicy;
use tvgate_core::ports::{StoreError, StoreResult};
use tvgate_core::UnixTime;

/// The largest id handed out for sources, categories, streams and series.
/// Players keep them in 32-bit signed integers, so stay below 2^31.
pub(crate) const MAX_PUBLIC_ID: i64 = i32::MAX as i64;

/// The `store_facts` row naming the verifier key's fingerprint.
pub(crate) const KEY_FINGERPRINT: &str = "verifier_key_fingerprint";

/// Diagnostics kept per source.
pub const MAX_DIAGNOSTICS: usize = 1000;
/// Bytes kept of one diagnostic line.
pub const MAX_DIAGNOSTIC_LEN: usize = 1000;

/// Checks that an id just handed out fits what players keep.
pub(crate) fn check_public_id(id: i64, what: &'static str) -> StoreResult<i64> {
    if (1..=MAX_PUBLIC_ID).contains(&id) {
        Ok(id)
    } else {
        Err(StoreError::Backend {
            context: "allocating a public id",
            message: format!("{what} id {id} is past {MAX_PUBLIC_ID}, the largest players accept"),
        })
    }
}

/// Saturating conversion for counts stored as 64-bit integers.
pub(crate) fn count_to_sql(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub(crate) fn kind_name(kind: ItemKind) -> &'static str {
    match kind {
        ItemKind::Live => "live",
        ItemKind::Movie => "movie",
        ItemKind::Episode => "episode",
    }
}

/// At most `max` bytes of `s`, cut at a character boundary.
pub(crate) fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// A `LIKE` pattern for "contains `search`", with `\` as the escape, so `%`
/// and `_` in a search match themselves.
pub(crate) fn like_pattern(search: &str) -> String {
    let mut out = String::with_capacity(search.len() + 2);
    out.push('%');
    for c in search.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

// ----- lines -----

/// `1,2,3` (and `` for an empty package).
pub(crate) fn encode_package(package: Option<&[CategoryId]>) -> Option<String> {
    package.map(|ids| {
        ids.iter()
            .map(|c| c.0.to_string())
            .collect::<Vec<_>>()
            .join(",")
    })
}

/// The ids of `1,2,3`, or the first entry that is not an id.
pub(crate) fn decode_package(text: &str) -> Result<Vec<CategoryId>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| p.parse().map(CategoryId).map_err(|_| p.to_string()))
        .collect()
}

/// The columns of a `lines` row, as either backend reads them.
pub(crate) struct LineRow {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub verifier: Option<Vec<u8>>,
    pub status: String,
    pub expires_at: Option<i64>,
    pub is_trial: bool,
    pub max_connections: i64,
    pub allowed_formats: i64,
    pub created_at: i64,
    pub note: String,
    pub package: Option<String>,
    pub revision: i64,
    pub limit_policy: Option<String>,
}

/// Decodes a line, falling back to a disabled line on any damaged field.
pub(crate) fn decode_line(row: LineRow) -> Line {
    let id = LineId(row.id);
    let mut damaged: Vec<String> = Vec::new();
    let status = row.status.parse::<Status>().unwrap_or_else(|e| {
        damaged.push(format!("status: {e}"));
        Status::Disabled
    });
    let max = row.max_connections;
    let max_connections = u32::try_from(max).unwrap_or_else(|_| {
        damaged.push(format!("max_connections {max} is out of range"));
        1
    });
    let bits = row.allowed_formats;
    let allowed_formats = match u8::try_from(bits) {
        Ok(b) if b <= 7 => OutputFormats::from_bits(b),
        _ => {
            damaged.push(format!("allowed_formats {bits} is out of range"));
            OutputFormats::DEFAULT
        }
    };
    let package = row.package.map(|text| {
        decode_package(&text).unwrap_or_else(|bad| {
            // Dropping an unreadable id only narrows what the line sees.
            damaged.push(format!("package entry {bad:?} is not a category id"));
            text.split(',')
                .filter_map(|p| p.trim().parse().ok().map(CategoryId))
                .collect()
        })
    });
    let limit_policy = row.limit_policy.and_then(|text| {
        LimitPolicy::parse(&text).or_else(|| {
            damaged.push(format!("limit_policy {text:?} is unknown"));
            None
        })
    });
    let status = if damaged.is_empty() {
        status
    } else {
        tracing::warn!(
            line = id.0,
            problems = %damaged.join("; "),
            "stored line is damaged; loaded as disabled"
        );
        Status::Disabled
    };
    Line {
        id,
        username: row.username.into_boxed_str(),
        password_hash: row.password_hash.into_boxed_str(),
        verifier: row
            .verifier
            .and_then(|v| tvgate_core::access::line::to_verifier(&v)),
        status,
        expires_at: row.expires_at,
        is_trial: row.is_trial,
        max_connections,
        limit_policy,
        allowed_formats,
        created_at: row.created_at,
        note: row.note.into_boxed_str(),
        package: package.map(Vec::into_boxed_slice),
        revision: row.revision,
    }
}

// ----- sources -----

/// A source's cap and delivery, read leniently (see the module doc).
pub(crate) fn relay_settings(source: i64, cap: i64, delivery: &str) -> (u32, Delivery) {
    let cap = u32::try_from(cap).unwrap_or_else(|_| {
        tracing::warn!(
            source,
            max_connections = cap,
            "stored source cap is out of range; using 1"
        );
        1
    });
    let delivery = Delivery::parse(delivery).unwrap_or_else(|| {
        tracing::warn!(source, delivery = %delivery, "stored source delivery is unknown; proxying");
        Delivery::Proxy
    });
    (cap, delivery)
}

// ----- the catalog -----

/// Every category (`by_id`, in order of id), reordered by first appearance
/// in the loaded lists (live, then movies, then series), then the unused
/// ones by id: the order players list them in.
pub(crate) fn order_categories(by_id: Vec<Category>, data: &CatalogData) -> Vec<Category> {
    let mut unused: Vec<CategoryId> = Vec::with_capacity(by_id.len());
    let mut all: HashMap<CategoryId, Category> = HashMap::with_capacity(by_id.len());
    for c in by_id {
        unused.push(c.id);
        all.insert(c.id, c);
    }
    let appearance = data
        .live
        .iter()
        .map(|c| c.category)
        .chain(data.movies.iter().map(|m| m.category))
        .chain(data.series.iter().map(|s| s.category))
        .flatten();
    let mut ordered = Vec::with_capacity(all.len());
    for id in appearance {
        if let Some(c) = all.remove(&id) {
            ordered.push(c);
        }
    }
    ordered.extend(unused.into_iter().filter_map(|id| all.remove(&id)));
    ordered
}

/// A live channel's catch-up convention as stored: the kind's name and the
/// template (both NULL without one).
pub(crate) fn encode_catchup(catchup: Option<&Catchup>) -> (Option<&'static str>, Option<&str>) {
    match catchup {
        Some(c) => (Some(c.kind.as_str()), c.source.as_deref()),
        None => (None, None),
    }
}

/// A stored catch-up convention; `None` without a kind, and (with a
/// warning) for a kind this build does not know: the channel's archive is
/// then derived from its URL, as for rows stored before kinds were kept.
pub(crate) fn decode_catchup(
    stream: i64,
    kind: Option<&str>,
    source: Option<&str>,
) -> Option<Catchup> {
    let kind = kind?;
    let Some(kind) = CatchupKind::parse(kind) else {
        tracing::warn!(stream, catchup = %kind, "stored catch-up kind is unknown; ignored");
        return None;
    };
    Some(Catchup {
        kind,
        source: source.map(Into::into),
    })
}

/// A category row; `None` (with a warning) for an unknown kind.
pub(crate) fn decode_category(id: u32, kind: &str, name: String) -> Option<Category> {
    let Some(kind) = CategoryKind::parse(kind) else {
        tracing::warn!(category = id, kind = %kind, "category with an unknown kind skipped");
        return None;
    };
    Some(Category {
        id: CategoryId(id),
        kind,
        name: name.into(),
    })
}

// ----- devices -----

/// A line's IP lock as stored: comma-separated ranges.
pub(crate) fn encode_ip_lock(ranges: &[IpRange]) -> String {
    ranges
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// A `device_policies` row as a binding without devices (see the module
/// doc for what a damaged value becomes).
pub(crate) fn decode_policy(
    line: i64,
    limit: i64,
    enrolment: &str,
    ip_lock: &str,
    last_self_reset: Option<UnixTime>,
) -> Binding {
    let limit = u32::try_from(limit).unwrap_or_else(|_| {
        tracing::warn!(line, limit, "stored device limit is out of range; using 1");
        1
    });
    let enrolment = Enrolment::parse(enrolment).unwrap_or_else(|| {
        tracing::warn!(line, enrolment = %enrolment, "stored enrolment is unknown; using operator");
        Enrolment::Operator
    });
    let ip_lock = ip_lock
        .split(',')
        .filter(|p| !p.trim().is_empty())
        .filter_map(|p| {
            IpRange::parse(p)
                .map_err(|e| tracing::warn!(line, error = %e, "stored IP lock entry skipped"))
                .ok()
        })
        .collect();
    Binding {
        policy: DevicePolicy {
            limit,
            enrolment,
            ip_lock,
        },
        devices: Vec::new(),
        last_self_reset,
    }
}

/// The columns of a `devices` row.
pub(crate) struct DeviceRow {
    pub id: i64,
    pub kind: String,
    pub identifier: String,
    pub label: String,
    pub serial: Option<String>,
    pub device_id: Option<String>,
    pub device_id2: Option<String>,
    pub first_seen: i64,
    pub last_seen: i64,
    pub last_ip: Option<String>,
}

/// Decodes a device row; `None` (with a warning) for an unknown kind.
pub(crate) fn decode_device(row: DeviceRow) -> Option<BoundDevice> {
    let Some(kind) = DeviceKind::parse(&row.kind) else {
        tracing::warn!(device = row.id, kind = %row.kind, "stored device has an unknown kind; skipped");
        return None;
    };
    let boxed = |v: Option<String>| v.map(String::into_boxed_str);
    Some(BoundDevice {
        id: DeviceId(row.id),
        kind,
        identifier: row.identifier.into(),
        label: row.label.into(),
        serial: boxed(row.serial),
        device_id: boxed(row.device_id),
        device_id2: boxed(row.device_id2),
        first_seen: row.first_seen,
        last_seen: row.last_seen,
        last_ip: row.last_ip.and_then(|ip| ip.parse().ok()),
    })
}

/// The columns of a `device_audit` row.
pub(crate) struct AuditRow {
    pub line: i64,
    pub username: String,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub ip: Option<String>,
    pub old_device: Option<String>,
    pub new_device: Option<String>,
    pub detail: String,
}

pub(crate) fn decode_audit(row: AuditRow) -> DeviceAudit {
    DeviceAudit {
        line: LineId(row.line),
        username: row.username,
        at: row.at,
        // The CHECK constraints keep these known; fall back rather than fail.
        actor: Actor::parse(&row.actor).unwrap_or(Actor::System),
        action: AuditAction::parse(&row.action).unwrap_or(AuditAction::Refuse),
        ip: row.ip.and_then(|ip| ip.parse().ok()),
        old_device: row.old_device,
        new_device: row.new_device,
        detail: row.detail,
    }
}

/// A held refresh as its column holds it: `AT BEFORE AFTER REASON`, the
/// three numbers and the reason separated by single spaces.
pub(crate) fn held_to_sql(held: &tvgate_core::catalog::HeldRefresh) -> String {
    format!("{} {} {} {}", held.at, held.before, held.after, held.reason)
}

/// Reads a `held` column back; a value that cannot be read still says a
/// refresh is held (with the text as its reason), so the guard is never
/// lost to a damaged row.
pub(crate) fn held_from_sql(source: i64, text: &str) -> tvgate_core::catalog::HeldRefresh {
    let mut parts = text.splitn(4, ' ');
    let mut number = || parts.next().and_then(|p| p.parse::<i64>().ok());
    let numbers = (number(), number(), number());
    match numbers {
        (Some(at), Some(before), Some(after)) => tvgate_core::catalog::HeldRefresh {
            at,
            before: u64::try_from(before).unwrap_or(0),
            after: u64::try_from(after).unwrap_or(0),
            reason: parts.next().unwrap_or_default().to_string(),
        },
        _ => {
            tracing::warn!(source, "a held refresh's stored record cannot be read");
            tvgate_core::catalog::HeldRefresh {
                at: 0,
                before: 0,
                after: 0,
                reason: text.to_string(),
            }
        }
    }
}

/// A source's extra headers as their column holds them: one `Name: value`
/// per line (core's checks keep line breaks out of values); `None` for
/// none.
pub(crate) fn headers_to_sql(headers: &[tvgate_core::catalog::UpstreamHeader]) -> Option<String> {
    if headers.is_empty() {
        return None;
    }
    let lines: Vec<String> = headers
        .iter()
        .map(|h| format!("{}: {}", h.name, h.value))
        .collect();
    Some(lines.join("\n"))
}

/// A source's identity read back. A header line that no longer passes
/// core's checks is skipped and logged by name only (its value may be a
/// token), so a damaged row never stops the catalog from loading.
pub(crate) fn identity_from_sql(
    source: i64,
    user_agent: Option<String>,
    headers: Option<String>,
) -> tvgate_core::catalog::UpstreamIdentity {
    use tvgate_core::catalog::UpstreamHeader;
    let headers = headers
        .as_deref()
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|line| match UpstreamHeader::parse(line) {
            Ok(h) => Some(h),
            Err(_) => {
                let name = line.split(':').next().unwrap_or_default();
                tracing::warn!(source, header = %name, "a stored request header cannot be read; skipped");
                None
            }
        })
        .collect();
    tvgate_core::catalog::UpstreamIdentity {
        user_agent: user_agent.filter(|ua| !ua.trim().is_empty()),
        headers,
    }
}

/// A sample's refusals as `code=N code=N` (codes never hold `=` or spaces).
pub(crate) fn encode_refusal_counts(counts: &[(String, u64)]) -> String {
    counts
        .iter()
        .map(|(code, n)| format!("{code}={n}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// [`encode_refusal_counts`] read back; a damaged pair is left out.
pub(crate) fn decode_refusal_counts(text: &str) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = text
        .split_whitespace()
        .filter_map(|pair| {
            let (code, n) = pair.split_once('=')?;
            Some((code.to_string(), n.parse().ok()?))
        })
        .filter(|(_, n)| *n > 0)
        .collect();
    out.sort();
    out.dedup_by(|a, b| a.0 == b.0);
    out
}

/// A stored sample's columns.
pub(crate) struct SampleRow {
    pub minute: i64,
    pub viewers: i64,
    pub bytes_out: i64,
    pub logins: i64,
    pub refusals: String,
}

pub(crate) fn decode_sample(row: SampleRow) -> tvgate_core::stats::Sample {
    let n = |v: i64| u64::try_from(v).unwrap_or(0);
    tvgate_core::stats::Sample {
        minute: row.minute,
        viewers: n(row.viewers),
        bytes_out: n(row.bytes_out),
        logins: n(row.logins),
        refusals: decode_refusal_counts(&row.refusals),
    }
}

/// A stored timeline event's columns.
pub(crate) struct EventRow {
    pub line: i64,
    pub kind: String,
    pub at: i64,
    pub ended: Option<i64>,
    pub channel: String,
    pub player: String,
    pub ip: String,
    pub detail: String,
}

/// A timeline event read back; an unknown kind reads as a stream, an
/// unreadable address as 0.0.0.0 (a row edited by hand never fails a page).
pub(crate) fn decode_event(row: EventRow) -> tvgate_core::timeline::LineEvent {
    use tvgate_core::timeline::{EventKind, LineEvent};
    LineEvent {
        line: LineId(row.line),
        kind: EventKind::parse(&row.kind).unwrap_or(EventKind::Stream),
        at: row.at,
        ended: row.ended,
        channel: row.channel,
        player: row.player,
        ip: row
            .ip
            .parse()
            .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)),
        detail: row.detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_refresh_round_trips_and_a_damaged_one_stays_held() {
        let held = tvgate_core::catalog::HeldRefresh {
            at: 1_700_000_000,
            before: 1000,
            after: 10,
            reason: "the refresh read 10 entries".into(),
        };
        let text = held_to_sql(&held);
        assert_eq!(held_from_sql(1, &text), held);
        let damaged = held_from_sql(1, "garbage");
        assert_eq!(damaged.reason, "garbage");
    }

    #[test]
    fn packages_round_trip() {
        let ids = vec![CategoryId(3), CategoryId(14)];
        assert_eq!(encode_package(Some(&ids)).as_deref(), Some("3,14"));
        assert_eq!(decode_package("3,14").unwrap(), ids);
        assert_eq!(encode_package(Some(&[])).as_deref(), Some(""));
        assert_eq!(decode_package("").unwrap(), vec![]);
        assert_eq!(encode_package(None), None);
        assert_eq!(decode_package("3,x"), Err("x".to_string()));
    }

    #[test]
    fn truncation_keeps_whole_characters() {
        assert_eq!(truncate("abc", 10), "abc");
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("héllo", 3), "hé");
    }

    #[test]
    fn wildcards_in_a_search_match_themselves() {
        assert_eq!(like_pattern("a%b_c\\"), "%a\\%b\\_c\\\\%");
        assert_eq!(like_pattern(""), "%%");
    }
}
