//! Sources and their streams as the operator manages them: add, remove,
//! switch on and off, list the stored streams. The CLI, the console and the
//! API call these, so every face applies the same checks. Each change
//! reloads the catalog, so players see it at once. (Importing a refresh's
//! content is `import.rs`; fetching it, which needs the network and the
//! disk, is the binary's `sources.rs`.)

use super::{Gate, GateError};
use crate::catalog::{Source, SourceKind, XtreamAccount};
use crate::ids::{SourceId, StreamId};
use crate::ports::{NewSource, StoreError, StreamPage, StreamQuery};
use std::path::Path;

/// Longest source name accepted.
pub const MAX_SOURCE_NAME: usize = 200;
/// Longest source location accepted.
pub const MAX_SOURCE_LOCATION: usize = 4096;
/// Most streams one listing returns.
pub const MAX_STREAM_PAGE: u32 = 1000;

fn no_source(id: SourceId) -> GateError {
    GateError::Store(StoreError::NotFound {
        what: "source",
        id: id.to_string(),
    })
}

/// A name from a location: its last path segment, without the query (where
/// credentials live) or user info.
pub fn default_name(location: &str) -> String {
    let no_query = location.split(['?', '#']).next().unwrap_or(location);
    let no_scheme = no_query.split_once("://").map_or(no_query, |(_, r)| r);
    let no_user = no_scheme.rsplit_once('@').map_or(no_scheme, |(_, h)| h);
    match no_user.trim_end_matches('/').rsplit('/').next() {
        Some(last) if !last.is_empty() => last.to_string(),
        _ => "source".to_string(),
    }
}

/// Checks a location named from the web (the console or the API): an
/// http(s) URL, or a file inside `files_dir` (the data directory's
/// `sources/`). The command line, run on the server by its operator, may
/// name any file; a web session or a leaked API token must not be able to
/// make the server read `/etc/shadow` and show its lines back as import
/// errors. Symbolic links are resolved before the check, so a link that
/// leads out of the directory is refused too.
pub fn check_web_location(location: &str, files_dir: Option<&Path>) -> Result<(), GateError> {
    let trimmed = location.trim();
    let lower = trimmed.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return Ok(());
    }
    let refuse = |why: String| Err(GateError::Invalid(why));
    let Some(dir) = files_dir else {
        return refuse(
            "location must be an http(s) URL here (a file source is added with `tvgate source add` on the server)"
                .into(),
        );
    };
    let outside = || {
        format!(
            "location: a file added from the web must be inside {} (or add it with `tvgate source add` on the server)",
            dir.display()
        )
    };
    let path = Path::new(trimmed.strip_prefix("file://").unwrap_or(trimmed));
    let Ok(root) = dir.canonicalize() else {
        return refuse(outside());
    };
    match path.canonicalize() {
        Ok(real) if real.starts_with(&root) && real.is_file() => Ok(()),
        Ok(_) => refuse(outside()),
        Err(_) if path.starts_with(dir) || path.starts_with(&root) => {
            refuse(format!("location: no such file {}", path.display()))
        }
        Err(_) => refuse(outside()),
    }
}

/// Longest Xtream username or password accepted.
pub const MAX_ACCOUNT_FIELD: usize = 256;

/// An Xtream server's address as an account source keeps it:
/// `scheme://host[:port][/prefix]`, from what an operator pasted (the
/// address alone, or a `player_api.php`/`get.php`/`xmltv.php` URL). The
/// second value is the `username` and `password` of a pasted URL's query,
/// when it has both. User info (`http://u:p@host`) is refused: the
/// credentials are given apart, so they never sit in the location.
pub fn xtream_server(location: &str) -> Result<(String, Option<(String, String)>), GateError> {
    let invalid = |why: &str| Err(GateError::Invalid(format!("server URL: {why}")));
    let trimmed = location.trim();
    let lower = trimmed.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return invalid("an Xtream server is an http(s) URL, such as http://provider.example:8080");
    }
    let no_fragment = trimmed.split('#').next().unwrap_or(trimmed);
    let (address, query) = match no_fragment.split_once('?') {
        Some((a, q)) => (a, Some(q)),
        None => (no_fragment, None),
    };
    let (scheme, rest) = address.split_once("://").unwrap_or(("http", address));
    let authority = rest.split('/').next().unwrap_or(rest);
    if authority.contains('@') {
        return invalid(
            "give the username and password apart (--username, --password), not in the URL",
        );
    }
    if authority.is_empty() {
        return invalid("no host");
    }
    let mut path = rest[authority.len()..].trim_end_matches('/').to_string();
    for endpoint in [
        "/player_api.php",
        "/get.php",
        "/panel_api.php",
        "/xmltv.php",
    ] {
        if path.to_ascii_lowercase().ends_with(endpoint) {
            path.truncate(path.len() - endpoint.len());
            break;
        }
    }
    let base = format!("{scheme}://{authority}{}", path.trim_end_matches('/'));
    let field = |name: &str| {
        query?.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            (k == name)
                .then(|| percent_decode(v))
                .filter(|v| !v.is_empty())
        })
    };
    let credentials = field("username").zip(field("password"));
    Ok((base, credentials))
}

