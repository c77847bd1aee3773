//! The C ABI of nanocalc: a thin adapter over `nanocalc-core` for Bun (`bun:ffi`), Deno
//! (`Deno.dlopen`) and any C caller. Its header, `include/nanocalc.h`, is generated from this file
//! by cbindgen (`tests/header.rs` fails when the committed header is stale).
//!
//! Requests and responses are the protobuf bytes of `proto/nanocalc/v1/calculator.proto`
//! (`nanocalc.v1.CalculatorRequest` in, `nanocalc.v1.CalculatorResponse` out), always in memory the
//! caller owns. Two ways to call:
//!
//! - `nanocalc_process`: request bytes in, response bytes written into an output buffer. The plain
//!   C interface.
//! - `nanocalc_call`: the shared-buffer protocol of the JavaScript bindings (three u32 control
//!   words, the request at byte 16, the response after it; see `nanocalc_core::shared_buffer`),
//!   over one caller buffer, so a JavaScript runtime passes only a pointer and a length per call.
//! - `nanocalc_columns`: the same protocol for a column batch whose lists and values stay in the
//!   caller's arrays (no copies).
//!
//! Errors: every failure of the computation (malformed bytes, division by zero, limits, even a
//! panic in the engine) is answered inside the response as a `CalculationError`, with status
//! `NANOCALC_OK`. A non-zero status means the call itself was wrong (a null pointer, a buffer that
//! breaks the protocol, an output buffer too small) or a defect was caught at the boundary; the
//! text is then in `nanocalc_last_error_message`. No panic ever unwinds into the caller.
//!
//! Threads: an engine holds only its limits and may be used from several threads at once; each
//! buffer must be used by one call at a time.

use std::cell::RefCell;
use std::ffi::{CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;

use nanocalc_core::{Limits, Outcome, shared_buffer};

/// The call ran: the answer is in the response (which may itself be a `CalculationError`).
pub const NANOCALC_OK: i32 = 0;
/// A required pointer was null (or a buffer pointer null with a non-zero length).
pub const NANOCALC_ERROR_NULL_POINTER: i32 = 1;
/// `nanocalc_call`: the buffer breaks the shared-buffer protocol (shorter than
/// `NANOCALC_REQUEST_OFFSET` bytes, or its request length word runs past its end).
pub const NANOCALC_ERROR_BAD_BUFFER: i32 = 2;
/// `nanocalc_process`: the output buffer is too small; `*out_len` holds the capacity needed, and
/// the output buffer's contents are unspecified. (`nanocalc_call` reports this inside the buffer instead: see
/// `NANOCALC_NEED_CAPACITY`.)
pub const NANOCALC_ERROR_OUT_TOO_SMALL: i32 = 3;
/// `nanocalc_engine_new`: a limit outside 1 to 2^31 - 1.
pub const NANOCALC_ERROR_BAD_LIMIT: i32 = 4;
/// A panic was caught at the boundary (a defect in nanocalc); the engine still works.
pub const NANOCALC_ERROR_PANIC: i32 = 5;

/// `nanocalc_call`: offset of the request in the shared buffer, after the control words
/// (u32 request length at 0, u32 response start at 4, u32 response length at 8).
pub const NANOCALC_REQUEST_OFFSET: u32 = 16;
/// `nanocalc_call`: the response length word when the buffer is too small; the response start
/// word then holds the size the whole buffer needs. Grow it, keep the request, call again.
pub const NANOCALC_NEED_CAPACITY: u32 = u32::MAX;
/// Every response but a batch result fits in this many bytes.
pub const NANOCALC_SMALL_RESPONSE_MAX: u32 = 192;

const _: () = assert!(NANOCALC_REQUEST_OFFSET as usize == shared_buffer::REQUEST_OFFSET);
const _: () = assert!(NANOCALC_NEED_CAPACITY == shared_buffer::NEED_CAPACITY);
const _: () = assert!(NANOCALC_SMALL_RESPONSE_MAX as usize == nanocalc_core::encode::SMALL_RESPONSE_MAX);

/// An engine: the limits its requests are held to. Opaque; made by `nanocalc_engine_new`, freed
/// by `nanocalc_engine_free`.
pub struct NanocalcEngine {
    limits: Limits,
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// Records `message` as this thread's last error and returns `status`.
fn fail(status: i32, message: &str) -> i32 {
    let text = CString::new(message.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|last| *last.borrow_mut() = text);
    status
}

/// Runs `body`, turning a panic into `NANOCALC_ERROR_PANIC`.
fn guard(body: impl FnOnce() -> i32) -> i32 {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|_| {
        fail(NANOCALC_ERROR_PANIC, "nanocalc: internal error: a panic was caught at the C boundary")
    })
}

fn limit(value: u32, name: &str) -> Result<usize, String> {
    if (1..=u32::MAX >> 1).contains(&value) {
        Ok(value as usize)
    } else {
        Err(format!("nanocalc: {name} must be an integer from 1 to 2^31 - 1, got {value}"))
    }
}

/// Creates an engine whose requests are held to these limits (each from 1 to 2^31 - 1; the
/// defaults of the TypeScript package are 67108864 bytes, 8000000 operations, and one thread per
/// core). `max_threads` bounds the threads one column batch may run on (1: the calling thread
/// only; long batches split over a pool of one thread per core). Returns NULL when a limit is out
/// of range (`NANOCALC_ERROR_BAD_LIMIT` in `nanocalc_last_error_message`).
#[unsafe(no_mangle)]
pub extern "C" fn nanocalc_engine_new(
    max_request_bytes: u32,
    max_batch_length: u32,
    max_threads: u32,
) -> *mut NanocalcEngine {
    let mut engine = ptr::null_mut();
    guard(|| {
        let limits = match (
            limit(max_request_bytes, "max_request_bytes"),
            limit(max_batch_length, "max_batch_length"),
            limit(max_threads, "max_threads"),
        ) {
            (Ok(max_request_bytes), Ok(max_batch_length), Ok(max_threads)) => {
                Limits { max_request_bytes, max_batch_length, max_threads, ..Limits::default() }
            }
            (Err(message), _, _) | (_, Err(message), _) | (_, _, Err(message)) => {
                return fail(NANOCALC_ERROR_BAD_LIMIT, &message);
            }
        };
        engine = Box::into_raw(Box::new(NanocalcEngine { limits }));
        NANOCALC_OK
    });
    engine
}

/// Frees an engine made by `nanocalc_engine_new`. NULL is ignored; freeing twice is undefined.
///
/// # Safety
/// `engine` is NULL or an engine from `nanocalc_engine_new` not yet freed, not in use by a call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nanocalc_engine_free(engine: *mut NanocalcEngine) {
    if !engine.is_null() {
        // SAFETY: by the contract above, `engine` came from Box::into_raw and is freed once.
        guard(|| {
            drop(unsafe { Box::from_raw(engine) });
            NANOCALC_OK
        });
    }
}

