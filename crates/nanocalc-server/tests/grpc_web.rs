//! gRPC-Web against a real server on 127.0.0.1, over HTTP/1.1 as a browser sends it (written by
//! hand on a TCP connection, so every byte of the exchange is the test's): answers, the engine's
//! errors inside the response, the token, the size limit, the metrics, and CORS.

use std::net::SocketAddr;

use clap::Parser as _;
use nanocalc_core::pb::{self, calculator_request, calculator_response};
use nanocalc_server::{Config, bind, serve};
use prost::Message as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

const CALCULATE: &str = "/nanocalc.v1.CalculatorService/Calculate";
const PAGE: &str = "http://127.0.0.1:8080";
const TOKEN: &str = "s3cret";

/// A server on 127.0.0.1:0 with `args`, metrics on; stopped when dropped.
struct TestServer {
    addr: SocketAddr,
    metrics: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    done: Option<tokio::task::JoinHandle<()>>,
}

impl TestServer {
    async fn start(args: &[&str]) -> TestServer {
        let base = ["nanocalc-server", "--addr", "127.0.0.1:0", "--shutdown-grace-seconds", "2"];
        let config = Config::try_parse_from(base.iter().chain(args)).unwrap();
        config.validate().unwrap();
        let bound = bind(config.addr).unwrap().with_metrics("127.0.0.1:0".parse().unwrap()).unwrap();
        let (addr, metrics) = (bound.local_addr, bound.metrics_addr.unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let done = tokio::spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            assert!(serve(&config, bound, shutdown).await.unwrap());
        });
        TestServer { addr, metrics, stop: Some(stop), done: Some(done) }
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.done.take().unwrap().await.unwrap();
    }

    /// The sum of a metric's series (every label set) in the Prometheus text, 0 when absent.
    async fn total(&self, name: &str) -> f64 {
        let answer = http1(self.metrics, "GET", "/metrics", &[], b"").await;
        let text = String::from_utf8(answer.body).unwrap();
        text.lines()
            .filter_map(|line| line.strip_prefix(name))
            .filter(|rest| rest.starts_with(['{', ' ']))
            .map(|rest| rest.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
            .sum()
    }

    /// One value of the Prometheus text (0 when the series is absent).
    async fn metric(&self, series: &str) -> f64 {
        let answer = http1(self.metrics, "GET", "/metrics", &[], b"").await;
        let text = String::from_utf8(answer.body).unwrap();
        text.lines()
            .find_map(|line| line.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
            .map_or(0.0, |value| value.trim().parse().unwrap())
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The gRPC-Web body's frames: messages (flag 0) and the trailers frame (flag 0x80) parsed.
    fn grpc_web(&self) -> (Vec<Vec<u8>>, Vec<(String, String)>) {
        let (mut messages, mut trailers) = (Vec::new(), Vec::new());
        let mut rest = &self.body[..];
        while !rest.is_empty() {
            assert!(rest.len() >= 5, "a frame's 5-byte prefix: {rest:?}");
            let len = u32::from_be_bytes(rest[1..5].try_into().unwrap()) as usize;
            let payload = &rest[5..5 + len];
            match rest[0] {
                0x00 => messages.push(payload.to_vec()),
                0x80 => {
                    assert!(trailers.is_empty(), "one trailers frame");
                    for line in std::str::from_utf8(payload).unwrap().split("\r\n").filter(|l| !l.is_empty()) {
                        let (name, value) = line.split_once(':').unwrap();
                        trailers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
                    }
                }
                flag => panic!("unexpected frame flag {flag:#x}"),
            }
            rest = &rest[5 + len..];
        }
        (messages, trailers)
    }

    /// grpc-status, from the trailers frame or (a trailers-only answer) the headers.
    fn grpc_status(&self) -> (String, String) {
        let (_, trailers) = self.grpc_web();
        let find = |name: &str| {
            trailers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .or_else(|| self.header(name).map(str::to_string))
        };
        (find("grpc-status").expect("a grpc-status"), find("grpc-message").unwrap_or_default())
    }
}

/// One HTTP/1.1 request on a new connection (`connection: close`), the answer read to its end.
async fn http1(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Answer {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a header block") + 4;
    let head = std::str::from_utf8(&raw[..end]).unwrap();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    assert!(status_line.starts_with("HTTP/1.1 "), "{status_line}");
    let status = status_line[9..12].parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap();
            (n.to_ascii_lowercase(), v.trim().to_string())
        })
        .collect();
    let chunked = headers.iter().any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    let body = if chunked { dechunk(&raw[end..]) } else { raw[end..].to_vec() };
    Answer { status, headers, body }
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        let line_end = raw.windows(2).position(|w| w == b"\r\n").expect("a chunk size line");
        let size_text = std::str::from_utf8(&raw[..line_end]).unwrap();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).unwrap();
        raw = &raw[line_end + 2..];
        if size == 0 {
            return body;
        }
        body.extend_from_slice(&raw[..size]);
        raw = &raw[size + 2..];
    }
}

