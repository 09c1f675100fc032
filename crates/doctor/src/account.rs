//! The account step: the login call every Xtream player makes
//! (`player_api.php?username=&password=`) and what its answer says: auth,
//! status, expiry (a date in the past counts even when `status` still says
//! Active), trial, connections in use against the limit, output formats;
//! against tvgate, the exact reason from the documented `tvgate` extension.
//!
//! Panels disagree on how to say "no" (protocols.md §1.2.2): `auth: 0` with
//! HTTP 200, 401/403 with JSON, or a fake nginx 404 page (XUI) that hides
//! whether the password or the subscription is wrong. Each is named here, as
//! is an HTML page where JSON was expected (a block page, a captive portal).
//! Also the M3U side: fetch the playlist and count its entries.

use crate::check::{Cause, Check, Step, Verdict};
use crate::fetch::{html_title, FetchError, Fetched, Http};
use reqwest::Url;
use serde_json::Value;

/// How much of a login answer is read (a real one is under 2 KB).
const LOGIN_LIMIT: usize = 256 * 1024;
/// How much of a channel list is read to find its first channel.
const LIST_LIMIT: usize = 4 * 1024 * 1024;
/// How much of a playlist is read to count its entries.
const PLAYLIST_LIMIT: usize = 16 * 1024 * 1024;

/// What the login answer says about the line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserInfo {
    pub status: Option<String>,
    pub exp_date: Option<i64>,
    pub is_trial: bool,
    pub active_cons: Option<u64>,
    pub max_connections: Option<u64>,
    pub formats: Vec<String>,
    pub message: String,
    /// tvgate's extension: the exact reason code and its sentence.
    pub reason: Option<String>,
    pub reason_message: Option<String>,
}

/// How the login went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The credentials were accepted (`auth: 1`); the line may still be
    /// expired, banned, disabled or full.
    Accepted(UserInfo),
    /// The credentials were refused (or the panel hides why).
    Refused,
    /// No usable answer (down, blocked, not an Xtream server).
    NoAnswer,
}

/// The account step's result.
#[derive(Debug, Clone)]
pub struct Login {
    pub checks: Vec<Check>,
    pub outcome: Outcome,
    /// Not accepted, and refused the way a provider refuses an app it
    /// blocks (401/403, a web page, an empty or non-JSON answer) rather
    /// than with an Xtream answer about the credentials (`auth: 0`, 429):
    /// worth trying as another player (`agents`).
    pub refused_as_app: bool,
}

impl Login {
    /// True when the line may play: accepted, active, not expired.
    pub fn playable(&self) -> bool {
        self.checks
            .iter()
            .all(|c| c.verdict != Verdict::Fault || c.points_to == Some(Cause::ConnectionLimit))
            && matches!(self.outcome, Outcome::Accepted(_))
    }
}

/// The device a player presents on its API calls, as players send it: the
/// query parameter `mac` (a MAC) or `device_id` (any other id). tvgate
/// reads these first (docs/devices.md); other panels ignore them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceParam {
    /// `mac` or `device_id`.
    pub name: &'static str,
    pub value: String,
}

/// The `player_api.php` URL for a login (or an action).
pub fn api_url(base: &Url, username: &str, password: &str, action: Option<&str>) -> Url {
    api_url_as(base, username, password, action, None)
}

/// [`api_url`] with the device the player presents.
pub fn api_url_as(
    base: &Url,
    username: &str,
    password: &str,
    action: Option<&str>,
    device: Option<&DeviceParam>,
) -> Url {
    let mut url = base.join("player_api.php").unwrap_or_else(|_| base.clone());
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("username", username)
            .append_pair("password", password);
        if let Some(a) = action {
            q.append_pair("action", a);
        }
        if let Some(d) = device {
            q.append_pair(d.name, &d.value);
        }
    }
    url
}

fn login_check(title: impl Into<String>, verdict: Verdict) -> Check {
    Check::new(Step::Account, "account.login", title, verdict)
}