/// Runs the request in a shared buffer of `buffer_len` bytes: reads the request length (u32 at
/// 0) and the request (at `NANOCALC_REQUEST_OFFSET`), writes the response after the request at
/// an 8-byte-aligned address and its start and length (u32s at 4 and 8, offsets from `buffer`).
/// If the buffer is too small for the response, the length word is `NANOCALC_NEED_CAPACITY` and
/// the start word the capacity needed: grow the buffer, keep the request, and call again (a
/// buffer with less than `NANOCALC_SMALL_RESPONSE_MAX` bytes after the request may be asked to
/// grow twice). All words are little-endian.
///
/// The length is a `uint32_t` as the protocol's offsets are: a shared buffer holds less than
/// 4 GiB. (It also keeps this a fast call for Deno, whose fast path takes no 64-bit integers.)
///
/// Returns `NANOCALC_OK`, `NANOCALC_ERROR_NULL_POINTER`, `NANOCALC_ERROR_BAD_BUFFER` or
/// `NANOCALC_ERROR_PANIC`.
///
/// # Safety
/// `engine` is a live engine; `buffer` points to `buffer_len` writable bytes that nothing else
/// reads or writes during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nanocalc_call(engine: *const NanocalcEngine, buffer: *mut u8, buffer_len: u32) -> i32 {
    guard(|| {
        if engine.is_null() || buffer.is_null() {
            return fail(NANOCALC_ERROR_NULL_POINTER, "nanocalc: null engine or buffer");
        }
        // SAFETY: by the contract above.
        let (engine, buffer) = unsafe { (&*engine, std::slice::from_raw_parts_mut(buffer, buffer_len as usize)) };
        match shared_buffer::run(buffer, &engine.limits) {
            Ok(()) => NANOCALC_OK,
            Err(message) => fail(NANOCALC_ERROR_BAD_BUFFER, message),
        }
    })
}

