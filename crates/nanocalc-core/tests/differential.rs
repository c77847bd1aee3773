//! The engine against the reference (prost + a 128-bit model) on random requests: valid ones
//! built by prost, valid ones re-encoded in non-canonical ways, and garbage. Whatever prost
//! accepts must be answered as the model says; whatever prost rejects must be INVALID_REQUEST.

use nanocalc_core::decode::decode;
use nanocalc_core::pb::{self, calculator_request::Operation as Member};
use nanocalc_core::{Limits, process};
use nanocalc_testkit::{decode_response, encode, reference};
use proptest::prelude::*;

fn edgy_i64() -> impl Strategy<Value = i64> {
    prop_oneof![
        3 => any::<i64>(),
        2 => -300i64..300,
        1 => prop::sample::select(vec![i64::MIN, i64::MIN + 1, -1, 0, 1, i64::MAX - 1, i64::MAX]),
    ]
}

fn operation() -> impl Strategy<Value = i32> {
    prop_oneof![8 => 1i32..=5, 1 => Just(0), 1 => any::<i32>()]
}

fn binary_op() -> impl Strategy<Value = pb::BinaryOp> {
    (edgy_i64(), prop_oneof![3 => edgy_i64(), 1 => Just(0)]).prop_map(|(a, b)| pb::BinaryOp { a, b })
}

fn member() -> impl Strategy<Value = Member> {
    prop_oneof![
        binary_op().prop_map(Member::Add),
        binary_op().prop_map(Member::Subtract),
        binary_op().prop_map(Member::Multiply),
        binary_op().prop_map(Member::Divide),
        binary_op().prop_map(Member::Remainder),
        (operation(), prop::collection::vec(binary_op(), 0..40))
            .prop_map(|(operation, operations)| Member::Batch(pb::BatchOperation { operation, operations })),
        (
            operation(),
            prop::collection::vec(edgy_i64(), 0..40),
            prop::collection::vec(edgy_i64(), 0..40),
            any::<bool>()
        )
            .prop_map(|(operation, a, mut b, same_length)| {
                if same_length {
                    b.resize(a.len(), 7);
                }
                Member::Columns(pb::ColumnBatch { operation, a, b })
            }),
        expression_text().prop_map(|text| Member::Expression(pb::Expression { text })),
    ]
}

/// A literal, edges of i64 (and just past them) well represented.
fn literal() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => (0u64..1000).prop_map(|n| n.to_string()),
        2 => any::<u64>().prop_map(|n| n.to_string()),
        1 => prop::sample::select(vec![
            "0", "9223372036854775807", "9223372036854775808", "9223372036854775809",
            "18446744073709551616", "0000000000000000000000000000000000000000007", "4294967296",
        ]).prop_map(String::from),
    ]
}

/// Well-formed expressions (as far as literals allow), with random spacing and nesting.
fn grammar_expression() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        3 => literal(),
        1 => literal().prop_map(|n| format!("-{n}")),
    ];
    leaf.prop_recursive(16, 64, 2, |inner| {
        let space = prop::sample::select(vec!["", "", " ", "  ", "\t", "\n"]);
        prop_oneof![
            (inner.clone(), prop::sample::select(vec!["+", "-", "*", "/", "%"]), inner.clone(), space.clone())
                .prop_map(|(a, op, b, s)| format!("{a}{s}{op}{s}{b}")),
            (inner.clone(), space.clone()).prop_map(|(a, s)| format!("({s}{a}{s})")),
            inner.prop_map(|a| format!("-{a}")),
        ]
    })
}

/// Expression texts: well-formed ones, damaged ones, deep nesting, and strings over the
/// grammar's alphabet with a few characters outside it (non-ASCII included).
fn expression_text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => grammar_expression(),
        2 => (grammar_expression(), any::<prop::sample::Index>(), prop::sample::select(vec!["(", ")", "+", "", "x", "é", "1"]))
            .prop_map(|(text, at, insert)| {
                let mut at = at.index(text.len() + 1);
                while !text.is_char_boundary(at) {
                    at -= 1;
                }
                format!("{}{insert}{}", &text[..at], &text[at..])
            }),
        1 => (0usize..20, grammar_expression()).prop_map(|(depth, a)| format!("{}{a}{}", "(".repeat(depth), ")".repeat(depth))),
        2 => prop::collection::vec(
            prop::sample::select(vec!['0', '1', '7', '9', '+', '-', '*', '/', '%', '(', ')', ' ', '\t', 'x', 'é', '٣']),
            0..30
        )
        .prop_map(|chars| chars.into_iter().collect()),
        1 => prop::collection::vec(any::<u8>(), 0..420).prop_map(|bytes| String::from_utf8_lossy(&bytes).into_owned()),
    ]
}

/// A varint field after a member: the overflow mode (field 9, mostly a known mode, now and then
/// an unknown value, in one byte or ten) or an unknown field (10).
fn trailing_field() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => (0u8..4).prop_map(|mode| vec![0x48, mode]),
        1 => any::<u8>().prop_map(|value| vec![0x48, value & 0x7f]),
        1 => any::<i32>().prop_map(|value| [vec![0x48], varint(value as i64 as u64 as usize)].concat()),
        1 => any::<u8>().prop_map(|value| vec![0x50, value & 0x7f]),
    ]
}

