//! The catalog on PostgreSQL: replacing a source's items, and loading
//! everything back. The rules are SQLite's (see its `catalog`): a stream
//! is identified by `(source_id, key)` and keeps its id, `added` time and
//! `enabled` switch while its key stays; series likewise by name;
//! categories are found or created by (kind, name) in the plan's order and
//! never removed by an import. What differs is how the work is done.
//!
//! Replacing never goes row by row. Categories and series (thousands) are
//! written with one statement each over arrays (`unnest`). The items (up to
//! millions) go by binary COPY into a temporary table, and four statements
//! join it with the source's streams: which series an episode joins or
//! leaves, the changed rows updated (unchanged ones are not rewritten, so a
//! refresh that changes little leaves little to vacuum), the new keys
//! inserted in plan order (their ids follow it; a key already stored never
//! takes a new id, so ids are not spent by refreshes), and the keys gone
//! deleted. The whole replacement is one transaction under the catalog's
//! advisory lock.
//!
//! Loading reads everything in one repeatable-read, read-only transaction
//! (one consistent state, however many writers). Streams and programmes,
//! the long lists, come by binary `COPY … TO STDOUT` and are decoded as
//! they arrive; a live channel's strings are borrowed from the row into
//! its one packed allocation.

use super::guide;
use super::sources::ensure_exists;
use super::{bump, lock_catalog, opt_text, text, Context, Half};
use crate::codec::{
    check_public_id, decode_catchup, decode_category, encode_catchup, kind_name, order_categories,
};
use deadpool_postgres::{GenericClient, Object, Transaction};
use futures::{pin_mut, TryStreamExt};
use std::collections::{HashMap, HashSet};
use tokio_postgres::binary_copy::{BinaryCopyInWriter, BinaryCopyOutRow, BinaryCopyOutStream};
use tokio_postgres::types::{ToSql, Type};
use tvgate_core::catalog::plan::{CatalogPlan, PlannedCategory};
use tvgate_core::catalog::{CatalogData, Episode, LiveChannel, LiveText, Movie, Series};
use tvgate_core::ids::{CategoryId, SeriesId, SourceId, StreamId};
use tvgate_core::ports::{ImportCounts, StoreError, StoreResult};
use tvgate_core::UnixTime;

const IMPORT: &str = "replacing a source's items";

/// The id of each of the plan's categories, created when missing (in the
/// plan's order, so new ones get ids in that order).
async fn category_ids(
    tx: &impl GenericClient,
    categories: &[PlannedCategory],
) -> StoreResult<Vec<i64>> {
    let kinds: Vec<&str> = categories.iter().map(|c| c.kind.as_str()).collect();
    let names: Vec<_> = categories.iter().map(|c| text(&c.name)).collect();
    // NOT EXISTS first, so an existing category spends no sequence value.
    tx.execute(
        "INSERT INTO categories (kind, name)
         SELECT k, n FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS c(k, n, o)
         WHERE NOT EXISTS (SELECT 1 FROM categories x WHERE x.kind = c.k AND x.name = c.n)
         ORDER BY o
         ON CONFLICT (kind, name) DO NOTHING",
        &[&kinds, &names],
    )
    .await
    .ctx(IMPORT)?;
    let mut found: HashMap<(String, String), i64> = HashMap::with_capacity(categories.len());
    for row in tx
        .query(
            "SELECT x.id, x.kind, x.name FROM categories x
             JOIN unnest($1::text[], $2::text[]) AS c(k, n) ON x.kind = c.k AND x.name = c.n",
            &[&kinds, &names],
        )
        .await
        .ctx(IMPORT)?
    {
        let id = check_public_id(row.try_get(0).ctx(IMPORT)?, "category")?;
        found.insert(
            (row.try_get(1).ctx(IMPORT)?, row.try_get(2).ctx(IMPORT)?),
            id,
        );
    }
    categories
        .iter()
        .map(|c| {
            found
                .get(&(c.kind.as_str().to_string(), text(&c.name).into_owned()))
                .copied()
                .ok_or_else(|| StoreError::Backend {
                    context: IMPORT,
                    message: format!("category {:?} was not stored", c.name),
                })
        })
        .collect()
}

