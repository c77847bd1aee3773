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
pub fn columns(op: Op, a: &[u8], b: &[u8], out: &mut [u8]) {
    match op {
        Op::Add => zip_map(a, b, out, i64::saturating_add),
        Op::Subtract => zip_map(a, b, out, i64::saturating_sub),
        Op::Multiply => zip_map(a, b, out, i64::saturating_mul),
        Op::Divide => zip_map(a, b, out, |x, y| arith::divide(x, y).unwrap_or(0)),
        Op::Remainder => zip_map(a, b, out, |x, y| arith::remainder(x, y).unwrap_or(0)),
    }
}
