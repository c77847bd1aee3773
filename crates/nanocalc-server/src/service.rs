//! `nanocalc.v1.CalculatorService` over `nanocalc_core::process`: the thin adapter.

use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use nanocalc_core::Limits;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Code, Request, Response, Status, Streaming};

use crate::metrics::EngineMetrics;

/// The generated service (tonic-build's manual builder, raw-bytes codec; see build.rs).
#[allow(clippy::all)]
pub mod pb {
    include!(concat!(env!("OUT_DIR"), "/nanocalc.v1.CalculatorService.rs"));
}

pub use pb::calculator_service_server::{CalculatorService, CalculatorServiceServer};

/// Requests at least this large are computed on the blocking pool, so a large batch does not hold
/// up the small calls sharing its runtime thread.
const BLOCKING_THRESHOLD: usize = 256 * 1024;

/// Responses a stream may have computed ahead of the client reading them.
const STREAM_BUFFER: usize = 64;

/// What a stream says when the server stops reading it to shut down.
pub const SHUTTING_DOWN: &str =
    "the server is shutting down: requests sent on this stream and not yet answered were not computed; send them again";

/// The calculator service: limits for the engine and a bound on requests computed at once.
#[derive(Clone, Debug)]
pub struct Calculator {
    limits: Limits,
    permits: Arc<Semaphore>,
    stopping: watch::Receiver<bool>,
    engine: EngineMetrics,
}

impl Calculator {
    /// `concurrency` requests are computed at once at most; others wait for a turn.
    pub fn new(limits: Limits, concurrency: usize) -> Self {
        let (_, stopping) = watch::channel(false);
        let engine = EngineMetrics::detached();
        Calculator { limits, permits: Arc::new(Semaphore::new(concurrency.max(1))), stopping, engine }
    }

    /// Counts what the engine answers in `engine` (the served metrics' counters).
    pub fn counting_in(mut self, engine: EngineMetrics) -> Self {
        self.engine = engine;
        self
    }

    /// Streams stop reading requests once `stopping` turns true: each answers what it has read
    /// and ends with UNAVAILABLE ([`SHUTTING_DOWN`]), so a long-lived stream does not hold up a
    /// graceful shutdown, and the client sends the unanswered requests to another replica.
    pub fn stopping_on(mut self, stopping: watch::Receiver<bool>) -> Self {
        self.stopping = stopping;
        self
    }

    /// Answers one encoded `CalculatorRequest` with an encoded `CalculatorResponse`. Domain errors
    /// are inside the response; a `Status` only if the server is shutting down its permits.
    pub async fn answer(&self, request: Bytes) -> Result<Bytes, Status> {
        let _permit = self.permits.acquire().await.map_err(|_| Status::unavailable("the server is shutting down"))?;
        let limits = self.limits;
        let answer = if request.len() < BLOCKING_THRESHOLD {
            Bytes::from(nanocalc_core::process(&request, &limits))
        } else {
            tokio::task::spawn_blocking(move || Bytes::from(nanocalc_core::process(&request, &limits)))
                .await
                .map_err(|e| Status::internal(format!("internal error: the calculation task failed: {e}")))?
        };
        self.engine.count(&answer);
        Ok(answer)
    }
}

#[tonic::async_trait]
impl CalculatorService for Calculator {
    async fn calculate(&self, request: Request<Bytes>) -> Result<Response<Bytes>, Status> {
        let request = request.into_inner();
        tracing::debug!(bytes = request.len(), "Calculate");
        Ok(Response::new(self.answer(request).await?))
    }

    type CalculateStreamStream = Pin<Box<dyn Stream<Item = Result<Bytes, Status>> + Send + 'static>>;

