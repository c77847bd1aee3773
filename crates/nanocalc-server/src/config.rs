//! Flags, each with an environment variable as fallback.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use nanocalc_core::Limits;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }
}

/// nanocalc's engine as a gRPC service (nanocalc.v1.CalculatorService, with grpc.health.v1 and
/// server reflection). Prints `listening on ADDR` on stdout once bound; logs go to stderr.
#[derive(Clone, Debug, Parser)]
#[command(name = "nanocalc-server", version)]
pub struct Config {
    /// Address to listen on. Port 0 picks a free port. Only loopback by default: give 0.0.0.0:PORT
    /// or [::]:PORT to listen on all interfaces.
    #[arg(long, env = "NANOCALC_ADDR", default_value = "127.0.0.1:50051")]
    pub addr: SocketAddr,

    /// Serve Prometheus metrics on `GET http://ADDR/metrics` (a listener of its own; port 0 picks a
    /// free port, printed as `metrics on ADDR` before `listening on`). Default: not served.
    #[arg(long, env = "NANOCALC_METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,

    /// Largest gRPC message accepted, in bytes; a larger one is refused with RESOURCE_EXHAUSTED.
    #[arg(long, env = "NANOCALC_MAX_MESSAGE_BYTES", default_value_t = Limits::DEFAULT_MAX_REQUEST_BYTES)]
    pub max_message_bytes: usize,

    /// The engine's request size limit (a larger request is answered LIMIT_EXCEEDED).
    #[arg(long, env = "NANOCALC_MAX_REQUEST_BYTES", default_value_t = Limits::DEFAULT_MAX_REQUEST_BYTES)]
    pub max_request_bytes: usize,

    /// The engine's batch length limit (a longer batch is answered LIMIT_EXCEEDED).
    #[arg(long, env = "NANOCALC_MAX_BATCH_LENGTH", default_value_t = Limits::DEFAULT_MAX_BATCH_LENGTH)]
    pub max_batch_length: usize,

    /// Most requests computed at once, over all connections; others wait their turn.
    #[arg(long, env = "NANOCALC_CONCURRENCY_LIMIT", default_value_t = 1024)]
    pub concurrency_limit: usize,

    /// Most HTTP/2 streams (calls) open at once on one connection (SETTINGS_MAX_CONCURRENT_STREAMS);
    /// a client that opens more gets them refused (REFUSED_STREAM).
    #[arg(long, env = "NANOCALC_MAX_CONCURRENT_STREAMS", default_value_t = 256)]
    pub max_concurrent_streams: u32,

    /// Most connections open at once; one more is closed as soon as it is accepted.
    #[arg(long, env = "NANOCALC_MAX_CONNECTIONS", default_value_t = 1024)]
    pub max_connections: usize,

    /// Most calls open at once over all connections (computing, waiting their turn, or waiting
    /// for their request); one more ends at once with RESOURCE_EXHAUSTED.
    #[arg(long, env = "NANOCALC_MAX_OPEN_CALLS", default_value_t = 4096)]
    pub max_open_calls: usize,

    /// Most bytes of request messages held by the server before they are whole, over all calls;
    /// a call that would go above it ends with RESOURCE_EXHAUSTED. At least --max-message-bytes
    /// plus 1 MiB.
    #[arg(long, env = "NANOCALC_MAX_PENDING_REQUEST_BYTES", default_value_t = DEFAULT_MAX_PENDING_REQUEST_BYTES)]
    pub max_pending_request_bytes: usize,

    /// Seconds a new connection has to send HTTP/2's 24-byte preface (over HTTP/1.1, its first 24
    /// bytes) before it is closed.
    #[arg(long = "handshake-timeout-seconds", env = "NANOCALC_HANDSHAKE_TIMEOUT_SECONDS", default_value = "10", value_parser = parse_seconds)]
    pub handshake_timeout: Duration,

    /// TLS certificate chain (PEM); with --tls-key, the server speaks TLS only.
    #[arg(long, env = "NANOCALC_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// TLS private key (PEM).
    #[arg(long, env = "NANOCALC_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Require client certificates (mutual TLS): a client must present a certificate signed by
    /// this authority (PEM) or its TLS handshake fails, before any call. Needs --tls-cert.
    #[arg(long, env = "NANOCALC_TLS_CLIENT_CA", requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,

    /// A web page origin allowed to call the server from a browser over gRPC-Web (CORS), as
    /// `scheme://host[:port]`, e.g. `https://app.example.com`. Repeat the flag for several (the
    /// environment variable takes them comma-separated). A request whose `Origin` is not listed is
    /// refused (HTTP 403) before anything is computed. Default: none (browsers cannot call it).
    #[arg(long = "cors-origin", env = "NANOCALC_CORS_ORIGINS", value_name = "ORIGIN", value_delimiter = ',')]
    pub cors_origins: Vec<String>,

    /// Bearer token every call must carry (`authorization: Bearer <token>`). Prefer the
    /// environment variable: a flag is visible to other users in the process list.
    #[arg(long, env = "NANOCALC_TOKEN", hide_env_values = true)]
    pub token: Option<String>,

    /// Seconds to let calls in flight finish after SIGTERM/SIGINT.
    #[arg(long = "shutdown-grace-seconds", env = "NANOCALC_SHUTDOWN_GRACE_SECONDS", default_value = "30", value_parser = parse_seconds)]
    pub shutdown_grace: Duration,

    /// Log level.
    #[arg(long, env = "NANOCALC_LOG_LEVEL", value_enum, default_value = "info")]
    pub log_level: LogLevel,

    /// Log format: human-readable text or one JSON object a line.
    #[arg(long, env = "NANOCALC_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
}

