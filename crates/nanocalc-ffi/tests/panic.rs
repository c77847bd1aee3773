//! Panic containment at the C ABI, with the `test-panic` feature (`cargo test -p nanocalc-ffi
//! --features test-panic --test panic`): `nanocalc_call` answers the forced panic with an
//! `ERROR_CODE_INTERNAL` response and `NANOCALC_OK`; `nanocalc_process` returns
//! `NANOCALC_ERROR_PANIC`; nothing unwinds into the caller, and the engine keeps answering.

use std::ffi::CStr;

use nanocalc_core::{ErrorCode, TEST_PANIC_REQUEST};
use nanocalc_ffi::*;

const ADD_2_3: [u8; 6] = [0x0a, 0x04, 0x08, 0x02, 0x10, 0x03];

fn shared_call(engine: *const NanocalcEngine, request: &[u8]) -> (i32, Vec<u8>) {
    let mut words = vec![0u64; 64]; // 512 bytes, 8-byte aligned
    let len = words.len() * 8;
    let bytes = unsafe { std::slice::from_raw_parts_mut(words.as_mut_ptr().cast::<u8>(), len) };
    bytes[..4].copy_from_slice(&(request.len() as u32).to_le_bytes());
    bytes[16..16 + request.len()].copy_from_slice(request);
    let status = unsafe { nanocalc_call(engine, bytes.as_mut_ptr(), len as u32) };
    let start = u32::from_le_bytes(bytes[4..8].try_into().unwrap()) as usize;
    let length = u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize;
    (status, bytes[start..start + length].to_vec())
}

#[test]
fn call_answers_internal_and_the_engine_keeps_working() {
    let engine = nanocalc_engine_new(1 << 20, 1000, 4);
    for _ in 0..50 {
        let (status, response) = shared_call(engine, TEST_PANIC_REQUEST);
        assert_eq!(status, NANOCALC_OK);
        // CalculatorResponse { error (field 2) { code (field 1): INTERNAL, ... } }
        assert_eq!(&response[..1], &[0x12]);
        assert_eq!(&response[2..4], &[0x08, ErrorCode::Internal as u8]);
        assert_eq!(shared_call(engine, &ADD_2_3), (NANOCALC_OK, vec![0x08, 0x05]));
    }
    unsafe { nanocalc_engine_free(engine) };
}

#[test]
fn process_returns_the_panic_status_and_the_engine_keeps_working() {
    let engine = nanocalc_engine_new(1 << 20, 1000, 4);
    let mut out = [0u8; 256];
    let mut len = 0;
    for _ in 0..50 {
        let status = unsafe {
            nanocalc_process(
                engine,
                TEST_PANIC_REQUEST.as_ptr(),
                TEST_PANIC_REQUEST.len(),
                out.as_mut_ptr(),
                out.len(),
                &mut len,
            )
        };
        assert_eq!(status, NANOCALC_ERROR_PANIC);
        let message = unsafe { CStr::from_ptr(nanocalc_last_error_message()) }.to_string_lossy().into_owned();
        assert!(message.contains("panic"), "{message}");
        let status =
            unsafe { nanocalc_process(engine, ADD_2_3.as_ptr(), ADD_2_3.len(), out.as_mut_ptr(), out.len(), &mut len) };
        assert_eq!((status, &out[..len]), (NANOCALC_OK, &[0x08, 0x05][..]));
    }
    unsafe { nanocalc_engine_free(engine) };
}
