//! Row batches (`BatchOperation { operation, repeated BinaryOp operations }`) in their canonical
//! encoding, `32 <len> 08 <op> (12 <len> 08 <a> 10 <b>)*` as the whole request (perhaps with the
//! overflow mode, `48 <mode>`, after it), decoded and computed in a single pass.
//!
//! Each row is read from a fixed window of the request with unaligned eight-byte loads and no
//! loop ([`row`]), computed at once and its value stored; the response header is written last, in
//! front of the values. At anything else (a field out of order or missing, an unknown field, a
//! failing element, more rows than the limit or the buffer allows) it gives up with `None`, and
//! the general two-pass path answers instead, exactly as it always did. So this path only has to
//! be right about what it accepts: exactly what prost accepts, with the same values.

use crate::arith::{self, Op, Overflow, specialize};
use crate::decode;
use crate::encode::{batch_header, batch_header_len};
use crate::wire::{batch_operation_key, binary_op_key, calculator_request_key};
use crate::{Limits, Outcome};

/// Bytes of the request a row is read from: the longest row the fast reader takes,
/// `12 <len> 08 <10 bytes> 10 <10 bytes>`, is 24 bytes. Rows closer than this to the end of the
/// request are read by [`row_careful`].
const WINDOW: usize = 24;

/// Answers a row batch in its canonical encoding, or `None` for the general path.
#[inline(never)]
pub(crate) fn canonical_row_batch(request: &[u8], out: &mut [u8], limits: &Limits) -> Option<Outcome> {
    let mut rest = request.strip_prefix(&[calculator_request_key::BATCH])?;
    let len = usize::try_from(decode::varint(&mut rest).ok()?).ok()?;
    let (batch, overflow) = decode::with_overflow(rest, len)?;
    let mode = Overflow::from_wire(overflow)?;
    let mut rows = batch.strip_prefix(&[batch_operation_key::OPERATION])?;
    let op = Op::from_wire(i32::try_from(decode::varint(&mut rows).ok()?).ok()?)?;
    // Values go after room for the largest header (every row takes at least two bytes), 8-byte
    // aligned; the real header is written in front of them at the end.
    let header_max = batch_header_len(request.len());
    let values_at = header_max + ((8 - ((out.as_ptr() as usize + header_max) & 7)) & 7);
    let room = out.len().checked_sub(values_at)? / 8;
    let limit = room.min(limits.max_batch_length);
    let count = compute(op, mode, rows, &mut out[values_at..values_at + limit * 8])?;
    let start = values_at - batch_header_len(count);
    batch_header(&mut out[start..], count);
    Some(Outcome::Written { start, len: values_at + count * 8 - start })
}

/// Computes every row of `rows` into `values` (8 bytes each), returning how many there were.
fn compute(op: Op, mode: Overflow, rows: &[u8], values: &mut [u8]) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    if fast_pext() {
        // SAFETY: the CPU has BMI1 and BMI2, all that `compute_bmi2` requires.
        return unsafe { compute_bmi2(op, mode, rows, values) };
    }
    compute_with::<false>(op, mode, rows, values)
}

/// [`compute`] compiled for BMI1 and BMI2, whose `pext` packs a varint's 7-bit groups in one
/// instruction.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "bmi1,bmi2")]
unsafe fn compute_bmi2(op: Op, mode: Overflow, rows: &[u8], values: &mut [u8]) -> Option<usize> {
    compute_with::<true>(op, mode, rows, values)
}

/// One loop per operation and mode, so that neither is chosen again for every row. A failing row
/// gives up (`None`): the general path answers with its index.
#[inline(always)]
fn compute_with<const PEXT: bool>(op: Op, mode: Overflow, rows: &[u8], values: &mut [u8]) -> Option<usize> {
    specialize!(op, mode, |OP, MODE| each_row::<PEXT>(rows, values, |a, b| arith::apply(OP, MODE, a, b).ok()))
}

#[inline(always)]
fn each_row<const PEXT: bool>(
    mut rows: &[u8],
    values: &mut [u8],
    apply: impl Fn(i64, i64) -> Option<i64>,
) -> Option<usize> {
    // The high bit of every byte, hidden from the optimizer so that it (and its complement)
    // stays in a register for the whole loop: as a known constant, LLVM rebuilt both with a
    // ten-byte `movabs` at every use, four of the ~52 instructions of a row.
    let high = std::hint::black_box(0x8080_8080_8080_8080u64);
    let mut count = 0;
    for slot in values.chunks_exact_mut(8) {
        let (a, b, rest) = match row::<PEXT>(rows, high) {
            Some(row) => row,
            None if rows.is_empty() => return Some(count),
            None => row_careful(rows)?,
        };
        slot.copy_from_slice(&apply(a, b)?.to_le_bytes());
        rows = rest;
        count += 1;
    }
    // More rows than the limit or the buffer allows.
    rows.is_empty().then_some(count)
}

