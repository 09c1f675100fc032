//! Importing an Xtream account source: the I/O of its refresh.
//!
//! One refresh logs in (`player_api.php`), reads the three category lists,
//! `get_live_streams`, `get_vod_streams`, `get_series` and, per series,
//! `get_series_info` (a few at a time, each retried), then the account's
//! guide (`xmltv.php`). The long lists are downloaded to a file and read
//! from it entry by entry on a blocking thread, so neither the body nor a
//! JSON tree of it is ever held whole. What comes out is core's plan,
//! keyed by the provider's ids (`xtream:live:ID`, `xtream:movie:ID`,
//! `xtream:episode:ID`): a channel keeps its tvgate stream id across
//! refreshes as long as the provider keeps its id, whatever its name or
//! position.
//!
//! Streams are fetched from the provider's own URLs
//! (`/live/U/P/ID.ts`, `/movie/U/P/ID.EXT`, `/series/U/P/ID.EXT`): live
//! channels through the relay, movies and episodes through the VOD proxy,
//! as for any source; a channel with `tv_archive` gets the `xc` catch-up
//! convention.
//!
//! Failing as a whole keeps the catalog of the last good refresh (the
//! gate records the error and stores nothing): an account the provider
//! refuses (`auth: 0`, a status other than Active, an HTTP error such as a
//! fake 404, an HTML page), a list that cannot be read to its end, a
//! series whose episodes cannot be fetched after the retries. What is
//! wrong with single entries (a missing id, a name that is null, the same
//! id twice) is a diagnostic naming it, and the rest is imported. A guide
//! that cannot be read is a diagnostic too: the guide stored before stays.
//!
//! Every URL in a message goes through `redact_url` (the credentials are in
//! the query of `player_api.php` and in the path of stream URLs), and
//! reqwest's own errors are stripped of the URL they carry.

use super::{parse_file, Phase, Progress};
use anyhow::{bail, Context, Result};
use futures::stream::{self, StreamExt, TryStreamExt};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tvgate_core::catalog::catchup;
use tvgate_core::catalog::ingest::{EpisodeOf, ImportedItem, ItemKind};
use tvgate_core::catalog::plan::Planner;
use tvgate_core::catalog::{Source, SourceKind, XtreamAccount};
use tvgate_core::gate::{AccountContent, ParsedSource, SourceContent};
use tvgate_formats::xtream::upstream::{self, Episode};
use tvgate_formats::{redact_url, Diagnostic};

/// How many `get_series_info` requests are in flight at once.
const SERIES_AT_ONCE: usize = 4;
/// How many times a request is tried before the refresh fails.
const ATTEMPTS: u32 = 3;
/// The first pause between attempts; doubled each time.
const FIRST_PAUSE: Duration = Duration::from_millis(300);

/// Characters kept as they are in a URL path segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The account's address and credentials, and how to ask it things.
struct Upstream {
    client: reqwest::Client,
    base: String,
    account: XtreamAccount,
}

impl Upstream {
    fn new(source: &Source, egress: &tvgate_relay::EgressGuard) -> Result<Upstream> {
        let Some(account) = source.account.clone() else {
            bail!("this Xtream source has no account: remove it and add it again with --username and --password");
        };
        let client = egress
            .client_builder()
            .connect_timeout(Duration::from_secs(15))
            .read_timeout(Duration::from_secs(60))
            .user_agent(tvgate_http::state::OWN_USER_AGENT)
            .default_headers(tvgate_http::state::upstream_headers(&source.identity))
            .build()
            .context("building the HTTP client")?;
        Ok(Upstream {
            client,
            base: source.location.trim_end_matches('/').to_string(),
            account,
        })
    }

    /// `player_api.php` with the credentials and `params`.
    fn api(&self, params: &[(&str, &str)]) -> reqwest::RequestBuilder {
        let mut query = vec![
            ("username", self.account.username.as_str()),
            ("password", self.account.password.as_str()),
        ];
        query.extend_from_slice(params);
        self.client
            .get(format!("{}/player_api.php", self.base))
            .query(&query)
    }

    /// The URL a request goes to, redacted, for messages.
    fn shown(&self, request: &reqwest::RequestBuilder) -> String {
        request
            .try_clone()
            .and_then(|r| r.build().ok())
            .map(|r| redact_url(r.url().as_str()))
            .unwrap_or_else(|| redact_url(&self.base))
    }

    /// A stream URL of the provider: `/KIND/U/P/ID.EXT`.
    fn stream_url(&self, kind: &str, id: u64, ext: &str) -> String {
        format!(
            "{}/{kind}/{}/{}/{id}.{ext}",
            self.base,
            utf8_percent_encode(&self.account.username, SEGMENT),
            utf8_percent_encode(&self.account.password, SEGMENT),
        )
    }

