//! Device binding: which boxes and players may use a line.
//!
//! Many providers bind a subscription to a device, and a subscriber who
//! reinstalls an app or changes box is refused with the same "Failed to
//! authorize" as a wrong password, then waits for someone to move the
//! binding. Here the binding is explicit per line ([`Binding`]): a device
//! limit (0: binding off, the default), the bound devices, whether a new
//! device binds itself while a place is free, and an IP-range lock for
//! players that send no identity. [`check`] is the pure rule the decision
//! runs once the credentials are proven; its refusal carries a
//! [`DeviceHint`] that names the registered device without revealing it.
//!
//! Identities ([`DevicePresented`]): a MAG box's MAC (with its serial and
//! device ids, pinned on first contact as Xtream Codes' `lock_device` does),
//! or an Xtream player's device id. Identifiers are normalised before they
//! are compared or stored: a MAC in any case and with any separator is
//! `00:1A:79:AA:BB:CC`.

use crate::ids::DeviceId;
use crate::UnixTime;
use std::fmt;
use std::net::IpAddr;

/// Longest identifier, serial or label kept (longer input is refused).
pub const MAX_IDENTIFIER_LEN: usize = 128;

/// A request that presents no identity is still the bound device's when it
/// comes from the address that device was last seen at within this window
/// (players send their device id on login, not on the stream URLs they
/// build from it).
pub const SAME_ADDRESS_SECS: i64 = 12 * 3600;

/// A bound device's last-seen time and address are written at most this
/// often (an address change is written at once).
pub const TOUCH_EVERY_SECS: i64 = 300;

/// What kind of identifier a bound device is known by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeviceKind {
    /// A MAC address (MAG boxes; players that show one).
    Mac,
    /// A set-top box known by its serial number (or firmware device id).
    Stb,
    /// The device id an Xtream player sends.
    Player,
}

impl DeviceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceKind::Mac => "mac",
            DeviceKind::Stb => "stb",
            DeviceKind::Player => "player",
        }
    }

    pub fn parse(s: &str) -> Option<DeviceKind> {
        match s.trim().to_ascii_lowercase().as_str() {
            "mac" => Some(DeviceKind::Mac),
            "stb" => Some(DeviceKind::Stb),
            "player" => Some(DeviceKind::Player),
            _ => None,
        }
    }
}

impl fmt::Display for DeviceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a new device gets a place on a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Enrolment {
    /// A new device binds itself on first contact while a place is free.
    #[default]
    Auto,
    /// Only the operator registers devices.
    Operator,
}

impl Enrolment {
    pub fn as_str(self) -> &'static str {
        match self {
            Enrolment::Auto => "auto",
            Enrolment::Operator => "operator",
        }
    }

    pub fn parse(s: &str) -> Option<Enrolment> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Some(Enrolment::Auto),
            "operator" | "manual" => Some(Enrolment::Operator),
            _ => None,
        }
    }
}

impl fmt::Display for Enrolment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `00:1A:79:AA:BB:CC` from a MAC in any case, with `:`, `-`, `.` or no
/// separators, URL-encoded or not (`00%3A1A%3A79...`, as the stock MAG
/// portal script sends it). `None` when it is not 12 hex digits.
pub fn normalize_mac(raw: &str) -> Option<String> {
    let mut hex = String::with_capacity(12);
    let bytes = raw.trim().as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if bytes.get(i + 1) == Some(&b'3')
                && matches!(bytes.get(i + 2), Some(b'A') | Some(b'a')) =>
            {
                i += 3;
                continue;
            }
            b':' | b'-' | b'.' | b' ' => {}
            c if c.is_ascii_hexdigit() => hex.push(c.to_ascii_uppercase() as char),
            _ => return None,
        }
        i += 1;
    }
    if hex.len() != 12 {
        return None;
    }
    let mut out = String::with_capacity(17);
    for (n, c) in hex.chars().enumerate() {
        if n > 0 && n % 2 == 0 {
            out.push(':');
        }
        out.push(c);
    }
    Some(out)
}

