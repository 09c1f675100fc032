//! The gate's device-binding operations (docs/devices.md): authorizing a
//! request with the line's binding, binding a device on first contact,
//! finding a line by MAC for the MAG portal, the operator's edits, the
//! subscriber's own reset with its cooldown, and the audit log.
//!
//! Bindings live in memory beside the directory (only lines that have one),
//! are read without a database round trip, and are reloaded with the lines
//! when the store's change stamp moves. Every change is written through the
//! store together with its audit entry; a sighting of a bound device is
//! written at most every [`device::TOUCH_EVERY_SECS`] and never bumps the stamp.

use super::{Gate, GateError};
use crate::access::device::{
    self, Actor, AuditAction, Binding, BoundDevice, DeviceAudit, DeviceHint, DeviceKind,
    DevicePolicy, DevicePresented, DeviceStep, Enrolment, IpRange, NewDevice, NotRegisteredWhy,
};
use crate::access::{verdict, AccessRequest, Decision, Denial, DeviceAsk, Line, Proof};
use crate::ids::{DeviceId, LineId};
use crate::ports::StoreError;
use crate::UnixTime;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, RwLock};

/// A refusal of the same device on the same line is written to the audit
/// log at most this often (a player retries every few seconds).
const REFUSAL_AUDIT_EVERY_SECS: i64 = 600;

/// Most refusals remembered for that throttle; the memory is cleared when full.
const MAX_REMEMBERED_REFUSALS: usize = 10_000;

/// The newest audit entries shown when no limit is given.
pub const DEFAULT_AUDIT_LIMIT: u32 = 200;

#[derive(Debug, Default)]
struct Index {
    by_line: HashMap<LineId, Arc<Binding>>,
    /// Lines by bound MAC (the MAG portal's lookup).
    by_mac: HashMap<Box<str>, LineId>,
    /// Counts the changes made through the gate (`update`, `forget`).
    seq: u64,
    /// The lines whose binding they touched, with the count at the last
    /// one (see `Directory::load_since`, which this mirrors).
    changed: HashMap<LineId, u64>,
}

impl Index {
    fn put(&mut self, line: LineId, binding: Binding) {
        self.forget(line);
        for d in binding.devices.iter().filter(|d| d.kind == DeviceKind::Mac) {
            // Lowest line id wins if an operator bound one MAC twice.
            let entry = self.by_mac.entry(d.identifier.clone()).or_insert(line);
            if line < *entry {
                *entry = line;
            }
        }
        self.by_line.insert(line, Arc::new(binding));
    }

    /// Records a change made here to the line's binding.
    fn touch(&mut self, line: LineId) {
        self.seq += 1;
        self.changed.insert(line, self.seq);
    }

    fn forget(&mut self, line: LineId) {
        if let Some(old) = self.by_line.remove(&line) {
            for d in old.devices.iter().filter(|d| d.kind == DeviceKind::Mac) {
                if self.by_mac.get(&d.identifier) == Some(&line) {
                    self.by_mac.remove(&d.identifier);
                }
            }
        }
    }
}

/// The gate's device state. std locks, held only for a map operation.
#[derive(Debug, Default)]
pub(super) struct DeviceState {
    index: RwLock<Index>,
    /// Lines with a first-contact bind in flight, and the device being bound:
    /// a second new device meanwhile is refused, the same one let through.
    binding_now: Mutex<HashMap<LineId, DevicePresented>>,
    /// (line, device) → when its last refusal was audited.
    refusals: Mutex<HashMap<(LineId, Box<str>), UnixTime>>,
}

