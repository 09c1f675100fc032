//! The failed-login and MAC-scan limits shared through Redis
//! (`tvgate_core::access::share`): a node's failures go to shared buckets
//! (`lua/failure.lua`, `lua/scan.lua`) in the background, and what the
//! buckets reach comes back to every node on `PREFIX"limits"`.
//!
//! Nothing here is on a login's path: a failure is queued after the
//! answer, a successful login sends nothing unless its username is being
//! guessed (then its address is trusted everywhere). While Redis does not
//! answer, each node limits on its own.

use crate::link::Link;
use crate::scripts::Scripts;
use std::net::IpAddr;
use std::sync::Arc;
use tokio::sync::mpsc;
use tvgate_core::access::limiter::LimiterSettings;
use tvgate_core::access::share::{LimitShare, SharedLimit};
use tvgate_core::UnixTime;

/// The limits of the MAC-scan limiter (`stalker_unknown_macs_per_minute`,
/// `stalker_scan_block_secs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanLimits {
    pub per_minute: u32,
    pub block_secs: u32,
}

/// The longest username key that is shared; a longer one is no line's
/// (and is still limited on the node that saw it).
const MAX_KEY: usize = 256;

enum Event {
    Failed {
        ip: IpAddr,
        key: String,
        now: UnixTime,
    },
    Trusted {
        ip: IpAddr,
        key: String,
    },
    Missed {
        ip: IpAddr,
        mac: String,
        now: UnixTime,
    },
}

/// This node's side of the shared limits: a [`LimitShare`] for its
/// limiters, and what it hears from the others.
pub struct SharedLimits {
    events: mpsc::UnboundedSender<Event>,
    incoming: mpsc::UnboundedSender<SharedLimit>,
}

impl SharedLimits {
    pub(crate) fn new(
        link: Arc<Link>,
        prefix: &str,
        login: LimiterSettings,
        scan: ScanLimits,
    ) -> (SharedLimits, mpsc::UnboundedReceiver<SharedLimit>) {
        let (events, rx) = mpsc::unbounded_channel();
        let (incoming, heard) = mpsc::unbounded_channel();
        tokio::spawn(send(link, prefix.to_string(), login, scan, rx));
        (SharedLimits { events, incoming }, heard)
    }

    /// A message on the `limits` channel.
    pub(crate) fn heard(&self, message: &str) {
        if let Some(limit) = parse(message) {
            let _ = self.incoming.send(limit);
        }
    }
}

impl LimitShare for SharedLimits {
    fn login_failed(&self, ip: IpAddr, username_key: &str, now: UnixTime) {
        if username_key.len() <= MAX_KEY {
            let key = username_key.to_string();
            let _ = self.events.send(Event::Failed { ip, key, now });
        }
    }

    fn login_trusted(&self, ip: IpAddr, username_key: &str) {
        if username_key.len() <= MAX_KEY {
            let key = username_key.to_string();
            let _ = self.events.send(Event::Trusted { ip, key });
        }
    }

    fn mac_missed(&self, ip: IpAddr, mac: &str, now: UnixTime) {
        let mac = mac.chars().take(64).collect();
        let _ = self.events.send(Event::Missed { ip, mac, now });
    }
}

/// Sends the node's events to Redis, one at a time (they are few: a
/// failure, not a login). An event Redis does not take is dropped: this
/// node's own limiter has counted it already.
async fn send(
    link: Arc<Link>,
    prefix: String,
    login: LimiterSettings,
    scan: ScanLimits,
    mut events: mpsc::UnboundedReceiver<Event>,
) {
    let scripts = Scripts::new();
    let channel = format!("{prefix}limits");
    while let Some(event) = events.recv().await {
        let Some(mut conn) = link.conn() else {
            continue;
        };
        let sent = match event {
            Event::Failed { ip, key, now } => {
                scripts
                    .failure
                    .arg(&prefix)
                    .arg(now)
                    .arg(ip.to_string())
                    .arg(&key)
                    .arg(login.per_ip.burst)
                    .arg(login.per_ip.drain_secs)
                    .arg(login.per_username.burst)
                    .arg(login.per_username.drain_secs)
                    .invoke_async::<()>(&mut conn)
                    .await
            }
            Event::Trusted { ip, key } => {
                redis::cmd("PUBLISH")
                    .arg(&channel)
                    .arg(format!("t|{ip}|{key}"))
                    .query_async::<()>(&mut conn)
                    .await
            }
            Event::Missed { ip, mac, now } if scan.per_minute > 0 => {
                scripts
                    .scan
                    .arg(&prefix)
                    .arg(now)
                    .arg(ip.to_string())
                    .arg(&mac)
                    .arg(scan.per_minute)
                    .arg(scan.block_secs)
                    .invoke_async::<()>(&mut conn)
                    .await
            }
            Event::Missed { .. } => Ok(()),
        };
        if let Err(e) = sent {
            tracing::debug!(error = %crate::link::describe(&e), "a limiter event was not shared");
        }
    }
}

/// `f|ip|ip level|username level|at|username key`, `t|ip|username key` or
/// `s|ip|until`.
fn parse(message: &str) -> Option<SharedLimit> {
    let mut parts = message.splitn(6, '|');
    match parts.next()? {
        "f" => {
            let ip: IpAddr = parts.next()?.parse().ok()?;
            let ip_level: u64 = parts.next()?.parse().ok()?;
            let user_level: u64 = parts.next()?.parse().ok()?;
            let at: UnixTime = parts.next()?.parse().ok()?;
            let username_key = parts.next()?.to_string();
            // Both buckets in one message; the address's goes first.
            Some(SharedLimit::Failures {
                ip,
                ip_level_milli: ip_level,
                username_key,
                username_level_milli: user_level,
                at,
            })
        }
        "t" => {
            let mut rest = message[2..].splitn(2, '|');
            let ip = rest.next()?.parse().ok()?;
            let username_key = rest.next()?.to_string();
            Some(SharedLimit::Trusted { ip, username_key })
        }
        "s" => {
            let ip = parts.next()?.parse().ok()?;
            let until = parts.next()?.parse().ok()?;
            Some(SharedLimit::ScanBlocked { ip, until })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_read_back() {
        assert_eq!(
            parse("f|192.0.2.1|3000|1000|100|ali|ce"),
            Some(SharedLimit::Failures {
                ip: "192.0.2.1".parse().expect("ip"),
                ip_level_milli: 3000,
                username_key: "ali|ce".into(),
                username_level_milli: 1000,
                at: 100,
            })
        );
        assert_eq!(
            parse("t|2001:db8::1|\u{0}admin\u{0}root"),
            Some(SharedLimit::Trusted {
                ip: "2001:db8::1".parse().expect("ip"),
                username_key: "\u{0}admin\u{0}root".into(),
            })
        );
        assert_eq!(
            parse("s|192.0.2.9|700"),
            Some(SharedLimit::ScanBlocked {
                ip: "192.0.2.9".parse().expect("ip"),
                until: 700,
            })
        );
        assert_eq!(parse("f|nonsense"), None);
        assert_eq!(parse("x|1"), None);
    }
}
