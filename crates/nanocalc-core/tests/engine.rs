//! The engine through its only interface, bytes in and bytes out, at the edges of i64 and of the wire.

use nanocalc_core::pb::{self, calculator_request::Operation as Member, calculator_response::Result as Answer};
use nanocalc_core::{Limits, Outcome, process, process_into};
use nanocalc_testkit::{decode_response, encode, reference};
use prost::Message;

const MIN: i64 = i64::MIN;
const MAX: i64 = i64::MAX;

fn answer(request: &[u8]) -> Answer {
    decode_response(&process(request, &Limits::default())).result.expect("a result is always set")
}

/// A constructor of a `CalculatorRequest` oneof member from its `BinaryOp`.
type MemberOf = fn(pb::BinaryOp) -> Member;

fn binary(member: MemberOf, a: i64, b: i64) -> Answer {
    answer(&encode(member(pb::BinaryOp { a, b })))
}

fn error_code(answer: &Answer) -> (pb::ErrorCode, u64) {
    match answer {
        Answer::Error(error) => (error.code(), error.index),
        other => panic!("expected an error, got {other:?}"),
    }
}

#[test]
fn add_subtract_multiply_saturate_at_both_ends() {
    let cases: &[(MemberOf, i64, i64, i64)] = &[
        (Member::Add, MAX, 1, MAX),
        (Member::Add, MIN, -1, MIN),
        (Member::Add, MAX, MIN, -1),
        (Member::Add, -1, 1, 0),
        (Member::Add, 0, 0, 0),
        (Member::Subtract, MIN, 1, MIN),
        (Member::Subtract, MAX, -1, MAX),
        (Member::Subtract, 0, MIN, MAX),
        (Member::Subtract, -1, MAX, MIN),
        (Member::Multiply, MIN, -1, MAX),
        (Member::Multiply, MAX, -1, MIN + 1),
        (Member::Multiply, MAX, 2, MAX),
        (Member::Multiply, MIN, 2, MIN),
        (Member::Multiply, MIN, 1, MIN),
        (Member::Multiply, 1 << 32, 1 << 31, MAX),
        (Member::Multiply, -(1 << 32), 1 << 31, MIN),
        (Member::Multiply, -(1 << 32), 1 << 30, -(1 << 62)),
    ];
    for &(member, a, b, expected) in cases {
        assert_eq!(binary(member, a, b), Answer::Value(expected), "{:?}", member(pb::BinaryOp { a, b }));
    }
}

#[test]
fn divide_truncates_toward_zero_and_saturates() {
    assert_eq!(binary(Member::Divide, MIN, -1), Answer::Value(MAX));
    assert_eq!(binary(Member::Divide, MIN, 1), Answer::Value(MIN));
    assert_eq!(binary(Member::Divide, -7, 2), Answer::Value(-3));
    assert_eq!(binary(Member::Divide, 7, -2), Answer::Value(-3));
    assert_eq!(binary(Member::Divide, 0, -5), Answer::Value(0));
    assert_eq!(binary(Member::Divide, MAX, MAX), Answer::Value(1));
}

#[test]
fn remainder_takes_the_sign_of_the_dividend() {
    assert_eq!(binary(Member::Remainder, MIN, -1), Answer::Value(0));
    assert_eq!(binary(Member::Remainder, -7, 2), Answer::Value(-1));
    assert_eq!(binary(Member::Remainder, 7, -2), Answer::Value(1));
    assert_eq!(binary(Member::Remainder, MIN, MAX), Answer::Value(-1));
}

#[test]
fn division_and_remainder_by_zero_are_errors() {
    for member in [Member::Divide as MemberOf, Member::Remainder] {
        for a in [MIN, -1, 0, 1, MAX] {
            assert_eq!(error_code(&binary(member, a, 0)), (pb::ErrorCode::DivisionByZero, 0));
        }
    }
}

