//! Structured requests: a model of every `CalculatorRequest` member (the five binary operations,
//! row and column batches with any operation value and columns of any lengths, expressions with
//! any text, and no operation) generated with `arbitrary`, encoded with prost, and sometimes
//! damaged (cut short, garbage appended, one field repeated). Checks:
//!
//! - the engine's answer always decodes with prost as a `CalculatorResponse` with a result;
//! - an undamaged request is answered what the model computes on its own with `arith::apply`
//!   (value, batch values, error code and index; expressions by the shunting-yard evaluator of
//!   nanocalc-testkit);
//! - every request, damaged or not, is answered what the prost reference of nanocalc-testkit gives,
//!   and what prost rejects as a `CalculatorRequest` the engine answers `INVALID_REQUEST` (unless
//!   over the size limit), its fast decoder rejecting exactly the same.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use nanocalc_core::pb::{self, calculator_request::Operation as Member, calculator_response::Result as Answer};
use nanocalc_core::{Limits, arith};
use nanocalc_testkit::{decode_response, evaluate, reference};
use prost::Message;

#[derive(Arbitrary, Debug)]
struct Input {
    request: Model,
    /// The `overflow` field: a mode (0 to 3) or an unknown value.
    overflow: OverflowField,
    limits: Option<TightLimits>,
    mutation: Option<Mutation>,
}

#[derive(Arbitrary, Debug)]
enum Model {
    Nothing,
    Binary(BinaryKind, Operand, Operand),
    Rows { operation: Operation, rows: Vec<(Operand, Operand)> },
    Columns { operation: Operation, a: Vec<Operand>, b: Vec<Operand> },
    Expression(Text),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum OverflowField {
    Unspecified,
    Saturate,
    Wrap,
    Error,
    Unknown(i32),
}

impl OverflowField {
    fn wire(self) -> i32 {
        match self {
            OverflowField::Unspecified => 0,
            OverflowField::Saturate => 1,
            OverflowField::Wrap => 2,
            OverflowField::Error => 3,
            OverflowField::Unknown(value) => value,
        }
    }
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum BinaryKind {
    Add,
    Subtract,
    Multiply,
    Divide,
    Remainder,
}

impl BinaryKind {
    fn op(self) -> arith::Op {
        match self {
            BinaryKind::Add => arith::Op::Add,
            BinaryKind::Subtract => arith::Op::Subtract,
            BinaryKind::Multiply => arith::Op::Multiply,
            BinaryKind::Divide => arith::Op::Divide,
            BinaryKind::Remainder => arith::Op::Remainder,
        }
    }
}

/// A batch's `operation` field: one of the five, UNSPECIFIED (0), or any other wire value.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Operation {
    Known(BinaryKind),
    Unspecified,
    Other(i32),
}

impl Operation {
    fn wire(self) -> i32 {
        match self {
            Operation::Known(kind) => kind.op() as i32,
            Operation::Unspecified => 0,
            Operation::Other(value) => value,
        }
    }
}

/// An i64 operand, with zero, ±1, the extremes and small values well represented.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Operand {
    Zero,
    Edge(u8),
    Small(i8),
    Any(i64),
}

const EDGES: [i64; 8] = [i64::MIN, i64::MIN + 1, -(1 << 32), -1, 1, 1 << 32, i64::MAX - 1, i64::MAX];

impl Operand {
    fn value(self) -> i64 {
        match self {
            Operand::Zero => 0,
            Operand::Edge(i) => EDGES[usize::from(i) % EDGES.len()],
            Operand::Small(v) => i64::from(v),
            Operand::Any(v) => v,
        }
    }
}

