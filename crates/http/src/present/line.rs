//! A subscriber's line as the operator's tools show it: its state in one
//! word ([`LineState`]), its JSON object ([`line_json`], the admin API's
//! documented `Line` schema, which `tvgate line show|list --json` prints
//! too) and what of it is never shown.
//!
//! Redaction: the password hash and the keyed verifier never leave the
//! server; a password appears only in [`created_line_json`], right after
//! the gate generated it (shown once, as the API's `CreatedLine`).

use serde_json::{json, Value};
use tvgate_core::access::device::Binding;
use tvgate_core::access::{Line, OutputFormat, Status};
use tvgate_core::ledger::LimitPolicy;
use tvgate_core::UnixTime;

/// A line's state in one word: its status, or `expired` for an active
/// line whose expiry has passed (the players are refused either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineState {
    Active,
    Expired,
    Disabled,
    Banned,
}

impl LineState {
    /// The state of `line` at `now`.
    pub fn of(line: &Line, now: UnixTime) -> LineState {
        match line.status {
            Status::Banned => LineState::Banned,
            Status::Disabled => LineState::Disabled,
            Status::Active if line.is_expired(now) => LineState::Expired,
            Status::Active => LineState::Active,
        }
    }

    /// `active`, `expired`, `disabled` or `banned`.
    pub fn as_str(self) -> &'static str {
        match self {
            LineState::Active => "active",
            LineState::Expired => "expired",
            LineState::Disabled => "disabled",
            LineState::Banned => "banned",
        }
    }
}

/// A line as JSON (the API's `Line`). `active_connections` is `None` where
/// the caller cannot know it (the command line does not see a running
/// server's connections): it is `null` then.
pub fn line_json(line: &Line, active_connections: Option<u32>, binding: Option<&Binding>) -> Value {
    json!({
        "username": &*line.username,
        "status": line.status.as_str(),
        "expires_at": line.expires_at,
        "is_trial": line.is_trial,
        "max_connections": line.max_connections,
        "limit_policy": line.limit_policy.map(LimitPolicy::as_str),
        "note": &*line.note,
        "created_at": line.created_at,
        "active_connections": active_connections,
        "allowed_formats": line.allowed_formats.iter().map(OutputFormat::as_str).collect::<Vec<_>>(),
        "package": line.package.as_ref().map(|p| p.iter().map(|c| c.0).collect::<Vec<_>>()),
        "device_policy": device_policy_json(binding),
    })
}

/// A line just created or given a new password (the API's `CreatedLine`):
/// [`line_json`] with the generated `password`, when there is one.
pub fn created_line_json(
    line: &Line,
    active_connections: Option<u32>,
    binding: Option<&Binding>,
    password: Option<&str>,
) -> Value {
    let mut out = line_json(line, active_connections, binding);
    if let Some(password) = password {
        out["password"] = Value::String(password.to_string());
    }
    out
}

/// A line's device rules as JSON (the API's `DevicePolicy`; also part of
/// the line's JSON). Without a binding: the defaults, binding off.
pub fn device_policy_json(binding: Option<&Binding>) -> Value {
    let policy = binding.map(|b| b.policy.clone()).unwrap_or_default();
    json!({
        "limit": policy.limit,
        "enrolment": policy.enrolment.as_str(),
        "ip_lock": policy.ip_lock.iter().map(|r| r.to_string()).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use tvgate_core::access::OutputFormats;
    use tvgate_core::ids::LineId;

    /// A line as the tests of its presentation use it.
    pub(crate) fn line(status: Status, expires_at: Option<UnixTime>) -> Line {
        Line {
            id: LineId(1),
            username: "tina".into(),
            password_hash: "$argon2id$secret-hash".into(),
            verifier: None,
            status,
            expires_at,
            is_trial: false,
            max_connections: 2,
            limit_policy: None,
            allowed_formats: OutputFormats::DEFAULT,
            created_at: 10,
            note: "".into(),
            package: None,
            revision: 1,
        }
    }

    #[test]
    fn the_state_word_says_expired_for_an_active_line_past_its_date() {
        let now = 1000;
        let cases = [
            (Status::Active, None, "active"),
            (Status::Active, Some(now + 1), "active"),
            (Status::Active, Some(now), "expired"),
            (Status::Disabled, Some(now - 1), "disabled"),
            (Status::Banned, None, "banned"),
        ];
        for (status, expires, word) in cases {
            assert_eq!(LineState::of(&line(status, expires), now).as_str(), word);
        }
    }
}