/// A serial, device id or label as given, trimmed; refused when empty,
/// too long or holding control characters.
pub fn clean_identifier(what: &str, raw: &str) -> Result<Box<str>, String> {
    let v = raw.trim();
    if v.is_empty() {
        return Err(format!("the {what} is empty"));
    }
    if v.chars().count() > MAX_IDENTIFIER_LEN {
        return Err(format!(
            "the {what} is longer than {MAX_IDENTIFIER_LEN} characters"
        ));
    }
    if v.chars().any(char::is_control) {
        return Err(format!("the {what} holds control characters"));
    }
    Ok(v.into())
}

/// An address range (`192.0.2.0/24`, `2001:db8::/32`; a bare address is a
/// range of one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpRange {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl IpRange {
    /// Parses `ADDR[/PREFIX]`; the host bits are cleared.
    pub fn parse(s: &str) -> Result<IpRange, String> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("{s:?} is not an address range (e.g. 192.0.2.0/24)"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s:?}: the prefix length must be 0 to {max}"))?,
        };
        Ok(IpRange {
            addr: mask(addr, prefix),
            prefix,
        })
    }

    /// Parses a comma-separated list (`""` is the empty list).
    pub fn parse_list(s: &str) -> Result<Vec<IpRange>, String> {
        s.split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(IpRange::parse)
            .collect()
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match (self.addr, ip) {
            (IpAddr::V4(_), IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => return false,
            },
            (_, ip) => ip,
        };
        ip.is_ipv4() == self.addr.is_ipv4() && mask(ip, self.prefix) == self.addr
    }
}

fn mask(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let m = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(prefix))
            };
            IpAddr::V4((bits & m).into())
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let m = if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(prefix))
            };
            IpAddr::V6((bits & m).into())
        }
    }
}

impl fmt::Display for IpRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// The identity a caller presented, normalised.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DevicePresented {
    pub kind: DeviceKind,
    /// The MAC (normalised), the serial (`Stb`) or the player's device id.
    pub id: Box<str>,
    /// A MAG box's serial number (`sn`), when sent.
    pub serial: Option<Box<str>>,
    /// A MAG box's `device_id` / `device_id2`, when sent.
    pub device_id: Option<Box<str>>,
    pub device_id2: Option<Box<str>>,
}

impl DevicePresented {
    /// A MAC; `None` when it is not one.
    pub fn mac(raw: &str) -> Option<DevicePresented> {
        normalize_mac(raw).map(|mac| DevicePresented {
            kind: DeviceKind::Mac,
            id: mac.into(),
            serial: None,
            device_id: None,
            device_id2: None,
        })
    }

    /// A MAG box: its MAC and whichever of its serial and device ids it sent
    /// (empty values count as not sent).
    pub fn mag(
        mac: &str,
        serial: Option<&str>,
        device_id: Option<&str>,
        device_id2: Option<&str>,
    ) -> Option<DevicePresented> {
        let keep = |v: Option<&str>| v.and_then(|v| clean_identifier("id", v).ok());
        DevicePresented::mac(mac).map(|d| DevicePresented {
            serial: keep(serial),
            device_id: keep(device_id),
            device_id2: keep(device_id2),
            ..d
        })
    }

    /// An Xtream player's device id. One that is a MAC counts as the MAC,
    /// so an operator can register what the app shows either way. `None`
    /// for an empty or unusable value.
    pub fn player(raw: &str) -> Option<DevicePresented> {
        if let Some(d) = DevicePresented::mac(raw) {
            return Some(d);
        }
        clean_identifier("device id", raw)
            .ok()
            .map(|id| DevicePresented {
                kind: DeviceKind::Player,
                id,
                serial: None,
                device_id: None,
                device_id2: None,
            })
    }

    /// For logs and the audit: `mac 00:1A:79:AA:BB:CC`.
    pub fn describe(&self) -> String {
        format!("{} {}", self.kind, self.id)
    }
}

/// A device bound to a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundDevice {
    pub id: DeviceId,
    pub kind: DeviceKind,
    /// Normalised (a MAC is `00:1A:79:AA:BB:CC`).
    pub identifier: Box<str>,
    pub label: Box<str>,
    /// Pinned on first contact (MAG boxes): a later different value is refused.
    pub serial: Option<Box<str>>,
    pub device_id: Option<Box<str>>,
    pub device_id2: Option<Box<str>>,
    pub first_seen: UnixTime,
    /// 0: never seen (registered by the operator, not yet used).
    pub last_seen: UnixTime,
    pub last_ip: Option<IpAddr>,
}