/// Runs a column batch over the caller's arrays, with no copies (the shared-buffer protocol, as
/// `nanocalc_call`): the request in `buffer` is a `ColumnBatch` framed as the TypeScript package
/// frames it, every key and length written but not the two lists' bytes (their places in the
/// request are never read), which are read from `a` and `b` instead (`count` little-endian
/// `int64_t`s each, as the frame says). A batch result's values are
/// written into `out` (`count` elements), and the response length word (at 8) is then 0; any
/// other answer (an error) is the response in the buffer, as `nanocalc_call` writes it, and `out`
/// is left as it was. `out` may share memory with `a` or `b`: the columns are then copied into the
/// request first, and the answer computed there as by `nanocalc_call`, so the buffer needs room
/// for the response as well (after the request, the larger of `8 * count + 40` bytes and
/// `NANOCALC_SMALL_RESPONSE_MAX`, from an 8-byte-aligned offset; with less, the length word
/// is `NANOCALC_NEED_CAPACITY`, as `nanocalc_call` answers, and `out` is left as it was).
///
/// Returns `NANOCALC_OK`, `NANOCALC_ERROR_NULL_POINTER`, `NANOCALC_ERROR_BAD_BUFFER` (the buffer
/// breaks the protocol, holds no such frame, or its lengths are not `count`) or
/// `NANOCALC_ERROR_PANIC`.
///
/// # Safety
/// `engine` is a live engine; `buffer` points to `buffer_len` writable bytes; `a` and `b` to
/// `count` readable `int64_t`s and `out` to `count` writable ones (each may be NULL when `count`
/// is 0); none of them shares memory with `buffer`, and nothing else touches them during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nanocalc_columns(
    engine: *const NanocalcEngine,
    buffer: *mut u8,
    buffer_len: u32,
    a: *const i64,
    b: *const i64,
    out: *mut i64,
    count: u32,
) -> i32 {
    guard(|| {
        if engine.is_null() || buffer.is_null() || (count > 0 && (a.is_null() || b.is_null() || out.is_null())) {
            return fail(NANOCALC_ERROR_NULL_POINTER, "nanocalc: null engine, buffer or column");
        }
        let len = count as usize * 8;
        let memory = |data: *const i64| shared_buffer::Memory { data: data.cast_mut().cast(), len };
        // SAFETY: by the contract above.
        let answer = unsafe {
            let (engine, buffer) = (&*engine, std::slice::from_raw_parts_mut(buffer, buffer_len as usize));
            shared_buffer::run_columns_over(buffer, memory(a), memory(b), memory(out), &engine.limits)
        };
        match answer {
            Ok(_) => NANOCALC_OK,
            Err(message) => fail(NANOCALC_ERROR_BAD_BUFFER, message),
        }
    })
}

/// Answers the `CalculatorRequest` in `request[0, request_len)` by writing the
/// `CalculatorResponse` into `out[0, *out_len)`.
///
/// Returns `NANOCALC_OK` (with `*out_len` the response's length), or
/// `NANOCALC_ERROR_OUT_TOO_SMALL` with `*out_len` the capacity needed (at least
/// `NANOCALC_SMALL_RESPONSE_MAX`; a batch of n values needs at most 8n + 40), or
/// `NANOCALC_ERROR_NULL_POINTER`, or `NANOCALC_ERROR_PANIC`.
///
/// # Safety
/// `engine` is a live engine; `request` points to `request_len` readable bytes (it may be NULL
/// when `request_len` is 0); `out` to `out_cap` writable bytes (NULL when `out_cap` is 0) that do
/// not overlap the request; `out_len` to a writable `size_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nanocalc_process(
    engine: *const NanocalcEngine,
    request: *const u8,
    request_len: usize,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
) -> i32 {
    guard(|| {
        if engine.is_null()
            || out_len.is_null()
            || (request.is_null() && request_len > 0)
            || (out.is_null() && out_cap > 0)
        {
            return fail(NANOCALC_ERROR_NULL_POINTER, "nanocalc: null engine, request, out or out_len");
        }
        // SAFETY: by the contract above; empty slices for NULL pointers with zero lengths.
        let (engine, request, out, out_len) = unsafe {
            (
                &*engine,
                if request_len == 0 { &[][..] } else { std::slice::from_raw_parts(request, request_len) },
                if out_cap == 0 { &mut [][..] } else { std::slice::from_raw_parts_mut(out, out_cap) },
                &mut *out_len,
            )
        };
        match nanocalc_core::process_into(request, out, &engine.limits) {
            Outcome::Written { start, len } => {
                out.copy_within(start..start + len, 0);
                *out_len = len;
                NANOCALC_OK
            }
            Outcome::NeedCapacity(needed) => {
                *out_len = needed;
                fail(NANOCALC_ERROR_OUT_TOO_SMALL, "nanocalc: the output buffer is too small (see *out_len)")
            }
        }
    })
}

