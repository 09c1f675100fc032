//! The one decision. Every face (player_api, get.php, xmltv.php, stream URLs,
//! and later the portal and the Stalker API) asks this function, so a rule
//! is written once and a denial has one reason everywhere.

use super::device::{self, Binding, DevicePresented, DeviceStep};
use super::{Denial, Line, OutputFormat};
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
    /// The device check (docs/devices.md).
    pub device: DeviceAsk<'a>,
}

impl<'a> AccessRequest<'a> {
    /// A request that names no item, no container and no device check.
    pub fn new(face: Face, client_ip: IpAddr, user_agent: &'a str) -> Self {
        AccessRequest {
            face,
            output: None,
            item_category: None,
            client_ip,
            user_agent,
            device: DeviceAsk::NotAsked,
        }
    }
}

/// What the decision knows about the caller's device.
#[derive(Debug, Clone, Copy, Default)]
pub enum DeviceAsk<'a> {
    /// No device check: the request carries a signed link made after an
    /// allowed (and device-checked) request.
    #[default]
    NotAsked,
    /// Check the device: what the caller presented (`None`: nothing) and
    /// the line's binding (`None`: the line has none, binding off).
    Ask {
        presented: Option<&'a DevicePresented>,
        binding: Option<&'a Binding>,
    },
}

/// What is known about the caller's credentials.
#[derive(Debug, Clone, Copy)]
pub enum Proof<'a> {
    /// The caller is over its failure budget; nothing was checked.
    RateLimited { retry_after_secs: u32 },
    /// Unknown user or wrong password (never told apart).
    NotProven,
    /// The credentials match this line.
    Proven(&'a Line),
}

/// The answer to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny(Denial),
}

/// The decision and what the gate must do after an allowed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub decision: Decision,
    /// For an `Allow`: bind the presented device, or record that a bound one
    /// was seen ([`DeviceStep::Nothing`] for a denial).
    pub device: DeviceStep,
}

/// Decides a request. Pure: no I/O, `now` is a parameter.
///
/// Order matters and is part of the security design: the limiter and the
/// credentials come first, so nothing about a line (expired? banned?) leaks
/// before its password is proven; then status, expiry, format, package and
/// last the device.
pub fn decide(proof: Proof<'_>, req: &AccessRequest<'_>, now: UnixTime) -> Decision {
    verdict(proof, req, now).decision
}

/// [`decide`], with the device step an allowed request calls for (the
/// gate binds a new device or records a bound one; see `Gate::authorize`).
pub fn verdict(proof: Proof<'_>, req: &AccessRequest<'_>, now: UnixTime) -> Verdict {
    let deny = |denial| Verdict {
        decision: Decision::Deny(denial),
        device: DeviceStep::Nothing,
    };
    let line = match proof {
        Proof::RateLimited { retry_after_secs } => {
            return deny(Denial::RateLimited { retry_after_secs })
        }
        Proof::NotProven => return deny(Denial::InvalidCredentials),
        Proof::Proven(line) => line,
    };
    let denial = if line.status == super::Status::Banned {
        Denial::Banned
    } else if line.status == super::Status::Disabled {
        Denial::Disabled
    } else if let Some(at) = line.expires_at.filter(|at| *at <= now) {
        Denial::Expired { at }
    } else if let Some(format) = req.output.filter(|f| !line.allowed_formats.contains(*f)) {
        Denial::OutputFormatNotAllowed { format }
    } else if let Some(category) = req.item_category.filter(|c| !line.may_see(*c)) {
        let _ = category;
        Denial::NotInPackage
    } else {
        let step = match req.device {
            DeviceAsk::NotAsked => Ok(DeviceStep::Nothing),
            DeviceAsk::Ask { presented, binding } => {
                device::check(binding, presented, req.client_ip, now)
            }
        };
        match step {
            Ok(device) => {
                return Verdict {
                    decision: Decision::Allow,
                    device,
                }
            }
            Err(hint) => Denial::DeviceNotRegistered {
                hint: Box::new(hint),
            },
        }
    };
    deny(denial)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::{OutputFormats, Status};
    use crate::ids::LineId;

    const NOW: UnixTime = 1_800_000_000;

    fn line() -> Line {
        Line {
            id: LineId(1),
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
            device: DeviceAsk::NotAsked,
        }
    }

    #[test]
    fn decision_table() {
        let expired = Line {
            expires_at: Some(NOW - 10),
            ..line()
        };
        let banned = Line {
            status: Status::Banned,
            ..line()
        };
        let banned_expired = Line {
            status: Status::Banned,
            expires_at: Some(1),
            ..line()
        };
        let disabled = Line {
            status: Status::Disabled,
            ..line()
        };
        let unlimited = Line {
            expires_at: None,
            package: None,
            ..line()
        };
        let ends_now = Line {
            expires_at: Some(NOW),
            ..line()
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
        let ok = line();
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

    #[test]
    fn the_device_comes_last_and_only_after_the_proof() {
        use crate::access::device::{BoundDevice, DeviceKind, DevicePolicy, NotRegisteredWhy};
        use crate::ids::DeviceId;
        let binding = Binding {
            policy: DevicePolicy {
                limit: 1,
                ..Default::default()
            },
            devices: vec![BoundDevice {
                id: DeviceId(1),
                kind: DeviceKind::Mac,
                identifier: "00:1A:79:AA:BB:CC".into(),
                label: "".into(),
                serial: None,
                device_id: None,
                device_id2: None,
                first_seen: NOW,
                last_seen: NOW,
                last_ip: None,
            }],
            last_self_reset: None,
        };
        let phone = DevicePresented::player("phone").expect("id");
        let other = AccessRequest {
            device: DeviceAsk::Ask {
                presented: Some(&phone),
                binding: Some(&binding),
            },
            ..req()
        };
        let ok = line();
        let banned = Line {
            status: Status::Banned,
            ..line()
        };
        assert_eq!(
            decide(Proof::NotProven, &other, NOW),
            Decision::Deny(Denial::InvalidCredentials),
            "a stranger learns nothing about the binding"
        );
        assert_eq!(
            decide(Proof::Proven(&banned), &other, NOW),
            Decision::Deny(Denial::Banned),
            "the line's own state first"
        );
        match decide(Proof::Proven(&ok), &other, NOW) {
            Decision::Deny(Denial::DeviceNotRegistered { hint }) => {
                assert_eq!(hint.why, NotRegisteredWhy::OtherDevice)
            }
            d => panic!("{d:?}"),
        }
        let empty = Binding {
            devices: vec![],
            ..binding.clone()
        };
        let first = AccessRequest {
            device: DeviceAsk::Ask {
                presented: Some(&phone),
                binding: Some(&empty),
            },
            ..req()
        };
        assert_eq!(
            verdict(Proof::Proven(&ok), &first, NOW),
            Verdict {
                decision: Decision::Allow,
                device: DeviceStep::Bind
            }
        );
        assert_eq!(
            decide(Proof::Proven(&ok), &req(), NOW),
            Decision::Allow,
            "not asked: signed links"
        );
    }
}