#[test]
fn responses_are_byte_for_byte_what_prost_encodes() {
    for (a, b) in [(0, 0), (2, 3), (MAX, 0), (MIN, 0), (-1, 0), (1 << 40, 5)] {
        let request = encode(Member::Add(pb::BinaryOp { a, b }));
        let expected = reference(&request, &Limits::default()).encode_to_vec();
        assert_eq!(process(&request, &Limits::default()), expected);
    }
    let rows = encode(Member::Batch(pb::BatchOperation {
        operation: pb::Operation::Multiply as i32,
        operations: vec![pb::BinaryOp { a: 3, b: 4 }, pb::BinaryOp { a: MIN, b: 2 }],
    }));
    assert_eq!(process(&rows, &Limits::default()), reference(&rows, &Limits::default()).encode_to_vec());
    let empty = encode(Member::Columns(pb::ColumnBatch { operation: 1, a: vec![], b: vec![] }));
    assert_eq!(process(&empty, &Limits::default()), reference(&empty, &Limits::default()).encode_to_vec());
}

/// Malformed requests, each with what is wrong.
fn malformed() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("truncated varint", vec![0x0a, 0x02, 0x08, 0x80]),
        ("varint longer than ten bytes", [&[0x0a, 0x0c, 0x08][..], &[0xff; 11]].concat()),
        (
            "tenth varint byte overflows",
            vec![0x0a, 0x0b, 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02],
        ),
        ("truncated key", vec![0x80]),
        ("length past the end", vec![0x0a, 0x05, 0x08, 0x01]),
        ("wrong wire type for a message", vec![0x08, 0x01]),
        ("wrong wire type for an int64", vec![0x0a, 0x02, 0x0a, 0x00]),
        ("field number zero", vec![0x00, 0x01]),
        ("wire type 6", vec![0x0e]),
        ("wire type 7", vec![0x0f]),
        ("stray end group", vec![0x0c]),
        ("unterminated group", vec![0x53, 0x08, 0x01]),
        ("mismatched end group", vec![0x53, 0x5c]),
        ("packed sfixed64 not a multiple of 8", vec![0x3a, 0x05, 0x12, 0x03, 0x01, 0x02, 0x03]),
        ("sfixed64 as a varint", vec![0x3a, 0x02, 0x10, 0x01]),
        ("truncated row", vec![0x32, 0x04, 0x12, 0x03, 0x08, 0x01]),
        ("groups nested past the recursion limit", [vec![0x53; 101], vec![0x54; 101]].concat()),
    ]
}

#[test]
fn malformed_requests_are_invalid_as_prost_says() {
    for (what, request) in malformed() {
        assert!(pb::CalculatorRequest::decode(&request[..]).is_err(), "prost must reject: {what}");
        assert_eq!(error_code(&answer(&request)), (pb::ErrorCode::InvalidRequest, 0), "{what}");
    }
}

#[test]
fn requests_without_a_known_operation_are_invalid() {
    let cases = [
        ("empty request", vec![]),
        ("only unknown fields", vec![0x48, 0x01]),
        ("row batch with UNSPECIFIED", encode(Member::Batch(pb::BatchOperation { operation: 0, operations: vec![] }))),
        (
            "row batch with an unknown enum value",
            encode(Member::Batch(pb::BatchOperation { operation: 9, operations: vec![] })),
        ),
        (
            "column batch with an unknown enum value",
            encode(Member::Columns(pb::ColumnBatch { operation: -1, a: vec![1], b: vec![2] })),
        ),
        ("column lengths differ", encode(Member::Columns(pb::ColumnBatch { operation: 1, a: vec![1, 2], b: vec![3] }))),
    ];
    for (what, request) in cases {
        assert_eq!(error_code(&answer(&request)), (pb::ErrorCode::InvalidRequest, 0), "{what}");
    }
}

