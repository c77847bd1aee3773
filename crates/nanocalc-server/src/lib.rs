//! nanocalc's engine as a gRPC service (`nanocalc.v1.CalculatorService`): a thin tonic adapter over
//! `nanocalc-core`, which knows nothing of gRPC or tokio.
//!
//! Requests are passed to `nanocalc_core::process` as raw bytes (see [`codec::RawCodec`]), so a
//! remote call is answered exactly as an in-process one: domain errors travel inside
//! `CalculatorResponse`. gRPC statuses are for transport matters only: UNAUTHENTICATED (token),
//! RESOURCE_EXHAUSTED (a message above `--max-message-bytes`), UNAVAILABLE (shutting down).
//!
//! Browsers call it over gRPC-Web (HTTP/1.1 or HTTP/2, tonic-web), translated to gRPC in front of
//! every other layer, from the origins `--cors-origin` allows ([`cors`]); the unary `Calculate`
//! works, the bidirectional `CalculateStream` cannot over gRPC-Web.

pub mod auth;
pub mod codec;
pub mod config;
pub mod conn;
pub mod cors;
pub mod guard;
pub mod layer;
pub mod metrics;
pub mod service;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use tonic::service::interceptor::InterceptedService;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};

pub use config::Config;
pub use service::{Calculator, CalculatorServiceServer};

/// The schema's encoded `FileDescriptorSet`, served by reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/nanocalc_descriptor.bin"));

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A bound listener: its address is known (port 0 resolved) before serving starts.
pub struct Bound {
    incoming: TcpIncoming,
    pub local_addr: SocketAddr,
    metrics: Option<tokio::net::TcpListener>,
    /// Where `GET /metrics` is served, if anywhere ([`Bound::with_metrics`]).
    pub metrics_addr: Option<SocketAddr>,
}

