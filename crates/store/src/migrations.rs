//! The one list of schema versions, shared by both backends.
//!
//! Every version has a number, a name and one SQL file per backend, with
//! the same file name in `migrations/sqlite/` and `migrations/postgres/`
//! (`NNNN_name.sql`), embedded in the binary. A schema change is a new
//! version with both files, so the two backends can never disagree on what
//! version N means; a unit test below checks that the two directories and
//! this table name exactly the same files.
//!
//! The PostgreSQL schema starts at the shape SQLite reached by version 8:
//! its `0001_init.sql` creates it whole, and its files for versions 2 to 8
//! are comments saying where their change already is. Each backend's
//! runner (`sqlite::migrate`, `postgres::migrate`) applies, in order, every
//! version a database does not list in its `schema_version` table, and
//! refuses a database that lists a version newer than the newest here.

/// One schema step, for both backends.
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sqlite: &'static str,
    pub postgres: &'static str,
}

macro_rules! migration {
    ($version:literal, $name:literal, $file:literal) => {
        Migration {
            version: $version,
            name: $name,
            sqlite: include_str!(concat!("../migrations/sqlite/", $file, ".sql")),
            postgres: include_str!(concat!("../migrations/postgres/", $file, ".sql")),
        }
    };
}

/// Every version, in increasing order.
pub const MIGRATIONS: &[Migration] = &[
    migration!(1, "init", "0001_init"),
    migration!(2, "relay", "0002_relay"),
    migration!(3, "devices", "0003_devices"),
    migration!(4, "admin", "0004_admin"),
    migration!(5, "stream_enabled", "0005_stream_enabled"),
    migration!(6, "refusals", "0006_refusals"),
    migration!(7, "diagnostic_lines", "0007_diagnostic_lines"),
    migration!(8, "lines", "0008_lines"),
    migration!(9, "sessions", "0009_sessions"),
    migration!(10, "key_fingerprint", "0010_key_fingerprint"),
    migration!(11, "xtream", "0011_xtream"),
    migration!(12, "held_refresh", "0012_held_refresh"),
    migration!(13, "source_identity", "0013_source_identity"),
    migration!(14, "stats_samples", "0014_stats_samples"),
];

/// The schema version this build writes.
pub fn latest_version() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// The message for a database at `current` when this build knows versions
/// up to `latest`: it was written by a newer tvgate.
pub(crate) fn from_the_future(current: i64, latest: i64) -> String {
    format!(
        "the database is at schema version {current}, but this tvgate only knows \
         versions up to {latest}; it was written by a newer tvgate: run that \
         version, or restore a backup made before the upgrade"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn versions_increase() {
        assert_eq!(MIGRATIONS[0].version, 1);
        for pair in MIGRATIONS.windows(2) {
            assert!(pair[0].version < pair[1].version, "{}", pair[1].name);
        }
    }

    /// The files in `migrations/<backend>/`.
    fn files(backend: &str) -> BTreeSet<String> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(backend);
        std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn both_backends_have_exactly_the_same_versions_and_names() {
        let listed: BTreeSet<String> = MIGRATIONS
            .iter()
            .map(|m| format!("{:04}_{}.sql", m.version, m.name))
            .collect();
        assert_eq!(listed.len(), MIGRATIONS.len(), "a version listed twice");
        assert_eq!(files("sqlite"), listed, "migrations/sqlite/ and the table");
        assert_eq!(
            files("postgres"),
            listed,
            "migrations/postgres/ and the table"
        );
    }
}
