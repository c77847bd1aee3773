//! An independent reference for the engine: prost decodes, a 128-bit model computes, prost encodes.
#![allow(dead_code)]

use nanocalc_core::pb::{self, calculator_request::Operation as Member, calculator_response::Result as Answer};
use nanocalc_core::{Limits, Op};
use prost::Message;

/// The exact result, clamped to i64; `None` for a zero divisor.
pub fn model(op: Op, a: i64, b: i64) -> Option<i64> {
    let (a, b) = (i128::from(a), i128::from(b));
    let exact = match op {
        Op::Add => a + b,
        Op::Subtract => a - b,
        Op::Multiply => a * b,
        Op::Divide | Op::Remainder if b == 0 => return None,
        Op::Divide => a / b,
        Op::Remainder => a % b,
    };
    Some(exact.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64)
}

fn error(code: pb::ErrorCode, index: u64) -> Answer {
    Answer::Error(pb::CalculationError { code: code as i32, message: String::new(), index })
}

fn batch(op: i32, pairs: impl ExactSizeIterator<Item = (i64, i64)>, limits: &Limits) -> Answer {
    let Some(op) = Op::from_wire(op) else { return error(pb::ErrorCode::InvalidRequest, 0) };
    if pairs.len() > limits.max_batch_length {
        return error(pb::ErrorCode::LimitExceeded, 0);
    }
    let mut values = Vec::new();
    for (index, (a, b)) in pairs.enumerate() {
        match model(op, a, b) {
            Some(value) => values.push(value),
            None => return error(pb::ErrorCode::DivisionByZero, index as u64),
        }
    }
    Answer::Batch(pb::BatchResult { values })
}

/// What the engine must answer, with empty error messages (the engine's texts are free-form).
pub fn reference(request: &[u8], limits: &Limits) -> pb::CalculatorResponse {
    let result = if request.len() > limits.max_request_bytes {
        error(pb::ErrorCode::LimitExceeded, 0)
    } else {
        match pb::CalculatorRequest::decode(request) {
            Err(_) | Ok(pb::CalculatorRequest { operation: None }) => error(pb::ErrorCode::InvalidRequest, 0),
            Ok(pb::CalculatorRequest { operation: Some(member) }) => match member {
                Member::Add(op) => single(Op::Add, &op),
                Member::Subtract(op) => single(Op::Subtract, &op),
                Member::Multiply(op) => single(Op::Multiply, &op),
                Member::Divide(op) => single(Op::Divide, &op),
                Member::Remainder(op) => single(Op::Remainder, &op),
                Member::Batch(rows) => batch(rows.operation, rows.operations.iter().map(|r| (r.a, r.b)), limits),
                Member::Columns(columns) if columns.a.len() != columns.b.len() => {
                    error(pb::ErrorCode::InvalidRequest, 0)
                }
                Member::Columns(columns) => {
                    batch(columns.operation, columns.a.iter().copied().zip(columns.b.iter().copied()), limits)
                }
            },
        }
    };
    pb::CalculatorResponse { result: Some(result) }
}

fn single(op: Op, operands: &pb::BinaryOp) -> Answer {
    match model(op, operands.a, operands.b) {
        Some(value) => Answer::Value(value),
        None => error(pb::ErrorCode::DivisionByZero, 0),
    }
}

/// Decodes an engine response (which must decode) and blanks the error message for comparison.
pub fn decode_response(bytes: &[u8]) -> pb::CalculatorResponse {
    let mut response = pb::CalculatorResponse::decode(bytes).expect("the engine's response decodes with prost");
    if let Some(Answer::Error(error)) = &mut response.result {
        assert!(!error.message.is_empty(), "every error carries a message");
        error.message.clear();
    }
    response
}

pub fn encode(member: Member) -> Vec<u8> {
    pb::CalculatorRequest { operation: Some(member) }.encode_to_vec()
}
