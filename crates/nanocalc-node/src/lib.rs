//! The Node-API adapter: a thin shell over `nanocalc-core`.
//!
//! Each JavaScript `Calculator` owns an engine slot and one `ArrayBuffer` it shares with Rust.
//! A call is: JavaScript writes the encoded `CalculatorRequest` at the start of the buffer, calls
//! [`engine_call`] with only two small integers, and reads the encoded `CalculatorResponse` that
//! the core wrote after the request, in the same buffer. Nothing is copied or allocated per call.
//!
//! Errors at this boundary: domain failures travel inside the response bytes; misuse of the
//! engine itself (a released slot, a request longer than the buffer) becomes a thrown JS `Error`
//! (the TypeScript layer never lets that happen); a panic becomes an `ERROR_CODE_INTERNAL` response.

use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};

use napi::bindgen_prelude::*;
use napi_derive::napi;
use nanocalc_core::{ErrorCode, Limits, Outcome, encode};

struct Engine {
    /// The shared buffer. Holding it keeps a reference, so it lives as long as the slot.
    buffer: Uint8Array,
    limits: Limits,
}

thread_local! {
    // One table per JavaScript thread: engines never cross threads (worker_threads each load the
    // addon and get their own).
    static ENGINES: RefCell<Vec<Option<Engine>>> = const { RefCell::new(Vec::new()) };
}

fn closed() -> Error {
    Error::new(Status::InvalidArg, "nanocalc engine slot is not open")
}

fn to_usize(value: f64, name: &str) -> Result<usize> {
    if value.is_finite() && value >= 1.0 && value <= 9_007_199_254_740_991.0 && value.fract() == 0.0 {
        Ok(value as usize)
    } else {
        Err(Error::new(Status::InvalidArg, format!("{name} must be a positive safe integer")))
    }
}

/// Opens an engine over `buffer` with the given limits and returns its slot.
#[napi]
pub fn engine_open(buffer: Uint8Array, max_request_bytes: f64, max_batch_length: f64) -> Result<u32> {
    let limits = Limits {
        max_request_bytes: to_usize(max_request_bytes, "maxRequestBytes")?,
        max_batch_length: to_usize(max_batch_length, "maxBatchLength")?,
    };
    let engine = Engine { buffer, limits };
    ENGINES.with_borrow_mut(|engines| {
        let slot = match engines.iter().position(Option::is_none) {
            Some(free) => free,
            None => {
                engines.push(None);
                engines.len() - 1
            }
        };
        engines[slot] = Some(engine);
        Ok(slot as u32)
    })
}

/// Replaces the shared buffer of an open engine (after JavaScript grew it).
#[napi]
pub fn engine_attach(slot: u32, buffer: Uint8Array) -> Result<()> {
    ENGINES.with_borrow_mut(|engines| {
        let engine = engines.get_mut(slot as usize).and_then(Option::as_mut).ok_or_else(closed)?;
        engine.buffer = buffer;
        Ok(())
    })
}

/// Releases a slot and its reference to the buffer. Releasing twice is harmless.
#[napi]
pub fn engine_close(slot: u32) {
    // The engine is dropped after the borrow ends, so its reference is freed outside the table.
    let engine = ENGINES.with_borrow_mut(|engines| engines.get_mut(slot as usize).and_then(Option::take));
    drop(engine);
}

/// Answers the request in `buffer[0..request_len]`, writing the response into the buffer from
/// offset `align8(request_len)` on.
///
/// Returns `len * 8 + start` when the response is `buffer[base + start .. base + start + len]`
/// (`start` < 8 aligns batch values), or `-needed` when the buffer must first grow to
/// `base + needed` bytes (nothing was computed).
#[napi]
pub fn engine_call(slot: u32, request_len: u32) -> Result<f64> {
    ENGINES.with_borrow_mut(|engines| {
        let engine = engines.get_mut(slot as usize).and_then(Option::as_mut).ok_or_else(closed)?;
        let limits = engine.limits;
        // SAFETY: the buffer is a plain ArrayBuffer private to the calling Calculator and this
        // thread; JavaScript cannot touch it while this call runs.
        let buffer = unsafe { engine.buffer.as_mut() };
        let request_len = request_len as usize;
        let base = (request_len + 7) & !7;
        if base > buffer.len() {
            return Err(Error::new(Status::InvalidArg, "request runs past the shared buffer"));
        }
        let (request, out) = buffer.split_at_mut(base);
        let request = &request[..request_len];
        let outcome = catch_unwind(AssertUnwindSafe(|| nanocalc_core::process_into(request, out, &limits)))
            .unwrap_or_else(|_| internal_error(out));
        Ok(match outcome {
            Outcome::Written { start, len } => (len * 8 + start) as f64,
            Outcome::NeedCapacity(needed) => -(needed as f64),
        })
    })
}

/// The answer to a request whose handling panicked: the engine is unharmed and keeps serving.
fn internal_error(out: &mut [u8]) -> Outcome {
    if out.len() < encode::SMALL_RESPONSE_MAX {
        return Outcome::NeedCapacity(encode::SMALL_RESPONSE_MAX);
    }
    let len = encode::error(out, ErrorCode::Internal, "internal error: the engine panicked", 0);
    Outcome::Written { start: 0, len }
}
