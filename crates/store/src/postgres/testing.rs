//! A throw-away database on a running PostgreSQL server, for tests (the
//! store's conformance suite and the end-to-end tests use the same one).
//!
//! The server is named by `TEST_POSTGRES_URL` (an account that may create
//! databases), by default `postgres://postgres@127.0.0.1:5432/postgres`,
//! the machine's own server with trust authentication. Each
//! [`TestDatabase`] creates a database with a random name and drops it
//! when dropped, also when the test fails. A server that cannot be reached
//! fails the test with a message that says how to start it: a test that
//! needs PostgreSQL never passes without it.

use std::sync::atomic::{AtomicU64, Ordering};
use tokio_postgres::NoTls;

/// The variable naming the server (not `TVGATE_…`: the binary refuses
/// unknown variables of its own prefix).
pub const URL_VARIABLE: &str = "TEST_POSTGRES_URL";

/// The server used when the variable is not set.
pub const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The server tests use.
pub fn admin_url() -> String {
    std::env::var(URL_VARIABLE)
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_URL.to_string())
}

/// `url` with its database replaced by `database`.
pub fn with_database(url: &str, database: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((head, query)) => (head, Some(query)),
        None => (url, None),
    };
    let base = match head.split_once("://") {
        Some((scheme, rest)) => {
            let authority = rest.split('/').next().unwrap_or(rest);
            format!("{scheme}://{authority}")
        }
        None => head.to_string(),
    };
    match query {
        Some(q) => format!("{base}/{database}?{q}"),
        None => format!("{base}/{database}"),
    }
}

/// A database of its own for one test, dropped with the value.
#[derive(Debug)]
pub struct TestDatabase {
    admin_url: String,
    name: String,
    /// The URL of the new database.
    pub url: String,
}

impl TestDatabase {
    /// Creates a fresh, empty database. Panics, naming the server and how
    /// to start it, when the server cannot be reached.
    pub async fn create() -> TestDatabase {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let admin_url = admin_url();
        let client = connect(&admin_url).await;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!(
            "tvgate_test_{}_{}_{nanos:x}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap_or_else(|e| panic!("creating test database {name}: {e}"));
        TestDatabase {
            url: with_database(&admin_url, &name),
            admin_url,
            name,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

async fn connect(url: &str) -> tokio_postgres::Client {
    match tokio_postgres::connect(url, NoTls).await {
        Ok((client, connection)) => {
            tokio::spawn(connection);
            client
        }
        Err(e) => panic!(
            "cannot reach PostgreSQL at {} ({e}). These tests need a running server: \
             start the machine's with `pg_ctlcluster --skip-systemctl-redirect 15 main start` \
             (or `bash tests/services.sh`), or name another in {URL_VARIABLE}",
            crate::redact_store_url(url)
        ),
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Drop runs outside async code: a thread of its own with its own
        // runtime, joined, so the database is gone when the test ends.
        let (url, name) = (self.admin_url.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async move {
                let (client, connection) = tokio_postgres::connect(&url, NoTls)
                    .await
                    .map_err(|e| e.to_string())?;
                tokio::spawn(connection);
                client
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await
                    .map_err(|e| e.to_string())
            })
        })
        .join();
        if let Ok(Err(e)) = dropped {
            eprintln!("dropping test database {}: {e}", self.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn database_urls() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "t1"),
            "postgres://postgres@127.0.0.1:5432/t1"
        );
        assert_eq!(
            with_database("postgres://u:p@h/d?sslmode=disable", "t2"),
            "postgres://u:p@h/t2?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h", "t3"), "postgres://h/t3");
    }
}
