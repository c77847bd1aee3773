//! Expression texts: the input bytes as `Expression.text` (invalid UTF-8 included, which prost
//! and so the engine reject), answered by `nanocalc_core::process` with small expression limits.
//! The answer must equal the reference (prost and the shunting-yard evaluator of nanocalc-testkit):
//! the value, or the error code and the character offset.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nanocalc_core::Limits;
use nanocalc_testkit::{decode_response, reference};

fn varint(out: &mut Vec<u8>, mut value: usize) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fuzz_target!(|text: &[u8]| {
    let limits = Limits { max_expression_bytes: 4096, max_expression_depth: 32, ..Limits::default() };
    let mut body = vec![0x0a];
    varint(&mut body, text.len());
    body.extend_from_slice(text);
    let mut request = vec![0x42];
    varint(&mut request, body.len());
    request.extend(body);
    let response = nanocalc_core::process(&request, &limits);
    assert_eq!(decode_response(&response), reference(&request, &limits), "text {text:02x?}");
});
