//! A subscriber line: what an operator sells and a player logs in with.

use crate::ids::{CategoryId, LineId};
use crate::ledger::LimitPolicy;
use crate::UnixTime;
use std::fmt;
use std::str::FromStr;

/// Administrative status of a line. Expiry is separate (a date), so a line
/// can be `Active` and expired; the decision checks both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Active,
    /// Suspended by the operator, for example for a late payment.
    Disabled,
    /// Blocked for abuse.
    Banned,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Disabled => "disabled",
            Status::Banned => "banned",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "active" | "enabled" => Ok(Status::Active),
            "disabled" | "suspended" => Ok(Status::Disabled),
            "banned" => Ok(Status::Banned),
            other => Err(format!(
                "unknown status {other:?} (expected active, disabled or banned)"
            )),
        }
    }
}

/// A stream container a line may receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutputFormat {
    Ts,
    M3u8,
    Rtmp,
}

impl OutputFormat {
    pub const ALL: [OutputFormat; 3] = [OutputFormat::Ts, OutputFormat::M3u8, OutputFormat::Rtmp];

    /// The name players use in `allowed_output_formats` and URL extensions.
    pub fn as_str(self) -> &'static str {
        match self {
            OutputFormat::Ts => "ts",
            OutputFormat::M3u8 => "m3u8",
            OutputFormat::Rtmp => "rtmp",
        }
    }

    fn bit(self) -> u8 {
        match self {
            OutputFormat::Ts => 1,
            OutputFormat::M3u8 => 2,
            OutputFormat::Rtmp => 4,
        }
    }

    /// Maps a URL extension or `output=` value to a format (`mpegts`, `hls`
    /// are the aliases real panels accept).
    pub fn from_name(s: &str) -> Option<OutputFormat> {
        match s.to_ascii_lowercase().as_str() {
            "ts" | "mpegts" => Some(OutputFormat::Ts),
            "m3u8" | "hls" => Some(OutputFormat::M3u8),
            "rtmp" => Some(OutputFormat::Rtmp),
            _ => None,
        }
    }
}

/// A set of output formats (a small bit set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OutputFormats(u8);

impl OutputFormats {
    /// `ts` and `m3u8`: what tvgate can deliver.
    pub const DEFAULT: OutputFormats = OutputFormats(3);

    pub fn empty() -> Self {
        OutputFormats(0)
    }
    pub fn from_bits(bits: u8) -> Self {
        OutputFormats(bits & 7)
    }
    pub fn bits(self) -> u8 {
        self.0
    }
    pub fn with(self, f: OutputFormat) -> Self {
        OutputFormats(self.0 | f.bit())
    }
    pub fn contains(self, f: OutputFormat) -> bool {
        self.0 & f.bit() != 0
    }
    /// `ts` first: clients that take the first entry as their default (@iptv/xtream-api, XStreamity) then ask for the container every source can give.
    pub fn iter(self) -> impl Iterator<Item = OutputFormat> {
        OutputFormat::ALL
            .into_iter()
            .filter(move |f| self.contains(*f))
    }
    /// Parses `ts,m3u8`.
    pub fn parse_list(s: &str) -> Result<Self, String> {
        let mut set = OutputFormats::empty();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            set = set.with(
                OutputFormat::from_name(part)
                    .ok_or_else(|| format!("unknown output format {part:?}"))?,
            );
        }
        Ok(set)
    }
}

impl fmt::Display for OutputFormats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.iter().map(OutputFormat::as_str).collect();
        f.write_str(&names.join(","))
    }
}

/// The names of a limit policy, as the settings file, the command line and
/// the store spell them. Here rather than in the ledger because they are a
/// line's setting; the ledger only needs the value.
impl LimitPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            LimitPolicy::Refuse => "refuse",
            LimitPolicy::NewestWins => "newest_wins",
        }
    }

    /// `refuse` or `newest_wins` (`newest-wins` too), any case.
    pub fn parse(s: &str) -> Option<LimitPolicy> {
        match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "refuse" => Some(LimitPolicy::Refuse),
            "newest_wins" => Some(LimitPolicy::NewestWins),
            _ => None,
        }
    }

    /// A line's policy as an operator writes it: a policy, or `default` for
    /// the server-wide setting (`None`).
    pub fn parse_for_line(s: &str) -> Result<Option<LimitPolicy>, String> {
        if s.trim().eq_ignore_ascii_case("default") {
            return Ok(None);
        }
        LimitPolicy::parse(s).map(Some).ok_or_else(|| {
            format!("unknown limit policy {s:?} (expected refuse, newest-wins or default)")
        })
    }
}

impl fmt::Display for LimitPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A keyed password verifier: key id and MAC (see [`super::secrets`]).
pub type Verifier = [u8; super::secrets::VERIFIER_LEN];

/// A stored verifier of the right length, or `None`.
pub fn to_verifier(bytes: &[u8]) -> Option<Verifier> {
    bytes.try_into().ok()
}

