//! Request parameters, read one way by every face: `application/x-www-form-urlencoded`
//! pairs (a query string or a form body), percent-decoded with `+` as a
//! space, looked up by name, the first occurrence winning.
//!
//! Three extractors give a handler the pairs it should see:
//! - [`Params`] itself: PHP's `$_REQUEST`, the query string merged with a
//!   form body, the body winning on conflict (an Android app POSTs its
//!   login; iptv-proxy and tuliprox accept both for that reason). The body
//!   is read up to 64 KiB; a larger one counts as empty. For the player
//!   faces (Xtream, Stalker).
//! - [`QueryParams`]: the query string alone, for pages and API calls that
//!   read their filters from the URL (it takes nothing from the body, so it
//!   can sit beside any body extractor).
//! - [`Form`]: a form body alone, as axum's `Form` reads it (415 without
//!   the form content type, 413 beyond the route's body limit), for the
//!   subscriber portal's POSTs.
//!
//! The console's form POSTs read their body through their own CSRF
//! extractor and hand it to [`Params::from_form`].
//!
//! The way back is here too: [`path_segment`] and [`query_value`] encode a
//! value for the links the server hands out (playlists, the portal's login
//! details).
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, RawForm, Request};
use axum::http::request::Parts;
use axum::http::{header, Method};
use axum::response::{IntoResponse, Response};

/// The largest form body [`Params`] reads; a login form is a few hundred bytes.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// Parameters by name, in the order they were given (for a merged request:
/// the body's first, then the query's).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// The pairs of a query string (`None`: no query at all).
    pub fn from_query(query: Option<&str>) -> Self {
        Params::from_form(query.unwrap_or("").as_bytes())
    }

    /// The pairs of a form body (the same encoding as a query string).
    pub fn from_form(body: &[u8]) -> Self {
        Params {
            pairs: form_urlencoded::parse(body).into_owned().collect(),
        }
    }

    /// The value of the first `name`, if given.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of the first `name` that is not blank (a device id sent
    /// as `mac=&mac=00:1A:...` counts as the second).
    pub fn first_filled(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, v)| k == name && !v.trim().is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// The value of the last `name`, trimmed, unless blank (`None` then,
    /// whatever came before it): how the denial log's filter reads its
    /// fields.
    pub fn last_filled(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// Every pair, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Every value of `name`, in order (a form's checkboxes of one name).
    pub fn all<'a, 'n>(&'a self, name: &'n str) -> impl Iterator<Item = &'a str> + 'n
    where
        'a: 'n,
    {
        self.pairs
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether any `name` has exactly `value` (a switch such as `auto=1`).
    pub fn has(&self, name: &str, value: &str) -> bool {
        self.pairs.iter().any(|(k, v)| k == name && v == value)
    }

    /// The value of `name`, or "" when absent.
    pub fn str(&self, name: &str) -> &str {
        self.get(name).unwrap_or("")
    }

    /// A numeric parameter, trimmed; absent, empty or malformed gives `None`.
    pub fn number<T: std::str::FromStr>(&self, name: &str) -> Option<T> {
        self.get(name).and_then(|v| v.trim().parse().ok())
    }

    /// Sets a value ahead of every other (used by path aliases such as
    /// `/player_api/U/P/ACTION`).
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        self.pairs.insert(0, (name.to_string(), value.into()));
    }

    /// Takes `USER/PASS[/THIRD]` from a path alias (XUI's rewrites such as
    /// `/player_api/USER/PASS/ACTION`); path values win over the query.
    pub fn set_from_path(&mut self, rest: &str, third: &str) {
        for (name, value) in ["username", "password", third]
            .into_iter()
            .zip(rest.split('/'))
        {
            self.set(name, value);
        }
    }
}

/// Percent-encodes a credential for a URL path segment. Credentials cannot
/// hold URL-breaking ASCII (credentials.rs), so only non-ASCII is encoded.
pub fn path_segment(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::CONTROLS).to_string()
}

/// Percent-encodes a query value (every byte but ASCII letters and digits).
pub fn query_value(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn is_form(req: &Request) -> bool {
    req.method() == Method::POST
        && req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

impl<S: Send + Sync> FromRequest<S> for Params {
    type Rejection = std::convert::Infallible;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let query = Params::from_query(req.uri().query());
        if !is_form(&req) {
            return Ok(query);
        }
        let limited = axum::body::to_bytes(req.into_body(), MAX_FORM_BYTES);
        let body: Bytes = limited.await.unwrap_or_default();
        let mut merged = Params::from_form(&body);
        merged.pairs.extend(query.pairs);
        Ok(merged)
    }
}

/// The query string's parameters alone.
#[derive(Debug, Default, Clone)]
pub struct QueryParams(pub Params);

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(QueryParams(Params::from_query(parts.uri.query())))
    }
}

