//! Prometheus metrics (`--metrics-addr`): a tower layer in front of every service counts calls by
//! method and gRPC status, their latency, calls in flight and the bytes they carry; the calculator
//! counts the requests its engine computed and the errors it answered by `ErrorCode`.
//!
//! Names and labels follow the usual gRPC convention (go-grpc-prometheus's `grpc_server_*` with
//! `grpc_service`, `grpc_method`, `grpc_type`, `grpc_code`), so existing dashboards read them. Every
//! label value the layer can give is resolved when the server starts: on the hot path a call costs
//! a few atomic increments and two clock reads, no lookup and no lock.

use std::sync::Arc;
use std::time::Instant;

use bytes::{Buf, Bytes};
use http::{HeaderMap, Request, Response};
use http_body::Frame;
use prometheus::{
    Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};
use tonic::Status;
use tonic::body::Body;

use crate::layer::{Around, BoxFuture, Watch, Watched};

/// gRPC's status codes, by number (0..=16), as the `grpc_code` label says them.
const GRPC_CODES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];
const CANCELLED: usize = 1;
const UNKNOWN: usize = 2;

/// The methods this server serves: (path, service, method, type). Any other path is counted as
/// `unknown`, so that a client cannot grow the label set.
const METHODS: [(&str, &str, &str, &str); 6] = [
    ("/nanocalc.v1.CalculatorService/Calculate", "nanocalc.v1.CalculatorService", "Calculate", "unary"),
    (
        "/nanocalc.v1.CalculatorService/CalculateStream",
        "nanocalc.v1.CalculatorService",
        "CalculateStream",
        "bidi_stream",
    ),
    ("/grpc.health.v1.Health/Check", "grpc.health.v1.Health", "Check", "unary"),
    ("/grpc.health.v1.Health/Watch", "grpc.health.v1.Health", "Watch", "server_stream"),
    (
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        "grpc.reflection.v1.ServerReflection",
        "ServerReflectionInfo",
        "bidi_stream",
    ),
    (
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        "grpc.reflection.v1alpha.ServerReflection",
        "ServerReflectionInfo",
        "bidi_stream",
    ),
];
const UNKNOWN_METHOD: (&str, &str, &str, &str) = ("", "unknown", "unknown", "unknown");

/// Upper bounds of the latency buckets, in seconds: a unary call takes tens of microseconds on
/// the server, a batch of millions tens of milliseconds, a stream as long as its client keeps it.
const LATENCY_BUCKETS: [f64; 20] = [
    0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0, 10.0, 60.0, 300.0,
];

/// The counters of one method, resolved once.
#[derive(Debug)]
struct MethodMetrics {
    path: &'static str,
    started: IntCounter,
    /// By gRPC status code.
    handled: [IntCounter; 17],
    handling: Histogram,
    in_flight: IntGauge,
    request_bytes: IntCounter,
    response_bytes: IntCounter,
}

/// What the engine computed: requests, and the errors it answered inside `CalculatorResponse`.
#[derive(Clone, Debug)]
pub struct EngineMetrics {
    requests: IntCounter,
    errors: IntCounterVec,
}

impl EngineMetrics {
    /// Counters registered nowhere (for a `Calculator` whose metrics are not served).
    pub fn detached() -> Self {
        EngineMetrics {
            requests: IntCounter::new("nanocalc_engine_requests_total", "-").expect("valid name"),
            errors: IntCounterVec::new(Opts::new("nanocalc_engine_errors_total", "-"), &["code"]).expect("valid"),
        }
    }

    /// Counts one answer of the engine, and its error if it is one (by the `ErrorCode`'s name
    /// without its `ERROR_CODE_` prefix, as `CalculatorError.code` says it in TypeScript).
    pub fn count(&self, response: &[u8]) {
        self.requests.inc();
        if let Some(code) = error_code(response) {
            self.errors.with_label_values(&[code]).inc();
        }
    }
}

