//! Accepted connections, before HTTP/2 sees them:
//!
//! - at most `--max-connections` are open at once; one more is closed as soon as it is accepted;
//! - a connection must send HTTP/2's 24-byte client preface within `--handshake-timeout-seconds`,
//!   or it is closed (a bare TCP connection would otherwise hold its place forever); an HTTP/1.1
//!   connection (gRPC-Web) counts its first 24 bytes the same way;
//! - at shutdown, a connection that has not sent its preface is closed at once: hyper's graceful
//!   shutdown waits for the HTTP/2 handshake to finish before it can say GOAWAY, so without this a
//!   load balancer's idle TCP connection held the shutdown for the whole grace period;
//! - after connections close, freed memory is given back to the system (glibc's `malloc_trim`, at
//!   most once a second): glibc keeps the freed pages of its arenas otherwise, and the memory of a
//!   connection that had opened thousands of streams stayed with the process after it closed.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio_stream::{Stream, StreamExt as _};
use tonic::transport::server::{Connected, TcpConnectInfo};

/// HTTP/2's client connection preface (RFC 9113 §3.4); hyper's handshake ends once it is read.
pub const PREFACE_BYTES: usize = 24;

/// Limits on accepted connections.
#[derive(Clone, Debug)]
pub struct ConnLimits {
    pub max_connections: usize,
    pub handshake_timeout: Duration,
}

/// Wraps a stream of accepted TCP connections with [`ConnLimits`]; `shutdown` turning true closes
/// the connections that have not sent their preface.
pub fn guard_incoming<I>(
    incoming: I,
    limits: ConnLimits,
    shutdown: watch::Receiver<bool>,
) -> impl Stream<Item = io::Result<Conn>> + Send + 'static
where
    I: Stream<Item = io::Result<TcpStream>> + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let trim = trim_after_closes();
    let last_warning = Mutex::new(None::<Instant>);
    incoming.filter_map(move |accepted| {
        let io = match accepted {
            Ok(io) => io,
            Err(e) => return Some(Err(e)),
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            // Closed at once (the client sees a reset and tries elsewhere). Warned at most once a
            // second, so that a flood of connections does not also flood the log.
            let mut last = last_warning.lock().unwrap_or_else(|e| e.into_inner());
            if last.is_none_or(|at| at.elapsed() >= Duration::from_secs(1)) {
                *last = Some(Instant::now());
                tracing::warn!(
                    max_connections = limits.max_connections,
                    peer = ?io.peer_addr().ok(),
                    "connection refused: --max-connections are open"
                );
            }
            return None;
        };
        let mut conn = Conn::new(io, permit, limits.handshake_timeout, shutdown.clone());
        conn.trim = Some(trim.clone());
        Some(Ok(conn))
    })
}

/// How long after a connection closes its memory is given back (closes meanwhile share one trim).
const TRIM_DELAY: Duration = Duration::from_secs(1);

/// Spawns the task that gives freed memory back after connections close; it ends when the last
/// sender (the incoming stream's and its connections') is dropped.
fn trim_after_closes() -> mpsc::Sender<()> {
    let (closed, mut closes) = mpsc::channel::<()>(1);
    tokio::spawn(async move {
        while closes.recv().await.is_some() {
            tokio::time::sleep(TRIM_DELAY).await;
            while closes.try_recv().is_ok() {}
            let _ = tokio::task::spawn_blocking(give_freed_memory_back).await;
        }
    });
    closed
}

/// glibc keeps freed memory in its arenas (one per thread, up to 8 per core) and returns only the
/// top of each heap; `malloc_trim(0)` returns every whole free page. Elsewhere: nothing to do.
fn give_freed_memory_back() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only takes the allocator's own locks; it is safe to call at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Why a connection that had not sent its preface was closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cut {
    HandshakeTimeout,
    Shutdown,
}

/// An accepted connection: its place among `--max-connections`, and its preface deadline.
pub struct Conn {
    io: TcpStream,
    _permit: OwnedSemaphorePermit,
    read: usize,
    /// Until the preface has been read: resolves at the handshake deadline or at shutdown.
    cut: Option<Pin<Box<dyn Future<Output = Cut> + Send>>>,
    cut_off: bool,
    /// Told when the connection closes.
    trim: Option<mpsc::Sender<()>>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        if let Some(trim) = &self.trim {
            let _ = trim.try_send(()); // full: a trim is coming anyway
        }
    }
}

