//! The runner: the five steps in the article's order, each feeding the
//! next (no address, no connection; no connection, no login; no login, no
//! stream), every check reported as it is made, then the verdict and the
//! report. Every network call has the step deadline (`timeout`), so a run
//! always ends.

use crate::account::{self, Outcome};
use crate::check::{Cause, Check, Step, Verdict};
use crate::fetch::Http;
use crate::input::{self, Given, InputError, Method};
use crate::report::{redact_check, Redactor, Report, Subject, Times, Tool};
use crate::{dns, transport};
use crate::{stream, typing, verdict};
use reqwest::Url;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// The user agent the doctor sends unless told otherwise: a common player's.
pub const DEFAULT_USER_AGENT: &str = "IPTVSmartersPro";
/// What players show, unless told otherwise.
pub const DEFAULT_ERROR: &str = "Failed to Authorize";
/// How much of a stream is read.
pub const DEFAULT_STREAM_BYTES: usize = 300 * 1024;

/// Everything a run needs.
#[derive(Debug, Clone)]
pub struct Options {
    pub given: Given,
    pub user_agent: String,
    /// `--resolver IP[:PORT]`, asked side by side with the system's.
    pub resolvers: Vec<SocketAddr>,
    /// `--doh URL`; empty: the well-known public endpoints.
    pub doh: Vec<String>,
    /// `--system-resolver IP:PORT`: stands in for the system's resolver.
    pub system_resolver: Option<SocketAddr>,
    /// An extra trusted certificate (PEM).
    pub extra_ca_pem: Option<Vec<u8>>,
    /// Deadline of each network step.
    pub timeout: Duration,
    pub device: Option<String>,
    pub app: Option<String>,
    pub error: String,
    /// The doctor's clock (Unix seconds) for expiry dates; `None`: now.
    pub now: Option<i64>,
    pub stream_bytes: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            given: Given::default(),
            user_agent: DEFAULT_USER_AGENT.into(),
            resolvers: Vec::new(),
            doh: Vec::new(),
            system_resolver: None,
            extra_ca_pem: None,
            timeout: Duration::from_secs(10),
            device: None,
            app: None,
            error: DEFAULT_ERROR.into(),
            now: None,
            stream_bytes: DEFAULT_STREAM_BYTES,
        }
    }
}

/// Why the doctor could not run at all (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum DoctorError {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error("{0}")]
    Setup(String),
}

/// Told about each step as it starts and each check as it is made.
pub trait Progress: Send {
    /// A slow step starts (a spinner may show `what`).
    fn begin(&mut self, _what: &str) {}
    /// A check is done.
    fn check(&mut self, _check: &Check) {}
}

/// Reports nothing.
pub struct Quiet;
impl Progress for Quiet {}

struct Run<'a> {
    checks: Vec<Check>,
    progress: &'a mut dyn Progress,
    redactor: Redactor,
}

impl Run<'_> {
    fn push(&mut self, mut c: Check) {
        redact_check(&mut c, &self.redactor);
        self.progress.check(&c);
        self.checks.push(c);
    }

    fn extend(&mut self, list: impl IntoIterator<Item = Check>) {
        for c in list {
            self.push(c);
        }
    }

    fn skip(&mut self, step: Step, id: &str, why: &str) {
        self.push(Check::new(
            step,
            id,
            format!("Not checked: {why}"),
            Verdict::Skipped,
        ));
    }
}