/// Binds the listen address (no traffic is accepted until [`serve`]).
pub fn bind(addr: SocketAddr) -> Result<Bound, BoxError> {
    let incoming =
        TcpIncoming::bind(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?.with_nodelay(Some(true));
    let local_addr = incoming.local_addr()?;
    Ok(Bound { incoming, local_addr, metrics: None, metrics_addr: None })
}

impl Bound {
    /// Also binds the metrics address (`--metrics-addr`), served from [`serve`] on.
    pub fn with_metrics(mut self, addr: SocketAddr) -> Result<Bound, BoxError> {
        let listener = std::net::TcpListener::bind(addr)
            .and_then(|listener| listener.set_nonblocking(true).map(|()| listener))
            .and_then(tokio::net::TcpListener::from_std)
            .map_err(|e| format!("cannot listen on {addr} for metrics: {e}"))?;
        self.metrics_addr = Some(listener.local_addr()?);
        self.metrics = Some(listener);
        Ok(self)
    }
}

/// Streams a connection may have reset for its protocol errors before it is closed
/// (ENHANCE_YOUR_CALM): hyper's default, which tonic turns off.
pub const MAX_LOCAL_ERROR_RESETS: usize = 1024;

/// After the last call in flight has ended at shutdown, how long idle connections are given to
/// close after HTTP/2's GOAWAY (a live client answers its PING in one round trip) before
/// `serve` returns without them.
pub const GOODBYE: Duration = Duration::from_secs(1);

/// Serves until `shutdown` completes, then stops accepting, lets calls in flight finish (at most
/// `config.shutdown_grace`), and returns. `Ok(true)` if everything in flight finished. Open
/// CalculateStreams answer the requests they have read and end with UNAVAILABLE, so that a
/// long-lived stream does not hold up the shutdown (the client sends the rest elsewhere).
///
/// Idle connections do not hold up the shutdown either: one that has not finished HTTP/2's
/// handshake is closed at once, and once no call is in flight the others have [`GOODBYE`] to
/// close after GOAWAY; a connection still open then (a peer that stopped reading) is left to be
/// closed with the runtime.
pub async fn serve(config: &Config, bound: Bound, shutdown: impl Future<Output = ()>) -> Result<bool, BoxError> {
    let limits = config.limits();
    let cors = cors::CorsLayer::new(&config.cors_origins)?;
    let token = auth::BearerToken::new(config.token.as_deref());

    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_serving::<CalculatorServiceServer<Calculator>>().await;

    // Counted always (atomic increments); exposed only with --metrics-addr. The task serving them
    // ends with this function.
    let metrics = metrics::Metrics::new();
    let _metrics_server =
        bound.metrics.map(|listener| AbortOnDrop(tokio::spawn(metrics::serve_metrics(listener, metrics.clone()))));

    let (stop_streams, streams_stopping) = tokio::sync::watch::channel(false);
    let calculator = Calculator::new(limits, config.concurrency_limit)
        .stopping_on(streams_stopping)
        .counting_in(metrics.engine.clone());
    let calculator = CalculatorServiceServer::new(calculator)
        .max_decoding_message_size(config.max_message_bytes)
        .max_encoding_message_size(usize::MAX);
    let check = token.clone();
    let calculator = InterceptedService::new(calculator, move |request| check.check(request));

    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;
    let check_v1 = token.clone();
    let check_v1alpha = token.clone();

    let in_flight = guard::InFlight::new();
    let pending = guard::PendingBytes::new(config.max_pending_request_bytes);
    let (closing_tx, closing) = tokio::sync::watch::channel(false);
    let conn_limits =
        conn::ConnLimits { max_connections: config.max_connections, handshake_timeout: config.handshake_timeout };
    let incoming = conn::guard_incoming(bound.incoming, conn_limits, closing);

    let mut builder = Server::builder()
        // gRPC-Web from browsers over HTTP/1.1 (plaintext; over TLS, ALPN offers h2 only).
        .accept_http1(true)
        .max_concurrent_streams(config.max_concurrent_streams)
        // tonic passes None (no limit) where hyper and h2 default to 1024: after that many streams
        // reset for a client's protocol errors (streams above the limit included), GOAWAY.
        .http2_max_local_error_reset_streams(Some(MAX_LOCAL_ERROR_RESETS));
    if let (Some(cert), Some(key)) = (&config.tls_cert, &config.tls_key) {
        let cert = std::fs::read(cert).map_err(|e| format!("cannot read --tls-cert {}: {e}", cert.display()))?;
        let key = std::fs::read(key).map_err(|e| format!("cannot read --tls-key {}: {e}", key.display()))?;
        let mut tls = ServerTlsConfig::new().identity(Identity::from_pem(cert, key));
        if let Some(ca) = &config.tls_client_ca {
            let ca = std::fs::read(ca).map_err(|e| format!("cannot read --tls-client-ca {}: {e}", ca.display()))?;
            // Required, not optional: a client without a certificate signed by it fails the handshake.
            tls = tls.client_ca_root(Certificate::from_pem(ca)).client_auth_optional(false);
        }
        builder = builder.tls_config(tls)?;
    }
    // Outermost first. CORS refuses a disallowed origin before anything else; gRPC-Web is then
    // translated to gRPC (HTTP/1.1 requests that are not gRPC-Web get 400), so the metrics, the
    // guard, the size limits and the token see a gRPC-Web call as the gRPC call it is.
    let router = builder
        .layer(layer::AroundLayer(cors))
        .layer(tonic_web::GrpcWebLayer::new())
        .layer(layer::AroundLayer(metrics::MetricsLayer::new(metrics)))
        .layer(layer::AroundLayer(guard::GuardLayer::new(in_flight.clone(), config.max_open_calls, pending)))
        .layer(tower::util::MapResponseLayer::new(service::oversize_to_resource_exhausted::<tonic::body::Body>))
        // Health is left without the token so load balancers and probes can ask it; it computes nothing.
        .add_service(health_service)
        .add_service(calculator)
        .add_service(InterceptedService::new(reflection_v1, move |r| check_v1.check(r)))
        .add_service(InterceptedService::new(reflection_v1alpha, move |r| check_v1alpha.check(r)));

    let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
    let signal = async move {
        shutdown.await;
        tracing::info!("shutting down: no new connections; finishing the calls in flight");
        let _ = stop_streams.send(true);
        let _ = closing_tx.send(true);
        let _ = stopping_tx.send(());
    };
    let serving = router.serve_with_incoming_shutdown(incoming, signal);
    tokio::pin!(serving);
    let grace = config.shutdown_grace;
    tokio::select! {
        result = &mut serving => { result?; return Ok(true); }
        _ = stopping_rx => {}
    }
    health.set_not_serving::<CalculatorServiceServer<Calculator>>().await;
    let drained = async {
        loop {
            in_flight.idle().await;
            // Nothing in flight: idle connections have GOODBYE to close after GOAWAY. A call that
            // arrives meanwhile (sent before the client saw GOAWAY) is waited for in turn.
            tokio::time::sleep(GOODBYE.min(grace)).await;
            if in_flight.get() == 0 {
                return;
            }
        }
    };
    tokio::select! {
        result = tokio::time::timeout(grace, &mut serving) => match result {
            Ok(result) => {
                result?;
                Ok(true)
            }
            Err(_) if in_flight.get() == 0 => Ok(true),
            Err(_) => {
                tracing::warn!(
                    grace_seconds = grace.as_secs_f64(),
                    calls = in_flight.get(),
                    "calls still in flight after the shutdown grace period"
                );
                Ok(false)
            }
        },
        _ = drained => {
            tracing::info!("no call in flight; closing the connections still open");
            Ok(true)
        }
    }
}

/// A task aborted when this is dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A future that resolves on SIGTERM or SIGINT (Ctrl-C). The handlers are installed when this is
/// called, not when the future is first polled, so a signal sent as soon as the server says it is
/// listening is a graceful shutdown, not the default action that kills the process. Call it from
/// within the runtime.
pub fn termination_signal() -> impl Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
        let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
        async move {
            tokio::select! {
                _ = term.recv() => tracing::info!(signal = "SIGTERM", "signal received"),
                _ = int.recv() => tracing::info!(signal = "SIGINT", "signal received"),
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Default grace period for calls in flight at shutdown.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