impl Conn {
    fn new(
        io: TcpStream,
        permit: OwnedSemaphorePermit,
        handshake_timeout: Duration,
        mut shutdown: watch::Receiver<bool>,
    ) -> Self {
        let cut = Box::pin(async move {
            tokio::select! {
                _ = tokio::time::sleep(handshake_timeout) => Cut::HandshakeTimeout,
                _ = shutdown.wait_for(|stopping| *stopping) => Cut::Shutdown,
            }
        });
        Conn { io, _permit: permit, read: 0, cut: Some(cut), cut_off: false, trim: None }
    }
}

impl Connected for Conn {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> TcpConnectInfo {
        self.io.connect_info()
    }
}

impl AsyncRead for Conn {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.cut_off {
            return Poll::Ready(Ok(())); // end of input: HTTP/2's handshake fails and the connection ends
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(result) => {
                this.read += buf.filled().len() - before;
                if this.read >= PREFACE_BYTES {
                    this.cut = None;
                }
                Poll::Ready(result)
            }
            Poll::Pending => {
                let Some(cut) = this.cut.as_mut() else { return Poll::Pending };
                let Poll::Ready(why) = cut.as_mut().poll(cx) else { return Poll::Pending };
                tracing::debug!(
                    peer = ?this.io.peer_addr().ok(),
                    bytes = this.read,
                    reason = ?why,
                    "closing a connection that has not sent HTTP/2's preface"
                );
                this.cut = None;
                this.cut_off = true;
                Poll::Ready(Ok(()))
            }
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::TcpListener;

    async fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        (client, server)
    }

    fn permit() -> OwnedSemaphorePermit {
        Arc::new(Semaphore::new(1)).try_acquire_owned().unwrap()
    }

    #[tokio::test]
    async fn a_silent_connection_ends_at_the_handshake_deadline_or_at_shutdown() {
        let (_client, server) = pair().await;
        let (_stop, stopping) = watch::channel(false);
        let mut conn = Conn::new(server, permit(), Duration::from_millis(50), stopping);
        let mut buf = [0u8; 8];
        let read = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut buf)).await.unwrap().unwrap();
        assert_eq!(read, 0, "end of input at the deadline");

        let (_client, server) = pair().await;
        let (stop, stopping) = watch::channel(false);
        let mut conn = Conn::new(server, permit(), Duration::from_secs(3600), stopping);
        let reading = tokio::spawn(async move { conn.read(&mut [0u8; 8]).await.unwrap() });
        tokio::task::yield_now().await;
        stop.send(true).unwrap();
        assert_eq!(tokio::time::timeout(Duration::from_secs(5), reading).await.unwrap().unwrap(), 0);
    }

    #[tokio::test]
    async fn a_connection_that_sent_its_preface_is_left_alone() {
        let (mut client, server) = pair().await;
        let (stop, stopping) = watch::channel(false);
        let mut conn = Conn::new(server, permit(), Duration::from_millis(50), stopping);
        client.write_all(&[b'x'; PREFACE_BYTES]).await.unwrap();
        let mut preface = [0u8; PREFACE_BYTES];
        conn.read_exact(&mut preface).await.unwrap();
        let _ = stop.send(true); // (nothing watches it any more: the deadline was dropped with the preface)
        tokio::time::sleep(Duration::from_millis(100)).await;
        client.write_all(b"more").await.unwrap();
        let mut more = [0u8; 4];
        conn.read_exact(&mut more).await.unwrap();
        assert_eq!(&more, b"more");
    }

    #[tokio::test]
    async fn connections_above_the_limit_are_closed_when_accepted() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = tokio_stream::wrappers::TcpListenerStream::new(listener);
        let (_stop, stopping) = watch::channel(false);
        let limits = ConnLimits { max_connections: 1, handshake_timeout: Duration::from_secs(3600) };
        let mut incoming = Box::pin(guard_incoming(accepted, limits, stopping));
        let _first = TcpStream::connect(addr).await.unwrap();
        let kept = incoming.next().await.unwrap().unwrap();
        let mut second = TcpStream::connect(addr).await.unwrap();
        let _third = TcpStream::connect(addr).await.unwrap();
        // The second and third are closed as they are accepted; nothing is handed over.
        let waiting = tokio::time::timeout(Duration::from_millis(300), incoming.next()).await;
        assert!(waiting.is_err(), "no connection is handed over while the limit is reached");
        let mut buf = [0u8; 1];
        let read = tokio::time::timeout(Duration::from_secs(5), second.read(&mut buf)).await.unwrap();
        assert!(matches!(read, Ok(0) | Err(_)), "the connection above the limit was closed");
        drop(kept);
        let _fourth = TcpStream::connect(addr).await.unwrap();
        let next = tokio::time::timeout(Duration::from_secs(5), incoming.next()).await.unwrap();
        assert!(next.unwrap().is_ok(), "a place freed is used by the next connection");
    }
}
