//! Column kernels: element-wise arithmetic over packed little-endian `i64` columns, written so
//! LLVM vectorizes the loops that can be vectorized (add, subtract).

use crate::arith::{self, Op};

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

/// Position of the first zero in a column, if any.
#[inline]
pub fn first_zero(column: &[u8]) -> Option<usize> {
    column.chunks_exact(8).position(|x| load(x) == 0)
}

/// `out[i] = a[i] op b[i]` over columns of equal length (in bytes, a multiple of 8).
/// For divide and remainder the caller has checked with [`first_zero`] that `b` has no zero.
///
/// On x86-64 CPUs with AVX2 (checked once at run time, then a cached flag) the same loops run
/// compiled for AVX2, whose 64-bit compares let LLVM vectorize the saturating add and subtract.
pub fn columns(op: Op, a: &[u8], b: &[u8], out: &mut [u8]) {
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
            columns(op, &a, &b, &mut dispatched);
            columns_portable(op, &a, &b, &mut portable);
            assert_eq!(dispatched, portable, "{op:?}");
            for ((x, y), r) in a.chunks_exact(8).zip(b.chunks_exact(8)).zip(dispatched.chunks_exact(8)) {
                assert_eq!(Ok(load(r)), arith::apply(op, load(x), load(y)), "{op:?}");
            }
        }
    }
}
