//! The connection ledger on Redis, shared by every node of a deployment.
//!
//! Each step is one Lua script (`lua/`), run atomically by Redis: admit,
//! renew, end (or cut), holders, every lease, counts, and the hand-over of
//! a node's leases after an outage. Leases are keys with a time-to-live in
//! a sorted set per line scored by their expiry, so a node that dies frees
//! its slots when they run out (`lease_ttl_secs`) and nothing counts up and
//! down.
//!
//! A node remembers the leases it admitted (`held`): what it hands back to
//! Redis after Redis lost its data (every script first checks the
//! deployment's *generation*, a random value Redis keeps; a Redis that
//! forgot it forgot the leases too), and what it keeps serving while Redis
//! does not answer. Then a [`LocalLedger`] stands in, seeded with those
//! leases: new connections are refused or admitted against it, as the
//! operator chose ([`WhenUnavailable`]), and when Redis answers again the
//! node hands its leases over (`restore.lua`): leases Redis ended meanwhile
//! (another node evicted them) are cut here, the ones admitted locally are
//! added.
//!
//! Leases ended by an admission or a person are announced on the
//! `PREFIX"ended"` channel; the node that serves one marks it ended
//! (`was_ended`) and bumps the counter its streaming bodies watch, so the
//! viewer is cut within milliseconds on whichever node it watches.

use crate::link::{describe, Link};
use crate::scripts::{self, device_arg, kind_name, Malformed, Scripts};
use crate::{Config, WhenUnavailable};
use futures::FutureExt;
use redis::aio::MultiplexedConnection;
use redis::{RedisError, Value};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};
use tvgate_core::ids::LineId;
use tvgate_core::ledger::local::LocalLedger;
use tvgate_core::ledger::{Admission, Lease, LeaseId, LeaseRequest, Ledger, LimitPolicy};
use tvgate_core::UnixTime;

/// How often a node whose Redis is away tries again.
const RETRY: Duration = Duration::from_millis(250);
/// How long a lease ended from outside is remembered as such (a body that
/// has not asked by then renews and learns it anyway).
const TOMBSTONE_LIFE: Duration = Duration::from_secs(120);
/// How long a count shown to people may be reused for the same `now`.
const COUNT_LIFE: Duration = Duration::from_secs(1);
/// Leases admitted locally during an outage are numbered from 2^52 plus a
/// random multiple of 2^32: apart from Redis's (the clock times 2^20, below
/// 2^51 until 2038), from another node's and from an earlier outage's, and
/// still exact as a JSON number (below 2^53).
const FALLBACK_BASE: u64 = 1 << 52;

