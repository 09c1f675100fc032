//! The catalog: replacing a source's items, and loading everything back.
//!
//! Replacing writes a [`CatalogPlan`] (made by core's planner, which holds
//! every rule about keys, series and categories) by keys and names only:
//! stream ids are what players bookmark, so a stream row is identified by
//! `(source_id, key)` and an item whose key was already there keeps its id
//! and its `added` time; only new keys get new ids. Series rows likewise
//! by `(source_id, name)`. The walk is one pass over the plan with
//! prepared statements, in one transaction.
//!
//! Categories are shared by all sources, one per (kind, name), and are never
//! removed by an import, so a package keeps its meaning while a group is
//! briefly empty upstream. An episode points at its series.
//!
//! Loading is deterministic: live channels and movies by source, then
//! playlist position; series by source and the position of their first
//! episode, episodes by season and number; categories in order of first
//! appearance in those lists (unused ones last, by id). The same read
//! transaction loads every source's settings and the channels' backups.
//!
//! The load is what players see: streams an operator disabled (`enabled`,
//! migration 0005) are left out here; a refresh updates rows in place and
//! never writes that column, so the switch survives it. Items of a disabled
//! source are loaded and left out by `Catalog::build`, which knows the
//! source's switch from its settings.

use super::guide;
use super::sources::ensure_exists;
use super::{bump, Context, Half};
use crate::codec::{
    check_public_id, decode_catchup, decode_category, encode_catchup, kind_name, order_categories,
};
use rusqlite::types::{FromSqlError, Type};
use rusqlite::{params, Connection, OptionalExtension, Row, Transaction, TransactionBehavior};
use std::collections::{HashMap, HashSet};
use tvgate_core::catalog::plan::{CatalogPlan, PlannedCategory};
use tvgate_core::catalog::{CatalogData, Category, Episode, LiveChannel, LiveText, Movie, Series};
use tvgate_core::ids::{CategoryId, SeriesId, SourceId, StreamId};
use tvgate_core::ports::{ImportCounts, StoreResult};
use tvgate_core::UnixTime;

const IMPORT: &str = "replacing a source's items";

/// The id of each of the plan's categories, created when missing (in the
/// plan's order, so new ones get ids in that order).
fn category_ids(tx: &Transaction<'_>, categories: &[PlannedCategory]) -> StoreResult<Vec<i64>> {
    let mut find = tx
        .prepare("SELECT id FROM categories WHERE kind = ?1 AND name = ?2")
        .ctx(IMPORT)?;
    let mut insert = tx
        .prepare("INSERT INTO categories (kind, name) VALUES (?1, ?2)")
        .ctx(IMPORT)?;
    let mut ids = Vec::with_capacity(categories.len());
    for c in categories {
        let kind = c.kind.as_str();
        let found: Option<i64> = find
            .query_row(params![kind, c.name], |row| row.get(0))
            .optional()
            .ctx(IMPORT)?;
        let id = match found {
            Some(id) => id,
            None => {
                insert.execute(params![kind, c.name]).ctx(IMPORT)?;
                check_public_id(tx.last_insert_rowid(), "category")?
            }
        };
        ids.push(id);
    }
    Ok(ids)
}

/// A stream row already in the source.
struct Existing {
    id: i64,
    series_id: Option<i64>,
    seen: bool,
}

