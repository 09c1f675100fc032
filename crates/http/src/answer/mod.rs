//! Refusals, answered. Whatever the face, saying no is one value: a
//! [`Refused`] holds the reason ([`Denial`]), the [`Face`] that answers (which
//! decides the shape of the answer and the `face` the log carries), the
//! caller and the username as presented.
//!
//! - [`Refused::answer`] renders it the way that face's clients expect
//!   (docs/denials.md, "How each face shows a denial"): the JSON of a failed
//!   Xtream login ([`xtream`]); a status with a `CODE: message` text for
//!   playlists, guides and stream URLs ([`text`]); the video slate for a live
//!   stream asked for as MPEG-TS, when the client looks like a player
//!   (`crate::slate`); the Stalker portal's bare `Access denied.` or its
//!   `{"js": ...}` envelope ([`stalker`]).
//! - [`Refused::record`] hands the reason back to a face whose answer holds
//!   more than the refusal: the Xtream login payload of a proven line, the
//!   Stalker watchdog's event, the portal's login page, Stalker's `do_auth`.
//!
//! Either way the refusal is logged, counted in `/metrics` and queued for the
//! denial log by one function (`Refused::log`), once: both consume the value.
//!
//! [`describe`] is the plain-language sentence of a refusal, the same words
//! on every face: the text answer, the slate's header, the Stalker profile
//! and watchdog, the denial log.
//!
//! Deliberately absent: deciding. The reason comes from the one decision
//! (`tvgate_core::access::decide`) or from admission (`crate::slots`).

pub mod stalker;
pub mod xtream;

use crate::access::Caller;
use crate::localtime::{local_date, local_minute};
use crate::slate::{self, StreamDenials};
use crate::state::{App, HttpSettings};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use tvgate_core::access::Denial;

/// Who answers a refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Face {
    /// `player_api.php`, `panel_api.php`: the JSON of a failed login
    /// (a proven line is answered with the login payload instead, by
    /// `crate::xtream`, which [`Refused::record`]s).
    XtreamApi,
    /// `get.php` and `/playlist/`: status and text.
    Playlist,
    /// `xmltv.php` and `/epg/`: status and text.
    Guide,
    /// A stream URL answered with status and text: HLS playlists and
    /// segments, movies and episodes, catch-up.
    Stream,
    /// A live stream asked for as MPEG-TS (Xtream's `.ts`, Stalker's channel
    /// links): the slate when it is wanted, else as [`Face::Stream`].
    LiveTs,
    /// A call of an identified Stalker box (and its watchdog): `Access denied.`
    StalkerCall,
    /// Stalker `stb get_profile`: the profile with status 1 and why.
    StalkerProfile,
    /// Stalker `itv create_link` for a channel: no link.
    StalkerLink { channel: u32 },
    /// The subscriber portal's login, which answers with its own page
    /// ([`Refused::record`]; [`Refused::answer`] would give the text).
    Portal,
}

impl Face {
    /// The face the one decision is asked as, whose name the log line and
    /// the denial log carry (`player_api`, `playlist`, `xmltv`, `stream`):
    /// a Stalker call and the portal's login count as logins, a Stalker
    /// channel link as a stream.
    pub fn decided_as(self) -> tvgate_core::access::Face {
        use tvgate_core::access::Face as Decided;
        match self {
            Face::XtreamApi | Face::StalkerCall | Face::StalkerProfile | Face::Portal => {
                Decided::PlayerApi
            }
            Face::Playlist => Decided::Playlist,
            Face::Guide => Decided::Guide,
            Face::Stream | Face::LiveTs | Face::StalkerLink { .. } => Decided::Stream,
        }
    }

    /// The `face` field of the log line and the denial log.
    pub fn log_name(self) -> &'static str {
        use tvgate_core::access::Face as Decided;
        match self.decided_as() {
            Decided::PlayerApi => "player_api",
            Decided::Playlist => "playlist",
            Decided::Guide => "xmltv",
            Decided::Stream => "stream",
        }
    }
}

/// One refusal and what answering it needs. Not yet logged: answering or
/// recording it does that, once. (Boxed: it travels in the `Err` of
/// results whose `Ok` is small.)
#[must_use = "a refusal is logged and counted only when it is answered or recorded"]
#[derive(Debug, Clone)]
pub struct Refused(Box<Refusal>);

#[derive(Debug, Clone)]
struct Refusal {
    denial: Denial,
    face: Face,
    caller: Caller,
    /// As presented (for a link or a session: the line's).
    username: String,
}

