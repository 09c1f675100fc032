//! Request parameters as real panels read them: PHP's `$_REQUEST`, the query
//! string merged with an `application/x-www-form-urlencoded` body, the body
//! winning on conflict (an Android app POSTs its login; iptv-proxy and
//! tuliprox accept both for that reason).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, Method};

/// The largest form body read; a login form is a few hundred bytes.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// Merged query and form parameters, first occurrence per name after the
/// body's values have been put first.
#[derive(Debug, Default, Clone)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    pub fn from_query(query: Option<&str>) -> Self {
        let mut p = Params::default();
        if let Some(q) = query {
            p.extend_from(q.as_bytes());
        }
        p
    }

    fn extend_from(&mut self, raw: &[u8]) {
        self.pairs
            .extend(form_urlencoded::parse(raw).map(|(k, v)| (k.into_owned(), v.into_owned())));
    }

    /// The value of `name`, if given.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of `name`, or "" when absent.
    pub fn str(&self, name: &str) -> &str {
        self.get(name).unwrap_or("")
    }

    /// A numeric parameter; absent, empty or malformed gives `None`.
    pub fn number<T: std::str::FromStr>(&self, name: &str) -> Option<T> {
        self.get(name).and_then(|v| v.trim().parse().ok())
    }

    /// Sets a value (used by path aliases such as `/player_api/U/P/ACTION`).
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

impl<S: Send + Sync> FromRequest<S> for Params {
    type Rejection = std::convert::Infallible;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let query = Params::from_query(req.uri().query());
        let is_form = req.method() == Method::POST
            && req
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if !is_form {
            return Ok(query);
        }
        let limited = axum::body::to_bytes(req.into_body(), MAX_FORM_BYTES);
        let body: Bytes = limited.await.unwrap_or_default();
        let _ = state;
        let mut merged = Params::default();
        merged.extend_from(&body);
        merged.pairs.extend(query.pairs);
        Ok(merged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parsing_and_lookup() {
        let p = Params::from_query(Some(
            "username=alice&password=a%20b+c&action=get_live_streams&category_id=&x=1",
        ));
        assert_eq!(p.get("username"), Some("alice"));
        assert_eq!(p.get("password"), Some("a b c"));
        assert_eq!(p.number::<u32>("category_id"), None);
        assert_eq!(p.number::<u32>("x"), Some(1));
        assert_eq!(p.str("missing"), "");
    }
}
