//! A tower layer in front of every service (calculator, health, reflection):
//!
//! - a request whose `content-type` is not gRPC's is answered HTTP 415 (gRPC over HTTP/2 spec), so
//!   that no other HTTP client reads a gRPC answer (HTTP 200) as a success;
//! - request bodies are checked against gRPC's framing: a body that ends inside a message (a
//!   length prefix claiming bytes that never came) ends the call with INTERNAL, so the request is
//!   not silently dropped (tonic's decoder drops a bare 5-byte prefix at the end of a stream);
//! - bytes of request messages received but not yet handed over whole are charged to a budget
//!   shared by all calls (`--max-pending-request-bytes`); a call that would go above it ends with
//!   RESOURCE_EXHAUSTED instead of the server growing without bound;
//! - calls in flight are counted (from the request's headers to the end of the response body), so
//!   that a graceful shutdown knows when nothing is left to answer, and at most `--max-open-calls`
//!   are open at once over all connections: one more ends at once with RESOURCE_EXHAUSTED, so that
//!   streams opened and left waiting (headers and no body) cannot pile up memory.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body::{Body as HttpBody, Frame, SizeHint};
use tokio::sync::Notify;
use tonic::Status;
use tonic::body::Body;

use crate::layer::{Around, BoxFuture, Watch, Watched};

/// Bytes of a gRPC message's prefix: a compression flag and a big-endian u32 length.
const PREFIX: usize = 5;

/// Calls in flight over all connections.
#[derive(Debug, Default)]
pub struct InFlight {
    count: AtomicUsize,
    idle: Notify,
}

