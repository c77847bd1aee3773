//! Tests only (never a dependency of a shipped crate): an independent reference for the engine,
//! shared by nanocalc-core's unit and integration tests, its benches and the fuzz targets. Prost
//! decodes, a 128-bit model computes, prost encodes; expressions go through a shunting-yard
//! evaluator instead of the engine's recursive descent. It takes nanocalc-core's schema types
//! (`pb`), `Op` and `Limits`, and none of its arithmetic or decoding.

use nanocalc_core::pb::{self, calculator_request::Operation as Member, calculator_response::Result as Answer};
use nanocalc_core::{Limits, Op};
use prost::Message;

/// The exact result of `a op b` by 128-bit arithmetic, then, when it does not fit in i64, clamped
/// (saturate), truncated to 64 bits (wrap) or refused (error), as the `Overflow` mode `overflow`
/// says: the model of `nanocalc_core::arith::apply`. A failure is the `ErrorCode` it is answered
/// with. `op` and `overflow` are wire values (`Op as i32`: 1 to 5; 0 to 3) so that nanocalc-core's
/// unit tests can call it too: there `Op` is the crate under test's own, another type than the
/// `Op` of the nanocalc-core this crate is built with.
pub fn model(op: i32, overflow: i32, a: i64, b: i64) -> Result<i64, pb::ErrorCode> {
    let (a, b) = (i128::from(a), i128::from(b));
    let exact = match Op::from_wire(op).expect("an operation's wire value, 1 to 5") {
        Op::Add => a + b,
        Op::Subtract => a - b,
        Op::Multiply => a * b,
        Op::Divide | Op::Remainder if b == 0 => return Err(pb::ErrorCode::DivisionByZero),
        Op::Divide => a / b,
        Op::Remainder => a % b,
    };
    if let Ok(fits) = i64::try_from(exact) {
        return Ok(fits);
    }
    match pb::Overflow::try_from(overflow).expect("an overflow mode's wire value, 0 to 3") {
        pb::Overflow::Unspecified | pb::Overflow::Saturate => {
            Ok(exact.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64)
        }
        pb::Overflow::Wrap => Ok(exact as i64),
        pb::Overflow::Error => Err(pb::ErrorCode::Overflow),
    }
}

fn error(code: pb::ErrorCode, index: u64) -> Answer {
    Answer::Error(pb::CalculationError { code: code as i32, message: String::new(), index })
}

fn batch(op: i32, overflow: i32, pairs: impl ExactSizeIterator<Item = (i64, i64)>, limits: &Limits) -> Answer {
    let Some(op) = Op::from_wire(op) else { return error(pb::ErrorCode::InvalidRequest, 0) };
    if pairs.len() > limits.max_batch_length {
        return error(pb::ErrorCode::LimitExceeded, 0);
    }
    let mut values = Vec::new();
    for (index, (a, b)) in pairs.enumerate() {
        match model(op as i32, overflow, a, b) {
            Ok(value) => values.push(value),
            Err(code) => return error(code, index as u64),
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
            Err(_) => error(pb::ErrorCode::InvalidRequest, 0),
            Ok(pb::CalculatorRequest { overflow, .. }) if pb::Overflow::try_from(overflow).is_err() => {
                error(pb::ErrorCode::InvalidRequest, 0)
            }
            Ok(pb::CalculatorRequest { operation: None, .. }) => error(pb::ErrorCode::InvalidRequest, 0),
            Ok(pb::CalculatorRequest { operation: Some(member), overflow }) => match member {
                Member::Batch(rows) => {
                    batch(rows.operation, overflow, rows.operations.iter().map(|r| (r.a, r.b)), limits)
                }
                Member::Columns(columns) if columns.a.len() != columns.b.len() => {
                    error(pb::ErrorCode::InvalidRequest, 0)
                }
                Member::Columns(columns) => {
                    batch(columns.operation, overflow, columns.a.iter().copied().zip(columns.b.iter().copied()), limits)
                }
                Member::Expression(expression) if expression.text.len() > limits.max_expression_bytes => {
                    error(pb::ErrorCode::LimitExceeded, 0)
                }
                Member::Expression(expression) => {
                    match evaluate(&expression.text, overflow, limits.max_expression_depth) {
                        Ok(value) => Answer::Value(value),
                        Err((code, at)) => error(code, at as u64),
                    }
                }
                one => {
                    let (op, operands) = one.binary().expect("the other forms are matched above");
                    single(op, overflow, operands)
                }
            },
        }
    };
    pb::CalculatorResponse { result: Some(result) }
}

