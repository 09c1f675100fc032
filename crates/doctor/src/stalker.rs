//! The account step for a Stalker/Ministra (MAG) portal, spoken as a box
//! speaks it (protocols.md §3, docs/stalker.md): the handshake for a
//! session token, `get_profile` with the MAC (and the serial when one was
//! given), `do_auth` when the portal asks for a login, the account's end
//! date, the first channel of the list, and one `create_link`, whose link
//! the stream step then opens and reads.
//!
//! A box is its MAC, so the refusals this step tells apart are a box's:
//! the MAC is not registered on this portal; the line is bound to another
//! device (tvgate's `device_not_registered` hint, read by `binding`); the
//! account is expired, banned or suspended; the portal blocks this address
//! for trying too many MACs; and the portal is at the other path (`/c/` vs
//! `/stalker_portal/c/`), tried when the given one does not answer.
//!
//! The serial (`sn`) is sent only when given: tvgate pins a box's serial on
//! first contact, and a made-up one would lock the real box out.

use crate::account::{
    expired_summary, BANNED_SUMMARY, FIX_BANNED, FIX_EXPIRED, FIX_SUSPENDED, SUSPENDED_SUMMARY,
};
use crate::check::{Cause, Check, Step, Verdict};
use crate::fetch::{FetchError, Fetched, Http};
use crate::input::PortalPath;
use reqwest::Url;
use serde_json::Value;

/// The user agent of a MAG box's portal browser.
pub const MAG_USER_AGENT: &str = "Mozilla/5.0 (QtEmbedded; U; Linux; C) AppleWebKit/533.3 (KHTML, like Gecko) MAG200 stbapp ver: 2 rev: 250 Safari/533.3";

/// tvgate's answer to a MAC from an address blocked for scanning
/// (crates/http/src/stalker/stb.rs, `SCAN_BLOCKED`).
const TVGATE_SCAN_BLOCKED: &str = "too many unregistered devices were tried from this address";

/// Most of one portal answer that is read.
const ANSWER_LIMIT: usize = 4 * 1024 * 1024;

/// What the portal step found.
#[derive(Debug, Clone, Default)]
pub struct PortalOutcome {
    pub checks: Vec<Check>,
    /// The channel link to open, and the channel's name.
    pub stream: Option<(Url, String)>,
    /// The box may watch (profile status 0).
    pub may_watch: bool,
}

/// What the subscriber gave about the box.
#[derive(Debug, Clone, Copy)]
pub struct BoxId<'a> {
    pub mac: &'a str,
    pub serial: Option<&'a str>,
    /// Username and password, for a portal that asks for them (`do_auth`).
    pub login: Option<(&'a str, &'a str)>,
}

/// A box's session with one portal endpoint.
struct Session<'a> {
    http: &'a Http,
    endpoint: Url,
    referer: Url,
    mac: &'a str,
    token: String,
}

/// The API endpoints a portal path is served at, most common first.
pub fn endpoints(prefix: &Url, path: PortalPath) -> Vec<Url> {
    let rel: &[&str] = match path {
        PortalPath::C => &["portal.php", "server/load.php", "c/portal.php"],
        PortalPath::StalkerPortal => &[
            "stalker_portal/server/load.php",
            "stalker_portal/c/portal.php",
        ],
    };
    rel.iter().filter_map(|r| prefix.join(r).ok()).collect()
}

/// The portal address as a box is given it.
pub fn portal_address(prefix: &Url, path: PortalPath) -> String {
    prefix
        .join(path.as_str())
        .map(|u| u.to_string())
        .unwrap_or_else(|_| prefix.to_string())
}

fn account_check(id: &str, title: impl Into<String>, verdict: Verdict) -> Check {
    Check::new(Step::Account, id, title, verdict)
}