/// The row at the start of `rows` if it is exactly `12 <len> 08 <a> 10 <b>` and `rows` holds a
/// whole window, with the rows after it.
#[inline(always)]
fn row<const PEXT: bool>(rows: &[u8], high: u64) -> Option<(i64, i64, &[u8])> {
    let window = rows.first_chunk::<WINDOW>()?;
    // `12 <len> 08`: a `BinaryOp` shorter than 128 bytes, whose first field is `a`.
    if word_at(window, 0) & 0x00ff_80ff != 0x0008_0012 {
        return None;
    }
    let (a, a_stop) = varint_at::<PEXT>(window, 3, high)?;
    let after_a = 3 + (a_stop + 1) / 8;
    if window[after_a] != binary_op_key::B {
        return None;
    }
    let (b, b_stop) = varint_at::<PEXT>(window, after_a + 1, high)?;
    // The row holds the two fields and nothing else: its body, `len` bytes, is the two keys and
    // the two varints (`(stop + 1) / 8` bytes each; compared in bits, which saves shifts).
    let len = usize::from(window[1]);
    if len != (a_stop + b_stop + 2 + 16) / 8 {
        return None;
    }
    // The next row's address is taken from the header, not from the varints' lengths: it then
    // waits for one load rather than for both varints.
    Some((a as i64, b as i64, &rows[2 + len..]))
}

/// The varint at `window[at..]` (`at` ≤ 14: all of its ten bytes at most are in the window),
/// accepted exactly as prost does, and the position of its stop bit (the high bit of its last
/// byte): `8 * length - 1`. `high` is `0x8080_8080_8080_8080` (see [`each_row`]).
#[inline(always)]
fn varint_at<const PEXT: bool>(window: &[u8; WINDOW], at: usize, high: u64) -> Option<(u64, usize)> {
    let word = word_at(window, at);
    // The high bit of each byte whose high bit is clear: the first one ends the varint.
    let stops = !word & high;
    let stop = stops.trailing_zeros(); // 64 when there is none
    // The 7-bit groups up to that byte, or all eight when there is none.
    let low = pack::<PEXT>(word, stops, stop, high);
    if stop < 64 {
        return Some((low, stop as usize));
    }
    // Nine or ten bytes (every negative value takes ten).
    let (ninth, tenth) = (window[at + 8], window[at + 9]);
    if ninth < 0x80 {
        return Some((low | u64::from(ninth) << 56, 8 * 9 - 1));
    }
    // A tenth byte may only carry the top bit of a u64 (and so ends the varint), as prost checks.
    (tenth < 2).then(|| (low | u64::from(ninth & 0x7f) << 56 | u64::from(tenth) << 63, 8 * 10 - 1))
}

/// The eight bytes at `window[at..]` as a little-endian word.
#[inline(always)]
fn word_at(window: &[u8; WINDOW], at: usize) -> u64 {
    u64::from_le_bytes(window[at..at + 8].try_into().unwrap_or([0; 8]))
}

/// The 7-bit groups of `word` below its first stop bit (all eight without one), packed:
/// `bzhi` and `pext`, or shifts.
#[inline(always)]
#[cfg_attr(not(target_arch = "x86_64"), allow(unused_variables))] // `stop`, `high`: for `pext`
fn pack<const PEXT: bool>(word: u64, stops: u64, stop: u32, high: u64) -> u64 {
    #[cfg(target_arch = "x86_64")]
    if PEXT {
        use core::arch::x86_64::{_bzhi_u64, _pext_u64};
        // SAFETY: `PEXT` is only true in `compute_bmi2`, which runs on CPUs with BMI2.
        return unsafe { _pext_u64(_bzhi_u64(word, stop), !high) };
    }
    decode::pack_groups(word & stops.wrapping_sub(1))
}