#[test]
fn a_binary_op_longer_than_127_bytes_has_a_two_byte_length() {
    // add { a: 1, b: 2, <unknown bytes field of 126 bytes> }: 132 bytes of body, length 84 01.
    let mut body = vec![0x08, 0x01, 0x10, 0x02, 0x1a, 0x7e];
    body.extend([0u8; 126]);
    let mut request = vec![0x0a, 0x84, 0x01];
    request.extend(&body);
    assert_eq!(answer(&request), Answer::Value(3));
    // Without the length's second byte, 84 08 is a length of 1028: not a valid request, even
    // though the first length byte alone (0x84) equals what follows.
    let mut truncated = vec![0x0a, 0x84];
    truncated.extend(&body);
    assert_eq!(error_code(&answer(&truncated)).0, pb::ErrorCode::InvalidRequest);
}

#[test]
fn deep_groups_within_the_limit_are_skipped() {
    let request = [vec![0x53; 99], vec![0x54; 99], encode(Member::Add(pb::BinaryOp { a: 1, b: 2 }))].concat();
    assert!(pb::CalculatorRequest::decode(&request[..]).is_ok());
    assert_eq!(answer(&request), Answer::Value(3));
}

#[test]
fn a_oneof_member_repeated_merges_and_another_member_replaces_it() {
    // add{a: 5} then add{b: 7}: merged into add{a: 5, b: 7}.
    assert_eq!(answer(&[0x0a, 0x02, 0x08, 0x05, 0x0a, 0x02, 0x10, 0x07]), Answer::Value(12));
    // add{a: 5} then subtract{b: 7}: the subtract alone.
    assert_eq!(answer(&[0x0a, 0x02, 0x08, 0x05, 0x12, 0x02, 0x10, 0x07]), Answer::Value(-7));
    // Columns in two chunks, one value unpacked: a = [1, 2], b = [10, 20].
    let mut request = encode(Member::Columns(pb::ColumnBatch { operation: 1, a: vec![1], b: vec![10] }));
    request.extend(encode(Member::Columns(pb::ColumnBatch { operation: 0, a: vec![], b: vec![] })));
    request.extend([0x3a, 0x12, 0x11]);
    request.extend(2i64.to_le_bytes());
    request.extend([0x19]);
    request.extend(20i64.to_le_bytes());
    assert_eq!(answer(&request), reference(&request, &Limits::default()).result.unwrap());
    assert_eq!(answer(&request), Answer::Batch(pb::BatchResult { values: vec![11, 22] }));
}

#[test]
fn batches_fail_at_the_first_failing_element() {
    let a = vec![10, 20, 30, 40];
    let b = vec![2, 0, 5, 0];
    let columns = encode(Member::Columns(pb::ColumnBatch {
        operation: pb::Operation::Divide as i32,
        a: a.clone(),
        b: b.clone(),
    }));
    assert_eq!(error_code(&answer(&columns)), (pb::ErrorCode::DivisionByZero, 1));
    let operations = a.iter().zip(&b).map(|(&a, &b)| pb::BinaryOp { a, b }).collect();
    let rows = encode(Member::Batch(pb::BatchOperation { operation: pb::Operation::Remainder as i32, operations }));
    assert_eq!(error_code(&answer(&rows)), (pb::ErrorCode::DivisionByZero, 1));
}

#[test]
fn batches_compute_every_element() {
    let a: Vec<i64> = vec![MIN, -1, 0, 1, MAX, 7];
    let b: Vec<i64> = vec![-1, MIN, 5, MAX, MAX, -2];
    for op in 1..=5 {
        let columns = encode(Member::Columns(pb::ColumnBatch { operation: op, a: a.clone(), b: b.clone() }));
        assert_eq!(answer(&columns), reference(&columns, &Limits::default()).result.unwrap(), "columns op {op}");
        let operations = a.iter().zip(&b).map(|(&a, &b)| pb::BinaryOp { a, b }).collect();
        let rows = encode(Member::Batch(pb::BatchOperation { operation: op, operations }));
        assert_eq!(answer(&rows), reference(&rows, &Limits::default()).result.unwrap(), "rows op {op}");
    }
}