/// The plan's series by name: existing ones updated where they changed,
/// new ones created (in plan order, `last_modified = now`); returns each
/// planned series' id and the ids of the source's series the plan lacks.
async fn series_ids(
    tx: &impl GenericClient,
    source: SourceId,
    plan: &CatalogPlan,
    category_ids: &[i64],
    now: UnixTime,
) -> StoreResult<(Vec<i64>, Vec<i64>)> {
    let mut old: HashMap<String, i64> = HashMap::new();
    for row in tx
        .query(
            "SELECT name, id FROM series WHERE source_id = $1",
            &[&source.0],
        )
        .await
        .ctx(IMPORT)?
    {
        old.insert(row.try_get(0).ctx(IMPORT)?, row.try_get(1).ctx(IMPORT)?);
    }
    let mut ids: Vec<Option<i64>> = Vec::with_capacity(plan.series().len());
    let (mut kept_ids, mut kept_cats, mut kept_covers, mut kept_pos) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut new_names, mut new_cats, mut new_covers, mut new_pos) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for s in plan.series() {
        let category = s.category.map(|c| category_ids[c]);
        let cover = text(s.cover.as_deref().unwrap_or(""));
        let position = s.first as i64;
        match old.remove(text(&s.name).as_ref()) {
            Some(id) => {
                ids.push(Some(id));
                kept_ids.push(id);
                kept_cats.push(category);
                kept_covers.push(cover);
                kept_pos.push(position);
            }
            None => {
                ids.push(None);
                new_names.push(text(&s.name));
                new_cats.push(category);
                new_covers.push(cover);
                new_pos.push(position);
            }
        }
    }
    tx.execute(
        "UPDATE series s SET category_id = u.c, cover = u.cv, position = u.p
         FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[]) AS u(id, c, cv, p)
         WHERE s.id = u.id AND (s.category_id, s.cover, s.position) IS DISTINCT FROM (u.c, u.cv, u.p)",
        &[&kept_ids, &kept_cats, &kept_covers, &kept_pos],
    )
    .await
    .ctx(IMPORT)?;
    let mut created: HashMap<String, i64> = HashMap::with_capacity(new_names.len());
    for row in tx
        .query(
            "INSERT INTO series (source_id, name, category_id, cover, last_modified, position)
             SELECT $1, n, c, cv, $2, p
             FROM unnest($3::text[], $4::bigint[], $5::text[], $6::bigint[])
                  WITH ORDINALITY AS u(n, c, cv, p, o)
             ORDER BY o
             RETURNING id, name",
            &[
                &source.0,
                &now,
                &new_names,
                &new_cats,
                &new_covers,
                &new_pos,
            ],
        )
        .await
        .ctx(IMPORT)?
    {
        let id = check_public_id(row.try_get(0).ctx(IMPORT)?, "series")?;
        created.insert(row.try_get(1).ctx(IMPORT)?, id);
    }
    let ids = ids
        .into_iter()
        .zip(plan.series())
        .map(|(id, s)| {
            id.or_else(|| created.get(text(&s.name).as_ref()).copied())
                .ok_or_else(|| StoreError::Backend {
                    context: IMPORT,
                    message: format!("series {:?} was not stored", s.name),
                })
        })
        .collect::<StoreResult<Vec<i64>>>()?;
    Ok((ids, old.into_values().collect()))
}

/// The columns of the temporary `incoming` table, in COPY order.
const INCOMING_TYPES: &[Type] = &[
    Type::TEXT, // key
    Type::TEXT, // kind
    Type::INT8, // position
    Type::TEXT, // name
    Type::INT8, // category_id
    Type::TEXT, // epg_id
    Type::TEXT, // logo
    Type::TEXT, // url
    Type::TEXT, // container
    Type::BOOL, // is_adult
    Type::INT8, // archive_days
    Type::INT8, // series_id
    Type::INT8, // season
    Type::INT8, // episode
    Type::TEXT, // catchup
    Type::TEXT, // catchup_source
];