/// A row near the end of the request, or one the fast reader does not take: `12 <len>` and a
/// `BinaryOp` body in its canonical form (`[08 <a>] [10 <b>]`: prost leaves out zero operands).
#[inline(never)]
fn row_careful(rows: &[u8]) -> Option<(i64, i64, &[u8])> {
    let [batch_operation_key::OPERATIONS, len @ 0..0x80, rest @ ..] = rows else { return None };
    let (body, rest) = rest.split_at_checked(usize::from(*len))?;
    let (a, b) = decode::canonical_operands(body)?;
    Some((a, b, rest))
}

/// Whether BMI1 and BMI2 are there and `pext` is fast. AMD's processors before Zen 3 (family 0x19;
/// Hygon's are Zen 1) run `pext` in microcode, tens of cycles or more, so they keep the shifts.
/// Checked once, then a cached answer.
#[cfg(target_arch = "x86_64")]
fn fast_pext() -> bool {
    use std::sync::atomic::{AtomicU8, Ordering};
    static FAST: AtomicU8 = AtomicU8::new(0); // 0: not checked yet, 1: no, 2: yes
    match FAST.load(Ordering::Relaxed) {
        0 => {
            let fast = detect_fast_pext();
            FAST.store(1 + u8::from(fast), Ordering::Relaxed);
            fast
        }
        known => known == 2,
    }
}