fn snippet(body: &[u8]) -> String {
    let s = String::from_utf8_lossy(&body[..body.len().min(200)]);
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The `js` payload of an answer, or what came instead.
fn payload(f: &Fetched) -> Result<Value, String> {
    let text = String::from_utf8_lossy(&f.body);
    match serde_json::from_str::<Value>(text.trim()) {
        Ok(v) if v.get("js").is_some() => Ok(v["js"].clone()),
        Ok(_) => Err(format!("JSON without \"js\": {}", snippet(&f.body))),
        Err(_) => Err(format!(
            "HTTP {}: {}",
            f.status.as_u16(),
            if f.body.is_empty() {
                "(empty)".to_string()
            } else {
                snippet(&f.body)
            }
        )),
    }
}

fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

impl Session<'_> {
    fn url(&self, query: &[(&str, &str)]) -> Url {
        let mut url = self.endpoint.clone();
        {
            let mut q = url.query_pairs_mut();
            for (k, v) in query {
                q.append_pair(k, v);
            }
            q.append_pair("JsHttpRequest", "1-xml");
        }
        url
    }

    async fn call(&self, query: &[(&str, &str)]) -> Result<Fetched, FetchError> {
        let mut cookie = Url::parse("http://x/").map_err(|e| FetchError::Failed(e.to_string()))?;
        cookie.query_pairs_mut().append_pair("mac", self.mac);
        let mac_cookie = cookie.query().unwrap_or("").to_string();
        let mut headers = vec![
            ("cookie", format!("{mac_cookie}; stb_lang=en; timezone=UTC")),
            ("x-user-agent", "Model: MAG250; Link: Ethernet".to_string()),
            ("referer", self.referer.to_string()),
        ];
        if !self.token.is_empty() {
            headers.push(("authorization", format!("Bearer {}", self.token)));
        }
        self.http
            .get_with(&self.url(query), &headers, ANSWER_LIMIT)
            .await
    }
}

/// How a handshake at one endpoint went.
enum Handshake {
    Token(String),
    /// 404, a web page, or an answer that is not a portal's.
    NotHere(String),
    /// No answer at all.
    Failed(String),
}

async fn handshake(s: &Session<'_>) -> Handshake {
    match s
        .call(&[("type", "stb"), ("action", "handshake"), ("token", "")])
        .await
    {
        Err(e) => Handshake::Failed(e.to_string()),
        Ok(f) => match payload(&f) {
            Ok(js) => match js["token"].as_str().filter(|t| !t.is_empty()) {
                Some(t) => Handshake::Token(t.to_string()),
                None => Handshake::NotHere(format!("no token in the answer: {}", snippet(&f.body))),
            },
            Err(e) => Handshake::NotHere(e),
        },
    }
}