impl InFlight {
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    pub fn get(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    /// Counts one call more; `None` (and nothing counted) if `max` are in flight already.
    fn enter(self: &Arc<Self>, max: usize) -> Option<CallGuard> {
        let before = self.count.fetch_add(1, Ordering::SeqCst);
        let call = CallGuard(self.clone()); // counted back down when dropped, refused or not
        (before < max).then_some(call)
    }

    /// Resolves once no call is in flight.
    pub async fn idle(&self) {
        loop {
            let notified = self.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.get() == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// One call in flight; dropped when its response body ends (or the call is abandoned).
#[derive(Debug)]
struct CallGuard(Arc<InFlight>);

impl Drop for CallGuard {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// Bytes of request messages received and not yet handed over whole, over all calls.
#[derive(Debug)]
pub struct PendingBytes {
    used: AtomicUsize,
    limit: usize,
}

impl PendingBytes {
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(PendingBytes { used: AtomicUsize::new(0), limit })
    }

    pub fn used(&self) -> usize {
        self.used.load(Ordering::SeqCst)
    }

    fn try_charge(&self, n: usize) -> bool {
        self.used
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |used| {
                used.checked_add(n).filter(|&total| total <= self.limit)
            })
            .is_ok()
    }

    fn release(&self, n: usize) {
        self.used.fetch_sub(n, Ordering::SeqCst);
    }
}

/// Whether a `content-type` is gRPC's: `application/grpc`, or followed by `+codec` or `;params`.
pub fn is_grpc_content_type(value: Option<&HeaderValue>) -> bool {
    const GRPC: &[u8] = b"application/grpc";
    let Some(value) = value else { return false };
    let value = value.as_bytes();
    value.len() >= GRPC.len()
        && value[..GRPC.len()].eq_ignore_ascii_case(GRPC)
        && matches!(value.get(GRPC.len()), None | Some(b'+') | Some(b';'))
}

#[derive(Clone, Debug)]
pub struct GuardLayer {
    in_flight: Arc<InFlight>,
    max_open_calls: usize,
    pending: Arc<PendingBytes>,
}

impl GuardLayer {
    pub fn new(in_flight: Arc<InFlight>, max_open_calls: usize, pending: Arc<PendingBytes>) -> Self {
        GuardLayer { in_flight, max_open_calls, pending }
    }
}

impl Around for GuardLayer {
    fn around<S>(&self, request: Request<Body>, mut inner: S) -> BoxFuture<Response<Body>, S::Error>
    where
        S: tower::Service<Request<Body>, Response = Response<Body>> + Send + 'static,
        S::Future: Send + 'static,
    {
        if !is_grpc_content_type(request.headers().get(header::CONTENT_TYPE)) {
            return Box::pin(async { Ok(unsupported_media_type()) });
        }
        let Some(call) = self.in_flight.enter(self.max_open_calls) else {
            let status = Status::resource_exhausted(format!(
                "the server has its limit of open calls ({}, --max-open-calls); try again",
                self.max_open_calls
            ));
            return Box::pin(async { Ok(status.into_http()) });
        };
        let request = request.map(|body| Body::new(CheckedBody::new(body, self.pending.clone())));
        Box::pin(async move {
            let response = inner.call(request).await?;
            Ok(response.map(|body| Body::new(Watched { inner: body, watch: call })))
        })
    }
}

fn unsupported_media_type() -> Response<Body> {
    let text = "nanocalc-server speaks gRPC only: content-type must be application/grpc\n";
    let mut response = Response::new(Body::new(OneFrame(Some(Bytes::from_static(text.as_bytes())))));
    *response.status_mut() = StatusCode::UNSUPPORTED_MEDIA_TYPE;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}

/// A body of one data frame (http-body-util's `Full`, without the dependency).
struct OneFrame(Option<Bytes>);

impl HttpBody for OneFrame {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        Poll::Ready(self.0.take().map(|data| Ok(Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_none()
    }
}

/// A response body watched by its call keeps it counted in flight until it is dropped.
impl Watch for CallGuard {
    fn frame(&mut self, _: &Option<Result<Frame<Bytes>, Status>>) {}
}

/// Where a request body is in gRPC's framing.
#[derive(Debug, Default)]
struct Framing {
    /// Bytes of the current message's prefix seen (0..PREFIX).
    prefix: [u8; PREFIX],
    prefix_seen: usize,
    /// Bytes of the current message's payload still to come, once its prefix is whole.
    payload_left: usize,
    /// The current message's bytes seen so far (prefix included).
    message_bytes: usize,
}

impl Framing {
    /// Walks `data`; returns the bytes of the messages it completed.
    fn advance(&mut self, mut data: &[u8]) -> usize {
        let mut completed = 0;
        while !data.is_empty() {
            if self.prefix_seen < PREFIX {
                let take = (PREFIX - self.prefix_seen).min(data.len());
                self.prefix[self.prefix_seen..self.prefix_seen + take].copy_from_slice(&data[..take]);
                self.prefix_seen += take;
                self.message_bytes += take;
                data = &data[take..];
                if self.prefix_seen == PREFIX {
                    let len = [self.prefix[1], self.prefix[2], self.prefix[3], self.prefix[4]];
                    self.payload_left = u32::from_be_bytes(len) as usize;
                }
            } else {
                let take = self.payload_left.min(data.len());
                self.payload_left -= take;
                self.message_bytes += take;
                data = &data[take..];
            }
            if self.prefix_seen == PREFIX && self.payload_left == 0 {
                completed += self.message_bytes;
                *self = Framing::default();
            }
        }
        completed
    }

    fn inside_a_message(&self) -> bool {
        self.message_bytes > 0
    }
}

/// A request body checked against gRPC's framing, its pending bytes charged to the budget.
struct CheckedBody {
    inner: Body,
    framing: Framing,
    pending: Arc<PendingBytes>,
    /// Bytes charged and not yet released.
    charged: usize,
    /// Bytes of messages completed in frames already handed over, released at the next poll.
    to_release: usize,
    ended: bool,
}

impl CheckedBody {
    fn new(inner: Body, pending: Arc<PendingBytes>) -> Self {
        CheckedBody { inner, framing: Framing::default(), pending, charged: 0, to_release: 0, ended: false }
    }

    fn release(&mut self, n: usize) {
        self.pending.release(n);
        self.charged -= n;
    }
}

impl Drop for CheckedBody {
    fn drop(&mut self) {
        let charged = self.charged;
        self.release(charged);
    }
}

impl HttpBody for CheckedBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = &mut *self;
        if this.ended {
            return Poll::Ready(None);
        }
        // The messages completed by the frames handed over so far have been taken by now.
        let done = std::mem::take(&mut this.to_release);
        this.release(done);
        match std::task::ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    let len = data.remaining();
                    if !this.pending.try_charge(len) {
                        this.ended = true;
                        return Poll::Ready(Some(Err(Status::resource_exhausted(format!(
                            "the server is holding its limit of pending request bytes ({} bytes, \
                             --max-pending-request-bytes); try again",
                            this.pending.limit
                        )))));
                    }
                    this.charged += len;
                    this.to_release = this.framing.advance(data.chunk());
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Some(Err(status)) => Poll::Ready(Some(Err(status))),
            None => {
                this.ended = true;
                if this.framing.inside_a_message() {
                    let f = &this.framing;
                    let message = if f.prefix_seen < PREFIX {
                        format!("the request ended inside a message's 5-byte prefix ({} bytes of it)", f.prefix_seen)
                    } else {
                        format!(
                            "the request ended inside a message: {} more bytes were announced and never sent",
                            f.payload_left
                        )
                    };
                    return Poll::Ready(Some(Err(Status::internal(message))));
                }
                Poll::Ready(None)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        // Not before the end has been seen and checked: the check may still add an error.
        self.ended
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_content_types_are_recognised_and_others_are_not() {
        let ok = ["application/grpc", "application/grpc+proto", "Application/GRPC", "application/grpc;charset=x"];
        for value in ok {
            assert!(is_grpc_content_type(Some(&HeaderValue::from_static(value))), "{value}");
        }
        let refused = ["text/plain", "application/json", "application/grpc-web", "application/grpcx", ""];
        for value in refused {
            assert!(!is_grpc_content_type(Some(&HeaderValue::from_static(value))), "{value}");
        }
        assert!(!is_grpc_content_type(None));
    }

    #[test]
    fn framing_finds_message_ends_across_any_split() {
        let mut stream = Vec::new();
        for payload in [&b"abc"[..], b"", b"0123456789"] {
            stream.push(0);
            stream.extend_from_slice(&(payload.len() as u32).to_be_bytes());
            stream.extend_from_slice(payload);
        }
        for split in 0..=stream.len() {
            let mut framing = Framing::default();
            let completed = framing.advance(&stream[..split]) + framing.advance(&stream[split..]);
            assert_eq!(completed, stream.len(), "split at {split}");
            assert!(!framing.inside_a_message());
        }
        let mut framing = Framing::default();
        assert_eq!(framing.advance(&[0, 0, 0, 0, 7]), 0);
        assert!(framing.inside_a_message(), "a bare prefix announcing 7 bytes");
        assert_eq!(framing.payload_left, 7);
    }

    #[test]
    fn the_budget_refuses_what_goes_above_it_and_takes_back_what_is_released() {
        let pending = PendingBytes::new(10);
        assert!(pending.try_charge(6));
        assert!(!pending.try_charge(5));
        assert!(pending.try_charge(4));
        pending.release(10);
        assert_eq!(pending.used(), 0);
    }

    /// A request body of the given DATA frames.
    struct Frames(std::collections::VecDeque<Bytes>);

    impl HttpBody for Frames {
        type Data = Bytes;
        type Error = Status;

        fn poll_frame(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
            Poll::Ready(self.0.pop_front().map(|data| Ok(Frame::data(data))))
        }
    }

    fn checked(frames: &[&[u8]], pending: &Arc<PendingBytes>) -> CheckedBody {
        let frames = Frames(frames.iter().map(|f| Bytes::copy_from_slice(f)).collect());
        CheckedBody::new(Body::new(frames), pending.clone())
    }

    async fn next(body: &mut CheckedBody) -> Option<Result<Frame<Bytes>, Status>> {
        std::future::poll_fn(|cx| Pin::new(&mut *body).poll_frame(cx)).await
    }

    #[tokio::test]
    async fn checked_bodies_charge_what_they_hold_and_give_it_all_back() {
        let pending = PendingBytes::new(100);
        // Message 1 (5 + 3 bytes) and the start of message 2 (5 + 5 of 10), then its rest.
        let mut body = checked(&[b"\0\0\0\0\x03abc\0\0\0\0\x0a01234", b"56789"], &pending);
        assert!(next(&mut body).await.unwrap().is_ok());
        assert_eq!(pending.used(), 18, "every byte handed over is charged");
        assert!(next(&mut body).await.unwrap().is_ok());
        assert_eq!(pending.used(), 15, "message 1 was released once taken; message 2 is whole");
        assert!(next(&mut body).await.is_none(), "ends cleanly on a message boundary");
        assert_eq!(pending.used(), 0);

        // Ends inside message 2: INTERNAL; dropped: everything released.
        let mut body = checked(&[b"\0\0\0\0\x03abc\0\0\0\0\x0a012"], &pending);
        assert!(next(&mut body).await.unwrap().is_ok());
        let status = next(&mut body).await.unwrap().unwrap_err();
        assert_eq!(status.code(), tonic::Code::Internal);
        assert!(status.message().contains("7 more bytes"), "{}", status.message());
        assert!(next(&mut body).await.is_none(), "the error is said once");
        drop(body);
        assert_eq!(pending.used(), 0);

        // Above the budget: RESOURCE_EXHAUSTED, nothing charged.
        let small = PendingBytes::new(10);
        let mut body = checked(&[b"\0\0\0\0\x0a0123456789"], &small);
        assert_eq!(next(&mut body).await.unwrap().unwrap_err().code(), tonic::Code::ResourceExhausted);
        assert_eq!(small.used(), 0);
    }

    #[tokio::test]
    async fn in_flight_is_idle_when_every_call_has_ended() {
        let in_flight = InFlight::new();
        in_flight.idle().await;
        let call = in_flight.enter(1).unwrap();
        assert_eq!(in_flight.get(), 1);
        assert!(in_flight.enter(1).is_none(), "one above the limit");
        assert_eq!(in_flight.get(), 1, "is not counted");
        let waiting = tokio::spawn({
            let in_flight = in_flight.clone();
            async move { in_flight.idle().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        drop(call);
        waiting.await.unwrap();
    }
}
