//! From the checks to one answer: the most likely cause, a sentence that
//! says it, and the one next step. Pure.
//!
//! Faults are weighed in a fixed order, the order in which one cause hides
//! the next: if the name does not resolve nothing else could be tried; if
//! the server does not answer, credentials cannot be judged; a wrong
//! password hides the subscription; an ended subscription hides the
//! connection count; and so on:
//!
//! 1. DNS blocking
//! 2. server unreachable (also: a stream server that fails once login works)
//! 3. credentials
//! 4. subscription
//! 5. connection limit
//! 6. device binding
//! 7. works
//!
//! A fault marked decisive (a fix of the address such as http:// for an
//! https:// port or the wrong portal path, or a provider refusing the app
//! itself) comes right after DNS blocking: the app gets no further than it,
//! so nothing found behind it (with the corrected address or another user
//! agent) is the first thing to fix. Its fix is the next step.
//!
//! With no fault, a warning pointing at device binding (a MAC was given and
//! everything else works: the article's "credentials right, account active,
//! still refused") names device binding; otherwise the answer is "works".

use crate::check::{Cause, Check, Verdict};
use serde::Serialize;

/// Causes in the order they are weighed.
pub const PRIORITY: [Cause; 6] = [
    Cause::DnsBlocking,
    Cause::ServerUnreachable,
    Cause::Credentials,
    Cause::Subscription,
    Cause::ConnectionLimit,
    Cause::DeviceBinding,
];

/// The doctor's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnosis {
    pub cause: Cause,
    pub exit_code: i32,
    /// One sentence for a person.
    pub summary: String,
    /// The one thing to do next.
    pub next_step: String,
    /// Ids of the checks behind the answer.
    pub because: Vec<String>,
}

/// The sentence for a cause.
pub fn summary(cause: Cause) -> &'static str {
    match cause {
        Cause::Works => "Everything works from here: the server answers, the login is accepted and a channel plays. The problem is in the app or the device.",
        Cause::Credentials => "The username or password is not what the server expects.",
        Cause::Subscription => "The login is right, but the subscription has ended or is suspended.",
        Cause::ConnectionLimit => "Every connection your subscription allows is in use by other devices.",
        Cause::DeviceBinding => "The subscription appears to be bound to another device.",
        Cause::DnsBlocking => "Your internet provider's DNS hides the server's address: this looks like DNS blocking.",
        Cause::ServerUnreachable => "The server cannot be reached from here, or does not answer as an IPTV server should.",
    }
}

fn default_step(cause: Cause) -> &'static str {
    match cause {
        Cause::Works => "Update or reinstall the app, check its login method (Xtream Codes vs M3U) and settings; if it still fails, send this report to your provider.",
        Cause::Credentials => "Copy the username and password from the provider's e-mail again (paste, do not type).",
        Cause::Subscription => "Renew the subscription, or ask your provider why it is suspended.",
        Cause::ConnectionLimit => "Close the app on every other device, wait a minute or two, and try again.",
        Cause::DeviceBinding => "Send your provider the MAC or device id the app shows and ask them to register it.",
        Cause::DnsBlocking => "Report the block: send this report to your provider and ask for another server address; a different DNS or a VPN works around it, where that is lawful.",
        Cause::ServerUnreachable => "Try again later and on mobile data; if it fails everywhere, send this report to your provider.",
    }
}

