//! The one decision. Every face (player_api, get.php, xmltv.php, stream URLs,
//! and later the portal and the Stalker API) asks this function, so a rule
//! is written once and a denial has one reason everywhere.

use super::{Account, Denial, OutputFormat};
use crate::ids::CategoryId;
use crate::UnixTime;
use std::net::IpAddr;

/// Which face is asking; some rules only apply to some faces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Face {
    /// `player_api.php` / `panel_api.php`.
    PlayerApi,
    /// `get.php` (M3U).
    Playlist,
    /// `xmltv.php`.
    Guide,
    /// A stream URL (live, movie, episode, timeshift).
    Stream,
}

/// What the caller wants, as far as the decision needs to know.
#[derive(Debug, Clone)]
pub struct AccessRequest<'a> {
    pub face: Face,
    /// The container asked for (stream URL extension or `output=`).
    pub output: Option<OutputFormat>,
    /// The category of the item asked for, when the request names an item.
    pub item_category: Option<Option<CategoryId>>,
    pub client_ip: IpAddr,
    pub user_agent: &'a str,
}

/// What is known about the caller's credentials.
#[derive(Debug, Clone, Copy)]
pub enum Proof<'a> {
    /// The caller is over its failure budget; nothing was checked.
    RateLimited { retry_after_secs: u32 },
    /// Unknown user or wrong password (never told apart).
    NotProven,
    /// The credentials match this account.
    Proven(&'a Account),
}

/// The answer to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny(Denial),
}

/// Decides a request. Pure: no I/O, `now` is a parameter.
///
/// Order matters and is part of the security design: the limiter and the
/// credentials come first, so nothing about a line (expired? banned?) leaks
/// before its password is proven; then status, expiry, format and package.
pub fn decide(proof: Proof<'_>, req: &AccessRequest<'_>, now: UnixTime) -> Decision {
    let account = match proof {
        Proof::RateLimited { retry_after_secs } => {
            return Decision::Deny(Denial::RateLimited { retry_after_secs })
        }
        Proof::NotProven => return Decision::Deny(Denial::InvalidCredentials),
        Proof::Proven(account) => account,
    };
    let denial = if account.status == super::Status::Banned {
        Denial::Banned
    } else if account.status == super::Status::Disabled {
        Denial::Disabled
    } else if let Some(at) = account.expires_at.filter(|at| *at <= now) {
        Denial::Expired { at }
    } else if let Some(format) = req.output.filter(|f| !account.allowed_formats.contains(*f)) {
        Denial::OutputFormatNotAllowed { format }
    } else if let Some(category) = req.item_category.filter(|c| !account.may_see(*c)) {
        let _ = category;
        Denial::NotInPackage
    } else {
        return Decision::Allow;
    };
    Decision::Deny(denial)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::{OutputFormats, Status};
    use crate::ids::AccountId;

    const NOW: UnixTime = 1_800_000_000;

    fn account() -> Account {
        Account {
            id: AccountId(1),
            username: "alice".into(),
            password_hash: "".into(),
            verifier: None,
            status: Status::Active,
            expires_at: Some(NOW + 86_400),
            is_trial: false,
            max_connections: 1,
            limit_policy: None,
            allowed_formats: OutputFormats::empty().with(OutputFormat::Ts),
            created_at: 0,
            note: "".into(),
            package: Some(vec![CategoryId(1)].into_boxed_slice()),
            revision: 0,
        }
    }

    fn req() -> AccessRequest<'static> {
        AccessRequest {
            face: Face::Stream,
            output: Some(OutputFormat::Ts),
            item_category: Some(Some(CategoryId(1))),
            client_ip: "192.0.2.1".parse().expect("literal ip"),
            user_agent: "VLC",
        }
    }

    #[test]
    fn decision_table() {
        let expired = Account {
            expires_at: Some(NOW - 10),
            ..account()
        };
        let banned = Account {
            status: Status::Banned,
            ..account()
        };
        let banned_expired = Account {
            status: Status::Banned,
            expires_at: Some(1),
            ..account()
        };
        let disabled = Account {
            status: Status::Disabled,
            ..account()
        };
        let unlimited = Account {
            expires_at: None,
            package: None,
            ..account()
        };
        let ends_now = Account {
            expires_at: Some(NOW),
            ..account()
        };
        let hls = AccessRequest {
            output: Some(OutputFormat::M3u8),
            ..req()
        };
        let other_cat = AccessRequest {
            item_category: Some(Some(CategoryId(2))),
            ..req()
        };
        let no_cat = AccessRequest {
            item_category: Some(None),
            ..req()
        };
        let ok = account();
        let base = req();
        let cases: Vec<(&str, Proof<'_>, &AccessRequest<'_>, Decision)> = vec![
            ("ok", Proof::Proven(&ok), &base, Decision::Allow),
            (
                "unknown user or wrong password",
                Proof::NotProven,
                &base,
                Decision::Deny(Denial::InvalidCredentials),
            ),
            (
                "rate limited before anything else",
                Proof::RateLimited {
                    retry_after_secs: 30,
                },
                &base,
                Decision::Deny(Denial::RateLimited {
                    retry_after_secs: 30,
                }),
            ),
            (
                "expired",
                Proof::Proven(&expired),
                &base,
                Decision::Deny(Denial::Expired { at: NOW - 10 }),
            ),
            (
                "expiry is inclusive",
                Proof::Proven(&ends_now),
                &base,
                Decision::Deny(Denial::Expired { at: NOW }),
            ),
            (
                "banned",
                Proof::Proven(&banned),
                &base,
                Decision::Deny(Denial::Banned),
            ),
            (
                "banned wins over expired",
                Proof::Proven(&banned_expired),
                &base,
                Decision::Deny(Denial::Banned),
            ),
            (
                "disabled",
                Proof::Proven(&disabled),
                &base,
                Decision::Deny(Denial::Disabled),
            ),
            (
                "format",
                Proof::Proven(&ok),
                &hls,
                Decision::Deny(Denial::OutputFormatNotAllowed {
                    format: OutputFormat::M3u8,
                }),
            ),
            (
                "package",
                Proof::Proven(&ok),
                &other_cat,
                Decision::Deny(Denial::NotInPackage),
            ),
            (
                "uncategorised items are visible",
                Proof::Proven(&ok),
                &no_cat,
                Decision::Allow,
            ),
            (
                "no package means everything",
                Proof::Proven(&unlimited),
                &other_cat,
                Decision::Allow,
            ),
        ];
        for (name, proof, r, want) in cases {
            assert_eq!(decide(proof, r, NOW), want, "case {name}");
        }
    }

    #[test]
    fn a_wrong_password_on_an_expired_banned_line_says_nothing_about_it() {
        // The caller could not prove the password: the answer must be the same
        // as for a user that does not exist.
        assert_eq!(
            decide(Proof::NotProven, &req(), NOW),
            Decision::Deny(Denial::InvalidCredentials)
        );
    }
}