pub(super) fn replace_items(
    conn: &mut Connection,
    source: SourceId,
    plan: &CatalogPlan,
    now: UnixTime,
) -> StoreResult<ImportCounts> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .ctx(IMPORT)?;
    ensure_exists(&tx, source)?;

    let mut existing: HashMap<String, Existing> = HashMap::new();
    {
        let mut stmt = tx
            .prepare("SELECT key, id, series_id FROM streams WHERE source_id = ?1")
            .ctx(IMPORT)?;
        let mut rows = stmt.query([source.0]).ctx(IMPORT)?;
        while let Some(row) = rows.next().ctx(IMPORT)? {
            existing.insert(
                row.get(0).ctx(IMPORT)?,
                Existing {
                    id: row.get(1).ctx(IMPORT)?,
                    series_id: row.get(2).ctx(IMPORT)?,
                    seen: false,
                },
            );
        }
    }
    let mut old_series: HashMap<String, i64> = HashMap::new();
    {
        let mut stmt = tx
            .prepare("SELECT name, id FROM series WHERE source_id = ?1")
            .ctx(IMPORT)?;
        let mut rows = stmt.query([source.0]).ctx(IMPORT)?;
        while let Some(row) = rows.next().ctx(IMPORT)? {
            old_series.insert(row.get(0).ctx(IMPORT)?, row.get(1).ctx(IMPORT)?);
        }
    }
    let category_ids = category_ids(&tx, plan.categories())?;

    // Series by name; `old_series` keeps those the plan no longer has.
    let mut series_ids: Vec<i64> = Vec::with_capacity(plan.series().len());
    {
        let mut insert = tx
            .prepare(
                "INSERT INTO series (source_id, name, category_id, cover, last_modified, position)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .ctx(IMPORT)?;
        let mut update = tx
            .prepare("UPDATE series SET category_id = ?2, cover = ?3, position = ?4 WHERE id = ?1")
            .ctx(IMPORT)?;
        for s in plan.series() {
            let category = s.category.map(|c| category_ids[c]);
            let cover = s.cover.as_deref().unwrap_or("");
            let position = s.first as i64;
            let id = match old_series.remove(&s.name) {
                Some(id) => {
                    update
                        .execute(params![id, category, cover, position])
                        .ctx(IMPORT)?;
                    id
                }
                None => {
                    insert
                        .execute(params![source.0, s.name, category, cover, now, position])
                        .ctx(IMPORT)?;
                    check_public_id(tx.last_insert_rowid(), "series")?
                }
            };
            series_ids.push(id);
        }
    }

    // Series an episode joined or left: their last_modified becomes `now`.
    let mut touched: HashSet<i64> = HashSet::new();
    {
        let mut insert = tx
            .prepare(
                "INSERT INTO streams (source_id, key, kind, position, name, category_id, epg_id,
                     logo, url, container, is_adult, archive_days, added, series_id, season,
                     episode, catchup, catchup_source)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
                     ?17, ?18)",
            )
            .ctx(IMPORT)?;
        let mut update = tx
            .prepare(
                "UPDATE streams SET kind = ?2, position = ?3, name = ?4, category_id = ?5,
                     epg_id = ?6, logo = ?7, url = ?8, container = ?9, is_adult = ?10,
                     archive_days = ?11, series_id = ?12, season = ?13, episode = ?14,
                     catchup = ?15, catchup_source = ?16
                 WHERE id = ?1",
            )
            .ctx(IMPORT)?;
        for (position, item) in plan.items().iter().enumerate() {
            let category = item.category.map(|c| category_ids[c]);
            let series_id = item.episode.map(|e| series_ids[e.series]);
            let season = item.episode.map(|e| e.season);
            let episode = item.episode.map(|e| e.episode);
            let logo = item.logo.as_deref().unwrap_or("");
            let container = item.container.as_deref().unwrap_or("");
            let (catchup, catchup_source) = encode_catchup(item.catchup.as_ref());
            match existing.get_mut(item.key.as_str()) {
                Some(old) => {
                    old.seen = true;
                    if old.series_id != series_id {
                        touched.extend(old.series_id);
                        touched.extend(series_id);
                    }
                    update
                        .execute(params![
                            old.id,
                            kind_name(item.kind),
                            position as i64,
                            item.name,
                            category,
                            item.epg_id,
                            logo,
                            item.url,
                            container,
                            item.is_adult,
                            item.archive_days,
                            series_id,
                            season,
                            episode,
                            catchup,
                            catchup_source,
                        ])
                        .ctx(IMPORT)?;
                }
                None => {
                    touched.extend(series_id);
                    insert
                        .execute(params![
                            source.0,
                            item.key,
                            kind_name(item.kind),
                            position as i64,
                            item.name,
                            category,
                            item.epg_id,
                            logo,
                            item.url,
                            container,
                            item.is_adult,
                            item.archive_days,
                            now,
                            series_id,
                            season,
                            episode,
                            catchup,
                            catchup_source,
                        ])
                        .ctx(IMPORT)?;
                    check_public_id(tx.last_insert_rowid(), "stream")?;
                }
            }
        }
    }

    // Streams whose key is gone.
    let mut removed = 0;
    {
        let mut delete = tx
            .prepare("DELETE FROM streams WHERE id = ?1")
            .ctx(IMPORT)?;
        for old in existing.values().filter(|e| !e.seen) {
            delete.execute([old.id]).ctx(IMPORT)?;
            touched.extend(old.series_id);
            removed += 1;
        }
    }
    // Series the plan no longer has (their episodes were deleted or moved
    // above, so the cascade takes nothing with them).
    {
        let mut delete = tx.prepare("DELETE FROM series WHERE id = ?1").ctx(IMPORT)?;
        for id in old_series.values() {
            delete.execute([id]).ctx(IMPORT)?;
        }
        let kept: HashSet<i64> = series_ids.iter().copied().collect();
        let mut modified = tx
            .prepare("UPDATE series SET last_modified = ?2 WHERE id = ?1")
            .ctx(IMPORT)?;
        for id in touched.iter().filter(|id| kept.contains(id)) {
            modified.execute(params![id, now]).ctx(IMPORT)?;
        }
    }
    bump(&tx, Half::Catalog)?;
    tx.commit().ctx(IMPORT)?;
    Ok(ImportCounts {
        removed,
        ..plan.counts()
    })
}

