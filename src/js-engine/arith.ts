// The arithmetic of crates/nanocalc-core/src/arith.rs: the five operations on i64 values, exact,
// and one of the overflow modes where the exact result does not fit. BigInt for the general case;
// the kernels (./kernels.ts) and the single-call path (./process.ts) take number paths first where
// doubles are exact.
import { Operation, Overflow } from '../gen/nanocalc/v1/calculator_codec.js';

export const ADD = Operation.ADD;
export const SUBTRACT = Operation.SUBTRACT;
export const MULTIPLY = Operation.MULTIPLY;
export const DIVIDE = Operation.DIVIDE;
export const REMAINDER = Operation.REMAINDER;

/** The overflow modes, as the schema's `Overflow` values (`UNSPECIFIED` is read as SATURATE). */
export const SATURATE = Overflow.SATURATE;
export const WRAP = Overflow.WRAP;
export const ERROR = Overflow.ERROR;

/** Why an operation has no value (`Failure` in arith.rs); NONE while it has one. */
export const NONE = 0;
export const DIVISION_BY_ZERO = 1;
export const OVERFLOW = 2;

export const I64_MIN = -(2n ** 63n);
export const I64_MAX = 2n ** 63n - 1n;

/** The failure of the last {@link apply} or {@link negate} that failed (module state: no allocation). */
export let failure = NONE;

/** Whether a wire value of `Operation` is one of the five (`Op::from_wire`). */
export function isOperation(value: number): boolean {
  return value >= ADD && value <= REMAINDER;
}

/** The mode for a wire value of `Overflow`, or 0 for an unknown value (`Overflow::from_wire`). */
export function overflowMode(value: number): number {
  if (value === Overflow.UNSPECIFIED || value === SATURATE) return SATURATE;
  if (value === WRAP || value === ERROR) return value;
  return 0;
}

/** Whether the operation fails on a zero divisor (`Op::can_fail`). */
export function canFail(op: number): boolean {
  return op === DIVIDE || op === REMAINDER;
}

/** An exact result brought into i64 by `mode`; sets {@link failure} and gives 0n when it cannot be. */
export function fit(exact: bigint, mode: number): bigint {
  if (exact >= I64_MIN && exact <= I64_MAX) return exact;
  if (mode === SATURATE) return exact < I64_MIN ? I64_MIN : I64_MAX;
  if (mode === WRAP) return BigInt.asIntN(64, exact);
  failure = OVERFLOW;
  return 0n;
}

/**
 * `a op b` with nanocalc's rules (`arith::apply`): the exact result when it fits, else clamped,
 * wrapped or a failure as `mode` says; a zero divisor is a failure in every mode. On a failure
 * it returns 0n and sets {@link failure}.
 */
export function apply(op: number, mode: number, a: bigint, b: bigint): bigint {
  switch (op) {
    case ADD:
      return fit(a + b, mode);
    case SUBTRACT:
      return fit(a - b, mode);
    case MULTIPLY:
      return fit(a * b, mode);
    case DIVIDE:
      if (b === 0n) break;
      // BigInt division truncates toward zero; its only overflow is MIN / -1.
      return fit(a / b, mode);
    default:
      if (b === 0n) break;
      // The sign of the dividend; MIN % -1 is 0, which fits.
      return a % b;
  }
  failure = DIVISION_BY_ZERO;
  return 0n;
}

/** `-a`, the unary minus of expressions: `0 - a` with the rules of {@link apply} (`-MIN` overflows). */
export function negate(mode: number, a: bigint): bigint {
  return fit(-a, mode);
}

const SAFE_HI = 2 ** 21;

/**
 * `a op b` for i64 values given as 32-bit halves, in doubles where they are exact, else NaN (the
 * caller then takes {@link apply}). A zero divisor is NaN too. Results of the number path always
 * fit in i64, so the mode does not matter here.
 */
export function applySafe(op: number, aLo: number, aHi: number, bLo: number, bHi: number): number {
  // Values below 2^53 in magnitude only: hi in [-2^21, 2^21).
  if (aHi < -SAFE_HI || aHi >= SAFE_HI || bHi < -SAFE_HI || bHi >= SAFE_HI) return Number.NaN;
  const a = aHi * 4294967296 + (aLo >>> 0);
  const b = bHi * 4294967296 + (bLo >>> 0);
  switch (op) {
    case ADD:
      return exact(a + b);
    case SUBTRACT:
      return exact(a - b);
    case MULTIPLY:
      return exact(a * b);
    case DIVIDE:
      // For |a|, |b| < 2^53 the rounded quotient never crosses an integer: truncating it is exact.
      return b === 0 ? Number.NaN : Math.trunc(a / b) + 0;
    default:
      return b === 0 ? Number.NaN : (a % b) + 0; // `+ 0` turns -0 into 0
  }
}

/**
 * A rounded sum, difference or product of integers below 2^53, if it is the exact one: the exact
 * result is an integer, so a rounded one that is a safe integer was not rounded. Else NaN.
 */
function exact(r: number): number {
  return r <= 9007199254740991 && r >= -9007199254740991 ? r + 0 : Number.NaN;
}

/** Resets {@link failure} before a step. */
export function clearFailure(): void {
  failure = NONE;
}
