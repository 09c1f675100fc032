//! The listening side of change notification on PostgreSQL.
//!
//! Every write that bumps a change counter fires `NOTIFY tvgate_changes`
//! with `lines` or `catalog` (a trigger on `change_stamps`, migration
//! 0001), and ending a session sends `sessions`; PostgreSQL delivers each
//! when its transaction commits, once per transaction and payload. A task
//! keeps one connection (outside the pool) that has run `LISTEN
//! tvgate_changes`, and turns notifications into [`Change`]s on a channel
//! the returned stream reads. When that connection drops it reconnects,
//! backing off up to 30 seconds, and then says [`Change::Resync`]: what was
//! notified meanwhile is lost, so everything must be reloaded. The task
//! ends when the stream is dropped.

use futures::stream::BoxStream;
use futures::StreamExt;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, NoTls};
use tvgate_core::ports::Change;

/// The channel every tvgate node listens on.
pub const CHANNEL: &str = "tvgate_changes";

const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The changes other nodes and processes commit, as they commit them.
pub(crate) fn listen(config: tokio_postgres::Config, shown: String) -> BoxStream<'static, Change> {
    let (tx, mut rx) = mpsc::channel::<Change>(64);
    tokio::spawn(run(config, shown, tx));
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx)).boxed()
}

/// What a notification's payload says changed.
fn change(payload: &str) -> Option<Change> {
    match payload {
        "lines" => Some(Change::Lines),
        "catalog" => Some(Change::Catalog),
        "sessions" => Some(Change::Sessions),
        _ => None,
    }
}

async fn run(config: tokio_postgres::Config, shown: String, tx: mpsc::Sender<Change>) {
    let mut backoff = Duration::from_secs(1);
    let mut connected_before = false;
    loop {
        match config.connect(NoTls).await {
            Ok((client, mut connection)) => {
                // The connection is driven here; its notifications come
                // back on `found`. It ends when the client is dropped or
                // the server goes away.
                let (found, mut notifications) = mpsc::unbounded_channel::<String>();
                let driver = tokio::spawn(async move {
                    let mut messages =
                        futures::stream::poll_fn(move |cx| connection.poll_message(cx));
                    while let Some(message) = messages.next().await {
                        match message {
                            Ok(AsyncMessage::Notification(n)) => {
                                if found.send(n.payload().to_string()).is_err() {
                                    return None;
                                }
                            }
                            Ok(_) => {}
                            Err(e) => return Some(e),
                        }
                    }
                    None
                });
                match client.batch_execute(&format!("LISTEN {CHANNEL}")).await {
                    Ok(()) => {
                        tracing::info!(store = %shown, "listening for changes made by other nodes");
                        backoff = Duration::from_secs(1);
                        if connected_before && tx.send(Change::Resync).await.is_err() {
                            driver.abort();
                            return;
                        }
                        connected_before = true;
                        loop {
                            tokio::select! {
                                payload = notifications.recv() => match payload {
                                    Some(payload) => {
                                        let Some(change) = change(&payload) else { continue };
                                        if tx.send(change).await.is_err() {
                                            driver.abort();
                                            return;
                                        }
                                    }
                                    None => break,
                                },
                                () = tx.closed() => {
                                    driver.abort();
                                    return;
                                }
                            }
                        }
                        let why = driver.await.ok().flatten().map(|e| super::describe(&e));
                        tracing::warn!(store = %shown, error = ?why, "the connection listening for changes ended; reconnecting");
                    }
                    Err(e) => {
                        driver.abort();
                        tracing::warn!(store = %shown, error = %super::describe(&e), "could not listen for changes; retrying");
                    }
                }
                drop(client);
            }
            Err(e) => {
                tracing::warn!(store = %shown, error = %super::describe(&e), "could not connect to listen for changes; retrying");
            }
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = tx.closed() => return,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads() {
        assert_eq!(change("lines"), Some(Change::Lines));
        assert_eq!(change("catalog"), Some(Change::Catalog));
        assert_eq!(change("sessions"), Some(Change::Sessions));
        assert_eq!(change("other"), None);
    }
}
