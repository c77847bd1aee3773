//! `nanocalc-server`: see `nanocalc-server --help`.

use std::io::{IsTerminal as _, Write as _};
use std::process::ExitCode;

use clap::Parser as _;
use nanocalc_server::config::LogFormat;
use nanocalc_server::{Config, bind, serve, termination_signal};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let config = Config::parse();
    if let Err(message) = config.validate() {
        eprintln!("nanocalc-server: {message}");
        return ExitCode::from(2);
    }
    let filter = EnvFilter::new(format!("warn,nanocalc_server={}", config.log_level.as_str()));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match config.log_format {
        LogFormat::Json => logs.json().init(),
        LogFormat::Text => logs.init(),
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the runtime");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let bound = match bind(config.addr).and_then(|bound| match config.metrics_addr {
            Some(addr) => bound.with_metrics(addr),
            None => Ok(bound),
        }) {
            Ok(bound) => bound,
            Err(e) => {
                tracing::error!(error = %e, "cannot listen");
                return ExitCode::FAILURE;
            }
        };
        let addr = bound.local_addr;
        // Before the line below: from then on a SIGTERM is a graceful shutdown.
        let shutdown = termination_signal();
        // The lines on stdout, how scripts and tests learn the ports when an address ends in :0:
        // `metrics on ADDR` (with --metrics-addr), then `listening on ADDR`, always last.
        if let Some(metrics) = bound.metrics_addr {
            println!("metrics on {metrics}");
        }
        println!("listening on {addr}");
        let _ = std::io::stdout().flush();
        tracing::info!(
            %addr,
            metrics_addr = ?bound.metrics_addr.map(|a| format!("http://{a}/metrics")),
            tls = config.tls_cert.is_some(),
            client_certificates = config.tls_client_ca.is_some(),
            token = config.token.is_some(),
            max_message_bytes = config.max_message_bytes,
            max_request_bytes = config.max_request_bytes,
            max_batch_length = config.max_batch_length,
            concurrency_limit = config.concurrency_limit,
            max_concurrent_streams = config.max_concurrent_streams,
            max_connections = config.max_connections,
            max_open_calls = config.max_open_calls,
            max_pending_request_bytes = config.max_pending_request_bytes,
            handshake_timeout_seconds = config.handshake_timeout.as_secs_f64(),
            "serving nanocalc.v1.CalculatorService"
        );
        match serve(&config, bound, shutdown).await {
            Ok(true) => {
                tracing::info!("stopped: every call in flight was answered");
                ExitCode::SUCCESS
            }
            Ok(false) => ExitCode::FAILURE,
            Err(e) => {
                tracing::error!(error = %e, "server failed");
                ExitCode::FAILURE
            }
        }
    })
}