pub struct RedisLedger {
    link: Arc<Link>,
    prefix: String,
    policy: WhenUnavailable,
    scripts: Scripts,
    state: Mutex<State>,
    /// Leases this node served that were ended from outside, and when it
    /// heard.
    tombstones: Mutex<HashMap<LeaseId, Instant>>,
    /// The counter the node's streaming bodies watch.
    lease_ends: Arc<AtomicU64>,
    counts: Mutex<HashMap<LineId, (UnixTime, u32, Instant)>>,
    /// The latest `now` a caller gave: the time of background work.
    last_now: AtomicI64,
    /// One recovery at a time.
    recovering: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct State {
    /// The deployment's generation this node's leases are registered under.
    generation: String,
    /// Leases admitted through this node, by id (HLS ones until they expire).
    held: HashMap<LeaseId, Lease>,
    outage: Option<Outage>,
}

/// While Redis does not answer.
struct Outage {
    fallback: Arc<LocalLedger>,
    /// Leases Redis has (as far as this node knows).
    known: HashSet<LeaseId>,
    /// Leases Redis has whose viewers left meanwhile.
    pending_ends: Vec<LeaseId>,
}

/// Where a request goes now.
enum Mode {
    Redis(MultiplexedConnection, String),
    Local(Arc<LocalLedger>),
}

enum AdmitAnswer {
    Reset,
    Full(Vec<Lease>),
    Resumed(LeaseId),
    Admitted(LeaseId, Vec<Lease>),
}

/// A script failed: Redis is away, or its answer made no sense.
enum Failure {
    Redis(RedisError),
    Malformed(Malformed),
}

impl From<RedisError> for Failure {
    fn from(e: RedisError) -> Self {
        Failure::Redis(e)
    }
}

impl From<Malformed> for Failure {
    fn from(e: Malformed) -> Self {
        Failure::Malformed(e)
    }
}

impl RedisLedger {
    /// The ledger of one node, registered under the deployment's
    /// generation (set now when Redis has none); a task of its own retries
    /// Redis while it is away.
    pub(crate) async fn start(
        link: Arc<Link>,
        config: &Config,
        lease_ends: Arc<AtomicU64>,
    ) -> Arc<RedisLedger> {
        let ledger = Arc::new(RedisLedger {
            link,
            prefix: config.prefix.clone(),
            policy: config.when_unavailable,
            scripts: Scripts::new(),
            state: Mutex::new(State::default()),
            tombstones: Mutex::default(),
            lease_ends,
            counts: Mutex::default(),
            last_now: AtomicI64::new(0),
            recovering: tokio::sync::Mutex::new(()),
        });
        // Registering is a hand-over of no leases: from an outage with an
        // empty stand-in.
        ledger.lock().outage = Some(Outage {
            fallback: Arc::new(LocalLedger::numbered_from(fallback_base())),
            known: HashSet::new(),
            pending_ends: Vec::new(),
        });
        if ledger.link.is_up() {
            if let Err(e) = ledger.recover().await {
                ledger.link.down(&e);
            }
        }
        tokio::spawn(watch(Arc::downgrade(&ledger)));
        ledger
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn saw(&self, now: UnixTime) {
        self.last_now.fetch_max(now, Ordering::Relaxed);
    }

    fn mode(&self) -> Mode {
        let state = self.lock();
        if let Some(outage) = &state.outage {
            return Mode::Local(outage.fallback.clone());
        }
        match self.link.conn() {
            Some(conn) => Mode::Redis(conn, state.generation.clone()),
            None => {
                drop(state);
                self.go_down();
                self.mode()
            }
        }
    }

    /// Redis is away: from now on this node's leases live in a stand-in
    /// ledger until it answers.
    fn go_down(&self) {
        let now = self.last_now.load(Ordering::Relaxed);
        let mut state = self.lock();
        if state.outage.is_some() {
            return;
        }
        let fallback = LocalLedger::numbered_from(fallback_base());
        for lease in state.held.values().filter(|l| l.expires > now) {
            fallback.insert(lease.clone());
        }
        state.outage = Some(Outage {
            fallback: Arc::new(fallback),
            known: state.held.keys().copied().collect(),
            pending_ends: Vec::new(),
        });
        match self.policy {
            WhenUnavailable::Refuse => tracing::error!(
                url = %self.link.shown,
                "no new connection is admitted until the ledger answers (ledger_unavailable = refuse); viewers already watching keep watching"
            ),
            WhenUnavailable::AdmitLocal => tracing::error!(
                url = %self.link.shown,
                "admitting new connections against this node's own ledger until the shared one answers (ledger_unavailable = admit_local): connection limits hold per node meanwhile"
            ),
        }
    }

    fn failed(&self, failure: Failure) {
        match failure {
            Failure::Redis(e) => {
                self.link.down(&e);
            }
            Failure::Malformed(m) => {
                tracing::error!(url = %self.link.shown, error = %m.0, "the ledger answered something no script returns");
                self.link.down(&RedisError::from((
                    redis::ErrorKind::TypeError,
                    "malformed answer",
                )));
            }
        }
        self.go_down();
    }

    /// Records leases ended from outside that this node serves; their
    /// bodies are told at once.
    fn ended_elsewhere(&self, ids: &[LeaseId]) {
        let mut any = false;
        {
            let mut state = self.lock();
            let mut tombstones = self.tombstones.lock().unwrap_or_else(|p| p.into_inner());
            for id in ids {
                if state.held.remove(id).is_some() {
                    tombstones.insert(*id, Instant::now());
                    any = true;
                }
            }
        }
        if any {
            self.lease_ends.fetch_add(1, Ordering::Release);
        }
    }

    /// A message on the `ended` channel: lease ids, comma-separated.
    pub(crate) fn heard_ended(&self, message: &str) {
        let ids: Vec<LeaseId> = message
            .split(',')
            .filter_map(|id| id.trim().parse().ok().map(LeaseId))
            .collect();
        self.ended_elsewhere(&ids);
    }

    fn forget_count(&self, line: LineId) {
        self.counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&line);
    }

