//! The shared-buffer protocol: one request and its response in a single buffer owned by the
//! caller, so that a binding passes nothing per call but that buffer. Every binding that shares
//! memory with its host (the Node-API addon, the C ABI used by Bun and Deno) runs this same code.
//!
//! ```text
//! [0, 4)    u32  request length            (written by the caller)
//! [4, 8)    u32  response start            (written here; or the capacity needed, see below)
//! [8, 12)   u32  response length           (written here; NEED_CAPACITY when the buffer is too small)
//! [12, 16)       reserved
//! [16, …)        CalculatorRequest bytes   (written by the caller)
//! [align8(16 + request length), …)  CalculatorResponse bytes (written here)
//! ```
//!
//! All words are little-endian. Offsets are from the start of the buffer. When the response does
//! not fit, the response length word is [`NEED_CAPACITY`] and the start word holds the size the
//! whole buffer needs: the caller grows it (keeping the request) and calls again. Batch values in
//! the response sit at an 8-byte-aligned *address*, so a buffer that is itself 8-byte aligned
//! gives them at an 8-byte-aligned offset.
//!
//! Domain failures (malformed bytes, division by zero, limits) are answered inside the response.
//! A panic in the engine becomes an `ERROR_CODE_INTERNAL` response. Only misuse of the protocol
//! itself (a buffer shorter than the control words, a request running past the buffer) is an
//! `Err`, with a message for the binding to raise.

use std::ops::Range;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::wire::{
    REQUEST_LENGTH_WORD, RESPONSE_LENGTH_WORD, RESPONSE_START_WORD, batch_result_key, calculator_response_key,
};
use crate::{ErrorCode, Limits, Outcome, decode, encode, kernels};

/// The layout's constants, generated with their TypeScript twins (see [`crate::wire`]).
pub use crate::wire::{NEED_CAPACITY, REQUEST_OFFSET};

/// The error of a column call whose arrays are not as long as the frame says: a binding's caller
/// changed an array's length (detached it, or resized its buffer) after writing the frame.
/// Bindings raise it as a JavaScript `TypeError`.
pub const COLUMN_LENGTH_DIFFERS: &str =
    "nanocalc: a batch column's length differs from its frame (detached or resized while it was being read)";

/// Runs the request in `buffer` and writes the response and its control words (see the module
/// docs for the layout).
#[inline]
pub fn run(buffer: &mut [u8], limits: &Limits) -> Result<(), &'static str> {
    if buffer.len() < REQUEST_OFFSET {
        return Err("nanocalc: the shared buffer is too small");
    }
    let request_len = word(buffer, REQUEST_LENGTH_WORD) as usize;
    let base = (REQUEST_OFFSET + request_len + 7) & !7;
    if base > buffer.len() {
        return Err("nanocalc: the request runs past the shared buffer");
    }
    let (head, out) = buffer.split_at_mut(base);
    let request = &head[REQUEST_OFFSET..REQUEST_OFFSET + request_len];
    let outcome = catch_unwind(AssertUnwindSafe(|| crate::process_into(request, out, limits)))
        .unwrap_or_else(|_| internal_error(out));
    write_answer(buffer, base, outcome);
    Ok(())
}

/// The control words of an answer whose values went to the caller's array: no response.
fn mark_values_written(buffer: &mut [u8]) {
    write_answer(buffer, 0, Outcome::Written { start: 0, len: 0 });
}

/// Writes the control words for `outcome`, a response written at `base`.
#[inline]
fn write_answer(buffer: &mut [u8], base: usize, outcome: Outcome) {
    let (start, len) = match outcome {
        Outcome::Written { start, len } => ((base + start) as u32, len as u32),
        Outcome::NeedCapacity(needed) => ((base + needed) as u32, NEED_CAPACITY),
    };
    set_word(buffer, RESPONSE_START_WORD, start);
    set_word(buffer, RESPONSE_LENGTH_WORD, len);
}

/// Where the two lists of a column batch go, for a binding that copies its caller's columns
/// straight into the request (one vector copy each, no staging): the byte ranges of `a` and `b` in
/// `buffer`. The request must be a column batch as the TypeScript codec frames it
/// ([`decode::canonical_columns`]), with lists of equal length, their bytes still to be written;
/// anything else is `None`. The request is then run as any other.
pub fn column_lists(buffer: &[u8]) -> Option<(Range<usize>, Range<usize>)> {
    column_frame(buffer).map(|frame| (frame.a, frame.b))
}