#[test]
fn limits_are_enforced_before_work() {
    let limits = Limits { max_request_bytes: 64, max_batch_length: 3, ..Limits::default() };
    let big = encode(Member::Columns(pb::ColumnBatch { operation: 1, a: vec![1; 4], b: vec![1; 4] }));
    let response = decode_response(&process(&big, &limits));
    assert_eq!(error_code(&response.result.unwrap()), (pb::ErrorCode::LimitExceeded, 0));
    let four_rows =
        encode(Member::Batch(pb::BatchOperation { operation: 1, operations: vec![pb::BinaryOp { a: 1, b: 1 }; 4] }));
    let response = decode_response(&process(&four_rows, &limits));
    assert_eq!(error_code(&response.result.unwrap()), (pb::ErrorCode::LimitExceeded, 0));
    let three_rows =
        encode(Member::Batch(pb::BatchOperation { operation: 1, operations: vec![pb::BinaryOp { a: 1, b: 1 }; 3] }));
    assert_eq!(
        decode_response(&process(&three_rows, &limits)).result.unwrap(),
        Answer::Batch(pb::BatchResult { values: vec![2; 3] })
    );
}

#[test]
fn a_small_buffer_is_asked_to_grow_and_batch_values_are_aligned() {
    let columns = encode(Member::Columns(pb::ColumnBatch { operation: 1, a: vec![1; 100], b: vec![2; 100] }));
    let mut words = vec![0u64; 32];
    // SAFETY: u64 has no padding; any byte pattern is a valid u8.
    let out = unsafe { std::slice::from_raw_parts_mut(words.as_mut_ptr().cast::<u8>(), words.len() * 8) };
    let Outcome::NeedCapacity(needed) = process_into(&columns, &mut out[1..], &Limits::default()) else {
        panic!("256 bytes cannot hold 100 values")
    };
    let mut words = vec![0u64; needed.div_ceil(8) + 1];
    let out = unsafe { std::slice::from_raw_parts_mut(words.as_mut_ptr().cast::<u8>(), words.len() * 8) };
    for shift in 0..8 {
        let out = &mut out[shift..];
        let Outcome::Written { start, len } = process_into(&columns, out, &Limits::default()) else {
            panic!("{needed} bytes were asked for")
        };
        let header = 1 + 2 + 1 + 2; // 1A <len> 0A <len>
        assert_eq!((out.as_ptr() as usize + start + header) % 8, 0, "values aligned at shift {shift}");
        assert_eq!(
            decode_response(&out[start..start + len]).result.unwrap(),
            Answer::Batch(pb::BatchResult { values: vec![3; 100] })
        );
    }
}

fn expression(text: &str) -> Vec<u8> {
    encode(Member::Expression(pb::Expression { text: text.to_string() }))
}

fn evaluate(text: &str) -> Answer {
    answer(&expression(text))
}

#[test]
fn expressions_follow_precedence_associativity_and_the_arithmetic() {
    let cases: &[(&str, i64)] = &[
        ("1 + 2 * 3", 7),
        ("2 * (3 + -4) % 5", -2),
        ("10 - 4 - 3", 3),
        ("100 / 10 / 5", 2),
        ("7 % 4 * 3", 9),
        ("-7 / 2", -3),
        ("-7 % 2", -1),
        ("9223372036854775807 + 1", MAX),
        ("9223372036854775807 + 1 - 1", MAX - 1),
        ("-9223372036854775808", MIN),
        ("-9223372036854775808 / -1", MAX),
        ("-9223372036854775808 % -1", 0),
        ("-(-9223372036854775808)", MAX),
        (" \t( 1\n+\r2 ) ", 3),
        ("((((((((((42))))))))))", 42),
    ];
    for &(text, expected) in cases {
        assert_eq!(evaluate(text), Answer::Value(expected), "{text}");
        assert_eq!(evaluate(text), reference(&expression(text), &Limits::default()).result.unwrap(), "{text}");
    }
}