/// `%XX` and `+` of a query value decoded (invalid escapes kept as they are).
fn percent_decode(v: &str) -> String {
    let bytes = v.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Checks an account's username and password: present, one line, at most
/// [`MAX_ACCOUNT_FIELD`] characters.
fn check_account(account: &XtreamAccount) -> Result<(), GateError> {
    for (what, value) in [
        ("username", &account.username),
        ("password", &account.password),
    ] {
        if value.is_empty() {
            return Err(GateError::Invalid(format!(
                "an Xtream account needs a {what}"
            )));
        }
        if value.chars().count() > MAX_ACCOUNT_FIELD || value.chars().any(char::is_control) {
            return Err(GateError::Invalid(format!(
                "{what} must be one line of at most {MAX_ACCOUNT_FIELD} characters"
            )));
        }
    }
    Ok(())
}

impl Gate {
    /// Every source with the outcome of its last refresh.
    pub async fn sources(&self) -> Result<Vec<Source>, GateError> {
        Ok(self.store.sources().await?)
    }

    /// One source; `NotFound` for an unknown id.
    pub async fn source(&self, id: SourceId) -> Result<Source, GateError> {
        self.sources()
            .await?
            .into_iter()
            .find(|s| s.id == id)
            .ok_or_else(|| no_source(id))
    }

    /// Records a new source (not yet imported: the caller starts a refresh).
    /// The location is an http(s) URL or an absolute file path, on one line;
    /// an empty name becomes [`default_name`] of the location.
    pub async fn add_source(&self, mut source: NewSource) -> Result<Source, GateError> {
        if source.kind == SourceKind::Xtream {
            return Err(GateError::Invalid(
                "an Xtream source is an account: give its username and password".into(),
            ));
        }
        check_new_source(&mut source)?;
        let added = self.store.insert_source(source).await?;
        self.reload_catalog().await?;
        Ok(added)
    }

    /// Records a new Xtream account source: `source.location` is the
    /// server (see [`xtream_server`]), the account its credentials (when
    /// both are empty, those of a pasted URL's query). Not yet imported:
    /// the caller starts a refresh.
    pub async fn add_account_source(
        &self,
        mut source: NewSource,
        mut account: XtreamAccount,
    ) -> Result<Source, GateError> {
        let (base, pasted) = xtream_server(&source.location)?;
        if account.username.is_empty() && account.password.is_empty() {
            if let Some((username, password)) = pasted {
                account.username = username;
                account.password = password;
            }
        }
        check_account(&account)?;
        source.kind = SourceKind::Xtream;
        source.location = base;
        check_new_source(&mut source)?;
        let added = self.store.insert_source(source).await?;
        account.max_connections = 0;
        self.store
            .set_source_account(added.id, Some(account.clone()))
            .await?;
        self.reload_catalog().await?;
        Ok(Source {
            account: Some(account),
            ..added
        })
    }

    /// Changes the username and/or password of an Xtream source (`None`
    /// keeps one as it is). The next refresh logs in with them; until
    /// then the streams stored keep the old ones in their URLs.
    pub async fn set_source_credentials(
        &self,
        id: SourceId,
        username: Option<String>,
        password: Option<String>,
    ) -> Result<Source, GateError> {
        let source = self.source(id).await?;
        let Some(mut account) = source.account.clone() else {
            return Err(GateError::Invalid(format!(
                "source {id} is not an Xtream account"
            )));
        };
        if let Some(u) = username {
            account.username = u;
        }
        if let Some(p) = password {
            account.password = p;
        }
        check_account(&account)?;
        self.store
            .set_source_account(id, Some(account.clone()))
            .await?;
        self.reload_catalog().await?;
        Ok(Source {
            account: Some(account),
            ..source
        })
    }
}

/// The checks every new source passes (its name and location), with the
/// name defaulted.
fn check_new_source(source: &mut NewSource) -> Result<(), GateError> {
    source.name = source.name.trim().to_string();
    source.location = source.location.trim().to_string();
    if source.location.is_empty() {
        return Err(GateError::Invalid("location is required".into()));
    }
    if source.location.len() > MAX_SOURCE_LOCATION || source.location.chars().any(char::is_control)
    {
        return Err(GateError::Invalid(format!(
            "location must be one line of at most {MAX_SOURCE_LOCATION} bytes"
        )));
    }
    let lower = source.location.to_ascii_lowercase();
    let is_url = lower.starts_with("http://") || lower.starts_with("https://");
    if !is_url {
        let path = source
            .location
            .strip_prefix("file://")
            .unwrap_or(&source.location);
        if lower.contains("://") && !lower.starts_with("file://") {
            return Err(GateError::Invalid(
                "location must be an http(s) URL or a file path".into(),
            ));
        }
        if !path.starts_with('/') {
            return Err(GateError::Invalid(
                "location: a file must be given by its absolute path".into(),
            ));
        }
    }
    if source.name.is_empty() {
        source.name = default_name(&source.location);
    }
    if source.name.chars().count() > MAX_SOURCE_NAME || source.name.chars().any(char::is_control) {
        return Err(GateError::Invalid(format!(
            "name must be one line of at most {MAX_SOURCE_NAME} characters"
        )));
    }
    Ok(())
}

impl Gate {
    /// Removes a source with everything it brought.
    pub async fn remove_source(&self, id: SourceId) -> Result<(), GateError> {
        self.store.delete_source(id).await?;
        self.reload_catalog().await
    }

    /// Switches a source on or off for players (its items stay stored).
    pub async fn set_source_enabled(
        &self,
        id: SourceId,
        enabled: bool,
    ) -> Result<Source, GateError> {
        self.update_source(
            id,
            crate::ports::SourcePatch {
                enabled: Some(enabled),
                ..Default::default()
            },
        )
        .await
    }

    /// The stored streams, disabled ones included (at most
    /// [`MAX_STREAM_PAGE`] per call).
    pub async fn streams(&self, mut query: StreamQuery) -> Result<StreamPage, GateError> {
        query.limit = query.limit.min(MAX_STREAM_PAGE);
        Ok(self.store.streams(query).await?)
    }

    /// Switches one stream (a live channel, movie or episode) on or off for
    /// players; a refresh keeps the switch. `NotFound` for an unknown id.
    pub async fn set_stream_enabled(&self, id: StreamId, enabled: bool) -> Result<(), GateError> {
        self.store.set_stream_enabled(id, enabled).await?;
        self.reload_catalog().await
    }
}

#[cfg(test)]
mod tests {
    use super::default_name;

    #[test]
    fn default_names_hide_credentials() {
        assert_eq!(
            default_name("http://u:p@host/get.php?username=u&password=p"),
            "get.php"
        );
        assert_eq!(default_name("/srv/lists/tv.m3u"), "tv.m3u");
        assert_eq!(default_name("http://u:p@host"), "host");
        assert_eq!(default_name("http://host/"), "host");
    }

    #[test]
    fn xtream_servers_from_what_operators_paste() {
        use super::xtream_server;
        let base = |s: &str| xtream_server(s).map_err(|e| e.to_string());
        assert_eq!(
            base("http://xc.example:8080"),
            Ok(("http://xc.example:8080".into(), None))
        );
        assert_eq!(
            base(" https://xc.example/ "),
            Ok(("https://xc.example".into(), None))
        );
        assert_eq!(
            base("http://xc.example/sub/player_api.php?username=a%20b&password=p%2Bq+r"),
            Ok((
                "http://xc.example/sub".into(),
                Some(("a b".into(), "p+q r".into()))
            ))
        );
        assert_eq!(
            base("http://xc.example/get.php?username=u&type=m3u_plus"),
            Ok(("http://xc.example".into(), None))
        );
        assert!(base("http://u:p@xc.example").unwrap_err().contains("apart"));
        assert!(base("ftp://xc.example").is_err());
        assert!(base("http://").is_err());
    }
}