impl BoundDevice {
    /// True when `p` is this device (pins aside).
    pub fn is(&self, p: &DevicePresented) -> bool {
        match self.kind {
            DeviceKind::Mac | DeviceKind::Player => p.kind == self.kind && p.id == self.identifier,
            DeviceKind::Stb => {
                p.serial.as_deref() == Some(&*self.identifier)
                    || (p.kind == DeviceKind::Stb && p.id == self.identifier)
                    || p.device_id.as_deref() == Some(&*self.identifier)
            }
        }
    }

    /// True when a pinned serial or device id differs from what `p` sent
    /// (a value not sent is not a mismatch).
    fn pins_differ(&self, p: &DevicePresented) -> bool {
        let differs = |pinned: &Option<Box<str>>, sent: &Option<Box<str>>| matches!((pinned, sent), (Some(a), Some(b)) if a != b);
        self.kind == DeviceKind::Mac
            && (differs(&self.serial, &p.serial)
                || differs(&self.device_id, &p.device_id)
                || differs(&self.device_id2, &p.device_id2))
    }

    /// True when `p` sent a serial or device id this device has not pinned yet.
    fn pins_missing(&self, p: &DevicePresented) -> bool {
        let missing =
            |pinned: &Option<Box<str>>, sent: &Option<Box<str>>| pinned.is_none() && sent.is_some();
        self.kind == DeviceKind::Mac
            && (missing(&self.serial, &p.serial)
                || missing(&self.device_id, &p.device_id)
                || missing(&self.device_id2, &p.device_id2))
    }

    /// The last 4 characters of the identifier, a MAC's separators left
    /// out (`BBCC` for `00:1A:79:AA:BB:CC`): enough for a subscriber to
    /// recognise their device, too little to impersonate it.
    pub fn tail(&self) -> String {
        let plain: Vec<char> = self
            .identifier
            .chars()
            .filter(|c| self.kind != DeviceKind::Mac || *c != ':')
            .collect();
        plain[plain.len().saturating_sub(4)..].iter().collect()
    }

    /// For the audit log and the CLI: `mac 00:1A:79:AA:BB:CC "Living room"`.
    pub fn describe(&self) -> String {
        if self.label.is_empty() {
            format!("{} {}", self.kind, self.identifier)
        } else {
            format!("{} {} {:?}", self.kind, self.identifier, &*self.label)
        }
    }
}

/// A line's device rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DevicePolicy {
    /// How many devices may be bound; 0: binding off (the default).
    pub limit: u32,
    pub enrolment: Enrolment,
    /// Addresses the line may be used from; empty: anywhere. Applies to
    /// requests that are not a bound device (players that send no identity).
    pub ip_lock: Vec<IpRange>,
}

impl DevicePolicy {
    /// True when anything is checked at all.
    pub fn is_on(&self) -> bool {
        self.limit > 0 || !self.ip_lock.is_empty()
    }
}

/// A line's binding: its rules and its bound devices.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Binding {
    pub policy: DevicePolicy,
    /// In binding order.
    pub devices: Vec<BoundDevice>,
    /// When the subscriber last reset the binding themselves.
    pub last_self_reset: Option<UnixTime>,
}

/// A device to bind (by the operator, or on first contact).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDevice {
    pub kind: DeviceKind,
    pub identifier: Box<str>,
    pub label: Box<str>,
    pub serial: Option<Box<str>>,
    pub device_id: Option<Box<str>>,
    pub device_id2: Option<Box<str>>,
    pub first_seen: UnixTime,
    /// 0: not seen yet.
    pub last_seen: UnixTime,
    pub last_ip: Option<IpAddr>,
}

impl NewDevice {
    /// The device `p` is, first seen now from `ip`.
    pub fn seen(p: &DevicePresented, ip: IpAddr, now: UnixTime) -> NewDevice {
        NewDevice {
            kind: p.kind,
            identifier: p.id.clone(),
            label: "".into(),
            serial: p.serial.clone(),
            device_id: p.device_id.clone(),
            device_id2: p.device_id2.clone(),
            first_seen: now,
            last_seen: now,
            last_ip: Some(ip),
        }
    }

    pub fn describe(&self) -> String {
        if self.label.is_empty() {
            format!("{} {}", self.kind, self.identifier)
        } else {
            format!("{} {} {:?}", self.kind, self.identifier, &*self.label)
        }
    }
}

