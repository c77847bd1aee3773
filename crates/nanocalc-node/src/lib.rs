//! The Node-API adapter: a thin shell over `nanocalc-core`.
//!
//! Each JavaScript `Calculator` owns an engine and one `ArrayBuffer` shared with Rust, laid out as
//! `nanocalc_core::shared_buffer` describes (three u32 control words, the request at byte 16, the
//! response after it); that module runs the protocol, for this adapter and the C ABI alike.
//!
//! The engine is reached through a JavaScript function bound to it (the engine pointer is the
//! function's data), called with no arguments: the cheapest call Node-API has. Nothing is copied
//! or allocated per call. The engine is freed when that function is garbage-collected.
//!
//! Errors at this boundary: domain failures travel inside the response bytes; misuse of the
//! engine (a closed engine, a request longer than the buffer) throws a JS `Error`, which the
//! TypeScript layer never lets happen; a panic becomes an `ERROR_CODE_INTERNAL` response.

use std::ffi::c_void;
use std::ptr;

use nanocalc_core::Limits;
use nanocalc_core::shared_buffer::{self, Memory};
use napi::bindgen_prelude::*;
use napi_derive::napi;

pub use shared_buffer::{NEED_CAPACITY, REQUEST_OFFSET};

/// Benchmark baselines (`boundaryFloor`, `processBuffer`): only in the addon built with the feature
/// `bench-baselines`, for the benchmark and its tests, never in the published one.
#[cfg(feature = "bench-baselines")]
mod baselines;

/// The 'native' transport of RemoteCalculator: a gRPC client on tokio (feature `remote`, on in the
/// published addon).
#[cfg(feature = "remote")]
mod remote;

struct Engine {
    /// The shared buffer; `None` once closed. Holding it keeps a reference, so it lives as long
    /// as the engine.
    buffer: Option<Uint8Array>,
    limits: Limits,
}

fn limit(value: f64, name: &str) -> Result<usize> {
    // The TypeScript layer keeps limits far below u32::MAX so every offset fits a control word.
    if value.is_finite() && value >= 1.0 && value <= f64::from(u32::MAX >> 1) && value.fract() == 0.0 {
        Ok(value as usize)
    } else {
        Err(Error::new(Status::InvalidArg, format!("{name} must be an integer from 1 to 2^31 - 1")))
    }
}

fn check(status: sys::napi_status, what: &str) -> Result<()> {
    if status == sys::Status::napi_ok { Ok(()) } else { Err(Error::new(Status::GenericFailure, what.to_string())) }
}

/// A JavaScript function of the raw callback `callback`, with `data` as its callback data.
fn raw_function(env: &Env, name: &str, callback: RawCallback, data: *mut c_void) -> Result<sys::napi_value> {
    let mut function = ptr::null_mut();
    // SAFETY: creating a function from a callback with the Node-API signature; what `data`
    // points to is the caller's to keep alive while the function may be called.
    let status = unsafe {
        sys::napi_create_function(
            env.raw(),
            name.as_ptr().cast(),
            name.len() as isize,
            Some(callback),
            data,
            &mut function,
        )
    };
    check(status, "cannot create a function")?;
    Ok(function)
}

type RawCallback = unsafe extern "C" fn(sys::napi_env, sys::napi_callback_info) -> sys::napi_value;

/// Frees an engine when its bound function is collected.
unsafe extern "C" fn finalize_engine(_env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
    // SAFETY: `data` is the `Box<Engine>` leaked in `engine_open`, finalized exactly once.
    drop(unsafe { Box::from_raw(data.cast::<Engine>()) });
}