impl DeviceState {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Index> {
        self.index.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Index> {
        self.index.write().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn seq(&self) -> u64 {
        self.read().seq
    }

    /// Replaces the bindings with those read from the store after
    /// [`DeviceState::seq`] said `since`, except those changed here after
    /// that, which stay as they are here (as `Directory::load_since`).
    pub(super) fn load_since(&self, bindings: Vec<(LineId, Binding)>, since: u64) {
        let mut fresh = Index::default();
        for (line, binding) in bindings {
            fresh.put(line, binding);
        }
        let mut index = self.write();
        for (&line, _) in index.changed.iter().filter(|(_, &at)| at > since) {
            fresh.forget(line);
            if let Some(here) = index.by_line.get(&line) {
                fresh.put(line, (**here).clone());
            }
        }
        fresh.seq = index.seq;
        fresh.changed = std::mem::take(&mut index.changed);
        fresh.changed.retain(|_, at| *at > since);
        *index = fresh;
    }

    pub(super) fn forget(&self, line: LineId) {
        let mut index = self.write();
        index.touch(line);
        index.forget(line);
    }

    fn get(&self, line: LineId) -> Option<Arc<Binding>> {
        self.read().by_line.get(&line).cloned()
    }

    /// Applies `f` to a copy of the line's binding and swaps it in.
    fn update(&self, line: LineId, f: impl FnOnce(&mut Binding)) {
        let mut index = self.write();
        index.touch(line);
        let mut binding = index
            .by_line
            .get(&line)
            .map(|b| (**b).clone())
            .unwrap_or_default();
        f(&mut binding);
        index.put(line, binding);
    }

    fn mac_owner(&self, mac: &str) -> Option<LineId> {
        self.read().by_mac.get(mac).copied()
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, HashMap<LineId, DevicePresented>> {
        self.binding_now.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// True when this refusal should be audited now (throttled per device).
    fn refusal_due(&self, line: LineId, device: &str, now: UnixTime) -> bool {
        let mut seen = self.refusals.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() >= MAX_REMEMBERED_REFUSALS {
            seen.clear();
        }
        let key = (line, Box::<str>::from(device));
        match seen.get(&key) {
            Some(at) if now - at < REFUSAL_AUDIT_EVERY_SECS => false,
            _ => {
                seen.insert(key, now);
                true
            }
        }
    }
}

/// A first-contact bind in flight; dropping it (also when the request is
/// cancelled mid-write) lets the line's next new device try.
struct PendingBind<'a> {
    state: &'a DeviceState,
    line: LineId,
}

impl Drop for PendingBind<'_> {
    fn drop(&mut self) {
        self.state.pending().remove(&self.line);
    }
}

/// What [`Gate::check_device`] found, when the device may go on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceOutcome {
    /// The line has no binding (or the caller is let in by its IP lock or
    /// its address): nothing was recorded.
    Unchecked,
    /// A device bound to the line.
    Known(DeviceId),
    /// The device was bound to the line just now.
    Bound(DeviceId),
}

/// A change to a line's device rules; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DevicePolicyPatch {
    pub limit: Option<u32>,
    pub enrolment: Option<Enrolment>,
    /// `Some(vec![])` removes the lock.
    pub ip_lock: Option<Vec<IpRange>>,
}

impl DevicePolicyPatch {
    pub fn is_empty(&self) -> bool {
        self.limit.is_none() && self.enrolment.is_none() && self.ip_lock.is_none()
    }
}

/// What a subscriber's own reset did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelfReset {
    /// How many devices were unbound.
    pub removed: u64,
    /// When the next self-reset is allowed.
    pub next_allowed_at: UnixTime,
}

fn policy_text(p: &DevicePolicy) -> String {
    let lock = if p.ip_lock.is_empty() {
        "none".to_string()
    } else {
        p.ip_lock
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",")
    };
    format!(
        "limit {}, enrolment {}, ip lock {lock}",
        p.limit, p.enrolment
    )
}

impl Gate {
    /// A line's device binding (`None`: the line has none; binding off).
    pub fn binding(&self, line: LineId) -> Option<Arc<Binding>> {
        self.devices.get(line)
    }

    /// The line of a MAG box: the line a MAC (in any format) is bound to,
    /// or else a line whose username is that MAC (`001A79AABBCC` or
    /// `00-1A-79-AA-BB-CC`; usernames cannot hold `:`). `None` for an
    /// unknown MAC or one that is not a MAC. Answers from memory.
    pub fn line_by_mac(&self, mac: &str) -> Option<Arc<Line>> {
        let mac = device::normalize_mac(mac)?;
        if let Some(id) = self.devices.mac_owner(&mac) {
            if let Some(line) = self.directory.get(id) {
                return Some(line);
            }
        }
        let compact: String = mac.chars().filter(|c| *c != ':').collect();
        self.directory
            .find(&compact)
            .or_else(|| self.directory.find(&mac.replace(':', "-")))
    }