/// The cause a tvgate reason code points at.
pub fn cause_of_reason(code: &str) -> Cause {
    match code {
        "invalid_credentials" | "rate_limited" => Cause::Credentials,
        "expired" | "disabled" | "banned" | "output_format_not_allowed" | "not_in_package" => {
            Cause::Subscription
        }
        "connection_limit" => Cause::ConnectionLimit,
        "device_not_registered" | "device_limit" | "device_mismatch" => Cause::DeviceBinding,
        _ => Cause::ServerUnreachable,
    }
}

/// The fix for a suspended (disabled) line: not a renewal.
pub const FIX_SUSPENDED: &str = "The provider suspended the line: contact them to ask why and to have it re-enabled (renewing alone does not lift a suspension).";
/// The fix for a banned line: not a renewal.
pub const FIX_BANNED: &str = "The provider blocked (banned) the line: contact them to ask why (renewing does not lift a block).";
/// The fix for an expired line.
pub const FIX_EXPIRED: &str =
    "Renew the subscription with your provider (check whether the last payment went through).";

/// The verdict's sentence for an expired line (with its date when known).
pub fn expired_summary(at: Option<i64>) -> String {
    match at {
        Some(t) => format!(
            "The login is right, but the subscription expired on {}: it needs renewing.",
            utc_date(t)
        ),
        None => "The login is right, but the subscription has expired: it needs renewing.".into(),
    }
}

/// The verdict's sentence for a suspended (disabled) line.
pub const SUSPENDED_SUMMARY: &str = "The login is right, but the provider has suspended (disabled) the line: this is not an expiry, so renewing is not the fix.";
/// The verdict's sentence for a banned line.
pub const BANNED_SUMMARY: &str = "The login is right, but the provider has blocked (banned) the line: this is not an expiry, so renewing is not the fix.";

/// The fix for a tvgate reason code, in plain words.
pub fn fix_for_reason(code: &str) -> &'static str {
    match code {
        "invalid_credentials" => "Copy the username and password from the provider's e-mail again (paste, do not type).",
        "rate_limited" => "Too many wrong logins from here: wait the time shown, then log in once with the right password.",
        "expired" => "Renew the subscription with your provider (check whether the last payment went through).",
        "disabled" => FIX_SUSPENDED,
        "banned" => FIX_BANNED,
        "output_format_not_allowed" => "Set the app's stream format to one the line allows (Settings, stream format: TS or HLS).",
        "not_in_package" => "The channel is not in your package: ask the provider, or pick another channel.",
        "connection_limit" => "Close the app on the other devices listed (fully, not minimised), wait a minute, then try again; or ask for a plan with more connections.",
        "device_not_registered" | "device_limit" | "device_mismatch" => "Ask your provider to register this device (send them the MAC or device id the app shows).",
        "source_at_capacity" => "The provider's own source is full right now: try again later or another channel.",
        "ledger_unavailable" => "The provider's server cannot check connections right now: try again in a minute; if it lasts, tell the provider.",
        _ => "Contact your provider with the report.",
    }
}

fn flex_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        Value::Bool(b) => Some(*b as i64),
        _ => None,
    }
}

fn flex_str(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A date for a person: `2026-11-20 23:59 UTC`.
pub fn utc_date(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| t.to_string())
}