/// Names the most likely cause.
pub fn diagnose(checks: &[Check]) -> Diagnosis {
    let pick = |cause: Cause, verdict: Verdict| -> Vec<&Check> {
        checks
            .iter()
            .filter(|c| c.verdict == verdict && c.points_to == Some(cause))
            .collect()
    };
    // A decisive fault (a fix of the address, the app itself refused)
    // hides everything found after it but DNS blocking.
    let dns = pick(Cause::DnsBlocking, Verdict::Fault);
    let decisive = checks
        .iter()
        .find(|c| c.verdict == Verdict::Fault && c.decisive && c.points_to.is_some());
    let mut found = match (dns.is_empty(), decisive) {
        (true, Some(d)) => d
            .points_to
            .map(|cause| (cause, pick(cause, Verdict::Fault))),
        _ => None,
    };
    if found.is_none() {
        found = PRIORITY
            .iter()
            .map(|&cause| (cause, pick(cause, Verdict::Fault)))
            .find(|(_, list)| !list.is_empty());
    }
    if found.is_none() {
        let binding = pick(Cause::DeviceBinding, Verdict::Warning);
        if !binding.is_empty() {
            found = Some((Cause::DeviceBinding, binding));
        }
    }
    let (cause, because) = found.unwrap_or((Cause::Works, Vec::new()));
    // The check that speaks for the cause: the decisive fault when one
    // decided; otherwise the latest with a fix, which is the most specific
    // (a retry with the corrected input, tvgate's exact reason, a refusal
    // naming the slot holders).
    let speaker = match decisive {
        Some(d) if dns.is_empty() => Some(d),
        _ => because.iter().rev().find(|c| !c.fix.is_empty()).copied(),
    };
    let next_step = speaker
        .filter(|c| !c.fix.is_empty())
        .map(|c| c.fix.clone())
        .unwrap_or_else(|| default_step(cause).to_string());
    // The sentence: the speaker's own when it has one, else the latest
    // fault of the cause that has one (an expiry with its date).
    let specific = speaker
        .and_then(|c| c.summary.clone())
        .or_else(|| because.iter().rev().find_map(|c| c.summary.clone()));
    let warnings = checks
        .iter()
        .filter(|c| c.verdict == Verdict::Warning)
        .count();
    let logged_in = checks
        .iter()
        .any(|c| c.step == crate::check::Step::Account && c.verdict == Verdict::Ok);
    let mut summary = if cause == Cause::Works && !logged_in {
        "The server answers from here, but the login itself could not be checked (see below)."
            .to_string()
    } else {
        specific.unwrap_or_else(|| summary(cause).to_string())
    };
    if cause == Cause::Works && warnings > 0 {
        summary.push_str(&format!(
            " {warnings} thing{} worth fixing {} listed below.",
            if warnings == 1 { "" } else { "s" },
            if warnings == 1 { "is" } else { "are" }
        ));
    }
    Diagnosis {
        cause,
        exit_code: cause.exit_code(),
        summary,
        next_step,
        because: because.iter().map(|c| c.id.clone()).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Step;

    #[test]
    fn a_decisive_fault_comes_right_after_dns_blocking() {
        let scheme = fault("transport.scheme", Cause::Credentials, "use https://")
            .decisive()
            .summary("use https");
        let checks = [
            fault("stream.open", Cause::ServerUnreachable, "try later"),
            scheme.clone(),
        ];
        let d = diagnose(&checks);
        assert_eq!(
            (d.cause, d.next_step.as_str(), d.summary.as_str()),
            (Cause::Credentials, "use https://", "use https")
        );
        let d = diagnose(&[fault("dns.blocking", Cause::DnsBlocking, "report"), scheme]);
        assert_eq!(d.cause, Cause::DnsBlocking);
    }

    #[test]
    fn the_summary_is_the_specific_faults() {
        let d = diagnose(&[
            fault("account.status", Cause::Subscription, "renew"),
            fault("account.expiry", Cause::Subscription, "renew").summary("expired on 2026-11-20"),
            fault("account.tvgate", Cause::Subscription, "renew"),
        ]);
        assert_eq!(d.summary, "expired on 2026-11-20");
    }

    fn fault(id: &str, cause: Cause, fix: &str) -> Check {
        Check::new(Step::Account, id, id, Verdict::Fault)
            .points_to(cause)
            .fix(fix)
    }

    #[test]
    fn the_earlier_cause_hides_the_later_one() {
        let d = diagnose(&[
            fault("a", Cause::Subscription, "renew"),
            fault("b", Cause::Credentials, "retype"),
        ]);
        assert_eq!(
            (d.cause, d.exit_code, d.next_step.as_str()),
            (Cause::Credentials, 10, "retype")
        );
    }

    #[test]
    fn the_latest_fix_of_the_cause_is_the_next_step() {
        let d = diagnose(&[
            fault(
                "account.connections",
                Cause::ConnectionLimit,
                "close others",
            ),
            fault(
                "stream.refusal",
                Cause::ConnectionLimit,
                "close LivingRoomTV",
            ),
        ]);
        assert_eq!(d.next_step, "close LivingRoomTV");
        assert_eq!(d.because, ["account.connections", "stream.refusal"]);
    }

    #[test]
    fn warnings_alone_still_work_unless_they_name_a_device() {
        let w = Check::new(Step::Typing, "t", "t", Verdict::Warning).points_to(Cause::Credentials);
        let login = Check::new(Step::Account, "account.login", "in", Verdict::Ok);
        let d = diagnose(&[w.clone(), login]);
        assert_eq!(d.cause, Cause::Works);
        assert!(
            d.summary.contains("1 thing worth fixing is listed below"),
            "{}",
            d.summary
        );
        let m = Check::new(Step::Account, "device.mac", "m", Verdict::Warning)
            .points_to(Cause::DeviceBinding);
        assert_eq!(diagnose(&[w, m]).cause, Cause::DeviceBinding);
    }
}
