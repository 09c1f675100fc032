//! Why a request was refused. Every variant has a stable code used in logs,
//! metrics, the `tvgate_reason` field of answers and `doctor`; renaming a code
//! is a breaking change (see docs/denials.md).

use crate::access::device::DeviceHint;
use crate::access::OutputFormat;
use crate::UnixTime;

/// The reason behind a refusal. Only the first two can be given before the
/// credentials are proven; every other one needs proven credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denial {
    /// Unknown user *or* wrong password: the two are never told apart.
    InvalidCredentials,
    /// Too many failed logins from this address or for this username.
    RateLimited { retry_after_secs: u32 },
    /// Suspended by the operator.
    Disabled,
    /// Blocked by the operator.
    Banned,
    /// The subscription ended at `at`.
    Expired { at: UnixTime },
    /// The line may not receive this container (`ts`, `m3u8`).
    OutputFormatNotAllowed { format: OutputFormat },
    /// The item is outside the line's package.
    NotInPackage,
    /// Every connection slot of the line is in use; `holders` (oldest
    /// first) says by what, so the subscriber can tell which device to stop.
    ConnectionLimit {
        max: u32,
        holders: Vec<crate::ledger::Lease>,
    },
    /// The channel's source allows no more upstream connections (the
    /// provider's own limit, set per source). Not the subscriber's limit.
    SourceAtCapacity,
    /// The connection ledger shared by the nodes (Redis) does not answer,
    /// and the operator chose that no slot is given without it
    /// (`ledger_unavailable = "refuse"`). The server's condition, not the
    /// subscriber's; it passes when the ledger answers again.
    LedgerUnavailable,
    /// Device binding (docs/devices.md): the caller is not a device bound to
    /// the line. The hint names the registered devices by kind, label, the
    /// last 4 characters of their identifier and when they were last seen.
    DeviceNotRegistered { hint: Box<DeviceHint> },
    /// Catch-up was asked of a channel that has no archive (`days` 0), or
    /// for a moment outside it (in the future, or older than the `days`
    /// it keeps). Said only after the line is allowed the channel.
    NoArchive { days: u16 },
}

impl Denial {
    /// Stable code for logs, metrics, answers and `doctor`.
    pub fn code(&self) -> &'static str {
        match self {
            Denial::InvalidCredentials => "invalid_credentials",
            Denial::RateLimited { .. } => "rate_limited",
            Denial::Disabled => "disabled",
            Denial::Banned => "banned",
            Denial::Expired { .. } => "expired",
            Denial::OutputFormatNotAllowed { .. } => "output_format_not_allowed",
            Denial::NotInPackage => "not_in_package",
            Denial::ConnectionLimit { .. } => "connection_limit",
            Denial::SourceAtCapacity => "source_at_capacity",
            Denial::LedgerUnavailable => "ledger_unavailable",
            Denial::DeviceNotRegistered { .. } => "device_not_registered",
            Denial::NoArchive { .. } => "no_archive",
        }
    }

    /// Every code, for documentation and metrics pre-registration.
    pub const CODES: &'static [&'static str] = &[
        "invalid_credentials",
        "rate_limited",
        "disabled",
        "banned",
        "expired",
        "output_format_not_allowed",
        "not_in_package",
        "connection_limit",
        "source_at_capacity",
        "ledger_unavailable",
        "device_not_registered",
        "no_archive",
    ];

    /// True when the reason may be said before the credentials are proven.
    pub fn is_pre_auth(&self) -> bool {
        matches!(
            self,
            Denial::InvalidCredentials | Denial::RateLimited { .. }
        )
    }

    /// The cause in plain words, for a person. `date` formats a time as the
    /// face wants it (the server's time zone).
    pub fn message(&self, date: impl Fn(UnixTime) -> String) -> String {
        self.message_with(date, |_| None)
    }

    /// [`Denial::message`], naming the channel each holder of a full line
    /// watches when `channel` knows its name.
    pub fn message_with(
        &self,
        date: impl Fn(UnixTime) -> String,
        channel: impl Fn(crate::ids::StreamId) -> Option<String>,
    ) -> String {
        match self {
            Denial::InvalidCredentials => "Invalid username or password".to_string(),
            Denial::RateLimited { retry_after_secs } => {
                format!("Too many failed logins; try again in {retry_after_secs} seconds")
            }
            Denial::Disabled => "Subscription suspended by the provider".to_string(),
            Denial::Banned => "Subscription blocked by the provider".to_string(),
            Denial::Expired { at } => format!("Subscription expired on {}", date(*at)),
            Denial::OutputFormatNotAllowed { format } => {
                format!(
                    "This subscription does not include the {} format",
                    format.as_str()
                )
            }
            Denial::NotInPackage => "This channel is not part of your subscription".to_string(),
            Denial::ConnectionLimit { max, holders } => {
                let who: Vec<String> = holders
                    .iter()
                    .map(|l| {
                        let player = if l.user_agent.is_empty() {
                            "a player"
                        } else {
                            &l.user_agent
                        };
                        let what =
                            channel(l.stream).unwrap_or_else(|| format!("stream {}", l.stream.0));
                        format!(
                            "{player} ({}, watching {what}, since {})",
                            l.ip,
                            date(l.started)
                        )
                    })
                    .collect();
                format!(
                    "Connection limit reached: {} of {max} in use by {}",
                    holders.len(),
                    who.join(" and ")
                )
            }
            Denial::SourceAtCapacity => {
                "Source at capacity: the provider's connection limit is reached; try again shortly"
                    .to_string()
            }
            Denial::LedgerUnavailable => {
                "The server cannot check connection slots right now; try again in a moment"
                    .to_string()
            }
            Denial::DeviceNotRegistered { hint } => hint.message(&date),
            Denial::NoArchive { days: 0 } => "This channel has no catch-up archive".to_string(),
            Denial::NoArchive { days: 1 } => {
                "Not in this channel's catch-up archive: it keeps the last day only".to_string()
            }
            Denial::NoArchive { days } => {
                format!("Not in this channel's catch-up archive: it keeps the last {days} days")
            }
        }
    }
}