    async fn admit_script(
        &self,
        conn: &mut MultiplexedConnection,
        generation: &str,
        req: &LeaseRequest,
        now: UnixTime,
        ttl_secs: u32,
    ) -> Result<AdmitAnswer, Failure> {
        let policy = match req.policy {
            LimitPolicy::Refuse => "refuse",
            LimitPolicy::NewestWins => "newest",
        };
        let answer: Value = self
            .scripts
            .admit
            .arg(&self.prefix)
            .arg(generation)
            .arg(now)
            .arg(ttl_secs)
            .arg(req.line.0)
            .arg(req.max_connections)
            .arg(policy)
            .arg(req.stream.0)
            .arg(req.ip.to_string())
            .arg(&*req.user_agent)
            .arg(device_arg(req.device.as_deref()))
            .arg(kind_name(req.kind))
            .invoke_async(conn)
            .await?;
        let mut items = scripts::items(answer)?.into_iter();
        let word = items.next().as_ref().and_then(scripts::text);
        Ok(match word.as_deref() {
            Some("reset") => AdmitAnswer::Reset,
            Some("full") => AdmitAnswer::Full(items.map(scripts::lease).collect::<Result<_, _>>()?),
            Some("resumed") => {
                let id = items
                    .next()
                    .ok_or_else(|| Malformed("a resume without an id".into()))?;
                AdmitAnswer::Resumed(scripts::lease_id(&id)?)
            }
            Some("admitted") => {
                let id = items
                    .next()
                    .ok_or_else(|| Malformed("an admission without an id".into()))?;
                let id = scripts::lease_id(&id)?;
                AdmitAnswer::Admitted(id, items.map(scripts::lease).collect::<Result<_, _>>()?)
            }
            other => return Err(Malformed(format!("admit answered {other:?}")).into()),
        })
    }

    async fn admit_locally(
        &self,
        fallback: &LocalLedger,
        req: &LeaseRequest,
        now: UnixTime,
        ttl_secs: u32,
    ) -> Admission {
        if self.policy == WhenUnavailable::Refuse {
            return Admission::Unavailable;
        }
        let admission = fallback.admit(req, now, ttl_secs).await;
        if let Admission::Admitted { ended, .. } = &admission {
            if !ended.is_empty() {
                let mut tombstones = self.tombstones.lock().unwrap_or_else(|p| p.into_inner());
                for gone in ended {
                    tombstones.insert(gone.id, Instant::now());
                }
                drop(tombstones);
                self.lease_ends.fetch_add(1, Ordering::Release);
            }
        }
        admission
    }

    /// Ends or cuts a lease wherever it lives now.
    async fn finish(&self, id: LeaseId, cut: bool) -> Option<Lease> {
        if cut {
            self.tombstones
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(id, Instant::now());
        }
        let ended = match self.mode() {
            Mode::Redis(mut conn, _) => {
                let answer = self
                    .scripts
                    .end
                    .arg(&self.prefix)
                    .arg(id.0)
                    .arg(if cut { "cut" } else { "end" })
                    .invoke_async::<Value>(&mut conn)
                    .await;
                match answer.map_err(Failure::from).and_then(|v| match v {
                    Value::Nil => Ok(None),
                    row => Ok(Some(scripts::lease(row)?)),
                }) {
                    Ok(ended) => {
                        if ended.is_some() {
                            self.lock().held.remove(&id);
                        }
                        return self.counted(ended);
                    }
                    Err(failure) => {
                        self.failed(failure);
                        self.mode()
                    }
                }
            }
            local => local,
        };
        let Mode::Local(fallback) = ended else {
            return None;
        };
        let ended = if cut {
            fallback.cut(id).await
        } else {
            fallback.end(id).await
        };
        if ended.is_some() {
            let mut state = self.lock();
            state.held.remove(&id);
            if let Some(outage) = &mut state.outage {
                if outage.known.contains(&id) {
                    outage.pending_ends.push(id);
                }
            }
        }
        self.counted(ended)
    }

    fn counted(&self, ended: Option<Lease>) -> Option<Lease> {
        if let Some(lease) = &ended {
            self.forget_count(lease.line);
        }
        ended
    }