/// Speaks the portal as the box would, up to the channel link.
pub async fn check(
    http: &Http,
    prefix: &Url,
    given_path: PortalPath,
    id: BoxId<'_>,
) -> PortalOutcome {
    let mut out = PortalOutcome::default();
    let mut tried = Vec::new();
    let mut found = None;
    'paths: for path in [given_path, given_path.other()] {
        for endpoint in endpoints(prefix, path) {
            let mut s = Session {
                http,
                referer: prefix
                    .join(path.as_str())
                    .unwrap_or_else(|_| prefix.clone()),
                endpoint: endpoint.clone(),
                mac: id.mac,
                token: String::new(),
            };
            match handshake(&s).await {
                Handshake::Token(t) => {
                    s.token = t;
                    found = Some((path, s));
                    break 'paths;
                }
                Handshake::NotHere(why) | Handshake::Failed(why) => {
                    tried.push(format!("{}: {why}", endpoint.path()));
                }
            }
        }
    }
    let Some((path, mut s)) = found else {
        let mut c = account_check(
            "stalker.handshake",
            "No Stalker portal answers at this address",
            Verdict::Fault,
        )
        .points_to(Cause::ServerUnreachable)
        .fix("Check the portal address against the provider's e-mail (it usually ends in /c/ or /stalker_portal/c/), with its port.");
        for t in tried {
            c = c.evidence(t);
        }
        out.checks.push(c);
        return out;
    };
    if path != given_path {
        let right = portal_address(prefix, path);
        let mut c = Check::new(
            Step::Typing,
            "stalker.path",
            format!(
                "The portal is at /{}, not at /{}",
                path.as_str(),
                given_path.as_str()
            ),
            Verdict::Fault,
        )
        .points_to(Cause::Credentials)
        .decisive()
        .summary(format!(
            "The portal address has the wrong path: the portal answers at {right}."
        ))
        .fix(format!("Use {right} as the portal address."));
        for t in &tried {
            c = c.evidence(t.clone());
        }
        out.checks
            .push(c.evidence(format!("{}: a portal answers", s.endpoint.path())));
    }
    out.checks.push(
        account_check(
            "stalker.handshake",
            "The portal answers the box's handshake",
            Verdict::Ok,
        )
        .evidence(format!("{}: a session token was given", s.endpoint.path())),
    );

    let mut profile = get_profile(&s, id).await;
    if let Ok(js) = &profile {
        if as_i64(&js["status"]) == Some(2) {
            match id.login {
                Some((user, pass)) => {
                    let ok = s
                        .call(&[
                            ("type", "stb"),
                            ("action", "do_auth"),
                            ("login", user),
                            ("password", pass),
                        ])
                        .await
                        .ok()
                        .and_then(|f| payload(&f).ok())
                        .is_some_and(|v| v == Value::Bool(true) || v == 1);
                    if ok {
                        out.checks.push(account_check(
                            "stalker.login",
                            "The portal accepts the login and password for this MAC",
                            Verdict::Ok,
                        ));
                        profile = get_profile(&s, id).await;
                    } else {
                        out.checks.push(
                            account_check("stalker.login", "The portal refuses the login and password for this MAC", Verdict::Fault)
                                .evidence("stb do_auth answered false")
                                .points_to(Cause::Credentials)
                                .fix("Copy the login and password from the provider's e-mail again; they must be the ones of the line this MAC belongs to."),
                        );
                        return out;
                    }
                }
                None => {
                    out.checks.push(
                        account_check("stalker.profile", "The portal asks for a login and password", Verdict::Fault)
                            .evidence("get_profile: status 2 (login and password needed)")
                            .evidence("portals that ask for a login answer an unknown MAC the same way")
                            .points_to(Cause::Credentials)
                            .summary("The portal wants a login and password with this MAC.")
                            .fix("Run the doctor again with --username and --password as the provider gave them for the box (the box asks for them on its screen)."),
                    );
                    return out;
                }
            }
        }
    }
    let js = match profile {
        Ok(js) => js,
        Err(why) => {
            out.checks.push(
                account_check("stalker.profile", "The portal does not give the box's profile", Verdict::Fault)
                    .evidence(format!("get_profile: {why}"))
                    .points_to(Cause::ServerUnreachable)
                    .fix("The portal answered the handshake but not the profile: try again later, and tell the provider if it lasts."),
            );
            return out;
        }
    };
    let status = as_i64(&js["status"]);
    if status != Some(0) {
        let msg = [as_text(&js["msg"]), as_text(&js["block_msg"])]
            .into_iter()
            .find(|m| !m.trim().is_empty())
            .unwrap_or_default();
        out.checks
            .push(refusal(http, prefix, &msg, status, id.mac).await);
        return out;
    }
    out.may_watch = true;
    let login = as_text(&js["login"]);
    let mut c = account_check(
        "stalker.profile",
        "The portal knows this MAC: the box may watch",
        Verdict::Ok,
    )
    .evidence(format!(
        "get_profile: status 0{}",
        if login.is_empty() {
            String::new()
        } else {
            format!(", account {login}")
        }
    ));
    if let Some((user, _)) = id.login {
        if !login.is_empty() && !user.trim().eq_ignore_ascii_case(login.trim()) {
            c = account_check(
                "stalker.profile",
                format!("This MAC belongs to another account ({login}) than yours ({user})"),
                Verdict::Fault,
            )
            .evidence(format!("get_profile: status 0, account {login}"))
            .points_to(Cause::DeviceBinding)
            .summary("The MAC is registered to another account than the one you gave.")
            .fix(format!(
                "Check the MAC against the one the box shows; if it is right, ask the provider to move MAC {} to your account ({user}).",
                id.mac
            ));
            out.may_watch = false;
        }
    }
    out.checks.push(c);
    if !out.may_watch {
        return out;
    }
    out.checks.push(account_info(&s).await);
    // The channel list, then one link.
    let Some((cmd, name)) = first_channel(&mut s, &mut out.checks).await else {
        return out;
    };
    out.stream = create_link(&s, &cmd, &name, &mut out.checks)
        .await
        .map(|u| (u, name));
    out
}

