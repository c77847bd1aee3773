//! Which web pages may call the server from a browser (gRPC-Web), in front of every other layer:
//!
//! - a request without an `Origin` header (gRPC clients, `buf curl`, probes) passes untouched;
//! - a request whose `Origin` is not one of `--cors-origin` is answered HTTP 403 before anything
//!   else sees it: no token check, no call counted, nothing computed (the default allows none);
//! - from an allowed origin, a preflight (`OPTIONS` with `Access-Control-Request-Method`) is
//!   answered here, and every other response gets the headers that let the page read it, gRPC's
//!   status headers included (`grpc-status` and `grpc-message` of a trailers-only answer).

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use tonic::body::Body;

use crate::layer::{Around, BoxFuture};

/// Request headers a page may send: the token, gRPC-Web's own, and the deadline.
const ALLOW_HEADERS: &str = "authorization, content-type, x-grpc-web, x-user-agent, grpc-timeout";
/// Response headers a page may read beyond the CORS-safelisted ones.
const EXPOSE_HEADERS: &str = "grpc-status, grpc-message, grpc-status-details-bin";
/// How long a browser may cache a preflight's answer, in seconds.
const MAX_AGE_SECONDS: &str = "7200";

/// Checks an origin as given to `--cors-origin` and returns it as browsers send it:
/// `http` or `https`, `://`, a host and an optional port, nothing after; lower-cased.
pub fn parse_origin(origin: &str) -> Result<String, String> {
    let lower = origin.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
        .ok_or("an origin starts with http:// or https://")?;
    if rest.is_empty() {
        return Err("an origin needs a host".into());
    }
    if rest.contains(['/', '?', '#', '@', ' ', ',']) {
        return Err("an origin is scheme://host[:port], with no path (not even a trailing /)".into());
    }
    HeaderValue::from_str(&lower).map_err(|e| e.to_string())?;
    Ok(lower)
}

/// The layer: the origins allowed, as browsers send them.
#[derive(Clone, Debug)]
pub struct CorsLayer {
    allowed: Arc<[HeaderValue]>,
}

impl CorsLayer {
    /// `origins` as given to `--cors-origin` (checked by [`parse_origin`]; an invalid one is an error).
    pub fn new(origins: &[String]) -> Result<Self, String> {
        let allowed = origins
            .iter()
            .map(|o| parse_origin(o).and_then(|o| HeaderValue::from_str(&o).map_err(|e| e.to_string())))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(CorsLayer { allowed: allowed.into() })
    }

    fn allows(&self, origin: &HeaderValue) -> bool {
        self.allowed.iter().any(|allowed| allowed.as_bytes().eq_ignore_ascii_case(origin.as_bytes()))
    }
}

impl Around for CorsLayer {
    fn around<S>(&self, request: Request<Body>, mut inner: S) -> BoxFuture<Response<Body>, S::Error>
    where
        S: tower::Service<Request<Body>, Response = Response<Body>> + Send + 'static,
        S::Future: Send + 'static,
    {
        let Some(origin) = request.headers().get(header::ORIGIN).cloned() else {
            return Box::pin(inner.call(request));
        };
        if !self.allows(&origin) {
            tracing::debug!(origin = ?origin, path = request.uri().path(), "refused: origin not allowed (--cors-origin)");
            return Box::pin(async { Ok(forbidden()) });
        }
        if request.method() == Method::OPTIONS && request.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
        {
            return Box::pin(async move { Ok(preflight(origin)) });
        }
        Box::pin(async move {
            let mut response = inner.call(request).await?;
            let headers = response.headers_mut();
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(EXPOSE_HEADERS));
            headers.append(header::VARY, HeaderValue::from_static("origin"));
            Ok(response)
        })
    }
}

fn forbidden() -> Response<Body> {
    let text = "nanocalc-server: this origin is not allowed (--cors-origin)\n";
    let mut response = Response::new(Body::new(http_body_util::Full::new(Bytes::from_static(text.as_bytes()))));
    *response.status_mut() = StatusCode::FORBIDDEN;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    headers.insert(header::VARY, HeaderValue::from_static("origin"));
    response
}

fn preflight(origin: HeaderValue) -> Response<Body> {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::NO_CONTENT;
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("POST"));
    headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static(ALLOW_HEADERS));
    headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static(MAX_AGE_SECONDS));
    headers.insert(
        header::VARY,
        HeaderValue::from_static("origin, access-control-request-method, access-control-request-headers"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_checked_and_lower_cased() {
        assert_eq!(parse_origin("https://App.Example").unwrap(), "https://app.example");
        assert_eq!(parse_origin("http://127.0.0.1:8080").unwrap(), "http://127.0.0.1:8080");
        for bad in ["app.example", "https://", "https://a/", "https://a/b", "https://a?x", "ws://a", "*", "null", ""] {
            assert!(parse_origin(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn only_listed_origins_are_allowed_whatever_their_case() {
        let layer = CorsLayer::new(&["https://a.example".into(), "http://localhost:3000".into()]).unwrap();
        assert!(layer.allows(&HeaderValue::from_static("https://a.example")));
        assert!(layer.allows(&HeaderValue::from_static("HTTPS://A.EXAMPLE")));
        assert!(layer.allows(&HeaderValue::from_static("http://localhost:3000")));
        for other in ["https://a.example:443", "http://a.example", "https://b.example", "null", ""] {
            assert!(!layer.allows(&HeaderValue::from_static(other)), "{other:?}");
        }
        let none = CorsLayer::new(&[]).unwrap();
        assert!(!none.allows(&HeaderValue::from_static("https://a.example")));
    }
}
