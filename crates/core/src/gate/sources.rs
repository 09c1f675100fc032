//! Sources and their streams as the operator manages them: add, remove,
//! switch on and off, list the stored streams. The CLI, the console and the
//! API call these, so every face applies the same checks. Each change
//! reloads the catalog, so players see it at once. (Importing a refresh's
//! content is `import.rs`; fetching it, which needs the network and the
//! disk, is the binary's `sources.rs`.)

use super::{Gate, GateError};
use crate::catalog::Source;
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
        source.name = source.name.trim().to_string();
        source.location = source.location.trim().to_string();
        if source.location.is_empty() {
            return Err(GateError::Invalid("location is required".into()));
        }
        if source.location.len() > MAX_SOURCE_LOCATION
            || source.location.chars().any(char::is_control)
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
        if source.name.chars().count() > MAX_SOURCE_NAME
            || source.name.chars().any(char::is_control)
        {
            return Err(GateError::Invalid(format!(
                "name must be one line of at most {MAX_SOURCE_NAME} characters"
            )));
        }
        let added = self.store.insert_source(source).await?;
        self.reload_catalog().await?;
        Ok(added)
    }

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
}
