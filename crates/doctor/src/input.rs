//! What a person has, turned into one normalised target.
//!
//! People arrive with whatever their welcome e-mail held: a server URL and
//! two fields, an M3U link, or one pasted line ("server user pass", a
//! `get.php` link, `http://host:port/user/pass/`, a portal URL with a MAC).
//! Half of "Failed to Authorize" is the shape of that input (the article's
//! "wrong login method"), so this module both normalises it and says, as
//! checks of the typing step, every reshaping it had to do. It is pure: no
//! network, and the raw inputs are kept for the typing check.

use crate::check::{Cause, Check, Step, Verdict};
use reqwest::Url;

/// What was given on the command line, as typed.
#[derive(Debug, Clone, Default)]
pub struct Given {
    /// One pasted line (positional argument).
    pub line: Option<String>,
    pub server: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub m3u: Option<String>,
    pub mac: Option<String>,
    /// `--device-id`: the device id an Xtream app shows (not a MAC).
    pub device_id: Option<String>,
    /// `--serial`: a MAG box's serial number (sent to a portal as `sn`).
    pub serial: Option<String>,
}

/// Which of the two portal paths a Stalker address names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortalPath {
    /// `http://host/c/` (the API at `/portal.php` or `/server/load.php`).
    C,
    /// `http://host/stalker_portal/c/` (Ministra's layout).
    StalkerPortal,
}

impl PortalPath {
    /// The path as typed after the server, e.g. `stalker_portal/c/`.
    pub fn as_str(self) -> &'static str {
        match self {
            PortalPath::C => "c/",
            PortalPath::StalkerPortal => "stalker_portal/c/",
        }
    }

    /// The other one.
    pub fn other(self) -> PortalPath {
        match self {
            PortalPath::C => PortalPath::StalkerPortal,
            PortalPath::StalkerPortal => PortalPath::C,
        }
    }
}

/// Which login method the input is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Server URL + username + password (player_api.php).
    Xtream,
    /// An M3U playlist link (get.php or any playlist URL).
    M3u,
    /// A Stalker/Ministra (MAG) portal, spoken to as a box does with the MAC.
    Stalker,
}

/// The raw inputs, as typed, for the typing check.
#[derive(Debug, Clone, Default)]
pub struct Raw {
    pub server: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
}

/// The normalised target.
#[derive(Debug, Clone)]
pub struct Target {
    pub method: Method,
    /// The server's base URL, always ending in `/` (sub-path kept), without
    /// query or credentials. `None` only for a plain playlist URL.
    pub server: Option<Url>,
    /// As given (not cleaned: the typing check reports, the runner retries).
    pub username: String,
    pub password: String,
    /// The playlist link when the method is M3U (it may hold the password).
    pub m3u: Option<Url>,
    pub mac: Option<String>,
    pub device_id: Option<String>,
    pub serial: Option<String>,
    /// For a Stalker portal: the path the address named (`server` is the
    /// part before it).
    pub portal: Option<PortalPath>,
    pub raw: Raw,
    /// Findings about the input's shape (step: typing).
    pub checks: Vec<Check>,
}

