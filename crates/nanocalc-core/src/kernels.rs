//! Column kernels: element-wise arithmetic over packed little-endian `i64` columns, written so
//! LLVM vectorizes the loops that can be vectorized (add, subtract), and split over rayon's pool
//! (one thread per core) when a column is long enough to repay the hand-off.

use crate::arith::{self, Op};

/// Fewest elements worth a thread of their own: a batch runs on `k` threads only if each gets at
/// least this many. Below it, waking a pool thread costs more than the work it takes over
/// (measured in docs/PERFORMANCE.md, "Batches on every core").
pub const MIN_ELEMENTS_PER_THREAD: usize = 1 << 16;

/// How many pieces a column of `n` elements is cut into, with at most `max_threads` threads.
fn pieces(n: usize, max_threads: usize) -> usize {
    let wanted = max_threads.min(n / MIN_ELEMENTS_PER_THREAD);
    if wanted <= 1 { 1 } else { wanted.min(rayon::current_num_threads()) }
}

/// Where to cut `len` bytes of packed values so the left part gets `left` of `pieces` shares: a
/// multiple of 64 bytes, so two threads never write the same cache line.
fn cut(len: usize, left: usize, pieces: usize) -> usize {
    (len / 64 * left / pieces) * 64
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

/// Position of the first zero in a column, if any, searched on up to `max_threads` threads.
pub fn first_zero(column: &[u8], max_threads: usize) -> Option<usize> {
    split_first_zero(column, pieces(column.len() / 8, max_threads))
}

fn split_first_zero(column: &[u8], pieces: usize) -> Option<usize> {
    if pieces <= 1 {
        return column.chunks_exact(8).position(|x| load(x) == 0);
    }
    let left = pieces / 2;
    let (head, tail) = column.split_at(cut(column.len(), left, pieces));
    let (in_head, in_tail) = rayon::join(|| split_first_zero(head, left), || split_first_zero(tail, pieces - left));
    in_head.or(in_tail.map(|index| head.len() / 8 + index))
}

/// `out[i] = a[i] op b[i]` over columns of equal length (in bytes, a multiple of 8), on up to
/// `max_threads` threads. For divide and remainder the caller has checked with [`first_zero`]
/// that `b` has no zero.
pub fn columns(op: Op, a: &[u8], b: &[u8], out: &mut [u8], max_threads: usize) {
    split_columns(op, a, b, out, pieces(out.len() / 8, max_threads));
}

fn split_columns(op: Op, a: &[u8], b: &[u8], out: &mut [u8], pieces: usize) {
    if pieces <= 1 {
        return columns_one_thread(op, a, b, out);
    }
    let left = pieces / 2;
    let at = cut(out.len(), left, pieces);
    let ((a_head, a_tail), (b_head, b_tail)) = (a.split_at(at), b.split_at(at));
    let (out_head, out_tail) = out.split_at_mut(at);
    rayon::join(
        || split_columns(op, a_head, b_head, out_head, left),
        || split_columns(op, a_tail, b_tail, out_tail, pieces - left),
    );
}

/// The kernel on the calling thread. On x86-64 CPUs with AVX2 (checked once at run time, then a
/// cached flag) the same loops run compiled for AVX2, whose 64-bit compares let LLVM vectorize
/// the saturating add and subtract.
fn columns_one_thread(op: Op, a: &[u8], b: &[u8], out: &mut [u8]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, the only requirement of `columns_avx2`.
        return unsafe { columns_avx2(op, a, b, out) };
    }
    columns_portable(op, a, b, out);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn columns_avx2(op: Op, a: &[u8], b: &[u8], out: &mut [u8]) {
    columns_portable(op, a, b, out);
}

#[inline(always)]
fn columns_portable(op: Op, a: &[u8], b: &[u8], out: &mut [u8]) {
    match op {
        Op::Add => zip_map(a, b, out, i64::saturating_add),
        Op::Subtract => zip_map(a, b, out, i64::saturating_sub),
        Op::Multiply => zip_map(a, b, out, i64::saturating_mul),
        Op::Divide => zip_map(a, b, out, |x, y| arith::divide(x, y).unwrap_or(0)),
        Op::Remainder => zip_map(a, b, out, |x, y| arith::remainder(x, y).unwrap_or(0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            let mut dispatched = vec![0; a.len()];
            let mut portable = vec![0; a.len()];
            columns_one_thread(op, &a, &b, &mut dispatched);
            columns_portable(op, &a, &b, &mut portable);
            assert_eq!(dispatched, portable, "{op:?}");
            for ((x, y), r) in a.chunks_exact(8).zip(b.chunks_exact(8)).zip(dispatched.chunks_exact(8)) {
                assert_eq!(Ok(load(r)), arith::apply(op, load(x), load(y)), "{op:?}");
            }
        }
    }

    #[test]
    fn split_columns_match_one_thread_and_find_the_first_zero() {
        // A pool of four threads, whatever the machine has, so that three and four pieces happen.
        let pool = rayon::ThreadPoolBuilder::new().num_threads(4).build().expect("a thread pool");
        pool.install(split_columns_cases);
    }

    fn split_columns_cases() {
        assert_eq!(rayon::current_num_threads(), 4);
        // Long enough for up to three pieces, with a ragged end.
        let n = 3 * MIN_ELEMENTS_PER_THREAD + 13;
        let a: Vec<i64> = (0..n as i64).map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15u64 as i64)).collect();
        let b: Vec<i64> = (0..n as i64).map(|i| (i % 97) - 48 + i64::from(i % 97 == 48)).collect();
        let (a, mut b) = (bytes(&a), bytes(&b));
        for op in Op::ALL {
            let mut one = vec![0; a.len()];
            columns_one_thread(op, &a, &b, &mut one);
            for threads in [2, 3, 4, usize::MAX] {
                let mut split = vec![0; a.len()];
                columns(op, &a, &b, &mut split, threads);
                assert!(split == one, "{op:?} on {threads} threads");
            }
        }
        assert_eq!(first_zero(&b, usize::MAX), None);
        // A zero in each piece, and two: the first is found whichever thread sees it.
        for at in [0, MIN_ELEMENTS_PER_THREAD - 1, 2 * MIN_ELEMENTS_PER_THREAD + 5, n - 1] {
            b[at * 8..at * 8 + 8].fill(0);
            for threads in [1, 2, 3, usize::MAX] {
                let first = b.chunks_exact(8).position(|x| load(x) == 0);
                assert_eq!(first_zero(&b, threads), first, "zero at {at}, {threads} threads");
            }
        }
    }
}