    async fn calculate_stream(
        &self,
        request: Request<Streaming<Bytes>>,
    ) -> Result<Response<Self::CalculateStreamStream>, Status> {
        let mut input = request.into_inner();
        let (tx, rx) = mpsc::channel(STREAM_BUFFER);
        let calculator = self.clone();
        let mut stopping = calculator.stopping.clone();
        tokio::spawn(async move {
            let mut count = 0u64;
            loop {
                let message = tokio::select! {
                    biased;
                    _ = stopping.wait_for(|stopping| *stopping) => Err(Status::unavailable(SHUTTING_DOWN)),
                    message = input.message() => message.map_err(status_for_client),
                };
                let answer = match message {
                    Ok(Some(request)) => calculator.answer(request).await,
                    Ok(None) => break,
                    Err(status) => Err(status),
                };
                let failed = answer.is_err();
                if tx.send(answer).await.is_err() || failed {
                    break; // the client went away, or the stream ends with that status
                }
                count += 1;
            }
            tracing::debug!(responses = count, "CalculateStream ended");
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

/// tonic answers a message above the size limit with OUT_OF_RANGE; gRPC's convention (and
/// nanocalc's contract) is RESOURCE_EXHAUSTED. Other statuses pass unchanged.
pub fn status_for_client(status: Status) -> Status {
    if status.code() == Code::OutOfRange && is_too_large(status.message().as_bytes()) {
        return Status::resource_exhausted(status.message().to_owned());
    }
    status
}

/// Whether a status message (plain or percent-encoded, as in `grpc-message`) is tonic's "message
/// length too large".
pub fn is_too_large(message: &[u8]) -> bool {
    let needle = b"message length too large";
    let encoded = b"message%20length%20too%20large";
    message.windows(needle.len()).any(|w| w == needle) || message.windows(encoded.len()).any(|w| w == encoded)
}

/// For unary calls tonic refuses an oversized request before the handler runs, with a
/// trailers-only response: rewrite its OUT_OF_RANGE to RESOURCE_EXHAUSTED there.
pub fn oversize_to_resource_exhausted<B>(mut response: http::Response<B>) -> http::Response<B> {
    let headers = response.headers_mut();
    let out_of_range = headers.get("grpc-status").is_some_and(|v| v.as_bytes() == b"11");
    if out_of_range && headers.get("grpc-message").is_some_and(|m| is_too_large(m.as_bytes())) {
        headers.insert("grpc-status", http::HeaderValue::from_static("8"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use nanocalc_core::pb::{self, calculator_request, calculator_response};
    use prost::Message as _;

    fn add(a: i64, b: i64) -> Bytes {
        let request = pb::CalculatorRequest {
            operation: Some(calculator_request::Operation::Add(pb::BinaryOp { a, b })),
            overflow: 0,
        };
        Bytes::from(request.encode_to_vec())
    }

    fn value(response: &[u8]) -> Option<i64> {
        match pb::CalculatorResponse::decode(response).ok()?.result? {
            calculator_response::Result::Value(v) => Some(v),
            _ => None,
        }
    }

    #[tokio::test]
    async fn answers_as_the_engine_does_errors_inside() {
        let calc = Calculator::new(Limits::default(), 4);
        let answer = calc.calculate(Request::new(add(2, 3))).await.unwrap().into_inner();
        assert_eq!(value(&answer), Some(5));
        assert_eq!(value(&calc.answer(add(i64::MAX, 1)).await.unwrap()), Some(i64::MAX));
        // Malformed bytes: an INVALID_REQUEST response, not a gRPC error.
        let answer = calc.answer(Bytes::from_static(&[0xff, 0xff])).await.unwrap();
        assert_eq!(answer, Bytes::from(nanocalc_core::process(&[0xff, 0xff], &Limits::default())));
        let decoded = pb::CalculatorResponse::decode(&answer[..]).unwrap();
        assert!(matches!(decoded.result, Some(calculator_response::Result::Error(e)) if e.code == 2));
    }

    #[tokio::test]
    async fn large_requests_are_computed_on_the_blocking_pool_with_the_same_answer() {
        let n = 40_000usize; // 640 KB of columns: above the threshold
        let request = pb::CalculatorRequest {
            operation: Some(calculator_request::Operation::Columns(pb::ColumnBatch {
                operation: 1,
                a: (0..n as i64).collect(),
                b: vec![1; n],
            })),
            overflow: 0,
        };
        let bytes = Bytes::from(request.encode_to_vec());
        assert!(bytes.len() >= BLOCKING_THRESHOLD);
        let answer = Calculator::new(Limits::default(), 1).answer(bytes.clone()).await.unwrap();
        assert_eq!(answer, Bytes::from(nanocalc_core::process(&bytes, &Limits::default())));
    }

    #[tokio::test]
    async fn streams_stop_reading_when_the_server_stops() {
        let (stop, stopping) = watch::channel(false);
        let calc = Calculator::new(Limits::default(), 4).stopping_on(stopping);
        let mut waiting = calc.stopping.clone();
        assert!(!*waiting.borrow_and_update());
        stop.send(true).unwrap();
        waiting.wait_for(|s| *s).await.unwrap();
        // Unary calls are still answered (tonic's graceful shutdown finishes them).
        assert_eq!(value(&calc.answer(add(1, 2)).await.unwrap()), Some(3));
    }

    #[test]
    fn oversize_statuses_become_resource_exhausted_and_nothing_else_does() {
        let tonic_message = "Error, decoded message length too large: found 9 bytes, the limit is: 4 bytes";
        assert_eq!(status_for_client(Status::out_of_range(tonic_message)).code(), Code::ResourceExhausted);
        assert_eq!(status_for_client(Status::out_of_range("other")).code(), Code::OutOfRange);
        assert_eq!(status_for_client(Status::internal(tonic_message)).code(), Code::Internal);

        let trailers_only = |status: &str, message: &str| {
            http::Response::builder().header("grpc-status", status).header("grpc-message", message).body(()).unwrap()
        };
        let encoded = "Error,%20decoded%20message%20length%20too%20large:%20found%209%20bytes";
        let mapped = oversize_to_resource_exhausted(trailers_only("11", encoded));
        assert_eq!(mapped.headers()["grpc-status"], "8");
        let kept = oversize_to_resource_exhausted(trailers_only("11", "out%20of%20range"));
        assert_eq!(kept.headers()["grpc-status"], "11");
        let kept = oversize_to_resource_exhausted(trailers_only("13", encoded));
        assert_eq!(kept.headers()["grpc-status"], "13");
    }
}