/// Runs every step and returns the report (already redacted).
pub async fn run(opts: &Options, progress: &mut dyn Progress) -> Result<Report, DoctorError> {
    let target = input::normalise(&opts.given)?;
    let now = opts.now.unwrap_or_else(|| chrono::Utc::now().timestamp());
    let has_credentials = !(target.username.is_empty() && target.password.is_empty());
    let typing = typing::inspect(
        &target.username,
        &target.password,
        target.raw.server.as_deref(),
    );
    let mut redactor = Redactor::new([target.password.as_str(), typing.password.as_str()]);
    for (_, p) in &typing.alternatives {
        redactor.add(p);
    }
    let mut run = Run {
        checks: Vec::new(),
        progress,
        redactor,
    };
    run.extend(target.checks.iter().cloned());
    if has_credentials {
        run.extend(typing.checks.iter().cloned());
    }

    let probe_url = target
        .server
        .clone()
        .or_else(|| target.m3u.clone())
        .ok_or(InputError::Nothing)?;
    let http = network_steps(&mut run, opts, &target, &probe_url).await?;
    let Some(http) = http else {
        for (step, id) in [(Step::Account, "account"), (Step::Stream, "stream")] {
            run.skip(step, id, "the server could not be reached");
        }
        return Ok(finish(run, opts, &target, now));
    };

    let mut stream_target: Option<(Url, String)> = None;
    let mut may_stream = false;
    let mut creds = (target.username.clone(), target.password.clone());
    if target.method == Method::Stalker {
        run.skip(
            Step::Account,
            "account",
            "a Stalker portal login (a later version of the doctor)",
        );
    } else if let (Some(base), true) = (&target.server, has_credentials) {
        run.progress.begin("Logging in");
        let first = account::login(&http, base, &creds.0, &creds.1, now).await;
        let mut accepted = first.clone();
        let refused = first.outcome == Outcome::Refused;
        run.extend(first.checks);
        if refused {
            let mut candidates = Vec::new();
            if typing.corrected(&target.username, &target.password) {
                candidates.push((
                    (typing.username.clone(), typing.password.clone()),
                    "with the hidden or look-alike characters removed",
                ));
            }
            for alt in &typing.alternatives {
                candidates.push((
                    alt.clone(),
                    "with Caps Lock undone (the case of each letter swapped)",
                ));
            }
            candidates.dedup_by(|a, b| a.0 == b.0);
            for (cand, how) in candidates {
                if cand == creds {
                    continue;
                }
                run.progress.begin("Retrying with the corrected input");
                let again = account::login(&http, base, &cand.0, &cand.1, now).await;
                if let Outcome::Accepted(_) = again.outcome {
                    run.push(
                        Check::new(Step::Typing, "typing.retry", "The login works once the input is corrected", Verdict::Fault)
                            .evidence(format!("as typed: refused; {how}: accepted"))
                            .points_to(Cause::Credentials)
                            .fix(format!("The credentials are right but were not typed as issued: enter them again {how} (the typing checks above say where)."))
                    );
                    run.extend(again.checks.into_iter().filter(|c| c.id != "account.login"));
                    creds = cand;
                    accepted = account::Login {
                        checks: Vec::new(),
                        outcome: again.outcome,
                    };
                    break;
                }
                run.push(
                    Check::new(Step::Typing, "typing.retry", "Retried with the corrected input: still refused", Verdict::Fault)
                        .evidence(format!("{how}: refused too"))
                        .points_to(Cause::Credentials)
                        .fix("The typing is not the only problem: copy the username and password from the provider's e-mail again, or ask the provider to confirm them."),
                );
            }
        }
        let faults_ok = run
            .checks
            .iter()
            .filter(|c| c.step == Step::Account && c.verdict == Verdict::Fault)
            .all(|c| c.points_to == Some(Cause::ConnectionLimit));
        if let Outcome::Accepted(info) = &accepted.outcome {
            if faults_ok {
                may_stream = true;
                run.progress.begin("Looking for a channel");
                match account::first_live_channel(&http, base, &creds.0, &creds.1).await {
                    Ok(ch) => {
                        let ext =
                            if info.formats.is_empty() || info.formats.iter().any(|f| f == "ts") {
                                "ts"
                            } else {
                                "m3u8"
                            };
                        let name = if ch.name.is_empty() {
                            format!("#{}", ch.id)
                        } else {
                            ch.name.clone()
                        };
                        stream_target = Some((
                            account::live_url(base, &creds.0, &creds.1, &ch.id, ext),
                            name,
                        ));
                    }
                    Err(c) => run.push(c),
                }
            }
        }
    } else if target.server.is_none() && target.m3u.is_none() {
        run.skip(Step::Account, "account", "no login was given");
    }
    if let Some(m3u) = &target.m3u {
        run.progress.begin("Loading the playlist");
        let (check, first) = account::playlist(&http, m3u).await;
        let ok = check.verdict != Verdict::Fault;
        run.push(check);
        if ok && target.server.is_none() {
            may_stream = true;
        }
        if stream_target.is_none() && ok && (may_stream || !has_credentials) {
            may_stream = true;
            stream_target = first;
        }
    }

    match (&stream_target, may_stream) {
        (Some((url, name)), true) => {
            run.progress.begin("Opening a channel");
            let checks = stream::probe(&http, url, name, opts.stream_bytes).await;
            run.extend(checks);
        }
        (None, true) => {
            if !run.checks.iter().any(|c| c.id == "stream.pick") {
                run.skip(Step::Stream, "stream", "no channel to open");
            }
        }
        _ => run.skip(Step::Stream, "stream", "the login does not allow playing"),
    }
    Ok(finish(run, opts, &target, now))
}

