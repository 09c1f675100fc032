//! Sources an operator adds: where the catalog and the guide come from,
//! and how tvgate may use them: a provider sells a source with a cap on
//! simultaneous connections, and its streams are either relayed through
//! tvgate (so the cap and every line's limit hold) or handed to players as
//! a redirect to the source URL.

use super::identity::UpstreamIdentity;
use crate::ids::SourceId;
use crate::UnixTime;
use std::borrow::Cow;
use std::fmt;
use tvgate_formats::Diagnostic;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// An M3U playlist (channels, movies, series).
    M3u,
    /// An XMLTV guide, plain or gzip.
    Xmltv,
    /// An Xtream account (a server URL, a username and a password): live
    /// channels, movies, series with their episodes, and the account's guide.
    Xtream,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::M3u => "m3u",
            SourceKind::Xmltv => "xmltv",
            SourceKind::Xtream => "xtream",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "m3u" | "m3u8" | "m3u_plus" => Some(SourceKind::M3u),
            "xmltv" | "epg" | "xml" => Some(SourceKind::Xmltv),
            "xtream" | "xc" | "xtream-codes" => Some(SourceKind::Xtream),
            _ => None,
        }
    }
}

/// The credentials of an Xtream account source, and what its provider
/// said of it at the last refresh. The password is needed in clear to log
/// in upstream, so it is stored; it is never shown (`Debug` masks it, and
/// no face prints it).
#[derive(Clone, PartialEq, Eq)]
pub struct XtreamAccount {
    pub username: String,
    pub password: String,
    /// The account's `max_connections` at the last refresh (0: unlimited
    /// or not said): the source's cap unless the operator set one.
    pub max_connections: u32,
}

impl fmt::Debug for XtreamAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("XtreamAccount")
            .field("username", &self.username)
            .field("password", &"***")
            .field("max_connections", &self.max_connections)
            .finish()
    }
}

/// The connection cap a source is held to: the operator's when set (not
/// 0), else the account's own (0: unlimited).
pub fn effective_cap(operator: u32, account: u32) -> u32 {
    if operator > 0 {
        operator
    } else {
        account
    }
}

/// How a source's streams reach players.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Delivery {
    /// tvgate fetches the stream and relays it: the player never sees the
    /// source URL, viewers of a channel share one upstream connection, and
    /// the source's connection cap holds.
    #[default]
    Proxy,
    /// tvgate answers with a redirect (302) to the source URL and the player
    /// fetches it itself: no bandwidth through tvgate, but the URL (and any
    /// credentials in it) is shown to the player and nothing is counted
    /// against the source's cap once the player has it.
    Redirect,
}

impl Delivery {
    pub fn as_str(self) -> &'static str {
        match self {
            Delivery::Proxy => "proxy",
            Delivery::Redirect => "redirect",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "proxy" | "relay" => Some(Delivery::Proxy),
            "redirect" | "302" => Some(Delivery::Redirect),
            _ => None,
        }
    }
}

impl std::fmt::Display for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A source and the outcome of its last refresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub id: SourceId,
    pub kind: SourceKind,
    /// A file path or an http(s) URL.
    pub location: String,
    pub name: String,
    pub created_at: UnixTime,
    pub last_refresh: Option<UnixTime>,
    /// Entries (or programmes) the last refresh kept.
    pub item_count: u64,
    /// Why the last refresh failed as a whole, if it did.
    pub last_error: Option<String>,
    /// What the last refresh skipped, the first ones of them (a store
    /// keeps a bounded number).
    pub diagnostics: Vec<Diagnostic>,
    /// How many the last refresh found in all.
    pub diagnostic_count: u64,
    pub enabled: bool,
    /// Most simultaneous upstream connections the provider allows for this
    /// source (0: unlimited). tvgate never opens more.
    pub max_connections: u32,
    pub delivery: Delivery,
    /// The account of an Xtream source (`None` for the other kinds).
    pub account: Option<XtreamAccount>,
    /// A refresh the shrink guard held back (`refresh_shrink_guard`): it
    /// read too few entries to be trusted, so the items stored before it
    /// stay until the operator applies it (`--accept-shrink`). Cleared by
    /// the next refresh that is applied.
    pub held: Option<HeldRefresh>,
    /// The user agent and extra headers sent to the source's provider.
    pub identity: UpstreamIdentity,
}

