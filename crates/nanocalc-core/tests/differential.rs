//! The engine against the reference (prost + a 128-bit model) on random requests: valid ones
//! built by prost, valid ones re-encoded in non-canonical ways, and garbage. Whatever prost
//! accepts must be answered as the model says; whatever prost rejects must be INVALID_REQUEST.

mod common;

use common::{decode_response, encode, reference};
use nanocalc_core::decode::decode;
use nanocalc_core::pb::{self, calculator_request::Operation as Member};
use nanocalc_core::{Limits, process};
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
    ]
}

/// Valid encodings of one or more members, with unknown fields sprinkled in.
fn valid_request() -> impl Strategy<Value = Vec<u8>> {
    (prop::collection::vec(member(), 1..4), prop::collection::vec(any::<u8>(), 0..3)).prop_map(|(members, extra)| {
        let mut bytes = Vec::new();
        for member in members {
            bytes.extend(encode(member));
            // An unknown varint field (number 9) between members.
            for value in &extra {
                bytes.extend([0x48, value & 0x7f]);
            }
        }
        bytes
    })
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
    let limits = Limits { max_request_bytes: 1 << 20, max_batch_length: 30 };
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
            0x00, 0x01, 0x02, 0x08, 0x0a, 0x10, 0x12, 0x18, 0x1a, 0x32, 0x3a, 0x43, 0x44, 0x7f, 0x80, 0xff,
        ]), 0..48)
    ) {
        check(&request);
    }
}

#[test]
fn group_nesting_agrees_with_prost_around_the_recursion_limit() {
    for depth in 95..=105 {
        let request = [vec![0x43; depth], vec![0x44; depth]].concat();
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