/// A line as the store keeps it. The password is only ever held as an
/// argon2id hash plus the keyed verifier (see [`super::secrets`]).
///
/// The same type is what the gate hands the store to create a line: the
/// store assigns `id` and `revision` ([`LineId::UNSAVED`] and 0 until then).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub id: LineId,
    /// As the operator wrote it (shown in lists).
    pub username: Box<str>,
    /// PHC string of the argon2id hash.
    pub password_hash: Box<str>,
    /// Keyed verifier of the password, if one was made with the current key.
    /// Inline (not a Vec): it is held in memory for every line.
    pub verifier: Option<Verifier>,
    pub status: Status,
    /// `None`: never expires.
    pub expires_at: Option<UnixTime>,
    pub is_trial: bool,
    /// 0 means unlimited, as in Xtream Codes.
    pub max_connections: u32,
    /// What a newcomer gets when the line is at its limit; `None`: the
    /// server-wide `connection_limit_policy`.
    pub limit_policy: Option<LimitPolicy>,
    pub allowed_formats: OutputFormats,
    pub created_at: UnixTime,
    pub note: Box<str>,
    /// Categories (a package) the line may see; `None` means everything.
    pub package: Option<Box<[CategoryId]>>,
    /// Incremented on every change; caches compare it.
    pub revision: i64,
}

impl Line {
    /// True when the line's expiry has passed at `now`.
    pub fn is_expired(&self, now: UnixTime) -> bool {
        matches!(self.expires_at, Some(at) if at <= now)
    }

    /// True when the package lets the line see `category` (items without a
    /// category are visible to every package).
    pub fn may_see(&self, category: Option<CategoryId>) -> bool {
        match (&self.package, category) {
            (None, _) | (_, None) => true,
            (Some(pkg), Some(c)) => pkg.contains(&c),
        }
    }
}

/// A change to some fields of a line; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinePatch {
    pub status: Option<Status>,
    /// `Some(None)` clears the expiry (never expires).
    pub expires_at: Option<Option<UnixTime>>,
    pub is_trial: Option<bool>,
    pub max_connections: Option<u32>,
    /// `Some(None)` returns the line to the server-wide policy.
    pub limit_policy: Option<Option<LimitPolicy>>,
    pub allowed_formats: Option<OutputFormats>,
    pub note: Option<String>,
    /// `Some(None)` gives the line every category.
    pub package: Option<Option<Vec<CategoryId>>>,
    /// New password hash and verifier (set together).
    pub password: Option<(String, Option<Vec<u8>>)>,
}

impl LinePatch {
    /// Applies the patch to `line`, bumping its revision.
    pub fn apply(&self, line: &mut Line) {
        if let Some(s) = self.status {
            line.status = s;
        }
        if let Some(e) = self.expires_at {
            line.expires_at = e;
        }
        if let Some(t) = self.is_trial {
            line.is_trial = t;
        }
        if let Some(m) = self.max_connections {
            line.max_connections = m;
        }
        if let Some(p) = self.limit_policy {
            line.limit_policy = p;
        }
        if let Some(f) = self.allowed_formats {
            line.allowed_formats = f;
        }
        if let Some(n) = &self.note {
            line.note = n.as_str().into();
        }
        if let Some(p) = &self.package {
            line.package = p.as_ref().map(|v| v.clone().into_boxed_slice());
        }
        if let Some((hash, verifier)) = &self.password {
            line.password_hash = hash.as_str().into();
            line.verifier = verifier.as_deref().and_then(to_verifier);
        }
        line.revision += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_policy_names() {
        for p in [LimitPolicy::Refuse, LimitPolicy::NewestWins] {
            assert_eq!(LimitPolicy::parse(p.as_str()), Some(p));
        }
        assert_eq!(
            LimitPolicy::parse("Newest-Wins"),
            Some(LimitPolicy::NewestWins)
        );
        assert_eq!(LimitPolicy::parse_for_line(" default "), Ok(None));
        assert_eq!(
            LimitPolicy::parse_for_line("refuse"),
            Ok(Some(LimitPolicy::Refuse))
        );
        let err = LimitPolicy::parse_for_line("oldest-wins").unwrap_err();
        assert!(err.contains("newest-wins or default"), "{err}");
    }

    #[test]
    fn a_patch_sets_and_clears_the_limit_policy() {
        let mut a = Line {
            id: LineId(1),
            username: "a".into(),
            password_hash: "h".into(),
            verifier: None,
            status: Status::Active,
            expires_at: None,
            is_trial: false,
            max_connections: 1,
            limit_policy: None,
            allowed_formats: OutputFormats::DEFAULT,
            created_at: 0,
            note: "".into(),
            package: None,
            revision: 1,
        };
        let set = LinePatch {
            limit_policy: Some(Some(LimitPolicy::NewestWins)),
            ..Default::default()
        };
        set.apply(&mut a);
        assert_eq!(a.limit_policy, Some(LimitPolicy::NewestWins));
        LinePatch::default().apply(&mut a);
        assert_eq!(a.limit_policy, Some(LimitPolicy::NewestWins), "kept");
        let clear = LinePatch {
            limit_policy: Some(None),
            ..Default::default()
        };
        clear.apply(&mut a);
        assert_eq!(a.limit_policy, None);
        assert_eq!(a.revision, 4);
    }

    /// Every line is held in memory (target: 400 bytes a line with its
    /// strings and index); the policy must not grow the struct.
    #[test]
    fn a_line_is_compact() {
        assert!(std::mem::size_of::<Option<LimitPolicy>>() == 1);
        assert!(
            std::mem::size_of::<Line>() <= 160,
            "{}",
            std::mem::size_of::<Line>()
        );
    }
}