#[test]
fn expression_errors_point_at_the_offending_character() {
    let cases: &[(&str, pb::ErrorCode, u64, &str)] = &[
        ("2 * (3 + 4", pb::ErrorCode::SyntaxError, 10, "expected ')' at 10, found the end"),
        ("2 * (3 + 4]", pb::ErrorCode::SyntaxError, 10, "expected ')' at 10, found ']'"),
        ("1 +", pb::ErrorCode::SyntaxError, 3, "expected a number or '(' at 3, found the end"),
        ("1 + x", pb::ErrorCode::SyntaxError, 4, "expected a number or '(' at 4, found 'x'"),
        ("1 2", pb::ErrorCode::SyntaxError, 2, "unexpected '2' at 2"),
        ("1)", pb::ErrorCode::SyntaxError, 1, "unexpected ')' at 1"),
        ("1 + é", pb::ErrorCode::SyntaxError, 4, "expected a number or '(' at 4, found a non-ASCII character"),
        ("", pb::ErrorCode::SyntaxError, 0, "expected a number or '(' at 0, found the end"),
        ("9223372036854775808", pb::ErrorCode::SyntaxError, 0, "integer literal out of range at 0"),
        ("1 + 99999999999999999999", pb::ErrorCode::SyntaxError, 4, "integer literal out of range at 4"),
        ("1 / (2 - 2)", pb::ErrorCode::DivisionByZero, 2, "division by zero at 2"),
        ("5 + 3 % 0", pb::ErrorCode::DivisionByZero, 6, "division by zero at 6"),
    ];
    for &(text, code, index, message) in cases {
        let response = pb::CalculatorResponse::decode(&process(&expression(text), &Limits::default())[..]).unwrap();
        let Some(Answer::Error(error)) = response.result else { panic!("{text}: expected an error") };
        assert_eq!((error.code(), error.index, error.message.as_str()), (code, index, message), "{text}");
    }
}

#[test]
fn expression_limits_bound_length_and_nesting() {
    let limits = Limits::default();
    let deep = |depth: usize| format!("{}1{}", "(".repeat(depth), ")".repeat(depth));
    let at_limit = deep(Limits::DEFAULT_MAX_EXPRESSION_DEPTH);
    assert_eq!(decode_response(&process(&expression(&at_limit), &limits)).result.unwrap(), Answer::Value(1));
    let too_deep = deep(Limits::DEFAULT_MAX_EXPRESSION_DEPTH + 1);
    let response = decode_response(&process(&expression(&too_deep), &limits)).result.unwrap();
    assert_eq!(error_code(&response), (pb::ErrorCode::LimitExceeded, Limits::DEFAULT_MAX_EXPRESSION_DEPTH as u64));
    // Far deeper than any stack would allow, were recursion not bounded.
    let response = decode_response(&process(&expression(&"(".repeat(60_000)), &limits)).result.unwrap();
    assert_eq!(error_code(&response).0, pb::ErrorCode::LimitExceeded);
    // Unary minus does not recurse: 60,000 of them are fine.
    let negations = format!("{}7", "-".repeat(60_000));
    assert_eq!(decode_response(&process(&expression(&negations), &limits)).result.unwrap(), Answer::Value(7));
    let long = format!("{}1", " ".repeat(Limits::DEFAULT_MAX_EXPRESSION_BYTES));
    let response = decode_response(&process(&expression(&long), &limits)).result.unwrap();
    assert_eq!(error_code(&response), (pb::ErrorCode::LimitExceeded, 0));
}

#[test]
fn expression_strings_must_be_utf8_as_prost_says() {
    let invalid = [0x42, 0x03, 0x0a, 0x01, 0xff];
    assert!(pb::CalculatorRequest::decode(&invalid[..]).is_err());
    assert_eq!(error_code(&answer(&invalid)), (pb::ErrorCode::InvalidRequest, 0));
    // Expression merged twice: the last text wins; another member in between replaces it.
    let mut merged = expression("1 + 1");
    merged.extend(expression("2 * 3"));
    assert_eq!(answer(&merged), Answer::Value(6));
    let mut replaced = expression("1 + 1");
    replaced.extend(encode(Member::Add(pb::BinaryOp { a: 4, b: 5 })));
    assert_eq!(answer(&replaced), Answer::Value(9));
}