/// Opens an engine over `buffer` and returns the function that runs one call on it.
#[napi(ts_return_type = "() => void")]
pub fn engine_open<'env>(
    env: &'env Env,
    buffer: Uint8Array,
    max_request_bytes: f64,
    max_batch_length: f64,
    max_threads: f64,
) -> Result<Unknown<'env>> {
    let limits = Limits {
        max_request_bytes: limit(max_request_bytes, "maxRequestBytes")?,
        max_batch_length: limit(max_batch_length, "maxBatchLength")?,
        max_threads: limit(max_threads, "maxThreads")?,
        ..Limits::default()
    };
    let engine = Box::into_raw(Box::new(Engine { buffer: Some(buffer), limits }));
    // SAFETY: Node-API calls on this env; the engine pointer becomes the function's data and is
    // owned by the wrap, whose finalizer frees it.
    unsafe {
        let function = match raw_function(env, "nanocalcEngineCall", engine_call, engine.cast()) {
            Ok(function) => function,
            Err(error) => {
                drop(Box::from_raw(engine));
                return Err(error);
            }
        };
        let wrapped =
            sys::napi_wrap(env.raw(), function, engine.cast(), Some(finalize_engine), ptr::null_mut(), ptr::null_mut());
        if wrapped != sys::Status::napi_ok {
            drop(Box::from_raw(engine));
            return Err(Error::new(Status::GenericFailure, "cannot attach the engine".to_string()));
        }
        Ok(Unknown::from_raw_unchecked(env.raw(), function))
    }
}

/// The engine bound to a function made by [`engine_open`].
fn engine_of<'a>(env: &Env, function: &Unknown) -> Result<&'a mut Engine> {
    let mut data = ptr::null_mut();
    // SAFETY: napi_unwrap only succeeds on objects wrapped by this addon's engine_open.
    check(unsafe { sys::napi_unwrap(env.raw(), function.raw(), &mut data) }, "not a nanocalc engine")?;
    // SAFETY: the wrap holds a live `Engine` until the function is collected, and JS is single-threaded.
    Ok(unsafe { &mut *data.cast::<Engine>() })
}

/// Replaces the shared buffer of an open engine (after JavaScript grew it).
#[napi]
pub fn engine_attach(env: Env, engine: Unknown, buffer: Uint8Array) -> Result<()> {
    let engine = engine_of(&env, &engine)?;
    if engine.buffer.is_none() {
        return Err(Error::new(Status::InvalidArg, "the engine is closed".to_string()));
    }
    engine.buffer = Some(buffer);
    Ok(())
}

/// Closes an engine: drops its buffer now (the rest goes with its function). Closing twice is harmless.
#[napi]
pub fn engine_close(env: Env, engine: Unknown) -> Result<()> {
    engine_of(&env, &engine)?.buffer = None;
    Ok(())
}

/// Runs a request on the libuv thread pool: the shared-buffer protocol over `buffer`, a buffer of
/// its own (not the engine's shared buffer, which stays free for calls made meanwhile), with the
/// engine's limits. The promise resolves once the response is in `buffer`. JavaScript must not
/// touch `buffer` until then (the TypeScript layer creates it and never hands it out).
#[napi(ts_return_type = "Promise<void>")]
pub fn engine_run_async(env: Env, engine: Unknown, buffer: Uint8Array) -> Result<AsyncTask<RunOnPool>> {
    let engine = engine_of(&env, &engine)?;
    if engine.buffer.is_none() {
        return Err(Error::new(Status::InvalidArg, "nanocalc: the engine is closed".to_string()));
    }
    Ok(AsyncTask::new(RunOnPool { buffer, limits: engine.limits }))
}

/// The work of [`engine_run_async`]. Holding the buffer keeps a reference to it until the task is
/// settled (back on the JavaScript thread), so it cannot be collected while the pool writes it.
pub struct RunOnPool {
    buffer: Uint8Array,
    limits: Limits,
}

impl Task for RunOnPool {
    type Output = ();
    type JsValue = ();

    fn compute(&mut self) -> Result<()> {
        // SAFETY: only this task uses the buffer while it runs (see engine_run_async).
        shared_buffer::run(unsafe { self.buffer.as_mut() }, &self.limits)
            .map_err(|message| Error::new(Status::GenericFailure, message.to_string()))
    }

    fn resolve(&mut self, _env: Env, _output: ()) -> Result<()> {
        Ok(())
    }
}