/// A form body's parameters alone, with axum's `Form` rejections (415
/// without `Content-Type: application/x-www-form-urlencoded`, 413 beyond
/// the route's body limit).
#[derive(Debug, Default, Clone)]
pub struct Form(pub Params);

impl<S: Send + Sync> FromRequest<S> for Form {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let RawForm(body) = RawForm::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(Form(Params::from_form(&body)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;

    #[test]
    fn query_parsing_and_lookup() {
        let p = Params::from_query(Some(
            "username=alice&password=a%20b+c&action=get_live_streams&category_id=&x=1",
        ));
        assert_eq!(p.get("username"), Some("alice"));
        assert_eq!(p.get("password"), Some("a b c"));
        assert_eq!(p.number::<u32>("category_id"), None);
        assert_eq!(p.number::<u32>("x"), Some(1));
        assert_eq!(p.number::<u32>("username"), None);
        assert_eq!(p.str("missing"), "");
        assert_eq!(Params::from_query(None), Params::default());
    }

    #[test]
    fn repeated_names() {
        let p = Params::from_query(Some(
            "mac=&mac=%2000:1A%20&before=5&before=+7+&n=+3+&auto=0&auto=1",
        ));
        assert_eq!(p.get("mac"), Some(""));
        assert_eq!(p.first_filled("mac"), Some(" 00:1A "));
        assert_eq!(p.get("before"), Some("5"));
        assert_eq!(p.last_filled("before"), Some("7"));
        assert_eq!(p.last_filled("mac"), Some("00:1A"));
        assert_eq!(Params::from_query(Some("x=1&x=+")).last_filled("x"), None);
        assert_eq!(p.number::<u8>("n"), Some(3));
        assert!(p.has("auto", "1") && p.has("auto", "0") && !p.has("auto", "2"));
        assert_eq!(p.all("before").collect::<Vec<_>>(), ["5", " 7 "]);
    }

    #[test]
    fn values_written_into_links_read_back() {
        for value in ["alice", "a b+c&d=é/?#%", "Ünïcode"] {
            let link = format!("x={}", query_value(value));
            assert_eq!(Params::from_query(Some(&link)).get("x"), Some(value));
        }
        assert_eq!(path_segment("é1-_.~"), "%C3%A91-_.~");
        assert_eq!(query_value("a b"), "a%20b");
    }

    #[test]
    fn path_values_win() {
        let mut p = Params::from_query(Some("username=q&action=x"));
        p.set_from_path("u/p/get_live_streams", "action");
        assert_eq!(p.get("username"), Some("u"));
        assert_eq!(p.get("password"), Some("p"));
        assert_eq!(p.get("action"), Some("get_live_streams"));
        let mut short = Params::default();
        short.set_from_path("u/p", "type");
        assert_eq!(
            (short.get("password"), short.get("type")),
            (Some("p"), None)
        );
    }

    fn post(uri: &str, content_type: Option<&str>, body: &str) -> Request {
        let mut b = axum::http::Request::builder().method(Method::POST).uri(uri);
        if let Some(t) = content_type {
            b = b.header(header::CONTENT_TYPE, t);
        }
        b.body(Body::from(body.to_string())).expect("request")
    }

    const FORM: &str = "application/x-www-form-urlencoded";

    #[tokio::test]
    async fn a_posted_form_wins_over_the_query() {
        let req = post(
            "/p?username=q&action=a",
            Some(FORM),
            "username=b&password=x+y",
        );
        let p = Params::from_request(req, &()).await.expect("infallible");
        assert_eq!(p.get("username"), Some("b"));
        assert_eq!(p.get("password"), Some("x y"));
        assert_eq!(p.get("action"), Some("a"));
        // Not a form: the body is not read.
        let req = post("/p?username=q", Some("application/json"), "username=b");
        let p = Params::from_request(req, &()).await.expect("infallible");
        assert_eq!(p.get("username"), Some("q"));
        // Beyond the cap the body counts as empty.
        let big = format!("username=b&pad={}", "x".repeat(MAX_FORM_BYTES));
        let req = post("/p?username=q", Some(FORM), &big);
        let p = Params::from_request(req, &()).await.expect("infallible");
        assert_eq!(p.get("username"), Some("q"));
    }

    #[tokio::test]
    async fn the_query_alone_and_the_form_alone() {
        let req = post("/p?q=%41+b", Some(FORM), "q=body");
        let (mut parts, _) = req.into_parts();
        let QueryParams(p) = QueryParams::from_request_parts(&mut parts, &())
            .await
            .expect("infallible");
        assert_eq!(p.get("q"), Some("A b"));
        let req = post("/p?q=query", Some(FORM), "q=body&csrf=t");
        let Form(p) = Form::from_request(req, &()).await.expect("a form");
        assert_eq!((p.get("q"), p.get("csrf")), (Some("body"), Some("t")));
        let refused = Form::from_request(post("/p", Some("text/plain"), "q=1"), &()).await;
        let status = refused.map(|_| ()).expect_err("not a form").status();
        assert_eq!(status, axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }
}
