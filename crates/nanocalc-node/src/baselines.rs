//! The benchmark's baselines, compiled only with the feature `bench-baselines` (`npm run
//! build:native-bench` builds that addon into target/bench-addon/; the published addon, built by
//! `npm run build:native`, has neither function): `boundaryFloor`, the floor of a Node-API crossing,
//! and `processBuffer`, the generic path a straightforward port would take.

use std::ptr;

use nanocalc_core::{ErrorCode, Limits};
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::raw_function;

/// `boundaryFloor()`: a raw callback with no arguments that does nothing, so the benchmark can
/// show what the Node-API crossing alone costs.
unsafe extern "C" fn boundary_floor(_env: sys::napi_env, _info: sys::napi_callback_info) -> sys::napi_value {
    ptr::null_mut()
}

/// Adds the raw exports to the module.
#[napi(module_exports)]
pub fn init(mut exports: Object, env: Env) -> Result<()> {
    let function = raw_function(&env, "boundaryFloor", boundary_floor, ptr::null_mut())?;
    // SAFETY: `function` is a live JS function value of this env.
    exports.set_named_property("boundaryFloor", unsafe { Unknown::from_raw_unchecked(env.raw(), function) })
}

// ---- The generic-path baseline ------------------------------------------------------------------

/// The generic path a straightforward port would take, kept as a benchmark baseline: a `Buffer`
/// argument, prost decode into owned messages, a straightforward match, prost encode into a new
/// `Buffer`. It gives the same answers as the engine (the same codes, indexes and, but for the
/// texts of malformed-request errors, the same messages), with the default [`Limits`]; it is not
/// used by the package.
#[napi]
pub fn process_buffer(request: Buffer) -> Buffer {
    use nanocalc_core::arith;
    use nanocalc_core::pb::{self, calculator_request::Operation as Member, calculator_response::Result as Answer};
    use nanocalc_core::{Failure, Op, Overflow, pb::CalculatorResponse};
    use prost::Message;

    fn error(code: ErrorCode, message: String, index: u64) -> Answer {
        Answer::Error(pb::CalculationError { code: code as i32, message, index })
    }
    fn failed(failure: Failure, at: Option<usize>) -> Answer {
        let (code, what) = match failure {
            Failure::DivisionByZero => (ErrorCode::DivisionByZero, "division by zero"),
            Failure::Overflow => (ErrorCode::Overflow, "integer overflow"),
        };
        match at {
            None => error(code, what.to_string(), 0),
            Some(index) => error(code, format!("{what} at index {index}"), index as u64),
        }
    }
    fn single(op: Op, mode: Overflow, operands: &pb::BinaryOp) -> Answer {
        match arith::apply(op, mode, operands.a, operands.b) {
            Ok(value) => Answer::Value(value),
            Err(failure) => failed(failure, None),
        }
    }
    fn batch(
        operation: i32,
        mode: Overflow,
        pairs: impl ExactSizeIterator<Item = (i64, i64)>,
        limits: &Limits,
    ) -> Answer {
        let Some(op) = Op::from_wire(operation) else {
            return error(ErrorCode::InvalidRequest, format!("unknown batch operation {operation}"), 0);
        };
        let count = pairs.len();
        if count > limits.max_batch_length {
            let message = format!("batch of {count} operations exceeds the limit of {}", limits.max_batch_length);
            return error(ErrorCode::LimitExceeded, message, 0);
        }
        let mut values = Vec::with_capacity(count);
        for (index, (a, b)) in pairs.enumerate() {
            match arith::apply(op, mode, a, b) {
                Ok(value) => values.push(value),
                Err(failure) => return failed(failure, Some(index)),
            }
        }
        Answer::Batch(pb::BatchResult { values })
    }

    let limits = Limits::default();
    let result = if request.len() > limits.max_request_bytes {
        let message =
            format!("request of {} bytes exceeds the limit of {} bytes", request.len(), limits.max_request_bytes);
        error(ErrorCode::LimitExceeded, message, 0)
    } else {
        match pb::CalculatorRequest::decode(&request[..]) {
            Err(reason) => error(ErrorCode::InvalidRequest, format!("malformed request: {reason}"), 0),
            Ok(pb::CalculatorRequest { overflow, .. }) if Overflow::from_wire(overflow).is_none() => {
                error(ErrorCode::InvalidRequest, format!("unknown overflow mode {overflow}"), 0)
            }
            Ok(pb::CalculatorRequest { operation: None, .. }) => {
                error(ErrorCode::InvalidRequest, "no operation set in the request".to_string(), 0)
            }
            Ok(pb::CalculatorRequest { operation: Some(member), overflow }) => {
                let mode = Overflow::from_wire(overflow).unwrap_or(Overflow::Saturate);
                match member {
                    Member::Batch(rows) => {
                        batch(rows.operation, mode, rows.operations.iter().map(|r| (r.a, r.b)), &limits)
                    }
                    Member::Columns(columns) if columns.a.len() != columns.b.len() => {
                        let message = format!(
                            "column lengths differ: a has {} values, b has {}",
                            columns.a.len(),
                            columns.b.len()
                        );
                        error(ErrorCode::InvalidRequest, message, 0)
                    }
                    Member::Columns(columns) => batch(
                        columns.operation,
                        mode,
                        columns.a.iter().copied().zip(columns.b.iter().copied()),
                        &limits,
                    ),
                    // Not part of the baseline: expressions are answered by the core.
                    Member::Expression(_) => return Buffer::from(nanocalc_core::process(&request, &limits)),
                    one => {
                        let (op, operands) = one.binary().expect("the other forms are matched above");
                        single(op, mode, operands)
                    }
                }
            }
        }
    };
    Buffer::from(CalculatorResponse { result: Some(result) }.encode_to_vec())
}