/// Default `--max-pending-request-bytes`: 256 MiB, four requests of the default largest size.
pub const DEFAULT_MAX_PENDING_REQUEST_BYTES: usize = 256 << 20;

/// What `--max-pending-request-bytes` must leave beyond `--max-message-bytes`: a largest message
/// and the start of the next one (HTTP/2 frames are at most 16 KiB unless the client is told more).
pub const PENDING_MARGIN_BYTES: usize = 1 << 20;

fn parse_seconds(s: &str) -> Result<Duration, String> {
    let seconds: f64 = s.parse().map_err(|e| format!("{e}"))?;
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("{e}"))
}

impl Config {
    pub fn limits(&self) -> Limits {
        Limits {
            max_request_bytes: self.max_request_bytes,
            max_batch_length: self.max_batch_length,
            ..Limits::default()
        }
    }

    /// Checks what clap cannot.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_message_bytes == 0 || self.max_request_bytes == 0 || self.max_batch_length == 0 {
            return Err("--max-message-bytes, --max-request-bytes and --max-batch-length must be at least 1".into());
        }
        if self.concurrency_limit == 0 {
            return Err("--concurrency-limit must be at least 1".into());
        }
        if self.max_concurrent_streams == 0 || self.max_connections == 0 || self.max_open_calls == 0 {
            return Err("--max-concurrent-streams, --max-connections and --max-open-calls must be at least 1".into());
        }
        if self.max_pending_request_bytes < self.max_message_bytes.saturating_add(PENDING_MARGIN_BYTES) {
            return Err(format!(
                "--max-pending-request-bytes ({}) must be at least --max-message-bytes ({}) plus 1 MiB, \
                 or a largest message could never be received",
                self.max_pending_request_bytes, self.max_message_bytes
            ));
        }
        if self.handshake_timeout.is_zero() {
            return Err("--handshake-timeout-seconds must be above 0".into());
        }
        for origin in &self.cors_origins {
            crate::cors::parse_origin(origin).map_err(|e| format!("--cors-origin {origin:?}: {e}"))?;
        }
        if self.token.as_deref() == Some("") {
            return Err("NANOCALC_TOKEN / --token is set but empty".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_listen_on_loopback_only() {
        let config = Config::try_parse_from(["nanocalc-server"]).unwrap();
        assert_eq!(config.addr, "127.0.0.1:50051".parse().unwrap());
        assert!(config.addr.ip().is_loopback());
        assert_eq!(config.limits(), Limits::default());
        assert!(config.validate().is_ok());
        assert_eq!(config.max_concurrent_streams, 256);
        assert_eq!(config.max_connections, 1024);
        assert_eq!(config.max_open_calls, 4096);
        assert_eq!(config.max_pending_request_bytes, 256 << 20);
        assert_eq!(config.handshake_timeout, Duration::from_secs(10));
        assert!(config.cors_origins.is_empty(), "no origin is allowed by default");
    }

    #[test]
    fn flags_parse_and_bad_values_are_refused() {
        let config = Config::try_parse_from([
            "nanocalc-server",
            "--addr",
            "127.0.0.1:0",
            "--max-message-bytes",
            "1000",
            "--max-batch-length",
            "10",
            "--shutdown-grace-seconds",
            "0.5",
            "--log-format",
            "json",
        ])
        .unwrap();
        assert_eq!(config.addr.port(), 0);
        assert_eq!(config.max_message_bytes, 1000);
        assert_eq!(config.limits().max_batch_length, 10);
        assert_eq!(config.shutdown_grace, Duration::from_millis(500));
        assert_eq!(config.log_format, LogFormat::Json);
        assert!(Config::try_parse_from(["nanocalc-server", "--tls-cert", "c.pem"]).is_err(), "a cert needs a key");
        let client_ca = ["nanocalc-server", "--tls-client-ca", "ca.pem"];
        assert!(Config::try_parse_from(client_ca).is_err(), "client certificates need TLS");
        let mtls = Config::try_parse_from([&client_ca[..], &["--tls-cert", "c.pem", "--tls-key", "k.pem"]].concat());
        assert_eq!(mtls.unwrap().tls_client_ca, Some(PathBuf::from("ca.pem")));
        let metrics = Config::try_parse_from(["nanocalc-server", "--metrics-addr", "127.0.0.1:0"]).unwrap();
        assert_eq!(metrics.metrics_addr, Some("127.0.0.1:0".parse().unwrap()));
        assert!(Config::try_parse_from(["nanocalc-server", "--addr", "nowhere"]).is_err());
        let cors = ["nanocalc-server", "--cors-origin", "https://a.example", "--cors-origin", "http://127.0.0.1:8080"];
        let cors = Config::try_parse_from(cors).unwrap();
        assert_eq!(cors.cors_origins, ["https://a.example", "http://127.0.0.1:8080"]);
        assert!(cors.validate().is_ok());
        for bad in ["a.example", "https://a.example/", "https://a.example/app", "ftp://a.example", "*", ""] {
            let refused = Config::try_parse_from(["nanocalc-server", "--cors-origin", bad]).unwrap();
            assert!(refused.validate().is_err(), "--cors-origin {bad:?}");
        }
        for (flag, value) in [
            ("--concurrency-limit", "0"),
            ("--max-concurrent-streams", "0"),
            ("--max-connections", "0"),
            ("--max-open-calls", "0"),
            ("--handshake-timeout-seconds", "0"),
            ("--max-pending-request-bytes", "1000"),
        ] {
            let refused = Config::try_parse_from(["nanocalc-server", flag, value]).unwrap();
            assert!(refused.validate().is_err(), "{flag} {value}");
        }
    }
}