/// A column batch framed in the shared buffer: its operation and overflow mode (wire values) and
/// the byte ranges of its lists.
struct ColumnFrame {
    operation: i32,
    overflow: i32,
    a: Range<usize>,
    b: Range<usize>,
}

/// The column batch framed in `buffer` (see [`column_lists`]).
fn column_frame(buffer: &[u8]) -> Option<ColumnFrame> {
    let request_len = word(buffer.get(..REQUEST_OFFSET)?, REQUEST_LENGTH_WORD) as usize;
    let request = buffer.get(REQUEST_OFFSET..REQUEST_OFFSET.checked_add(request_len)?)?;
    let (operation, a, b, overflow) = decode::canonical_columns(request)?;
    let range = |list: &[u8]| {
        let start = list.as_ptr() as usize - buffer.as_ptr() as usize;
        start..start + list.len()
    };
    (a.len() == b.len()).then(|| ColumnFrame { operation, overflow, a: range(a), b: range(b) })
}

/// Runs a column batch with no copies: its lists are read where the caller keeps them, and the
/// values of its answer are written straight into the caller's array. The request in `buffer` is
/// framed as for [`column_lists`], but the bytes at the lists' places are never read: `a` and `b`
/// are the lists (each as long as its place), and a batch result's values go into `values` (as
/// long as `a`), not into a response. `Ok(true)` when they are written, and the response length
/// word is then 0 (no response: every real one has bytes); `Ok(false)` when the answer is an
/// error, which is then the response in the buffer, written as [`run`] writes it. Either way the
/// answer is [`run`]'s to the same request with the lists in their places.
pub fn run_columns(
    buffer: &mut [u8],
    a: &[u8],
    b: &[u8],
    values: &mut [u8],
    limits: &Limits,
) -> Result<bool, &'static str> {
    let frame = column_frame(buffer).ok_or("nanocalc: no column batch frame in the shared buffer")?;
    if frame.a.len() != a.len() || frame.b.len() != b.len() || values.len() != a.len() {
        return Err(COLUMN_LENGTH_DIFFERS);
    }
    let request_len = word(buffer, REQUEST_LENGTH_WORD) as usize;
    let base = (REQUEST_OFFSET + request_len + 7) & !7;
    let out = buffer.get_mut(base..).ok_or("nanocalc: the request runs past the shared buffer")?;
    let answer = catch_unwind(AssertUnwindSafe(|| {
        let head = crate::ColumnHead { request_len, operation: frame.operation, overflow: frame.overflow };
        crate::columns_in_place(head, a, b, values, out, limits)
    }))
    .unwrap_or_else(|_| Some(internal_error(out)));
    match answer {
        None => {
            mark_values_written(buffer);
            Ok(true)
        }
        Some(outcome) => {
            write_answer(buffer, base, outcome);
            Ok(false)
        }
    }
}

/// One of a caller's arrays, given by address, for [`run_columns_over`]: its first byte and its
/// length in bytes (the address may be anything, null included, when the length is 0).
#[derive(Clone, Copy, Debug)]
pub struct Memory {
    pub data: *mut u8,
    pub len: usize,
}

impl Memory {
    /// # Safety
    /// The memory is readable, and nothing writes it while the slice lives.
    unsafe fn bytes<'a>(self) -> &'a [u8] {
        if self.len == 0 { &[] } else { unsafe { std::slice::from_raw_parts(self.data, self.len) } }
    }

    /// # Safety
    /// The memory is writable, and nothing else reads or writes it while the slice lives.
    unsafe fn bytes_mut<'a>(self) -> &'a mut [u8] {
        if self.len == 0 { &mut [] } else { unsafe { std::slice::from_raw_parts_mut(self.data, self.len) } }
    }

    /// Whether the two share a byte: by address, so however a caller's two views of one memory
    /// were obtained (another `SharedArrayBuffer` object, a grown `WebAssembly.Memory`, ...).
    pub fn overlaps(self, other: Memory) -> bool {
        let (start, other_start) = (self.data as usize, other.data as usize);
        self.len > 0 && other.len > 0 && start < other_start + other.len && other_start < start + self.len
    }
}

