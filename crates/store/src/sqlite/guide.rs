//! The guide: replacing a source's XMLTV channels and programmes, and
//! loading them back.
//!
//! A guide is replaced whole, in one transaction, with prepared statements:
//! a million programmes take a few seconds. A source's programmes occupy
//! one rowid range (`source_id << 32` plus the programme's index once sorted
//! by channel and start, see the migration), so replacing them is a range
//! delete and reading them back in rowid order needs no sort.
//!
//! XMLTV makes `stop` optional; the catalog needs one. A programme without
//! a stop ends when the next one on its channel starts, and the last one of
//! a channel lasts [`LAST_PROGRAMME_SECS`].
//!
//! Loading leaves out the guide of a source the operator disabled: players
//! see nothing of a disabled source.

use super::sources::ensure_exists;
use super::{bump, Context, Half, MAX_PUBLIC_ID};
use rusqlite::{params, Connection, Transaction, TransactionBehavior};
use tvgate_core::catalog::{CatalogData, GuideChannel, Programme};
use tvgate_core::ids::SourceId;
use tvgate_core::ports::{GuideImport, StoreError, StoreResult};
use tvgate_formats::xmltv;

/// How long the last programme of a channel lasts when the guide gives no stop.
pub const LAST_PROGRAMME_SECS: i64 = 3600;

const IMPORT: &str = "replacing a source's guide";

pub(super) fn replace_guide(
    conn: &mut Connection,
    source: SourceId,
    guide: GuideImport,
) -> StoreResult<u64> {
    let GuideImport {
        channels,
        mut programmes,
    } = guide;
    // Sorting before taking the write lock keeps other writers waiting less.
    programmes.sort_by(|a, b| (&a.channel, a.start).cmp(&(&b.channel, b.start)));
    let stops = fill_stops(&programmes);
    if programmes.len() as u64 > PER_SOURCE {
        return Err(StoreError::Backend {
            context: IMPORT,
            message: format!(
                "{} programmes in one guide; at most {PER_SOURCE} fit",
                programmes.len()
            ),
        });
    }

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
        // The first of a repeated channel id wins.
        let mut add = tx
            .prepare(
                "INSERT OR IGNORE INTO guide_channels (source_id, channel_id, name, icon, position)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .ctx(IMPORT)?;
        for (position, c) in channels.iter().enumerate() {
            let name = c.display_names.first().unwrap_or(&c.id);
            let icon = c.icon.as_deref().unwrap_or("");
            add.execute(params![source.0, c.id, name, icon, position as i64])
                .ctx(IMPORT)?;
        }
    }
    {
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
        for (n, (p, stop)) in programmes.iter().zip(&stops).enumerate() {
            add.execute(params![
                first + n as i64,
                p.channel,
                p.start,
                stop,
                p.title,
                p.desc.as_deref().unwrap_or(""),
                p.lang.as_deref().unwrap_or(""),
            ])
            .ctx(IMPORT)?;
        }
    }
    bump(&tx, Half::Catalog)?;
    tx.commit().ctx(IMPORT)?;
    Ok(programmes.len() as u64)
}

/// Programmes one source may have: its share of the rowid space.
const PER_SOURCE: u64 = 1 << 32;

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

/// The stop of each programme of a list sorted by (channel, start): its own,
/// else the next later start on its channel, else start + [`LAST_PROGRAMME_SECS`].
fn fill_stops(sorted: &[xmltv::Programme]) -> Vec<i64> {
    let mut stops = vec![0; sorted.len()];
    // Walking backwards: the start of the following programme on this
    // channel, and the nearest start strictly after the current one.
    let mut following: Option<(&str, i64)> = None;
    let mut next_later: Option<i64> = None;
    for (i, p) in sorted.iter().enumerate().rev() {
        match following {
            Some((channel, start)) if channel == p.channel => {
                if start > p.start {
                    next_later = Some(start);
                }
            }
            _ => next_later = None,
        }
        stops[i] = p
            .stop
            .or(next_later)
            .unwrap_or(p.start.saturating_add(LAST_PROGRAMME_SECS));
        following = Some((&p.channel, p.start));
    }
    stops
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

    fn p(channel: &str, start: i64, stop: Option<i64>) -> xmltv::Programme {
        xmltv::Programme {
            channel: channel.into(),
            start,
            stop,
            ..Default::default()
        }
    }

    #[test]
    fn missing_stops_run_to_the_next_start() {
        let list = [
            p("a", 0, None),
            p("a", 100, Some(150)),
            p("a", 200, None),
            p("a", 200, None),
            p("a", 300, None),
            p("b", 0, None),
        ];
        assert_eq!(
            fill_stops(&list),
            [
                100,
                150,
                300,
                300,
                300 + LAST_PROGRAMME_SECS,
                LAST_PROGRAMME_SECS
            ]
        );
    }
}
