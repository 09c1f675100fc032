//! The server on PostgreSQL: a slice of the suite run on a database of its
//! own (a login, the lists, a stream, the console's login and a line edit,
//! a source refresh), and what only a shared store gives: sessions that
//! survive a restart and work on every node, a logout that holds
//! everywhere, what the CLI writes seen at once (LISTEN/NOTIFY, not the
//! 30-second poll), the one verifier key, and a store URL that cannot be
//! used refused with one clear line. The machine's PostgreSQL must run
//! (`bash tests/services.sh`); without it these tests fail, saying so.

use crate::harness::{client, tvgate, tvgate_on, TestDatabase, TestServer};
use crate::portal::Portal;
use std::time::{Duration, Instant};

#[tokio::test]
async fn login_on_postgres() {
    crate::xtream::login_payload_has_every_key_with_player_types_on(
        TestServer::start_postgres().await,
    )
    .await;
}

#[tokio::test]
async fn lists_on_postgres() {
    crate::xtream::lists_details_and_numeric_aliases_on(TestServer::start_postgres().await).await;
}

#[tokio::test]
async fn streams_on_postgres() {
    crate::xtream::streams_are_served_or_handed_over_on(TestServer::start_postgres().await).await;
}

#[tokio::test]
async fn console_login_and_line_edits_on_postgres() {
    crate::console::console_lines_search_create_and_act_through_the_gate_on(
        TestServer::start_postgres().await,
    )
    .await;
}

#[tokio::test]
async fn source_refresh_on_postgres() {
    crate::sources_admin::api_imports_in_the_background_and_switches_survive_a_refresh_on(
        TestServer::start_postgres().await,
    )
    .await;
}