/// [`run_columns`] for a binding whose caller's arrays may share memory (`out` may be `a`, or
/// overlap it at a shift): then the lists are copied into the request and the values out of the
/// answer instead, so that every input is read before any result is written. Returns as
/// [`run_columns`] does.
///
/// # Safety
/// `a` and `b` are readable and `out` writable for their lengths; none of them shares memory with
/// `buffer`, and nothing else touches them during the call (`a` and `b` may be one array).
pub unsafe fn run_columns_over(
    buffer: &mut [u8],
    a: Memory,
    b: Memory,
    out: Memory,
    limits: &Limits,
) -> Result<bool, &'static str> {
    // SAFETY: by the contract above; `out` is written only while no slice of memory it shares is
    // alive.
    unsafe {
        if !out.overlaps(a) && !out.overlaps(b) {
            return run_columns(buffer, a.bytes(), b.bytes(), out.bytes_mut(), limits);
        }
        let (list_a, list_b) = column_lists(buffer).ok_or("nanocalc: no column batch frame in the shared buffer")?;
        for (list, source) in [(list_a, a), (list_b, b)] {
            if source.len != list.len() {
                return Err(COLUMN_LENGTH_DIFFERS);
            }
            kernels::copy(&mut buffer[list], source.bytes());
        }
        run(buffer, limits)?;
        let Some(values) = batch_values(buffer) else { return Ok(false) };
        if out.len != values.len() {
            return Err(COLUMN_LENGTH_DIFFERS);
        }
        kernels::copy(out.bytes_mut(), &buffer[values]);
        mark_values_written(buffer);
        Ok(true)
    }
}

/// After [`run`]: the byte range in `buffer` of the values of the response, if it is a batch
/// result (`CalculatorResponse { batch: BatchResult { values } }`), for a binding that copies them
/// straight into its caller's array. Any other response (an error) is `None`.
pub fn batch_values(buffer: &[u8]) -> Option<Range<usize>> {
    let (start, len) =
        (word(buffer.get(..REQUEST_OFFSET)?, RESPONSE_START_WORD) as usize, word(buffer, RESPONSE_LENGTH_WORD));
    if len == NEED_CAPACITY {
        return None;
    }
    let response = buffer.get(start..start.checked_add(len as usize)?)?;
    let mut rest = response;
    if length_after(&mut rest, calculator_response_key::BATCH)? != rest.len() {
        return None;
    }
    // An empty batch has no values field (as prost writes it).
    if !rest.is_empty() && (length_after(&mut rest, batch_result_key::VALUES)? != rest.len() || rest.len() % 8 != 0) {
        return None;
    }
    let end = start + response.len();
    Some(end - rest.len()..end)
}

/// Reads the key byte `key` and the length after it.
#[inline(always)]
fn length_after(rest: &mut &[u8], key: u8) -> Option<usize> {
    usize::try_from(decode::after_key(rest, key)?).ok()
}

/// The control word `index` (little-endian u32 at byte `4 * index`).
fn word(buffer: &[u8], index: usize) -> u32 {
    let at = 4 * index;
    u32::from_le_bytes([buffer[at], buffer[at + 1], buffer[at + 2], buffer[at + 3]])
}

fn set_word(buffer: &mut [u8], index: usize, value: u32) {
    buffer[4 * index..4 * index + 4].copy_from_slice(&value.to_le_bytes());
}

