//! Column kernels: element-wise arithmetic over packed little-endian `i64` columns, written so
//! LLVM vectorizes the loops that can be vectorized (add, subtract), and split between the calling
//! thread and a pool of one thread fewer than the cores (`threads`) when a column holds enough
//! work to repay the hand-off (decided by cost measured once per process: [`costs`]).

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::arith::{self, Failure, Op, Overflow, specialize};
use crate::threads::{cores, on_pieces, piece, pool};

/// Fewest elements a piece of a split batch gets, whatever the costs say: below it no batch is
/// split, and the costs are never measured (a process of short batches never pays for that).
pub const MIN_ELEMENTS_PER_PIECE: usize = 1 << 14;

/// How many hand-offs' worth of work each piece must hold (see [`pieces_for`]): with pieces of
/// `W = c·H` (`H` the time a pool thread takes to wake and start), two threads take `H + W` where
/// one takes `2W`: a speed-up of `2c / (1 + c)`, 1.82× for 10, when the work is bound by the
/// arithmetic; when it is bound by memory bandwidth and a second thread gains nothing, the most
/// it can lose is the hand-off, `H / 2W = 1 / 2c`: 5 %.
pub const HAND_OFFS_PER_PIECE: f64 = 10.0;

/// How many pieces a batch of `n` elements costing `ns_per_element` each on one thread is cut
/// into, with at most `max_threads` threads: as many as the cores allow while every piece holds at
/// least [`HAND_OFFS_PER_PIECE`] times the measured hand-off to a pool thread, and
/// [`MIN_ELEMENTS_PER_PIECE`] elements. Memory-bound operations (add, subtract) cost least per
/// element in cache, where they are measured, so they split only at lengths where even a
/// bandwidth-bound second thread cannot lose more than its hand-off.
fn pieces(n: usize, max_threads: usize, ns_per_element: impl FnOnce(&Costs) -> f64) -> usize {
    if max_threads <= 1 || n < 2 * MIN_ELEMENTS_PER_PIECE {
        return 1;
    }
    // cores() and costs() are read only for batches long enough to split: their first reads
    // allocate, start the pool and measure.
    let most = max_threads.min(cores());
    if most <= 1 {
        return 1;
    }
    let costs = costs();
    pieces_for(n, most, ns_per_element(costs), costs.hand_off_ns)
}

/// [`pieces`] for given costs: at most `most` pieces.
fn pieces_for(n: usize, most: usize, ns_per_element: f64, hand_off_ns: f64) -> usize {
    let by_work = (n as f64 * ns_per_element) / (HAND_OFFS_PER_PIECE * hand_off_ns.max(1.0));
    let by_length = n / MIN_ELEMENTS_PER_PIECE;
    // `as` saturates a float (NaN to 0): a cost that went wrong measures as no split.
    let wanted = (by_work as usize).min(by_length).min(most);
    wanted.max(1)
}

/// What splitting costs on this machine, measured once per process ([`costs`]).
#[derive(Clone, Debug)]
struct Costs {
    /// Nanoseconds from handing a piece to the pool (its threads asleep) until a pool thread
    /// starts on it: the median of a few hand-offs.
    hand_off_ns: f64,
    /// Nanoseconds per element on one thread, in cache, of each operation and overflow mode's
    /// kernel (index `op * 3 + mode`, in `Op::ALL` and `Overflow::ALL` order).
    kernel_ns: [f64; 15],
    /// The same for the scan of a divisor column for a zero.
    zero_scan_ns: f64,
    /// The same for the scan for a failing element in `Overflow::Error` mode, by operation.
    error_scan_ns: [f64; 5],
}

fn op_index(op: Op) -> usize {
    Op::ALL.iter().position(|&o| o == op).unwrap_or(0)
}

fn mode_index(mode: Overflow) -> usize {
    Overflow::ALL.iter().position(|&m| m == mode).unwrap_or(0)
}