/// The message of the last failed call on this thread (a NUL-terminated UTF-8 string, empty if
/// none failed yet). It stays valid until the next failed call on this thread; successful calls
/// leave it as it was.
#[unsafe(no_mangle)]
pub extern "C" fn nanocalc_last_error_message() -> *const c_char {
    LAST_ERROR.with(|last| last.borrow().as_ptr())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    fn last_error() -> String {
        // SAFETY: the thread-local message is a live NUL-terminated string.
        unsafe { CStr::from_ptr(nanocalc_last_error_message()) }.to_string_lossy().into_owned()
    }

    #[test]
    fn bad_limits_give_null_and_a_message() {
        assert!(nanocalc_engine_new(0, 10, 4).is_null());
        assert!(last_error().contains("max_request_bytes"), "{}", last_error());
        assert!(nanocalc_engine_new(10, 1 << 31, 4).is_null());
        assert!(last_error().contains("max_batch_length"), "{}", last_error());
        assert!(nanocalc_engine_new(10, 10, 0).is_null());
        assert!(last_error().contains("max_threads"), "{}", last_error());
        let engine = nanocalc_engine_new(1, 1, 4);
        assert!(!engine.is_null());
        unsafe { nanocalc_engine_free(engine) };
        unsafe { nanocalc_engine_free(ptr::null_mut()) };
    }

    #[test]
    fn process_answers_and_asks_for_room() {
        let engine = nanocalc_engine_new(1 << 20, 1000, 4);
        let add = [0x0a, 0x04, 0x08, 0x02, 0x10, 0x03];
        let mut out = [0u8; 256];
        let mut len = 0;
        let status =
            unsafe { nanocalc_process(engine, add.as_ptr(), add.len(), out.as_mut_ptr(), out.len(), &mut len) };
        assert_eq!((status, &out[..len]), (NANOCALC_OK, &[0x08, 0x05][..]));
        let status = unsafe { nanocalc_process(engine, add.as_ptr(), add.len(), ptr::null_mut(), 0, &mut len) };
        assert_eq!((status, len), (NANOCALC_ERROR_OUT_TOO_SMALL, 192));
        let status = unsafe { nanocalc_process(engine, ptr::null(), 0, out.as_mut_ptr(), out.len(), &mut len) };
        assert_eq!(status, NANOCALC_OK, "an empty request is answered (INVALID_REQUEST), not refused");
        assert_eq!(out[0], 0x12);
        let status = unsafe { nanocalc_process(engine, ptr::null(), 3, out.as_mut_ptr(), out.len(), &mut len) };
        assert_eq!(status, NANOCALC_ERROR_NULL_POINTER);
        unsafe { nanocalc_engine_free(engine) };
    }

    #[test]
    fn call_runs_the_shared_buffer_protocol() {
        let engine = nanocalc_engine_new(1 << 20, 1000, 4);
        let mut buffer = [0u64; 32]; // 256 bytes, 8-byte aligned
        let bytes: &mut [u8; 256] = unsafe { &mut *buffer.as_mut_ptr().cast() };
        bytes[..4].copy_from_slice(&2u32.to_le_bytes());
        bytes[16..18].copy_from_slice(&[0x0a, 0x00]); // add {} → 0
        assert_eq!(unsafe { nanocalc_call(engine, bytes.as_mut_ptr(), 256) }, NANOCALC_OK);
        let start = u32::from_le_bytes(bytes[4..8].try_into().unwrap()) as usize;
        let len = u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize;
        assert_eq!(&bytes[start..start + len], &[0x08, 0x00]);
        assert_eq!(unsafe { nanocalc_call(engine, bytes.as_mut_ptr(), 8) }, NANOCALC_ERROR_BAD_BUFFER);
        assert_eq!(unsafe { nanocalc_call(ptr::null(), bytes.as_mut_ptr(), 256) }, NANOCALC_ERROR_NULL_POINTER);
        unsafe { nanocalc_engine_free(engine) };
    }
}