/// Expression text: any string, or one assembled from the grammar's tokens (mostly valid).
#[derive(Arbitrary, Debug)]
enum Text {
    Any(String),
    Tokens(Vec<Token>),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Token {
    Number(Operand),
    Literal(u64),
    Plus,
    Minus,
    Times,
    Divide,
    Remainder,
    Open,
    Close,
    Space,
}

impl Text {
    fn render(&self) -> String {
        let tokens = match self {
            Text::Any(text) => return text.clone(),
            Text::Tokens(tokens) => tokens,
        };
        let mut text = String::new();
        for token in tokens {
            match *token {
                Token::Number(operand) => text.push_str(&operand.value().unsigned_abs().to_string()),
                Token::Literal(value) => text.push_str(&value.to_string()),
                Token::Plus => text.push('+'),
                Token::Minus => text.push('-'),
                Token::Times => text.push('*'),
                Token::Divide => text.push('/'),
                Token::Remainder => text.push('%'),
                Token::Open => text.push('('),
                Token::Close => text.push(')'),
                Token::Space => text.push(' '),
            }
        }
        text
    }
}

/// Limits far below the defaults, so that every limit is reached now and then.
#[derive(Arbitrary, Debug)]
struct TightLimits {
    request_bytes: u16,
    batch_length: u8,
    expression_bytes: u8,
    expression_depth: u8,
}

#[derive(Arbitrary, Debug)]
enum Mutation {
    /// Keep only the first `n % len` bytes.
    Truncate(u16),
    /// Append these bytes.
    AppendGarbage(Vec<u8>),
    /// Repeat one field: the request's own (so the member is merged with itself), or the
    /// `n`-th field inside the member (a scalar's last value wins, a repeated field grows).
    DuplicateField { inner: bool, n: u8 },
}

impl Model {
    fn member(&self) -> Option<Member> {
        let pair = |a: Operand, b: Operand| pb::BinaryOp { a: a.value(), b: b.value() };
        Some(match self {
            Model::Nothing => return None,
            Model::Binary(kind, a, b) => match kind {
                BinaryKind::Add => Member::Add(pair(*a, *b)),
                BinaryKind::Subtract => Member::Subtract(pair(*a, *b)),
                BinaryKind::Multiply => Member::Multiply(pair(*a, *b)),
                BinaryKind::Divide => Member::Divide(pair(*a, *b)),
                BinaryKind::Remainder => Member::Remainder(pair(*a, *b)),
            },
            Model::Rows { operation, rows } => Member::Batch(pb::BatchOperation {
                operation: operation.wire(),
                operations: rows.iter().map(|&(a, b)| pair(a, b)).collect(),
            }),
            Model::Columns { operation, a, b } => Member::Columns(pb::ColumnBatch {
                operation: operation.wire(),
                a: a.iter().map(|v| v.value()).collect(),
                b: b.iter().map(|v| v.value()).collect(),
            }),
            Model::Expression(text) => Member::Expression(pb::Expression { text: text.render() }),
        })
    }
}

fn error(code: pb::ErrorCode, index: u64) -> Answer {
    Answer::Error(pb::CalculationError { code: code as i32, message: String::new(), index })
}

fn failure_code(failure: arith::Failure) -> pb::ErrorCode {
    match failure {
        arith::Failure::DivisionByZero => pb::ErrorCode::DivisionByZero,
        arith::Failure::Overflow => pb::ErrorCode::Overflow,
    }
}

/// A batch computed element by element with `arith::apply`: the first failing element fails it.
fn batch(operation: Operation, mode: arith::Overflow, pairs: &[(i64, i64)], limits: &Limits) -> Answer {
    let Some(op) = arith::Op::from_wire(operation.wire()) else { return error(pb::ErrorCode::InvalidRequest, 0) };
    if pairs.len() > limits.max_batch_length {
        return error(pb::ErrorCode::LimitExceeded, 0);
    }
    let mut values = Vec::with_capacity(pairs.len());
    for (index, &(a, b)) in pairs.iter().enumerate() {
        match arith::apply(op, mode, a, b) {
            Ok(value) => values.push(value),
            Err(failure) => return error(failure_code(failure), index as u64),
        }
    }
    Answer::Batch(pb::BatchResult { values })
}

/// What the engine must answer to the undamaged encoding (`request_len` bytes) of `model` with
/// the overflow field `overflow`.
fn expected(model: &Model, overflow: OverflowField, request_len: usize, limits: &Limits) -> Answer {
    if request_len > limits.max_request_bytes {
        return error(pb::ErrorCode::LimitExceeded, 0);
    }
    let Some(mode) = arith::Overflow::from_wire(overflow.wire()) else {
        return error(pb::ErrorCode::InvalidRequest, 0);
    };
    match model {
        Model::Nothing => error(pb::ErrorCode::InvalidRequest, 0),
        Model::Binary(kind, a, b) => match arith::apply(kind.op(), mode, a.value(), b.value()) {
            Ok(value) => Answer::Value(value),
            Err(failure) => error(failure_code(failure), 0),
        },
        Model::Rows { operation, rows } => {
            let pairs: Vec<(i64, i64)> = rows.iter().map(|(a, b)| (a.value(), b.value())).collect();
            batch(*operation, mode, &pairs, limits)
        }
        Model::Columns { a, b, .. } if a.len() != b.len() => error(pb::ErrorCode::InvalidRequest, 0),
        Model::Columns { operation, a, b } => {
            let pairs: Vec<(i64, i64)> = a.iter().zip(b).map(|(a, b)| (a.value(), b.value())).collect();
            batch(*operation, mode, &pairs, limits)
        }
        Model::Expression(text) => {
            let text = text.render();
            if text.len() > limits.max_expression_bytes {
                return error(pb::ErrorCode::LimitExceeded, 0);
            }
            match evaluate(&text, overflow.wire(), limits.max_expression_depth) {
                Ok(value) => Answer::Value(value),
                Err((code, at)) => error(code, at as u64),
            }
        }
    }
}

fn varint(bytes: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = bytes.split_first()?;
        *bytes = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Some(value);
        }
    }
    None
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// The byte ranges of the fields of a well-formed message (prost's own encoding).
fn fields(message: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut ranges = Vec::new();
    let mut rest = message;
    while !rest.is_empty() {
        let start = message.len() - rest.len();
        let Some(key) = varint(&mut rest) else { break };
        let skip = match key & 7 {
            0 => varint(&mut rest).map(|_| 0),
            1 => Some(8),
            2 => varint(&mut rest).map(|len| len as usize),
            5 => Some(4),
            _ => None,
        };
        let Some(skip) = skip.filter(|&n| n <= rest.len()) else { break };
        rest = &rest[skip..];
        ranges.push(start..message.len() - rest.len());
    }
    ranges
}

