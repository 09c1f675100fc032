//! Frozen viewers: a player that hangs with its socket open (a Fire TV
//! stick that froze, a phone asleep, a process stopped with SIGSTOP) never
//! closes the connection, so nothing in the response body notices; left
//! alone its slot would be held until TCP gives up (`crate::SEND_TIMEOUT`).
//!
//! Three parts:
//! - [`Watched`], the connection's socket as hyper writes to it, records in
//!   a [`SocketWatch`] when the socket last accepted bytes and since when a
//!   write has been waiting (hyper had bytes, the socket took none). Every
//!   accepted connection gets one through [`WatchedListener`], and the
//!   request sees it as part of its [`Peer`] (`crate::access::Caller`).
//! - Accepted sockets get `TCP_NOTSENT_LOWAT` ([`NOTSENT_LOWAT`]): the
//!   kernel holds at most that much unsent data per socket, so a viewer
//!   that stops reading blocks the writer after its own receive buffer and
//!   this little, not after many seconds of stream.
//! - [`Watchdog`], one task per server, looks at every streaming body
//!   registered with it ([`Watchdog::watch`], done by `crate::slots`) four
//!   times a second. A write that has waited longer than the stream's
//!   limit ends the connection: the socket is marked dead and its task
//!   woken, hyper's write fails, the connection and its body drop, and the
//!   body's lease guard frees the slot at once (counted as
//!   `cause="frozen"`, logged once). The limit is `viewer_stall` for live
//!   streams and `vod_pause` for films (pausing a film is allowed that
//!   long). A stream with no data for the viewer (an upstream that stalls)
//!   has no write waiting, so it is never called frozen; a slow viewer that
//!   still reads has its writes accepted as it reads.
//!
//! While a body waits on a paused socket it is not polled, so it does not
//! renew its lease; the watchdog renews it instead (a paused film keeps its
//! slot past `lease_ttl_secs`). HLS has no long body: its slot ends after
//! its idle window (`crate::deliver::hls`).

use futures::task::AtomicWaker;
use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_util::sync::CancellationToken;
use tvgate_core::ids::{LineId, StreamId};
use tvgate_core::ledger::{LeaseId, LeaseKind};

/// Unsent bytes the kernel keeps per viewer socket at most
/// (`TCP_NOTSENT_LOWAT`). The socket's own send queue (data sent but not
/// yet acknowledged, up to the reader's receive window) is not counted, so
/// a fast reader is never starved between two writes even at 16 KiB; what
/// this bounds is how much the kernel copies ahead of the reader. Smaller
/// is cheaper: a zapping player that reads 64 KiB and closes makes the
/// kernel copy 133 KB instead of 217 KB of join burst (bench/README.md,
/// "B2 per session" and "Not-sent low-water mark and zero-copy fan-out").
/// A frozen viewer blocks the writer as soon as its receive buffer is full.
pub const NOTSENT_LOWAT: u32 = 16 << 10;

/// How often the watchdog looks.
const TICK: Duration = Duration::from_millis(250);

/// Milliseconds since the first call, on the monotonic clock: the time
/// unit of a [`SocketWatch`] (0 is never a stored time: see `stamp`).
fn now_ms() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_millis() as u64
}

/// A time as stored: never 0, which means "not set".
fn stamp() -> u64 {
    now_ms() + 1
}

/// What a connection's socket did lately, shared by the socket (which
/// writes it) and the watchdog (which reads it and may end the connection).
#[derive(Debug, Default)]
pub struct SocketWatch {
    /// Since when a write has been waiting for the socket (0: none is).
    blocked_since: AtomicU64,
    /// When the socket last accepted bytes (0: never).
    last_accept: AtomicU64,
    /// Set by the watchdog: every later read or write fails.
    killed: AtomicBool,
    /// The connection's task, woken when it is killed.
    waker: AtomicWaker,
    /// TCP_USER_TIMEOUT wanted for this socket in ms (0: keep the one set
    /// at accept); applied by the socket at its next write.
    user_timeout_ms: AtomicU64,
}

