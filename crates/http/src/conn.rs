//! Connections, from accept to close, with the limits that keep a flood of
//! slow or idle ones from costing more than they are worth (issue 17):
//! - a cap on the connections one address holds at once
//!   ([`PerAddress`]): the next is answered `429 Too Many Requests`
//!   (`too many connections from your address`) and closed, before hyper
//!   reads a byte of it; trusted proxies are exempt (every client behind
//!   them shares their address);
//! - a time limit on a request's headers, from when the server starts
//!   waiting for them (so also a kept-alive connection's idle time): hyper's
//!   `header_read_timeout`, which closes the connection without an answer;
//! - a limit on their size (`max_header_size`): `431` and closed;
//! - a time limit on a request's body ([`Deadline`]): a body that has not
//!   arrived in full in time fails as the handler reads it (`400`), and the
//!   connection is closed.
//!
//! axum's own `serve` takes no such settings, so this is the loop it would
//! run (hyper's HTTP/1 connection per socket, graceful shutdown that lets
//! open requests finish) with them set.

use crate::access::Arrival;
use crate::frozen::{Peer, TcpBacked, WatchedListener};
use axum::extract::ConnectInfo;
use axum::Router;
use bytes::Bytes;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio_util::sync::CancellationToken;
use tvgate_formats::cidr::{canonical, CidrList};

/// The limits every connection is served under.
#[derive(Debug, Clone)]
pub struct ConnLimits {
    /// Time to send a request's headers (and a kept-alive connection's
    /// longest idle time).
    pub header_timeout: Duration,
    /// Time for a request's body to arrive in full.
    pub body_timeout: Duration,
    /// Largest request line and headers, in bytes.
    pub max_header_bytes: usize,
    /// Connections one address may hold at once (0: no cap).
    pub per_address: u32,
}

impl Default for ConnLimits {
    fn default() -> Self {
        ConnLimits {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            max_header_bytes: 16 << 10,
            per_address: 256,
        }
    }
}

/// The refusal of a connection over its address's cap.
const TOO_MANY: &[u8] = b"HTTP/1.1 429 Too Many Requests\r\n\
content-type: text/plain; charset=utf-8\r\n\
retry-after: 10\r\n\
connection: close\r\n\
content-length: 39\r\n\r\n\
too many connections from your address\n";

/// Open connections per address, against the cap. One per server (both
/// listeners count together).
#[derive(Debug, Default)]
pub struct PerAddress {
    open: Mutex<HashMap<IpAddr, u32>>,
    cap: u32,
    exempt: CidrList,
}

/// One open connection of an address; dropping it frees its place.
#[derive(Debug)]
pub struct AddressSlot {
    counts: Arc<PerAddress>,
    ip: Option<IpAddr>,
}

impl PerAddress {
    pub fn new(cap: u32, exempt: CidrList) -> Arc<PerAddress> {
        Arc::new(PerAddress {
            open: Mutex::default(),
            cap,
            exempt,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, u32>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A place for one more connection of `ip`, or `None` at the cap.
    pub fn take(self: &Arc<Self>, ip: IpAddr) -> Option<AddressSlot> {
        let ip = canonical(ip);
        if self.cap == 0 || self.exempt.contains(ip) {
            return Some(AddressSlot {
                counts: self.clone(),
                ip: None,
            });
        }
        let mut open = self.lock();
        let n = open.entry(ip).or_insert(0);
        if *n >= self.cap {
            return None;
        }
        *n += 1;
        Some(AddressSlot {
            counts: self.clone(),
            ip: Some(ip),
        })
    }

    /// Connections `ip` holds now.
    pub fn open(&self, ip: IpAddr) -> u32 {
        self.lock().get(&canonical(ip)).copied().unwrap_or(0)
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let Some(ip) = self.ip else { return };
        let mut open = self.counts.lock();
        if let Some(n) = open.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&ip);
            }
        }
    }
}

/// Serves `router` on `listener` until `shutdown`, then lets open
/// connections finish their requests.
pub(crate) async fn serve<L>(
    mut listener: WatchedListener<L>,
    router: Router,
    arrival: Arrival,
    limits: ConnLimits,
    counts: Arc<PerAddress>,
    shutdown: CancellationToken,
) -> std::io::Result<()>
where
    L: axum::serve::Listener<Addr = SocketAddr>,
    L::Io: TcpBacked + AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(limits.max_header_bytes.max(8192))
        .max_header_size(limits.max_header_bytes);
    let builder = Arc::new(builder);
    // Every connection task holds a receiver; the loop waits for all of
    // them to be dropped before it returns.
    let (open_tx, open_rx) = tokio::sync::watch::channel(());
    loop {
        let (io, addr) = tokio::select! {
            accepted = axum::serve::Listener::accept(&mut listener) => accepted,
            () = shutdown.cancelled() => break,
        };
        let Some(slot) = counts.take(addr.ip()) else {
            tracing::debug!(ip = %addr.ip(), "connection refused: too many from this address");
            tokio::spawn(refuse(io));
            continue;
        };
        let peer = Peer {
            addr,
            socket: io.watch().clone(),
        };
        let router = router.clone();
        let body_timeout = limits.body_timeout;
        let service =
            hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let mut req = req.map(|body| Deadline::new(body, body_timeout));
                req.extensions_mut().insert(ConnectInfo(peer.clone()));
                req.extensions_mut().insert(arrival);
                let mut router = router.clone();
                tower::Service::call(&mut router, req)
            });
        let builder = builder.clone();
        let shutdown = shutdown.clone();
        let open = open_rx.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let _open = open;
            let conn = builder.serve_connection(TokioIo::new(io), service);
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => return,
                () = shutdown.cancelled() => conn.as_mut().graceful_shutdown(),
            }
            let _ = conn.await;
        });
    }
    drop(listener);
    drop(open_rx);
    open_tx.closed().await;
    Ok(())
}

/// Answers a connection over its address's cap and closes it.
async fn refuse<T: AsyncWrite + Unpin>(mut io: T) {
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        io.write_all(TOO_MANY).await?;
        io.shutdown().await
    })
    .await;
}

pin_project_lite::pin_project! {
    /// A request body that fails once its time is up. The timer starts
    /// the first time the body is not ready (a GET's empty body, most
    /// requests, never starts one: no timer entry per request).
    pub struct Deadline<B> {
        #[pin]
        inner: B,
        limit: Duration,
        sleep: Option<Pin<Box<tokio::time::Sleep>>>,
        expired: bool,
    }
}

impl<B> Deadline<B> {
    pub fn new(inner: B, limit: Duration) -> Deadline<B> {
        Deadline {
            inner,
            limit,
            sleep: None,
            expired: false,
        }
    }
}

/// A body that did not arrive in time.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive in time")]
pub struct BodyTimedOut;

impl<B> http_body::Body for Deadline<B>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        let this = self.project();
        if *this.expired {
            return Poll::Ready(Some(Err(Box::new(BodyTimedOut))));
        }
        match this.inner.poll_frame(cx) {
            Poll::Ready(frame) => Poll::Ready(frame.map(|f| f.map_err(Into::into))),
            Poll::Pending => match std::future::Future::poll(
                this.sleep
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(*this.limit)))
                    .as_mut(),
                cx,
            ) {
                Poll::Ready(()) => {
                    *this.expired = true;
                    Poll::Ready(Some(Err(Box::new(BodyTimedOut))))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
