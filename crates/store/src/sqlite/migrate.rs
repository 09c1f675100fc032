//! Versioned schema migrations, applied when a database is opened.
//!
//! Each migration is a SQL file under `migrations/sqlite/`, embedded in the
//! binary, numbered from 1 and never edited once released: a change to the
//! schema is a new file (with its PostgreSQL twin: the versions are one
//! list, [`crate::migrations`]). The `schema_version` table lists the migrations a
//! database has had; every migration it does not list is applied, in
//! order, so a version number left free by one branch and taken after
//! another branch's higher one was released is still applied (numbers only
//! increase; they need not be consecutive). Each one runs in its own `IMMEDIATE` transaction
//! together with its `schema_version` row, so a crash leaves the database
//! either before or after it, and two processes opening the same file at
//! once cannot both apply it.
//!
//! A database whose version is newer than the newest migration here was
//! written by a newer tvgate; opening it is refused rather than risk
//! writing rows an older schema does not describe.
//!
//! Foreign keys are off while migrations run: SQLite changes a constraint
//! by rebuilding the table (create, copy, drop, rename; 0011 does it to
//! `sources`), and dropping a table others point at with foreign keys on
//! would cascade its deletion to them. The pragma cannot change inside a
//! transaction, so it is set around the whole run, and each migration runs
//! `PRAGMA foreign_key_check` before it commits: it never leaves a row
//! pointing nowhere.

use super::Context;
use crate::migrations::{from_the_future, MIGRATIONS};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use tvgate_core::ports::{StoreError, StoreResult};

pub use crate::migrations::latest_version;

const CREATE_VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_version (
    version    INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    applied_at INTEGER NOT NULL
)";

/// The version a database is at (0 for a new file).
pub(crate) fn current_version(conn: &Connection) -> StoreResult<i64> {
    let exists: Option<i64> = conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'",
            [],
            |row| row.get(0),
        )
        .optional()
        .ctx("reading the schema version")?;
    if exists.is_none() {
        return Ok(0);
    }
    conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_version",
        [],
        |row| row.get(0),
    )
    .ctx("reading the schema version")
}

/// Brings the schema up to date, or refuses a database from a newer tvgate.
///
/// Every step (even one already applied) checks the version under the write
/// lock, so a database from the future is refused before anything is written.
pub(crate) fn migrate(conn: &mut Connection) -> StoreResult<()> {
    const CONTEXT: &str = "setting foreign keys around the schema migrations";
    let enforced: i64 = conn
        .pragma_query_value(None, "foreign_keys", |row| row.get(0))
        .ctx(CONTEXT)?;
    conn.pragma_update(None, "foreign_keys", "OFF")
        .ctx(CONTEXT)?;
    let outcome = apply(conn);
    conn.pragma_update(
        None,
        "foreign_keys",
        if enforced == 1 { "ON" } else { "OFF" },
    )
    .ctx(CONTEXT)?;
    outcome
}