    /// Decides a request with the line's device binding and carries out
    /// the device step of an allowed one (binds a new device on first
    /// contact, records a bound one's sighting); a device refusal is
    /// written to the audit log. `presented` is what the caller sent
    /// (`None`: nothing). The face logs and answers the decision.
    pub async fn authorize(
        &self,
        proof: Proof<'_>,
        req: &AccessRequest<'_>,
        presented: Option<&DevicePresented>,
        now: UnixTime,
    ) -> Decision {
        let line = match proof {
            Proof::Proven(line) => line,
            _ => return verdict(proof, req, now).decision,
        };
        let binding = self.devices.get(line.id);
        let req = AccessRequest {
            device: DeviceAsk::Ask {
                presented,
                binding: binding.as_deref(),
            },
            ..req.clone()
        };
        let v = verdict(proof, &req, now);
        match (&v.decision, v.device) {
            (Decision::Allow, step) => {
                if let Err(denial) = self
                    .device_step(line, step, presented, req.client_ip, now)
                    .await
                {
                    return Decision::Deny(denial);
                }
            }
            (Decision::Deny(denial @ Denial::DeviceNotRegistered { .. }), _) => {
                self.audit_refusal(line, presented, denial, req.client_ip, now)
                    .await;
            }
            (Decision::Deny(_), _) => {}
        }
        v.decision
    }

    /// The device check alone, for a face that proved the line another way
    /// (the MAG portal: the MAC plus the box's identifiers): binds a new
    /// device while a place is free, records a known one, and audits a
    /// refusal. Status, expiry and package are not checked here; use
    /// [`Gate::authorize`] for the whole decision.
    pub async fn check_device(
        &self,
        line: &Line,
        presented: Option<&DevicePresented>,
        ip: IpAddr,
        now: UnixTime,
    ) -> Result<DeviceOutcome, Denial> {
        let binding = self.devices.get(line.id);
        match device::check(binding.as_deref(), presented, ip, now) {
            Ok(step) => self.device_step(line, step, presented, ip, now).await,
            Err(hint) => {
                let denial = Denial::DeviceNotRegistered {
                    hint: Box::new(hint),
                };
                self.audit_refusal(line, presented, &denial, ip, now).await;
                Err(denial)
            }
        }
    }

    async fn device_step(
        &self,
        line: &Line,
        step: DeviceStep,
        presented: Option<&DevicePresented>,
        ip: IpAddr,
        now: UnixTime,
    ) -> Result<DeviceOutcome, Denial> {
        match (step, presented) {
            (DeviceStep::Touch(id), Some(p)) => {
                self.touch(line.id, id, p, ip, now).await;
                Ok(DeviceOutcome::Known(id))
            }
            (DeviceStep::Bind, Some(p)) => self.bind(line, p, ip, now).await,
            (DeviceStep::Nothing, Some(p)) => Ok(self
                .binding(line.id)
                .and_then(|b| b.devices.iter().find(|d| d.is(p)).map(|d| d.id))
                .map_or(DeviceOutcome::Unchecked, DeviceOutcome::Known)),
            _ => Ok(DeviceOutcome::Unchecked),
        }
    }

    /// Records a bound device's sighting (memory now, the store at once;
    /// a failed write only loses a last-seen time).
    async fn touch(
        &self,
        line: LineId,
        id: DeviceId,
        p: &DevicePresented,
        ip: IpAddr,
        now: UnixTime,
    ) {
        let mut seen = None;
        self.devices.update(line, |b| {
            if let Some(d) = b.devices.iter_mut().find(|d| d.id == id) {
                d.last_seen = now;
                d.last_ip = Some(ip);
                if d.kind == DeviceKind::Mac {
                    d.serial = d.serial.take().or_else(|| p.serial.clone());
                    d.device_id = d.device_id.take().or_else(|| p.device_id.clone());
                    d.device_id2 = d.device_id2.take().or_else(|| p.device_id2.clone());
                }
                seen = Some(d.clone());
            }
        });
        if let Some(d) = seen {
            let _ = self.store.touch_device(d).await;
        }
    }