/// Why a device was not let in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotRegisteredWhy {
    /// The line's places are taken (or only the operator registers devices)
    /// and this device is not one of them.
    OtherDevice,
    /// The player sent no device identity, and is not at an address the
    /// line is locked to or a bound device was last seen at.
    NoIdentity,
    /// The MAC is bound, but the box's serial or device id differs from the
    /// one pinned on first contact.
    IdentifiersDiffer,
    /// The line is locked to address ranges and the caller is outside them.
    OutsideIpLock,
}

/// A registered device as a refusal may show it: kind, label, the last 4
/// characters of its identifier and when it was last seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredSummary {
    pub kind: DeviceKind,
    pub label: Box<str>,
    pub tail: Box<str>,
    /// 0: never seen.
    pub last_seen: UnixTime,
}

/// What a `device_not_registered` refusal says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceHint {
    pub why: NotRegisteredWhy,
    pub limit: u32,
    pub registered: Vec<RegisteredSummary>,
}

impl DeviceHint {
    /// The hint for a refusal on a line with this binding.
    pub fn for_binding(why: NotRegisteredWhy, binding: &Binding) -> DeviceHint {
        DeviceHint {
            why,
            limit: binding.policy.limit,
            registered: binding
                .devices
                .iter()
                .map(|d| RegisteredSummary {
                    kind: d.kind,
                    label: d.label.clone(),
                    tail: d.tail().into(),
                    last_seen: d.last_seen,
                })
                .collect(),
        }
    }

    /// The refusal in plain words; `date` formats a time.
    pub fn message(&self, date: impl Fn(UnixTime) -> String) -> String {
        let registered: Vec<String> = self
            .registered
            .iter()
            .map(|r| {
                let name = if r.label.is_empty() {
                    format!("a {} device", r.kind)
                } else {
                    format!("{:?}", &*r.label)
                };
                let seen = if r.last_seen > 0 {
                    format!("last seen {}", date(r.last_seen))
                } else {
                    "not seen yet".to_string()
                };
                format!("{name} ({} ending {}, {seen})", r.kind, r.tail)
            })
            .collect();
        let bound = if registered.is_empty() {
            "no device is registered yet".to_string()
        } else {
            format!(
                "registered: {} of {}: {}",
                registered.len(),
                self.limit.max(registered.len() as u32),
                registered.join(" and ")
            )
        };
        let what = match self.why {
            NotRegisteredWhy::OtherDevice => "this device is not registered for this subscription",
            NotRegisteredWhy::NoIdentity => {
                "this subscription plays only on registered devices and this player sent no device id"
            }
            NotRegisteredWhy::IdentifiersDiffer => {
                "this box's serial number or device id differs from the registered box with this MAC"
            }
            NotRegisteredWhy::OutsideIpLock => {
                "this subscription is locked to another network (internet provider)"
            }
        };
        format!(
            "Device not registered: {what}; {bound}. Reset the binding (once per cooldown) or ask your provider to register this device."
        )
    }
}

/// What the gate does after an allowed request, besides serving it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceStep {
    /// Nothing to write.
    Nothing,
    /// A bound device was seen: record when, from where, and any serial or
    /// device id it sent for the first time.
    Touch(DeviceId),
    /// Bind the presented device (a place is free and binding is automatic).
    Bind,
}