impl Refused {
    pub fn new(face: Face, denial: Denial, caller: &Caller, username: &str) -> Refused {
        Refused(Box::new(Refusal {
            denial,
            face,
            caller: caller.clone(),
            username: username.to_string(),
        }))
    }

    /// Logs the refusal and answers it as its face does.
    pub fn answer(self, app: &App) -> Response {
        self.log(app);
        self.render(&app.settings, |d| describe(app, d))
    }

    /// Logs the refusal and gives back its reason, for a face whose answer
    /// holds more than the refusal.
    pub fn record(self, app: &App) -> Denial {
        self.log(app);
        self.0.denial
    }

    /// The answer of [`Refused::answer`], with `describe` for the sentence.
    fn render(&self, settings: &HttpSettings, describe: impl Fn(&Denial) -> String) -> Response {
        let denial = &self.0.denial;
        match self.0.face {
            Face::XtreamApi => xtream::failed_login(settings, denial),
            Face::Playlist | Face::Guide | Face::Stream | Face::Portal => text(denial, describe),
            Face::LiveTs => {
                let wanted = match settings.stream_denials {
                    StreamDenials::Status => false,
                    StreamDenials::Slate => true,
                    StreamDenials::Auto => slate::looks_like_player(self.0.caller.user_agent()),
                };
                match slate::clip(denial.code()).filter(|_| wanted) {
                    Some(clip) => slate::answer(denial, &describe(denial), clip),
                    None => text(denial, describe),
                }
            }
            Face::StalkerCall => stalker::text(stalker::ACCESS_DENIED),
            Face::StalkerProfile => stalker::js(stalker::refused_profile(&describe(denial))),
            Face::StalkerLink { channel } => stalker::js(stalker::refused_link(channel)),
        }
    }

    /// Counts the refusal, queues it for the denial log and logs it, with
    /// stable field names operators point fail2ban at (docs/denials.md).
    /// Never logs a password.
    ///
    /// A caller over its failure budget is counted every time but logged
    /// (and recorded) at most once per [`crate::metrics::RATE_LIMITED_LOG_SECS`]
    /// per address, with the number of refusals left out in `suppressed`, so
    /// a guessing run cannot fill the disk (unthrottled, one flood wrote
    /// 444 MB of log in 35 s).
    fn log(&self, app: &App) {
        let denial = &self.0.denial;
        let caller = &self.0.caller;
        app.metrics.count_denial(denial);
        let mut suppressed = 0;
        if matches!(denial, Denial::RateLimited { .. }) {
            match app.metrics.throttle_rate_limited_log(caller.ip, app.now()) {
                Some(n) => suppressed = n,
                None => return,
            }
        }
        self.queue(app);
        // A full line's refusal says what holds the slots, in the log too.
        let holders = match denial {
            Denial::ConnectionLimit { .. } => describe(app, denial),
            _ => String::new(),
        };
        tracing::info!(
            target: "tvgate::denial",
            reason = denial.code(),
            holders = %holders,
            face = self.0.face.log_name(),
            username = %truncate(&self.0.username, 64).escape_debug(),
            ip = %caller.ip,
            user_agent = %truncate(caller.user_agent(), 256).escape_debug(),
            suppressed,
            "denied"
        );
    }