/// Reads the whole catalog in one read transaction (one consistent state).
pub(super) fn load(conn: &mut Connection) -> StoreResult<CatalogData> {
    const CONTEXT: &str = "loading the catalog";
    let tx = conn.transaction().ctx(CONTEXT)?;
    let mut data = CatalogData::default();

    {
        let mut stmt = tx
            .prepare(
                "SELECT id, source_id, name, category_id, epg_id, logo, url, added, is_adult,
                        archive_days, catchup, catchup_source
                 FROM streams WHERE kind = 'live' AND enabled = 1 ORDER BY source_id, position, id",
            )
            .ctx(CONTEXT)?;
        let catchups = &mut data.catchups;
        let rows = stmt
            .query_map([], |row| {
                let archive_days: u16 = row.get(9)?;
                if archive_days > 0 {
                    let id: i64 = row.get(0)?;
                    let kind = optional_text(row, 10)?;
                    let source = optional_text(row, 11)?;
                    if let Some(c) = decode_catchup(id, kind, source) {
                        catchups.push((StreamId(id as u32), c));
                    }
                }
                Ok(LiveChannel {
                    id: StreamId(row.get(0)?),
                    source: SourceId(row.get(1)?),
                    category: row.get::<_, Option<u32>>(3)?.map(CategoryId),
                    added: row.get(7)?,
                    is_adult: row.get(8)?,
                    archive_days,
                    // Borrowed from the row: the packed text is the only copy.
                    text: LiveText::new(
                        text(row, 2)?,
                        text(row, 5)?,
                        text(row, 6)?,
                        optional_text(row, 4)?,
                    ),
                })
            })
            .ctx(CONTEXT)?;
        data.live = rows.collect::<Result<_, _>>().ctx(CONTEXT)?;
    }
    {
        let mut stmt = tx
            .prepare(
                "SELECT id, source_id, name, category_id, logo, url, container, added, is_adult,
                        plot, year, rating
                 FROM streams WHERE kind = 'movie' AND enabled = 1 ORDER BY source_id, position, id",
            )
            .ctx(CONTEXT)?;
        let rows = stmt
            .query_map([], |row| {
                Ok(Movie {
                    id: StreamId(row.get(0)?),
                    source: SourceId(row.get(1)?),
                    name: row.get::<_, String>(2)?.into(),
                    category: row.get::<_, Option<u32>>(3)?.map(CategoryId),
                    logo: row.get::<_, String>(4)?.into(),
                    url: row.get::<_, String>(5)?.into(),
                    container: row.get::<_, String>(6)?.into(),
                    added: row.get(7)?,
                    is_adult: row.get(8)?,
                    plot: row.get::<_, String>(9)?.into(),
                    year: row.get(10)?,
                    rating: row.get::<_, Option<f64>>(11)?.map(|r| r as f32),
                })
            })
            .ctx(CONTEXT)?;
        data.movies = rows.collect::<Result<_, _>>().ctx(CONTEXT)?;
    }
    {
        let mut stmt = tx
            .prepare(
                "SELECT id, source_id, name, category_id, cover, plot, last_modified
                 FROM series ORDER BY source_id, position, id",
            )
            .ctx(CONTEXT)?;
        let rows = stmt
            .query_map([], |row| {
                Ok(Series {
                    id: SeriesId(row.get(0)?),
                    source: SourceId(row.get(1)?),
                    name: row.get::<_, String>(2)?.into(),
                    category: row.get::<_, Option<u32>>(3)?.map(CategoryId),
                    cover: row.get::<_, String>(4)?.into(),
                    plot: row.get::<_, String>(5)?.into(),
                    last_modified: row.get(6)?,
                    episodes: Vec::new(),
                })
            })
            .ctx(CONTEXT)?;
        data.series = rows.collect::<Result<_, _>>().ctx(CONTEXT)?;
    }
    {
        let index: HashMap<SeriesId, usize> = data
            .series
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id, i))
            .collect();
        let mut stmt = tx
            .prepare(
                "SELECT series_id, id, season, episode, name, url, container, added
                 FROM streams WHERE kind = 'episode' AND enabled = 1
                 ORDER BY series_id, season, episode, position, id",
            )
            .ctx(CONTEXT)?;
        let mut rows = stmt.query([]).ctx(CONTEXT)?;
        while let Some(row) = rows.next().ctx(CONTEXT)? {
            let series: Option<u32> = row.get(0).ctx(CONTEXT)?;
            let Some(&si) = series.and_then(|s| index.get(&SeriesId(s))) else {
                // Cannot happen with foreign keys on; never worth a panic.
                tracing::warn!(stream = ?row.get::<_, i64>(1).ok(), "episode without a series skipped");
                continue;
            };
            data.series[si].episodes.push(Episode {
                id: StreamId(row.get(1).ctx(CONTEXT)?),
                season: row.get::<_, Option<u32>>(2).ctx(CONTEXT)?.unwrap_or(1),
                episode: row.get::<_, Option<u32>>(3).ctx(CONTEXT)?.unwrap_or(1),
                title: row.get::<_, String>(4).ctx(CONTEXT)?.into(),
                url: row.get::<_, String>(5).ctx(CONTEXT)?.into(),
                container: row.get::<_, String>(6).ctx(CONTEXT)?.into(),
                added: row.get(7).ctx(CONTEXT)?,
            });
        }
    }
    data.categories = load_categories(&tx, &data)?;
    guide::load(&tx, &mut data)?;
    data.sources = super::sources::load_settings(&tx)?;
    data.backups = super::backups::load(&tx)?;
    tx.commit().ctx(CONTEXT)?;
    Ok(data)
}