/// A refresh that was not applied because it would have removed more of a
/// source's entries than `refresh_shrink_guard` allows: what it read
/// against what the source has, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldRefresh {
    /// When the refresh read the source.
    pub at: UnixTime,
    /// Entries (a guide: programmes) the source has stored.
    pub before: u64,
    /// Entries the held refresh read.
    pub after: u64,
    /// Why it was held, in the operator's words.
    pub reason: String,
}

impl HeldRefresh {
    /// The refresh of source `id` with `before` entries that read `after`,
    /// held at `at` under `guard`.
    pub fn new(
        id: SourceId,
        at: UnixTime,
        before: u64,
        after: u64,
        guard: ShrinkGuard,
    ) -> HeldRefresh {
        let removed = before.saturating_sub(after);
        let percent = if before == 0 {
            0.0
        } else {
            removed as f64 * 100.0 / before as f64
        };
        HeldRefresh {
            at,
            before,
            after,
            reason: format!(
                "the refresh read {after} entries where the source has {before}: it would remove \
                 {removed} ({percent:.0} %), more than refresh_shrink_guard allows ({}); \
                 apply it (`tvgate source refresh {id} --accept-shrink`) if the \
                 provider really dropped them",
                guard
            ),
        }
    }
}

/// The share of a source's entries a refresh may remove before it is held
/// (`refresh_shrink_guard`), in millionths so settings stay `Eq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShrinkGuard(u32);

impl ShrinkGuard {
    /// The default: a refresh may remove at most 30 % of the entries.
    pub const DEFAULT: ShrinkGuard = ShrinkGuard(300_000);
    /// Never holds a refresh.
    pub const OFF: ShrinkGuard = ShrinkGuard(1_000_000);

    /// From a fraction between 0 and 1 (1: never hold); `None` outside.
    pub fn from_fraction(fraction: f64) -> Option<ShrinkGuard> {
        (0.0..=1.0)
            .contains(&fraction)
            .then(|| ShrinkGuard((fraction * 1_000_000.0).round() as u32))
    }

    /// Whether a refresh that reads `after` entries of a source that has
    /// `before` removes more than the guard allows. A source with nothing
    /// stored is never held.
    pub fn holds(self, before: u64, after: u64) -> bool {
        let removed = u128::from(before.saturating_sub(after));
        before > 0 && removed * 1_000_000 > u128::from(before) * u128::from(self.0)
    }
}

impl Default for ShrinkGuard {
    fn default() -> Self {
        ShrinkGuard::DEFAULT
    }
}

impl fmt::Display for ShrinkGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let percent = f64::from(self.0) / 10_000.0;
        write!(f, "{percent} %")
    }
}

impl Source {
    /// The cap the source is held to: the operator's, else its account's
    /// (see [`effective_cap`]).
    pub fn cap(&self) -> u32 {
        effective_cap(
            self.max_connections,
            self.account.as_ref().map_or(0, |a| a.max_connections),
        )
    }

    /// What the last refresh skipped as an operator reads it: the kept
    /// diagnostics, then a note of how many more there were.
    pub fn diagnostic_rows(&self) -> impl Iterator<Item = DiagnosticRow<'_>> {
        let not_kept = self
            .diagnostic_count
            .saturating_sub(self.diagnostics.len() as u64);
        self.diagnostics
            .iter()
            .map(DiagnosticRow::Kept)
            .chain((not_kept > 0).then_some(DiagnosticRow::NotKept(not_kept)))
    }

    /// What the catalog snapshot keeps of the source for the server.
    pub fn settings(&self) -> SourceSettings {
        SourceSettings {
            id: self.id,
            name: self.name.as_str().into(),
            max_connections: self.cap(),
            delivery: self.delivery,
            enabled: self.enabled,
            identity: self.identity.clone(),
        }
    }
}

/// One row of a source's refresh problems as the CLI, the console and the
/// API show them: `line N: what`, or how many more were not kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiagnosticRow<'a> {
    Kept(&'a Diagnostic),
    /// This many more than the store kept.
    NotKept(u64),
}

impl<'a> DiagnosticRow<'a> {
    /// The line it is about (none for the note, nor for a problem that is
    /// not about a line: line 0, an entry of an Xtream list).
    pub fn line(&self) -> Option<u64> {
        match self {
            DiagnosticRow::Kept(d) => Some(d.line).filter(|l| *l > 0),
            DiagnosticRow::NotKept(_) => None,
        }
    }

    /// What is wrong, without the line number.
    pub fn message(&self) -> Cow<'a, str> {
        match self {
            DiagnosticRow::Kept(d) => Cow::Borrowed(&d.message),
            DiagnosticRow::NotKept(n) => Cow::Owned(format!("... and {n} more not kept")),
        }
    }
}