    async fn leases_of(&self, line: Option<LineId>, now: UnixTime) -> Vec<Lease> {
        self.saw(now);
        if let Mode::Redis(mut conn, _) = self.mode() {
            let script = match line {
                Some(_) => &self.scripts.holders,
                None => &self.scripts.all,
            };
            let mut invocation = script.arg(&self.prefix);
            if let Some(line) = line {
                invocation.arg(line.0);
            }
            let answer = invocation
                .arg(now)
                .invoke_async::<Value>(&mut conn)
                .await
                .map_err(Failure::from)
                .and_then(|v| Ok(scripts::leases(v)?));
            match answer {
                Ok(mut leases) => {
                    leases.sort_by_key(|l| (l.line, l.started, l.id));
                    return leases;
                }
                Err(failure) => self.failed(failure),
            }
        }
        let Mode::Local(fallback) = self.mode() else {
            return Vec::new();
        };
        match line {
            Some(line) => fallback.holders(line, now).await,
            None => fallback.all(now).await,
        }
    }

    /// Hands this node's leases over to Redis after an outage (or at
    /// start) and goes back to it. Leases admitted or ended while the hand
    /// over runs are handed over in another round.
    async fn recover(&self) -> Result<(), RedisError> {
        let _one = self.recovering.lock().await;
        let now = self.last_now.load(Ordering::Relaxed);
        let mut handed: HashSet<LeaseId> = HashSet::new();
        for round in 0..5 {
            let (leases, known, pending, generation) = {
                let mut state = self.lock();
                let generation = state.generation.clone();
                let Some(outage) = &mut state.outage else {
                    return Ok(());
                };
                let leases: Vec<Lease> = fallback_leases(&outage.fallback, now)
                    .into_iter()
                    .filter(|l| !handed.contains(&l.id))
                    .collect();
                let pending = std::mem::take(&mut outage.pending_ends);
                (leases, outage.known.clone(), pending, generation)
            };
            let result = self
                .hand_over(&leases, &known, &pending, &generation, now)
                .await;
            let (generation, gone) = match result {
                Ok(answer) => answer,
                Err(e) => {
                    // Try these ends again next time.
                    if let Some(outage) = &mut self.lock().outage {
                        outage.pending_ends.extend(pending);
                    }
                    return Err(e);
                }
            };
            handed.extend(leases.iter().map(|l| l.id));
            let mut state = self.lock();
            state.generation = generation;
            let Some(outage) = &mut state.outage else {
                return Ok(());
            };
            outage.known.extend(leases.iter().map(|l| l.id));
            let current = fallback_leases(&outage.fallback, now);
            let settled =
                outage.pending_ends.is_empty() && current.iter().all(|l| handed.contains(&l.id));
            if settled || round == 4 {
                state.held = current
                    .into_iter()
                    .filter(|l| !gone.contains(&l.id))
                    .map(|l| (l.id, l))
                    .collect();
                state.outage = None;
                drop(state);
                self.mark_gone(&gone);
                self.counts
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clear();
                return Ok(());
            }
        }
        Ok(())
    }

    fn mark_gone(&self, gone: &[LeaseId]) {
        if gone.is_empty() {
            return;
        }
        let mut tombstones = self.tombstones.lock().unwrap_or_else(|p| p.into_inner());
        for id in gone {
            tombstones.insert(*id, Instant::now());
        }
        drop(tombstones);
        self.lease_ends.fetch_add(1, Ordering::Release);
    }

    /// One round of a hand-over: ends Redis missed, then `restore.lua`.
    /// Answers the generation and the leases Redis ended meanwhile.
    async fn hand_over(
        &self,
        leases: &[Lease],
        known: &HashSet<LeaseId>,
        pending: &[LeaseId],
        generation: &str,
        now: UnixTime,
    ) -> Result<(String, Vec<LeaseId>), RedisError> {
        let mut conn = self.link.conn().ok_or_else(|| {
            RedisError::from(std::io::Error::new(
                std::io::ErrorKind::NotConnected,
                "the ledger is away",
            ))
        })?;
        for id in pending {
            self.scripts
                .end
                .arg(&self.prefix)
                .arg(id.0)
                .arg("end")
                .invoke_async::<Value>(&mut conn)
                .await?;
        }
        let fresh: String = {
            use rand::Rng;
            let bytes: [u8; 12] = rand::thread_rng().gen();
            bytes.iter().map(|b| format!("{b:02x}")).collect()
        };
        let mut invocation = self.scripts.restore.arg(&self.prefix);
        invocation.arg(generation).arg(&fresh).arg(now);
        for l in leases {
            let ttl = (l.expires - now).max(1);
            invocation
                .arg(l.id.0)
                .arg(if known.contains(&l.id) { "1" } else { "0" })
                .arg(l.line.0)
                .arg(l.stream.0)
                .arg(l.ip.to_string())
                .arg(&*l.user_agent)
                .arg(device_arg(l.device.as_deref()))
                .arg(kind_name(l.kind))
                .arg(l.started)
                .arg(l.last_seen)
                .arg(l.expires)
                .arg(ttl);
        }
        let answer: Value = invocation.invoke_async(&mut conn).await?;
        let items = scripts::items(answer)
            .map_err(|m| RedisError::from((redis::ErrorKind::TypeError, "restore", m.0)))?;
        let mut items = items.iter();
        let generation = items.next().and_then(scripts::text).unwrap_or_default();
        let gone = items.filter_map(|v| scripts::lease_id(v).ok()).collect();
        Ok((generation, gone))
    }

