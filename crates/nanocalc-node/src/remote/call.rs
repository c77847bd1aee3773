//! A call on a connection: its stream opened, a unary call's answer, a stream's messages as they come.

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use http::{HeaderValue, Method, Request, Uri};
use tokio::sync::mpsc;

use super::*;

/// Counts a call on its connection while it lasts (however it ends, cancelled included).
pub(crate) struct Active(Arc<ConnState>);

impl Drop for Active {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A call's stream, opened: the connection it is on, the response to come, the request's body.
pub(crate) struct Opened {
    conn: Arc<Conn>,
    response: h2::client::ResponseFuture,
    body: h2::SendStream<Bytes>,
    _active: Active,
}

/// Opens a call's stream (its headers sent), with `first` as its body if given (then half-closed).
/// A stream refused at once (the connection is going away) is tried once more on a new connection.
pub(crate) async fn open(
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
pub(crate) async fn unary(
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
pub(crate) enum Input {
    /// Framed messages.
    Data(Bytes),
    /// Half-close: no more messages.
    End,
}

/// One bidirectional call: `input` written as it comes, each answer handed to JavaScript as it is
/// read (`MESSAGE`), then its status. Ends without an answer when `input` is dropped (cancelled).
pub(crate) async fn stream(
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
pub(crate) async fn read_messages(
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
pub(crate) struct Messages {
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

/// A call's `grpc-timeout` and local timer for `timeout_ms` (< 0: no deadline, neither).
pub(crate) fn timeouts(timeout_ms: f64) -> (Option<String>, Option<Duration>) {
    if timeout_ms < 0.0 {
        return (None, None);
    }
    let local = Duration::try_from_secs_f64(timeout_ms / 1000.0).ok().filter(|d| *d < TIMER_MAX);
    (Some(grpc_timeout(timeout_ms)), local)
}