    /// Queues the refusal for the denial log (`crate::refusals`). Unknown
    /// names and wrong passwords are kept without a line: they say nothing
    /// about one. Never waits: a full queue drops the refusal and counts it.
    fn queue(&self, app: &App) {
        let denial = &self.0.denial;
        let at = app.now();
        let queued = app
            .refusals
            .record_with(at, || tvgate_core::access::refusal::Refusal {
                at,
                reason: denial.code().to_string(),
                text: describe(app, denial),
                line: match denial {
                    Denial::InvalidCredentials | Denial::RateLimited { .. } => None,
                    _ => app.gate.find_line(&self.0.username).map(|a| a.id),
                },
                username: truncate(&self.0.username, tvgate_core::access::refusal::USERNAME_MAX)
                    .to_string(),
                ip: self.0.caller.ip,
                face: self.0.face.log_name().to_string(),
            });
        if !queued {
            app.metrics
                .refusals_dropped
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

/// A refusal in plain words for a person: times in the server's zone and,
/// for a full line, the name of the channel each holder watches.
pub fn describe(app: &App, denial: &Denial) -> String {
    let catalog = app.gate.catalog();
    denial.message_with(
        |t| match denial {
            Denial::ConnectionLimit { .. } | Denial::DeviceNotRegistered { .. } => {
                local_minute(app, t)
            }
            _ => local_date(app, t),
        },
        |id| {
            catalog
                .stream(id)
                .map(|r| catalog.stream_name(r).to_string())
        },
    )
}

/// The plain-text refusal of faces that are not JSON (playlists, guides,
/// streams): `CODE: message` with `X-Tvgate-Reason`; 401 for unproven
/// credentials (one answer for an unknown user and a wrong password), 429
/// with `Retry-After` over the failure budget, 503 for the provider's
/// limit and for a shared connection ledger that does not answer (temporary
/// conditions, not the subscriber's), 404 for catch-up of a moment the
/// channel's archive does not hold, 403 otherwise.
pub fn text(denial: &Denial, describe: impl Fn(&Denial) -> String) -> Response {
    let (status, body) = match denial {
        Denial::InvalidCredentials => (
            StatusCode::UNAUTHORIZED,
            "invalid_credentials: Invalid username or password\n".to_string(),
        ),
        Denial::RateLimited { .. } => (
            StatusCode::TOO_MANY_REQUESTS,
            format!("{}: {}\n", denial.code(), denial.message(|t| t.to_string())),
        ),
        Denial::SourceAtCapacity | Denial::LedgerUnavailable => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{}: {}\n", denial.code(), denial.message(|t| t.to_string())),
        ),
        Denial::NoArchive { .. } => (
            StatusCode::NOT_FOUND,
            format!("{}: {}\n", denial.code(), denial.message(|t| t.to_string())),
        ),
        other => (
            StatusCode::FORBIDDEN,
            format!("{}: {}\n", other.code(), describe(other)),
        ),
    };
    let mut r = Response::new(body.into());
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r.headers_mut()
        .insert("x-tvgate-reason", HeaderValue::from_static(denial.code()));
    if let Denial::RateLimited { retry_after_secs } = denial {
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
    }
    r
}

/// At most `max` characters of `s`.
fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::FailedLoginStyle;
    use axum::http::Request;
    use tvgate_core::access::Face as Decided;

    async fn caller(user_agent: &str) -> Caller {
        let (parts, ()) = Request::builder()
            .uri("/live/u/p/1.ts")
            .header(header::USER_AGENT, user_agent)
            .body(())
            .expect("request")
            .into_parts();
        Caller::from_parts(&parts, &Default::default())
    }

    /// Status, content type, reason header and body of `face`'s answer.
    async fn answer(
        face: Face,
        denial: Denial,
        user_agent: &str,
        settings: &HttpSettings,
    ) -> (u16, String, String, Vec<u8>) {
        let refused = Refused::new(face, denial, &caller(user_agent).await, "alice");
        let r = refused.render(settings, |d| format!("described {}", d.code()));
        let header = |name| {
            r.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        let (status, content_type, reason) = (
            r.status().as_u16(),
            header("content-type"),
            header("x-tvgate-reason"),
        );
        let body = axum::body::to_bytes(r.into_body(), 1 << 20)
            .await
            .expect("body");
        (status, content_type, reason, body.to_vec())
    }

    const TEXT: &str = "text/plain; charset=utf-8";
    const VLC: &str = "VLC/3.0.20 LibVLC/3.0.20";
    const EXPIRED: Denial = Denial::Expired { at: 1_700_000_000 };

    #[tokio::test]
    async fn text_faces() {
        let s = HttpSettings::default();
        for face in [Face::Playlist, Face::Guide, Face::Stream, Face::Portal] {
            assert_eq!(
                answer(face, Denial::InvalidCredentials, VLC, &s).await,
                (
                    401,
                    TEXT.into(),
                    "invalid_credentials".into(),
                    b"invalid_credentials: Invalid username or password\n".to_vec()
                ),
                "{face:?}"
            );
            let (status, _, reason, body) = answer(face, EXPIRED, VLC, &s).await;
            assert_eq!((status, reason.as_str()), (403, "expired"));
            assert_eq!(body, b"expired: described expired\n");
        }
        let (status, _, _, body) = answer(Face::Stream, Denial::SourceAtCapacity, "", &s).await;
        assert_eq!(status, 503);
        assert!(
            body.starts_with(b"source_at_capacity: "),
            "not described: the provider's limit"
        );
    }

    #[tokio::test]
    async fn over_the_failure_budget_is_429_with_retry_after_on_every_face_that_can_say_it() {
        let s = HttpSettings::default();
        let limited = Denial::RateLimited {
            retry_after_secs: 30,
        };
        for face in [Face::Playlist, Face::Stream, Face::LiveTs, Face::XtreamApi] {
            let refused = Refused::new(face, limited.clone(), &caller(VLC).await, "alice");
            let r = refused.render(&s, |_| String::new());
            assert_eq!(r.status().as_u16(), 429, "{face:?}");
            assert_eq!(r.headers()["retry-after"], "30", "{face:?}");
        }
    }

    #[tokio::test]
    async fn a_live_ts_stream_gets_the_slate_when_it_is_wanted() {
        let mut s = HttpSettings::default();
        let (status, content_type, reason, body) = answer(Face::LiveTs, EXPIRED, VLC, &s).await;
        assert_eq!(
            (status, content_type.as_str(), reason.as_str()),
            (200, "video/mp2t", "expired")
        );
        assert_eq!(Some(&body[..]), slate::clip("expired"));
        // A browser or a tool gets the status, unless the setting says slate.
        let (status, ..) = answer(Face::LiveTs, EXPIRED, "curl/8.5.0", &s).await;
        assert_eq!(status, 403);
        s.stream_denials = StreamDenials::Slate;
        let (status, ..) = answer(Face::LiveTs, EXPIRED, "curl/8.5.0", &s).await;
        assert_eq!(status, 200);
        s.stream_denials = StreamDenials::Status;
        let (status, ..) = answer(Face::LiveTs, EXPIRED, VLC, &s).await;
        assert_eq!(status, 403);
        // Other stream answers never get the slate.
        let (status, ..) = answer(Face::Stream, EXPIRED, VLC, &HttpSettings::default()).await;
        assert_eq!(status, 403);
    }

    #[tokio::test]
    async fn a_failed_xtream_login_as_the_operator_chose() {
        let mut s = HttpSettings::default();
        for (style, status) in [
            (FailedLoginStyle::Xtream, 200),
            (FailedLoginStyle::Unauthorized, 401),
            (FailedLoginStyle::Forbidden, 403),
        ] {
            s.failed_login = style;
            assert_eq!(
                answer(Face::XtreamApi, Denial::InvalidCredentials, VLC, &s).await,
                (
                    status,
                    "application/json; charset=utf-8".into(),
                    String::new(),
                    br#"{"user_info":{"auth":0}}"#.to_vec()
                )
            );
        }
        s.failed_login = FailedLoginStyle::NotFound;
        let (status, content_type, ..) =
            answer(Face::XtreamApi, Denial::InvalidCredentials, VLC, &s).await;
        assert_eq!((status, content_type.as_str()), (404, "text/html"));
    }

    #[tokio::test]
    async fn the_stalker_portal_says_no_in_its_own_words() {
        let s = HttpSettings::default();
        let json = "application/json; charset=utf-8";
        assert_eq!(
            answer(Face::StalkerCall, EXPIRED, "", &s).await,
            (
                200,
                "text/html; charset=utf-8".into(),
                String::new(),
                b"Access denied.".to_vec()
            )
        );
        let (status, content_type, _, body) = answer(Face::StalkerProfile, EXPIRED, "", &s).await;
        assert_eq!((status, content_type.as_str()), (200, json));
        let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(v["js"]["status"], 1);
        assert_eq!(v["js"]["msg"], "described expired");
        let (status, _, _, body) = answer(Face::StalkerLink { channel: 7 }, EXPIRED, "", &s).await;
        assert_eq!(status, 200);
        assert_eq!(
            String::from_utf8_lossy(&body),
            r#"{"js":{"cmd":"","error":"access_denied","id":7}}"#
        );
    }

    #[test]
    fn faces_are_decided_and_logged_as_the_four_faces_of_the_log() {
        for (face, decided, name) in [
            (Face::XtreamApi, Decided::PlayerApi, "player_api"),
            (Face::Playlist, Decided::Playlist, "playlist"),
            (Face::Guide, Decided::Guide, "xmltv"),
            (Face::Stream, Decided::Stream, "stream"),
            (Face::LiveTs, Decided::Stream, "stream"),
            (Face::StalkerCall, Decided::PlayerApi, "player_api"),
            (Face::StalkerProfile, Decided::PlayerApi, "player_api"),
            (Face::StalkerLink { channel: 1 }, Decided::Stream, "stream"),
            (Face::Portal, Decided::PlayerApi, "player_api"),
        ] {
            assert_eq!((face.decided_as(), face.log_name()), (decided, name));
        }
    }

    #[test]
    fn usernames_are_cut_by_characters() {
        assert_eq!(truncate("héllo", 2), "hé");
        assert_eq!(truncate("hi", 64), "hi");
    }
}