    /// After a script found another generation: Redis lost its data (or
    /// another node already registered a new one). Registers this node's
    /// leases again, once for all callers that saw `seen`.
    async fn recover_after_reset(&self, seen: &str) {
        let _one = self.recovering.lock().await;
        let now = self.last_now.load(Ordering::Relaxed);
        let (leases, known) = {
            let state = self.lock();
            if state.generation != seen || state.outage.is_some() {
                return;
            }
            let leases: Vec<Lease> = state
                .held
                .values()
                .filter(|l| l.expires > now)
                .cloned()
                .collect();
            let known = leases.iter().map(|l| l.id).collect();
            (leases, known)
        };
        tracing::warn!(url = %self.link.shown, leases = leases.len(), "the ledger lost its data (a restart?): registering this node's leases again");
        match self.hand_over(&leases, &known, &[], seen, now).await {
            Ok((generation, gone)) => {
                self.lock().generation = generation;
                self.ended_elsewhere(&gone);
            }
            Err(e) => {
                self.link.down(&e);
                self.go_down();
            }
        }
    }

    /// Forgets what is no longer needed: expired leases and old tombstones.
    fn tidy(&self) {
        let now = self.last_now.load(Ordering::Relaxed);
        self.lock().held.retain(|_, l| l.expires > now);
        self.tombstones
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, at| at.elapsed() < TOMBSTONE_LIFE);
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        counts.retain(|_, (_, _, at)| at.elapsed() < COUNT_LIFE);
    }

    fn is_away(&self) -> bool {
        self.lock().outage.is_some()
    }
}

/// The stand-in's live leases (its futures are ready at once).
fn fallback_leases(fallback: &LocalLedger, now: UnixTime) -> Vec<Lease> {
    fallback.all(now).now_or_never().unwrap_or_default()
}

fn fallback_base() -> u64 {
    use rand::Rng;
    FALLBACK_BASE + (rand::thread_rng().gen_range(0..(1u64 << 20)) << 32)
}

/// While the ledger lives: tries Redis again while it is away, and tidies
/// up now and then.
async fn watch(ledger: Weak<RedisLedger>) {
    let mut tidied = Instant::now();
    loop {
        tokio::time::sleep(RETRY).await;
        let Some(ledger) = ledger.upgrade() else {
            return;
        };
        if ledger.is_away() {
            let back = match ledger.link.reconnect().await {
                Ok(()) => ledger.recover().await,
                Err(e) => Err(e),
            };
            match back {
                Ok(()) => {
                    tracing::warn!(url = %ledger.link.shown, "the ledger answers again: this node's leases are handed back to it")
                }
                Err(e) => {
                    tracing::debug!(url = %ledger.link.shown, error = %describe(&e), "the ledger still does not answer");
                    ledger.link.down(&e);
                }
            }
        }
        if tidied.elapsed() > Duration::from_secs(10) {
            ledger.tidy();
            tidied = Instant::now();
        }
    }
}