/// A TEXT column borrowed from the row (NULL or invalid UTF-8 is an error,
/// as `row.get::<_, String>` would give).
fn text<'r>(row: &'r Row<'_>, i: usize) -> rusqlite::Result<&'r str> {
    row.get_ref(i)?.as_str().map_err(|e| conversion_error(i, e))
}

/// A nullable TEXT column borrowed from the row.
fn optional_text<'r>(row: &'r Row<'_>, i: usize) -> rusqlite::Result<Option<&'r str>> {
    row.get_ref(i)?
        .as_str_or_null()
        .map_err(|e| conversion_error(i, e))
}

fn conversion_error(i: usize, e: FromSqlError) -> rusqlite::Error {
    match e {
        FromSqlError::InvalidType => {
            rusqlite::Error::InvalidColumnType(i, format!("column {i}"), Type::Text)
        }
        other => rusqlite::Error::FromSqlConversionFailure(i, Type::Text, Box::new(other)),
    }
}

/// Every category, in the order `codec::order_categories` gives.
fn load_categories(tx: &Transaction<'_>, data: &CatalogData) -> StoreResult<Vec<Category>> {
    const CONTEXT: &str = "loading categories";
    let mut by_id = Vec::new();
    let mut stmt = tx
        .prepare("SELECT id, kind, name FROM categories ORDER BY id")
        .ctx(CONTEXT)?;
    let mut rows = stmt.query([]).ctx(CONTEXT)?;
    while let Some(row) = rows.next().ctx(CONTEXT)? {
        let kind: String = row.get(1).ctx(CONTEXT)?;
        by_id.extend(decode_category(
            row.get(0).ctx(CONTEXT)?,
            &kind,
            row.get(2).ctx(CONTEXT)?,
        ));
    }
    Ok(order_categories(by_id, data))
}
