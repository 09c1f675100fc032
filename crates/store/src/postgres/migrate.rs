//! The PostgreSQL schema, brought up to date when a store is opened.
//!
//! The versions are the one list in [`crate::migrations`]; this runner
//! applies each version the database's `schema_version` table lacks, in
//! order, each in its own transaction with its `schema_version` row
//! (PostgreSQL's DDL is transactional, so a crash leaves the database
//! before or after a version, never inside it). Several nodes start at
//! once: the whole run holds a session-level advisory lock, on a
//! connection of its own that is closed afterwards (so the lock cannot
//! outlive the run), and one node migrates while the others wait and then
//! find nothing left to do. A
//! database that lists a version newer than this build's newest is
//! refused before anything is written.

use super::Context;
use crate::migrations::{from_the_future, latest_version, MIGRATIONS};
use std::collections::HashSet;
use tokio_postgres::Client;
use tvgate_core::ports::{StoreError, StoreResult};

/// The advisory lock key of a migration run: the same in every tvgate
/// ("tvgm"), distinct from the catalog's.
const MIGRATION_LOCK: i64 = 0x7476_676d;

pub(crate) async fn migrate(client: &mut Client) -> StoreResult<()> {
    const CONTEXT: &str = "waiting for another node's schema migration";
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await
        .ctx(CONTEXT)?;
    let result = run(client).await;
    let unlocked = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await
        .ctx("releasing the schema migration lock");
    result?;
    unlocked.map(|_| ())
}

async fn run(client: &mut Client) -> StoreResult<()> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_version (
                 version    BIGINT PRIMARY KEY,
                 name       TEXT   NOT NULL,
                 applied_at BIGINT NOT NULL
             )",
        )
        .await
        .ctx("creating the schema_version table")?;
    let applied: HashSet<i64> = client
        .query("SELECT version FROM schema_version", &[])
        .await
        .ctx("reading the schema version")?
        .iter()
        .map(|row| row.try_get(0))
        .collect::<Result<_, _>>()
        .ctx("reading the schema version")?;
    let latest = latest_version();
    if let Some(&current) = applied.iter().max() {
        if current > latest {
            return Err(StoreError::Backend {
                context: "checking the schema version",
                message: from_the_future(current, latest),
            });
        }
    }
    for migration in MIGRATIONS.iter().filter(|m| !applied.contains(&m.version)) {
        let tx = client
            .transaction()
            .await
            .ctx("starting a schema migration")?;
        tx.batch_execute(migration.postgres)
            .await
            .map_err(|e| StoreError::Backend {
                context: "applying a schema migration",
                message: format!(
                    "{:04}_{}: {}",
                    migration.version,
                    migration.name,
                    super::describe(&e)
                ),
            })?;
        tx.execute(
            "INSERT INTO schema_version (version, name, applied_at)
             VALUES ($1, $2, EXTRACT(EPOCH FROM now())::bigint)",
            &[&migration.version, &migration.name],
        )
        .await
        .ctx("recording a schema migration")?;
        tx.commit().await.ctx("committing a schema migration")?;
        tracing::info!(
            version = migration.version,
            name = migration.name,
            "applied database migration"
        );
    }
    Ok(())
}