#[cfg(target_arch = "x86_64")]
fn detect_fast_pext() -> bool {
    use core::arch::x86_64::__cpuid;
    if !(std::arch::is_x86_feature_detected!("bmi1") && std::arch::is_x86_feature_detected!("bmi2")) {
        return false;
    }
    let vendor = __cpuid(0);
    let vendor = [vendor.ebx, vendor.edx, vendor.ecx];
    let amd_design = vendor == [0x6874_7541, 0x6974_6e65, 0x444d_4163] // "AuthenticAMD"
        || vendor == [0x6f67_7948, 0x6e65_476e, 0x656e_6975]; // "HygonGenuine"
    let signature = __cpuid(1).eax;
    let base_family = (signature >> 8) & 0xf;
    let family = if base_family == 0xf { base_family + ((signature >> 20) & 0xff) } else { base_family };
    !(amd_design && family < 0x19)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pb::{self, calculator_request::Operation as Member, calculator_response::Result as Answer};
    use nanocalc_testkit::model;
    use proptest::prelude::*;
    use prost::Message;

    /// `value` as a varint of exactly `len` bytes: canonical when `len` is its shortest length,
    /// overlong (continuation bytes carrying zeros) when longer, as prost accepts.
    fn varint(value: u64, len: usize) -> Vec<u8> {
        let mut bytes: Vec<u8> = (0..len).map(|i| ((value >> (7 * i).min(63)) & 0x7f) as u8 | 0x80).collect();
        if len == 10 {
            bytes[9] = (value >> 63) as u8 | 0x80;
        }
        bytes[len - 1] &= 0x7f;
        bytes
    }

    /// Bytes taken by `value` as a canonical varint.
    fn shortest(value: u64) -> usize {
        crate::encode::varint_len(value)
    }

    /// `12 <len> <body>`: a row from its `BinaryOp` body.
    fn row_of(body: &[u8]) -> Vec<u8> {
        [&[0x12, body.len() as u8][..], body].concat()
    }

    /// `12 <len> 08 <a> 10 <b>` from the two varints' bytes.
    fn row(a: &[u8], b: &[u8]) -> Vec<u8> {
        row_of(&[&[0x08][..], a, &[0x10], b].concat())
    }

    /// `32 <len> 08 <op> <rows>`: the whole request.
    fn batch(op: u8, rows: &[u8]) -> Vec<u8> {
        let body = [&[0x08, op][..], rows].concat();
        [&[0x32][..], &varint(body.len() as u64, shortest(body.len() as u64)), &body].concat()
    }

    /// Rows taking exactly `n` bytes (never 1 or 3, which no row takes), all read as (5, 7) or
    /// with a zero operand left out.
    fn filler(n: usize) -> Vec<u8> {
        match n {
            0 => vec![],
            2 => vec![0x12, 0x00],
            4 => vec![0x12, 0x02, 0x08, 0x05],
            5 => vec![0x12, 0x03, 0x08, 0x85, 0x00],
            6..=24 => {
                let a_len = (n - 5).min(10);
                row(&varint(5, a_len), &varint(7, n - 4 - a_len))
            }
            _ => [filler(12), filler(n - 12)].concat(),
        }
    }

    /// What prost and the 128-bit model say: the values, or `None` when prost rejects the request
    /// or an element fails (where the fast path must give way).
    fn expected(request: &[u8]) -> Option<Vec<i64>> {
        let decoded = pb::CalculatorRequest::decode(request).ok()?;
        let Some(Member::Batch(batch)) = decoded.operation else { return None };
        let op = Op::from_wire(batch.operation)? as i32;
        Overflow::from_wire(decoded.overflow)?;
        batch.operations.iter().map(|row| model(op, decoded.overflow, row.a, row.b).ok()).collect()
    }

    /// The fast path through `canonical_row_batch`, into an 8-byte aligned buffer: the values if it
    /// answered, `None` if it gave way.
    fn fast(request: &[u8], limits: &Limits) -> Option<Vec<i64>> {
        let mut words = vec![0u64; request.len() + 16];
        // SAFETY: u64 has no padding and any byte pattern is a valid u8.
        let out: &mut [u8] = unsafe { core::slice::from_raw_parts_mut(words.as_mut_ptr().cast(), words.len() * 8) };
        let Outcome::Written { start, len } = canonical_row_batch(request, out, limits)? else {
            panic!("the fast path never asks for capacity: {request:02x?}")
        };
        assert_eq!((out.as_ptr() as usize + start + len) % 8, 0, "values end aligned");
        match pb::CalculatorResponse::decode(&out[start..start + len]).expect("the response decodes").result {
            Some(Answer::Batch(batch)) => Some(batch.values),
            other => panic!("the fast path answers only with values, not {other:?}"),
        }
    }

    /// The rows of a well-framed `request` (after `32 <len> 08 <op>`) through each compiled
    /// variant of the row loop that this CPU runs: they must agree. Their values if they answered.
    fn variants(request: &[u8], op: Op, mode: Overflow) -> Option<Vec<i64>> {
        let mut rows = &request[1..];
        decode::varint(&mut rows).expect("a batch length");
        let rows = &rows[2..];
        let run = |compute: &dyn Fn(&mut [u8]) -> Option<usize>| {
            let mut values = vec![0u8; rows.len() * 4];
            let count = compute(&mut values)?;
            Some(values[..count * 8].chunks_exact(8).map(|v| i64::from_le_bytes(v.try_into().unwrap())).collect())
        };
        let portable: Option<Vec<i64>> = run(&|values| compute_with::<false>(op, mode, rows, values));
        #[cfg(target_arch = "x86_64")]
        if fast_pext() {
            // SAFETY: the CPU has BMI1 and BMI2.
            let bmi2 = run(&|values| unsafe { compute_bmi2(op, mode, rows, values) });
            assert_eq!(bmi2, portable, "pext and portable disagree on {request:02x?}");
        }
        portable
    }

    /// The fast path either answers exactly as prost and the model do or gives way; the whole
    /// engine answers as they do either way. Returns whether the fast path answered.
    fn check(request: &[u8]) -> bool {
        let want = expected(request);
        let got = fast(request, &Limits::default());
        if got.is_some() {
            assert_eq!(got, want, "request {request:02x?}");
        }
        if let [0x32, len, 0x08, op, ..] = *request
            && usize::from(len) + 2 == request.len()
            && let Some(op) = Op::from_wire(i32::from(op))
        {
            assert_eq!(variants(request, op, Overflow::Saturate), got, "request {request:02x?}");
        }
        let response = pb::CalculatorResponse::decode(&crate::process(request, &Limits::default())[..])
            .expect("the response decodes")
            .result;
        match (&want, response) {
            (Some(values), Some(Answer::Batch(batch))) => assert_eq!(&batch.values, values, "{request:02x?}"),
            (None, Some(Answer::Error(_))) => {}
            (want, answer) => panic!("{request:02x?}: wanted {want:?}, the engine answered {answer:?}"),
        }
        got.is_some()
    }

    /// Values worth encoding in `len` bytes: the ends of its range when canonical, small ones
    /// overlong, and the high bits a ten-byte varint carries.
    fn values_for(len: usize) -> Vec<u64> {
        let mut values = vec![0, 1, 5, 0x7f, u64::MAX, 1 << 63, (1 << 63) - 1, 1 << 56, (1 << 63) | 1];
        if len > 1 {
            values.extend([1 << (7 * (len - 1)), (1 << (7 * (len - 1))) - 1]);
        }
        if len < 10 {
            values.push((1 << (7 * len)) - 1);
        }
        values.retain(|&value| shortest(value) <= len);
        values
    }

    #[test]
    fn varints_of_every_length_at_every_distance_from_the_end() {
        let mut answered = 0;
        for len in 1..=10 {
            for value in values_for(len) {
                let under_test = varint(value, len);
                let other = varint(3, 1);
                for (a, b) in [(&under_test, &other), (&other, &under_test)] {
                    for after in (0..=40).filter(|&n| n != 1 && n != 3) {
                        for before in [0, 9, 24] {
                            for op in [1, 2, 3, 4] {
                                let rows = [filler(before), row(a, b), filler(after)].concat();
                                let request = batch(op, &rows);
                                // Canonical rows of valid varints: the fast path must take them,
                                // unless an element fails (a filler row dividing by zero).
                                if check(&request) {
                                    answered += 1;
                                } else {
                                    assert_eq!(expected(&request), None, "gave way on {request:02x?}");
                                }
                            }
                        }
                    }
                }
            }
        }
        assert!(answered > 10_000);
    }

    #[test]
    fn invalid_varints_are_left_to_the_general_path() {
        let overflowing_tenth = |tenth: u8| [vec![0xff; 9], vec![tenth]].concat();
        let cases = [
            overflowing_tenth(0x02),
            overflowing_tenth(0x7f),
            overflowing_tenth(0x81), // 11 bytes
            [vec![0x80; 10], vec![0x00]].concat(),
            vec![0x80; 24],
        ];
        for bytes in &cases {
            for after in [0, 2, 6, 30] {
                for rows in [row(bytes, &[1]), row(&[1], bytes)] {
                    let request = batch(1, &[rows, filler(after)].concat());
                    assert!(!check(&request), "answered {request:02x?}");
                    assert_eq!(expected(&request), None, "prost rejects {request:02x?}");
                }
            }
        }
    }

    #[test]
    fn rows_prost_writes_without_an_operand_take_the_careful_reader() {
        for body in [&[][..], &[0x08, 0x05], &[0x10, 0x07], &[0x08, 0xff, 0x01], &[0x10, 0x80, 0x01]] {
            for after in [0, 24, 30] {
                assert!(check(&batch(1, &[row_of(body), filler(after)].concat())));
            }
        }
    }

    #[test]
    fn anything_but_the_canonical_row_gives_way() {
        let a = varint(300, 2);
        let bodies: Vec<Vec<u8>> = vec![
            [&[0x10, 0x07, 0x08][..], &a].concat(),                // fields in the other order
            [&[0x08][..], &a, &[0x08, 0x09, 0x10, 0x07]].concat(), // `a` twice: the last wins
            [&[0x08][..], &a, &[0x10, 0x07, 0x18, 0x01]].concat(), // an unknown field
            [&[0x08][..], &a, &[0x10, 0x07, 0x10, 0x08]].concat(), // `b` twice
            [&[0x0a, 0x00, 0x08][..], &a, &[0x10, 0x07]].concat(), // `a` with the wrong wire type
            [&[0x08][..], &a, &[0x11], &[0; 8]].concat(),          // `b` as fixed64
            [&[0x08][..], &a, &[0x08, 0x07]].concat(),             // `a` twice, no `b`
            [&[0x08][..], &a, &[0x18, 0x07]].concat(),             // an unknown field where `b` goes
            [&[0x09][..], &[0; 8], &[0x10, 0x07]].concat(),        // `a` as fixed64
            vec![0x18, 0x05, 0x10, 0x07],                          // an unknown field where `a` goes
            vec![0x10, 0x05, 0x10, 0x07],                          // `b` twice, no `a`
        ];
        for body in &bodies {
            for after in [0, 30] {
                assert!(!check(&batch(1, &[row_of(body), filler(after)].concat())), "{body:02x?}");
            }
        }
        let row = row(&a, &[0x07]);
        let odd_batches: Vec<Vec<u8>> = vec![
            [&row[..], &[0x18, 0x01], &filler(30)].concat(), // an unknown field between rows
            [&[0x1a][..], &row[1..], &filler(30)].concat(),  // an unknown field shaped like a row
            [&row[..], &[0x08, 0x02], &filler(30)].concat(), // the operation again, later
            [&[0x12, 0x85, 0x00][..], &row[2..], &filler(30)].concat(), // a row length in two bytes
            [&row[..], &filler(30), &[0x12, 0x05, 0x08, 0x01]].concat(), // the last row truncated
            [&[0x12, 0x03][..], &row[2..], &filler(30)].concat(), // a row length shorter than its fields
            [&[0x12, 0x08][..], &row[2..], &filler(30)].concat(), // longer than its fields
        ];
        for rows in &odd_batches {
            assert!(!check(&batch(1, rows)), "{rows:02x?}");
        }
        // Truncated anywhere, or with the batch's length off by one.
        let whole = batch(3, &[filler(30), row.clone(), filler(20)].concat());
        for end in 0..whole.len() {
            check(&whole[..end]);
        }
        let mut longer = whole.clone();
        longer[1] += 1;
        longer.push(0x00);
        assert!(!check(&longer));
    }

    #[test]
    fn failing_elements_and_limits_give_way() {
        let rows = [filler(30), row(&[0x09], &[0x00]), filler(30)].concat();
        assert!(!check(&batch(4, &rows)), "division by zero");
        assert!(!check(&batch(5, &rows)), "remainder by zero");
        assert!(check(&batch(3, &rows)));
        let request = batch(1, &filler(60));
        let count = expected(&request).expect("valid").len();
        let limited = |max_batch_length| Limits { max_batch_length, ..Limits::default() };
        assert_eq!(fast(&request, &limited(count)).map(|values| values.len()), Some(count));
        assert_eq!(fast(&request, &limited(count - 1)), None);
        // A buffer too small for the values: the general path asks for more.
        let mut out = [0u8; 24];
        assert_eq!(canonical_row_batch(&request, &mut out, &Limits::default()), None);
        for op in [0, 6, 0x80] {
            assert!(!check(&batch(op, &rows)), "operation {op}");
        }
    }

    #[test]
    fn the_overflow_mode_after_the_batch_is_read_and_anything_else_there_gives_way() {
        let rows = [filler(12), row(&varint(i64::MAX as u64, 9), &[0x01]), filler(12)].concat();
        let with = |mode: &[u8]| [batch(1, &rows), mode.to_vec()].concat();
        // 0 and 1 saturate, 2 wraps: answered here; 3 (error) fails at the element: given way.
        for (mode, answered) in [(0, true), (1, true), (2, true), (3, false)] {
            let request = with(&[0x48, mode]);
            assert_eq!(check(&request), answered, "mode {mode}");
            let values = fast(&request, &Limits::default());
            let middle = values.as_ref().map(|values| values[1]);
            assert_eq!(middle, answered.then_some(if mode == 2 { i64::MIN } else { i64::MAX }), "mode {mode}");
        }
        // An unknown mode, a two-byte varint, a mode field twice, a wrong wire type, a truncation.
        for tail in [&[0x48, 0x04][..], &[0x48, 0x82, 0x00], &[0x48, 0x01, 0x48, 0x02], &[0x49, 0x01], &[0x48]] {
            assert!(!check(&with(tail)), "{tail:02x?}");
        }
    }

    /// A row: each operand left out, canonical or overlong; or now and then bytes of no row.
    fn any_row() -> impl Strategy<Value = Vec<u8>> {
        let operand = (any::<i64>(), 0usize..=10, prop::sample::select(vec![0u8, 0, 1, 7, 56, 63])).prop_map(
            |(value, extra, shift)| {
                let value = (value as u64) >> shift;
                (value != 0 || extra > 0).then(|| varint(value, (shortest(value) + extra).min(10)))
            },
        );
        prop_oneof![
            12 => (operand.clone(), operand).prop_map(|(a, b)| {
                let mut body = Vec::new();
                if let Some(a) = a {
                    body.extend([&[0x08][..], &a].concat());
                }
                if let Some(b) = b {
                    body.extend([&[0x10][..], &b].concat());
                }
                row_of(&body)
            }),
            1 => prop::collection::vec(prop::sample::select(vec![0x00, 0x01, 0x08, 0x10, 0x12, 0x7f, 0x80, 0xff]), 1..4),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        #[test]
        fn random_rows_match_prost(op in 1u8..=5, rows in prop::collection::vec(any_row(), 0..12)) {
            let request = batch(op, &rows.concat());
            let canonical = rows.iter().all(|row| matches!(row[..], [0x12, len, ..] if usize::from(len) + 2 == row.len()));
            let answered = check(&request);
            if canonical && expected(&request).is_some() {
                prop_assert!(answered, "gave way on {:02x?}", request);
            }
        }
    }
}
