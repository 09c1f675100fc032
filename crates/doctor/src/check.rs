//! One check's outcome: what was looked at, what was found, and what to do.
//! Every probe returns these; the verdict and the report read only these.

use serde::Serialize;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Ok,
    /// Not the cause of a failure by itself, but worth fixing.
    Warning,
    /// Breaks playback or login.
    Fault,
    /// Not run (an earlier step made it meaningless or impossible).
    Skipped,
}

/// Which step of the article a check belongs to, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Typing,
    NameResolution,
    Transport,
    Account,
    Stream,
}

/// The five causes of "Failed to Authorize", plus "it works" and the
/// provider's own trouble. Each has a distinct exit code (docs/doctor.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// Everything works from here: the problem is in the app or the device.
    Works,
    /// Wrong credentials: a typo, invisible characters, wrong case, the
    /// wrong login method.
    Credentials,
    /// The subscription ended, is suspended or blocked.
    Subscription,
    /// Every allowed connection is in use.
    ConnectionLimit,
    /// The subscription is bound to another device (MAC).
    DeviceBinding,
    /// The internet provider's DNS hides the server.
    DnsBlocking,
    /// The server cannot be reached or answers wrongly (down, blocked
    /// another way, misconfigured).
    ServerUnreachable,
}

impl Cause {
    /// The process exit code for this cause (documented in docs/doctor.md).
    pub fn exit_code(self) -> i32 {
        match self {
            Cause::Works => 0,
            Cause::Credentials => 10,
            Cause::Subscription => 11,
            Cause::ConnectionLimit => 12,
            Cause::DeviceBinding => 13,
            Cause::DnsBlocking => 14,
            Cause::ServerUnreachable => 15,
        }
    }
}

/// One check with its verdict, evidence and fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub step: Step,
    /// Short stable identifier, e.g. `typing.password`, `dns.system`.
    pub id: String,
    /// One line for a person: "Password has an invisible character at the end".
    pub title: String,
    pub verdict: Verdict,
    /// What was observed, one fact per entry, never containing the password.
    pub evidence: Vec<String>,
    /// What to do, in plain words; empty when nothing needs doing.
    pub fix: String,
    /// The cause this check points at when it is a fault or warning.
    pub points_to: Option<Cause>,
    /// Milliseconds the check took (network checks).
    pub millis: Option<u64>,
    /// The verdict's sentence when this fault decides it (e.g. "the
    /// subscription expired on 2026-11-20"); not in the JSON form: the
    /// diagnosis carries it.
    #[serde(skip)]
    pub summary: Option<String>,
    /// A fault that hides every later finding but DNS blocking: a fix of
    /// the address (http:// for https://, the portal path) or the app
    /// itself refused. Ranked right after DNS blocking (docs/doctor.md).
    #[serde(skip)]
    pub decisive: bool,
}

impl Check {
    /// A check with no evidence yet.
    pub fn new(step: Step, id: &str, title: impl Into<String>, verdict: Verdict) -> Check {
        Check {
            step,
            id: id.to_string(),
            title: title.into(),
            verdict,
            evidence: Vec::new(),
            fix: String::new(),
            points_to: None,
            millis: None,
            summary: None,
            decisive: false,
        }
    }

    /// The verdict's sentence when this fault decides it.
    pub fn summary(mut self, text: impl Into<String>) -> Check {
        self.summary = Some(text.into());
        self
    }

    /// Marks a fault that hides every later finding (docs/doctor.md, ranking).
    pub fn decisive(mut self) -> Check {
        self.decisive = true;
        self
    }

    pub fn evidence(mut self, line: impl Into<String>) -> Check {
        self.evidence.push(line.into());
        self
    }

    pub fn fix(mut self, text: impl Into<String>) -> Check {
        self.fix = text.into();
        self
    }

    pub fn points_to(mut self, cause: Cause) -> Check {
        self.points_to = Some(cause);
        self
    }

    pub fn millis(mut self, ms: u64) -> Check {
        self.millis = Some(ms);
        self
    }
}