/// Runs the request in the engine's buffer (see `nanocalc_core::shared_buffer` for the layout).
fn run(engine: &mut Engine) -> core::result::Result<(), &'static str> {
    let limits = engine.limits;
    let buffer = engine.buffer.as_mut().ok_or("nanocalc: the engine is closed")?;
    // SAFETY: the buffer is a plain ArrayBuffer private to the calling Calculator and this
    // thread; JavaScript cannot touch it while this call runs.
    shared_buffer::run(unsafe { buffer.as_mut() }, &limits)
}

/// The engine's bound function: a raw Node-API callback with no arguments. (A `#[napi]` function
/// costs about 100 ns more per call in argument and borrow bookkeeping.)
unsafe extern "C" fn engine_call(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    let mut data = ptr::null_mut();
    let mut argc = 0;
    // SAFETY: `data` is the engine this function was created for, alive while the function is
    // (the finalizer runs only once the function is unreachable), on the JavaScript thread.
    unsafe {
        sys::napi_get_cb_info(env, info, &mut argc, ptr::null_mut(), ptr::null_mut(), &mut data);
        if let Err(message) = run(&mut *data.cast::<Engine>()) {
            let message = std::ffi::CString::new(message).unwrap_or_default();
            sys::napi_throw_error(env, ptr::null(), message.as_ptr());
        }
    }
    // NULL is `undefined`: the answer is in the buffer.
    ptr::null_mut()
}

/// Opens the engine's second function, `columns(a, b, out)`: a column batch with no copies.
/// JavaScript writes the request's frame in the shared buffer (every key and length, as
/// [`shared_buffer::column_lists`] reads it) but not the lists' bytes: this function hands the
/// engine `a` and `b` where they are, and `out` for the values (`shared_buffer::run_columns`).
/// It returns whether the answer is a batch result, its values then in `out`; otherwise (`false`)
/// the error response is in the buffer for JavaScript to read, and `out` is untouched. When `out`
/// shares memory with `a` or `b`, the lists are copied into the request and the values out of the
/// response instead, so that every input is read before any result is written. The columns
/// function keeps the engine's function, and so the engine, alive.
#[napi(ts_return_type = "(a: BigInt64Array, b: BigInt64Array, out: BigInt64Array) => boolean")]
pub fn engine_columns<'env>(env: &'env Env, engine: Unknown) -> Result<Unknown<'env>> {
    let data: *mut Engine = engine_of(env, &engine)?;
    let function = raw_function(env, "nanocalcEngineColumns", columns_call, data.cast())?;
    let mut keep = ptr::null_mut();
    // SAFETY: Node-API calls on this env. The engine outlives the columns function: a reference
    // to the engine's function, deleted only by the columns function's finalizer, keeps it alive.
    unsafe {
        check(sys::napi_create_reference(env.raw(), engine.raw(), 1, &mut keep), "cannot hold the engine")?;
        let wrapped =
            sys::napi_wrap(env.raw(), function, keep.cast(), Some(release_engine), ptr::null_mut(), ptr::null_mut());
        if wrapped != sys::Status::napi_ok {
            sys::napi_delete_reference(env.raw(), keep);
            return Err(Error::new(Status::GenericFailure, "cannot attach the engine".to_string()));
        }
        Ok(Unknown::from_raw_unchecked(env.raw(), function))
    }
}

/// Lets the engine's function go when the columns function is collected.
unsafe extern "C" fn release_engine(env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
    // SAFETY: `data` is the reference made in `engine_columns`, deleted exactly once.
    unsafe { sys::napi_delete_reference(env, data.cast()) };
}