/// Name resolution and transport; `None` when the server cannot be reached.
async fn network_steps(
    run: &mut Run<'_>,
    opts: &Options,
    target: &input::Target,
    url: &Url,
) -> Result<Option<Http>, DoctorError> {
    let host = url
        .host_str()
        .unwrap_or("")
        .trim_matches(['[', ']'])
        .to_string();
    let (addrs, pin) = match host.parse::<IpAddr>() {
        Ok(ip) => {
            run.push(Check::new(
                Step::NameResolution,
                "dns.literal",
                format!("The server is given as an address ({ip}): no name to look up"),
                Verdict::Ok,
            ));
            (vec![ip], None)
        }
        Err(_) => {
            run.progress.begin("Looking up the server's name");
            let report = dns::resolve(
                &host,
                &dns::DnsOptions {
                    system_resolver: opts.system_resolver,
                    resolvers: opts.resolvers.clone(),
                    doh: if opts.doh.is_empty() {
                        dns::DnsOptions::default_doh()
                    } else {
                        opts.doh.clone()
                    },
                    extra_ca_pem: opts.extra_ca_pem.clone(),
                    timeout: opts.timeout,
                },
            )
            .await;
            let named_block = report
                .checks
                .iter()
                .any(|c| c.verdict == Verdict::Fault && c.points_to == Some(Cause::DnsBlocking));
            run.extend(report.checks);
            if report.looks_blocked && !named_block {
                run.push(
                    Check::new(Step::NameResolution, "dns.blocking", "This looks like DNS blocking", Verdict::Fault)
                        .evidence("this network's resolver gives no address, or a false one, for a name other resolvers answer")
                        .points_to(Cause::DnsBlocking)
                        .fix("Report it: send this report to your provider and ask for another server address; changing DNS (1.1.1.1) or a VPN works around it, where that is lawful."),
                );
            }
            if report.usable.is_empty() {
                run.skip(
                    Step::Transport,
                    "transport",
                    "no address was found for the server",
                );
                return Ok(None);
            }
            let first = report.usable[0];
            (report.usable, Some(first))
        }
    };
    run.progress.begin("Connecting to the server");
    let t = transport::probe(
        url,
        &addrs,
        &transport::TransportOptions {
            timeout: opts.timeout,
            extra_ca_pem: opts.extra_ca_pem.clone(),
            user_agent: opts.user_agent.clone(),
        },
    )
    .await;
    run.extend(t.checks);
    if !t.reachable {
        return Ok(None);
    }
    let _ = target;
    let http = Http::new(
        &opts.user_agent,
        opts.timeout,
        opts.extra_ca_pem.as_deref(),
        pin.map(|ip| (host.as_str(), ip)),
    )
    .map_err(DoctorError::Setup)?;
    Ok(Some(http))
}

fn finish(mut run: Run<'_>, opts: &Options, target: &input::Target, now: i64) -> Report {
    if let Some(mac) = &target.mac {
        let others = run.checks.iter().any(|c| c.verdict == Verdict::Fault);
        let logged_in = run.checks.iter().any(|c| {
            (c.id == "account.login" || c.id == "account.playlist") && c.verdict == Verdict::Ok
        });
        let c = if others {
            Check::new(
                Step::Account,
                "account.device",
                format!("Device binding not weighed (MAC {mac}): another fault comes first"),
                Verdict::Skipped,
            )
        } else if !logged_in {
            Check::new(
                Step::Account,
                "account.device",
                format!("Device binding not weighed (MAC {mac}): the login itself was not checked"),
                Verdict::Skipped,
            )
        } else {
            Check::new(Step::Account, "account.device", "Everything else works: the subscription may be bound to another device", Verdict::Warning)
                .evidence(format!("MAC / device id given: {mac}"))
                .evidence("Xtream Codes logins do not show device binding; the app's login does, with the same \"Failed to Authorize\"")
                .points_to(Cause::DeviceBinding)
                .fix(format!("Ask your provider to register this device: send them your username and the MAC {mac} the app shows. If another app (TiviMate) logs in with the same details, binding is confirmed."))
        };
        run.push(c);
    }
    let diagnosis = verdict::diagnose(&run.checks);
    // The report groups checks by step (a late check such as the device's
    // joins its step); the diagnosis above read them in the order made.
    run.checks.sort_by_key(|c| c.step);
    let _ = now;
    let now = chrono::Utc::now().timestamp();
    let local = chrono::DateTime::from_timestamp(now, 0)
        .map(|t| {
            t.with_timezone(&chrono::Local)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
        })
        .unwrap_or_default();
    let utc = chrono::DateTime::from_timestamp(now, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default();
    let mut report = Report {
        schema_version: crate::report::SCHEMA_VERSION,
        tool: Tool {
            name: "tvgate doctor".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        generated_at: Times {
            utc,
            local,
            unix: now,
        },
        subject: Subject {
            method: target.method,
            server: target.server.as_ref().map(input::display_base),
            username: target.username.clone(),
            password: "[redacted]".into(),
            mac: target.mac.clone(),
            device: opts.device.clone(),
            app: opts.app.clone(),
            error: opts.error.clone(),
            user_agent: opts.user_agent.clone(),
        },
        diagnosis,
        checks: run.checks,
    };
    report.redact(&run.redactor);
    report
}