/// The `ErrorCode` name of an encoded `CalculatorResponse` that carries an error (field 2).
fn error_code(response: &[u8]) -> Option<&'static str> {
    use nanocalc_core::pb::CalculatorResponse;
    use nanocalc_core::pb::calculator_response::Result as Answer;
    use prost::Message as _;
    // The response holds one field of its oneof: its first byte is that field's tag. Only an
    // error (field 2, length-delimited: tag 0x12) is decoded, so values and batches cost nothing.
    if response.first() != Some(&0x12) {
        return None;
    }
    let Ok(CalculatorResponse { result: Some(Answer::Error(error)) }) = CalculatorResponse::decode(response) else {
        return Some("UNDECODABLE");
    };
    Some(match nanocalc_core::ErrorCode::try_from(error.code) {
        Ok(code) => code.as_str_name().trim_start_matches("ERROR_CODE_"),
        Err(_) => "UNKNOWN_CODE",
    })
}

/// The server's metrics and the registry that exposes them.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    methods: Vec<MethodMetrics>,
    unknown: MethodMetrics,
    pub engine: EngineMetrics,
}

impl Metrics {
    pub fn new() -> Arc<Self> {
        Self::try_new().expect("the metrics' names and labels are valid")
    }

    fn try_new() -> prometheus::Result<Arc<Self>> {
        let registry = Registry::new();
        let call_labels = ["grpc_service", "grpc_method", "grpc_type"];
        let per_call = |name: &str, help: &str| IntCounterVec::new(Opts::new(name, help), &call_labels);
        let started = per_call("grpc_server_started_total", "Calls started on the server.")?;
        let handled = IntCounterVec::new(
            Opts::new("grpc_server_handled_total", "Calls completed on the server, by gRPC status code."),
            &["grpc_service", "grpc_method", "grpc_type", "grpc_code"],
        )?;
        let handling = prometheus::HistogramVec::new(
            HistogramOpts::new(
                "grpc_server_handling_seconds",
                "Time from a call's request headers to the end of its response (trailers sent or the call reset).",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &call_labels,
        )?;
        let in_flight = IntGaugeVec::new(
            Opts::new("nanocalc_calls_in_flight", "Calls started and not yet completed."),
            &call_labels,
        )?;
        let request_bytes =
            per_call("nanocalc_request_bytes_total", "Bytes of request bodies received (gRPC-framed messages).")?;
        let response_bytes =
            per_call("nanocalc_response_bytes_total", "Bytes of response bodies sent (gRPC-framed messages).")?;
        let engine = EngineMetrics {
            requests: IntCounter::new(
                "nanocalc_engine_requests_total",
                "CalculatorRequests the engine answered (unary calls and stream messages).",
            )?,
            errors: IntCounterVec::new(
                Opts::new(
                    "nanocalc_engine_errors_total",
                    "Errors the engine answered inside CalculatorResponse, by ErrorCode.",
                ),
                &["code"],
            )?,
        };
        let build_info = IntGaugeVec::new(
            Opts::new("nanocalc_build_info", "Always 1: the server's version in its label."),
            &["version"],
        )?;
        build_info.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);

        let resolve = |&(path, service, method, kind): &(&'static str, &str, &str, &str)| MethodMetrics {
            path,
            started: started.with_label_values(&[service, method, kind]),
            handled: std::array::from_fn(|code| handled.with_label_values(&[service, method, kind, GRPC_CODES[code]])),
            handling: handling.with_label_values(&[service, method, kind]),
            in_flight: in_flight.with_label_values(&[service, method, kind]),
            request_bytes: request_bytes.with_label_values(&[service, method, kind]),
            response_bytes: response_bytes.with_label_values(&[service, method, kind]),
        };
        let methods = METHODS.iter().map(resolve).collect();
        let unknown = resolve(&UNKNOWN_METHOD);
        for collector in [
            Box::new(started) as Box<dyn prometheus::core::Collector>,
            Box::new(handled),
            Box::new(handling),
            Box::new(in_flight),
            Box::new(request_bytes),
            Box::new(response_bytes),
            Box::new(engine.requests.clone()),
            Box::new(engine.errors.clone()),
            Box::new(build_info),
        ] {
            registry.register(collector)?;
        }
        Ok(Arc::new(Metrics { registry, methods, unknown, engine }))
    }