    /// Sends a request and checks its status: an HTTP error is said with
    /// what the body says it is (a 404 page, a login form).
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response> {
        let shown = self.shown(&request);
        let response = request
            .send()
            .await
            .map_err(reqwest::Error::without_url)
            .with_context(|| format!("asking {shown}"))?;
        let status = response.status();
        if !status.is_success() {
            let body = response.bytes().await.unwrap_or_default();
            let said = if body.is_empty() {
                String::new()
            } else {
                format!("; {}", upstream::not_json(&body))
            };
            bail!("{shown}: the provider answered HTTP {status}{said}");
        }
        Ok(response)
    }

    /// A small answer, whole.
    async fn small(&self, params: &[(&str, &str)]) -> Result<Vec<u8>> {
        let request = self.api(params);
        let shown = self.shown(&request);
        let response = self.send(request).await?;
        let body = response
            .bytes()
            .await
            .map_err(reqwest::Error::without_url)
            .with_context(|| format!("reading {shown}"))?;
        Ok(body.to_vec())
    }

    /// A small answer, tried up to [`ATTEMPTS`] times while it fails or
    /// is not JSON (a provider under load answers an error page now and
    /// then).
    async fn small_retried(&self, params: &[(&str, &str)]) -> Result<Vec<u8>> {
        let mut pause = FIRST_PAUSE;
        let mut attempt = 1;
        loop {
            let outcome = match self.small(params).await {
                Ok(body) if looks_like_json(&body) => Ok(body),
                Ok(body) => Err(anyhow::anyhow!(
                    "{}: {}",
                    self.shown(&self.api(params)),
                    upstream::not_json(&body)
                )),
                Err(e) => Err(e),
            };
            match outcome {
                Ok(body) => return Ok(body),
                Err(e) if attempt >= ATTEMPTS => {
                    return Err(e.context(format!("gave up after {ATTEMPTS} attempts")))
                }
                Err(_) => {
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                    attempt += 1;
                }
            }
        }
    }

    /// A long answer, saved to a file under `dir` so it is read from disk.
    async fn to_file(
        &self,
        request: reqwest::RequestBuilder,
        dir: &Path,
        name: &str,
        progress: &Arc<dyn Progress>,
    ) -> Result<TempFile> {
        let shown = self.shown(&request);
        let mut response = self.send(request).await?;
        progress.phase(Phase::Downloading, response.content_length());
        let path = dir.join(format!("download-{}-{name}.tmp", std::process::id()));
        let file = TempFile(path);
        let mut out = tokio::fs::File::create(&file.0)
            .await
            .with_context(|| format!("creating {}", file.0.display()))?;
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(reqwest::Error::without_url)
            .with_context(|| format!("reading {shown} (the provider stopped sending it)"))?
        {
            tokio::io::AsyncWriteExt::write_all(&mut out, &chunk)
                .await
                .with_context(|| format!("writing {}", file.0.display()))?;
            progress.advance(chunk.len() as u64);
        }
        // Lands before the reader opens it (see `sources::download`).
        tokio::io::AsyncWriteExt::flush(&mut out)
            .await
            .with_context(|| format!("writing {}", file.0.display()))?;
        Ok(file)
    }
}

/// A downloaded answer, removed when dropped.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Whether a body starts like a JSON value (after blanks and a BOM).
fn looks_like_json(body: &[u8]) -> bool {
    let body = body.strip_prefix(b"\xef\xbb\xbf").unwrap_or(body);
    body.iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| matches!(b, b'[' | b'{' | b'n' | b't' | b'f'))
}

/// Category id → name, of one of the three lists.
type Categories = HashMap<String, String>;

/// Reads one category list (its problems are added to `problems`).
async fn categories(
    up: &Upstream,
    action: &str,
    problems: &mut Vec<Diagnostic>,
) -> Result<Categories> {
    let body = up.small_retried(&[("action", action)]).await?;
    let mut map = Categories::new();
    let found = upstream::read_categories(body.as_slice(), action, |c| {
        map.entry(c.id).or_insert(c.name);
    })
    .map_err(|e| anyhow::anyhow!("{action}: {e}"))?;
    problems.extend(found);
    Ok(map)
}