/// The costs, measured on first use (about 1.5 ms: three hand-offs with a pause before each, so
/// the pool's threads are asleep as between a caller's batches, and every kernel and scan over
/// 4,096 elements in cache, the fastest of five runs each).
fn costs() -> &'static Costs {
    static COSTS: OnceLock<Costs> = OnceLock::new();
    COSTS.get_or_init(measure_costs)
}

fn measure_costs() -> Costs {
    const N: usize = 4096;
    // Operands of every size (a xorshift sequence shifted by a varying amount), as divide's speed
    // depends on them; divisors odd, so never zero. The scans get small values, which never fail,
    // so they read every element.
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x as i64) >> (x % 63)
    };
    let a: Vec<u8> = (0..N).flat_map(|_| next().to_le_bytes()).collect();
    let b: Vec<u8> = (0..N).flat_map(|_| (next() | 1).to_le_bytes()).collect();
    let small = |column: &[u8]| -> Vec<u8> {
        column.chunks_exact(8).flat_map(|v| ((load(v) >> 40) | 1).to_le_bytes()).collect()
    };
    let (small_a, small_b) = (small(&a), small(&b));
    let mut out = vec![0u8; N * 8];
    // The fastest of five runs after one untimed (the first touches `out`'s pages): a run that
    // lost its core to another process only measures slower, and a cost measured too high splits
    // more than it should.
    let fastest = |run: &mut dyn FnMut()| -> f64 {
        run();
        (0..5)
            .map(|_| {
                let start = Instant::now();
                run();
                start.elapsed().as_nanos() as f64 / N as f64
            })
            .fold(f64::INFINITY, f64::min)
    };
    let mut kernel_ns = [0.0; 15];
    for (i, op) in Op::ALL.into_iter().enumerate() {
        for (j, mode) in Overflow::ALL.into_iter().enumerate() {
            kernel_ns[i * 3 + j] = fastest(&mut || columns_one_thread(op, mode, &a, &b, &mut out));
        }
    }
    std::hint::black_box(&out);
    let zero_scan_ns = fastest(&mut || {
        std::hint::black_box(first_zero(std::hint::black_box(&small_b)));
    });
    let mut error_scan_ns = [0.0; 5];
    for (i, op) in Op::ALL.into_iter().enumerate() {
        error_scan_ns[i] = fastest(&mut || {
            std::hint::black_box(first_error(op, std::hint::black_box(&small_a), &small_b));
        });
    }
    Costs { hand_off_ns: measure_hand_off(), kernel_ns, zero_scan_ns, error_scan_ns }
}