/// The answer to a request whose handling panicked: the engine is unharmed and keeps serving.
fn internal_error(out: &mut [u8]) -> Outcome {
    if out.len() < encode::SMALL_RESPONSE_MAX {
        return Outcome::NeedCapacity(encode::SMALL_RESPONSE_MAX);
    }
    let len = encode::error(out, ErrorCode::Internal, "internal error: the engine panicked", 0);
    Outcome::Written { start: 0, len }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A buffer of `capacity` bytes holding `request` at REQUEST_OFFSET.
    fn buffer_with(request: &[u8], capacity: usize) -> Vec<u8> {
        let mut buffer = vec![0u8; capacity];
        buffer[..4].copy_from_slice(&(request.len() as u32).to_le_bytes());
        buffer[REQUEST_OFFSET..REQUEST_OFFSET + request.len()].copy_from_slice(request);
        buffer
    }

    fn response(buffer: &[u8]) -> &[u8] {
        let start = word(buffer, RESPONSE_START_WORD) as usize;
        let len = word(buffer, RESPONSE_LENGTH_WORD) as usize;
        &buffer[start..start + len]
    }

    #[test]
    fn answers_a_request_after_it_at_an_aligned_offset() {
        // add { a: 2, b: 3 } → value 5
        let mut buffer = buffer_with(&[0x0a, 0x04, 0x08, 0x02, 0x10, 0x03], 1024);
        run(&mut buffer, &Limits::default()).unwrap();
        assert_eq!(word(&buffer, RESPONSE_START_WORD), 24);
        assert_eq!(response(&buffer), &[0x08, 0x05]);
        // The request is left as it was.
        assert_eq!(&buffer[REQUEST_OFFSET..REQUEST_OFFSET + 6], &[0x0a, 0x04, 0x08, 0x02, 0x10, 0x03]);
    }

    #[test]
    fn malformed_bytes_are_an_invalid_request_response() {
        let mut buffer = buffer_with(&[0xff, 0xff], 1024);
        run(&mut buffer, &Limits::default()).unwrap();
        let answer = response(&buffer);
        assert_eq!(&answer[..1], &[0x12]);
        assert_eq!(answer[3], ErrorCode::InvalidRequest as u8);
    }

    #[test]
    fn a_small_buffer_asks_for_the_capacity_it_needs() {
        let mut buffer = buffer_with(&[0x0a, 0x00], 40);
        run(&mut buffer, &Limits::default()).unwrap();
        assert_eq!(word(&buffer, RESPONSE_LENGTH_WORD), NEED_CAPACITY);
        let needed = word(&buffer, RESPONSE_START_WORD) as usize;
        assert!(needed > 40);
        buffer.resize(needed, 0);
        run(&mut buffer, &Limits::default()).unwrap();
        assert_eq!(response(&buffer), &[0x08, 0x00]);
    }

    /// The TypeScript codec's frame of a column batch of `n` (varint lengths padded to fixed
    /// widths so that the lists sit at 8-byte-aligned offsets), lists zeroed, with the overflow
    /// mode after it unless it is 0.
    fn column_frame(operation: u8, overflow: u8, n: usize) -> Vec<u8> {
        fn padded(value: usize, width: usize) -> Vec<u8> {
            (0..width).map(|i| ((value >> (7 * i)) & 0x7f) as u8 | if i + 1 < width { 0x80 } else { 0 }).collect()
        }
        let mut frame = vec![0x3a];
        frame.extend(padded(18 + 16 * n, 5));
        frame.extend([0x08, operation, 0x12]);
        frame.extend(padded(8 * n, 7));
        frame.extend(vec![0; 8 * n]);
        frame.push(0x1a);
        frame.extend(padded(8 * n, 7));
        frame.extend(vec![0; 8 * n]);
        if overflow != 0 {
            frame.extend([0x48, overflow]);
        }
        frame
    }

    #[test]
    fn column_lists_are_filled_in_place_and_the_values_read_back() {
        use prost::Message;
        for n in [0, 1, 3, 1000] {
            let mut buffer = buffer_with(&column_frame(1, 0, n), 256 + 48 * n);
            let (a, b) = column_lists(&buffer).expect("a column frame");
            assert_eq!((a.start % 8, b.start % 8, a.len(), b.len()), (0, 0, 8 * n, 8 * n));
            let column = |k: i64| (0..n as i64).map(move |i| i * k - 7).collect::<Vec<_>>();
            for (range, values) in [(a, column(3)), (b, column(-5))] {
                buffer[range].copy_from_slice(&le_bytes(&values));
            }
            // The filled request is what prost encodes and decodes, and its answer is read back.
            let request_len = word(&buffer, REQUEST_LENGTH_WORD) as usize;
            let decoded =
                crate::pb::CalculatorRequest::decode(&buffer[REQUEST_OFFSET..REQUEST_OFFSET + request_len]).unwrap();
            let Some(crate::pb::calculator_request::Operation::Columns(columns)) = decoded.operation else {
                panic!("not a column batch")
            };
            assert_eq!((columns.a, columns.b), (column(3), column(-5)));
            run(&mut buffer, &Limits::default()).unwrap();
            let values = batch_values(&buffer).unwrap_or_else(|| {
                panic!("not a batch result: {:?}", &response(&buffer)[..8.min(response(&buffer).len())])
            });
            let sums: Vec<i64> =
                buffer[values].chunks_exact(8).map(|v| i64::from_le_bytes(v.try_into().unwrap())).collect();
            assert_eq!(sums, (0..n as i64).map(|i| -2 * i - 14).collect::<Vec<_>>(), "n = {n}");
        }
    }

    #[test]
    fn column_lists_refuse_any_other_request_and_batch_values_any_other_response() {
        let frame = column_frame(1, 0, 2);
        assert!(column_lists(&buffer_with(&frame, 512)).is_some());
        // Any byte changed (a key, a length) or the request cut short or made longer.
        for at in [0, 1, 5, 6, 8, 9, 15, 32, 33, 39] {
            let mut damaged = frame.clone();
            damaged[at] ^= 0x40;
            assert!(column_lists(&buffer_with(&damaged, 512)).is_none(), "byte {at} changed");
        }
        assert!(column_lists(&buffer_with(&frame[..frame.len() - 1], 256)).is_none());
        assert!(column_lists(&buffer_with(&[frame.as_slice(), &[0]].concat(), 256)).is_none());
        // A request running past the buffer, or a buffer without control words.
        assert!(column_lists(&buffer_with(&frame, 256)[..40]).is_none());
        assert!(column_lists(&[0u8; 8]).is_none());
        // Other requests: a single add, a row batch.
        assert!(column_lists(&buffer_with(&[0x0a, 0x04, 0x08, 0x02, 0x10, 0x03], 256)).is_none());
        assert!(column_lists(&buffer_with(&[0x32, 0x02, 0x08, 0x01], 256)).is_none());

        // Responses: a value, an error (division by zero), a request too long for the buffer.
        let mut value = buffer_with(&[0x0a, 0x04, 0x08, 0x02, 0x10, 0x03], 256);
        run(&mut value, &Limits::default()).unwrap();
        assert!(batch_values(&value).is_none());
        let mut failing = buffer_with(&column_frame(4, 0, 2), 512);
        run(&mut failing, &Limits::default()).unwrap();
        assert_eq!(response(&failing)[0], 0x12, "an error response");
        assert!(batch_values(&failing).is_none());
        let mut small = buffer_with(&column_frame(1, 0, 2), 80);
        run(&mut small, &Limits::default()).unwrap();
        assert_eq!(word(&small, RESPONSE_LENGTH_WORD), NEED_CAPACITY);
        assert!(batch_values(&small).is_none());
    }

    use proptest::prelude::*;

    /// A column of `n` values drawn to hit zero divisors and saturation now and then.
    fn any_column(n: usize) -> impl Strategy<Value = Vec<i64>> {
        prop::collection::vec(
            prop_oneof![4 => any::<i64>(), 1 => Just(0), 1 => Just(i64::MIN), 1 => Just(-1), 1 => -3i64..3],
            n,
        )
    }

    fn le_bytes(column: &[i64]) -> Vec<u8> {
        column.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    /// The buffer after [`run`] answered the column batch of `a` and `b` copied into its request:
    /// the answer every no-copy path is held to.
    fn answered_with_lists_copied(operation: u8, overflow: u8, a: &[u8], b: &[u8], limits: &Limits) -> Vec<u8> {
        let n = a.len() / 8;
        let mut buffer = buffer_with(&column_frame(operation, overflow, n), 256 + 48 * n);
        let (list_a, list_b) = column_lists(&buffer).expect("a column frame");
        buffer[list_a].copy_from_slice(a);
        buffer[list_b].copy_from_slice(b);
        run(&mut buffer, limits).unwrap();
        buffer
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

        /// `run_columns`, lists and values borrowed in place, answers as `run` does with the lists
        /// copied into the request: the same values, or the same error response.
        #[test]
        fn run_columns_answers_as_run(
            operation in 0u8..=6,
            overflow in 0u8..=4,
            (a, b) in (0usize..40).prop_flat_map(|n| (any_column(n), any_column(n))),
            max_request_bytes in prop_oneof![Just(usize::MAX), 0usize..400],
            max_batch_length in prop_oneof![Just(usize::MAX), 0usize..40],
        ) {
            let n = a.len();
            let limits = Limits { max_request_bytes, max_batch_length, max_threads: 1, ..Limits::default() };
            let (a, b) = (le_bytes(&a), le_bytes(&b));
            let copied = answered_with_lists_copied(operation, overflow, &a, &b, &limits);

            let mut in_place = buffer_with(&column_frame(operation, overflow, n), 256 + 48 * n);
            let mut values = vec![0xa5u8; 8 * n];
            let written = run_columns(&mut in_place, &a, &b, &mut values, &limits).unwrap();
            match batch_values(&copied) {
                Some(expected) => {
                    prop_assert!(written);
                    prop_assert_eq!(&values[..], &copied[expected]);
                    prop_assert_eq!(word(&in_place, RESPONSE_LENGTH_WORD), 0, "the response length word of values written");
                }
                None => {
                    prop_assert!(!written);
                    prop_assert_eq!(response(&in_place), response(&copied));
                    prop_assert!(values.iter().all(|&byte| byte == 0xa5), "values written on an error");
                }
            }
        }

        /// `run_columns_over` with `out` over `a`'s or `b`'s memory at any shift: the answer to the
        /// columns as they were before the call, or the memory untouched on an error.
        #[test]
        fn run_columns_over_reads_every_input_before_writing(
            operation in 1u8..=5,
            overflow in 0u8..=3,
            (a, b) in (1usize..24).prop_flat_map(|n| (any_column(n), any_column(n))),
            shift in -3isize..=3,
            shared_is_a in any::<bool>(),
        ) {
            let n = a.len();
            let limits = Limits { max_threads: 1, ..Limits::default() };
            let expected = answered_with_lists_copied(operation, overflow, &le_bytes(&a), &le_bytes(&b), &limits);

            // The shared column sits at element 3 of a larger memory; `out` at 3 + shift.
            let (shared, other) = if shared_is_a { (&a, &b) } else { (&b, &a) };
            let mut memory = vec![0u8; 8 * (n + 6)];
            memory[24..24 + 8 * n].copy_from_slice(&le_bytes(shared));
            let mut other = le_bytes(other);
            let before = memory.clone();
            let base = memory.as_mut_ptr();
            let at = |offset: isize| Memory { data: base.wrapping_offset(offset * 8), len: 8 * n };
            let other = Memory { data: other.as_mut_ptr(), len: 8 * n };
            let (in_a, in_b) = if shared_is_a { (at(3), other) } else { (other, at(3)) };
            let mut buffer = buffer_with(&column_frame(operation, overflow, n), 256 + 48 * n);
            // SAFETY: every Memory points into a live vector of its length; nothing else touches them.
            let written = unsafe { run_columns_over(&mut buffer, in_a, in_b, at(3 + shift), &limits) }.unwrap();
            match batch_values(&expected) {
                Some(values) => {
                    prop_assert!(written);
                    let start = 8 * (3 + shift) as usize;
                    prop_assert_eq!(&memory[start..start + 8 * n], &expected[values]);
                }
                None => {
                    prop_assert!(!written);
                    prop_assert_eq!(response(&buffer), response(&expected));
                    prop_assert_eq!(memory, before);
                }
            }
        }
    }

    #[test]
    fn run_columns_refuses_lists_that_do_not_fit_their_frame() {
        let limits = Limits::default();
        let mut buffer = buffer_with(&column_frame(1, 0, 2), 512);
        let (two, three) = ([0u8; 16], [0u8; 24]);
        let mut values = [0u8; 16];
        assert!(run_columns(&mut buffer, &two, &two, &mut values, &limits).unwrap());
        for (a, b, out) in [(&three[..], &two[..], 16), (&two[..], &three[..], 16), (&two[..], &two[..], 24)] {
            let mut out = vec![0u8; out];
            assert_eq!(run_columns(&mut buffer, a, b, &mut out, &limits), Err(COLUMN_LENGTH_DIFFERS));
        }
        let mut single = buffer_with(&[0x0a, 0x04, 0x08, 0x02, 0x10, 0x03], 256);
        assert_eq!(
            run_columns(&mut single, &two, &two, &mut values, &limits),
            Err("nanocalc: no column batch frame in the shared buffer")
        );
    }

    #[test]
    fn protocol_misuse_is_an_error() {
        assert!(run(&mut [0u8; 8], &Limits::default()).is_err());
        let mut buffer = vec![0u8; 64];
        buffer[..4].copy_from_slice(&60u32.to_le_bytes());
        assert_eq!(run(&mut buffer, &Limits::default()), Err("nanocalc: the request runs past the shared buffer"));
    }
}