/// Input the doctor cannot work with at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error("nothing to check: give a server with --server, --username and --password, an M3U link with --m3u, or paste the line from your welcome e-mail")]
    Nothing,
    #[error("{what} is not a web address the doctor can read: {why}")]
    BadUrl { what: &'static str, why: String },
    #[error("the {0} is missing: give it with --{0}")]
    Missing(&'static str),
}

/// Normalises what was given.
pub fn normalise(given: &Given) -> Result<Target, InputError> {
    let mut checks = Vec::new();
    let mut mac = given.mac.clone();
    let mut raw = Raw {
        server: given.server.clone(),
        username: given.username.clone(),
        password: given.password.clone(),
    };
    let mut m3u_text = given.m3u.clone();
    let mut server_text = given.server.clone();

    if let Some(line) = &given.line {
        let mut tokens: Vec<&str> = line.split_whitespace().collect();
        if let Some(i) = tokens.iter().position(|t| looks_like_mac(t)) {
            mac.get_or_insert_with(|| tokens[i].to_string());
            tokens.remove(i);
        }
        match tokens.as_slice() {
            [] => return Err(InputError::Nothing),
            [one] => {
                let (server, user, pass) = split_slashed(one);
                if let (Some(u), Some(p)) = (user, pass) {
                    server_text.get_or_insert(server);
                    raw.username.get_or_insert(u);
                    raw.password.get_or_insert(p);
                } else if one.contains("get.php") || one.contains(".m3u") {
                    m3u_text.get_or_insert(one.to_string());
                } else {
                    server_text.get_or_insert(one.to_string());
                }
            }
            [server, user, pass, ..] => {
                server_text.get_or_insert(server.to_string());
                raw.username.get_or_insert(user.to_string());
                raw.password.get_or_insert(pass.to_string());
            }
            [server, user] => {
                server_text.get_or_insert(server.to_string());
                raw.username.get_or_insert(user.to_string());
            }
        }
        if raw.server.is_none() {
            raw.server = server_text.clone();
        }
    }

    let mut method = Method::Xtream;
    let mut server = None;
    let mut m3u = None;
    let mut portal = None;

    if let Some(text) = &m3u_text {
        let url = parse_url("the M3U link", text.trim(), &mut checks, "input.m3u")?;
        let creds = credentials_in_query(&url);
        if let Some((u, p)) = creds {
            raw.username.get_or_insert(u);
            raw.password.get_or_insert(p);
            server = Some(base_of(&url, &mut checks, false)?.0);
        }
        checks.push(
            Check::new(
                Step::Typing,
                "input.method",
                "Login method: M3U link",
                Verdict::Ok,
            )
            .evidence(if server.is_some() {
                "the link is a get.php link: it also holds the server, username and password"
            } else {
                "a plain playlist link: only the playlist itself can be checked"
            }),
        );
        method = Method::M3u;
        m3u = Some(url);
    }

    if let Some(text) = &server_text {
        let url = parse_url(
            "the server address",
            text.trim(),
            &mut checks,
            "input.server",
        )?;
        let (base, found) = base_of(&url, &mut checks, true)?;
        if let Shape::Stalker(path) = found.shape {
            method = Method::Stalker;
            portal = Some(path);
        }
        if let Some((u, p)) = found.credentials {
            let had = raw.username.is_some() && raw.password.is_some();
            if !had {
                raw.username = Some(u);
                raw.password = Some(p);
            }
            if found.shape == Shape::GetPhp {
                checks.push(
                    Check::new(
                        Step::Typing,
                        "input.m3u_in_server_field",
                        "An M3U link was put where the server address goes",
                        Verdict::Warning,
                    )
                    .evidence("the server field holds a get.php link with a username and password in it")
                    .evidence(format!("the server address in it is {}", display_base(&base)))
                    .fix(format!(
                        "Use the Xtream Codes login: server {}, and the username and password from the link{}; or choose the app's M3U login and paste the whole link there.",
                        display_base(&base),
                        if had { " (you also typed them; the typed ones are used)" } else { "" }
                    ))
                    .points_to(Cause::Credentials),
                );
            }
        }
        if method != Method::M3u || server.is_none() {
            server = Some(base);
        }
    }

    // A MAC with a server and no login: a MAG box's portal (its usual
    // path, the other one is tried too).
    if method == Method::Xtream
        && mac.is_some()
        && raw.username.is_none()
        && raw.password.is_none()
        && server.is_some()
    {
        method = Method::Stalker;
        portal = Some(PortalPath::C);
    }

    if method == Method::Stalker {
        let mut c = Check::new(
            Step::Typing,
            "input.stalker",
            "Login method: Stalker (MAG) portal",
            Verdict::Ok,
        )
        .evidence(match portal {
            Some(p) => format!(
                "portal path /{} (MAG boxes and MAC-based apps use it)",
                p.as_str()
            ),
            None => "a portal address".to_string(),
        });
        c = match &mac {
            Some(m) => c.evidence(format!("MAC given: {m}")),
            None => {
                c.verdict = Verdict::Warning;
                c.title = "A Stalker (MAG) portal address without a MAC".into();
                c.evidence("no MAC given").fix(
                    "A portal knows a box by its MAC: run the doctor again with --mac and the MAC the box or app shows (Settings, About).",
                )
            }
        };
        checks.push(c);
    }

    if server.is_none() && m3u.is_none() {
        return Err(InputError::Nothing);
    }
    let needs_credentials = method == Method::Xtream;
    let username = match (&raw.username, needs_credentials) {
        (Some(u), _) => u.clone(),
        (None, true) => return Err(InputError::Missing("username")),
        (None, false) => String::new(),
    };
    let password = match (&raw.password, needs_credentials) {
        (Some(p), _) => p.clone(),
        (None, true) => return Err(InputError::Missing("password")),
        (None, false) => String::new(),
    };
    Ok(Target {
        method,
        server,
        username,
        password,
        m3u,
        mac,
        device_id: given.device_id.clone(),
        serial: given.serial.clone(),
        portal,
        raw,
        checks,
    })
}

/// The server base as a person would type it: `http://host:port/`.
pub fn display_base(url: &Url) -> String {
    url.as_str().trim_end_matches('/').to_string()
}

/// `aa:bb:cc:dd:ee:ff` or with dashes.
pub fn looks_like_mac(s: &str) -> bool {
    let parts: Vec<&str> = s.split([':', '-']).collect();
    parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// "server/user/pass" and "http://host:port/user/pass/": the last two path
/// segments are the credentials when the path is exactly two segments long
/// and neither is a known endpoint.
fn split_slashed(text: &str) -> (String, Option<String>, Option<String>) {
    let (scheme, rest) = match text.find("://") {
        Some(i) => (&text[..i + 3], &text[i + 3..]),
        None => ("", text),
    };
    let rest_trimmed = rest.trim_end_matches('/');
    let parts: Vec<&str> = rest_trimmed.split('/').collect();
    if parts.len() == 3
        && !rest.contains('?')
        && parts[1..]
            .iter()
            .all(|p| !p.is_empty() && !p.contains('.') && *p != "c" && *p != "stalker_portal")
    {
        return (
            format!("{scheme}{}", parts[0]),
            Some(parts[1].to_string()),
            Some(parts[2].to_string()),
        );
    }
    (text.to_string(), None, None)
}

fn parse_url(
    what: &'static str,
    text: &str,
    checks: &mut Vec<Check>,
    id: &str,
) -> Result<Url, InputError> {
    let cleaned: String = text
        .chars()
        .filter(|c| !crate::typing::is_zero_width(*c) && !c.is_whitespace())
        .collect();
    if cleaned.is_empty() {
        return Err(InputError::BadUrl {
            what,
            why: "it is empty".into(),
        });
    }
    let with_scheme = if cleaned.contains("://") {
        cleaned
    } else {
        checks.push(
            Check::new(
                Step::Typing,
                &format!("{id}.scheme"),
                "The address has no http:// in front",
                Verdict::Warning,
            )
            .evidence("no scheme given: http:// assumed")
            .fix("Type the address with http:// (or https:// if your provider says so) in front; some apps do not add it themselves."),
        );
        format!("http://{cleaned}")
    };
    let url = Url::parse(&with_scheme).map_err(|e| InputError::BadUrl {
        what,
        why: e.to_string(),
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(InputError::BadUrl {
            what,
            why: format!(
                "it starts with {}:// (only http and https work)",
                url.scheme()
            ),
        });
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(InputError::BadUrl {
            what,
            why: "it has no host name".into(),
        });
    }
    Ok(url)
}

/// The kind of path a pasted server address had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Plain,
    Endpoint,
    GetPhp,
    Stalker(PortalPath),
}

struct Found {
    shape: Shape,
    credentials: Option<(String, String)>,
}

fn credentials_in_query(url: &Url) -> Option<(String, String)> {
    let mut user = None;
    let mut pass = None;
    for (k, v) in url.query_pairs() {
        match k.as_ref() {
            "username" => user = Some(v.into_owned()),
            "password" => pass = Some(v.into_owned()),
            _ => {}
        }
    }
    Some((user?, pass?))
}

/// Strips endpoints, portal paths, queries and credentials off an address
/// and says what was stripped.
fn base_of(
    url: &Url,
    checks: &mut Vec<Check>,
    server_field: bool,
) -> Result<(Url, Found), InputError> {
    let mut base = url.clone();
    base.set_query(None);
    base.set_fragment(None);
    let _ = base.set_username("");
    let _ = base.set_password(None);
    let path = url.path().to_string();
    let mut found = Found {
        shape: Shape::Plain,
        credentials: None,
    };
    let lower = path.to_ascii_lowercase();
    let mut new_path = path.clone();
    if let Some(i) = lower.find("/stalker_portal") {
        found.shape = Shape::Stalker(PortalPath::StalkerPortal);
        new_path = path[..i].to_string();
    } else if let Some(i) = lower
        .find("/c/")
        .or_else(|| lower.ends_with("/c").then(|| lower.len() - 2))
    {
        found.shape = Shape::Stalker(PortalPath::C);
        new_path = path[..i].to_string();
    } else {
        for endpoint in [
            "player_api.php",
            "get.php",
            "panel_api.php",
            "xmltv.php",
            "portal.php",
        ] {
            if lower
                .trim_end_matches('/')
                .ends_with(&format!("/{endpoint}"))
            {
                found.shape = if endpoint == "get.php" {
                    Shape::GetPhp
                } else if endpoint == "portal.php" {
                    Shape::Stalker(PortalPath::C)
                } else {
                    Shape::Endpoint
                };
                let cut = lower.trim_end_matches('/').len() - endpoint.len();
                new_path = path[..cut].to_string();
                if server_field && found.shape == Shape::Endpoint {
                    checks.push(
                        Check::new(
                            Step::Typing,
                            "input.server.endpoint",
                            format!("The server address ends with /{endpoint}"),
                            Verdict::Warning,
                        )
                        .evidence(format!("/{endpoint} was removed: the app adds it itself"))
                        .fix("Type only the server part (http://host:port), without /player_api.php or anything after the port.")
                        .points_to(Cause::Credentials),
                    );
                }
                break;
            }
        }
    }
    if found.shape == Shape::Plain || found.shape == Shape::GetPhp {
        found.credentials = credentials_in_query(url);
    }
    if found.shape == Shape::Plain && found.credentials.is_none() && server_field {
        let (_, u, p) = split_slashed(url.as_str());
        if let (Some(u), Some(p)) = (u, p) {
            found.credentials = Some((u, p));
            new_path = "/".into();
        }
    }
    // One slash at the end: `http://host:8080//` is the server at `/` (as
    // the address is shown, `display_base`), not a path `//` that every
    // request would then carry (`//player_api.php`).
    new_path.truncate(new_path.trim_end_matches('/').len());
    new_path.push('/');
    base.set_path(&new_path);
    if server_field {
        let port_note = match url.port() {
            Some(p) => format!("port {p}"),
            None => format!(
                "no port given: the standard one for {} ({}) is used, which is right when your provider gave none",
                url.scheme(),
                url.port_or_known_default().unwrap_or(80)
            ),
        };
        checks.push(
            Check::new(
                Step::Typing,
                "input.server",
                format!("Server address: {}", display_base(&base)),
                Verdict::Ok,
            )
            .evidence(port_note),
        );
    }
    Ok((base, found))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn given(line: &str) -> Given {
        Given {
            line: Some(line.into()),
            ..Given::default()
        }
    }

    #[test]
    fn a_get_php_line_gives_server_and_credentials() {
        let t = normalise(&given(
            "http://tv.example:8080/get.php?username=al&password=s3c&type=m3u_plus&output=ts",
        ))
        .expect("ok");
        assert_eq!(t.method, Method::M3u);
        assert_eq!(
            t.server.expect("server").as_str(),
            "http://tv.example:8080/"
        );
        assert_eq!((t.username.as_str(), t.password.as_str()), ("al", "s3c"));
    }

    #[test]
    fn three_words_and_slashes_and_path_forms() {
        for line in [
            "tv.example:8080 al s3c",
            "tv.example:8080/al/s3c",
            "http://tv.example:8080/al/s3c/",
        ] {
            let t = normalise(&given(line)).expect(line);
            assert_eq!(t.method, Method::Xtream, "{line}");
            assert_eq!(
                t.server.expect("server").as_str(),
                "http://tv.example:8080/",
                "{line}"
            );
            assert_eq!(
                (t.username.as_str(), t.password.as_str()),
                ("al", "s3c"),
                "{line}"
            );
        }
    }

    #[test]
    fn missing_scheme_warns_and_endpoints_are_stripped() {
        let t = normalise(&Given {
            server: Some("tv.example/iptv/player_api.php".into()),
            username: Some("u".into()),
            password: Some("p".into()),
            ..Given::default()
        })
        .expect("ok");
        assert_eq!(
            t.server.expect("server").as_str(),
            "http://tv.example/iptv/"
        );
        let ids: Vec<_> = t.checks.iter().map(|c| c.id.as_str()).collect();
        assert!(ids.contains(&"input.server.scheme"), "{ids:?}");
        assert!(ids.contains(&"input.server.endpoint"), "{ids:?}");
    }

    #[test]
    fn an_m3u_link_in_the_server_field_gives_its_credentials() {
        let t = normalise(&Given {
            server: Some("http://h:1/get.php?username=a&password=b&type=m3u".into()),
            ..Given::default()
        })
        .expect("ok");
        assert_eq!(t.method, Method::Xtream);
        assert_eq!((t.username.as_str(), t.password.as_str()), ("a", "b"));
        assert!(t.checks.iter().any(|c| c.id == "input.m3u_in_server_field"));
    }

    #[test]
    fn a_portal_with_a_mac_is_named_stalker() {
        let t = normalise(&given("http://portal.example:8080/c/ 00:1A:79:12:34:56")).expect("ok");
        assert_eq!(t.method, Method::Stalker);
        assert_eq!(t.mac.as_deref(), Some("00:1A:79:12:34:56"));
        assert_eq!(
            t.server.expect("server").as_str(),
            "http://portal.example:8080/"
        );
    }

    #[test]
    fn nothing_or_missing_parts_are_clear_errors() {
        assert_eq!(
            normalise(&Given::default()).err(),
            Some(InputError::Nothing)
        );
        assert_eq!(
            normalise(&Given {
                server: Some("http://h".into()),
                username: Some("u".into()),
                ..Given::default()
            })
            .err(),
            Some(InputError::Missing("password"))
        );
        assert!(matches!(
            normalise(&given("ftp://h/x")),
            Err(InputError::BadUrl { .. })
        ));
    }

    /// Found by fuzz/ (`doctor_input`): a base ending in `//` was kept as
    /// such, so the address shown (`display_base`, without the slashes)
    /// and the one asked (`//player_api.php`) differed.
    #[test]
    fn trailing_slashes_make_one() {
        for (server, want) in [
            ("http://tv.example:8080//", "http://tv.example:8080/"),
            ("http:/:e//", "http://http/:e/"),
            (
                "tv.example/iptv///player_api.php",
                "http://tv.example/iptv/",
            ),
        ] {
            let t = normalise(&Given {
                server: Some(server.into()),
                username: Some("u".into()),
                password: Some("p".into()),
                ..Given::default()
            })
            .expect(server);
            let base = t.server.expect("server");
            assert_eq!(base.as_str(), want, "{server}");
            let again = normalise(&Given {
                server: Some(display_base(&base)),
                username: Some("u".into()),
                password: Some("p".into()),
                ..Given::default()
            })
            .expect("its own base");
            assert_eq!(again.server, Some(base), "{server}");
        }
    }
}