fn single(op: Op, overflow: i32, operands: &pb::BinaryOp) -> Answer {
    match model(op as i32, overflow, operands.a, operands.b) {
        Ok(value) => Answer::Value(value),
        Err(code) => error(code, 0),
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

/// A request of one member, encoded by prost.
pub fn encode(member: Member) -> Vec<u8> {
    pb::CalculatorRequest { operation: Some(member), overflow: 0 }.encode_to_vec()
}

/// A token of an expression and its byte offset.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Token {
    Number(u128),
    Op(u8),
    Open,
    Close,
    End,
    Bad,
}

fn tokens(text: &str) -> Vec<(Token, usize)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        while i < bytes.len() && b" \t\r\n".contains(&bytes[i]) {
            i += 1;
        }
        let Some(&byte) = bytes.get(i) else {
            out.push((Token::End, i));
            return out;
        };
        let start = i;
        let token = match byte {
            b'0'..=b'9' => {
                let mut value: u128 = 0;
                while i < bytes.len() && bytes[i].is_ascii_digit() {
                    value = (value * 10 + u128::from(bytes[i] - b'0')).min(1 << 100);
                    i += 1;
                }
                out.push((Token::Number(value), start));
                continue;
            }
            b'+' | b'-' | b'*' | b'/' | b'%' => Token::Op(byte),
            b'(' => Token::Open,
            b')' => Token::Close,
            _ => Token::Bad,
        };
        out.push((token, start));
        if token == Token::Bad {
            return out;
        }
        i += 1;
    }
}

/// An operator on the shunting-yard stack: `(` (with its offset), unary minus, or a binary one.
#[derive(Clone, Copy, Debug)]
enum Pending {
    Open,
    Negate(usize),
    Binary(Op, usize),
}

fn precedence(pending: Pending) -> u8 {
    match pending {
        Pending::Open => 0,
        Pending::Binary(Op::Add | Op::Subtract, _) => 1,
        Pending::Binary(..) => 2,
        Pending::Negate(_) => 3,
    }
}

/// An RPN item: a value, or a negation or a binary operation at an offset.
#[derive(Clone, Copy, Debug)]
enum Rpn {
    Value(i64),
    Negate(usize),
    Binary(Op, usize),
}

fn pop_into(stack: &mut Vec<Pending>, rpn: &mut Vec<Rpn>) {
    match stack.pop() {
        Some(Pending::Negate(at)) => rpn.push(Rpn::Negate(at)),
        Some(Pending::Binary(op, at)) => rpn.push(Rpn::Binary(op, at)),
        _ => unreachable!("only operators are popped into the output"),
    }
}

/// An expression evaluated independently of the engine's recursive descent: a tokenizer, the
/// shunting-yard algorithm to RPN (syntax and depth checked on the way, in reading order), then a
/// stack machine over `model` (exact 128-bit steps, then the `Overflow` mode `overflow`). The
/// errors as (code, offset).
pub fn evaluate(text: &str, overflow: i32, max_depth: usize) -> Result<i64, (pb::ErrorCode, usize)> {
    let syntax = |at| Err((pb::ErrorCode::SyntaxError, at));
    let mut stack: Vec<Pending> = Vec::new();
    let mut rpn: Vec<Rpn> = Vec::new();
    let mut depth = 0;
    let mut expect_operand = true;
    for (token, at) in tokens(text) {
        if expect_operand {
            match token {
                Token::Op(b'-') => stack.push(Pending::Negate(at)),
                Token::Open if depth == max_depth => return Err((pb::ErrorCode::LimitExceeded, at)),
                Token::Open => {
                    depth += 1;
                    stack.push(Pending::Open);
                }
                Token::Number(n) if n <= i64::MAX as u128 => {
                    rpn.push(Rpn::Value(n as i64));
                    expect_operand = false;
                }
                Token::Number(n) if n == 1 << 63 && matches!(stack.last(), Some(Pending::Negate(_))) => {
                    stack.pop();
                    rpn.push(Rpn::Value(i64::MIN));
                    expect_operand = false;
                }
                _ => return syntax(at),
            }
            continue;
        }
        match token {
            Token::Op(byte) => {
                let op = match byte {
                    b'+' => Op::Add,
                    b'-' => Op::Subtract,
                    b'*' => Op::Multiply,
                    b'/' => Op::Divide,
                    _ => Op::Remainder,
                };
                let incoming = Pending::Binary(op, at);
                while stack.last().is_some_and(|&top| precedence(top) >= precedence(incoming)) {
                    pop_into(&mut stack, &mut rpn);
                }
                stack.push(incoming);
                expect_operand = true;
            }
            Token::Close if depth > 0 => {
                while !matches!(stack.last(), Some(Pending::Open)) {
                    pop_into(&mut stack, &mut rpn);
                }
                stack.pop();
                depth -= 1;
            }
            Token::End if depth == 0 => {
                while !stack.is_empty() {
                    pop_into(&mut stack, &mut rpn);
                }
            }
            _ => return syntax(at),
        }
    }
    let mut values: Vec<i64> = Vec::new();
    for item in rpn {
        match item {
            Rpn::Value(value) => values.push(value),
            Rpn::Negate(at) => {
                let x = values.pop().unwrap();
                values.push(model(Op::Subtract as i32, overflow, 0, x).map_err(|code| (code, at))?);
            }
            Rpn::Binary(op, at) => {
                let b = values.pop().unwrap();
                let a = values.pop().unwrap();
                values.push(model(op as i32, overflow, a, b).map_err(|code| (code, at))?);
            }
        }
    }
    assert_eq!(values.len(), 1, "{text:?}");
    Ok(values[0])
}

/// A xorshift sequence of `i64`s of every size, each shifted right by `x % shift_modulus` bits:
/// varints of 1 to 10 bytes (or operands of every width) in an order no branch predictor learns.
pub fn mixed_i64s(shift_modulus: u64) -> impl FnMut() -> i64 {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x as i64) >> (x % shift_modulus)
    }
}