#[async_trait::async_trait]
impl Ledger for RedisLedger {
    async fn admit(&self, req: &LeaseRequest, now: UnixTime, ttl_secs: u32) -> Admission {
        self.saw(now);
        for _ in 0..3 {
            let (mut conn, generation) = match self.mode() {
                Mode::Local(fallback) => {
                    return self.admit_locally(&fallback, req, now, ttl_secs).await
                }
                Mode::Redis(conn, generation) => (conn, generation),
            };
            let answer = self
                .admit_script(&mut conn, &generation, req, now, ttl_secs)
                .await;
            match answer {
                Err(failure) => self.failed(failure),
                Ok(AdmitAnswer::Reset) => self.recover_after_reset(&generation).await,
                Ok(AdmitAnswer::Full(holders)) => return Admission::Full { holders },
                Ok(AdmitAnswer::Resumed(id)) => {
                    if let Some(held) = self.lock().held.get_mut(&id) {
                        held.last_seen = now;
                        held.expires = now + i64::from(ttl_secs);
                    }
                    return Admission::Admitted {
                        id,
                        ended: Vec::new(),
                        resumed: true,
                    };
                }
                Ok(AdmitAnswer::Admitted(id, ended)) => {
                    let lease = Lease {
                        id,
                        line: req.line,
                        stream: req.stream,
                        ip: req.ip,
                        user_agent: req.user_agent.clone(),
                        device: req.device.clone(),
                        kind: req.kind,
                        started: now,
                        last_seen: now,
                        expires: now + i64::from(ttl_secs),
                    };
                    self.lock().held.insert(id, lease);
                    let gone: Vec<LeaseId> = ended.iter().map(|l| l.id).collect();
                    self.ended_elsewhere(&gone);
                    self.forget_count(req.line);
                    return Admission::Admitted {
                        id,
                        ended,
                        resumed: false,
                    };
                }
            }
        }
        Admission::Unavailable
    }

    async fn renew(&self, id: LeaseId, now: UnixTime, ttl_secs: u32) -> bool {
        self.saw(now);
        for _ in 0..3 {
            let (mut conn, generation) = match self.mode() {
                Mode::Local(fallback) => return fallback.renew(id, now, ttl_secs).await,
                Mode::Redis(conn, generation) => (conn, generation),
            };
            let answer = self
                .scripts
                .renew
                .arg(&self.prefix)
                .arg(&generation)
                .arg(id.0)
                .arg(now)
                .arg(ttl_secs)
                .invoke_async::<i64>(&mut conn)
                .await;
            match answer {
                Ok(1) => {
                    if let Some(held) = self.lock().held.get_mut(&id) {
                        held.last_seen = now;
                        held.expires = now + i64::from(ttl_secs);
                    }
                    return true;
                }
                Ok(-1) => self.recover_after_reset(&generation).await,
                Ok(_) => {
                    if self.lock().held.remove(&id).is_some() {
                        self.tombstones
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .insert(id, Instant::now());
                    }
                    return false;
                }
                Err(e) => self.failed(e.into()),
            }
        }
        // Nothing certain: a viewer is never cut for the ledger's trouble.
        true
    }

    async fn end(&self, id: LeaseId) -> Option<Lease> {
        self.finish(id, false).await
    }

    async fn cut(&self, id: LeaseId) -> Option<Lease> {
        self.finish(id, true).await
    }

    async fn holders(&self, line: LineId, now: UnixTime) -> Vec<Lease> {
        self.leases_of(Some(line), now).await
    }

    async fn active(&self, line: LineId, now: UnixTime) -> u32 {
        {
            let counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((at, n, when)) = counts.get(&line) {
                if *at == now && when.elapsed() < COUNT_LIFE {
                    return *n;
                }
            }
        }
        let n = self
            .active_of(&[line], now)
            .await
            .first()
            .copied()
            .unwrap_or(0);
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if counts.len() >= 65_536 {
            counts.clear();
        }
        counts.insert(line, (now, n, Instant::now()));
        n
    }

    async fn active_of(&self, lines: &[LineId], now: UnixTime) -> Vec<u32> {
        self.saw(now);
        if lines.is_empty() {
            return Vec::new();
        }
        if let Mode::Redis(mut conn, _) = self.mode() {
            let mut invocation = self.scripts.count.arg(&self.prefix);
            invocation.arg(now);
            for line in lines {
                invocation.arg(line.0);
            }
            match invocation.invoke_async::<Vec<u32>>(&mut conn).await {
                Ok(counts) if counts.len() == lines.len() => return counts,
                Ok(_) => self.failed(Malformed("counts of other lines".into()).into()),
                Err(e) => self.failed(e.into()),
            }
        }
        let Mode::Local(fallback) = self.mode() else {
            return vec![0; lines.len()];
        };
        fallback.active_of(lines, now).await
    }

    async fn all(&self, now: UnixTime) -> Vec<Lease> {
        self.leases_of(None, now).await
    }

    fn was_ended(&self, id: LeaseId) -> bool {
        self.tombstones
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(&id)
    }
}
