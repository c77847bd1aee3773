//! Panic containment, with the `test-panic` feature (`cargo test -p nanocalc-core --features
//! test-panic --test panic`): `TEST_PANIC_REQUEST` panics inside the engine, and the shared-buffer
//! protocol that every in-process binding runs answers it with `ERROR_CODE_INTERNAL`, then keeps
//! answering correctly with the same buffer.

use std::panic::{AssertUnwindSafe, catch_unwind};

use nanocalc_core::pb::{self, calculator_response::Result as Answer};
use nanocalc_core::shared_buffer::{self, REQUEST_OFFSET};
use nanocalc_core::{ErrorCode, Limits, TEST_PANIC_REQUEST};
use prost::Message;

/// Writes `request` into the shared buffer, runs it, and decodes the response.
fn call(buffer: &mut [u8], request: &[u8]) -> pb::CalculatorResponse {
    buffer[..4].copy_from_slice(&(request.len() as u32).to_le_bytes());
    buffer[REQUEST_OFFSET..REQUEST_OFFSET + request.len()].copy_from_slice(request);
    shared_buffer::run(buffer, &Limits::default()).expect("the protocol is followed");
    let start = u32::from_le_bytes(buffer[4..8].try_into().unwrap()) as usize;
    let len = u32::from_le_bytes(buffer[8..12].try_into().unwrap()) as usize;
    pb::CalculatorResponse::decode(&buffer[start..start + len]).expect("the response decodes")
}

fn add(a: i64, b: i64) -> Vec<u8> {
    use pb::calculator_request::Operation;
    pb::CalculatorRequest { operation: Some(Operation::Add(pb::BinaryOp { a, b })), overflow: 0 }.encode_to_vec()
}

#[test]
fn the_forced_panic_is_a_real_panic() {
    let mut out = vec![0u8; 1024];
    let caught = catch_unwind(AssertUnwindSafe(|| {
        nanocalc_core::process_into(TEST_PANIC_REQUEST, &mut out, &Limits::default())
    }));
    assert!(caught.is_err(), "TEST_PANIC_REQUEST must panic in process_into");
}

#[test]
fn the_shared_buffer_answers_internal_and_keeps_working() {
    let mut buffer = vec![0u8; 4096];
    for round in 0..100 {
        match call(&mut buffer, TEST_PANIC_REQUEST).result {
            Some(Answer::Error(error)) => {
                assert_eq!(error.code, ErrorCode::Internal as i32, "round {round}");
                assert!(error.message.contains("panicked"), "{}", error.message);
            }
            other => panic!("expected an INTERNAL error, got {other:?}"),
        }
        assert_eq!(call(&mut buffer, &add(round, 3)).result, Some(Answer::Value(round + 3)));
    }
}

#[test]
fn without_the_exact_bytes_the_request_is_merely_invalid() {
    // The hook fires on these exact bytes only: a prefix or a longer message is an ordinary request.
    let mut buffer = vec![0u8; 4096];
    for request in [&TEST_PANIC_REQUEST[..6], &[TEST_PANIC_REQUEST, &[0x7a, 0x00]].concat()[..]] {
        match call(&mut buffer, request).result {
            Some(Answer::Error(error)) => assert_eq!(error.code, ErrorCode::InvalidRequest as i32),
            other => panic!("expected INVALID_REQUEST, got {other:?}"),
        }
    }
}

#[test]
fn process_answers_internal_and_keeps_working() {
    // `process` (the allocating entry point the gRPC server uses) contains the panic as well.
    for _ in 0..10 {
        let response =
            pb::CalculatorResponse::decode(&nanocalc_core::process(TEST_PANIC_REQUEST, &Limits::default())[..])
                .expect("the response decodes");
        match response.result {
            Some(Answer::Error(error)) => assert_eq!(error.code(), ErrorCode::Internal),
            other => panic!("expected INTERNAL, got {other:?}"),
        }
        let response = pb::CalculatorResponse::decode(&nanocalc_core::process(&add(2, 3), &Limits::default())[..])
            .expect("the response decodes");
        assert_eq!(response.result, Some(Answer::Value(5)));
    }
}
