//! Raw request bytes: the engine's answer must decode with prost and equal the reference
//! (prost decoding and a 128-bit model, nanocalc-testkit), and the fast decoder
//! must accept exactly what prost accepts. The same bytes in a shared buffer: where the bindings
//! copy a column batch's lists must be where the decoder reads them, the values they copy out
//! must be those of the answer, and the batch run with its lists and values outside the buffer
//! (`run_columns`) must answer the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nanocalc_core::decode::{self, Decoded, Request};
use nanocalc_core::pb::{self, calculator_response::Result as Answer};
use nanocalc_core::{Limits, shared_buffer};
use nanocalc_testkit::{decode_response, reference};
use prost::Message;

fuzz_target!(|data: &[u8]| {
    let limits = Limits { max_request_bytes: 1 << 16, max_batch_length: 4096, ..Limits::default() };
    let response = nanocalc_core::process(data, &limits);
    let expected = reference(data, &limits);
    assert_eq!(decode_response(&response), expected, "request {data:02x?}");
    assert_eq!(
        decode::decode(data).is_ok(),
        pb::CalculatorRequest::decode(data).is_ok(),
        "decoders disagree on {data:02x?}"
    );

    let start = shared_buffer::REQUEST_OFFSET;
    let mut buffer = vec![0u8; start + data.len() + 8 + response.len().max(192) + 8];
    buffer[..4].copy_from_slice(&(data.len() as u32).to_le_bytes());
    buffer[start..start + data.len()].copy_from_slice(data);
    // The same batch with its lists read where they are and its values written elsewhere.
    let mut in_place = None;
    if let Some((a, b)) = shared_buffer::column_lists(&buffer) {
        let Ok(Decoded { request: Request::Columns { a: read_a, b: read_b, .. }, .. }) = decode::decode(data) else {
            panic!("column lists found in a request that is not a column batch: {data:02x?}")
        };
        assert_eq!((&buffer[a.clone()], &buffer[b.clone()]), (read_a.bytes(), read_b.bytes()));
        let (a, b) = (buffer[a].to_vec(), buffer[b].to_vec());
        let mut frame_only = buffer.clone();
        let mut values = vec![0u8; a.len()];
        let written = shared_buffer::run_columns(&mut frame_only, &a, &b, &mut values, &limits).expect("a frame");
        in_place = Some((written, values, frame_only));
    }
    shared_buffer::run(&mut buffer, &limits).expect("the request fits the buffer");
    let values = shared_buffer::batch_values(&buffer).map(|range| buffer[range].to_vec());
    if let Some((written, values_in_place, frame_only)) = in_place {
        let answer = |buffer: &[u8]| {
            let word = |at: usize| u32::from_le_bytes(buffer[at..at + 4].try_into().unwrap()) as usize;
            buffer[word(4)..word(4) + word(8)].to_vec()
        };
        match &values {
            Some(values) => assert!(written && values_in_place == *values, "in-place values of {data:02x?}"),
            None => assert!(!written && answer(&frame_only) == answer(&buffer), "in-place answer to {data:02x?}"),
        }
    }
    match expected.result {
        Some(Answer::Batch(batch)) => {
            let bytes: Vec<u8> = batch.values.iter().flat_map(|v| v.to_le_bytes()).collect();
            assert_eq!(values, Some(bytes), "batch values of {data:02x?}");
        }
        _ => assert_eq!(values, None, "values found in an answer that is not a batch result: {data:02x?}"),
    }
});