/// Polls `check` every 50 ms for up to `within`.
async fn eventually<F, Fut>(within: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// A console session made on node A works on node B and after A restarts;
/// logging out on A ends it on B at once (B had it in memory: the
/// notification is what drops it there).
#[tokio::test]
async fn console_sessions_are_shared_survive_a_restart_and_end_everywhere() {
    let a = TestServer::start_postgres().await;
    let db = a.db.clone().expect("a database");
    let b = TestServer::start_postgres_node(&db, &a).await;
    let console = crate::console::login(&a).await;
    assert_eq!(console.get(&b, "/admin/lines").await.0, 200, "on node B");
    let a = a.restart().await;
    assert_eq!(
        console.get(&a, "/admin/lines").await.0,
        200,
        "after a restart"
    );
    let (status, _) = console.post(&a, "/admin/logout", &[]).await;
    assert_eq!(status, 303);
    assert_ne!(console.get(&a, "/admin/lines").await.0, 200);
    assert!(
        eventually(Duration::from_secs(3), || async {
            console.get(&b, "/admin/lines").await.0 == 303
        })
        .await,
        "the logout holds on node B"
    );
    // The store keeps only the id's hash: the cookie's value is nowhere in it.
    let id = console
        .cookie
        .split('=')
        .nth(1)
        .unwrap_or_default()
        .to_string();
    let (store_client, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    let hits: i64 = store_client
        .query_one(
            "SELECT COUNT(*) FROM sessions WHERE encode(id_hash, 'hex') = $1 OR csrf = $1",
            &[&id],
        )
        .await
        .expect("query")
        .get(0);
    assert_eq!(hits, 0);
}

/// A portal session (which holds the subscriber's password, sealed) works
/// on another node and after a restart; the password is not readable in
/// the database.
#[tokio::test]
async fn portal_sessions_are_shared_and_their_password_is_sealed() {
    let a = TestServer::start_postgres().await;
    a.add_line("tina", "pw-Sealed-11", |_| {}).await;
    let db = a.db.clone().expect("a database");
    let b = TestServer::start_postgres_node(&db, &a).await;
    let on_a = Portal::login(&a, "tina", "pw-Sealed-11").await;
    let on_b = Portal {
        base: b.url(""),
        cookie: on_a.cookie.clone(),
    };
    let (status, page) = on_b.page().await;
    assert_eq!(status, 200);
    assert!(page.contains("pw-Sealed-11"), "login details on node B");
    let a = a.restart().await;
    let again = Portal {
        base: a.url(""),
        cookie: on_a.cookie.clone(),
    };
    assert_eq!(again.page().await.0, 200, "after a restart");
    let (store_client, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    let leaked: i64 = store_client
        .query_one(
            "SELECT COUNT(*) FROM sessions WHERE position('pw-Sealed'::bytea in sealed) > 0",
            &[],
        )
        .await
        .expect("query")
        .get(0);
    assert_eq!(leaked, 0, "the password is sealed");
}

/// `tvgate line add` on a PostgreSQL store reaches a running server within
/// a second: the notification, not the 30-second poll.
#[tokio::test]
async fn a_running_server_sees_the_clis_writes_at_once() {
    let srv = TestServer::start_postgres().await;
    let url = srv.db.as_ref().expect("a database").url.clone();
    let cli_dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(
        srv.settings.verifier_key_path(),
        cli_dir.path().join("verifier.key"),
    )
    .expect("copy the key");
    let dir = cli_dir.path().to_path_buf();
    let (code, _, err) = tokio::task::spawn_blocking(move || {
        tvgate_on(
            &dir,
            &url,
            &["line", "add", "late", "--password", "pw-late"],
        )
    })
    .await
    .expect("cli");
    assert_eq!(code, 0, "{err}");
    let login = srv.url("/player_api.php?username=late&password=pw-late");
    assert!(
        eventually(Duration::from_secs(1), || async {
            let r = client().get(&login).send().await.expect("login");
            r.text().await.unwrap_or_default().contains("\"auth\":1")
        })
        .await,
        "the new line works on the running server within a second"
    );
}

/// A node started with another verifier key than the first node's is
/// refused with one line saying to copy the key file.
#[tokio::test]
async fn a_node_with_another_verifier_key_is_refused() {
    let db = TestDatabase::create().await;
    let first = tempfile::tempdir().expect("tempdir");
    let second = tempfile::tempdir().expect("tempdir");
    let (url, one, two) = (
        db.url.clone(),
        first.path().to_path_buf(),
        second.path().to_path_buf(),
    );
    let (a, b, c) = tokio::task::spawn_blocking(move || {
        let a = tvgate_on(&one, &url, &["line", "list"]);
        let b = tvgate_on(&two, &url, &["line", "list"]);
        std::fs::copy(one.join("verifier.key"), two.join("verifier.key")).expect("copy");
        let c = tvgate_on(&two, &url, &["line", "list"]);
        (a, b, c)
    })
    .await
    .expect("cli");
    assert_eq!(a.0, 0, "{}", a.2);
    assert_ne!(b.0, 0);
    assert_eq!(b.2.lines().count(), 1, "{}", b.2);
    assert!(
        b.2.contains("copy the key file from the first node"),
        "{}",
        b.2
    );
    assert_eq!(c.0, 0, "with the first node's key: {}", c.2);
}

/// A store URL that cannot be used stops the binary with one line naming
/// what failed, the password redacted; never a panic, never SQLite.
#[test]
fn a_bad_store_url_is_one_clear_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    for (args, says) in [
        (
            vec![
                "--store",
                "postgres://tvgate:s3cret@127.0.0.1:1/tvgate",
                "line",
                "list",
            ],
            "postgres://tvgate:***@127.0.0.1:1/tvgate",
        ),
        (
            vec![
                "--store",
                "postgres://tvgate:s3cret@127.0.0.1:1/tvgate",
                "serve",
            ],
            "connecting to PostgreSQL",
        ),
        (
            vec!["--store", "mysql://tvgate:s3cret@db/tvgate", "serve"],
            "use sqlite://PATH or postgres://",
        ),
        (
            vec![
                "--store",
                "postgres://tvgate:s3cret@127.0.0.1:notaport/x",
                "serve",
            ],
            "PostgreSQL URL",
        ),
    ] {
        let (code, out, err) = tvgate(d, &args);
        assert_ne!(code, 0, "{args:?}");
        assert_ne!(code, 101, "no panic: {err}");
        assert!(out.is_empty(), "{out}");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(err.starts_with("error: "), "{err}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(!err.contains("s3cret"), "{err}");
    }
    assert!(
        !d.join("tvgate.sqlite").exists(),
        "no SQLite database was made instead"
    );
}
