// Column kernels, as crates/nanocalc-core/src/kernels.rs: element-wise arithmetic over columns of
// i64, from BigInt64Arrays into a BigInt64Array. Each value is read as its two 32-bit halves (an
// Int32Array over the same memory), so add and subtract never make a bigint; multiply, divide and
// remainder work in doubles where they are exact and fall back to BigInt elsewhere.
import {
  ADD,
  DIVISION_BY_ZERO,
  ERROR,
  NONE,
  OVERFLOW,
  SATURATE,
  SUBTRACT,
  apply,
  applySafe,
  canFail,
  clearFailure,
  failure,
} from './arith.js';

/** The failure found by {@link firstFailure} (arith.ts's codes). */
export let columnFailure = NONE;

/** The two halves of each value of a BigInt64Array, over its memory. */
export function halves(column: BigInt64Array): Int32Array {
  return new Int32Array(column.buffer, column.byteOffset, 2 * column.length);
}

/** The first zero of a column (as halves), or -1. */
export function firstZero(words: Int32Array): number {
  for (let i = 0, end = words.length; i < end; i += 2) {
    if ((words[i]! | words[i + 1]!) === 0) return i >> 1;
  }
  return -1;
}

/**
 * The first element of `op` over `a` and `b` that fails in `mode` (a zero divisor; or, with
 * ERROR, a result that does not fit), or -1; the failure in {@link columnFailure}.
 */
export function firstFailure(op: number, mode: number, a: BigInt64Array, b: BigInt64Array): number {
  const b32 = halves(b);
  if (mode !== ERROR) {
    columnFailure = DIVISION_BY_ZERO;
    return canFail(op) ? firstZero(b32) : -1;
  }
  const a32 = halves(a);
  const n = a.length;
  for (let i = 0; i < n; i++) {
    const aLo = a32[2 * i]!;
    const aHi = a32[2 * i + 1]!;
    const bLo = b32[2 * i]!;
    const bHi = b32[2 * i + 1]!;
    let hi: number;
    if (op === ADD) hi = aHi + bHi + ((aLo >>> 0) + (bLo >>> 0) > 0xffffffff ? 1 : 0);
    else if (op === SUBTRACT) hi = aHi - bHi - (aLo >>> 0 < bLo >>> 0 ? 1 : 0);
    else {
      if (!Number.isNaN(applySafe(op, aLo, aHi, bLo, bHi))) continue;
      clearFailure();
      apply(op, mode, a[i]!, b[i]!);
      if (failure === NONE) continue;
      columnFailure = failure;
      return i;
    }
    if (hi > 0x7fffffff || hi < -0x80000000) {
      columnFailure = OVERFLOW;
      return i;
    }
  }
  return -1;
}

/**
 * `out[i] = a[i] op b[i]` for every element, in `mode` (SATURATE or WRAP; with ERROR the caller
 * has checked with {@link firstFailure} that nothing fails, and any mode computes the same). For
 * divide and remainder the caller has checked that `b` has no zero. `out` shares no memory with
 * `a` or `b` unless at the same element (each element is read before its result is written).
 */
export function columns(op: number, mode: number, a: BigInt64Array, b: BigInt64Array, out: BigInt64Array): void {
  const a32 = halves(a);
  const b32 = halves(b);
  const o32 = halves(out);
  const n = out.length;
  if (op === ADD) addColumns(a32, b32, o32, n, mode === SATURATE);
  else if (op === SUBTRACT) subtractColumns(a32, b32, o32, n, mode === SATURATE);
  else {
    const m = mode === ERROR ? SATURATE : mode;
    for (let i = 0; i < n; i++) {
      const r = applySafe(op, a32[2 * i]!, a32[2 * i + 1]!, b32[2 * i]!, b32[2 * i + 1]!);
      if (!Number.isNaN(r)) {
        o32[2 * i] = r | 0; // the low 32 bits (exact below 2^53)
        o32[2 * i + 1] = Math.floor(r / 4294967296);
      } else {
        out[i] = apply(op, m, a[i]!, b[i]!);
      }
    }
  }
}

function addColumns(a32: Int32Array, b32: Int32Array, o32: Int32Array, n: number, saturate: boolean): void {
  for (let w = 0; w < 2 * n; w += 2) {
    const lo = (a32[w]! >>> 0) + (b32[w]! >>> 0);
    store(o32, w, lo, a32[w + 1]! + b32[w + 1]! + (lo > 0xffffffff ? 1 : 0), saturate);
  }
}

function subtractColumns(a32: Int32Array, b32: Int32Array, o32: Int32Array, n: number, saturate: boolean): void {
  for (let w = 0; w < 2 * n; w += 2) {
    const lo = (a32[w]! >>> 0) - (b32[w]! >>> 0);
    store(o32, w, lo, a32[w + 1]! - b32[w + 1]! - (lo < 0 ? 1 : 0), saturate);
  }
}

/**
 * Writes the element at word `w` from its low word `lo` (any integer; its low 32 bits are kept)
 * and its exact high word `hi`: wrapped modulo 2^64, or saturated when `hi` is beyond 32 bits.
 * Small enough for V8 to inline into both loops.
 */
function store(o32: Int32Array, w: number, lo: number, hi: number, saturate: boolean): void {
  if (saturate && (hi > 0x7fffffff || hi < -0x80000000)) {
    o32[w] = hi > 0 ? -1 : 0;
    o32[w + 1] = hi > 0 ? 0x7fffffff : -0x80000000;
  } else {
    o32[w] = lo | 0;
    o32[w + 1] = hi | 0;
  }
}

/**
 * A column batch into `out` as the engine answers it: -1 when every element is written, else the
 * index of the first failing element (its failure in {@link columnFailure}) and `out` untouched.
 */
export function runColumns(op: number, mode: number, a: BigInt64Array, b: BigInt64Array, out: BigInt64Array): number {
  if (canFail(op) || mode === ERROR) {
    const failed = firstFailure(op, mode, a, b);
    if (failed >= 0) return failed;
  }
  columns(op, mode, a, b, out);
  return -1;
}
