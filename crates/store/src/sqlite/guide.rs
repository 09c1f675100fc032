//! The guide: writing a source's planned XMLTV channels and programmes,
//! and loading them back.
//!
//! A guide arrives as core's [`GuidePlan`], every rule already applied
//! (channels unique, programmes sorted by channel and start, every stop
//! filled; see `tvgate_core::catalog::guide_plan`), and is written as it
//! is, its programmes taken from the plan one at a time (from a spool on
//! disk for a file's guide, so memory stays bounded): replaced whole, in
//! one transaction, with prepared statements. A million programmes take a
//! few seconds. A source's programmes occupy one
//! rowid range (`source_id << 32` plus the programme's index in the plan,
//! see the migration), so replacing them is a range delete and reading
//! them back in rowid order needs no sort.
//!
//! Loading leaves out the guide of a source the operator disabled: players
//! see nothing of a disabled source.

use super::sources::ensure_exists;
use super::{bump, Context, Half};
use crate::codec::MAX_PUBLIC_ID;
use rusqlite::{params, Connection, Transaction, TransactionBehavior};
use tvgate_core::catalog::guide_plan::GuidePlan;
use tvgate_core::catalog::{CatalogData, GuideChannel, Programme};
use tvgate_core::ids::SourceId;
use tvgate_core::ports::{StoreError, StoreResult};

const IMPORT: &str = "replacing a source's guide";

pub(super) fn replace_guide(
    conn: &mut Connection,
    source: SourceId,
    mut plan: GuidePlan,
) -> StoreResult<u64> {
    check_fits(plan.len())?;

    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .ctx(IMPORT)?;
    ensure_exists(&tx, source)?;
    delete_programmes(&tx, source)?;
    tx.execute(
        "DELETE FROM guide_channels WHERE source_id = ?1",
        [source.0],
    )
    .ctx(IMPORT)?;
    {
        let mut add = tx
            .prepare(
                "INSERT INTO guide_channels (source_id, channel_id, name, icon, position)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .ctx(IMPORT)?;
        for (position, c) in plan.channels().iter().enumerate() {
            let icon = c.icon.as_deref().unwrap_or("");
            add.execute(params![source.0, c.id, c.name, icon, position as i64])
                .ctx(IMPORT)?;
        }
    }
    let written = {
        let mut add = tx
            .prepare(
                "INSERT INTO programmes (id, channel_id, start, stop, title, descr, lang)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .ctx(IMPORT)?;
        let (first, _) = range(source).ok_or_else(|| StoreError::Backend {
            context: IMPORT,
            message: format!("source id {source} is out of range"),
        })?;
        let programmes = plan
            .take_programmes()
            .map_err(|message| StoreError::Backend {
                context: IMPORT,
                message,
            })?;
        let mut written = 0u64;
        for (n, p) in programmes.enumerate() {
            let p = p.map_err(|message| StoreError::Backend {
                context: IMPORT,
                message,
            })?;
            written += 1;
            add.execute(params![
                first + n as i64,
                p.channel,
                p.start,
                p.stop,
                p.title,
                p.desc.as_deref().unwrap_or(""),
                p.lang.as_deref().unwrap_or(""),
            ])
            .ctx(IMPORT)?;
        }
        written
    };
    bump(&tx, Half::Catalog)?;
    tx.commit().ctx(IMPORT)?;
    Ok(written)
}

/// Programmes one source may have: its share of the rowid space.
const PER_SOURCE: u64 = 1 << 32;

/// Refuses a guide with more programmes than a source's rowid range holds.
///
/// This is a limit of this store, not a rule of the domain: the rowid
/// layout gives each source 2^32 rowids (the migration), and another
/// backend with another layout may hold more or fewer. Checked before the
/// transaction starts, so a guide too large leaves the old one in place;
/// the error reaches the refresh record like any failure to store.
fn check_fits(programmes: u64) -> StoreResult<()> {
    if programmes > PER_SOURCE {
        return Err(StoreError::Backend {
            context: IMPORT,
            message: format!("{programmes} programmes in one guide; at most {PER_SOURCE} fit"),
        });
    }
    Ok(())
}

/// The first and last rowid of a source's programmes; `None` for an id
/// outside the range sources are given (1 to 2^31 - 1).
fn range(source: SourceId) -> Option<(i64, i64)> {
    (1..=MAX_PUBLIC_ID).contains(&source.0).then(|| {
        let first = source.0 << 32;
        (first, first | (PER_SOURCE as i64 - 1))
    })
}

/// Removes a source's programmes (there is no foreign key to cascade).
pub(super) fn delete_programmes(conn: &Connection, source: SourceId) -> StoreResult<()> {
    let Some((first, last)) = range(source) else {
        return Ok(());
    };
    conn.execute(
        "DELETE FROM programmes WHERE id BETWEEN ?1 AND ?2",
        [first, last],
    )
    .ctx("deleting a source's programmes")?;
    Ok(())
}

/// Adds every source's guide channels and programmes to `data`.
pub(super) fn load(tx: &Transaction<'_>, data: &mut CatalogData) -> StoreResult<()> {
    const CONTEXT: &str = "loading the guide";
    {
        let mut stmt = tx
            .prepare(
                "SELECT channel_id, name, icon FROM guide_channels
                 WHERE source_id IN (SELECT id FROM sources WHERE enabled = 1)
                 ORDER BY source_id, position",
            )
            .ctx(CONTEXT)?;
        let rows = stmt
            .query_map([], |row| {
                Ok(GuideChannel {
                    id: row.get::<_, String>(0)?.into(),
                    name: row.get::<_, String>(1)?.into(),
                    icon: row.get::<_, String>(2)?.into(),
                })
            })
            .ctx(CONTEXT)?;
        data.guide_channels = rows.collect::<Result<_, _>>().ctx(CONTEXT)?;
    }
    {
        let mut stmt = tx
            .prepare(
                // A programme's source is the high half of its id (0001).
                "SELECT channel_id, start, stop, title, descr, lang FROM programmes
                 WHERE (id >> 32) IN (SELECT id FROM sources WHERE enabled = 1)
                 ORDER BY id",
            )
            .ctx(CONTEXT)?;
        let rows = stmt
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?.into_boxed_str(),
                    Programme {
                        start: row.get(1)?,
                        stop: row.get(2)?,
                        title: row.get::<_, String>(3)?.into(),
                        desc: row.get::<_, String>(4)?.into(),
                        lang: row.get::<_, String>(5)?.into(),
                    },
                ))
            })
            .ctx(CONTEXT)?;
        data.programmes = rows.collect::<Result<_, _>>().ctx(CONTEXT)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_guide_fits_while_its_programmes_fit_the_rowid_range() {
        assert!(check_fits(0).is_ok());
        assert!(check_fits(PER_SOURCE).is_ok());
        let error = check_fits(PER_SOURCE + 1).map_err(|e| e.to_string());
        assert_eq!(
            error,
            Err(format!(
                "database error while {IMPORT}: {} programmes in one guide; at most {PER_SOURCE} fit",
                PER_SOURCE + 1
            ))
        );
    }

    #[test]
    fn each_source_has_its_own_rowid_range() {
        assert_eq!(range(SourceId(1)), Some((1 << 32, (2 << 32) - 1)));
        assert_eq!(range(SourceId(0)), None);
        assert_eq!(range(SourceId(MAX_PUBLIC_ID + 1)), None);
    }
}
