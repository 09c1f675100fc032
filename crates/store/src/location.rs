//! Which store a `store_url` names, and how such a URL may be shown.
//!
//! - empty: SQLite in the data directory (the caller's default path);
//! - `sqlite://PATH`: SQLite at `PATH` (`sqlite:///var/lib/tvgate/db.sqlite`
//!   is absolute, `sqlite://db.sqlite` relative to the working directory);
//! - `postgres://…` or `postgresql://…`: PostgreSQL, in libpq's URL form.
//!
//! Anything else is refused: a typo must never fall back to SQLite, or a
//! node would silently run on a database of its own.

use std::path::{Path, PathBuf};

/// Where the store lives. `Debug` shows a URL redacted.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreLocation {
    Sqlite(PathBuf),
    /// The URL as given (with its password: redact before showing it).
    Postgres(String),
}

/// Why a store URL was refused. The message shows the URL redacted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("store URL {shown}: {why}")]
pub struct BadStoreUrl {
    pub shown: String,
    pub why: &'static str,
}

impl std::fmt::Debug for StoreLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreLocation::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            StoreLocation::Postgres(url) => f
                .debug_tuple("Postgres")
                .field(&redact_store_url(url))
                .finish(),
        }
    }
}

impl StoreLocation {
    /// Reads a `store_url`; `default_sqlite` is the file an empty one means.
    pub fn parse(url: &str, default_sqlite: &Path) -> Result<StoreLocation, BadStoreUrl> {
        let url = url.trim();
        if url.is_empty() {
            return Ok(StoreLocation::Sqlite(default_sqlite.to_path_buf()));
        }
        let bad = |why| BadStoreUrl {
            shown: redact_store_url(url),
            why,
        };
        let Some((scheme, rest)) = url.split_once("://") else {
            return Err(bad(
                "use sqlite://PATH or postgres://USER:PASSWORD@HOST:PORT/DATABASE",
            ));
        };
        match scheme.to_ascii_lowercase().as_str() {
            "sqlite" if rest.is_empty() => Err(bad("sqlite:// needs a file path after it")),
            "sqlite" => Ok(StoreLocation::Sqlite(PathBuf::from(rest))),
            "postgres" | "postgresql" => Ok(StoreLocation::Postgres(url.to_string())),
            _ => Err(bad(
                "unknown kind of store; use sqlite://PATH or postgres://USER:PASSWORD@HOST:PORT/DATABASE",
            )),
        }
    }

    /// The location as it may be shown: a path as it is, a URL redacted.
    pub fn shown(&self) -> String {
        match self {
            StoreLocation::Sqlite(path) => path.display().to_string(),
            StoreLocation::Postgres(url) => redact_store_url(url),
        }
    }
}

/// A store URL as it may appear in a log, an error or a page: the user
/// name stays (it says which account connects), the password and the value
/// of any `password` parameter become `***`.
pub fn redact_store_url(url: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((head, query)) => (head, Some(query)),
        None => (url, None),
    };
    let mut out = match head.split_once("://") {
        Some((scheme, rest)) => {
            // The authority ends at the first '/'; its user info at the last '@'.
            let (authority, path) = match rest.find('/') {
                Some(i) => rest.split_at(i),
                None => (rest, ""),
            };
            let authority = match authority.rsplit_once('@') {
                Some((userinfo, host)) => match userinfo.split_once(':') {
                    Some((user, _password)) => format!("{user}:***@{host}"),
                    None => format!("{userinfo}@{host}"),
                },
                None => authority.to_string(),
            };
            format!("{scheme}://{authority}{path}")
        }
        None => head.to_string(),
    };
    if let Some(query) = query {
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, _)) if name.eq_ignore_ascii_case("password") => format!("{name}=***"),
                _ => pair.to_string(),
            })
            .collect();
        out.push('?');
        out.push_str(&pairs.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        for (url, want) in [
            (
                "postgres://tvgate:s3cret@db.example:5432/tvgate",
                "postgres://tvgate:***@db.example:5432/tvgate",
            ),
            (
                "postgresql://tvgate:p@ss@10.0.0.5/tv?sslmode=disable",
                "postgresql://tvgate:***@10.0.0.5/tv?sslmode=disable",
            ),
            (
                "postgres://tvgate@db/tv?password=s3cret&application_name=x",
                "postgres://tvgate@db/tv?password=***&application_name=x",
            ),
            ("postgres://db/tv", "postgres://db/tv"),
            (
                "sqlite:///var/lib/tvgate.sqlite",
                "sqlite:///var/lib/tvgate.sqlite",
            ),
        ] {
            assert_eq!(redact_store_url(url), want, "{url}");
        }
    }

    #[test]
    fn locations() {
        let default = Path::new("/data/tvgate.sqlite");
        assert_eq!(
            StoreLocation::parse("", default),
            Ok(StoreLocation::Sqlite(default.to_path_buf()))
        );
        assert_eq!(
            StoreLocation::parse("sqlite:///srv/t.sqlite", default),
            Ok(StoreLocation::Sqlite("/srv/t.sqlite".into()))
        );
        assert_eq!(
            StoreLocation::parse("sqlite://t.sqlite", default),
            Ok(StoreLocation::Sqlite("t.sqlite".into()))
        );
        assert_eq!(
            StoreLocation::parse(" postgres://u:p@h/d ", default),
            Ok(StoreLocation::Postgres("postgres://u:p@h/d".into()))
        );
        for bad in [
            "mysql://u:pw@h/d",
            "/var/lib/x.sqlite",
            "sqlite://",
            "postgres:/h",
        ] {
            let err = StoreLocation::parse(bad, default).unwrap_err().to_string();
            assert!(!err.contains(":pw@"), "{err}");
            assert!(err.starts_with("store URL "), "{err}");
        }
    }
}