    /// Binds `p` to the line on its first contact. A second new device
    /// while one is being bound, or a MAC bound to another line, is refused.
    async fn bind(
        &self,
        line: &Line,
        p: &DevicePresented,
        ip: IpAddr,
        now: UnixTime,
    ) -> Result<DeviceOutcome, Denial> {
        let taken_elsewhere = p.kind == DeviceKind::Mac
            && self
                .devices
                .mac_owner(&p.id)
                .is_some_and(|owner| owner != line.id);
        let claim = {
            let mut pending = self.devices.pending();
            match pending.get(&line.id) {
                Some(other) if other == p => return Ok(DeviceOutcome::Unchecked),
                Some(_) => None,
                None if taken_elsewhere => None,
                None => {
                    pending.insert(line.id, p.clone());
                    Some(PendingBind {
                        state: &self.devices,
                        line: line.id,
                    })
                }
            }
        };
        // Re-read under the claim: a bind that finished since the decision
        // may have taken the last place, or bound this very device.
        let current = self.binding(line.id).unwrap_or_default();
        if let Some(d) = current.devices.iter().find(|d| d.is(p)) {
            return Ok(DeviceOutcome::Known(d.id));
        }
        let full = current.devices.len() >= current.policy.limit as usize;
        if claim.is_none() || full {
            let denial = Denial::DeviceNotRegistered {
                hint: Box::new(DeviceHint::for_binding(
                    NotRegisteredWhy::OtherDevice,
                    &current,
                )),
            };
            drop(claim);
            self.audit_refusal(line, Some(p), &denial, ip, now).await;
            return Err(denial);
        }
        let new = NewDevice::seen(p, ip, now);
        let audit = DeviceAudit {
            line: line.id,
            username: line.username.to_string(),
            at: now,
            actor: Actor::System,
            action: AuditAction::Bind,
            ip: Some(ip),
            old_device: None,
            new_device: Some(new.describe()),
            detail: "bound on first contact".into(),
        };
        let result = self.store.add_device(line.id, new, audit).await;
        let outcome = match result {
            Ok(device) => {
                let id = device.id;
                self.devices.update(line.id, |b| b.devices.push(device));
                Ok(DeviceOutcome::Bound(id))
            }
            // Bound meanwhile by another process: it is this line's device.
            Err(StoreError::Conflict { .. }) => Ok(DeviceOutcome::Unchecked),
            // The decision allowed it; the next contact tries to bind again.
            Err(_) => Ok(DeviceOutcome::Unchecked),
        };
        drop(claim);
        outcome
    }

    async fn audit_refusal(
        &self,
        line: &Line,
        presented: Option<&DevicePresented>,
        denial: &Denial,
        ip: IpAddr,
        now: UnixTime,
    ) {
        let shown = presented.map(DevicePresented::describe);
        let key = shown.clone().unwrap_or_else(|| format!("ip {ip}"));
        if !self.devices.refusal_due(line.id, &key, now) {
            return;
        }
        let why = match denial {
            Denial::DeviceNotRegistered { hint } => match hint.why {
                NotRegisteredWhy::OtherDevice => "not a registered device",
                NotRegisteredWhy::NoIdentity => "no device id sent",
                NotRegisteredWhy::IdentifiersDiffer => "serial or device id differs",
                NotRegisteredWhy::OutsideIpLock => "outside the IP lock",
            },
            _ => "refused",
        };
        let old = self.binding(line.id).and_then(|b| {
            let list: Vec<String> = b.devices.iter().map(BoundDevice::describe).collect();
            (!list.is_empty()).then(|| list.join(", "))
        });
        let _ = self
            .store
            .record_device_audit(DeviceAudit {
                line: line.id,
                username: line.username.to_string(),
                at: now,
                actor: Actor::System,
                action: AuditAction::Refuse,
                ip: Some(ip),
                old_device: old,
                new_device: shown,
                detail: format!("device_not_registered: {why}"),
            })
            .await;
    }

    // ------------------------------------------------------------------
    // The operator's edits
    // ------------------------------------------------------------------

