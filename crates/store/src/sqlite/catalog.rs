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
use rusqlite::types::{FromSqlError, ToSqlOutput, Type, ValueRef};
use rusqlite::{
    params, Connection, OptionalExtension, Row, ToSql, Transaction, TransactionBehavior,
};
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use tvgate_core::catalog::plan::{CatalogPlan, PlannedCategory, PlannedItem};
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
    /// [`fingerprint`] of the columns an import writes, as stored.
    stored: u64,
    seen: bool,
}

/// The columns an import writes to a stream row (besides its source, key
/// and `added`), in the order of the update's `?2`.. and of the
/// fingerprint.
const WRITTEN: &str = "kind, position, name, category_id, epg_id, logo, url, container, is_adult,
     archive_days, series_id, season, episode, catchup, catchup_source";
const WRITTEN_COUNT: usize = 15;

/// A stream row as an import writes it.
struct Columns<'a> {
    kind: &'static str,
    position: i64,
    name: &'a str,
    category: Option<i64>,
    epg_id: Option<&'a str>,
    logo: &'a str,
    url: &'a str,
    container: &'a str,
    is_adult: bool,
    archive_days: u16,
    series_id: Option<i64>,
    season: Option<u32>,
    episode: Option<u32>,
    catchup: Option<&'static str>,
    catchup_source: Option<&'a str>,
}

impl Columns<'_> {
    fn values(&self) -> [&dyn ToSql; WRITTEN_COUNT] {
        [
            &self.kind,
            &self.position,
            &self.name,
            &self.category,
            &self.epg_id,
            &self.logo,
            &self.url,
            &self.container,
            &self.is_adult,
            &self.archive_days,
            &self.series_id,
            &self.season,
            &self.episode,
            &self.catchup,
            &self.catchup_source,
        ]
    }
}

/// A 64-bit digest of SQL values, the same for a value bound and the value
/// read back (SQLite stores what it is given in these columns). A refresh
/// rewrites a row only when the digests differ: most rows of a provider's
/// list are unchanged from one refresh to the next, and an update costs
/// what an insert does. Two different rows agree by chance with odds of
/// 2^-64; the next change to either is written.
fn fingerprint<'v>(values: impl Iterator<Item = ValueRef<'v>>) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    for v in values {
        match v {
            ValueRef::Null => 0u8.hash(&mut h),
            ValueRef::Integer(i) => {
                1u8.hash(&mut h);
                i.hash(&mut h);
            }
            ValueRef::Real(f) => {
                2u8.hash(&mut h);
                f.to_bits().hash(&mut h);
            }
            ValueRef::Text(t) => {
                3u8.hash(&mut h);
                t.hash(&mut h);
            }
            ValueRef::Blob(b) => {
                4u8.hash(&mut h);
                b.hash(&mut h);
            }
        }
    }
    h.finish()
}

fn bound_fingerprint(values: &[&dyn ToSql]) -> StoreResult<u64> {
    let outputs = values
        .iter()
        .map(|v| v.to_sql())
        .collect::<rusqlite::Result<Vec<ToSqlOutput<'_>>>>()
        .ctx(IMPORT)?;
    Ok(fingerprint(outputs.iter().map(|o| match o {
        ToSqlOutput::Borrowed(v) => *v,
        ToSqlOutput::Owned(v) => ValueRef::from(v),
        _ => ValueRef::Null,
    })))
}

/// Item `position` of the plan as its stream row.
fn columns<'a>(
    position: usize,
    item: &'a PlannedItem,
    category_ids: &[i64],
    series_ids: &[i64],
) -> Columns<'a> {
    let (catchup, catchup_source) = encode_catchup(item.catchup.as_ref());
    Columns {
        kind: kind_name(item.kind),
        position: position as i64,
        name: &item.name,
        category: item.category.map(|c| category_ids[c]),
        epg_id: item.epg_id.as_deref(),
        logo: item.logo.as_deref().unwrap_or(""),
        url: &item.url,
        container: item.container.as_deref().unwrap_or(""),
        is_adult: item.is_adult,
        archive_days: item.archive_days,
        series_id: item.episode.map(|e| series_ids[e.series]),
        season: item.episode.map(|e| e.season),
        episode: item.episode.map(|e| e.episode),
        catchup,
        catchup_source,
    }
}

/// Rows per multi-row insert: one statement for 128 new streams (18
/// parameters each, well under SQLite's limit) instead of 128.
const INSERT_BATCH: usize = 128;