fn snippet(body: &[u8]) -> String {
    let s = String::from_utf8_lossy(&body[..body.len().min(200)]);
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// True when an answer is refused the way an app is refused (see
/// [`Login::refused_as_app`]): 401/403 (and 400/406/444), a web page (but
/// XUI's fake 404), an empty or non-Xtream answer.
fn refused_as_app(answer: &Result<Fetched, FetchError>) -> bool {
    let Ok(f) = answer else { return false };
    let status = f.status.as_u16();
    if status == 429 || f.header("x-tvgate-reason").is_some() {
        return false;
    }
    // XUI's fake 404 page is its answer to a wrong password too: asking
    // again four times would only add failed logins at a panel that may
    // ban an address for them.
    if status == 404 && f.is_html() {
        return false;
    }
    if f.is_html() || matches!(status, 400 | 401 | 403 | 406 | 444) {
        return true;
    }
    match serde_json::from_slice::<Value>(&f.body) {
        Ok(v) => v.get("user_info").is_none() && v.get("tvgate").is_none(),
        Err(_) => true,
    }
}

/// Interprets one login answer.
pub fn interpret(answer: &Result<Fetched, FetchError>, requested: &Url, now: i64) -> Login {
    let mut login = interpret_answer(answer, requested, now);
    login.refused_as_app = !matches!(login.outcome, Outcome::Accepted(_)) && refused_as_app(answer);
    login
}

fn interpret_answer(answer: &Result<Fetched, FetchError>, requested: &Url, now: i64) -> Login {
    let refused = |c: Check| Login {
        checks: vec![c.points_to(Cause::Credentials)],
        outcome: Outcome::Refused,
        refused_as_app: false,
    };
    let no_answer = |c: Check| Login {
        checks: vec![c.points_to(Cause::ServerUnreachable)],
        outcome: Outcome::NoAnswer,
        refused_as_app: false,
    };
    let f = match answer {
        Err(e) => {
            return no_answer(
                login_check("The login call got no answer", Verdict::Fault)
                    .evidence(format!("player_api.php: {e}"))
                    .fix("The server did not answer the login: it is down or blocked on this network. Try again later or on mobile data; if that works, this network blocks it."),
            )
        }
        Ok(f) => f,
    };
    let status = f.status.as_u16();
    let mut head = vec![format!("HTTP {status} in {} ms", f.millis)];
    if f.final_url.host_str() != requested.host_str() || f.final_url.path() != requested.path() {
        head.push(format!(
            "redirected to {}://{}{}",
            f.final_url.scheme(),
            f.final_url.host_str().unwrap_or("?"),
            f.final_url.path()
        ));
    }
    let with_head = |mut c: Check| {
        for h in &head {
            c = c.evidence(h.clone());
        }
        c
    };
    let tvgate_reason = f.header("x-tvgate-reason");
    if status == 429 {
        let mut c = with_head(login_check(
            "Too many failed logins: the server refuses to check the password for now",
            Verdict::Fault,
        ));
        if let Some(s) = f.header("retry-after") {
            c = c.evidence(format!("Retry-After: {s} s"));
        }
        if let Ok(v) = serde_json::from_slice::<Value>(&f.body) {
            if let Some(m) = v["tvgate"]["message"].as_str() {
                c = c.evidence(format!("tvgate: rate_limited: {m}"));
            }
        }
        return refused(c.fix(fix_for_reason("rate_limited")));
    }
    if f.is_html() {
        let title = html_title(&f.body).unwrap_or_else(|| "(no title)".into());
        if status == 404 {
            return refused(
                with_head(login_check(
                    "The panel refuses the login without saying why (an XUI-style \"404 Not Found\" page)",
                    Verdict::Fault,
                ))
                .evidence(format!("an HTML page titled \"{title}\" where the login's JSON was expected"))
                .evidence("XUI.one and XC_VM panels answer this page for a wrong username or password, and also for an expired, banned or disabled line")
                .fix("Copy the username and password from the welcome e-mail again; if they are right, the subscription has ended or been suspended: ask the provider."),
            );
        }
        return no_answer(
            with_head(login_check(
                "A web page answered instead of the IPTV server",
                Verdict::Fault,
            ))
            .evidence(format!("an HTML page titled \"{title}\" where the login's JSON was expected"))
            .evidence("this is what a block page, a captive portal (hotel, train Wi-Fi) or a parked domain looks like")
            .fix("Something between you and the server answers in its place. Log in to the network if it has a portal; otherwise try mobile data: if it works there, this network blocks the server. Report it to your provider."),
        );
    }
    if status == 401 || status == 403 {
        return refused(
            with_head(login_check(
                "The server refuses the username and password",
                Verdict::Fault,
            ))
            .evidence(format!("body: {}", snippet(&f.body)))
            .fix("Copy the username and password from the provider's e-mail again (paste, do not type); letters are case-sensitive."),
        );
    }
    if !f.status.is_success() {
        return no_answer(
            with_head(login_check(
                format!("The server answers the login with an error (HTTP {status})"),
                Verdict::Fault,
            ))
            .evidence(format!("body: {}", snippet(&f.body)))
            .fix(if status == 404 {
                "There is no Xtream Codes login at this address: check the server address and port against the provider's e-mail."
            } else {
                "The server has trouble right now: try again later, and tell your provider if it lasts."
            }),
        );
    }
    if f.body.iter().all(|b| b.is_ascii_whitespace()) {
        return refused(
            with_head(login_check("The server answers the login with nothing", Verdict::Fault))
                .evidence("an empty answer: Xtream Codes panels answer this way when the username or password is empty")
                .fix("Fill in both the username and the password."),
        );
    }
    let v: Value = match serde_json::from_slice(&f.body) {
        Ok(v) => v,
        Err(e) => {
            return no_answer(
                with_head(login_check(
                    "The login answer is not what an Xtream Codes server sends",
                    Verdict::Fault,
                ))
                .evidence(format!("not JSON ({e}); it starts: {}", snippet(&f.body)))
                .fix("Check that the address is the Xtream Codes server your provider gave (not their website)."),
            )
        }
    };
    let ui = &v["user_info"];
    let auth = match &ui["auth"] {
        Value::Number(n) => n.as_i64() == Some(1),
        Value::String(s) => s == "1",
        Value::Bool(b) => *b,
        _ => false,
    };
    let ext_reason = v["tvgate"]["reason"]
        .as_str()
        .map(str::to_string)
        .or(tvgate_reason);
    let ext_message = v["tvgate"]["message"].as_str().map(str::to_string);
    if !auth {
        let mut c = with_head(login_check(
            "The server refuses the username and password",
            Verdict::Fault,
        ))
        .evidence("user_info.auth = 0: the username does not exist or the password is wrong (servers do not say which)");
        if v.get("error").is_some() || ui.is_null() {
            c = c.evidence(format!("body: {}", snippet(&f.body)));
        }
        if let Some(r) = &ext_reason {
            c = c.evidence(format!("tvgate reason: {r}"));
        }
        return refused(c.fix("Copy the username and password from the provider's e-mail again (paste, do not type); letters are case-sensitive."));
    }
    let info = UserInfo {
        status: flex_str(&ui["status"]),
        exp_date: flex_i64(&ui["exp_date"]).filter(|t| *t > 0),
        is_trial: flex_i64(&ui["is_trial"]) == Some(1),
        active_cons: flex_i64(&ui["active_cons"]).and_then(|n| u64::try_from(n).ok()),
        max_connections: flex_i64(&ui["max_connections"]).and_then(|n| u64::try_from(n).ok()),
        formats: ui["allowed_output_formats"]
            .as_array()
            .map(|a| a.iter().filter_map(flex_str).collect())
            .unwrap_or_default(),
        message: ui["message"].as_str().unwrap_or("").to_string(),
        reason: ext_reason,
        reason_message: ext_message,
    };
    let mut checks = vec![with_head(login_check(
        "The username and password are accepted",
        Verdict::Ok,
    ))];
    checks.extend(account_checks(&info, now));
    Login {
        checks,
        outcome: Outcome::Accepted(info),
        refused_as_app: false,
    }
}

/// The checks an accepted login's `user_info` gives.
pub fn account_checks(info: &UserInfo, now: i64) -> Vec<Check> {
    let mut checks = Vec::new();
    let status = info.status.clone().unwrap_or_default();
    // tvgate shows `Disabled` to players for a refusal that is not the
    // line's state (a device not registered): its reason says which.
    let other_reason = info
        .reason
        .as_deref()
        .filter(|r| cause_of_reason(r) != Cause::Subscription);
    let mut c = match (status.as_str(), other_reason) {
        ("Active", _) => Check::new(Step::Account, "account.status", "The subscription is active", Verdict::Ok),
        ("Expired" | "Banned" | "Disabled", Some(code)) => Check::new(
            Step::Account,
            "account.status",
            format!("The status says {status}, for the reason below ({code}), not the subscription's state"),
            Verdict::Ok,
        ),
        ("Expired" | "Banned" | "Disabled", None) => {
            let (fix, summary) = match status.as_str() {
                "Expired" => (FIX_EXPIRED, expired_summary(info.exp_date.filter(|t| *t <= now))),
                "Banned" => (FIX_BANNED, BANNED_SUMMARY.to_string()),
                _ => (FIX_SUSPENDED, SUSPENDED_SUMMARY.to_string()),
            };
            Check::new(
                Step::Account,
                "account.status",
                match status.as_str() {
                    "Expired" => "The subscription has expired".to_string(),
                    "Banned" => "The provider has blocked (banned) the line".to_string(),
                    _ => "The provider has suspended (disabled) the line".to_string(),
                },
                Verdict::Fault,
            )
            .points_to(Cause::Subscription)
            .fix(fix)
            .summary(summary)
        }
        ("", _) => Check::new(Step::Account, "account.status", "The server does not say the subscription's status", Verdict::Warning),
        (other, _) => Check::new(
            Step::Account,
            "account.status",
            format!("The subscription's status is \"{other}\""),
            Verdict::Warning,
        )
        .fix("Not a standard Xtream status (Active, Expired, Banned, Disabled): some apps treat it as a refusal. Ask the provider what it means."),
    };
    c = c.evidence(format!(
        "status: {}",
        if status.is_empty() { "(none)" } else { &status }
    ));
    if !info.message.is_empty() {
        c = c.evidence(format!("message: {}", info.message));
    }
    checks.push(c);

    let expiry = match info.exp_date {
        None => Check::new(
            Step::Account,
            "account.expiry",
            "No expiry date",
            Verdict::Ok,
        )
        .evidence("exp_date: none (unlimited)"),
        Some(t) if t <= now => {
            let mut c = Check::new(
                Step::Account,
                "account.expiry",
                format!("The subscription expired on {}", utc_date(t)),
                Verdict::Fault,
            )
            .evidence(format!("exp_date: {t} ({})", utc_date(t)))
            .points_to(Cause::Subscription)
            .fix(FIX_EXPIRED);
            // A blocked or suspended line says so first: renewing would
            // not be the fix.
            if status != "Banned" && status != "Disabled" {
                c = c.summary(expired_summary(Some(t)));
            }
            if status == "Active" {
                c = c.evidence("status still says Active, but the expiry date has passed: most apps refuse such a line");
            }
            c
        }
        Some(t) if t - now < 3 * 86_400 => Check::new(
            Step::Account,
            "account.expiry",
            format!("The subscription ends soon: {}", utc_date(t)),
            Verdict::Warning,
        )
        .evidence(format!("exp_date: {t}"))
        .fix("Renew before it ends."),
        Some(t) => Check::new(
            Step::Account,
            "account.expiry",
            format!("The subscription runs until {}", utc_date(t)),
            Verdict::Ok,
        )
        .evidence(format!("exp_date: {t}")),
    };
    checks.push(expiry);

    if info.is_trial {
        checks.push(
            Check::new(
                Step::Account,
                "account.trial",
                "This is a trial line",
                Verdict::Ok,
            )
            .evidence("is_trial: 1 (trials often allow one connection and end after a day or two)"),
        );
    }

    let conns = match (info.active_cons, info.max_connections) {
        (a, Some(0)) => Check::new(Step::Account, "account.connections", "Connections: no limit", Verdict::Ok)
            .evidence(format!("active_cons: {}, max_connections: 0 (unlimited)", a.unwrap_or(0))),
        (Some(a), Some(m)) if a >= m => Check::new(
            Step::Account,
            "account.connections",
            format!("Every connection is in use: {a} of {m}"),
            Verdict::Fault,
        )
        .evidence(format!("active_cons: {a}, max_connections: {m}"))
        .evidence("a new player is refused until one of them stops")
        .points_to(Cause::ConnectionLimit)
        .fix("Close the app on every other device (fully, not minimised), wait a minute or two, then try again; or ask for a plan with more connections."),
        (a, Some(m)) => Check::new(
            Step::Account,
            "account.connections",
            format!("Connections in use: {} of {m}", a.unwrap_or(0)),
            Verdict::Ok,
        )
        .evidence(format!("active_cons: {}, max_connections: {m}", a.unwrap_or(0))),
        (_, None) => Check::new(
            Step::Account,
            "account.connections",
            "The server does not say how many connections are allowed",
            Verdict::Ok,
        ),
    };
    checks.push(conns);

    checks.push(if info.formats.is_empty() {
        Check::new(
            Step::Account,
            "account.formats",
            "No stream format is allowed",
            Verdict::Warning,
        )
        .evidence("allowed_output_formats: []")
        .fix("Ask the provider which stream format (TS or HLS) your line may use.")
    } else {
        Check::new(
            Step::Account,
            "account.formats",
            format!("Stream formats allowed: {}", info.formats.join(", ")),
            Verdict::Ok,
        )
        .evidence(format!("allowed_output_formats: {:?}", info.formats))
    });

    if let Some(code) = &info.reason {
        let cause = cause_of_reason(code);
        let mut c = Check::new(
            Step::Account,
            "account.tvgate",
            format!("tvgate says why: {code}"),
            Verdict::Fault,
        )
        .evidence(format!("tvgate.reason: {code}"))
        .points_to(cause)
        .fix(fix_for_reason(code));
        match code.as_str() {
            "expired" => c = c.summary(expired_summary(info.exp_date)),
            "disabled" => c = c.summary(SUSPENDED_SUMMARY),
            "banned" => c = c.summary(BANNED_SUMMARY),
            _ => {}
        }
        if let Some(m) = &info.reason_message {
            c = c.evidence(format!("tvgate.message: {m}"));
        }
        checks.push(c);
    }
    checks
}

/// Logs in (one call, within the step's deadline), presenting `device`
/// as a player bound to a device does.
pub async fn login(
    http: &Http,
    base: &Url,
    username: &str,
    password: &str,
    device: Option<&DeviceParam>,
    now: i64,
) -> Login {
    let url = api_url_as(base, username, password, None, device);
    let answer = http.get(&url, LOGIN_LIMIT).await;
    interpret(&answer, &url, now)
}

/// One live channel the line can see.
#[derive(Debug, Clone)]
pub struct Channel {
    pub id: String,
    pub name: String,
}

/// The first live channel of `get_live_streams` (only the start of a long
/// list is read).
pub async fn first_live_channel(
    http: &Http,
    base: &Url,
    username: &str,
    password: &str,
    device: Option<&DeviceParam>,
) -> Result<Channel, Check> {
    let url = api_url_as(base, username, password, Some("get_live_streams"), device);
    let f = http
        .get(&url, LIST_LIMIT)
        .await
        .map_err(|e| pick_failed("The channel list could not be read".into(), e.to_string()))?;
    read_first_live_channel(&f)
}

fn pick_failed(title: String, evidence: String) -> Check {
    Check::new(Step::Stream, "stream.pick", title, Verdict::Warning).evidence(evidence)
}

/// The first live channel of a `get_live_streams` answer (only its start
/// is read), or the check saying why there is none. The `Check` is the
/// answer itself, made once per run, as `first_live_channel`'s.
#[allow(clippy::result_large_err)]
pub fn read_first_live_channel(f: &Fetched) -> Result<Channel, Check> {
    let fail = pick_failed;
    if !f.status.is_success() || f.is_html() {
        return Err(fail(
            "The channel list could not be read".into(),
            format!("HTTP {}, {}", f.status.as_u16(), snippet(&f.body)),
        ));
    }
    let start = f.body.iter().position(|b| *b == b'{').ok_or_else(|| {
        fail(
            "The line sees no live channel".into(),
            format!("get_live_streams: {}", snippet(&f.body)),
        )
    })?;
    let first = serde_json::Deserializer::from_slice(&f.body[start..])
        .into_iter::<Value>()
        .next()
        .and_then(Result::ok)
        .ok_or_else(|| fail("The channel list is not readable".into(), snippet(&f.body)))?;
    let id = flex_str(&first["stream_id"]).ok_or_else(|| {
        fail(
            "The channel list has no stream ids".into(),
            snippet(&f.body),
        )
    })?;
    Ok(Channel {
        id,
        name: first["name"].as_str().unwrap_or("").to_string(),
    })
}

/// The live URL of a channel in the given container (`ts` or `m3u8`).
pub fn live_url(base: &Url, username: &str, password: &str, id: &str, ext: &str) -> Url {
    let mut url = base.clone();
    if let Ok(mut seg) = url.path_segments_mut() {
        seg.pop_if_empty()
            .push("live")
            .push(username)
            .push(password)
            .push(&format!("{id}.{ext}"));
    }
    url
}

/// The playlist behind an M3U link: its status, `#EXTM3U` and entry count,
/// and its first entry to play.
pub async fn playlist(http: &Http, url: &Url) -> (Check, Option<(Url, String)>) {
    let f = match http.get(url, PLAYLIST_LIMIT).await {
        Err(e) => {
            return (
                Check::new(Step::Account, "account.playlist", "The playlist link got no answer", Verdict::Fault)
                    .evidence(e.to_string())
                    .points_to(Cause::ServerUnreachable)
                    .fix("The server did not answer: it is down or blocked on this network. Try again later or on mobile data."),
                None,
            )
        }
        Ok(f) => f,
    };
    let status = f.status.as_u16();
    let reason = f.header("x-tvgate-reason");
    if !f.status.is_success() {
        let body = snippet(&f.body);
        let cause = match (&reason, status) {
            (Some(r), _) => cause_of_reason(r),
            (None, 401 | 403) => Cause::Credentials,
            (None, 404) if f.is_html() => Cause::Credentials,
            _ => Cause::ServerUnreachable,
        };
        let mut c = Check::new(
            Step::Account,
            "account.playlist",
            format!("The playlist link is refused (HTTP {status})"),
            Verdict::Fault,
        )
        .evidence(format!("HTTP {status}: {body}"))
        .points_to(cause)
        .fix(match &reason {
            Some(r) => fix_for_reason(r),
            None if cause == Cause::Credentials => "Copy the link from the provider's e-mail again: the username or password in it is not accepted (or the subscription ended).",
            None => "The server has trouble with this link: check it against the provider's e-mail and try again later.",
        });
        if let Some(r) = reason {
            c = c.evidence(format!("X-Tvgate-Reason: {r}"));
        }
        return (c, None);
    }
    let text = String::from_utf8_lossy(&f.body);
    if !text
        .trim_start_matches('\u{FEFF}')
        .trim_start()
        .starts_with("#EXTM3U")
    {
        let what = if f.is_html() {
            format!(
                "an HTML page titled \"{}\"",
                html_title(&f.body).unwrap_or_default()
            )
        } else {
            format!("it starts: {}", snippet(&f.body))
        };
        return (
            Check::new(Step::Account, "account.playlist", "The link does not give a playlist", Verdict::Fault)
                .evidence(format!("no #EXTM3U header; {what}"))
                .points_to(Cause::ServerUnreachable)
                .fix("Check the link against the provider's e-mail; if it is right, the server or this network answers in its place."),
            None,
        );
    }
    let mut entries = 0usize;
    let mut first = None;
    let mut name = String::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("#EXTINF") {
            entries += 1;
            if first.is_none() {
                name = rest.rsplit(',').next().unwrap_or("").trim().to_string();
            }
        } else if !line.is_empty() && !line.starts_with('#') && first.is_none() {
            first = url.join(line).ok();
        }
    }
    let mut c = Check::new(
        Step::Account,
        "account.playlist",
        format!(
            "The playlist loads: {entries} {}",
            if entries == 1 { "entry" } else { "entries" }
        ),
        if entries == 0 {
            Verdict::Warning
        } else {
            Verdict::Ok
        },
    )
    .evidence(format!(
        "HTTP {status}, #EXTM3U present, {} bytes{}",
        f.body.len(),
        if f.truncated {
            " (only the start was read)"
        } else {
            ""
        }
    ));
    if entries == 0 {
        c = c.fix(
            "The playlist is empty: ask the provider whether channels are assigned to your line.",
        );
    }
    (c, first.map(|u| (u, name)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderMap;
    use reqwest::StatusCode;

    fn answer(status: u16, ctype: &str, body: &str) -> Result<Fetched, FetchError> {
        Ok(Fetched {
            status: StatusCode::from_u16(status).expect("status"),
            headers: HeaderMap::new(),
            content_type: ctype.into(),
            body: bytes::Bytes::from(body.to_string()),
            truncated: false,
            final_url: Url::parse("http://h/player_api.php").expect("url"),
            millis: 3,
        })
    }

    fn url() -> Url {
        Url::parse("http://h/player_api.php").expect("url")
    }

    #[test]
    fn the_families_of_no() {
        for (status, ctype, body, outcome) in [
            (
                200,
                "application/json",
                r#"{"user_info":{"auth":0}}"#,
                Outcome::Refused,
            ),
            (
                401,
                "application/json",
                r#"{"error":"Unauthorized"}"#,
                Outcome::Refused,
            ),
            (
                404,
                "text/html",
                "<html><head><title>404 Not Found</title></head></html>",
                Outcome::Refused,
            ),
            (
                200,
                "text/html",
                "<html><title>Blocked</title></html>",
                Outcome::NoAnswer,
            ),
            (502, "text/plain", "bad gateway", Outcome::NoAnswer),
        ] {
            let l = interpret(&answer(status, ctype, body), &url(), 1000);
            assert_eq!(l.outcome, outcome, "{status} {body}");
            assert_eq!(l.checks[0].verdict, Verdict::Fault);
        }
    }

    #[test]
    fn an_active_status_with_a_past_expiry_is_expired() {
        let l = interpret(
            &answer(
                200,
                "application/json",
                r#"{"user_info":{"auth":1,"status":"Active","exp_date":"900","active_cons":"0","max_connections":"1","allowed_output_formats":["ts"]}}"#,
            ),
            &url(),
            1000,
        );
        let e = l
            .checks
            .iter()
            .find(|c| c.id == "account.expiry")
            .expect("expiry");
        assert_eq!(e.verdict, Verdict::Fault);
        assert_eq!(e.points_to, Some(Cause::Subscription));
        assert!(!l.playable());
    }

    #[test]
    fn full_and_tvgate_reason() {
        let l = interpret(
            &answer(
                200,
                "application/json",
                r#"{"user_info":{"auth":1,"status":"Banned","exp_date":null,"active_cons":2,"max_connections":"2"},"tvgate":{"reason":"banned","message":"Blocked"}}"#,
            ),
            &url(),
            1000,
        );
        let ids: Vec<_> = l
            .checks
            .iter()
            .filter(|c| c.verdict == Verdict::Fault)
            .map(|c| c.id.as_str())
            .collect();
        assert_eq!(
            ids,
            ["account.status", "account.connections", "account.tvgate"]
        );
    }
}
