//! One endpoint's HTTP/2 connection: its settings (`Config`), TLS, the handshake, the tasks that
//! drive and PING it, and the runtime they run on.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use h2::client::SendRequest;
use http::HeaderValue;
use napi_derive::napi;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::runtime::Handle;
use tokio::sync::{Notify, OnceCell};

use super::*;

/// Flow-control windows, as src/remote/http2.ts sets them: a stream's and the connection's.
pub(crate) const STREAM_WINDOW_BYTES: u32 = 4 << 20;
pub(crate) const CONNECTION_WINDOW_BYTES: u32 = 16 << 20;
/// A deadline further than this is sent as grpc-timeout but kept by no local timer.
pub(crate) const TIMER_MAX: Duration = Duration::from_secs(365 * 24 * 3600);

/// What the text of a failure to connect gets when the server closed before speaking HTTP/2.
pub(crate) const CLOSED_BEFORE_HTTP2: &str = " — the server closed the connection before speaking HTTP/2: if it serves TLS (nanocalc serve --tls-cert), pass tls: true or { ca } to RemoteCalculator";
pub(crate) const NOT_TLS: &str = " — the server does not speak TLS: omit the tls option to call it in plaintext";

/// The addon's runtime: tokio's current-thread scheduler, driven by a thread of its own (the
/// machine's other cores are JavaScript's and the server's), started on first use and never stopped
/// (the thread ends with the process). Measured against a multi-thread runtime with one worker: less
/// CPU per call in each of six alternating pairs (docs/PERFORMANCE.md's ledger).
pub(crate) fn runtime() -> &'static Handle {
    static RUNTIME: OnceLock<Handle> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .expect("nanocalc: cannot start the remote client's runtime");
        let handle = runtime.handle().clone();
        std::thread::Builder::new()
            .name("nanocalc-remote".into())
            .spawn(move || runtime.block_on(std::future::pending::<()>()))
            .expect("nanocalc: cannot start the remote client's thread");
        handle
    })
}

/// The TLS options of RemoteCalculatorOptions' `tls`, as JavaScript hands them over.
#[napi(object)]
pub struct RemoteTls {
    /// PEM certificates to trust (JavaScript passes Node's own roots when the option has no `ca`).
    pub ca: Buffer,
    pub cert: Option<Buffer>,
    pub key: Option<Buffer>,
    pub server_name: Option<String>,
}

/// One endpoint's settings, fixed when its channel opens.
pub(crate) struct Config {
    pub(crate) host: String,
    pub(crate) port: u16,
    /// `http` or `https`, and `:authority` (the TLS server name, else the address).
    pub(crate) scheme: http::uri::Scheme,
    pub(crate) authority: http::uri::Authority,
    pub(crate) authorization: Option<HeaderValue>,
    pub(crate) tls: Option<(Arc<rustls::ClientConfig>, ServerName<'static>)>,
    pub(crate) keepalive: Option<Duration>,
}

/// What a connection's tasks and its calls share.
#[derive(Default)]
pub(crate) struct ConnState {
    /// The server sent bytes: it speaks HTTP/2 (its SETTINGS come first).
    pub(crate) connected: AtomicBool,
    /// Closed or failed: calls still on it that have no status end UNAVAILABLE.
    pub(crate) dropped: AtomicBool,
    /// GOAWAY received (a new stream was refused): new calls go to a new connection.
    pub(crate) draining: AtomicBool,
    pub(crate) error: Mutex<Option<String>>,
    /// Calls on it not yet ended: PINGs are sent only then.
    pub(crate) active: AtomicUsize,
    /// Tells the connection's task to drop it (keepalive).
    pub(crate) kill: Notify,
    pub(crate) plaintext: bool,
}

impl ConnState {
    pub(crate) fn set_error(&self, message: String) {
        let mut error = self.error.lock().unwrap_or_else(|e| e.into_inner());
        if error.is_none() {
            *error = Some(message);
        }
    }