impl SocketWatch {
    /// How long a write has been waiting for the socket, if one is.
    pub fn blocked_for(&self) -> Option<Duration> {
        let since = self.blocked_since.load(Ordering::Acquire);
        (since != 0).then(|| Duration::from_millis(stamp().saturating_sub(since)))
    }

    /// When the socket last accepted bytes, as time ago.
    pub fn last_accept_ago(&self) -> Option<Duration> {
        let at = self.last_accept.load(Ordering::Acquire);
        (at != 0).then(|| Duration::from_millis(stamp().saturating_sub(at)))
    }

    /// Ends the connection: its next read or write fails (its task is
    /// woken for that now), and it closes with a reset.
    pub fn kill(&self) {
        self.killed.store(true, Ordering::Release);
        self.waker.wake();
    }

    pub fn is_killed(&self) -> bool {
        self.killed.load(Ordering::Acquire)
    }

    /// Asks for `timeout` as the socket's TCP_USER_TIMEOUT (a paused film's
    /// socket may go unacknowledged longer than a live one's).
    pub fn want_user_timeout(&self, timeout: Duration) {
        let ms = timeout.as_millis().max(1) as u64;
        self.user_timeout_ms.fetch_max(ms, Ordering::AcqRel);
    }
}

/// The socket types a connection is served over, down to their TCP socket.
pub trait TcpBacked {
    fn tcp(&self) -> &TcpStream;
}

impl TcpBacked for TcpStream {
    fn tcp(&self) -> &TcpStream {
        self
    }
}

impl TcpBacked for TlsStream<TcpStream> {
    fn tcp(&self) -> &TcpStream {
        self.get_ref().0
    }
}

/// Sets what every accepted socket gets: [`crate::SEND_TIMEOUT`] as
/// TCP_USER_TIMEOUT and [`NOTSENT_LOWAT`].
fn tune(tcp: &TcpStream) {
    let socket = socket2::SockRef::from(tcp);
    if let Err(e) = socket.set_tcp_user_timeout(Some(crate::SEND_TIMEOUT)) {
        tracing::debug!(error = %e, "TCP_USER_TIMEOUT not set");
    }
    if let Err(e) = socket.set_tcp_notsent_lowat(NOTSENT_LOWAT) {
        tracing::debug!(error = %e, "TCP_NOTSENT_LOWAT not set");
    }
}

/// A connection's socket that reports to its [`SocketWatch`].
pub struct Watched<T> {
    inner: T,
    watch: Arc<SocketWatch>,
    /// The TCP_USER_TIMEOUT last applied (ms; 0: the accept-time one).
    user_timeout_ms: u64,
}

impl<T: TcpBacked> Watched<T> {
    pub fn new(inner: T) -> Watched<T> {
        tune(inner.tcp());
        Watched {
            inner,
            watch: Arc::default(),
            user_timeout_ms: 0,
        }
    }

    pub fn watch(&self) -> &Arc<SocketWatch> {
        &self.watch
    }

    fn dead(&self) -> io::Result<()> {
        // A reset rather than a FIN behind data the viewer will never read:
        // the kernel drops the socket's buffers at once.
        let _ = socket2::SockRef::from(self.inner.tcp()).set_linger(Some(Duration::ZERO));
        Err(io::Error::new(
            io::ErrorKind::BrokenPipe,
            "viewer frozen: connection ended",
        ))
    }

    fn apply_user_timeout(&mut self) {
        let wanted = self.watch.user_timeout_ms.load(Ordering::Acquire);
        if wanted > self.user_timeout_ms {
            self.user_timeout_ms = wanted;
            let socket = socket2::SockRef::from(self.inner.tcp());
            if let Err(e) = socket.set_tcp_user_timeout(Some(Duration::from_millis(wanted))) {
                tracing::debug!(error = %e, "TCP_USER_TIMEOUT not raised");
            }
        }
    }

    /// Records what a write did.
    fn wrote(&self, poll: &Poll<io::Result<usize>>, cx: &Context<'_>) {
        match poll {
            Poll::Ready(Ok(n)) if *n > 0 => {
                self.watch.last_accept.store(stamp(), Ordering::Release);
                self.watch.blocked_since.store(0, Ordering::Release);
            }
            Poll::Pending => {
                self.watch.waker.register(cx.waker());
                let _ = self.watch.blocked_since.compare_exchange(
                    0,
                    stamp(),
                    Ordering::AcqRel,
                    Ordering::Acquire,
                );
            }
            _ => {}
        }
    }
}

