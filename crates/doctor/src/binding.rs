//! Device binding, named exactly: tvgate's `device_not_registered` refusal
//! (on the Xtream login, a stream, or a Stalker profile) carries a hint
//! that says why and which device the line is bound to, by kind, label and
//! the last 4 characters of its identifier (docs/devices.md):
//!
//! ```text
//! Device not registered: this device is not registered for this subscription;
//! registered: 1 of 1: "Living room" (mac ending BBCC, last seen 2026-11-28 20:12).
//! Reset the binding (once per cooldown) or ask your provider to register this device.
//! ```
//!
//! This module reads that hint, compares the bound device with the one the
//! subscriber gave (`--mac`, `--device-id`), and turns it into the seed
//! article's fourth cause with its fix: "you reinstalled the app (or
//! changed device) and the MAC changed: reset the binding yourself in the
//! provider's portal, or ask them to register the new one". The portal's
//! self-service reset is offered only when the provider's portal answers.

use crate::check::{Cause, Check, Step, Verdict};
use crate::fetch::Http;
use reqwest::Url;

/// One device the hint names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bound {
    /// As the hint shows it: a quoted label, or "a mac device".
    pub label: String,
    /// `mac`, `stb` or `player`.
    pub kind: String,
    /// The last 4 characters of its identifier (a MAC without separators).
    pub tail: String,
}

/// Why the device was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// Another device holds the line's place.
    OtherDevice,
    /// The player sent no device id and the line needs one.
    NoIdentity,
    /// A MAG box whose serial or device id differs from the bound box's.
    IdentifiersDiffer,
    /// The line is locked to another network.
    OutsideIpLock,
    /// A hint in words this version does not know.
    Unknown,
}

/// What a `device_not_registered` hint says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hint {
    pub why: Why,
    pub bound: Vec<Bound>,
}

/// True when `text` is tvgate's device refusal (its sentence starts so).
pub fn is_hint(text: &str) -> bool {
    text.contains("Device not registered:")
}

/// Reads the hint; unknown wording still gives a hint (`Why::Unknown`).
pub fn parse(text: &str) -> Hint {
    let why = if text.contains("sent no device id") {
        Why::NoIdentity
    } else if text.contains("serial number or device id differs") {
        Why::IdentifiersDiffer
    } else if text.contains("locked to another network") {
        Why::OutsideIpLock
    } else if text.contains("is not registered for this subscription") {
        Why::OtherDevice
    } else {
        Why::Unknown
    };
    let mut bound = Vec::new();
    if let Some(i) = text.find("; registered: ") {
        let rest = &text[i + "; registered: ".len()..];
        // "N of M: " then the entries joined by " and ".
        let entries = rest.split_once(": ").map(|(_, e)| e).unwrap_or(rest);
        for entry in entries.split(") and ") {
            let Some((label, inside)) = entry.split_once(" (") else {
                continue;
            };
            let Some((kind, after)) = inside.split_once(" ending ") else {
                continue;
            };
            let tail: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect();
            bound.push(Bound {
                label: label.trim().to_string(),
                kind: kind.trim().to_string(),
                tail,
            });
        }
    }
    Hint { why, bound }
}

/// The last 4 characters of an identifier as tvgate shows them (a MAC's
/// separators left out, upper case).
pub fn tail_of(id: &str) -> String {
    let mac = crate::input::looks_like_mac(id);
    let chars: Vec<char> = id
        .trim()
        .chars()
        .filter(|c| !mac || c.is_ascii_hexdigit())
        .map(|c| if mac { c.to_ascii_uppercase() } else { c })
        .collect();
    chars[chars.len().saturating_sub(4)..].iter().collect()
}

/// The provider's subscriber portal, when it answers with its login form
/// (tvgate's `/portal/`): there the subscriber resets the binding without
/// waiting for anyone.
pub async fn self_service(http: &Http, base: &Url) -> Option<Url> {
    let url = base.join("portal/").ok()?;
    let f = http.get(&url, 256 * 1024).await.ok()?;
    let text = String::from_utf8_lossy(&f.body);
    (f.status.is_success() && text.contains("/portal/login")).then_some(url)
}