    /// The details of UNAVAILABLE for a call this connection's failure ended (http2.ts's `failure()`).
    pub(crate) fn failure(&self) -> String {
        let error = self.error.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if self.connected.load(Ordering::Acquire) {
            return match error {
                None => "Connection dropped".into(),
                Some(message) => format!("Connection dropped: {message}"),
            };
        }
        match error {
            None if self.plaintext => format!("No connection established{CLOSED_BEFORE_HTTP2}"),
            None => "No connection established: the server closed the connection during the TLS handshake".into(),
            // A plaintext client answered by something that is not HTTP/2 (a TLS server's alert).
            Some(message) if self.plaintext => {
                format!("No connection established. Last error: {message}{CLOSED_BEFORE_HTTP2}")
            }
            Some(message) => format!("No connection established. Last error: {message}"),
        }
    }
}

pub(crate) struct Conn {
    pub(crate) send: SendRequest<Bytes>,
    pub(crate) state: Arc<ConnState>,
}

pub(crate) enum Slot {
    Empty,
    Connecting(Arc<OnceCell<std::result::Result<Arc<Conn>, String>>>),
    Ready(Arc<Conn>),
    Closed,
}

/// The server's first frame marks the connection as speaking HTTP/2 when it is SETTINGS (frame
/// type 4, the fourth byte): a TLS server answering a plaintext client sends an alert instead.
pub(crate) struct Watched<T> {
    pub(crate) io: T,
    pub(crate) state: Arc<ConnState>,
    /// Bytes read so far, up to the first frame's type.
    pub(crate) read: usize,
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.io).poll_read(cx, buf);
        let new = buf.filled().len() - before;
        if self.read < 4 && self.read + new >= 4 {
            let frame_type = buf.filled()[before + 3 - self.read];
            if frame_type == 4 {
                self.state.connected.store(true, Ordering::Release);
            }
        }
        self.read = self.read.saturating_add(new);
        poll
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// Opens a connection: TCP, TLS if asked, the HTTP/2 handshake, and the tasks that drive it and
/// PING it. The error is the details of the UNAVAILABLE its calls end with.
pub(crate) async fn connect(config: &Config) -> std::result::Result<Arc<Conn>, String> {
    let state = Arc::new(ConnState { plaintext: config.tls.is_none(), ..ConnState::default() });
    let tcp = TcpStream::connect((config.host.as_str(), config.port))
        .await
        .map_err(|e| format!("No connection established. Last error: connect {e} {}:{}", config.host, config.port))?;
    let _ = tcp.set_nodelay(true);
    match &config.tls {
        None => handshake(Watched { io: tcp, state: state.clone(), read: 0 }, state, config.keepalive).await,
        Some((tls, name)) => {
            let connector = tokio_rustls::TlsConnector::from(tls.clone());
            let stream = connector.connect(name.clone(), tcp).await.map_err(|e| {
                let message = e.to_string();
                if message.contains("InvalidContentType") || message.contains("corrupt message") {
                    format!("No connection established. Last error: {message}{NOT_TLS}")
                } else if e.kind() == std::io::ErrorKind::UnexpectedEof {
                    "No connection established: the server closed the connection during the TLS handshake".into()
                } else {
                    format!("No connection established. Last error: {message}")
                }
            })?;
            handshake(Watched { io: stream, state: state.clone(), read: 0 }, state, config.keepalive).await
        }
    }
}

pub(crate) async fn handshake<T>(
    io: Watched<T>,
    state: Arc<ConnState>,
    keepalive: Option<Duration>,
) -> std::result::Result<Arc<Conn>, String>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (send, mut connection) = h2::client::Builder::new()
        .enable_push(false)
        .initial_window_size(STREAM_WINDOW_BYTES)
        .initial_connection_window_size(CONNECTION_WINDOW_BYTES)
        .handshake::<_, Bytes>(io)
        .await
        .map_err(|e| format!("No connection established. Last error: {e}"))?;
    let ping_pong = connection.ping_pong();
    let driven = state.clone();
    tokio::spawn(async move {
        let outcome = tokio::select! {
            outcome = &mut connection => outcome.map_err(|e| e.to_string()),
            () = driven.kill.notified() => Err(String::new()), // the error is already set
        };
        if let Err(message) = outcome
            && !message.is_empty()
        {
            driven.set_error(message);
        }
        driven.dropped.store(true, Ordering::Release);
    });
    if let (Some(period), Some(mut ping_pong)) = (keepalive, ping_pong) {
        let pinged = state.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(period).await;
                if pinged.dropped.load(Ordering::Acquire) {
                    return;
                }
                if pinged.active.load(Ordering::Acquire) == 0 {
                    continue; // idle: nothing waits on it
                }
                match tokio::time::timeout(period, ping_pong.ping(h2::Ping::opaque())).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(_)) => return, // the connection is closing
                    Err(_) => {
                        pinged
                            .set_error(format!("keepalive: a PING was not answered within {} ms", period.as_millis()));
                        pinged.dropped.store(true, Ordering::Release);
                        pinged.kill.notify_one();
                        return;
                    }
                }
            }
        });
    }
    Ok(Arc::new(Conn { send, state }))
}

pub(crate) fn invalid(message: impl Into<String>) -> Error {
    Error::new(Status::InvalidArg, message.into())
}

pub(crate) fn tls_config(tls: &RemoteTls) -> Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&tls.ca) {
        let cert = cert.map_err(|e| invalid(format!("nanocalc: tls.ca is not a PEM certificate: {e}")))?;
        // Node's own roots include a few that rustls refuses: those are skipped, as a TLS library would.
        let _ = roots.add(cert);
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(e.to_string()))?
        .with_root_certificates(roots);
    let mut config = match (&tls.cert, &tls.key) {
        (Some(cert), Some(key)) => {
            let chain = CertificateDer::pem_slice_iter(cert)
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| invalid(format!("nanocalc: tls.cert is not a PEM certificate: {e}")))?;
            let key = PrivateKeyDer::from_pem_slice(key)
                .map_err(|e| invalid(format!("nanocalc: tls.key is not a PEM private key: {e}")))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| invalid(format!("nanocalc: tls.cert and tls.key: {e}")))?
        }
        _ => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(config))
}
