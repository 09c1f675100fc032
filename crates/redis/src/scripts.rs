//! The Lua scripts (`lua/`, each with `prelude.lua` in front) and how their
//! answers are read. Redis runs a script atomically: each one is one step
//! of the ledger, whatever other nodes do at the same time. They are sent
//! by hash (`EVALSHA`) and loaded again by the client when Redis forgot
//! them (a restart).

use redis::{Script, Value};
use std::net::IpAddr;
use tvgate_core::ids::{LineId, StreamId};
use tvgate_core::ledger::{Lease, LeaseId, LeaseKind};

const PRELUDE: &str = include_str!("lua/prelude.lua");

fn with_prelude(body: &str) -> Script {
    Script::new(&format!("{PRELUDE}\n{body}"))
}

pub(crate) struct Scripts {
    pub admit: Script,
    pub renew: Script,
    pub end: Script,
    pub holders: Script,
    pub all: Script,
    pub count: Script,
    pub restore: Script,
    pub failure: Script,
    pub scan: Script,
}

impl Scripts {
    pub(crate) fn new() -> Scripts {
        Scripts {
            admit: with_prelude(include_str!("lua/admit.lua")),
            renew: with_prelude(include_str!("lua/renew.lua")),
            end: with_prelude(include_str!("lua/end.lua")),
            holders: with_prelude(include_str!("lua/holders.lua")),
            all: with_prelude(include_str!("lua/all.lua")),
            count: with_prelude(include_str!("lua/count.lua")),
            restore: with_prelude(include_str!("lua/restore.lua")),
            failure: Script::new(include_str!("lua/failure.lua")),
            scan: Script::new(include_str!("lua/scan.lua")),
        }
    }
}

/// The wire name of a lease kind.
pub(crate) fn kind_name(kind: LeaseKind) -> &'static str {
    match kind {
        LeaseKind::LiveTs => "ts",
        LeaseKind::Hls => "hls",
        LeaseKind::Vod => "vod",
    }
}

/// A device as the scripts take it: empty for none, else `=` and the value
/// (so an empty device id stays distinct from none).
pub(crate) fn device_arg(device: Option<&str>) -> String {
    device.map_or_else(String::new, |d| format!("={d}"))
}

/// An answer that is not what the script returns: a bug or another
/// program's keys under our prefix.
#[derive(Debug)]
pub(crate) struct Malformed(pub String);

pub(crate) fn text(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::SimpleString(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

pub(crate) fn items(v: Value) -> Result<Vec<Value>, Malformed> {
    match v {
        Value::Array(items) => Ok(items),
        Value::Nil => Ok(Vec::new()),
        other => Err(Malformed(format!("expected a list, got {other:?}"))),
    }
}

pub(crate) fn lease_id(v: &Value) -> Result<LeaseId, Malformed> {
    text(v)
        .and_then(|t| t.parse().ok())
        .map(LeaseId)
        .ok_or_else(|| Malformed(format!("not a lease id: {v:?}")))
}

/// A lease row: its id, then its hash's fields and values.
pub(crate) fn lease(v: Value) -> Result<Lease, Malformed> {
    let items = items(v)?;
    let Some((id, fields)) = items.split_first() else {
        return Err(Malformed("an empty lease row".into()));
    };
    let id = lease_id(id)?;
    let mut line = None;
    let mut stream = None;
    let mut ip: Option<IpAddr> = None;
    let mut user_agent = String::new();
    let mut device = None;
    let mut kind = None;
    let (mut started, mut seen, mut expires) = (None, None, None);
    for pair in fields.chunks(2) {
        let [name, value] = pair else { break };
        let (Some(name), Some(value)) = (text(name), text(value)) else {
            continue;
        };
        match name.as_str() {
            "line" => line = value.parse().ok().map(LineId),
            "stream" => stream = value.parse().ok().map(StreamId),
            "ip" => ip = value.parse().ok(),
            "ua" => user_agent = value,
            "dev" => device = Some(value.into_boxed_str()),
            "kind" => {
                kind = match value.as_str() {
                    "ts" => Some(LeaseKind::LiveTs),
                    "hls" => Some(LeaseKind::Hls),
                    "vod" => Some(LeaseKind::Vod),
                    _ => None,
                }
            }
            "started" => started = value.parse().ok(),
            "seen" => seen = value.parse().ok(),
            "exp" => expires = value.parse().ok(),
            _ => {}
        }
    }
    match (line, stream, ip, kind, started, seen, expires) {
        (Some(line), Some(stream), Some(ip), Some(kind), Some(started), Some(seen), Some(exp)) => {
            Ok(Lease {
                id,
                line,
                stream,
                ip,
                user_agent: user_agent.into_boxed_str(),
                device,
                kind,
                started,
                last_seen: seen,
                expires: exp,
            })
        }
        _ => Err(Malformed(format!("lease {} lacks a field", id.0))),
    }
}

pub(crate) fn leases(v: Value) -> Result<Vec<Lease>, Malformed> {
    items(v)?.into_iter().map(lease).collect()
}