/// The median of three hand-offs to the pool, each after a pause in which its threads go to
/// sleep: the time from `spawn` until the job starts.
fn measure_hand_off() -> f64 {
    let pool = pool(); // started first: its threads' start is not a hand-off
    let mut samples: Vec<f64> = (0..3)
        .map(|_| {
            std::thread::sleep(Duration::from_micros(300));
            let started = OnceLock::new();
            let spawned = Instant::now();
            pool.in_place_scope(|scope| {
                scope.spawn(|_| {
                    let _ = started.set(Instant::now());
                });
            });
            started.get().map_or(f64::INFINITY, |at| at.duration_since(spawned).as_nanos() as f64)
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[1]
}

#[inline(always)]
fn load(bytes: &[u8]) -> i64 {
    i64::from_le_bytes(bytes.try_into().unwrap_or([0; 8]))
}

#[inline(always)]
fn zip_map(a: &[u8], b: &[u8], out: &mut [u8], f: impl Fn(i64, i64) -> i64) {
    for ((o, x), y) in out.chunks_exact_mut(8).zip(a.chunks_exact(8)).zip(b.chunks_exact(8)) {
        o.copy_from_slice(&f(load(x), load(y)).to_le_bytes());
    }
}

/// The first element of a column batch that fails, and how: a zero divisor (divide and
/// remainder), or with [`Overflow::Error`] a result that does not fit. Searched on up to
/// `max_threads` threads; nothing is written, so a failing batch leaves its output untouched.
pub fn first_failure(op: Op, mode: Overflow, a: &[u8], b: &[u8], max_threads: usize) -> Option<(usize, Failure)> {
    let pieces = pieces(b.len() / 8, max_threads, |costs| match mode {
        Overflow::Error => costs.error_scan_ns[op_index(op)],
        _ => costs.zero_scan_ns,
    });
    if mode != Overflow::Error {
        let zero = op.can_fail().then(|| split_first(b.len(), pieces, |range| first_zero(&b[range])))?;
        return zero.map(|index| (index, Failure::DivisionByZero));
    }
    let index = split_first(b.len(), pieces, |range| first_error(op, &a[range.clone()], &b[range]))?;
    let at = index * 8..index * 8 + 8;
    arith::apply(op, mode, load(&a[at.clone()]), load(&b[at])).err().map(|failure| (index, failure))
}

/// The first element for which `scan` (given a byte range of the columns, returning an element
/// index within it) finds one, over `pieces` pieces of `len` bytes: each piece on its own thread,
/// the lowest index wins.
fn split_first(
    len: usize,
    pieces: usize,
    scan: impl Fn(core::ops::Range<usize>) -> Option<usize> + Sync,
) -> Option<usize> {
    if pieces == 1 {
        return scan(0..len);
    }
    let mut found = vec![None; pieces];
    let items = found.iter_mut().enumerate().map(|(i, slot)| (piece(len, i, pieces), slot)).collect();
    on_pieces(items, |(range, slot): (core::ops::Range<usize>, &mut Option<usize>)| {
        *slot = scan(range.clone()).map(|at| range.start / 8 + at);
    });
    found.into_iter().flatten().next()
}

fn first_zero(column: &[u8]) -> Option<usize> {
    column.chunks_exact(8).position(|x| load(x) == 0)
}

/// The first element that fails in [`Overflow::Error`] mode, on this thread (with AVX2 where the
/// CPU has it, as [`columns_one_thread`]).
fn first_error(op: Op, a: &[u8], b: &[u8]) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, the only requirement of `first_error_avx2`.
        return unsafe { first_error_avx2(op, a, b) };
    }
    first_error_portable(op, a, b)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn first_error_avx2(op: Op, a: &[u8], b: &[u8]) -> Option<usize> {
    first_error_portable(op, a, b)
}

#[inline(always)]
fn first_error_portable(op: Op, a: &[u8], b: &[u8]) -> Option<usize> {
    // Each test gives a word whose sign bit is set where the element fails, from operations that
    // vectorize (no `jo` per element, which `checked_add` compiles to): an add overflows when both
    // operands' signs differ from the wrapped sum's, a subtract when the operands' signs differ
    // and the result's differs from `a`'s. Multiply has no 64-bit vector multiply to check with.
    match op {
        Op::Add => first_where(a, b, |x, y| {
            let r = x.wrapping_add(y);
            (x ^ r) & (y ^ r)
        }),
        Op::Subtract => first_where(a, b, |x, y| {
            let r = x.wrapping_sub(y);
            (x ^ y) & (x ^ r)
        }),
        Op::Multiply => first_where(a, b, |x, y| -i64::from(x.checked_mul(y).is_none())),
        Op::Divide => first_where(a, b, |x, y| -i64::from((y == 0) | ((x == i64::MIN) & (y == -1)))),
        Op::Remainder => first_where(a, b, |_, y| -i64::from(y == 0)),
    }
}

/// The first element whose `fails` word is negative (its sign bit set). Blocks of elements are
/// tested by OR-ing their words, without a branch per element (a loop that vectorizes), and only a
/// block with a failure is searched.
#[inline(always)]
fn first_where(a: &[u8], b: &[u8], fails: impl Fn(i64, i64) -> i64) -> Option<usize> {
    const BLOCK: usize = 64 * 8;
    for (i, (x, y)) in a.chunks(BLOCK).zip(b.chunks(BLOCK)).enumerate() {
        let any = x.chunks_exact(8).zip(y.chunks_exact(8)).fold(0, |any, (x, y)| any | fails(load(x), load(y)));
        if any < 0 {
            let at = x.chunks_exact(8).zip(y.chunks_exact(8)).position(|(x, y)| fails(load(x), load(y)) < 0);
            return at.map(|at| i * (BLOCK / 8) + at);
        }
    }
    None
}

/// `out[i] = a[i] op b[i]` with the overflow mode `mode` over columns of equal length (in bytes,
/// a multiple of 8), on up to `max_threads` threads. The caller has checked with
/// [`first_failure`] that no element fails.
pub fn columns(op: Op, mode: Overflow, a: &[u8], b: &[u8], out: &mut [u8], max_threads: usize) {
    let pieces = pieces(out.len() / 8, max_threads, |costs| costs.kernel_ns[op_index(op) * 3 + mode_index(mode)]);
    split_columns(op, mode, a, b, out, pieces);
}

/// How many pieces [`columns`] cuts a batch of `n` elements into, and the measured costs that
/// decide it (hand-off and ns per element, as text): for the benches and the examples.
#[doc(hidden)]
pub fn columns_split(op: Op, mode: Overflow, n: usize, max_threads: usize) -> (usize, String) {
    let chosen = pieces(n, max_threads, |costs| costs.kernel_ns[op_index(op) * 3 + mode_index(mode)]);
    (chosen, format!("{:?}", costs()))
}

/// [`columns`] cut into exactly `pieces` pieces whatever they cost (at most one per core each
/// running at once): for the benches that compare a forced split with the chosen one.
#[doc(hidden)]
pub fn columns_in_pieces(op: Op, mode: Overflow, a: &[u8], b: &[u8], out: &mut [u8], pieces: usize) {
    split_columns(op, mode, a, b, out, pieces.max(1));
}

fn split_columns(op: Op, mode: Overflow, a: &[u8], b: &[u8], out: &mut [u8], pieces: usize) {
    if pieces == 1 {
        return columns_one_thread(op, mode, a, b, out);
    }
    let len = out.len();
    let mut items = Vec::with_capacity(pieces);
    let mut rest = out;
    for i in 0..pieces {
        let range = piece(len, i, pieces);
        let (head, tail) = rest.split_at_mut(range.len());
        items.push((range, head));
        rest = tail;
    }
    on_pieces(items, |(range, out): (core::ops::Range<usize>, &mut [u8])| {
        columns_one_thread(op, mode, &a[range.clone()], &b[range], out);
    });
}

/// The kernel on the calling thread. On x86-64 CPUs with AVX2 (checked once at run time, then a
/// cached flag) the same loops run compiled for AVX2, whose 64-bit compares let LLVM vectorize
/// the saturating add and subtract.
fn columns_one_thread(op: Op, mode: Overflow, a: &[u8], b: &[u8], out: &mut [u8]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, the only requirement of `columns_avx2`.
        return unsafe { columns_avx2(op, mode, a, b, out) };
    }
    columns_portable(op, mode, a, b, out);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn columns_avx2(op: Op, mode: Overflow, a: &[u8], b: &[u8], out: &mut [u8]) {
    columns_portable(op, mode, a, b, out);
}

/// One loop per operation and mode. An element that would fail has been ruled out by
/// [`first_failure`]; `unwrap_or(0)` only keeps the loop free of a panic path.
#[inline(always)]
fn columns_portable(op: Op, mode: Overflow, a: &[u8], b: &[u8], out: &mut [u8]) {
    specialize!(op, mode, |OP, MODE| zip_map(a, b, out, |x, y| arith::apply(OP, MODE, x, y).unwrap_or(0)));
}

/// Copies `src` into `dst` (of the same length): how a binding moves its caller's columns into a
/// request and a batch's values out of the response. With AVX2, a loop of 32-byte loads and
/// aligned stores; glibc's `memcpy` copies 8 KB with `rep movsb`, which ran up to four times
/// slower for some distances between source and destination (docs/PERFORMANCE.md).
pub fn copy(dst: &mut [u8], src: &[u8]) {
    assert_eq!(dst.len(), src.len(), "copy between slices of different lengths");
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, and the lengths are equal.
        return unsafe { copy_avx2(dst, src) };
    }
    dst.copy_from_slice(src);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn copy_avx2(dst: &mut [u8], src: &[u8]) {
    use std::arch::x86_64::{__m256i, _mm256_loadu_si256, _mm256_store_si256};
    const BLOCK: usize = 128;
    // Up to the first 32-byte boundary of `dst`, so that no store splits a cache line.
    let head = dst.as_ptr().align_offset(32).min(dst.len());
    dst[..head].copy_from_slice(&src[..head]);
    let (dst, src) = (&mut dst[head..], &src[head..]);
    let blocks = dst.len() / BLOCK * BLOCK;
    for (d, s) in dst[..blocks].chunks_exact_mut(BLOCK).zip(src[..blocks].chunks_exact(BLOCK)) {
        // SAFETY: each block is 128 bytes of both slices; `d` is 32-byte aligned (the head above).
        unsafe {
            let (d, s) = (d.as_mut_ptr().cast::<__m256i>(), s.as_ptr().cast::<__m256i>());
            let (x0, x1) = (_mm256_loadu_si256(s), _mm256_loadu_si256(s.add(1)));
            let (x2, x3) = (_mm256_loadu_si256(s.add(2)), _mm256_loadu_si256(s.add(3)));
            _mm256_store_si256(d, x0);
            _mm256_store_si256(d.add(1), x1);
            _mm256_store_si256(d.add(2), x2);
            _mm256_store_si256(d.add(3), x3);
        }
    }
    dst[blocks..].copy_from_slice(&src[blocks..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    fn bytes(values: &[i64]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    #[test]
    fn the_dispatched_kernel_matches_the_portable_one_and_the_scalar_rules() {
        let edges = [i64::MIN, i64::MIN + 1, -3, -1, 0, 1, 3, i64::MAX - 1, i64::MAX];
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for x in edges {
            for y in edges {
                a.push(x);
                b.push(if y == 0 { 7 } else { y });
            }
        }
        let (a, b) = (bytes(&a), bytes(&b));
        for op in Op::ALL {
            // Error mode computes only batches without a failing element: its values are checked
            // where they fit (and agree with wrap there).
            for mode in Overflow::ALL {
                let mut dispatched = vec![0; a.len()];
                let mut portable = vec![0; a.len()];
                columns_one_thread(op, mode, &a, &b, &mut dispatched);
                columns_portable(op, mode, &a, &b, &mut portable);
                assert_eq!(dispatched, portable, "{op:?} {mode:?}");
                for ((x, y), r) in a.chunks_exact(8).zip(b.chunks_exact(8)).zip(dispatched.chunks_exact(8)) {
                    let expected = arith::apply(op, mode, load(x), load(y));
                    assert_eq!(load(r), expected.unwrap_or(0), "{op:?} {mode:?}");
                }
            }
        }
    }

    #[test]
    fn copy_copies_every_length_at_every_alignment() {
        let src: Vec<u8> = (0..1200u32).map(|i| (i * 7 + 3) as u8).collect();
        for len in [0, 1, 7, 8, 31, 32, 127, 128, 129, 200, 1000] {
            for (d, s) in [(0, 0), (1, 0), (8, 3), (31, 17), (33, 64)] {
                let mut dst = vec![0xAAu8; len + 100];
                copy(&mut dst[d..d + len], &src[s..s + len]);
                assert_eq!(&dst[d..d + len], &src[s..s + len], "len {len}, offsets {d}/{s}");
                assert!(dst[..d].iter().chain(&dst[d + len..]).all(|&x| x == 0xAA), "wrote outside, len {len}");
            }
        }
    }

    #[test]
    fn pieces_follow_the_costs_and_the_pool() {
        let most = cores();
        assert_eq!(pool().current_num_threads(), (most - 1).max(1));
        // Work of exactly two pieces of HAND_OFFS_PER_PIECE hand-offs each, and just below.
        let (hand_off, cost) = (20_000.0, 2.0);
        let two = (2.0 * HAND_OFFS_PER_PIECE * hand_off / cost) as usize;
        assert_eq!(pieces_for(two, 4, cost, hand_off), 2);
        assert_eq!(pieces_for(two - 1, 4, cost, hand_off), 1);
        assert_eq!(pieces_for(3 * two, 4, cost, hand_off), 4, "at most `most`");
        assert_eq!(pieces_for(3 * two, 2, cost, hand_off), 2);
        // However cheap a hand-off, no piece below MIN_ELEMENTS_PER_PIECE.
        assert_eq!(pieces_for(2 * MIN_ELEMENTS_PER_PIECE - 1, 8, 1000.0, 1.0), 1);
        assert_eq!(pieces_for(3 * MIN_ELEMENTS_PER_PIECE, 8, 1000.0, 1.0), 3);
        // A cost that went wrong means no split.
        assert_eq!(pieces_for(1 << 30, 8, f64::NAN, hand_off), 1);
        assert_eq!(pieces_for(1 << 30, 8, 1.0, f64::INFINITY), 1);
        assert_eq!(pieces_for(0, 8, 1.0, 1.0), 1);
        // Through the measured costs: one thread asked, or a short batch, is one piece; never
        // more pieces than cores.
        assert_eq!(pieces(1 << 30, 1, |_| 1.0), 1);
        assert_eq!(pieces(2 * MIN_ELEMENTS_PER_PIECE - 1, 8, |_| 1.0), 1);
        assert!(pieces(1 << 30, 1000, |_| 1.0) <= most);
        let costs = costs();
        assert!(costs.hand_off_ns > 0.0 && costs.hand_off_ns.is_finite(), "{costs:?}");
        let all = costs.kernel_ns.iter().chain(&costs.error_scan_ns).chain([&costs.zero_scan_ns]);
        // Measured, so positive and finite; no upper bound: under valgrind (npm run test:valgrind)
        // an element costs ~2 µs.
        assert!(all.copied().all(|ns| ns > 0.0 && ns.is_finite()), "{costs:?}");
    }

    #[test]
    fn a_batch_never_waits_for_a_pool_thread_that_has_not_started() {
        // Every pool thread held by a job of its own until the batch is over: the caller must
        // take over every piece (a scope would wait for its spawned jobs, here for ever).
        let (release, held) = std::sync::mpsc::channel::<()>();
        let held = Arc::new(Mutex::new(held));
        let (started, ready) = std::sync::mpsc::channel();
        for _ in 0..pool().current_num_threads() {
            let (held, started) = (Arc::clone(&held), started.clone());
            pool().spawn(move || {
                let _ = started.send(());
                let _ = held.lock().map(|held| held.recv());
            });
        }
        for _ in 0..pool().current_num_threads() {
            ready.recv().expect("a pool thread started");
        }
        let (finished, result) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let n = 100_000;
            let a = bytes(&(0..n).map(|i| i * 3 - 7).collect::<Vec<_>>());
            let b = bytes(&(0..n).map(|i| i % 11 + 1).collect::<Vec<_>>());
            let (mut one, mut split) = (vec![0; a.len()], vec![0; a.len()]);
            columns_one_thread(Op::Divide, Overflow::Saturate, &a, &b, &mut one);
            split_columns(Op::Divide, Overflow::Saturate, &a, &b, &mut split, 4);
            let _ = finished.send(one == split);
        });
        let outcome = result.recv_timeout(Duration::from_secs(20));
        for _ in 0..pool().current_num_threads() {
            let _ = release.send(());
        }
        assert_eq!(outcome, Ok(true), "the batch finished on the caller alone, with the right values");
    }

    #[test]
    fn split_columns_match_one_thread_and_find_the_first_zero() {
        // Pieces from 1 to 6 over a column with a ragged end (boundaries fall on 64-byte lines).
        let n = 1000;
        let a: Vec<i64> = (0..n as i64).map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15u64 as i64)).collect();
        let b: Vec<i64> = (0..n as i64).map(|i| (i % 97) - 48 + i64::from(i % 97 == 48)).collect();
        let (a, mut b) = (bytes(&a), bytes(&b));
        for op in Op::ALL {
            for mode in Overflow::ALL {
                let mut one = vec![0; a.len()];
                columns_one_thread(op, mode, &a, &b, &mut one);
                for pieces in 2..=6 {
                    let mut split = vec![0; a.len()];
                    split_columns(op, mode, &a, &b, &mut split, pieces);
                    assert!(split == one, "{op:?} {mode:?} in {pieces} pieces");
                }
            }
        }
        let split_first_zero = |b: &[u8], pieces| split_first(b.len(), pieces, |range| first_zero(&b[range]));
        assert_eq!(split_first_zero(&b, 4), None);
        // A zero in the first, a middle and the last piece, then several: the first is found
        // whichever thread sees it.
        for at in [999, 500, 0] {
            b[at * 8..at * 8 + 8].fill(0);
            for pieces in 1..=6 {
                let first = b.chunks_exact(8).position(|x| load(x) == 0);
                assert_eq!(split_first_zero(&b, pieces), first, "zero at {at}, {pieces} pieces");
            }
        }
    }
}