/// Applies every missing version (foreign keys off: see the module doc).
fn apply(conn: &mut Connection) -> StoreResult<()> {
    let latest = latest_version();
    for migration in MIGRATIONS {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .ctx("starting a schema migration")?;
        tx.execute_batch(CREATE_VERSION_TABLE)
            .ctx("creating the schema_version table")?;
        // Read under the write lock: another process may have migrated
        // while we waited for it.
        let current = current_version(&tx)?;
        if current > latest {
            return Err(StoreError::Backend {
                context: "checking the schema version",
                message: from_the_future(current, latest),
            });
        }
        let applied: Option<i64> = tx
            .query_row(
                "SELECT 1 FROM schema_version WHERE version = ?1",
                [migration.version],
                |row| row.get(0),
            )
            .optional()
            .ctx("reading the schema version")?;
        if applied.is_some() {
            continue;
        }
        tx.execute_batch(migration.sqlite)
            .map_err(|e| StoreError::Backend {
                context: "applying a schema migration",
                message: format!("{:04}_{}: {e}", migration.version, migration.name),
            })?;
        let dangling: Option<String> = tx
            .query_row("PRAGMA foreign_key_check", [], |row| row.get(0))
            .optional()
            .ctx("checking foreign keys after a schema migration")?;
        if let Some(table) = dangling {
            return Err(StoreError::Backend {
                context: "applying a schema migration",
                message: format!(
                    "{:04}_{}: a row of {table} would point nowhere",
                    migration.version, migration.name
                ),
            });
        }
        tx.execute(
            "INSERT INTO schema_version (version, name, applied_at)
             VALUES (?1, ?2, CAST(strftime('%s', 'now') AS INTEGER))",
            (migration.version, migration.name),
        )
        .ctx("recording a schema migration")?;
        tx.commit().ctx("committing a schema migration")?;
        tracing::info!(
            version = migration.version,
            name = migration.name,
            "applied database migration"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_missing_below_the_newest_is_applied() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        // As if version 4 (operators) had been released after a higher one.
        conn.execute("DELETE FROM schema_version WHERE version = 4", [])
            .unwrap();
        conn.execute_batch("DROP TABLE api_tokens; DROP TABLE admins;")
            .unwrap();
        migrate(&mut conn).unwrap();
        let name: String = conn
            .query_row(
                "SELECT name FROM schema_version WHERE version = 4",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(name, "admin");
        conn.execute(
            "INSERT INTO admins (name, password_hash, created_at) VALUES ('a', 'h', 0)",
            [],
        )
        .unwrap();
    }

    #[test]
    fn migrating_twice_is_a_no_op() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        migrate(&mut conn).unwrap();
        assert_eq!(current_version(&conn).unwrap(), latest_version());
        let rows: i64 = conn
            .query_row("SELECT COUNT(*) FROM schema_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, MIGRATIONS.len() as i64);
    }

    #[test]
    fn diagnostics_stored_as_text_are_split_into_line_and_message() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(CREATE_VERSION_TABLE).unwrap();
        for m in MIGRATIONS.iter().filter(|m| m.version < 7) {
            conn.execute_batch(m.sqlite).unwrap();
            conn.execute(
                "INSERT INTO schema_version VALUES (?1, ?2, 0)",
                (m.version, m.name),
            )
            .unwrap();
        }
        conn.execute_batch(
            "INSERT INTO sources (kind, location, name, created_at) VALUES ('m3u', '/a.m3u', 'a', 0);
             INSERT INTO source_diagnostics (source_id, seq, message) VALUES
                 (1, 0, 'line 3: URL without a preceding #EXTINF'),
                 (1, 1, 'line 12: bad: two colons'),
                 (1, 2, 'line x: not a number'),
                 (1, 3, 'no line at all');",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let mut stmt = conn
            .prepare("SELECT line, message FROM source_diagnostics ORDER BY seq")
            .unwrap();
        let rows: Vec<(i64, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            rows,
            [
                (3, "URL without a preceding #EXTINF".to_string()),
                (12, "bad: two colons".to_string()),
                (0, "line x: not a number".to_string()),
                (0, "no line at all".to_string()),
            ]
        );
    }

    #[test]
    fn rebuilding_sources_keeps_its_items_its_counter_and_foreign_keys() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "foreign_keys", "ON").unwrap();
        conn.execute_batch(CREATE_VERSION_TABLE).unwrap();
        for m in MIGRATIONS.iter().filter(|m| m.version < 11) {
            conn.execute_batch(m.sqlite).unwrap();
            conn.execute(
                "INSERT INTO schema_version VALUES (?1, ?2, 0)",
                (m.version, m.name),
            )
            .unwrap();
        }
        conn.execute_batch(
            "INSERT INTO sources (kind, location, name, created_at, max_connections, delivery)
                 VALUES ('m3u', '/a.m3u', 'a', 0, 2, 'redirect'), ('m3u', '/b.m3u', 'b', 0, 0, 'proxy');
             INSERT INTO streams (source_id, key, kind, position, name, url, added, archive_days)
                 VALUES (1, 'k', 'live', 0, 'C', 'http://up/live/u/p/1.ts', 0, 3);
             DELETE FROM sources WHERE id = 2;",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let fk: i64 = conn
            .pragma_query_value(None, "foreign_keys", |r| r.get(0))
            .unwrap();
        assert_eq!(fk, 1, "foreign keys are on again");
        let row: (String, i64, String) = conn
            .query_row(
                "SELECT name, max_connections, delivery FROM sources WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!(row, ("a".to_string(), 2, "redirect".to_string()));
        // The deleted source's id is not handed out again.
        conn.execute(
            "INSERT INTO sources (kind, location, name, created_at, account_username, account_password)
             VALUES ('xtream', 'http://xc', 'x', 0, 'u', 'p')",
            [],
        )
        .unwrap();
        assert_eq!(conn.last_insert_rowid(), 3);
        // Streams still point at sources: deleting one cascades.
        conn.execute("DELETE FROM sources WHERE id = 1", [])
            .unwrap();
        let left: i64 = conn
            .query_row("SELECT COUNT(*) FROM streams", [], |r| r.get(0))
            .unwrap();
        assert_eq!(left, 0);
        let bad = conn.execute(
            "INSERT INTO streams (source_id, key, kind, position, name, url, added)
             VALUES (99, 'k', 'live', 0, 'C', 'u', 0)",
            [],
        );
        assert!(bad.is_err(), "foreign keys enforced on the new table");
    }

    #[test]
    fn a_newer_database_is_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        conn.execute(
            "INSERT INTO schema_version VALUES (?1, 'from the future', 0)",
            [latest_version() + 1],
        )
        .unwrap();
        let err = migrate(&mut conn).unwrap_err().to_string();
        assert!(err.contains("newer tvgate"), "{err}");
    }
}
