//! The 'native' transport of `RemoteCalculator` (src/remote/native.ts): a gRPC client in Rust, on
//! `h2` over tokio (and rustls for TLS), on a runtime the addon owns (one thread of its own). It only
//! moves bytes: TypeScript encodes the requests and decodes the answers, as with the other
//! transports. One HTTP/2 connection per endpoint, reused by every call and opened again after it
//! dies (as src/remote/http2.ts does), PINGed while calls are in flight (`keepaliveMs`).
//!
//! Answers go back to JavaScript in batches: each finished call is pushed onto a list, and only the
//! push that finds the list empty wakes JavaScript (one threadsafe-function call), which then takes
//! every answer that arrived meanwhile in one `take()` — one Buffer holding their bytes, one
//! Uint32Array saying whose they are. Failures carry the gRPC status and the same details
//! src/remote/http2.ts words for the same failure, so a RemoteError is the same whichever carried it.
//!
//! Nothing here panics across the boundary: a call's future is run under `catch_unwind`, and a
//! panic in it answers that call INTERNAL.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use futures_util::FutureExt;
use h2::Reason;
use h2::client::SendRequest;
use http::{HeaderMap, HeaderValue, Method, Request, Uri};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::runtime::Handle;
use tokio::sync::{Notify, OnceCell, mpsc, oneshot};

/// gRPC status codes used here.
const CANCELLED: u32 = 1;
const UNKNOWN: u32 = 2;
const DEADLINE_EXCEEDED: u32 = 4;
const PERMISSION_DENIED: u32 = 7;
const RESOURCE_EXHAUSTED: u32 = 8;
const UNIMPLEMENTED: u32 = 12;
const INTERNAL: u32 = 13;
const UNAVAILABLE: u32 = 14;
const UNAUTHENTICATED: u32 = 16;

/// Flow-control windows, as src/remote/http2.ts sets them: a stream's and the connection's.
const STREAM_WINDOW_BYTES: u32 = 4 << 20;
const CONNECTION_WINDOW_BYTES: u32 = 16 << 20;
/// A deadline further than this is sent as grpc-timeout but kept by no local timer.
const TIMER_MAX: Duration = Duration::from_secs(365 * 24 * 3600);

/// What the text of a failure to connect gets when the server closed before speaking HTTP/2.
const CLOSED_BEFORE_HTTP2: &str = " — the server closed the connection before speaking HTTP/2: if it serves TLS (nanocalc serve --tls-cert), pass tls: true or { ca } to RemoteCalculator";
const NOT_TLS: &str = " — the server does not speak TLS: omit the tls option to call it in plaintext";

/// The addon's runtime: tokio's current-thread scheduler, driven by a thread of its own (the
/// machine's other cores are JavaScript's and the server's), started on first use and never stopped
/// (the thread ends with the process). Measured against a multi-thread runtime with one worker: less
/// CPU per call in each of six alternating pairs (docs/PERFORMANCE.md's ledger).
fn runtime() -> &'static Handle {
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

/// A call's failure: its gRPC status code and details.
type Failure = (u32, String);

fn failure(code: u32, details: impl Into<String>) -> Failure {
    (code, details.into())
}

/// `grpc-timeout` for `ms`: at most 8 digits and a unit (the twin of `grpcTimeout` in endpoints.ts).
fn grpc_timeout(ms: f64) -> String {
    let m = ms.ceil().max(1.0);
    if m < 100_000_000.0 {
        return format!("{m}m");
    }
    let s = (m / 1000.0).ceil();
    if s < 100_000_000.0 {
        return format!("{s}S");
    }
    format!("{}H", (s / 3600.0).ceil().min(99_999_999.0))
}