    /// Everything in Prometheus's text format.
    pub fn render(&self) -> String {
        TextEncoder::new().encode_to_string(&self.registry.gather()).unwrap_or_else(|e| format!("# error: {e}\n"))
    }

    /// The index of a request path's method in `methods`; `None` for any other path.
    fn index(&self, path: &str) -> Option<usize> {
        self.methods.iter().position(|m| m.path == path)
    }
}

/// The index of a `grpc-status` header's code, if it is one of gRPC's.
fn grpc_status(headers: &HeaderMap) -> Option<usize> {
    let value = headers.get("grpc-status")?.to_str().ok()?.parse::<usize>().ok()?;
    Some(if value < GRPC_CODES.len() { value } else { UNKNOWN })
}

/// A call being counted: it is completed once, with its status, when its response ends (or
/// with CANCELLED when the response is dropped before its end: the client reset the call).
struct Call {
    metrics: Arc<Metrics>,
    index: Option<usize>, // into metrics.methods; None for unknown
    started: Instant,
    done: bool,
}

impl Call {
    fn method(&self) -> &MethodMetrics {
        match self.index {
            Some(i) => &self.metrics.methods[i],
            None => &self.metrics.unknown,
        }
    }

    fn complete(&mut self, code: usize) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        // Out of flight first: a scrape reads `grpc_server_handled_total` before
        // `nanocalc_calls_in_flight` (families are gathered by name), so a call it sees completed
        // is never also still in flight.
        let method = self.method();
        method.in_flight.dec();
        method.handled[code].inc();
        method.handling.observe(self.started.elapsed().as_secs_f64());
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        self.complete(CANCELLED);
    }
}

#[derive(Clone, Debug)]
pub struct MetricsLayer {
    metrics: Arc<Metrics>,
}

impl MetricsLayer {
    pub fn new(metrics: Arc<Metrics>) -> Self {
        MetricsLayer { metrics }
    }
}

impl Around for MetricsLayer {
    fn around<S>(&self, request: Request<Body>, mut inner: S) -> BoxFuture<Response<Body>, S::Error>
    where
        S: tower::Service<Request<Body>, Response = Response<Body>> + Send + 'static,
        S::Future: Send + 'static,
    {
        let index = self.metrics.index(request.uri().path());
        let mut call = Call { metrics: self.metrics.clone(), index, started: Instant::now(), done: false };
        let method = call.method();
        method.started.inc();
        method.in_flight.inc();
        let request_bytes = method.request_bytes.clone();
        let request = request.map(|body| Body::new(Watched { inner: body, watch: request_bytes }));
        Box::pin(async move {
            let response = match inner.call(request).await {
                Ok(response) => response,
                Err(e) => {
                    call.complete(UNKNOWN);
                    return Err(e);
                }
            };
            // A trailers-only response (an error before any message) has its status in its
            // headers: count it before the client can see it.
            if let Some(code) = grpc_status(response.headers()) {
                call.complete(code);
            }
            Ok(response.map(|body| Body::new(Watched { inner: body, watch: call })))
        })
    }
}

/// A request body's bytes are counted as they arrive.
impl Watch for IntCounter {
    fn frame(&mut self, frame: &Option<Result<Frame<Bytes>, Status>>) {
        if let Some(Ok(frame)) = frame {
            self.inc_by(frame.data_ref().map_or(0, |data| data.remaining() as u64));
        }
    }
}