/// A stored stream `s` and an incoming item `i` with the same key: by the
/// key's MD5 first, which the unique index `streams_key` holds (see the
/// migration), then by the key itself.
const SAME_KEY: &str = "md5(s.key) = md5(i.key) AND s.key = i.key";

/// The columns streams are written with, shared by the update, the
/// insert and the "did it change" comparison.
const ITEM_COLUMNS: &str = "kind, position, name, category_id, epg_id, logo, url, container, \
                            is_adult, archive_days, series_id, season, episode, catchup, \
                            catchup_source";

pub(super) async fn replace_items(
    c: &mut Object,
    source: SourceId,
    plan: &CatalogPlan,
    now: UnixTime,
) -> StoreResult<ImportCounts> {
    let tx = c.transaction().await.ctx(IMPORT)?;
    lock_catalog(&tx).await?;
    ensure_exists(&tx, source).await?;
    let category_ids = category_ids(&tx, plan.categories()).await?;
    let (series_ids, series_gone) = series_ids(&tx, source, plan, &category_ids, now).await?;

    tx.batch_execute(
        "CREATE TEMPORARY TABLE incoming (
             key TEXT NOT NULL, kind TEXT NOT NULL, position BIGINT NOT NULL,
             name TEXT NOT NULL, category_id BIGINT, epg_id TEXT, logo TEXT NOT NULL,
             url TEXT NOT NULL, container TEXT NOT NULL, is_adult BOOLEAN NOT NULL,
             archive_days BIGINT NOT NULL, series_id BIGINT, season BIGINT, episode BIGINT,
             catchup TEXT, catchup_source TEXT
         ) ON COMMIT DROP",
    )
    .await
    .ctx(IMPORT)?;
    {
        let sink = tx
            .copy_in("COPY incoming FROM STDIN (FORMAT binary)")
            .await
            .ctx(IMPORT)?;
        let writer = BinaryCopyInWriter::new(sink, INCOMING_TYPES);
        pin_mut!(writer);
        for (position, item) in plan.items().iter().enumerate() {
            let category = item.category.map(|c| category_ids[c]);
            let series = item.episode.map(|e| series_ids[e.series]);
            let season = item.episode.map(|e| i64::from(e.season));
            let episode = item.episode.map(|e| i64::from(e.episode));
            let position = position as i64;
            let archive_days = i64::from(item.archive_days);
            let (key, name, url) = (text(&item.key), text(&item.name), text(&item.url));
            let epg_id = opt_text(item.epg_id.as_deref());
            let logo = text(item.logo.as_deref().unwrap_or(""));
            let container = text(item.container.as_deref().unwrap_or(""));
            let (catchup, catchup_source) = encode_catchup(item.catchup.as_ref());
            let catchup_source = opt_text(catchup_source);
            let row: [&(dyn ToSql + Sync); 16] = [
                &key,
                &kind_name(item.kind),
                &position,
                &name,
                &category,
                &epg_id,
                &logo,
                &url,
                &container,
                &item.is_adult,
                &archive_days,
                &series,
                &season,
                &episode,
                &catchup,
                &catchup_source,
            ];
            writer.as_mut().write(&row).await.ctx(IMPORT)?;
        }
        writer.finish().await.ctx(IMPORT)?;
    }
    // Without statistics the planner would guess the table's size.
    tx.batch_execute("ANALYZE incoming").await.ctx(IMPORT)?;

    // Series an episode joins or leaves: their last_modified becomes `now`.
    let mut touched: HashSet<i64> = HashSet::new();
    for row in tx
        .query(
            &format!(
                "SELECT s.series_id, i.series_id FROM streams s JOIN incoming i ON {SAME_KEY}
                 WHERE s.source_id = $1 AND s.series_id IS DISTINCT FROM i.series_id
                 UNION ALL
                 SELECT NULL, i.series_id FROM incoming i
                 WHERE i.series_id IS NOT NULL
                   AND NOT EXISTS (SELECT 1 FROM streams s WHERE s.source_id = $1 AND {SAME_KEY})"
            ),
            &[&source.0],
        )
        .await
        .ctx(IMPORT)?
    {
        touched.extend(row.try_get::<_, Option<i64>>(0).ctx(IMPORT)?);
        touched.extend(row.try_get::<_, Option<i64>>(1).ctx(IMPORT)?);
    }
    let set_changed: String = ITEM_COLUMNS
        .split(", ")
        .map(|col| format!("{col} = i.{col}"))
        .collect::<Vec<_>>()
        .join(", ");
    let incoming_columns: String = ITEM_COLUMNS
        .split(", ")
        .map(|col| format!("i.{col}"))
        .collect::<Vec<_>>()
        .join(", ");
    let stored_columns: String = ITEM_COLUMNS
        .split(", ")
        .map(|col| format!("s.{col}"))
        .collect::<Vec<_>>()
        .join(", ");
    tx.execute(
        &format!(
            "UPDATE streams s SET {set_changed} FROM incoming i
             WHERE s.source_id = $1 AND {SAME_KEY}
               AND ({stored_columns}) IS DISTINCT FROM ({incoming_columns})"
        ),
        &[&source.0],
    )
    .await
    .ctx(IMPORT)?;
    tx.execute(
        &format!(
            "INSERT INTO streams (source_id, key, added, {ITEM_COLUMNS})
             SELECT $1, i.key, $2, {incoming_columns} FROM incoming i
             WHERE NOT EXISTS (SELECT 1 FROM streams s WHERE s.source_id = $1 AND {SAME_KEY})
             ORDER BY i.position"
        ),
        &[&source.0, &now],
    )
    .await
    .ctx(IMPORT)?;
    // Streams whose key is gone.
    let gone = tx
        .query(
            &format!(
                "DELETE FROM streams s WHERE s.source_id = $1
                   AND NOT EXISTS (SELECT 1 FROM incoming i WHERE {SAME_KEY})
                 RETURNING s.series_id"
            ),
            &[&source.0],
        )
        .await
        .ctx(IMPORT)?;
    let removed = gone.len() as u64;
    for row in &gone {
        touched.extend(row.try_get::<_, Option<i64>>(0).ctx(IMPORT)?);
    }
    // Series the plan no longer has (their episodes were deleted or moved
    // above, so the cascade takes nothing with them).
    tx.execute("DELETE FROM series WHERE id = ANY($1)", &[&series_gone])
        .await
        .ctx(IMPORT)?;
    let kept: HashSet<i64> = series_ids.iter().copied().collect();
    let modified: Vec<i64> = touched.into_iter().filter(|id| kept.contains(id)).collect();
    tx.execute(
        "UPDATE series SET last_modified = $2 WHERE id = ANY($1)",
        &[&modified, &now],
    )
    .await
    .ctx(IMPORT)?;
    bump(&tx, Half::Catalog).await?;
    tx.commit().await.ctx(IMPORT)?;
    Ok(ImportCounts {
        removed,
        ..plan.counts()
    })
}