/// The memory of a typed array argument, or `None` if the value is not a typed array.
unsafe fn typed_array_memory(env: sys::napi_env, value: sys::napi_value) -> Option<Memory> {
    let mut is_typed_array = false;
    let mut data = ptr::null_mut();
    let mut len = 0;
    // SAFETY: Node-API calls on this env; `napi_get_buffer_info` reads any ArrayBufferView (and
    // is cheaper than `napi_get_typedarray_info`, which tests the element type eleven ways), and
    // is only reached for typed arrays. The element type is JavaScript's to check: a column of
    // another type of 8-byte elements would give wrong numbers, never a wrong memory access.
    unsafe {
        if sys::napi_is_typedarray(env, value, &mut is_typed_array) != sys::Status::napi_ok
            || !is_typed_array
            || sys::napi_get_buffer_info(env, value, &mut data, &mut len) != sys::Status::napi_ok
        {
            return None;
        }
    }
    Some(Memory { data: data.cast(), len })
}

/// The columns function: `(a, b, out) => boolean` (see [`engine_columns`]).
unsafe extern "C" fn columns_call(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    let mut data = ptr::null_mut();
    let mut argc = 3;
    let mut argv = [ptr::null_mut(); 3];
    // SAFETY: `data` is the engine, alive while this function is (see `engine_columns`), on the
    // JavaScript thread, which runs nothing else while this call lasts. None of the arrays shares
    // the shared buffer's memory: the Calculator never hands that buffer out.
    unsafe {
        sys::napi_get_cb_info(env, info, &mut argc, argv.as_mut_ptr(), ptr::null_mut(), &mut data);
        let engine = &mut *data.cast::<Engine>();
        // The engine contains its own panics; this keeps any of the copies' on this side as well.
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let [a, b, out] = argv.map(|value| typed_array_memory(env, value));
            match (a, b, out) {
                (Some(a), Some(b), Some(out)) => run_columns(engine, a, b, out),
                _ => Err(NOT_TYPED),
            }
        }))
        .unwrap_or(Err("nanocalc: internal error: the column call panicked"));
        match outcome {
            Ok(written) => {
                let mut result = ptr::null_mut();
                sys::napi_get_boolean(env, written, &mut result);
                result
            }
            Err(message) => {
                let is_type_error = message == shared_buffer::COLUMN_LENGTH_DIFFERS || message == NOT_TYPED;
                let message = std::ffi::CString::new(message).unwrap_or_default();
                if is_type_error {
                    sys::napi_throw_type_error(env, ptr::null(), message.as_ptr());
                } else {
                    sys::napi_throw_error(env, ptr::null(), message.as_ptr());
                }
                ptr::null_mut()
            }
        }
    }
}

const NOT_TYPED: &str = "nanocalc: columns takes three typed arrays";

/// Runs the column batch framed in the engine's buffer over `a` and `b`, its values into `out`;
/// `Ok(false)` if the answer is an error (see [`engine_columns`]).
fn run_columns(engine: &mut Engine, a: Memory, b: Memory, out: Memory) -> core::result::Result<bool, &'static str> {
    let buffer = engine.buffer.as_mut().ok_or("nanocalc: the engine is closed")?;
    // SAFETY: the buffer is private to the calling Calculator and this thread (see `run`). The
    // arrays' memory is the caller's, none of it the buffer's, and nothing else touches it
    // during the call.
    unsafe { shared_buffer::run_columns_over(buffer.as_mut(), a, b, out, &engine.limits) }
}

/// `memoryOverlaps(x, y)`: whether two typed arrays share a byte of memory, by address. Two views
/// of one memory need not share a buffer object (a `SharedArrayBuffer` sent through a
/// `MessagePort` arrives as another object; a shared `WebAssembly.Memory` gives a new one after
/// `grow()`), so JavaScript cannot tell; the Calculator asks before it splits a batch into requests
/// whose results could overwrite a later request's inputs.
#[napi]
pub fn memory_overlaps(env: Env, x: Unknown, y: Unknown) -> Result<bool> {
    // SAFETY: Node-API calls on this env with values of its own.
    let (x, y) = unsafe { (typed_array_memory(env.raw(), x.raw()), typed_array_memory(env.raw(), y.raw())) };
    match (x, y) {
        (Some(x), Some(y)) => Ok(x.overlaps(y)),
        _ => Err(Error::new(Status::InvalidArg, "nanocalc: memoryOverlaps takes two typed arrays".to_string())),
    }
}