fn insert_sql(rows: usize) -> String {
    let mut sql = String::from(
        "INSERT INTO streams (source_id, key, added, kind, position, name, category_id, epg_id,
             logo, url, container, is_adult, archive_days, series_id, season, episode, catchup,
             catchup_source) VALUES ",
    );
    for r in 0..rows {
        if r > 0 {
            sql.push(',');
        }
        sql.push_str("(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    }
    sql
}

/// The secondary indexes of `streams` (migration 0001), dropped around a
/// first big import and built again once at its end: one sort of the
/// finished table costs far less than keeping three b-trees in order row
/// by row. Same transaction: a crash leaves the indexes as they were.
const STREAM_INDEXES: [(&str, &str); 3] = [
    ("streams_order", "streams (kind, source_id, position)"),
    ("streams_category", "streams (category_id)"),
    ("streams_series", "streams (series_id)"),
];

/// New rows from which an import into a smaller table rebuilds the
/// indexes instead of maintaining them.
const REBUILD_FROM: usize = 10_000;

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
            .prepare(&format!(
                "SELECT key, id, {WRITTEN} FROM streams WHERE source_id = ?1"
            ))
            .ctx(IMPORT)?;
        let mut rows = stmt.query([source.0]).ctx(IMPORT)?;
        while let Some(row) = rows.next().ctx(IMPORT)? {
            let stored = (2..2 + WRITTEN_COUNT)
                .map(|i| row.get_ref(i))
                .collect::<rusqlite::Result<Vec<ValueRef<'_>>>>()
                .ctx(IMPORT)?;
            existing.insert(
                row.get(0).ctx(IMPORT)?,
                Existing {
                    id: row.get(1).ctx(IMPORT)?,
                    series_id: row.get(12).ctx(IMPORT)?,
                    stored: fingerprint(stored.into_iter()),
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
        let new_rows = plan
            .items()
            .iter()
            .filter(|item| !existing.contains_key(item.key.as_str()))
            .count();
        let table_rows: i64 = tx
            .query_row("SELECT count(*) FROM streams", [], |r| r.get(0))
            .ctx(IMPORT)?;
        let rebuild = new_rows >= REBUILD_FROM && table_rows < new_rows as i64;
        if rebuild {
            for (name, _) in STREAM_INDEXES {
                tx.execute_batch(&format!("DROP INDEX IF EXISTS {name}"))
                    .ctx(IMPORT)?;
            }
        }
        let mut update = tx
            .prepare(
                "UPDATE streams SET kind = ?2, position = ?3, name = ?4, category_id = ?5,
                     epg_id = ?6, logo = ?7, url = ?8, container = ?9, is_adult = ?10,
                     archive_days = ?11, series_id = ?12, season = ?13, episode = ?14,
                     catchup = ?15, catchup_source = ?16
                 WHERE id = ?1",
            )
            .ctx(IMPORT)?;
        let row_of = |position: usize, item| columns(position, item, &category_ids, &series_ids);
        let mut pending: Vec<usize> = Vec::with_capacity(INSERT_BATCH);
        let flush = |pending: &mut Vec<usize>| -> StoreResult<()> {
            if pending.is_empty() {
                return Ok(());
            }
            let mut insert = tx.prepare_cached(&insert_sql(pending.len())).ctx(IMPORT)?;
            let mut n = 0;
            for &position in pending.iter() {
                let item = &plan.items()[position];
                let row = row_of(position, item);
                let head: [&dyn ToSql; 3] = [&source.0, &item.key, &now];
                for value in head.into_iter().chain(row.values()) {
                    n += 1;
                    insert.raw_bind_parameter(n, value).ctx(IMPORT)?;
                }
            }
            insert.raw_execute().ctx(IMPORT)?;
            // One statement's rows get consecutive ids: the last is the largest.
            check_public_id(tx.last_insert_rowid(), "stream")?;
            pending.clear();
            Ok(())
        };
        for (position, item) in plan.items().iter().enumerate() {
            let row = row_of(position, item);
            match existing.get_mut(item.key.as_str()) {
                Some(old) => {
                    old.seen = true;
                    if old.series_id != row.series_id {
                        touched.extend(old.series_id);
                        touched.extend(row.series_id);
                    }
                    let values = row.values();
                    if bound_fingerprint(&values)? != old.stored {
                        let id: [&dyn ToSql; 1] = [&old.id];
                        update
                            .execute(&id.into_iter().chain(values).collect::<Vec<_>>()[..])
                            .ctx(IMPORT)?;
                    }
                }
                None => {
                    touched.extend(row.series_id);
                    pending.push(position);
                    if pending.len() == INSERT_BATCH {
                        flush(&mut pending)?;
                    }
                }
            }
        }
        flush(&mut pending)?;
        if rebuild {
            for (name, on) in STREAM_INDEXES {
                tx.execute_batch(&format!("CREATE INDEX {name} ON {on}"))
                    .ctx(IMPORT)?;
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
