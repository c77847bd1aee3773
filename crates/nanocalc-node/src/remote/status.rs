//! gRPC statuses: the codes, a call's `Failure`, and how HTTP/2 and HTTP failures map to them
//! (as src/remote/http2.ts and endpoints.ts map them, so a RemoteError is the same whichever carried it).

use std::sync::atomic::Ordering;

use h2::Reason;
use http::HeaderMap;

use super::*;

/// gRPC status codes used here.
pub(crate) const CANCELLED: u32 = 1;
pub(crate) const UNKNOWN: u32 = 2;
pub(crate) const DEADLINE_EXCEEDED: u32 = 4;
pub(crate) const PERMISSION_DENIED: u32 = 7;
pub(crate) const RESOURCE_EXHAUSTED: u32 = 8;
pub(crate) const UNIMPLEMENTED: u32 = 12;
pub(crate) const INTERNAL: u32 = 13;
pub(crate) const UNAVAILABLE: u32 = 14;
pub(crate) const UNAUTHENTICATED: u32 = 16;

/// A call's failure: its gRPC status code and details.
pub(crate) type Failure = (u32, String);

pub(crate) fn failure(code: u32, details: impl Into<String>) -> Failure {
    (code, details.into())
}

/// `grpc-timeout` for `ms`: at most 8 digits and a unit (the twin of `grpcTimeout` in endpoints.ts).
pub(crate) fn grpc_timeout(ms: f64) -> String {
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
pub(crate) fn status_of_http(status: u16) -> u32 {
    match status {
        400 => INTERNAL,
        401 => UNAUTHENTICATED,
        403 => PERMISSION_DENIED,
        404 => UNIMPLEMENTED,
        429 | 502 | 503 | 504 => UNAVAILABLE,
        _ => UNKNOWN,
    }
}

/// `grpc-status` and `grpc-message` (percent-decoded) of headers or trailers, if there.
pub(crate) fn grpc_status(headers: &HeaderMap) -> Option<Failure> {
    let code = headers.get("grpc-status")?.to_str().ok()?.parse::<u32>().ok()?;
    let details = headers.get("grpc-message").map_or_else(String::new, |v| {
        let raw = String::from_utf8_lossy(v.as_bytes()).into_owned();
        percent_encoding::percent_decode_str(&raw).decode_utf8().map_or(raw.clone(), |s| s.into_owned())
    });
    Some((code, details))
}

/// A stream that ended in an HTTP/2 error, mapped as src/remote/http2.ts maps it.
pub(crate) async fn stream_failure(state: &ConnState, e: &h2::Error, http_status: u16) -> Failure {
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