/// The device rule, once the credentials are proven. Pure.
///
/// `binding` is the line's (`None`: no rules, binding off); `presented`
/// what the caller sent (`None`: nothing). In order: binding off lets
/// everything in; a bound device is let in (unless its pinned serial or
/// device ids differ); a new device binds itself while a place is free and
/// enrolment is automatic; a caller that sent nothing is let in from the
/// address a bound device was last seen at (within [`SAME_ADDRESS_SECS`]) or
/// from inside the IP lock; everything else is refused with a hint.
pub fn check(
    binding: Option<&Binding>,
    presented: Option<&DevicePresented>,
    ip: IpAddr,
    now: UnixTime,
) -> Result<DeviceStep, DeviceHint> {
    let Some(binding) = binding.filter(|b| b.policy.is_on()) else {
        return Ok(DeviceStep::Nothing);
    };
    let policy = &binding.policy;
    let in_lock = policy.ip_lock.iter().any(|r| r.contains(ip));
    if policy.limit > 0 {
        if let Some(p) = presented {
            if let Some(d) = binding.devices.iter().find(|d| d.is(p)) {
                if d.pins_differ(p) {
                    return Err(DeviceHint::for_binding(
                        NotRegisteredWhy::IdentifiersDiffer,
                        binding,
                    ));
                }
                let due = now - d.last_seen >= TOUCH_EVERY_SECS
                    || d.last_ip != Some(ip)
                    || d.pins_missing(p);
                return Ok(if due {
                    DeviceStep::Touch(d.id)
                } else {
                    DeviceStep::Nothing
                });
            }
            if policy.enrolment == Enrolment::Auto && binding.devices.len() < policy.limit as usize
            {
                return Ok(DeviceStep::Bind);
            }
        } else if binding
            .devices
            .iter()
            .any(|d| d.last_ip == Some(ip) && now - d.last_seen <= SAME_ADDRESS_SECS)
        {
            return Ok(DeviceStep::Nothing);
        }
    }
    if in_lock {
        return Ok(DeviceStep::Nothing);
    }
    let why = if !policy.ip_lock.is_empty() && (policy.limit == 0 || presented.is_none()) {
        NotRegisteredWhy::OutsideIpLock
    } else if presented.is_none() {
        NotRegisteredWhy::NoIdentity
    } else {
        NotRegisteredWhy::OtherDevice
    };
    Err(DeviceHint::for_binding(why, binding))
}

/// Who changed a binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Actor {
    Operator,
    Subscriber,
    /// tvgate itself (an automatic bind, a refusal).
    System,
}

impl Actor {
    pub fn as_str(self) -> &'static str {
        match self {
            Actor::Operator => "operator",
            Actor::Subscriber => "subscriber",
            Actor::System => "system",
        }
    }

    pub fn parse(s: &str) -> Option<Actor> {
        match s {
            "operator" => Some(Actor::Operator),
            "subscriber" => Some(Actor::Subscriber),
            "system" => Some(Actor::System),
            _ => None,
        }
    }
}

/// What happened to a binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditAction {
    /// A device bound itself on first contact.
    Bind,
    /// Every bound device was removed (the next one binds on its next contact).
    Reset,
    /// A device was refused (`device_not_registered`), or a reset was
    /// refused within the cooldown.
    Refuse,
    /// The operator registered a device.
    Add,
    /// The operator removed a device.
    Remove,
    /// The operator changed the limit, the enrolment or the IP lock.
    Policy,
}

impl AuditAction {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Bind => "bind",
            AuditAction::Reset => "reset",
            AuditAction::Refuse => "refuse",
            AuditAction::Add => "add",
            AuditAction::Remove => "remove",
            AuditAction::Policy => "policy",
        }
    }

    pub fn parse(s: &str) -> Option<AuditAction> {
        match s {
            "bind" => Some(AuditAction::Bind),
            "reset" => Some(AuditAction::Reset),
            "refuse" => Some(AuditAction::Refuse),
            "add" => Some(AuditAction::Add),
            "remove" => Some(AuditAction::Remove),
            "policy" => Some(AuditAction::Policy),
            _ => None,
        }
    }
}