/// gRPC's status for an HTTP status that is not 200 (`statusOfHttp` in endpoints.ts).
fn status_of_http(status: u16) -> u32 {
    match status {
        400 => INTERNAL,
        401 => UNAUTHENTICATED,
        403 => PERMISSION_DENIED,
        404 => UNIMPLEMENTED,
        429 | 502 | 503 | 504 => UNAVAILABLE,
        _ => UNKNOWN,
    }
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
struct Config {
    host: String,
    port: u16,
    /// `http` or `https`, and `:authority` (the TLS server name, else the address).
    scheme: http::uri::Scheme,
    authority: http::uri::Authority,
    authorization: Option<HeaderValue>,
    tls: Option<(Arc<rustls::ClientConfig>, ServerName<'static>)>,
    keepalive: Option<Duration>,
}

/// What a connection's tasks and its calls share.
#[derive(Default)]
struct ConnState {
    /// The server sent bytes: it speaks HTTP/2 (its SETTINGS come first).
    connected: AtomicBool,
    /// Closed or failed: calls still on it that have no status end UNAVAILABLE.
    dropped: AtomicBool,
    /// GOAWAY received (a new stream was refused): new calls go to a new connection.
    draining: AtomicBool,
    error: Mutex<Option<String>>,
    /// Calls on it not yet ended: PINGs are sent only then.
    active: AtomicUsize,
    /// Tells the connection's task to drop it (keepalive).
    kill: Notify,
    plaintext: bool,
}

impl ConnState {
    fn set_error(&self, message: String) {
        let mut error = self.error.lock().unwrap_or_else(|e| e.into_inner());
        if error.is_none() {
            *error = Some(message);
        }
    }

    /// The details of UNAVAILABLE for a call this connection's failure ended (http2.ts's `failure()`).
    fn failure(&self) -> String {
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

struct Conn {
    send: SendRequest<Bytes>,
    state: Arc<ConnState>,
}

enum Slot {
    Empty,
    Connecting(Arc<OnceCell<std::result::Result<Arc<Conn>, String>>>),
    Ready(Arc<Conn>),
    Closed,
}

/// An answer waiting for JavaScript's `take()`: a unary call's end (its message, or a failure), a
/// stream's message (`code` MESSAGE) or a stream's end (OK, or a failure). A failure's status is its own.
struct Done {
    id: u32,
    code: u32,
    result: std::result::Result<Bytes, Failure>,
}

/// The status field of an answer that is one message of a stream (not its end).
const MESSAGE: u32 = u32::MAX;

type Wake = ThreadsafeFunction<(), (), (), Status, false, true>;

struct Shared {
    config: Config,
    slot: Mutex<Slot>,
    done: Mutex<Vec<Done>>,
    wake: Wake,
    /// The cancellable calls in flight: dropping the sender cancels the call.
    cancels: Mutex<HashMap<u32, oneshot::Sender<()>>>,
    /// The streams open: what JavaScript writes goes there; dropping the sender cancels the stream.
    streams: Mutex<HashMap<u32, mpsc::UnboundedSender<Input>>>,
}

impl Shared {
    /// Hands an answer to JavaScript: only the first of a batch wakes it.
    fn complete(&self, id: u32, code: u32, result: std::result::Result<Bytes, Failure>) {
        let first = {
            let mut done = self.done.lock().unwrap_or_else(|e| e.into_inner());
            done.push(Done { id, code, result });
            done.len() == 1
        };
        if first {
            self.wake.call((), ThreadsafeFunctionCallMode::NonBlocking);
        }
    }

    /// The connection for a new call: the current one, or a new one if it died or is draining.
    /// Calls that arrive while it connects wait for that one attempt and share its outcome.
    async fn connection(&self) -> std::result::Result<Arc<Conn>, Failure> {
        let cell = {
            let mut slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
            match &*slot {
                Slot::Closed => return Err(failure(UNAVAILABLE, "the RemoteCalculator was closed")),
                Slot::Ready(conn)
                    if !conn.state.dropped.load(Ordering::Acquire) && !conn.state.draining.load(Ordering::Acquire) =>
                {
                    return Ok(conn.clone());
                }
                Slot::Connecting(cell) => cell.clone(),
                _ => {
                    let cell = Arc::new(OnceCell::new());
                    *slot = Slot::Connecting(cell.clone());
                    cell
                }
            }
        };
        let result = cell.get_or_init(|| connect(&self.config)).await.clone();
        let mut slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        if let Slot::Connecting(current) = &*slot
            && Arc::ptr_eq(current, &cell)
        {
            *slot = match &result {
                Ok(conn) => Slot::Ready(conn.clone()),
                Err(_) => Slot::Empty,
            };
        }
        result.map_err(|details| failure(UNAVAILABLE, details))
    }
}

/// The server's first frame marks the connection as speaking HTTP/2 when it is SETTINGS (frame
/// type 4, the fourth byte): a TLS server answering a plaintext client sends an alert instead.
struct Watched<T> {
    io: T,
    state: Arc<ConnState>,
    /// Bytes read so far, up to the first frame's type.
    read: usize,
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
async fn connect(config: &Config) -> std::result::Result<Arc<Conn>, String> {
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

async fn handshake<T>(
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

/// Counts a call on its connection while it lasts (however it ends, cancelled included).
struct Active(Arc<ConnState>);

impl Drop for Active {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A call's stream, opened: the connection it is on, the response to come, the request's body.
struct Opened {
    conn: Arc<Conn>,
    response: h2::client::ResponseFuture,
    body: h2::SendStream<Bytes>,
    _active: Active,
}

/// Opens a call's stream (its headers sent), with `first` as its body if given (then half-closed).
/// A stream refused at once (the connection is going away) is tried once more on a new connection.
async fn open(
    shared: &Shared,
    uri: &Uri,
    timeout: Option<&str>,
    first: Option<Bytes>,
) -> std::result::Result<Opened, Failure> {
    let refused = |conn: &Conn, e: h2::Error| {
        conn.state.draining.store(true, Ordering::Release);
        if conn.state.dropped.load(Ordering::Acquire) || !e.is_go_away() {
            failure(UNAVAILABLE, conn.state.failure())
        } else {
            failure(UNAVAILABLE, "Stream refused by server")
        }
    };
    let mut attempt = 0;
    loop {
        attempt += 1;
        let conn = shared.connection().await?;
        let mut send = match conn.send.clone().ready().await {
            Ok(send) => send,
            Err(e) if attempt == 1 => {
                let _ = refused(&conn, e);
                continue;
            }
            Err(e) => return Err(refused(&conn, e)),
        };
        let mut request = Request::new(());
        *request.method_mut() = Method::POST;
        *request.uri_mut() = uri.clone();
        let headers = request.headers_mut();
        headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
        headers.insert(http::header::TE, HeaderValue::from_static("trailers"));
        headers.insert(http::header::USER_AGENT, HeaderValue::from_static("nanocalc-remote (native)"));
        if let Some(token) = &shared.config.authorization {
            headers.insert(http::header::AUTHORIZATION, token.clone());
        }
        if let Some(timeout) = timeout
            && let Ok(value) = HeaderValue::from_str(timeout)
        {
            headers.insert("grpc-timeout", value);
        }
        match send.send_request(request, false) {
            Ok((response, mut body)) => {
                conn.state.active.fetch_add(1, Ordering::AcqRel);
                let active = Active(conn.state.clone());
                if let Some(first) = &first
                    && let Err(e) = body.send_data(first.clone(), true)
                {
                    return Err(refused(&conn, e));
                }
                return Ok(Opened { conn, response, body, _active: active });
            }
            Err(e) if attempt == 1 => {
                let _ = refused(&conn, e);
            }
            Err(e) => return Err(refused(&conn, e)),
        }
    }
}

/// One unary call: the request (already framed) sent, the answer's single message read, its status.
async fn unary(
    shared: &Shared,
    uri: Uri,
    framed: Bytes,
    timeout: Option<String>,
) -> std::result::Result<Bytes, Failure> {
    let opened = open(shared, &uri, timeout.as_deref(), Some(framed)).await?;
    let http_status = AtomicU16::new(0);
    let mut message = None;
    let read = read_messages(opened.response, &http_status, |bytes| {
        if message.replace(bytes).is_some() {
            return Err(failure(UNIMPLEMENTED, "Too many responses received"));
        }
        Ok(())
    })
    .await;
    match read {
        Ok(Ok(())) => message.ok_or_else(|| failure(UNIMPLEMENTED, "No message received")),
        Ok(Err(failed)) => Err(failed),
        Err(e) => Err(stream_failure(&opened.conn.state, &e, http_status.load(Ordering::Relaxed)).await),
    }
}

/// What JavaScript sends on a stream.
enum Input {
    /// Framed messages.
    Data(Bytes),
    /// Half-close: no more messages.
    End,
}

/// One bidirectional call: `input` written as it comes, each answer handed to JavaScript as it is
/// read (`MESSAGE`), then its status. Ends without an answer when `input` is dropped (cancelled).
async fn stream(
    shared: &Shared,
    id: u32,
    uri: Uri,
    timeout: Option<String>,
    input: &mut mpsc::UnboundedReceiver<Input>,
) -> Option<std::result::Result<(), Failure>> {
    // What JavaScript writes while the stream opens is kept, and sent first.
    let mut early = Vec::new();
    let opening = open(shared, &uri, timeout.as_deref(), None);
    tokio::pin!(opening);
    let opened = loop {
        tokio::select! {
            opened = &mut opening => break opened,
            input = input.recv() => match input {
                Some(input) => early.push(input),
                None => return None, // cancelled while it opens
            },
        }
    };
    let Opened { conn, response, mut body, _active } = match opened {
        Ok(opened) => opened,
        Err(failed) => return Some(Err(failed)),
    };
    let http_status = AtomicU16::new(0);
    let read = read_messages(response, &http_status, |bytes| {
        shared.complete(id, MESSAGE, Ok(bytes));
        Ok(())
    });
    // Writes what comes until the stream is cancelled (its sender dropped, even after the
    // half-close: the stream is then reset); a closed stream takes no more (the reader says why).
    let write = async {
        let mut early = early.into_iter();
        let mut open = true;
        loop {
            let input = match early.next() {
                Some(input) => input,
                None => match input.recv().await {
                    Some(input) => input,
                    None => return, // cancelled
                },
            };
            let (data, end) = match input {
                Input::Data(data) => (data, false),
                Input::End => (Bytes::new(), true),
            };
            if open && (body.send_data(data, end).is_err() || end) {
                open = false;
            }
        }
    };
    tokio::select! {
        read = read => Some(match read {
            Ok(outcome) => outcome,
            Err(e) => Err(stream_failure(&conn.state, &e, http_status.load(Ordering::Relaxed)).await),
        }),
        () = write => None,
    }
}

/// The messages of a response as they arrive (each to `each`), then its status: Ok(Ok) for OK,
/// Ok(Err) for a gRPC failure, Err for an HTTP/2 error (mapped by `stream_failure`).
async fn read_messages(
    response: h2::client::ResponseFuture,
    http_status: &AtomicU16,
    mut each: impl FnMut(Bytes) -> std::result::Result<(), Failure>,
) -> std::result::Result<std::result::Result<(), Failure>, h2::Error> {
    let response = response.await?;
    http_status.store(response.status().as_u16(), Ordering::Relaxed);
    let status = http_status.load(Ordering::Relaxed);
    let (parts, mut body) = response.into_parts();
    if let Some((code, details)) = grpc_status(&parts.headers) {
        // A trailers-only response: no message.
        return Ok(if code == 0 { Ok(()) } else { Err((code, details)) });
    }
    if status == 200 {
        let content_type = parts.headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
        if !content_type.is_some_and(|t| t.starts_with("application/grpc")) {
            let shown = content_type.map_or_else(|| "undefined".to_string(), str::to_string);
            return Ok(Err(failure(UNKNOWN, format!("Received invalid content-type {shown}"))));
        }
    }
    let mut messages = Messages::default();
    while let Some(chunk) = body.data().await {
        let chunk = chunk?;
        let _ = body.flow_control().release_capacity(chunk.len());
        if status == 200
            && let Err(failed) = messages.feed(chunk, &mut each)
        {
            return Ok(Err(failed)); // dropping the stream resets it
        }
    }
    let trailers = body.trailers().await?;
    let Some((code, details)) = trailers.as_ref().and_then(grpc_status) else {
        if status != 200 {
            return Ok(Err(failure(status_of_http(status), format!("Received HTTP status code {status}"))));
        }
        return Ok(Err(failure(INTERNAL, "Received RST_STREAM with code 0 (Call ended without gRPC status)")));
    };
    if !messages.partial.is_empty() {
        return Ok(Err(failure(INTERNAL, "the response ended inside a gRPC message")));
    }
    Ok(if code == 0 { Ok(()) } else { Err((code, details)) })
}

/// gRPC messages read from DATA: whole ones as slices of their chunk, split ones put together once.
#[derive(Default)]
struct Messages {
    /// A message begun in an earlier chunk: its prefix, then as much of its body as came.
    partial: BytesMut,
}

impl Messages {
    fn feed(
        &mut self,
        mut chunk: Bytes,
        each: &mut impl FnMut(Bytes) -> std::result::Result<(), Failure>,
    ) -> std::result::Result<(), Failure> {
        let compressed = || failure(INTERNAL, "Received a compressed message, but no compression was asked for");
        let length = |prefix: &[u8]| u32::from_be_bytes([prefix[1], prefix[2], prefix[3], prefix[4]]) as usize;
        while !chunk.is_empty() {
            let partial = &mut self.partial;
            if partial.is_empty() {
                if chunk.len() >= 5 {
                    if chunk[0] != 0 {
                        return Err(compressed());
                    }
                    let n = length(&chunk);
                    if chunk.len() - 5 >= n {
                        chunk.advance(5);
                        each(chunk.split_to(n))?;
                        continue;
                    }
                    partial.reserve(5 + n);
                }
                partial.extend_from_slice(&chunk);
                return Ok(());
            }
            if partial.len() < 5 {
                let take = (5 - partial.len()).min(chunk.len());
                partial.extend_from_slice(&chunk.split_to(take));
                if partial.len() < 5 {
                    return Ok(());
                }
                if partial[0] != 0 {
                    return Err(compressed());
                }
                partial.reserve(length(partial));
            }
            let whole = 5 + length(partial);
            let take = (whole - partial.len()).min(chunk.len());
            partial.extend_from_slice(&chunk.split_to(take));
            if partial.len() == whole {
                let mut message = partial.split().freeze();
                message.advance(5);
                each(message)?;
            }
        }
        Ok(())
    }
}

/// `grpc-status` and `grpc-message` (percent-decoded) of headers or trailers, if there.
fn grpc_status(headers: &HeaderMap) -> Option<Failure> {
    let code = headers.get("grpc-status")?.to_str().ok()?.parse::<u32>().ok()?;
    let details = headers.get("grpc-message").map_or_else(String::new, |v| {
        let raw = String::from_utf8_lossy(v.as_bytes()).into_owned();
        percent_encoding::percent_decode_str(&raw).decode_utf8().map_or(raw.clone(), |s| s.into_owned())
    });
    Some((code, details))
}

/// A stream that ended in an HTTP/2 error, mapped as src/remote/http2.ts maps it.
async fn stream_failure(state: &ConnState, e: &h2::Error, http_status: u16) -> Failure {
    let reason = e.reason();
    if reason == Some(Reason::REFUSED_STREAM) {
        return failure(UNAVAILABLE, "Stream refused by server");
    }
    if http_status != 0 && http_status != 200 {
        return failure(status_of_http(http_status), format!("Received HTTP status code {http_status}"));
    }
    if !(e.is_reset() && e.is_remote()) {
        // The connection's: let its task record why it ended first.
        tokio::task::yield_now().await;
        if e.is_go_away() && !state.dropped.load(Ordering::Acquire) {
            // A stream the server's GOAWAY left unprocessed: safe to send again.
            return failure(UNAVAILABLE, "Stream refused by server");
        }
        if !state.dropped.load(Ordering::Acquire) {
            state.set_error(e.to_string());
        }
        return failure(UNAVAILABLE, state.failure());
    }
    let code = reason.map_or(0, u32::from);
    match reason.unwrap_or(Reason::NO_ERROR) {
        Reason::NO_ERROR => {
            failure(INTERNAL, format!("Received RST_STREAM with code {code} (Call ended without gRPC status)"))
        }
        Reason::CANCEL => failure(CANCELLED, "Call cancelled"),
        Reason::ENHANCE_YOUR_CALM => failure(RESOURCE_EXHAUSTED, "Bandwidth exhausted or memory limit exceeded"),
        Reason::INADEQUATE_SECURITY => failure(PERMISSION_DENIED, "Protocol not secure enough"),
        Reason::INTERNAL_ERROR => {
            failure(INTERNAL, format!("Received RST_STREAM with code {code} (Internal server error)"))
        }
        _ => failure(INTERNAL, format!("Received RST_STREAM with code {code}")),
    }
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(Status::InvalidArg, message.into())
}

fn tls_config(tls: &RemoteTls) -> Result<Arc<rustls::ClientConfig>> {
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

/// The answers `take()` hands JavaScript: for answer k, `meta[4k..4k+4]` is its call's id, its
/// gRPC status (0: OK), and where its bytes are in `data` (start, end); the failures' details are
/// in `details`, in order.
#[napi(object)]
pub struct RemoteAnswers {
    pub meta: Uint32Array,
    pub data: Buffer,
    pub details: Vec<String>,
}

/// A call's `grpc-timeout` and local timer for `timeout_ms` (< 0: no deadline, neither).
fn timeouts(timeout_ms: f64) -> (Option<String>, Option<Duration>) {
    if timeout_ms < 0.0 {
        return (None, None);
    }
    let local = Duration::try_from_secs_f64(timeout_ms / 1000.0).ok().filter(|d| *d < TIMER_MAX);
    (Some(grpc_timeout(timeout_ms)), local)
}

/// One endpoint's client (src/remote/native.ts's NativeChannel holds one).
#[napi]
pub struct RemoteChannel {
    shared: Arc<Shared>,
    /// The last path's URI, reused while the path is the same.
    uri: Option<(String, Uri)>,
}

#[napi]
impl RemoteChannel {
    /// `wake` is called (with no arguments) when answers are waiting for `take()`.
    #[napi(constructor)]
    pub fn new(
        host: String,
        port: u32,
        authority: String,
        token: Option<String>,
        keepalive_ms: u32,
        tls: Option<RemoteTls>,
        #[napi(ts_arg_type = "() => void")] wake: Wake,
    ) -> Result<Self> {
        let port = u16::try_from(port).map_err(|_| invalid("nanocalc: port out of range"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
        let authority_text = tls.as_ref().and_then(|t| t.server_name.clone()).unwrap_or(authority);
        let authority = http::uri::Authority::try_from(authority_text.as_str())
            .map_err(|e| invalid(format!("nanocalc: {authority_text}: {e}")))?;
        let authorization = match token {
            None => None,
            Some(token) => Some(
                HeaderValue::try_from(format!("Bearer {token}"))
                    .map_err(|_| invalid("nanocalc: the token cannot be sent in a header"))?,
            ),
        };
        let tls = match tls {
            None => None,
            Some(tls) => {
                let name = tls.server_name.clone().unwrap_or_else(|| host.clone());
                let name =
                    ServerName::try_from(name).map_err(|e| invalid(format!("nanocalc: tls server name: {e}")))?;
                Some((tls_config(&tls)?, name))
            }
        };
        let scheme = if tls.is_some() { http::uri::Scheme::HTTPS } else { http::uri::Scheme::HTTP };
        let keepalive = (keepalive_ms > 0).then(|| Duration::from_millis(u64::from(keepalive_ms)));
        let config = Config { host, port, scheme, authority, authorization, tls, keepalive };
        Ok(Self {
            shared: Arc::new(Shared {
                config,
                slot: Mutex::new(Slot::Empty),
                done: Mutex::new(Vec::new()),
                wake,
                cancels: Mutex::new(HashMap::new()),
                streams: Mutex::new(HashMap::new()),
            }),
            uri: None,
        })
    }

    /// Starts a unary call; its answer comes through `take()` under `id`. `timeout_ms` < 0: no
    /// deadline. A `cancellable` call can be ended by `cancel(id)` (its stream reset, no answer).
    #[napi]
    pub fn unary(&mut self, id: u32, path: String, request: &[u8], timeout_ms: f64, cancellable: bool) -> Result<()> {
        let uri = self.uri_of(path)?;
        let length = u32::try_from(request.len()).map_err(|_| invalid("nanocalc: request over 4 GiB"))?;
        let mut framed = BytesMut::with_capacity(5 + request.len());
        framed.put_u8(0);
        framed.put_u32(length);
        framed.put_slice(request);
        let framed = framed.freeze();
        let (timeout, limit) = timeouts(timeout_ms);
        let cancel = if cancellable {
            let (sender, receiver) = oneshot::channel();
            self.shared.cancels.lock().unwrap_or_else(|e| e.into_inner()).insert(id, sender);
            Some(receiver)
        } else {
            None
        };
        let shared = self.shared.clone();
        runtime().spawn(async move {
            let call = AssertUnwindSafe(async {
                let call = unary(&shared, uri, framed, timeout);
                match limit {
                    Some(limit) => match tokio::time::timeout(limit, call).await {
                        Ok(result) => result,
                        Err(_) => Err(failure(DEADLINE_EXCEEDED, "Deadline exceeded")),
                    },
                    None => call.await,
                }
            })
            .catch_unwind();
            let result = match cancel {
                None => call.await,
                Some(cancelled) => {
                    tokio::select! {
                        result = call => {
                            shared.cancels.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
                            result
                        }
                        // Cancelled: the call's future is dropped (its stream reset); JavaScript
                        // already answered it.
                        _ = cancelled => return,
                    }
                }
            };
            let result = result.unwrap_or_else(|_| Err(failure(INTERNAL, "the native client panicked")));
            shared.complete(id, 0, result);
        });
        Ok(())
    }

    /// Opens a bidirectional call: `stream_write` sends on it, `stream_end` half-closes it,
    /// `stream_cancel` resets it; its messages and then its end come through `take()` under `id`.
    #[napi]
    pub fn stream(&mut self, id: u32, path: String, timeout_ms: f64) -> Result<()> {
        let uri = self.uri_of(path)?;
        let (timeout, limit) = timeouts(timeout_ms);
        let (sender, mut input) = mpsc::unbounded_channel();
        self.shared.streams.lock().unwrap_or_else(|e| e.into_inner()).insert(id, sender);
        let shared = self.shared.clone();
        runtime().spawn(async move {
            let call = AssertUnwindSafe(async {
                let call = stream(&shared, id, uri, timeout, &mut input);
                match limit {
                    Some(limit) => match tokio::time::timeout(limit, call).await {
                        Ok(result) => result,
                        Err(_) => Some(Err(failure(DEADLINE_EXCEEDED, "Deadline exceeded"))),
                    },
                    None => call.await,
                }
            })
            .catch_unwind()
            .await
            .unwrap_or_else(|_| Some(Err(failure(INTERNAL, "the native client panicked"))));
            shared.streams.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
            // None: cancelled, and JavaScript already ended it.
            if let Some(result) = call {
                shared.complete(id, 0, result.map(|()| Bytes::new()));
            }
        });
        Ok(())
    }

    /// Sends framed messages on a stream.
    #[napi]
    pub fn stream_write(&self, id: u32, framed: &[u8]) {
        if let Some(sender) = self.shared.streams.lock().unwrap_or_else(|e| e.into_inner()).get(&id) {
            let _ = sender.send(Input::Data(Bytes::copy_from_slice(framed)));
        }
    }

    /// Half-closes a stream: no more messages.
    #[napi]
    pub fn stream_end(&self, id: u32) {
        if let Some(sender) = self.shared.streams.lock().unwrap_or_else(|e| e.into_inner()).get(&id) {
            let _ = sender.send(Input::End);
        }
    }

    /// Cancels a stream: its future is dropped, its HTTP/2 stream reset with CANCEL; no end follows.
    #[napi]
    pub fn stream_cancel(&self, id: u32) {
        self.shared.streams.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
    }

    /// The URI of `path` on this endpoint (the last one kept: calls use one or two paths).
    fn uri_of(&mut self, path: String) -> Result<Uri> {
        if let Some((cached, uri)) = &self.uri
            && *cached == path
        {
            return Ok(uri.clone());
        }
        let config = &self.shared.config;
        let uri = Uri::builder()
            .scheme(config.scheme.clone())
            .authority(config.authority.clone())
            .path_and_query(path.as_str())
            .build()
            .map_err(|e| invalid(format!("nanocalc: path {path}: {e}")))?;
        self.uri = Some((path, uri.clone()));
        Ok(uri)
    }

    /// Cancels a call started `cancellable`: its future is dropped, its stream reset with CANCEL.
    #[napi]
    pub fn cancel(&self, id: u32) {
        self.shared.cancels.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
    }

    /// The answers that arrived since the last `take()`.
    #[napi]
    pub fn take(&self) -> RemoteAnswers {
        let done = std::mem::take(&mut *self.shared.done.lock().unwrap_or_else(|e| e.into_inner()));
        let size = done.iter().map(|d| d.result.as_ref().map_or(0, Bytes::len)).sum();
        let mut data = Vec::with_capacity(size);
        let mut meta = Vec::with_capacity(done.len() * 4);
        let mut details = Vec::new();
        for Done { id, code, result } in done {
            let start = data.len() as u32;
            let code = match result {
                Ok(bytes) => {
                    data.extend_from_slice(&bytes);
                    code
                }
                Err((code, text)) => {
                    details.push(text);
                    code
                }
            };
            meta.extend_from_slice(&[id, code, start, data.len() as u32]);
        }
        RemoteAnswers { meta: Uint32Array::new(meta), data: data.into(), details }
    }

    /// Keeps the process alive (calls are in flight) or not (idle).
    #[napi]
    pub fn hold(&self, env: Env, busy: bool) -> Result<()> {
        let raw = self.shared.wake.raw();
        // SAFETY: called on the JavaScript thread with its env, on this addon's live threadsafe
        // function (it lives as long as `shared`, which `self` holds).
        let status = unsafe {
            if busy {
                napi::sys::napi_ref_threadsafe_function(env.raw(), raw)
            } else {
                napi::sys::napi_unref_threadsafe_function(env.raw(), raw)
            }
        };
        if status == napi::sys::Status::napi_ok { Ok(()) } else { Err(Error::new(Status::GenericFailure, "hold")) }
    }

    /// Closes the connection once the calls on it are done; later calls fail UNAVAILABLE.
    #[napi]
    pub fn close(&self) {
        let slot = std::mem::replace(&mut *self.shared.slot.lock().unwrap_or_else(|e| e.into_inner()), Slot::Closed);
        drop(slot);
    }
}