fn framed(message: &[u8]) -> Vec<u8> {
    let mut frame = vec![0];
    frame.extend_from_slice(&(message.len() as u32).to_be_bytes());
    frame.extend_from_slice(message);
    frame
}

fn request(operation: calculator_request::Operation) -> Vec<u8> {
    framed(&pb::CalculatorRequest { operation: Some(operation), overflow: 0 }.encode_to_vec())
}

fn add(a: i64, b: i64) -> Vec<u8> {
    request(calculator_request::Operation::Add(pb::BinaryOp { a, b }))
}

fn divide(a: i64, b: i64) -> Vec<u8> {
    request(calculator_request::Operation::Divide(pb::BinaryOp { a, b }))
}

const BEARER: &str = "Bearer s3cret";

fn web_headers<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut headers = vec![("content-type", "application/grpc-web+proto"), ("x-grpc-web", "1")];
    headers.extend_from_slice(extra);
    headers
}

/// The one response message of a gRPC-Web answer that ended with grpc-status 0.
fn only_response(answer: &Answer) -> calculator_response::Result {
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("content-type"), Some("application/grpc-web+proto"));
    let (messages, trailers) = answer.grpc_web();
    assert_eq!(trailers.iter().find(|(n, _)| n == "grpc-status").map(|(_, v)| v.as_str()), Some("0"));
    assert_eq!(messages.len(), 1);
    pb::CalculatorResponse::decode(&messages[0][..]).unwrap().result.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unary_call_over_http1_answers_and_engine_errors_come_back_inside_the_response() {
    let server = TestServer::start(&["--token", TOKEN]).await;
    let auth = [("authorization", BEARER)];
    let answer = http1(server.addr, "POST", CALCULATE, &web_headers(&auth), &add(2, 3)).await;
    assert_eq!(only_response(&answer), calculator_response::Result::Value(5));
    let answer = http1(server.addr, "POST", CALCULATE, &web_headers(&auth), &add(i64::MAX, 1)).await;
    assert_eq!(only_response(&answer), calculator_response::Result::Value(i64::MAX), "saturated, as in-process");

    let answer = http1(server.addr, "POST", CALCULATE, &web_headers(&auth), &divide(1, 0)).await;
    let calculator_response::Result::Error(error) = only_response(&answer) else { panic!("an error response") };
    assert_eq!(error.code, pb::ErrorCode::DivisionByZero as i32);

    // Text mode (base64), as some gRPC-Web clients send it.
    let text = [
        ("content-type", "application/grpc-web-text"),
        ("accept", "application/grpc-web-text"),
        ("authorization", BEARER),
    ];
    let body = base64(&add(40, 2));
    let mut answer = http1(server.addr, "POST", CALCULATE, &text, body.as_bytes()).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("content-type"), Some("application/grpc-web-text+proto"));
    answer.body = unbase64(&answer.body);
    answer.headers.retain(|(n, _)| n != "content-type");
    answer.headers.push(("content-type".into(), "application/grpc-web+proto".into()));
    assert_eq!(only_response(&answer), calculator_response::Result::Value(42));

    // Counted as the gRPC calls they are, and computed by the engine (4 calls).
    let handled = r#"grpc_server_handled_total{grpc_code="OK",grpc_method="Calculate",grpc_service="nanocalc.v1.CalculatorService",grpc_type="unary"}"#;
    assert_eq!(server.metric(handled).await, 4.0);
    assert_eq!(server.total("nanocalc_engine_requests_total").await, 4.0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_and_the_message_size_limit_apply_as_over_grpc() {
    let server = TestServer::start(&["--token", TOKEN, "--max-message-bytes", "64"]).await;
    for auth in [vec![], vec![("authorization", "Bearer wrong")]] {
        let answer = http1(server.addr, "POST", CALCULATE, &web_headers(&auth), &add(2, 3)).await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.grpc_status().0, "16", "UNAUTHENTICATED ({auth:?})");
        assert!(answer.grpc_web().0.is_empty(), "no response message");
    }
    let auth = [("authorization", BEARER)];
    let expression = request(calculator_request::Operation::Expression(pb::Expression { text: "1+".repeat(40) + "1" }));
    let answer = http1(server.addr, "POST", CALCULATE, &web_headers(&auth), &expression).await;
    let (code, message) = answer.grpc_status();
    assert_eq!(code, "8", "RESOURCE_EXHAUSTED: {message}");
    assert_eq!(server.total("nanocalc_engine_requests_total").await, 0.0, "nothing was computed");

    // gRPC's framing is checked as for gRPC: a body ending inside a message is INTERNAL.
    let cut = &add(2, 3)[..7];
    let answer = http1(server.addr, "POST", CALCULATE, &web_headers(&auth), cut).await;
    assert_eq!(answer.grpc_status().0, "13");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allowed_origin_gets_the_cors_headers_and_its_preflight_is_answered() {
    let server = TestServer::start(&["--cors-origin", PAGE, "--cors-origin", "https://other.example"]).await;
    let preflight = [
        ("origin", PAGE),
        ("access-control-request-method", "POST"),
        ("access-control-request-headers", "authorization,content-type,x-grpc-web"),
    ];
    let answer = http1(server.addr, "OPTIONS", CALCULATE, &preflight, b"").await;
    assert_eq!(answer.status, 204);
    assert_eq!(answer.header("access-control-allow-origin"), Some(PAGE));
    assert_eq!(answer.header("access-control-allow-methods"), Some("POST"));
    let allowed = answer.header("access-control-allow-headers").unwrap();
    for name in ["authorization", "content-type", "x-grpc-web", "grpc-timeout"] {
        assert!(allowed.split(", ").any(|h| h == name), "{name} in {allowed}");
    }

    let answer = http1(server.addr, "POST", CALCULATE, &web_headers(&[("origin", PAGE)]), &add(2, 3)).await;
    assert_eq!(only_response(&answer), calculator_response::Result::Value(5));
    assert_eq!(answer.header("access-control-allow-origin"), Some(PAGE));
    let exposed = answer.header("access-control-expose-headers").unwrap();
    assert!(exposed.contains("grpc-status") && exposed.contains("grpc-message"), "{exposed}");

    // Without an Origin (not a browser): served, no CORS headers.
    let answer = http1(server.addr, "POST", CALCULATE, &web_headers(&[]), &add(2, 3)).await;
    assert_eq!(only_response(&answer), calculator_response::Result::Value(5));
    assert_eq!(answer.header("access-control-allow-origin"), None);

    // HTTP/1.1 that is not gRPC-Web is refused (gRPC itself needs HTTP/2).
    let grpc = [("content-type", "application/grpc")];
    assert_eq!(http1(server.addr, "POST", CALCULATE, &grpc, &add(2, 3)).await.status, 400);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disallowed_origin_is_refused_before_anything_is_computed() {
    for args in [&["--cors-origin", PAGE][..], &[]] {
        let server = TestServer::start(args).await;
        for origin in ["http://127.0.0.1:9999", "https://evil.example", "null"] {
            let answer = http1(server.addr, "POST", CALCULATE, &web_headers(&[("origin", origin)]), &add(2, 3)).await;
            assert_eq!(answer.status, 403, "{origin} with {args:?}");
            assert_eq!(answer.header("access-control-allow-origin"), None);
            assert!(answer.grpc_web_free(), "no gRPC answer");
            let preflight = [("origin", origin), ("access-control-request-method", "POST")];
            let answer = http1(server.addr, "OPTIONS", CALCULATE, &preflight, b"").await;
            assert_eq!(answer.status, 403);
            assert_eq!(answer.header("access-control-allow-origin"), None);
        }
        assert_eq!(server.total("nanocalc_engine_requests_total").await, 0.0);
        assert_eq!(server.total("grpc_server_started_total").await, 0.0, "not even counted as a call");
        // The same call without an Origin (not from a browser) is served, and counted.
        let answer = http1(server.addr, "POST", CALCULATE, &web_headers(&[]), &add(2, 3)).await;
        assert_eq!(only_response(&answer), calculator_response::Result::Value(5));
        assert_eq!(server.total("nanocalc_engine_requests_total").await, 1.0);
        assert_eq!(server.total("grpc_server_started_total").await, 1.0);
        server.stop().await;
    }
}

impl Answer {
    fn grpc_web_free(&self) -> bool {
        self.header("grpc-status").is_none() && self.body.starts_with(b"nanocalc-server: this origin is not allowed")
    }
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut text = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | (b as u32) << (16 - 8 * i));
        for k in 0..4 {
            let c = if k <= chunk.len() { ALPHABET[(n >> (18 - 6 * k) & 63) as usize] } else { b'=' };
            text.push(c as char);
        }
    }
    text
}

/// Base64 text, possibly several padded pieces one after another (one per frame).
fn unbase64(text: &[u8]) -> Vec<u8> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bytes = Vec::new();
    for quad in text.chunks(4) {
        let digits: Vec<u32> = quad
            .iter()
            .take_while(|&&c| c != b'=')
            .map(|c| ALPHABET.iter().position(|a| a == c).unwrap() as u32)
            .collect();
        let n = digits.iter().enumerate().fold(0u32, |n, (i, d)| n | d << (18 - 6 * i));
        for k in 0..digits.len().saturating_sub(1) {
            bytes.push((n >> (16 - 8 * k)) as u8);
        }
    }
    bytes
}