/// One entry of the device audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceAudit {
    pub line: crate::ids::LineId,
    /// The line's username when it happened (kept if the line is deleted).
    pub username: String,
    pub at: UnixTime,
    pub actor: Actor,
    pub action: AuditAction,
    pub ip: Option<IpAddr>,
    /// The device before (removed, refused in favour of, reset).
    pub old_device: Option<String>,
    /// The device after (bound, added, or the one refused).
    pub new_device: Option<String>,
    /// Anything else worth saying (the refusal's reason, the new policy).
    pub detail: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: UnixTime = 1_800_000_000;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("literal ip")
    }

    #[test]
    fn macs_are_normalised() {
        for raw in [
            "00:1a:79:aa:bb:cc",
            "00-1A-79-AA-BB-CC",
            "001A79AABBCC",
            "001a.79aa.bbcc",
            " 00:1A:79:AA:BB:CC ",
            "00%3A1A%3A79%3AAA%3ABB%3ACC",
            "00%3a1a%3a79%3aaa%3abb%3acc",
        ] {
            assert_eq!(
                normalize_mac(raw).as_deref(),
                Some("00:1A:79:AA:BB:CC"),
                "{raw}"
            );
        }
        for bad in [
            "",
            "00:1A:79:AA:BB",
            "00:1A:79:AA:BB:CC:DD",
            "00:1A:79:AA:BB:CG",
            "hello",
            "00/1A/79/AA/BB/CC",
        ] {
            assert_eq!(normalize_mac(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_player_id_that_is_a_mac_counts_as_the_mac() {
        let p = DevicePresented::player("00-1a-79-aa-bb-cc").expect("id");
        assert_eq!(p.kind, DeviceKind::Mac);
        assert_eq!(&*p.id, "00:1A:79:AA:BB:CC");
        let p = DevicePresented::player(" phone-42 ").expect("id");
        assert_eq!((p.kind, &*p.id), (DeviceKind::Player, "phone-42"));
        assert!(DevicePresented::player("  ").is_none());
        assert!(DevicePresented::player(&"x".repeat(200)).is_none());
    }

    #[test]
    fn ip_ranges() {
        let r = IpRange::parse("192.0.2.77/24").expect("range");
        assert_eq!(r.to_string(), "192.0.2.0/24");
        assert!(r.contains(ip("192.0.2.1")));
        assert!(r.contains(ip("::ffff:192.0.2.9")));
        assert!(!r.contains(ip("192.0.3.1")));
        assert!(!r.contains(ip("2001:db8::1")));
        let one = IpRange::parse("198.51.100.7").expect("address");
        assert_eq!(one.prefix, 32);
        assert!(one.contains(ip("198.51.100.7")) && !one.contains(ip("198.51.100.8")));
        let v6 = IpRange::parse("2001:db8::/32").expect("v6");
        assert!(v6.contains(ip("2001:db8:1::5")));
        assert!(IpRange::parse("0.0.0.0/0")
            .expect("all")
            .contains(ip("8.8.8.8")));
        assert!(IpRange::parse("192.0.2.0/33").is_err());
        assert!(IpRange::parse("example.com").is_err());
        assert_eq!(
            IpRange::parse_list(" 10.0.0.0/8, ,192.0.2.1 ").map(|l| l.len()),
            Ok(2)
        );
    }

    fn device(id: i64, kind: DeviceKind, identifier: &str, last_ip: &str) -> BoundDevice {
        BoundDevice {
            id: DeviceId(id),
            kind,
            identifier: identifier.into(),
            label: "Living room".into(),
            serial: None,
            device_id: None,
            device_id2: None,
            first_seen: NOW - 1000,
            last_seen: NOW - 1000,
            last_ip: Some(ip(last_ip)),
        }
    }

    fn binding(limit: u32, devices: Vec<BoundDevice>) -> Binding {
        Binding {
            policy: DevicePolicy {
                limit,
                enrolment: Enrolment::Auto,
                ip_lock: vec![],
            },
            devices,
            last_self_reset: None,
        }
    }

    #[test]
    fn the_device_rule() {
        let tv = device(1, DeviceKind::Mac, "00:1A:79:AA:BB:CC", "192.0.2.1");
        let home = ip("192.0.2.1");
        let away = ip("203.0.113.9");
        let tv_p = DevicePresented::mac("001A79AABBCC").expect("mac");
        let phone = DevicePresented::player("phone-1").expect("id");
        let one = binding(1, vec![tv.clone()]);
        let empty = binding(1, vec![]);
        let off = binding(0, vec![tv.clone()]);
        let why = |r: Result<DeviceStep, DeviceHint>| r.map_err(|h| h.why);
        // Binding off: anything goes, nothing is written.
        assert_eq!(
            why(check(None, Some(&phone), away, NOW)),
            Ok(DeviceStep::Nothing)
        );
        assert_eq!(
            why(check(Some(&off), Some(&phone), away, NOW)),
            Ok(DeviceStep::Nothing)
        );
        // The bound device, from anywhere.
        assert_eq!(
            why(check(Some(&one), Some(&tv_p), away, NOW)),
            Ok(DeviceStep::Touch(DeviceId(1)))
        );
        // A free place binds the first device.
        assert_eq!(
            why(check(Some(&empty), Some(&phone), away, NOW)),
            Ok(DeviceStep::Bind)
        );
        // ...unless only the operator registers devices.
        let mut manual = empty.clone();
        manual.policy.enrolment = Enrolment::Operator;
        assert_eq!(
            why(check(Some(&manual), Some(&phone), away, NOW)),
            Err(NotRegisteredWhy::OtherDevice)
        );
        // A second device on a full line.
        assert_eq!(
            why(check(Some(&one), Some(&phone), away, NOW)),
            Err(NotRegisteredWhy::OtherDevice)
        );
        // Nothing presented: the bound device's address is let in, others not.
        assert_eq!(
            why(check(Some(&one), None, home, NOW)),
            Ok(DeviceStep::Nothing)
        );
        assert_eq!(
            why(check(Some(&one), None, away, NOW)),
            Err(NotRegisteredWhy::NoIdentity)
        );
        assert_eq!(
            why(check(
                Some(&one),
                None,
                home,
                NOW + SAME_ADDRESS_SECS + 2000
            )),
            Err(NotRegisteredWhy::NoIdentity),
            "only while recent"
        );
        // An IP lock lets in callers inside it that are not a bound device.
        let mut locked = one.clone();
        locked.policy.ip_lock = vec![IpRange::parse("203.0.113.0/24").expect("range")];
        assert_eq!(
            why(check(Some(&locked), None, away, NOW)),
            Ok(DeviceStep::Nothing)
        );
        assert_eq!(
            why(check(Some(&locked), None, ip("198.51.100.1"), NOW)),
            Err(NotRegisteredWhy::OutsideIpLock)
        );
        let lock_only = Binding {
            policy: DevicePolicy {
                limit: 0,
                ..locked.policy.clone()
            },
            ..Binding::default()
        };
        assert_eq!(
            why(check(
                Some(&lock_only),
                Some(&phone),
                ip("198.51.100.1"),
                NOW
            )),
            Err(NotRegisteredWhy::OutsideIpLock)
        );
        assert_eq!(
            why(check(Some(&lock_only), Some(&phone), away, NOW)),
            Ok(DeviceStep::Nothing)
        );
    }

    #[test]
    fn pinned_box_identifiers() {
        let mut tv = device(1, DeviceKind::Mac, "00:1A:79:AA:BB:CC", "192.0.2.1");
        tv.serial = Some("SN1".into());
        tv.last_seen = NOW;
        let b = binding(1, vec![tv]);
        let at = ip("192.0.2.1");
        let same = DevicePresented::mag("00:1A:79:AA:BB:CC", Some("SN1"), None, None).expect("mac");
        let no_sn = DevicePresented::mag("00:1A:79:AA:BB:CC", Some(""), None, None).expect("mac");
        let other =
            DevicePresented::mag("00:1A:79:AA:BB:CC", Some("SN2"), None, None).expect("mac");
        let new_id =
            DevicePresented::mag("00:1A:79:AA:BB:CC", Some("SN1"), Some("D1"), None).expect("mac");
        assert_eq!(
            check(Some(&b), Some(&same), at, NOW),
            Ok(DeviceStep::Nothing),
            "seen just now"
        );
        assert_eq!(
            check(Some(&b), Some(&no_sn), at, NOW),
            Ok(DeviceStep::Nothing),
            "not sent is no mismatch"
        );
        assert_eq!(
            check(Some(&b), Some(&new_id), at, NOW),
            Ok(DeviceStep::Touch(DeviceId(1))),
            "pin the new id"
        );
        assert_eq!(
            check(Some(&b), Some(&other), at, NOW).map_err(|h| h.why),
            Err(NotRegisteredWhy::IdentifiersDiffer)
        );
    }

    #[test]
    fn the_hint_shows_only_the_tail() {
        let tv = device(1, DeviceKind::Mac, "00:1A:79:AA:BB:CC", "192.0.2.1");
        let b = binding(1, vec![tv]);
        let phone = DevicePresented::player("phone-1").expect("id");
        let hint = check(Some(&b), Some(&phone), ip("203.0.113.9"), NOW).expect_err("refused");
        let text = hint.message(|t| format!("T{t}"));
        assert!(text.contains("mac ending BBCC"), "{text}");
        assert!(text.contains("\"Living room\""), "{text}");
        assert!(
            text.contains(&format!("last seen T{}", NOW - 1000)),
            "{text}"
        );
        assert!(!text.contains("AA:BB") && !text.contains("00:1A"), "{text}");
        assert!(text.starts_with("Device not registered"), "{text}");
    }
}
