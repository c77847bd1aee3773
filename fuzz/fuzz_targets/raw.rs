//! Raw request bytes: the engine's answer must decode with prost and equal the reference
//! (prost decoding and a 128-bit model, tests/common of nanocalc-core), and the fast decoder
//! must accept exactly what prost accepts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nanocalc_core::{Limits, pb};
use prost::Message;

#[path = "../../crates/nanocalc-core/tests/common/mod.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let limits = Limits { max_request_bytes: 1 << 16, max_batch_length: 4096, ..Limits::default() };
    let response = nanocalc_core::process(data, &limits);
    assert_eq!(common::decode_response(&response), common::reference(data, &limits), "request {data:02x?}");
    assert_eq!(
        nanocalc_core::decode::decode(data).is_ok(),
        pb::CalculatorRequest::decode(data).is_ok(),
        "decoders disagree on {data:02x?}"
    );
});