impl<T: AsyncRead + TcpBacked + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.watch.is_killed() {
            return Poll::Ready(this.dead());
        }
        let poll = Pin::new(&mut this.inner).poll_read(cx, buf);
        if poll.is_pending() {
            this.watch.waker.register(cx.waker());
        }
        poll
    }
}

impl<T: AsyncWrite + TcpBacked + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.watch.is_killed() {
            return Poll::Ready(this.dead().map(|()| 0));
        }
        this.apply_user_timeout();
        let poll = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.wrote(&poll, cx);
        poll
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.watch.is_killed() {
            return Poll::Ready(this.dead().map(|()| 0));
        }
        this.apply_user_timeout();
        let poll = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.wrote(&poll, cx);
        poll
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.watch.is_killed() {
            return Poll::Ready(this.dead());
        }
        let poll = Pin::new(&mut this.inner).poll_flush(cx);
        if poll.is_pending() {
            this.watch.waker.register(cx.waker());
        }
        poll
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// A listener whose connections are [`Watched`].
pub struct WatchedListener<L> {
    inner: L,
}

impl<L> WatchedListener<L> {
    pub fn new(inner: L) -> WatchedListener<L> {
        WatchedListener { inner }
    }
}

impl<L> axum::serve::Listener for WatchedListener<L>
where
    L: axum::serve::Listener<Addr = SocketAddr>,
    L::Io: TcpBacked,
{
    type Io = Watched<L::Io>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (io, addr) = self.inner.accept().await;
        (Watched::new(io), addr)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// The other end of a connection: its address and its socket's watch. The
/// connection info of every request (`axum::extract::ConnectInfo<Peer>`).
#[derive(Debug, Clone)]
pub struct Peer {
    pub addr: SocketAddr,
    pub socket: Arc<SocketWatch>,
}

impl<L> axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, WatchedListener<L>>>
    for Peer
where
    L: axum::serve::Listener<Addr = SocketAddr>,
    L::Io: TcpBacked,
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, WatchedListener<L>>) -> Peer {
        Peer {
            addr: *stream.remote_addr(),
            socket: stream.io().watch().clone(),
        }
    }
}

/// What a watched stream shares with its lease guard.
#[derive(Debug, Default)]
pub struct StreamState {
    /// The watchdog ended it as frozen.
    pub frozen: AtomicBool,
    /// The lease's end as the watchdog last renewed it (0: never did).
    pub renewed_until: AtomicI64,
}

/// One streaming body as the watchdog sees it.
struct Entry {
    socket: Arc<SocketWatch>,
    /// A write waiting longer than this ends the connection.
    limit: Duration,
    state: Arc<StreamState>,
    lease: LeaseId,
    line: LineId,
    stream: StreamId,
    kind: LeaseKind,
    /// When the watchdog last renewed the lease (UnixTime; 0: never).
    renewed_at: i64,
}

/// The streaming bodies to watch, and the task that watches them.
#[derive(Default)]
pub struct Watchdog {
    entries: Mutex<HashMap<u64, Entry>>,
    next: AtomicU64,
}

/// A body's registration; dropping it (with the body) ends the watch.
pub struct Watching {
    dog: Arc<Watchdog>,
    id: u64,
    pub state: Arc<StreamState>,
}

impl Drop for Watching {
    fn drop(&mut self) {
        self.dog.lock().remove(&self.id);
    }
}

impl std::fmt::Debug for Watching {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watching").field("id", &self.id).finish()
    }
}

/// What [`Watchdog::watch`] needs to know of a stream.
pub struct Watch {
    pub socket: Arc<SocketWatch>,
    pub limit: Duration,
    pub lease: LeaseId,
    pub line: LineId,
    pub stream: StreamId,
    pub kind: LeaseKind,
}