/// A response body's bytes are counted, and its trailers complete the call (before they are sent,
/// so a client that has its answer can already read the count).
impl Watch for Call {
    fn frame(&mut self, frame: &Option<Result<Frame<Bytes>, Status>>) {
        match frame {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    self.method().response_bytes.inc_by(data.remaining() as u64);
                } else if let Some(trailers) = frame.trailers_ref() {
                    self.complete(grpc_status(trailers).unwrap_or(UNKNOWN));
                }
            }
            Some(Err(status)) => self.complete(status.code() as usize),
            // Ended without trailers: not a gRPC answer (e.g. HTTP 415 to another content-type).
            None => self.complete(UNKNOWN),
        }
    }
}

/// Serves `GET /metrics` on `listener` (HTTP/1.1) until the task is dropped.
pub async fn serve_metrics(listener: tokio::net::TcpListener, metrics: Arc<Metrics>) {
    use http_body_util::Full;
    use hyper::service::service_fn;
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "metrics: cannot accept a connection");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                let metrics = metrics.clone();
                async move {
                    let (status, content_type, body) = match (request.method(), request.uri().path()) {
                        (&http::Method::GET, "/metrics") => {
                            (http::StatusCode::OK, "text/plain; version=0.0.4; charset=utf-8", metrics.render())
                        }
                        _ => (http::StatusCode::NOT_FOUND, "text/plain; charset=utf-8", "GET /metrics\n".to_owned()),
                    };
                    Response::builder()
                        .status(status)
                        .header(http::header::CONTENT_TYPE, content_type)
                        .body(Full::new(Bytes::from(body)))
                }
            });
            let io = hyper_util::rt::TokioIo::new(stream);
            if let Err(e) = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await {
                tracing::debug!(error = %e, "metrics: connection ended with an error");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nanocalc_core::Limits;

    fn value_of(text: &str, series: &str) -> Option<f64> {
        text.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    }

    #[test]
    fn engine_errors_are_counted_by_code_and_values_are_not_errors() {
        let metrics = Metrics::new();
        let add = [0x0a, 0x04, 0x08, 0x02, 0x10, 0x03]; // add { a: 2, b: 3 }
        let divide_by_zero = [0x22, 0x02, 0x08, 0x01]; // divide { a: 1, b: 0 }
        for request in [&add[..], &divide_by_zero, &divide_by_zero, &[0xff, 0xff]] {
            metrics.engine.count(&nanocalc_core::process(request, &Limits::default()));
        }
        let text = metrics.render();
        assert_eq!(value_of(&text, "nanocalc_engine_requests_total"), Some(4.0), "{text}");
        assert_eq!(value_of(&text, r#"nanocalc_engine_errors_total{code="DIVISION_BY_ZERO"}"#), Some(2.0), "{text}");
        assert_eq!(value_of(&text, r#"nanocalc_engine_errors_total{code="INVALID_REQUEST"}"#), Some(1.0), "{text}");
        assert!(text.contains(r#"nanocalc_build_info{version=""#), "{text}");
    }

    #[test]
    fn every_method_and_code_is_resolved_and_an_unknown_path_is_counted_apart() {
        let metrics = Metrics::new();
        assert_eq!(metrics.index("/nanocalc.v1.CalculatorService/CalculateStream"), Some(1));
        assert_eq!(metrics.index("/x.Y/Z"), None);
        let mut call = Call { metrics: metrics.clone(), index: None, started: Instant::now(), done: false };
        call.method().in_flight.inc();
        call.complete(16);
        drop(call); // completed once only
        let text = metrics.render();
        let series = r#"grpc_server_handled_total{grpc_code="UNAUTHENTICATED",grpc_method="unknown",grpc_service="unknown",grpc_type="unknown"}"#;
        assert_eq!(value_of(&text, series), Some(1.0), "{text}");
        let cancelled = series.replace("UNAUTHENTICATED", "CANCELLED");
        assert_eq!(value_of(&text, &cancelled), Some(0.0), "{text}");
    }
}
