//! The guide on PostgreSQL: a source's planned XMLTV channels and
//! programmes written as they are (see SQLite's `guide` for the plan's
//! rules), and loaded back.
//!
//! Replacing is one transaction under the catalog's advisory lock: the
//! source's old programmes and channels are deleted, the channels written
//! in one statement and the programmes by binary COPY, each with its index
//! in the plan as `seq`. A source's programmes are keyed `(source_id,
//! seq)`, so loading them in plan order is an index scan, and no source
//! has a limit on their number short of the table's. Loading leaves out
//! the guide of a disabled source.

use super::catalog::copy_out;
use super::sources::ensure_exists;
use super::{bump, lock_catalog, text, Context, Half};
use deadpool_postgres::{Object, Transaction};
use futures::pin_mut;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};
use tvgate_core::catalog::guide_plan::GuidePlan;
use tvgate_core::catalog::{CatalogData, GuideChannel, Programme};
use tvgate_core::ids::SourceId;
use tvgate_core::ports::{StoreError, StoreResult};

const IMPORT: &str = "replacing a source's guide";

pub(super) async fn replace_guide(
    c: &mut Object,
    source: SourceId,
    mut plan: GuidePlan,
) -> StoreResult<u64> {
    let tx = c.transaction().await.ctx(IMPORT)?;
    lock_catalog(&tx).await?;
    ensure_exists(&tx, source).await?;
    tx.execute("DELETE FROM programmes WHERE source_id = $1", &[&source.0])
        .await
        .ctx(IMPORT)?;
    tx.execute(
        "DELETE FROM guide_channels WHERE source_id = $1",
        &[&source.0],
    )
    .await
    .ctx(IMPORT)?;
    let ids: Vec<_> = plan.channels().iter().map(|c| text(&c.id)).collect();
    let names: Vec<_> = plan.channels().iter().map(|c| text(&c.name)).collect();
    let icons: Vec<_> = plan
        .channels()
        .iter()
        .map(|c| text(c.icon.as_deref().unwrap_or("")))
        .collect();
    tx.execute(
        "INSERT INTO guide_channels (source_id, channel_id, name, icon, position)
         SELECT $1, id, name, icon, n - 1
         FROM unnest($2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS c(id, name, icon, n)",
        &[&source.0, &ids, &names, &icons],
    )
    .await
    .ctx(IMPORT)?;
    let written = {
        let sink = tx
            .copy_in(
                "COPY programmes (source_id, seq, channel_id, start, stop, title, descr, lang)
                 FROM STDIN (FORMAT binary)",
            )
            .await
            .ctx(IMPORT)?;
        let writer = BinaryCopyInWriter::new(
            sink,
            &[
                Type::INT8,
                Type::INT8,
                Type::TEXT,
                Type::INT8,
                Type::INT8,
                Type::TEXT,
                Type::TEXT,
                Type::TEXT,
            ],
        );
        pin_mut!(writer);
        // Taken one at a time (a file's guide from its spool on disk: a
        // buffered local read between two writes of the copy).
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
            let seq = n as i64;
            let (channel, title) = (text(&p.channel), text(&p.title));
            let desc = text(p.desc.as_deref().unwrap_or(""));
            let lang = text(p.lang.as_deref().unwrap_or(""));
            let row: [&(dyn ToSql + Sync); 8] = [
                &source.0, &seq, &channel, &p.start, &p.stop, &title, &desc, &lang,
            ];
            writer.as_mut().write(&row).await.ctx(IMPORT)?;
        }
        writer.finish().await.ctx(IMPORT)?;
        written
    };
    bump(&tx, Half::Catalog).await?;
    tx.commit().await.ctx(IMPORT)?;
    Ok(written)
}

/// Adds every enabled source's guide channels and programmes to `data`
/// (inside the catalog's read transaction).
pub(super) async fn load(tx: &Transaction<'_>, data: &mut CatalogData) -> StoreResult<()> {
    const CONTEXT: &str = "loading the guide";
    for row in tx
        .query(
            "SELECT channel_id, name, icon FROM guide_channels
             WHERE source_id IN (SELECT id FROM sources WHERE enabled)
             ORDER BY source_id, position",
            &[],
        )
        .await
        .ctx(CONTEXT)?
    {
        data.guide_channels.push(GuideChannel {
            id: row.try_get::<_, &str>(0).ctx(CONTEXT)?.into(),
            name: row.try_get::<_, &str>(1).ctx(CONTEXT)?.into(),
            icon: row.try_get::<_, &str>(2).ctx(CONTEXT)?.into(),
        });
    }
    let programmes = &mut data.programmes;
    copy_out(
        tx,
        "SELECT channel_id, start, stop, title, descr, lang FROM programmes
         WHERE source_id IN (SELECT id FROM sources WHERE enabled)
         ORDER BY source_id, seq",
        &[
            Type::TEXT,
            Type::INT8,
            Type::INT8,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
        ],
        CONTEXT,
        |row| {
            programmes.push((
                row.try_get::<&str>(0).ctx(CONTEXT)?.into(),
                Programme {
                    start: row.try_get(1).ctx(CONTEXT)?,
                    stop: row.try_get(2).ctx(CONTEXT)?,
                    title: row.try_get::<&str>(3).ctx(CONTEXT)?.into(),
                    desc: row.try_get::<&str>(4).ctx(CONTEXT)?.into(),
                    lang: row.try_get::<&str>(5).ctx(CONTEXT)?.into(),
                },
            ));
            Ok(())
        },
    )
    .await
}