fn mutate(request: &[u8], mutation: &Mutation) -> Vec<u8> {
    match mutation {
        Mutation::Truncate(n) => request[..usize::from(*n) % request.len().max(1)].to_vec(),
        Mutation::AppendGarbage(garbage) => [request, garbage].concat(),
        Mutation::DuplicateField { inner, n } => {
            let outer = fields(request);
            // The member: the request's one field, a key then a length then its body.
            let body = outer.first().map(|field| {
                let mut rest = &request[field.clone()];
                let key = varint(&mut rest);
                let len = varint(&mut rest);
                (key, len, field.end - rest.len()..field.end)
            });
            match body {
                Some((Some(key), Some(_), body)) if *inner && key & 7 == 2 => {
                    let inside = fields(&request[body.clone()]);
                    if inside.is_empty() {
                        return [request, request].concat();
                    }
                    let pick = inside[usize::from(*n) % inside.len()].clone();
                    let body = &request[body];
                    let mut grown = body.to_vec();
                    grown.extend_from_slice(&body[pick]);
                    let mut out = Vec::new();
                    put_varint(&mut out, key);
                    put_varint(&mut out, grown.len() as u64);
                    out.extend(grown);
                    out
                }
                _ => [request, request].concat(),
            }
        }
    }
}

fuzz_target!(|input: Input| {
    let limits = match &input.limits {
        None => Limits {
            max_request_bytes: 1 << 16,
            max_batch_length: 4096,
            max_expression_bytes: 4096,
            max_expression_depth: 32,
            ..Limits::default()
        },
        Some(tight) => Limits {
            max_request_bytes: usize::from(tight.request_bytes),
            max_batch_length: usize::from(tight.batch_length),
            max_expression_bytes: usize::from(tight.expression_bytes),
            max_expression_depth: usize::from(tight.expression_depth),
            ..Limits::default()
        },
    };
    let encoded =
        pb::CalculatorRequest { operation: input.request.member(), overflow: input.overflow.wire() }.encode_to_vec();
    let request = match &input.mutation {
        None => encoded.clone(),
        Some(mutation) => mutate(&encoded, mutation),
    };
    let bytes = nanocalc_core::process(&request, &limits);

    // (a) Always a response that prost decodes, with its result set.
    let response = pb::CalculatorResponse::decode(bytes.as_slice())
        .unwrap_or_else(|e| panic!("undecodable response {bytes:02x?} to {request:02x?}: {e}"));
    assert!(response.result.is_some(), "a response without a result to {request:02x?}");
    let answer = decode_response(&bytes);

    // (b) Undamaged: the model's own answer.
    if request == encoded {
        let want =
            pb::CalculatorResponse { result: Some(expected(&input.request, input.overflow, request.len(), &limits)) };
        assert_eq!(answer, want, "model {:?} encoded {request:02x?}", input.request);
    }

    // (c) Prost's view of the same bytes: the reference, and INVALID_REQUEST for what it rejects.
    assert_eq!(answer, reference(&request, &limits), "request {request:02x?} from {input:?}");
    let prost_accepts = pb::CalculatorRequest::decode(request.as_slice()).is_ok();
    assert_eq!(nanocalc_core::decode::decode(&request).is_ok(), prost_accepts, "decoders disagree on {request:02x?}");
    if !prost_accepts && request.len() <= limits.max_request_bytes {
        let invalid = pb::ErrorCode::InvalidRequest as i32;
        assert!(
            matches!(&answer.result, Some(Answer::Error(e)) if e.code == invalid),
            "prost rejects {request:02x?} but the engine answered {answer:?}"
        );
    }
});