/// Reads an Xtream account into a plan (see the module doc).
pub(super) async fn fetch(
    source: &Source,
    data_dir: &Path,
    progress: &Arc<dyn Progress>,
    egress: &tvgate_relay::EgressGuard,
) -> Result<ParsedSource> {
    debug_assert_eq!(source.kind, SourceKind::Xtream);
    let up = Arc::new(Upstream::new(source, egress)?);
    let tag = source.id.0;

    // The login: refused accounts stop here, before anything is stored.
    progress.phase(Phase::Downloading, None);
    let login = up.small(&[]).await?;
    let account = upstream::read_account(&login)
        .map_err(|e| anyhow::anyhow!("the login at {}: {e}", up.shown(&up.api(&[]))))?;
    if let Some(why) = account.refusal() {
        bail!("{why}");
    }

    let mut problems: Vec<Diagnostic> = Vec::new();
    let live_groups = categories(&up, "get_live_categories", &mut problems).await?;
    let vod_groups = categories(&up, "get_vod_categories", &mut problems).await?;
    let series_groups = categories(&up, "get_series_categories", &mut problems).await?;

    // The long lists, from files, on a blocking thread each.
    let lists = [
        ("get_live_streams", ItemKind::Live),
        ("get_vod_streams", ItemKind::Movie),
    ];
    let mut planner = Planner::default();
    for (action, kind) in lists {
        let file = up
            .to_file(
                up.api(&[("action", action)]),
                data_dir,
                &format!("{tag}-{action}"),
                progress,
            )
            .await?;
        progress.phase(Phase::Parsing, None);
        let groups = match kind {
            ItemKind::Live => live_groups.clone(),
            _ => vod_groups.clone(),
        };
        let reader_up = up.clone();
        let path = file.0.clone();
        let counter = progress.clone();
        let (back, found) = tokio::task::spawn_blocking(move || {
            read_streams(&reader_up, &path, kind, &groups, planner, counter)
        })
        .await
        .context("reader thread failed")??;
        drop(file);
        planner = back;
        problems.extend(found);
    }

    // Series, then each one's episodes: a few requests at a time, in the
    // order of the list (so positions, hence the order players see, are
    // the provider's).
    let file = up
        .to_file(
            up.api(&[("action", "get_series")]),
            data_dir,
            &format!("{tag}-get_series"),
            progress,
        )
        .await?;
    let path = file.0.clone();
    let (series, found) = tokio::task::spawn_blocking(move || {
        let file =
            std::fs::File::open(&path).with_context(|| format!("opening {}", path.display()))?;
        let mut all = Vec::new();
        let found = upstream::read_series(file, |s| all.push(s))
            .map_err(|e| anyhow::anyhow!("get_series: {e}"))?;
        anyhow::Ok((all, found))
    })
    .await
    .context("reader thread failed")??;
    drop(file);
    problems.extend(found);
    let mut seen_series: HashSet<u64> = HashSet::new();
    let mut series_names: HashMap<String, u64> = HashMap::new();
    let mut chosen = Vec::with_capacity(series.len());
    for s in series {
        if !seen_series.insert(s.id) {
            problems.push(Diagnostic::new(
                0,
                format!(
                    "get_series: series_id {} appears twice; the second is skipped",
                    s.id
                ),
            ));
            continue;
        }
        // Series are kept by name: two of the provider's with one name
        // would merge, so the later one is told apart by its id.
        let name = match series_names.get(&s.name) {
            Some(_) => format!("{} ({})", s.name, s.id),
            None => s.name.clone(),
        };
        series_names.insert(name.clone(), s.id);
        chosen.push((s, name));
    }
    progress.phase(Phase::Downloading, Some(chosen.len() as u64));
    let infos = stream::iter(chosen.into_iter().map(|(s, name)| {
        let up = up.clone();
        async move {
            let id = s.id.to_string();
            let body = up
                .small_retried(&[("action", "get_series_info"), ("series_id", &id)])
                .await
                .with_context(|| format!("the episodes of series {} ({:?})", s.id, s.name))?;
            let parsed = upstream::read_series_info(&body, s.id)
                .map_err(|e| anyhow::anyhow!("get_series_info of series {}: {e}", s.id))?;
            anyhow::Ok((s, name, parsed))
        }
    }))
    .buffered(SERIES_AT_ONCE);
    futures::pin_mut!(infos);
    let mut seen_episodes: HashSet<u64> = HashSet::new();
    while let Some((s, name, (episodes, found))) = infos.try_next().await? {
        progress.advance(1);
        progress.entries(episodes.len() as u64);
        problems.extend(found);
        let group = s
            .category_id
            .as_ref()
            .and_then(|c| series_groups.get(c))
            .cloned();
        let mut episodes: Vec<Episode> = episodes;
        episodes.sort_by_key(|e| (e.season, e.episode));
        for e in episodes {
            if !seen_episodes.insert(e.id) {
                problems.push(Diagnostic::new(
                    0,
                    format!(
                        "get_series_info of series {}: episode id {} appears twice; the second is skipped",
                        s.id, e.id
                    ),
                ));
                continue;
            }
            let ext = e.container.clone().unwrap_or_else(|| "mp4".into());
            planner.push(ImportedItem {
                key: format!("xtream:episode:{}", e.id),
                kind: ItemKind::Episode,
                name: e.title.clone(),
                group: group.clone(),
                epg_id: None,
                logo: Some(s.cover.clone()).filter(|c| !c.is_empty()),
                url: up.stream_url("series", e.id, &ext),
                container: Some(ext),
                is_adult: false,
                archive_days: 0,
                catchup: None,
                episode_of: Some(EpisodeOf {
                    series: name.clone(),
                    season: e.season,
                    episode: e.episode,
                }),
                line: 0,
            });
        }
    }

    // The guide: a problem here is the refresh's, not its failure.
    let guide = match guide(&up, data_dir, tag, progress).await {
        Ok((plan, found)) => {
            problems.extend(found);
            Some(plan)
        }
        Err(e) => {
            problems.push(Diagnostic::new(
                0,
                format!("the account's guide was not read (the one stored before stays): {e:#}"),
            ));
            None
        }
    };

    Ok(ParsedSource {
        content: SourceContent::Account(AccountContent {
            catalog: planner.finish(),
            guide,
            max_connections: account.max_connections.unwrap_or(0),
        }),
        diagnostics: problems,
    })
}