async fn get_profile(s: &Session<'_>, id: BoxId<'_>) -> Result<Value, String> {
    let mut q = vec![
        ("type", "stb"),
        ("action", "get_profile"),
        ("hd", "1"),
        (
            "ver",
            "ImageDescription: 0.2.18-r23-250; PORTAL version: 5.6.2",
        ),
        ("num_banks", "2"),
        ("stb_type", "MAG250"),
        ("image_version", "218"),
        ("video_out", "hdmi"),
        ("auth_second_step", "1"),
        ("hw_version", "1.7-BD-00"),
        ("not_valid_token", "0"),
    ];
    if let Some(sn) = id.serial.filter(|s| !s.trim().is_empty()) {
        q.push(("sn", sn));
    }
    match s.call(&q).await {
        Err(e) => Err(e.to_string()),
        Ok(f) => payload(&f),
    }
}

/// A profile that is not status 0, named.
async fn refusal(http: &Http, prefix: &Url, msg: &str, status: Option<i64>, mac: &str) -> Check {
    let lower = msg.to_ascii_lowercase();
    let head = format!(
        "get_profile: status {}, message \"{msg}\"",
        status.map(|s| s.to_string()).unwrap_or_else(|| "?".into())
    );
    if lower.contains(TVGATE_SCAN_BLOCKED)
        || (lower.contains("too many") && lower.contains("block"))
    {
        return account_check(
            "stalker.profile",
            "The portal blocks this address for trying too many MACs",
            Verdict::Fault,
        )
        .evidence(head)
        .evidence("portals block an address that presents many unknown MACs in a short time (a MAC scan); while blocked, every MAC from it is refused, registered ones too")
        .points_to(Cause::Credentials)
        .summary("The portal blocks this address for a while because too many MACs were tried from it; the MAC itself was not checked.")
        .fix("Wait for the block to end (on tvgate 10 minutes by default), then try once with the right MAC and no other. If nobody here tried other MACs, another device on this network did: tell the provider.");
    }
    if crate::binding::is_hint(msg) {
        let portal = crate::binding::self_service(http, prefix).await;
        return crate::binding::explain(
            "stalker.profile",
            Step::Account,
            msg,
            Some(mac),
            portal.as_ref(),
        )
        .evidence(head);
    }
    if lower.contains("not registered") || lower.contains("unknown") || lower.contains("not found")
    {
        return account_check(
            "stalker.profile",
            "This MAC is not registered on this portal",
            Verdict::Fault,
        )
        .evidence(head)
        .points_to(Cause::DeviceBinding)
        .summary("This MAC is not registered on this portal.")
        .fix(format!(
            "Check the MAC against the one the box shows (Settings, About, or the sticker underneath: it starts 00:1A:79 on MAG boxes); if it is right, send MAC {mac} to the provider and ask them to register it."
        ));
    }
    let subscription = |title: &str, summary: String, fix: &str| {
        account_check("stalker.profile", title.to_string(), Verdict::Fault)
            .evidence(head.clone())
            .points_to(Cause::Subscription)
            .summary(summary)
            .fix(fix.to_string())
    };
    if lower.contains("expired") {
        let date = lower
            .find("expired on ")
            .map(|i| {
                msg[i + "expired on ".len()..]
                    .trim()
                    .trim_end_matches('.')
                    .to_string()
            })
            .filter(|d| !d.is_empty());
        let summary = match &date {
            Some(d) => format!(
                "The MAC is registered, but the subscription expired on {d}: it needs renewing."
            ),
            None => expired_summary(None),
        };
        return subscription(
            &match &date {
                Some(d) => format!("The subscription expired on {d}"),
                None => "The subscription has expired".to_string(),
            },
            summary,
            FIX_EXPIRED,
        );
    }
    if lower.contains("banned") || lower.contains("blocked") {
        return subscription(
            "The provider has blocked (banned) the line",
            BANNED_SUMMARY.to_string(),
            FIX_BANNED,
        );
    }
    if lower.contains("suspended") || lower.contains("disabled") || lower.contains("not active") {
        return subscription(
            "The provider has suspended (disabled) the line",
            SUSPENDED_SUMMARY.to_string(),
            FIX_SUSPENDED,
        );
    }
    account_check("stalker.profile", "The portal refuses this box", Verdict::Fault)
        .evidence(head)
        .points_to(Cause::Subscription)
        .fix("The portal refuses the box without a reason the doctor knows: send this report to the provider and ask what the message means.")
}