    /// Changes a line's device limit, enrolment or IP lock.
    pub async fn set_device_policy(
        &self,
        username: &str,
        patch: DevicePolicyPatch,
        now: UnixTime,
    ) -> Result<Binding, GateError> {
        let line = self.line_named(username)?;
        let mut policy = self
            .binding(line.id)
            .map(|b| b.policy.clone())
            .unwrap_or_default();
        let before = policy_text(&policy);
        if let Some(limit) = patch.limit {
            policy.limit = limit;
        }
        if let Some(e) = patch.enrolment {
            policy.enrolment = e;
        }
        if let Some(lock) = patch.ip_lock {
            policy.ip_lock = lock;
        }
        let audit = DeviceAudit {
            line: line.id,
            username: line.username.to_string(),
            at: now,
            actor: Actor::Operator,
            action: AuditAction::Policy,
            ip: None,
            old_device: None,
            new_device: None,
            detail: format!("{before} -> {}", policy_text(&policy)),
        };
        self.store
            .set_device_policy(line.id, policy.clone(), audit)
            .await?;
        self.devices.update(line.id, |b| b.policy = policy);
        Ok((*self.binding(line.id).unwrap_or_default()).clone())
    }

    /// Registers a device for a line (the operator's `device add`). The
    /// identifier is normalised (a MAC in any format); a MAC bound to
    /// another line is refused, so the MAG portal finds one line per box.
    pub async fn add_device(
        &self,
        username: &str,
        kind: DeviceKind,
        identifier: &str,
        label: &str,
        now: UnixTime,
    ) -> Result<BoundDevice, GateError> {
        let line = self.line_named(username)?;
        let identifier: Box<str> = match kind {
            DeviceKind::Mac => device::normalize_mac(identifier)
                .ok_or_else(|| {
                    GateError::Invalid(format!(
                        "{identifier:?} is not a MAC address (12 hex digits, e.g. 00:1A:79:AA:BB:CC)"
                    ))
                })?
                .into(),
            _ => device::clean_identifier(kind.as_str(), identifier).map_err(GateError::Invalid)?,
        };
        let label: Box<str> = if label.trim().is_empty() {
            "".into()
        } else {
            device::clean_identifier("label", label).map_err(GateError::Invalid)?
        };
        if kind == DeviceKind::Mac {
            if let Some(owner) = self
                .devices
                .mac_owner(&identifier)
                .filter(|o| *o != line.id)
            {
                let name = self
                    .directory
                    .get(owner)
                    .map_or_else(|| owner.to_string(), |a| a.username.to_string());
                return Err(GateError::Invalid(format!(
                    "MAC {identifier} is already bound to line {name}; remove it there first"
                )));
            }
        }
        let new = NewDevice {
            kind,
            identifier,
            label,
            serial: None,
            device_id: None,
            device_id2: None,
            first_seen: now,
            last_seen: 0,
            last_ip: None,
        };
        let audit = DeviceAudit {
            line: line.id,
            username: line.username.to_string(),
            at: now,
            actor: Actor::Operator,
            action: AuditAction::Add,
            ip: None,
            old_device: None,
            new_device: Some(new.describe()),
            detail: String::new(),
        };
        let device = self.store.add_device(line.id, new, audit).await?;
        let added = device.clone();
        self.devices.update(line.id, |b| b.devices.push(added));
        Ok(device)
    }

    /// Removes one device from a line.
    pub async fn remove_device(
        &self,
        username: &str,
        id: DeviceId,
        now: UnixTime,
    ) -> Result<BoundDevice, GateError> {
        let line = self.line_named(username)?;
        let device = self
            .binding(line.id)
            .and_then(|b| b.devices.iter().find(|d| d.id == id).cloned())
            .ok_or_else(|| {
                GateError::Invalid(format!(
                    "line {} has no device {id} (see `tvgate device list {}`)",
                    line.username, line.username
                ))
            })?;
        let audit = DeviceAudit {
            line: line.id,
            username: line.username.to_string(),
            at: now,
            actor: Actor::Operator,
            action: AuditAction::Remove,
            ip: None,
            old_device: Some(device.describe()),
            new_device: None,
            detail: String::new(),
        };
        self.store
            .remove_devices(line.id, Some(id), None, audit)
            .await?;
        self.devices
            .update(line.id, |b| b.devices.retain(|d| d.id != id));
        Ok(device)
    }