/// Reads `get_live_streams` or `get_vod_streams` from a file into the
/// planner (a blocking thread's work).
fn read_streams(
    up: &Upstream,
    path: &Path,
    kind: ItemKind,
    groups: &Categories,
    mut planner: Planner,
    progress: Arc<dyn Progress>,
) -> Result<(Planner, Vec<Diagnostic>)> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let counter = super::EntryCounter::new(progress);
    let mut seen: HashSet<u64> = HashSet::new();
    let mut duplicates: Vec<Diagnostic> = Vec::new();
    let group = |id: &Option<String>| id.as_ref().and_then(|c| groups.get(c)).cloned();
    let found = match kind {
        ItemKind::Live => upstream::read_live(file, |l| {
            counter.one();
            if !seen.insert(l.id) {
                duplicates.push(duplicate("get_live_streams", l.id));
                return;
            }
            planner.push(ImportedItem {
                key: format!("xtream:live:{}", l.id),
                kind: ItemKind::Live,
                group: group(&l.category_id),
                epg_id: l.epg_channel_id,
                logo: Some(l.icon).filter(|i| !i.is_empty()),
                url: up.stream_url("live", l.id, "ts"),
                container: None,
                is_adult: l.is_adult,
                archive_days: l.archive_days,
                catchup: (l.archive_days > 0).then(catchup::xc),
                episode_of: None,
                line: 0,
                name: l.name,
            });
        })
        .map_err(|e| anyhow::anyhow!("get_live_streams: {e}"))?,
        _ => upstream::read_vod(file, |v| {
            counter.one();
            if !seen.insert(v.id) {
                duplicates.push(duplicate("get_vod_streams", v.id));
                return;
            }
            let ext = v.container.unwrap_or_else(|| "mp4".into());
            planner.push(ImportedItem {
                key: format!("xtream:movie:{}", v.id),
                kind: ItemKind::Movie,
                group: group(&v.category_id),
                epg_id: None,
                logo: Some(v.icon).filter(|i| !i.is_empty()),
                url: up.stream_url("movie", v.id, &ext),
                container: Some(ext),
                is_adult: v.is_adult,
                archive_days: 0,
                catchup: None,
                episode_of: None,
                line: 0,
                name: v.name,
            });
        })
        .map_err(|e| anyhow::anyhow!("get_vod_streams: {e}"))?,
    };
    let mut problems = found;
    problems.extend(duplicates);
    Ok((planner, problems))
}

fn duplicate(action: &str, id: u64) -> Diagnostic {
    Diagnostic::new(
        0,
        format!("{action}: stream_id {id} appears twice; the second is skipped"),
    )
}

/// The account's guide (`xmltv.php`), read as any XMLTV source is.
async fn guide(
    up: &Upstream,
    data_dir: &Path,
    tag: i64,
    progress: &Arc<dyn Progress>,
) -> Result<(tvgate_core::catalog::guide_plan::GuidePlan, Vec<Diagnostic>)> {
    let request = up.client.get(format!("{}/xmltv.php", up.base)).query(&[
        ("username", up.account.username.as_str()),
        ("password", up.account.password.as_str()),
    ]);
    let file = up
        .to_file(request, data_dir, &format!("{tag}-xmltv"), progress)
        .await?;
    let path = file.0.clone();
    let sink = progress.clone();
    let spool_dir = data_dir.to_path_buf();
    let parsed =
        tokio::task::spawn_blocking(move || parse_file(&path, SourceKind::Xmltv, sink, &spool_dir))
            .await
            .context("parser thread failed")??;
    drop(file);
    match parsed.content {
        SourceContent::Guide(plan) => Ok((plan, parsed.diagnostics)),
        _ => bail!("the guide was not read as a guide"),
    }
}