/// A stream, series or category id as players see it.
fn public_id(id: i64, context: &'static str) -> StoreResult<u32> {
    u32::try_from(id).map_err(|_| StoreError::Backend {
        context,
        message: format!("stored id {id} is out of range"),
    })
}

/// A small non-negative number (archive days, a year).
fn small(n: i64) -> u16 {
    u16::try_from(n).unwrap_or(if n < 0 { 0 } else { u16::MAX })
}

/// The rows of `COPY (query) TO STDOUT (FORMAT binary)`, decoded by `each`
/// as they arrive.
pub(super) async fn copy_out(
    tx: &Transaction<'_>,
    query: &str,
    types: &[Type],
    context: &'static str,
    mut each: impl FnMut(&BinaryCopyOutRow) -> StoreResult<()>,
) -> StoreResult<()> {
    let stream = tx
        .copy_out(&format!("COPY ({query}) TO STDOUT (FORMAT binary)"))
        .await
        .ctx(context)?;
    let rows = BinaryCopyOutStream::new(stream, types);
    pin_mut!(rows);
    while let Some(row) = rows.try_next().await.ctx(context)? {
        each(&row)?;
    }
    Ok(())
}

/// Reads the whole catalog in one transaction (one consistent state).
pub(super) async fn load(c: &mut Object) -> StoreResult<CatalogData> {
    const CONTEXT: &str = "loading the catalog";
    let tx = c
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .ctx(CONTEXT)?;
    let mut data = CatalogData::default();

    copy_out(
        &tx,
        "SELECT id, source_id, name, category_id, epg_id, logo, url, added, is_adult,
                archive_days, catchup, catchup_source
         FROM streams WHERE kind = 'live' AND enabled ORDER BY source_id, position, id",
        &[
            Type::INT8,
            Type::INT8,
            Type::TEXT,
            Type::INT8,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::INT8,
            Type::BOOL,
            Type::INT8,
            Type::TEXT,
            Type::TEXT,
        ],
        CONTEXT,
        |row| {
            let category: Option<i64> = row.try_get(3).ctx(CONTEXT)?;
            let id: i64 = row.try_get(0).ctx(CONTEXT)?;
            let archive_days = small(row.try_get(9).ctx(CONTEXT)?);
            if archive_days > 0 {
                let kind: Option<&str> = row.try_get(10).ctx(CONTEXT)?;
                let source: Option<&str> = row.try_get(11).ctx(CONTEXT)?;
                if let Some(c) = decode_catchup(id, kind, source) {
                    data.catchups.push((StreamId(public_id(id, CONTEXT)?), c));
                }
            }
            data.live.push(LiveChannel {
                id: StreamId(public_id(id, CONTEXT)?),
                source: SourceId(row.try_get(1).ctx(CONTEXT)?),
                category: category
                    .map(|c| public_id(c, CONTEXT).map(CategoryId))
                    .transpose()?,
                added: row.try_get(7).ctx(CONTEXT)?,
                is_adult: row.try_get(8).ctx(CONTEXT)?,
                archive_days,
                // Borrowed from the row: the packed text is the only copy.
                text: LiveText::new(
                    row.try_get::<&str>(2).ctx(CONTEXT)?,
                    row.try_get::<&str>(5).ctx(CONTEXT)?,
                    row.try_get::<&str>(6).ctx(CONTEXT)?,
                    row.try_get::<Option<&str>>(4).ctx(CONTEXT)?,
                ),
            });
            Ok(())
        },
    )
    .await?;
    copy_out(
        &tx,
        "SELECT id, source_id, name, category_id, logo, url, container, added, is_adult,
                plot, year, rating
         FROM streams WHERE kind = 'movie' AND enabled ORDER BY source_id, position, id",
        &[
            Type::INT8,
            Type::INT8,
            Type::TEXT,
            Type::INT8,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::INT8,
            Type::BOOL,
            Type::TEXT,
            Type::INT8,
            Type::FLOAT8,
        ],
        CONTEXT,
        |row| {
            let category: Option<i64> = row.try_get(3).ctx(CONTEXT)?;
            let year: Option<i64> = row.try_get(10).ctx(CONTEXT)?;
            let rating: Option<f64> = row.try_get(11).ctx(CONTEXT)?;
            data.movies.push(Movie {
                id: StreamId(public_id(row.try_get(0).ctx(CONTEXT)?, CONTEXT)?),
                source: SourceId(row.try_get(1).ctx(CONTEXT)?),
                name: row.try_get::<&str>(2).ctx(CONTEXT)?.into(),
                category: category
                    .map(|c| public_id(c, CONTEXT).map(CategoryId))
                    .transpose()?,
                logo: row.try_get::<&str>(4).ctx(CONTEXT)?.into(),
                url: row.try_get::<&str>(5).ctx(CONTEXT)?.into(),
                container: row.try_get::<&str>(6).ctx(CONTEXT)?.into(),
                added: row.try_get(7).ctx(CONTEXT)?,
                is_adult: row.try_get(8).ctx(CONTEXT)?,
                plot: row.try_get::<&str>(9).ctx(CONTEXT)?.into(),
                year: year.map(small),
                rating: rating.map(|r| r as f32),
            });
            Ok(())
        },
    )
    .await?;
    for row in tx
        .query(
            "SELECT id, source_id, name, category_id, cover, plot, last_modified
             FROM series ORDER BY source_id, position, id",
            &[],
        )
        .await
        .ctx(CONTEXT)?
    {
        let category: Option<i64> = row.try_get(3).ctx(CONTEXT)?;
        data.series.push(Series {
            id: SeriesId(public_id(row.try_get(0).ctx(CONTEXT)?, CONTEXT)?),
            source: SourceId(row.try_get(1).ctx(CONTEXT)?),
            name: row.try_get::<_, &str>(2).ctx(CONTEXT)?.into(),
            category: category
                .map(|c| public_id(c, CONTEXT).map(CategoryId))
                .transpose()?,
            cover: row.try_get::<_, &str>(4).ctx(CONTEXT)?.into(),
            plot: row.try_get::<_, &str>(5).ctx(CONTEXT)?.into(),
            last_modified: row.try_get(6).ctx(CONTEXT)?,
            episodes: Vec::new(),
        });
    }
    {
        let index: HashMap<i64, usize> = data
            .series
            .iter()
            .enumerate()
            .map(|(i, s)| (i64::from(s.id.0), i))
            .collect();
        let series = &mut data.series;
        copy_out(
            &tx,
            "SELECT series_id, id, season, episode, name, url, container, added
             FROM streams WHERE kind = 'episode' AND enabled
             ORDER BY series_id, season, episode, position, id",
            &[
                Type::INT8,
                Type::INT8,
                Type::INT8,
                Type::INT8,
                Type::TEXT,
                Type::TEXT,
                Type::TEXT,
                Type::INT8,
            ],
            CONTEXT,
            |row| {
                let of: Option<i64> = row.try_get(0).ctx(CONTEXT)?;
                let Some(&si) = of.and_then(|s| index.get(&s)) else {
                    // Cannot happen with foreign keys; never worth a panic.
                    tracing::warn!(stream = ?row.try_get::<i64>(1).ok(), "episode without a series skipped");
                    return Ok(());
                };
                let number = |i| -> StoreResult<u32> {
                    let n: Option<i64> = row.try_get(i).ctx(CONTEXT)?;
                    Ok(n.and_then(|n| u32::try_from(n).ok()).unwrap_or(1))
                };
                series[si].episodes.push(Episode {
                    id: StreamId(public_id(row.try_get(1).ctx(CONTEXT)?, CONTEXT)?),
                    season: number(2)?,
                    episode: number(3)?,
                    title: row.try_get::<&str>(4).ctx(CONTEXT)?.into(),
                    url: row.try_get::<&str>(5).ctx(CONTEXT)?.into(),
                    container: row.try_get::<&str>(6).ctx(CONTEXT)?.into(),
                    added: row.try_get(7).ctx(CONTEXT)?,
                });
                Ok(())
            },
        )
        .await?;
    }
    let mut by_id = Vec::new();
    for row in tx
        .query("SELECT id, kind, name FROM categories ORDER BY id", &[])
        .await
        .ctx(CONTEXT)?
    {
        let id = public_id(row.try_get(0).ctx(CONTEXT)?, CONTEXT)?;
        by_id.extend(decode_category(
            id,
            row.try_get::<_, &str>(1).ctx(CONTEXT)?,
            row.try_get(2).ctx(CONTEXT)?,
        ));
    }
    data.categories = order_categories(by_id, &data);
    guide::load(&tx, &mut data).await?;
    data.sources = super::sources::load_settings(&tx).await?;
    data.backups = super::backups::load(&tx).await?;
    tx.commit().await.ctx(CONTEXT)?;
    Ok(data)
}