async fn account_info(s: &Session<'_>) -> Check {
    match s
        .call(&[("type", "account_info"), ("action", "get_main_info")])
        .await
    {
        Ok(f) => match payload(&f) {
            Ok(js) => {
                let end = [as_text(&js["end_date"]), as_text(&js["phone"])]
                    .into_iter()
                    .find(|e| !e.trim().is_empty());
                match end {
                    Some(e) => account_check(
                        "stalker.account",
                        format!("The account runs until {e}"),
                        Verdict::Ok,
                    )
                    .evidence(format!("account_info: end_date {e}")),
                    None => account_check(
                        "stalker.account",
                        "The portal does not say when the account ends",
                        Verdict::Ok,
                    ),
                }
            }
            Err(why) => account_check(
                "stalker.account",
                "The account's details could not be read",
                Verdict::Ok,
            )
            .evidence(format!("account_info: {why}")),
        },
        Err(e) => account_check(
            "stalker.account",
            "The account's details could not be read",
            Verdict::Ok,
        )
        .evidence(e.to_string()),
    }
}

/// The first channel with a command: `get_ordered_list` page 1, else
/// `get_all_channels`.
async fn first_channel(s: &mut Session<'_>, checks: &mut Vec<Check>) -> Option<(String, String)> {
    let mut last = String::new();
    for q in [
        &[
            ("type", "itv"),
            ("action", "get_ordered_list"),
            ("genre", "*"),
            ("p", "1"),
            ("sortby", "number"),
        ][..],
        &[("type", "itv"), ("action", "get_all_channels")][..],
    ] {
        let f = match s.call(q).await {
            Ok(f) => f,
            Err(e) => {
                last = e.to_string();
                continue;
            }
        };
        let text = String::from_utf8_lossy(&f.body);
        if text.trim() == "Access denied." {
            checks.push(
                Check::new(
                    Step::Stream,
                    "stream.pick",
                    "The portal denies the channel list",
                    Verdict::Fault,
                )
                .evidence("the portal answered \"Access denied.\"")
                .points_to(Cause::Subscription)
                .fix("The line may not be served right now: ask the provider why."),
            );
            return None;
        }
        match payload(&f) {
            Ok(js) => {
                let total = as_i64(&js["total_items"]).unwrap_or(0);
                let first = js["data"]
                    .as_array()
                    .and_then(|a| a.iter().find(|c| !as_text(&c["cmd"]).trim().is_empty()));
                if let Some(ch) = first {
                    let name = as_text(&ch["name"]);
                    checks.push(
                        Check::new(
                            Step::Stream,
                            "stream.pick",
                            format!("The box sees {total} channels; the first is {name}"),
                            Verdict::Ok,
                        )
                        .evidence(format!("itv {}: {total} channels", q[1].1)),
                    );
                    return Some((as_text(&ch["cmd"]), name));
                }
                last = format!("itv {}: {total} channels, none with a command", q[1].1);
            }
            Err(why) => last = format!("itv {}: {why}", q[1].1),
        }
    }
    checks.push(
        Check::new(Step::Stream, "stream.pick", "The box sees no channel", Verdict::Warning)
            .evidence(last)
            .fix("The portal lists no channel for this box: ask the provider whether channels are assigned to the line."),
    );
    None
}