impl Watchdog {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Watches a streaming body until the returned registration drops.
    pub fn watch(self: &Arc<Self>, w: Watch) -> Watching {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let state = Arc::new(StreamState::default());
        self.lock().insert(
            id,
            Entry {
                socket: w.socket,
                limit: w.limit,
                state: state.clone(),
                lease: w.lease,
                line: w.line,
                stream: w.stream,
                kind: w.kind,
                renewed_at: 0,
            },
        );
        Watching {
            dog: self.clone(),
            id,
            state,
        }
    }

    /// Streams being watched now.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The watchdog's task: four looks a second until `stop`.
pub async fn run(app: crate::App, stop: CancellationToken) {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        look(&app).await;
    }
}

/// One look: ends the frozen, renews the leases of the paused.
async fn look(app: &crate::App) {
    let now = app.now();
    let ttl = app.settings.lease_ttl_secs;
    // Renew a paused body's lease as often as a flowing body would.
    let renew_every = i64::from((ttl / 3).max(1));
    let mut renewals = Vec::new();
    {
        let mut entries = app.watchdog.lock();
        for entry in entries.values_mut() {
            if entry.socket.is_killed() {
                continue;
            }
            let Some(blocked) = entry.socket.blocked_for() else {
                continue;
            };
            if blocked >= entry.limit {
                entry.state.frozen.store(true, Ordering::Release);
                entry.socket.kill();
                tracing::info!(
                    line = entry.line.0,
                    stream = entry.stream.0,
                    kind = kind_name(entry.kind),
                    blocked_ms = blocked.as_millis() as u64,
                    "viewer frozen: its connection took no data for {} s; stream ended, slot freed",
                    entry.limit.as_secs_f64()
                );
            } else if blocked >= Duration::from_secs(1) && now - entry.renewed_at >= renew_every {
                entry.renewed_at = now;
                renewals.push((entry.lease, entry.state.clone()));
            }
        }
    }
    for (lease, state) in renewals {
        if app.ledger.renew(lease, now, ttl).await {
            state
                .renewed_until
                .store(now + i64::from(ttl), Ordering::Release);
        }
    }
}

fn kind_name(kind: LeaseKind) -> &'static str {
    match kind {
        LeaseKind::LiveTs => "live",
        LeaseKind::Hls => "hls",
        LeaseKind::Vod => "vod",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A connected pair on loopback: (server side watched, client side).
    async fn pair() -> (Watched<TcpStream>, TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let client = TcpStream::connect(addr).await.expect("connect");
        let (server, _) = listener.accept().await.expect("accept");
        (Watched::new(server), client)
    }

    #[tokio::test]
    async fn a_reader_that_stops_leaves_a_write_waiting_and_a_kill_ends_it() {
        let (mut server, mut client) = pair().await;
        let watch = server.watch().clone();
        server.write_all(b"hello").await.expect("write");
        assert!(watch.last_accept_ago().is_some());
        assert!(watch.blocked_for().is_none());
        let mut got = [0u8; 5];
        client.read_exact(&mut got).await.expect("read");
        // The client stops reading: writes fill its buffers, then wait.
        let chunk = vec![0u8; 64 << 10];
        let writer = tokio::spawn(async move {
            loop {
                if server.write_all(&chunk).await.is_err() {
                    return;
                }
            }
        });
        let t0 = Instant::now();
        while watch.blocked_for().is_none() {
            assert!(t0.elapsed() < Duration::from_secs(10), "never blocked");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        watch.kill();
        tokio::time::timeout(Duration::from_secs(2), writer)
            .await
            .expect("the killed writer stops")
            .expect("no panic");
        drop(client);
    }

    #[tokio::test]
    async fn a_reading_client_never_leaves_a_write_waiting_long() {
        let (mut server, mut client) = pair().await;
        let watch = server.watch().clone();
        let reader = tokio::spawn(async move {
            let mut buf = vec![0u8; 1 << 16];
            let mut total = 0usize;
            while total < 8 << 20 {
                match client.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => total += n,
                }
            }
            total
        });
        let chunk = vec![0u8; 64 << 10];
        for _ in 0..128 {
            server.write_all(&chunk).await.expect("write");
            assert!(watch
                .blocked_for()
                .is_none_or(|d| d < Duration::from_secs(1)));
        }
        assert_eq!(reader.await.expect("reader"), 8 << 20);
    }
}