/// Valid encodings of one or more members, with the overflow mode and unknown fields sprinkled in.
fn valid_request() -> impl Strategy<Value = Vec<u8>> {
    (prop::collection::vec(member(), 1..4), prop::collection::vec(trailing_field(), 0..3)).prop_map(
        |(members, extra)| {
            let mut bytes = Vec::new();
            for member in members {
                bytes.extend(encode(member));
                for field in &extra {
                    bytes.extend(field);
                }
            }
            bytes
        },
    )
}

/// Valid requests damaged: truncated, with bytes flipped, or spliced.
fn damaged_request() -> impl Strategy<Value = Vec<u8>> {
    (valid_request(), any::<prop::sample::Index>(), any::<u8>(), 0u8..3).prop_map(|(mut bytes, at, byte, how)| {
        if bytes.is_empty() {
            return bytes;
        }
        let at = at.index(bytes.len());
        match how {
            0 => bytes.truncate(at),
            1 => bytes[at] ^= byte | 1,
            _ => bytes.insert(at, byte),
        }
        bytes
    })
}

fn check(request: &[u8]) {
    let limits = Limits {
        max_request_bytes: 1 << 20,
        max_batch_length: 30,
        max_expression_bytes: 400,
        max_expression_depth: 12,
        max_threads: 2,
    };
    let expected = reference(request, &limits);
    let answered = process(request, &limits);
    assert_eq!(decode_response(&answered), expected, "request {request:02x?}");
    // The fast decoder accepts exactly what prost accepts.
    let prost_accepts = <pb::CalculatorRequest as prost::Message>::decode(request).is_ok();
    assert_eq!(decode(request).is_ok(), prost_accepts, "request {request:02x?}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn valid_requests_match_the_reference(request in valid_request()) {
        check(&request);
    }

    #[test]
    fn damaged_requests_match_the_reference(request in damaged_request()) {
        check(&request);
    }

    #[test]
    fn garbage_matches_the_reference(request in prop::collection::vec(any::<u8>(), 0..64)) {
        check(&request);
    }

    #[test]
    fn varints_of_every_length_match_the_reference(
        continuation in prop::collection::vec(0x80u8..=0xff, 0..11),
        last in prop_oneof![0u8..4, 0u8..0x80],
    ) {
        // add { a: <varint> }: the varint bytes as given, ended by `last`.
        let mut body = vec![0x08];
        body.extend(&continuation);
        body.push(last);
        let mut request = vec![0x0a, body.len() as u8];
        request.extend(body);
        check(&request);
    }

    #[test]
    fn garbage_from_schema_bytes_matches_the_reference(
        request in prop::collection::vec(prop::sample::select(vec![
            0x00, 0x01, 0x02, 0x08, 0x0a, 0x10, 0x12, 0x18, 0x1a, 0x32, 0x3a, 0x42, 0x43, 0x44, 0x53, 0x54, 0x7f, 0x80, 0xff,
        ]), 0..48)
    ) {
        check(&request);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// The parser on raw bytes, UTF-8 or not: prost rejects invalid UTF-8 in a string field, and so
    /// must the engine; valid text must evaluate as the shunting-yard reference says.
    #[test]
    fn expression_bytes_match_the_reference(text in prop::collection::vec(prop_oneof![
        3 => prop::sample::select(b"0123456789+-*/%() ".to_vec()),
        1 => any::<u8>(),
    ], 0..64)) {
        check(&expression_request(&text));
    }
}

/// `CalculatorRequest { expression: Expression { text } }` encoded by hand, whatever the bytes.
fn expression_request(text: &[u8]) -> Vec<u8> {
    let mut body = vec![0x0a];
    body.extend(varint(text.len()));
    body.extend(text);
    let mut request = vec![0x42];
    request.extend(varint(body.len()));
    request.extend(body);
    request
}

#[test]
fn expressions_at_the_limits_match_the_reference() {
    // Limits of `check`: 400 bytes, 12 levels of parentheses.
    for depth in 10..=14 {
        check(&expression_request(format!("{}1{}", "(".repeat(depth), ")".repeat(depth)).as_bytes()));
        check(&expression_request(format!("{}1", "(".repeat(depth)).as_bytes()));
    }
    for len in [399, 400, 401] {
        check(&expression_request(format!("{}1", " ".repeat(len - 1)).as_bytes()));
    }
    check(&expression_request(format!("{}1", "-".repeat(399)).as_bytes()));
    check(&expression_request(b"\xff"));
    check(&expression_request("1 + é".as_bytes()));
}

#[test]
fn group_nesting_agrees_with_prost_around_the_recursion_limit() {
    for depth in 95..=105 {
        let request = [vec![0x53; depth], vec![0x54; depth]].concat();
        check(&request);
        // Inside a message the budget is one level smaller.
        let inner = [vec![0x1b; depth], vec![0x1c; depth]].concat();
        let mut request = vec![0x0a];
        request.extend(varint(inner.len()));
        request.extend(inner);
        check(&request);
    }
}

fn varint(mut value: usize) -> Vec<u8> {
    let mut bytes = Vec::new();
    while value >= 0x80 {
        bytes.push((value as u8) | 0x80);
        value >>= 7;
    }
    bytes.push(value as u8);
    bytes
}