/// `itv create_link`: the URL to play, from `cmd` (`ffmpeg http://…`).
async fn create_link(
    s: &Session<'_>,
    cmd: &str,
    name: &str,
    checks: &mut Vec<Check>,
) -> Option<Url> {
    let answer = match s
        .call(&[
            ("type", "itv"),
            ("action", "create_link"),
            ("cmd", cmd),
            ("series", ""),
            ("forced_storage", "0"),
            ("disable_ad", "0"),
            ("download", "0"),
        ])
        .await
    {
        Ok(f) => f,
        Err(e) => {
            checks.push(
                Check::new(
                    Step::Stream,
                    "stalker.link",
                    format!("No link for {name}: the portal does not answer"),
                    Verdict::Fault,
                )
                .evidence(e.to_string())
                .points_to(Cause::ServerUnreachable)
                .fix("Try again later; tell the provider if it lasts."),
            );
            return None;
        }
    };
    let text = String::from_utf8_lossy(&answer.body);
    let js = match payload(&answer) {
        Ok(js) => js,
        Err(why) => {
            let denied = text.trim() == "Access denied.";
            checks.push(
                Check::new(Step::Stream, "stalker.link", format!("No link for {name}"), Verdict::Fault)
                    .evidence(format!("create_link: {why}"))
                    .points_to(if denied { Cause::Subscription } else { Cause::ServerUnreachable })
                    .fix(if denied {
                        "The line may not be served right now: ask the provider why."
                    } else {
                        "The portal does not give links right now: try again later, and tell the provider if it lasts."
                    }),
            );
            return None;
        }
    };
    let error = as_text(&js["error"]);
    let link = as_text(&js["cmd"]);
    let url = link.split_whitespace().find_map(|w| {
        Url::parse(w)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
    });
    match (error.as_str(), url) {
        ("", Some(u)) => {
            checks.push(
                Check::new(
                    Step::Stream,
                    "stalker.link",
                    format!("The portal gives a link for {name}"),
                    Verdict::Ok,
                )
                .evidence(format!(
                    "create_link: {}://{}/…/{}",
                    u.scheme(),
                    u.host_str().unwrap_or("?"),
                    u.path_segments()
                        .and_then(|mut p| p.next_back())
                        .unwrap_or("")
                )),
            );
            Some(u)
        }
        (err, _) => {
            let (cause, fix) = match err {
                "access_denied" => (Cause::Subscription, "The line may not watch this channel (or the subscription ended): ask the provider."),
                "limit" | "link_fault" => (Cause::ConnectionLimit, "Every connection is in use: close the other boxes or apps, wait a minute, then try again."),
                _ => (Cause::ServerUnreachable, "The channel has nothing to play right now: try another one; tell the provider if none plays."),
            };
            checks.push(
                Check::new(
                    Step::Stream,
                    "stalker.link",
                    format!(
                        "No link for {name}: {}",
                        if err.is_empty() { "none given" } else { err }
                    ),
                    Verdict::Fault,
                )
                .evidence(format!(
                    "create_link: error \"{err}\", cmd \"{}\"",
                    snippet(link.as_bytes())
                ))
                .points_to(cause)
                .fix(fix),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_paths_have_their_endpoints() {
        let p = Url::parse("http://h:8080/").expect("url");
        let c: Vec<String> = endpoints(&p, PortalPath::C)
            .iter()
            .map(|u| u.path().to_string())
            .collect();
        assert_eq!(c, ["/portal.php", "/server/load.php", "/c/portal.php"]);
        let s: Vec<String> = endpoints(&p, PortalPath::StalkerPortal)
            .iter()
            .map(|u| u.path().to_string())
            .collect();
        assert_eq!(
            s,
            [
                "/stalker_portal/server/load.php",
                "/stalker_portal/c/portal.php"
            ]
        );
        assert_eq!(
            portal_address(&p, PortalPath::StalkerPortal),
            "http://h:8080/stalker_portal/c/"
        );
    }
}
