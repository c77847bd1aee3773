//! Tests only (never a dependency of a shipped crate): an independent reference for the engine,
//! shared by nanocalc-core's unit and integration tests, its benches and the fuzz targets. Prost
//! decodes, a 128-bit model computes, prost encodes; expressions go through a shunting-yard
//! evaluator instead of the engine's recursive descent. It takes nanocalc-core's schema types
//! (`pb`), `Op` and `Limits`, and none of its arithmetic or decoding.

use nanocalc_core::pb::{self, calculator_request::Operation as Member, calculator_response::Result as Answer};
use nanocalc_core::{Limits, Op};
use prost::Message;

/// The exact result of `a op b` by 128-bit arithmetic, clamped to i64; `None` for a zero divisor:
/// the model of `nanocalc_core::arith::apply`. `op` is the operation's wire value (`Op as i32`, 1
/// to 5) so that nanocalc-core's unit tests can call it too: there `Op` is the crate under test's
/// own, another type than the `Op` of the nanocalc-core this crate is built with.
pub fn model(op: i32, a: i64, b: i64) -> Option<i64> {
    let (a, b) = (i128::from(a), i128::from(b));
    let exact = match Op::from_wire(op).expect("an operation's wire value, 1 to 5") {
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
        match model(op as i32, a, b) {
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
                Member::Expression(expression) if expression.text.len() > limits.max_expression_bytes => {
                    error(pb::ErrorCode::LimitExceeded, 0)
                }
                Member::Expression(expression) => match evaluate(&expression.text, limits.max_expression_depth) {
                    Ok(value) => Answer::Value(value),
                    Err((code, at)) => error(code, at as u64),
                },
            },
        }
    };
    pb::CalculatorResponse { result: Some(result) }
}

fn single(op: Op, operands: &pb::BinaryOp) -> Answer {
    match model(op as i32, operands.a, operands.b) {
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

/// A request of one member, encoded by prost.
pub fn encode(member: Member) -> Vec<u8> {
    pb::CalculatorRequest { operation: Some(member) }.encode_to_vec()
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
    Negate,
    Binary(Op, usize),
}

fn precedence(pending: Pending) -> u8 {
    match pending {
        Pending::Open => 0,
        Pending::Binary(Op::Add | Op::Subtract, _) => 1,
        Pending::Binary(..) => 2,
        Pending::Negate => 3,
    }
}

/// An RPN item: a value, a negation, or a binary operation at an offset.
#[derive(Clone, Copy, Debug)]
enum Rpn {
    Value(i64),
    Negate,
    Binary(Op, usize),
}

fn pop_into(stack: &mut Vec<Pending>, rpn: &mut Vec<Rpn>) {
    match stack.pop() {
        Some(Pending::Negate) => rpn.push(Rpn::Negate),
        Some(Pending::Binary(op, at)) => rpn.push(Rpn::Binary(op, at)),
        _ => unreachable!("only operators are popped into the output"),
    }
}

/// An expression evaluated independently of the engine's recursive descent: a tokenizer, the
/// shunting-yard algorithm to RPN (syntax and depth checked on the way, in reading order), then a
/// stack machine over `model` (exact 128-bit steps, clamped). The errors as (code, offset).
pub fn evaluate(text: &str, max_depth: usize) -> Result<i64, (pb::ErrorCode, usize)> {
    let syntax = |at| Err((pb::ErrorCode::SyntaxError, at));
    let mut stack: Vec<Pending> = Vec::new();
    let mut rpn: Vec<Rpn> = Vec::new();
    let mut depth = 0;
    let mut expect_operand = true;
    for (token, at) in tokens(text) {
        if expect_operand {
            match token {
                Token::Op(b'-') => stack.push(Pending::Negate),
                Token::Open if depth == max_depth => return Err((pb::ErrorCode::LimitExceeded, at)),
                Token::Open => {
                    depth += 1;
                    stack.push(Pending::Open);
                }
                Token::Number(n) if n <= i64::MAX as u128 => {
                    rpn.push(Rpn::Value(n as i64));
                    expect_operand = false;
                }
                Token::Number(n) if n == 1 << 63 && matches!(stack.last(), Some(Pending::Negate)) => {
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
            Rpn::Negate => {
                let x = values.pop().unwrap();
                values.push(model(Op::Subtract as i32, 0, x).unwrap());
            }
            Rpn::Binary(op, at) => {
                let b = values.pop().unwrap();
                let a = values.pop().unwrap();
                values.push(model(op as i32, a, b).ok_or((pb::ErrorCode::DivisionByZero, at))?);
            }
        }
    }
    assert_eq!(values.len(), 1, "{text:?}");
    Ok(values[0])
}
