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
use crate::{agents, binding, stalker};
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
    let mut target = input::normalise(&opts.given)?;
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
    let reach = network_steps(&mut run, opts, &probe_url).await?;
    let Some(reach) = reach else {
        for (step, id) in [(Step::Account, "account"), (Step::Stream, "stream")] {
            run.skip(step, id, "the server could not be reached");
        }
        return Ok(finish(run, opts, &target, now));
    };
    if reach.https {
        // The port speaks HTTPS: everything else is checked over https://.
        for url in [target.server.as_mut(), target.m3u.as_mut()]
            .into_iter()
            .flatten()
        {
            if url.host_str() == probe_url.host_str()
                && url.port_or_known_default() == probe_url.port_or_known_default()
            {
                *url = to_https(url);
            }
        }
    }
    let http = reach.client(opts, &opts.user_agent)?;

    if target.method == Method::Stalker {
        stalker_steps(&mut run, opts, &target, &reach).await?;
        return Ok(finish(run, opts, &target, now));
    }

    let device = device_param(&target);
    let mut stream_target: Option<(Url, String)> = None;
    let mut may_stream = false;
    let mut stream_http = http.clone();
    let mut creds = (target.username.clone(), target.password.clone());
    if let (Some(base), true) = (&target.server, has_credentials) {
        run.progress.begin("Logging in");
        let first = account::login(&http, base, &creds.0, &creds.1, device.as_ref(), now).await;
        let mut accepted = first.clone();
        let refused = first.outcome == Outcome::Refused;
        let mut as_app = first.refused_as_app;
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
                let again =
                    account::login(&http, base, &cand.0, &cand.1, device.as_ref(), now).await;
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
                        refused_as_app: false,
                    };
                    as_app = false;
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
        if as_app && !matches!(accepted.outcome, Outcome::Accepted(_)) {
            run.progress.begin("Trying as other players");
            let mut tried = Vec::new();
            for ua in agents::others(&opts.user_agent) {
                let client = reach.client(opts, ua)?;
                let again =
                    account::login(&client, base, &creds.0, &creds.1, device.as_ref(), now).await;
                if let Outcome::Accepted(_) = again.outcome {
                    tried.push(format!("as {}: accepted", agents::shown(ua)));
                    run.push(app_blocked(opts, "login", ua, &tried));
                    run.extend(again.checks.into_iter().map(|mut c| {
                        if c.id == "account.login" {
                            c.title = format!(
                                "The username and password are accepted (as {})",
                                agents::shown(ua)
                            );
                        }
                        c
                    }));
                    accepted = account::Login {
                        checks: Vec::new(),
                        outcome: again.outcome,
                        refused_as_app: false,
                    };
                    stream_http = client;
                    break;
                }
                tried.push(format!("as {}: refused too", agents::shown(ua)));
            }
            if !matches!(accepted.outcome, Outcome::Accepted(_)) {
                run.push(
                    Check::new(
                        Step::Account,
                        "account.user_agent",
                        "Other players are refused too: not a block of this app",
                        Verdict::Ok,
                    )
                    .evidence(format!("as {}: refused", agents::shown(&opts.user_agent)))
                    .evidence(tried.join("; ")),
                );
            }
        }
        let faults_ok = run
            .checks
            .iter()
            .filter(|c| c.step == Step::Account && c.verdict == Verdict::Fault)
            .all(|c| c.points_to == Some(Cause::ConnectionLimit));
        if let Outcome::Accepted(info) = &accepted.outcome {
            if let Some(code) = info
                .reason
                .as_deref()
                .filter(|r| account::cause_of_reason(r) == Cause::DeviceBinding)
            {
                let hint = info
                    .reason_message
                    .clone()
                    .unwrap_or_else(|| info.message.clone());
                let portal = binding::self_service(&stream_http, base).await;
                let given = target.mac.as_deref().or(target.device_id.as_deref());
                run.push(
                    binding::explain(
                        "account.binding",
                        Step::Account,
                        &hint,
                        given,
                        portal.as_ref(),
                    )
                    .evidence(format!("tvgate.reason: {code}")),
                );
            }
            if faults_ok {
                may_stream = true;
                run.progress.begin("Looking for a channel");
                match account::first_live_channel(
                    &stream_http,
                    base,
                    &creds.0,
                    &creds.1,
                    device.as_ref(),
                )
                .await
                {
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
            stream_step(&mut run, opts, &reach, &stream_http, url, name).await?;
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

/// The device an Xtream app presents: `--mac` as `mac=`, else
/// `--device-id` as `device_id=` (docs/devices.md).
fn device_param(target: &input::Target) -> Option<account::DeviceParam> {
    let pick = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    match (pick(&target.mac), pick(&target.device_id)) {
        (Some(mac), _) => Some(account::DeviceParam {
            name: "mac",
            value: mac,
        }),
        (None, Some(id)) => Some(account::DeviceParam {
            name: "device_id",
            value: id,
        }),
        (None, None) => None,
    }
}

/// The finding when the provider lets another player in where this app
/// was refused (decisive: the app gets no further).
fn app_blocked(opts: &Options, what: &str, works: &str, tried: &[String]) -> Check {
    let mine = agents::shown(&opts.user_agent);
    let app = opts
        .app
        .clone()
        .unwrap_or_else(|| agents::app_of(&opts.user_agent).to_string());
    let mut c = Check::new(
        Step::Account,
        "account.user_agent",
        format!(
            "The provider refuses this app's {what} (user agent {mine}); {} gets in",
            agents::app_of(works)
        ),
        Verdict::Fault,
    )
    .evidence(format!("as {mine}: refused (above)"));
    for t in tried {
        c = c.evidence(t.clone());
    }
    c.points_to(Cause::ServerUnreachable)
        .decisive()
        .summary(format!(
            "The provider blocks this app ({app}, user agent {mine}), while {} gets in: the line itself works.",
            agents::app_of(works)
        ))
        .fix(format!(
            "Use an app the provider lets in ({} worked here), or ask the provider to allow your app: tell them it sends the user agent {mine} and is refused.",
            agents::app_of(works)
        ))
}

/// Opens the channel; a refusal that looks like an app block is tried
/// again as other players; an ambiguous refusal while every connection is
/// in use is the connection limit.
async fn stream_step(
    run: &mut Run<'_>,
    opts: &Options,
    reach: &Reach,
    http: &Http,
    url: &Url,
    name: &str,
) -> Result<(), DoctorError> {
    let probe = stream::probe(http, url, name, opts.stream_bytes).await;
    let full = run
        .checks
        .iter()
        .any(|c| c.id == "account.connections" && c.verdict == Verdict::Fault);
    let mut checks = probe.checks;
    if full {
        for c in &mut checks {
            let ambiguous = c.id == "stream.refusal"
                && c.verdict == Verdict::Fault
                && c.points_to == Some(Cause::Subscription)
                && !c.evidence.iter().any(|e| e.starts_with("X-Tvgate-Reason"));
            if ambiguous {
                c.points_to = Some(Cause::ConnectionLimit);
                c.evidence.push("every connection is in use (account.connections): a refusal now is the connection limit, not the channel".into());
                c.fix = "Close the app on every other device (fully, not minimised), wait a minute or two, then try again; or ask for a plan with more connections.".into();
            }
        }
    }
    let as_app = probe.refused_as_app && !full && http.user_agent == opts.user_agent;
    run.extend(checks);
    if !as_app {
        return Ok(());
    }
    run.progress.begin("Trying the channel as other players");
    let mut tried = Vec::new();
    for ua in agents::others(&opts.user_agent) {
        let client = reach.client(opts, ua)?;
        let again = stream::probe(&client, url, name, opts.stream_bytes).await;
        let plays = again
            .checks
            .iter()
            .any(|c| c.id == "stream.open" && c.verdict == Verdict::Ok);
        if plays {
            tried.push(format!("as {}: the channel opens", agents::shown(ua)));
            run.push(app_blocked(opts, "streams", ua, &tried));
            run.extend(again.checks.into_iter().filter(|c| c.id != "stream.open"));
            return Ok(());
        }
        tried.push(format!("as {}: refused too", agents::shown(ua)));
    }
    run.push(
        Check::new(
            Step::Stream,
            "stream.user_agent",
            "Other players are refused the channel too: not a block of this app",
            Verdict::Ok,
        )
        .evidence(tried.join("; ")),
    );
    Ok(())
}

/// A MAG box's steps: the portal, then the link it gives.
async fn stalker_steps(
    run: &mut Run<'_>,
    opts: &Options,
    target: &input::Target,
    reach: &Reach,
) -> Result<(), DoctorError> {
    let (Some(prefix), Some(mac)) = (&target.server, target.mac.as_deref()) else {
        run.skip(
            Step::Account,
            "account",
            "a portal knows a box by its MAC, and none was given (--mac)",
        );
        run.skip(Step::Stream, "stream", "no login was checked");
        return Ok(());
    };
    let http = reach.client(opts, stalker::MAG_USER_AGENT)?;
    run.progress.begin("Speaking to the portal as a MAG box");
    let login = (!target.username.is_empty() || !target.password.is_empty())
        .then_some((target.username.as_str(), target.password.as_str()));
    let outcome = stalker::check(
        &http,
        prefix,
        target.portal.unwrap_or(input::PortalPath::C),
        stalker::BoxId {
            mac,
            serial: target.serial.as_deref(),
            login,
        },
    )
    .await;
    run.extend(outcome.checks);
    match outcome.stream {
        Some((url, name)) => {
            run.progress.begin("Opening a channel");
            let probe = stream::probe(&http, &url, &name, opts.stream_bytes).await;
            run.extend(probe.checks);
        }
        None if outcome.may_watch => {}
        None => run.skip(
            Step::Stream,
            "stream",
            "the portal does not let the box play",
        ),
    }
    Ok(())
}

/// `http://host:port/x` as `https://host:port/x` (the port kept).
fn to_https(url: &Url) -> Url {
    let mut u = url.clone();
    let port = u.port_or_known_default();
    if u.set_scheme("https").is_ok() {
        let _ = u.set_port(port);
    }
    u
}

/// Where the server was reached: the clients of later steps go to the
/// same address.
struct Reach {
    host: String,
    pin: Option<IpAddr>,
    /// The address was switched to https:// (its port speaks HTTPS).
    https: bool,
}

impl Reach {
    /// A client sending `user_agent` ("" for none).
    fn client(&self, opts: &Options, user_agent: &str) -> Result<Http, DoctorError> {
        Http::new(
            user_agent,
            opts.timeout,
            opts.extra_ca_pem.as_deref(),
            self.pin.map(|ip| (self.host.as_str(), ip)),
        )
        .map_err(DoctorError::Setup)
    }
}

/// Name resolution and transport; `None` when the server cannot be reached.
async fn network_steps(
    run: &mut Run<'_>,
    opts: &Options,
    url: &Url,
) -> Result<Option<Reach>, DoctorError> {
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
    let topts = transport::TransportOptions {
        timeout: opts.timeout,
        extra_ca_pem: opts.extra_ca_pem.clone(),
        user_agent: opts.user_agent.clone(),
    };
    let t = transport::probe(url, &addrs, &topts).await;
    run.extend(t.checks);
    let mut https = false;
    if !t.reachable && t.wants_https {
        let secure = to_https(url);
        run.progress.begin("Trying https:// on the same port");
        let again = transport::probe(&secure, &addrs, &topts).await;
        run.extend(again.checks);
        let shown = input::display_base(&secure);
        let c = Check::new(
            Step::Typing,
            "input.server.https",
            "The server address needs https://, not http://",
            Verdict::Fault,
        )
        .evidence(format!(
            "http://: refused by a port that speaks HTTPS (port {})",
            secure.port_or_known_default().unwrap_or(443)
        ))
        .points_to(Cause::Credentials)
        .fix(format!("Use https:// in the server address: {shown}"));
        if !again.reachable {
            run.push(c.evidence(
                "https:// on the same port: not usable either (see the transport checks)",
            ));
            return Ok(None);
        }
        run.push(
            c.evidence("https:// on the same port: the server answers")
                .decisive()
                .summary(format!("The server address is typed with http:// but the server speaks https:// on that port: use https:// in the server address ({shown}).")),
        );
        https = true;
    }
    if !t.reachable && !https {
        return Ok(None);
    }
    Ok(Some(Reach { host, pin, https }))
}

fn finish(mut run: Run<'_>, opts: &Options, target: &input::Target, now: i64) -> Report {
    // A portal checks the MAC itself; an Xtream login that named the
    // binding (tvgate's reason) needs no guess either.
    let named = run.checks.iter().any(|c| c.id == "account.binding");
    let given = target.mac.as_ref().or(target.device_id.as_ref());
    if let (Some(mac), false, false) = (given, target.method == Method::Stalker, named) {
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
                .fix(format!("Ask your provider to register this device: send them your username and the MAC {mac} the app shows. If you reinstalled the app or changed device, the MAC the app shows changed: ask them to move the binding to the new one (or reset it in their portal, where they offer one). If another app (TiviMate) logs in with the same details, binding is confirmed."))
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
            user_agent: if target.method == Method::Stalker {
                stalker::MAG_USER_AGENT.to_string()
            } else {
                opts.user_agent.clone()
            },
        },
        diagnosis,
        checks: run.checks,
    };
    report.redact(&run.redactor);
    report
}