impl fmt::Display for DiagnosticRow<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DiagnosticRow::Kept(d) => d.fmt(f),
            DiagnosticRow::NotKept(_) => f.write_str(&self.message()),
        }
    }
}

/// A source as the server needs it while serving streams: its cap and how
/// to deliver, without the refresh history [`Source`] carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceSettings {
    pub id: SourceId,
    /// For logs and metrics.
    pub name: Box<str>,
    /// 0: unlimited.
    pub max_connections: u32,
    pub delivery: Delivery,
    /// Off: players see none of the source's items.
    pub enabled: bool,
    /// Sent with every upstream request of the source.
    pub identity: UpstreamIdentity,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagnostic_rows_end_with_how_many_were_not_kept() {
        let mut source = Source {
            id: SourceId(1),
            kind: SourceKind::M3u,
            location: "/a.m3u".into(),
            name: "a".into(),
            created_at: 0,
            last_refresh: Some(1),
            item_count: 0,
            last_error: None,
            diagnostics: vec![Diagnostic::new(3, "no URL"), Diagnostic::new(9, "junk")],
            diagnostic_count: 2,
            enabled: true,
            max_connections: 0,
            delivery: Delivery::Proxy,
            account: None,
            held: None,
            identity: UpstreamIdentity::default(),
        };
        let shown = |s: &Source| {
            s.diagnostic_rows()
                .map(|r| r.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(shown(&source), ["line 3: no URL", "line 9: junk"]);
        source.diagnostic_count = 502;
        assert_eq!(
            shown(&source),
            [
                "line 3: no URL",
                "line 9: junk",
                "... and 500 more not kept"
            ]
        );
        let parts: Vec<_> = source
            .diagnostic_rows()
            .map(|r| (r.line(), r.message().into_owned()))
            .collect();
        assert_eq!(parts[0], (Some(3), "no URL".to_string()));
        assert_eq!(parts[2], (None, "... and 500 more not kept".to_string()));
    }

    #[test]
    fn the_operators_cap_wins_over_the_accounts() {
        assert_eq!(effective_cap(0, 0), 0);
        assert_eq!(effective_cap(0, 2), 2);
        assert_eq!(effective_cap(5, 2), 5);
        let account = XtreamAccount {
            username: "u".into(),
            password: "secret".into(),
            max_connections: 2,
        };
        let shown = format!("{account:?}");
        assert!(
            !shown.contains("secret") && shown.contains("***"),
            "{shown}"
        );
        assert_eq!(SourceKind::parse("Xtream"), Some(SourceKind::Xtream));
        assert_eq!(SourceKind::Xtream.as_str(), "xtream");
    }

    #[test]
    fn the_shrink_guard_holds_a_refresh_that_removes_more_than_its_share() {
        let guard = ShrinkGuard::DEFAULT;
        assert!(!guard.holds(0, 0), "an empty source is never held");
        assert!(!guard.holds(100, 70), "30 % removed is allowed");
        assert!(guard.holds(100, 69));
        assert!(guard.holds(1_000_000, 0));
        assert!(!guard.holds(100, 500), "growing is never held");
        assert!(!ShrinkGuard::OFF.holds(100, 0));
        assert!(ShrinkGuard::from_fraction(0.0).unwrap().holds(100, 99));
        assert_eq!(ShrinkGuard::from_fraction(0.3), Some(ShrinkGuard::DEFAULT));
        assert_eq!(ShrinkGuard::from_fraction(1.5), None);
        assert_eq!(ShrinkGuard::from_fraction(-0.1), None);
        assert_eq!(ShrinkGuard::DEFAULT.to_string(), "30 %");
        let held = HeldRefresh::new(SourceId(4), 7, 1000, 100, guard);
        assert_eq!((held.at, held.before, held.after), (7, 1000, 100));
        assert!(held.reason.contains("remove 900 (90 %)"), "{}", held.reason);
        assert!(
            held.reason.contains("refresh 4 --accept-shrink"),
            "{}",
            held.reason
        );
    }

    #[test]
    fn delivery_names_round_trip() {
        for d in [Delivery::Proxy, Delivery::Redirect] {
            assert_eq!(Delivery::parse(d.as_str()), Some(d));
        }
        assert_eq!(Delivery::parse(" Redirect "), Some(Delivery::Redirect));
        assert_eq!(Delivery::parse("stream"), None);
        assert_eq!(Delivery::default(), Delivery::Proxy);
    }
}