    /// Unbinds every device of a line, as the operator: the next device
    /// binds on its next contact (with automatic enrolment). No cooldown.
    pub async fn reset_devices(&self, username: &str, now: UnixTime) -> Result<u64, GateError> {
        let line = self.line_named(username)?;
        self.reset(&line, Actor::Operator, None, now).await
    }

    async fn reset(
        &self,
        line: &Line,
        actor: Actor,
        ip: Option<IpAddr>,
        now: UnixTime,
    ) -> Result<u64, GateError> {
        let old = self.binding(line.id).and_then(|b| {
            let list: Vec<String> = b.devices.iter().map(BoundDevice::describe).collect();
            (!list.is_empty()).then(|| list.join(", "))
        });
        let self_reset = (actor == Actor::Subscriber).then_some(now);
        let audit = DeviceAudit {
            line: line.id,
            username: line.username.to_string(),
            at: now,
            actor,
            action: AuditAction::Reset,
            ip,
            old_device: old,
            new_device: None,
            detail: "the next device binds on its next contact".into(),
        };
        let removed = self
            .store
            .remove_devices(line.id, None, self_reset, audit)
            .await?;
        self.devices.update(line.id, |b| {
            b.devices.clear();
            if self_reset.is_some() {
                b.last_self_reset = self_reset;
            }
        });
        Ok(removed)
    }

    /// The subscriber resets their own binding (the customer portal calls
    /// this once the subscriber has logged in): every bound device is
    /// unbound and the next device binds on its next contact. At most once
    /// per `device_reset_cooldown_secs`; within it the answer is
    /// [`GateError::ResetTooSoon`] with the time left, and the refusal is
    /// audited. Lines whose devices only the operator registers cannot be
    /// reset this way.
    pub async fn reset_devices_by_subscriber(
        &self,
        line: LineId,
        ip: Option<IpAddr>,
        now: UnixTime,
    ) -> Result<SelfReset, GateError> {
        let line = self
            .directory
            .get(line)
            .ok_or_else(|| GateError::NoSuchLine(line.to_string()))?;
        let cooldown = self.settings.device_reset_cooldown_secs.max(0);
        let binding = self.binding(line.id).unwrap_or_default();
        if binding.policy.limit == 0 {
            return Err(GateError::Invalid(
                "this subscription is not bound to a device".into(),
            ));
        }
        if binding.policy.enrolment == Enrolment::Operator {
            return Err(GateError::Invalid(
                "the provider registers this subscription's devices: ask them to move it".into(),
            ));
        }
        if let Some(last) = binding.last_self_reset {
            let next = last.saturating_add(cooldown);
            if now < next {
                let _ = self
                    .store
                    .record_device_audit(DeviceAudit {
                        line: line.id,
                        username: line.username.to_string(),
                        at: now,
                        actor: Actor::Subscriber,
                        action: AuditAction::Refuse,
                        ip,
                        old_device: None,
                        new_device: None,
                        detail: format!("reset within the cooldown; {} s left", next - now),
                    })
                    .await;
                return Err(GateError::ResetTooSoon {
                    retry_after_secs: next - now,
                    cooldown_secs: cooldown,
                });
            }
        }
        let removed = self.reset(&line, Actor::Subscriber, ip, now).await?;
        Ok(SelfReset {
            removed,
            next_allowed_at: now.saturating_add(cooldown),
        })
    }

    /// The newest audit entries first: of one line, or of every line.
    pub async fn device_audit(
        &self,
        username: Option<&str>,
        limit: u32,
    ) -> Result<Vec<DeviceAudit>, GateError> {
        let line = match username {
            Some(u) => Some(self.line_named(u)?.id),
            None => None,
        };
        Ok(self.store.device_audit(line, limit).await?)
    }

    /// How long until the subscriber may reset again (0: now).
    pub fn self_reset_wait(&self, line: LineId, now: UnixTime) -> i64 {
        let cooldown = self.settings.device_reset_cooldown_secs.max(0);
        self.binding(line)
            .and_then(|b| b.last_self_reset)
            .map_or(0, |last| (last.saturating_add(cooldown) - now).max(0))
    }
}
