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
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use futures_util::FutureExt;
use http::{HeaderValue, Uri};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use rustls::pki_types::ServerName;
use tokio::sync::{OnceCell, mpsc, oneshot};

mod call;
mod connection;
mod status;

use call::*;
use connection::*;
use status::*;

/// An answer waiting for JavaScript's `take()`: a unary call's end (its message, or a failure), a
/// stream's message (`code` MESSAGE) or a stream's end (OK, or a failure). A failure's status is its own.
pub(crate) struct Done {
    id: u32,
    code: u32,
    result: std::result::Result<Bytes, Failure>,
}

/// The status field of an answer that is one message of a stream (not its end).
pub(crate) const MESSAGE: u32 = u32::MAX;

pub(crate) type Wake = ThreadsafeFunction<(), (), (), Status, false, true>;

pub(crate) struct Shared {
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

/// The answers `take()` hands JavaScript: for answer k, `meta[4k..4k+4]` is its call's id, its
/// gRPC status (0: OK), and where its bytes are in `data` (start, end); the failures' details are
/// in `details`, in order.
#[napi(object)]
pub struct RemoteAnswers {
    pub meta: Uint32Array,
    pub data: Buffer,
    pub details: Vec<String>,
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