#[cfg(test)]
mod failure_tests {
    use super::*;

    fn bytes(values: &[i64]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    /// The first failing element by the scalar rule, element by element.
    fn scalar_first(op: Op, mode: Overflow, a: &[i64], b: &[i64]) -> Option<(usize, Failure)> {
        a.iter().zip(b).enumerate().find_map(|(i, (&x, &y))| arith::apply(op, mode, x, y).err().map(|f| (i, f)))
    }

    #[test]
    fn first_failure_finds_the_first_failing_element_in_every_block_and_piece() {
        // 3,000 elements (several blocks, a ragged end) of harmless values, then one or two
        // failing elements planted at block edges and inside blocks.
        let n = 3000;
        let base_a: Vec<i64> = (0..n as i64).map(|i| (i % 1000) - 500).collect();
        let base_b: Vec<i64> = (0..n as i64).map(|i| (i % 7) + 1).collect();
        let plants: [(i64, i64); 6] =
            [(i64::MAX, 1), (i64::MIN, -1), (0, 0), (i64::MIN, i64::MAX), (i64::MAX, i64::MAX), (i64::MIN, 2)];
        for op in Op::ALL {
            for mode in Overflow::ALL {
                for at in [0, 63, 64, 511, 512, 1500, 2999] {
                    for &(x, y) in &plants {
                        let (mut a, mut b) = (base_a.clone(), base_b.clone());
                        (a[at], b[at]) = (x, y);
                        // A second failing element later must not win.
                        (a[n - 1], b[n - 1]) = (i64::MIN, 0);
                        let expected = scalar_first(op, mode, &a, &b);
                        let (a, b) = (bytes(&a), bytes(&b));
                        for threads in [1, 4] {
                            let got = first_failure(op, mode, &a, &b, threads);
                            assert_eq!(got, expected, "{op:?} {mode:?} ({x}, {y}) at {at}");
                        }
                        for pieces in 2..=5 {
                            let index = split_first(b.len(), pieces, |range| match mode {
                                Overflow::Error => first_error(op, &a[range.clone()], &b[range]),
                                _ if op.can_fail() => first_zero(&b[range]),
                                _ => None,
                            });
                            assert_eq!(index, expected.map(|(i, _)| i), "{op:?} {mode:?} in {pieces} pieces");
                        }
                    }
                }
            }
        }
    }
}