/// The check that names the binding, from tvgate's hint. `given` is the
/// MAC or device id the subscriber gave; `portal`, the self-service page.
pub fn explain(
    id: &str,
    step: Step,
    hint_text: &str,
    given: Option<&str>,
    portal: Option<&Url>,
) -> Check {
    let hint = parse(hint_text);
    let reset = match portal {
        Some(p) => format!(
            "reset the binding yourself in the provider's portal ({p}: log in with your username and password, then \"Reset devices\"; once per day), then open the app again"
        ),
        None => "ask the provider to reset the binding (move it to this device)".to_string(),
    };
    let given_text = given.map(|g| {
        if crate::input::looks_like_mac(g) {
            format!("the MAC you gave ({g}) ends {}", tail_of(g))
        } else {
            format!("the device id you gave ({g}) ends {}", tail_of(g))
        }
    });
    let bound_text: Vec<String> = hint
        .bound
        .iter()
        .map(|b| format!("{} ({} ending {})", b.label, b.kind, b.tail))
        .collect();
    let differs = given.is_some_and(|g| {
        let t = tail_of(g);
        !hint.bound.is_empty() && hint.bound.iter().all(|b| !b.tail.eq_ignore_ascii_case(&t))
    });
    let mut c = Check::new(step, id, "", Verdict::Fault).points_to(Cause::DeviceBinding);
    let (title, summary, fix) = match hint.why {
        Why::OtherDevice if !hint.bound.is_empty() => (
            format!("The line is bound to another device: {}", bound_text.join(", ")),
            if differs {
                "The subscription is bound to another device: this one is not registered. If you reinstalled the app or changed device, its MAC (device id) changed.".to_string()
            } else {
                "The subscription is bound to another device: this one is not registered.".to_string()
            },
            format!(
                "If you reinstalled the app or changed device, the MAC (device id) the app shows changed: {reset}. Otherwise ask the provider to register {}.",
                given.map(|g| format!("this device ({g})")).unwrap_or_else(|| "this device (the MAC the app shows)".into())
            ),
        ),
        Why::OtherDevice => (
            "No device is registered for the line yet, and only the provider registers them".to_string(),
            "The subscription plays only on devices the provider registers, and this one is not registered yet.".to_string(),
            format!(
                "Send the provider the MAC or device id the app shows{} and ask them to register it.",
                given.map(|g| format!(" ({g})")).unwrap_or_default()
            ),
        ),
        Why::NoIdentity => (
            "The line plays only on registered devices, and no device id was sent".to_string(),
            "The subscription plays only on registered devices, and the app sent no device id.".to_string(),
            format!("Use the app the provider registered (it sends its MAC or device id), or {reset}."),
        ),
        Why::IdentifiersDiffer => (
            "This box's serial number or device id differs from the box registered with this MAC".to_string(),
            "The MAC is registered to a box with another serial number: this box is not the registered one.".to_string(),
            format!("A replaced box (or a copied MAC): {reset}, or ask the provider to register this box's serial number."),
        ),
        Why::OutsideIpLock => (
            "The line is locked to another network (internet provider)".to_string(),
            "The subscription is locked to another network (internet provider) than this one.".to_string(),
            "Use it from the network it is locked to (at home), or ask the provider to change the lock.".to_string(),
        ),
        Why::Unknown => (
            "The server refuses this device".to_string(),
            "The subscription appears to be bound to another device.".to_string(),
            format!("Send the provider the MAC or device id the app shows and ask them to register it, or {reset}."),
        ),
    };
    c.title = title;
    c = c.evidence(format!("hint: {hint_text}"));
    if let Some(g) = given_text {
        c = c.evidence(g);
    }
    if let Some(p) = portal {
        c = c.evidence(format!(
            "the provider's portal answers at {p} (self-service reset)"
        ));
    }
    c.summary(summary).fix(fix)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HINT: &str = "Device not registered: this device is not registered for this subscription; registered: 2 of 2: \"Living room\" (mac ending BBCC, last seen 2026-11-28 20:12) and a player device (player ending ne-2, not seen yet). Reset the binding (once per cooldown) or ask your provider to register this device.";

    #[test]
    fn the_hint_is_read() {
        let h = parse(HINT);
        assert_eq!(h.why, Why::OtherDevice);
        assert_eq!(
            h.bound,
            [
                Bound {
                    label: "\"Living room\"".into(),
                    kind: "mac".into(),
                    tail: "BBCC".into()
                },
                Bound {
                    label: "a player device".into(),
                    kind: "player".into(),
                    tail: "ne-2".into()
                },
            ]
        );
        assert_eq!(parse("Device not registered: this subscription is locked to another network (internet provider); no device is registered yet. Reset").why, Why::OutsideIpLock);
    }

    #[test]
    fn tails_match_tvgates() {
        assert_eq!(tail_of("00:1a:79:aa:bb:cc"), "BBCC");
        assert_eq!(tail_of("phone-2"), "ne-2");
        assert_eq!(tail_of("ab"), "ab");
    }

    #[test]
    fn a_changed_mac_is_named_with_the_reset() {
        let portal = Url::parse("http://h/portal/").expect("url");
        let c = explain(
            "account.binding",
            Step::Account,
            HINT,
            Some("00:1A:79:00:00:09"),
            Some(&portal),
        );
        assert!(
            c.summary
                .as_deref()
                .is_some_and(|s| s.contains("reinstalled")),
            "{c:?}"
        );
        assert!(c.fix.contains("http://h/portal/"), "{}", c.fix);
        assert!(
            c.evidence.iter().any(|e| e.contains("ends 0009")),
            "{:?}",
            c.evidence
        );
    }
}
