// Expressions, as crates/nanocalc-core/src/expr.rs: a recursive-descent parser that evaluates as
// it parses, over the UTF-8 bytes of the text. Grammar (whitespace: space, tab, CR, LF):
//
//   expr    := term (('+' | '-') term)*          left-associative
//   term    := unary (('*' | '/' | '%') unary)*  left-associative
//   unary   := '-'* primary                      each '-' negates: 0 - x
//   primary := digits | '(' expr ')'
//
// Every step is arith.ts's `apply` in the request's overflow mode. A syntax error is reported
// before any failure of a step (parsing goes on after one); a step's failure is the first one in
// evaluation order.
import {
  DIVIDE,
  DIVISION_BY_ZERO,
  ADD,
  MULTIPLY,
  NONE,
  REMAINDER,
  SUBTRACT,
  I64_MIN,
  apply,
  clearFailure,
  failure,
  negate,
} from './arith.js';

/** What went wrong (ExprError and Syntax in expr.rs). */
export const SYNTAX_EXPECTED_OPERAND = 1;
export const SYNTAX_EXPECTED_CLOSE = 2;
export const SYNTAX_UNEXPECTED = 3;
export const SYNTAX_LITERAL_OUT_OF_RANGE = 4;
export const TOO_DEEP = 5;
/** A step failed: `stepFailure` holds arith.ts's failure (division by zero, overflow). */
export const STEP_FAILED = 6;

/** The outcome of `evaluate` when it returns undefined: what, where, and the byte found (-1: the end). */
export const exprError = { kind: 0, at: 0, found: -1, stepFailure: NONE };

class Stop {}
const STOP = new Stop();

const TWO_63 = 2n ** 63n;

let text: Uint8Array;
/** Where the text starts in `text`: offsets are reported from it. */
let base = 0;
let end = 0;
let at = 0;
let depth = 0;
let maxDepth = 0;
let mode = 0;
/** Offset of the first failing step; -1 while none. From then on values are undefined. */
let failedAt = -1;
let failedWith = NONE;

function fail(kind: number, offset: number, found: number): never {
  exprError.kind = kind;
  exprError.at = offset - base;
  exprError.found = found;
  throw STOP;
}

function peek(): number {
  return at < end ? text[at]! : -1;
}

function skipSpace(): void {
  for (;;) {
    const c = peek();
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return;
    at++;
  }
}

function step(op: number, a: bigint | undefined, b: bigint | undefined, offset: number): bigint | undefined {
  if (a === undefined || b === undefined) return undefined;
  clearFailure();
  const value = apply(op, mode, a, b);
  if (failure === NONE) return value;
  if (failedAt < 0) {
    failedAt = offset - base;
    failedWith = failure;
  }
  return undefined;
}

function expr(): bigint | undefined {
  let value = term();
  for (;;) {
    const c = peek();
    if (c !== 0x2b && c !== 0x2d) return value;
    const offset = at++;
    skipSpace();
    const right = term();
    value = step(c === 0x2b ? ADD : SUBTRACT, value, right, offset);
  }
}

function term(): bigint | undefined {
  let value = unary();
  for (;;) {
    const c = peek();
    if (c !== 0x2a && c !== 0x2f && c !== 0x25) return value;
    const offset = at++;
    skipSpace();
    const right = unary();
    value = step(c === 0x2a ? MULTIPLY : c === 0x2f ? DIVIDE : REMAINDER, value, right, offset);
  }
}

function unary(): bigint | undefined {
  // The offsets of the minus signs, innermost last: the innermost applies first.
  let minuses: number[] | undefined;
  while (peek() === 0x2d) {
    if (minuses === undefined) minuses = [];
    minuses.push(at++);
    skipSpace();
  }
  let value: bigint | undefined;
  const c = peek();
  if (c >= 0x30 && c <= 0x39) {
    const start = at;
    const magnitude = literal();
    if (magnitude < TWO_63) value = magnitude;
    else if (magnitude === TWO_63 && minuses !== undefined && minuses.length > 0) {
      // -9223372036854775808: the innermost minus makes it MIN.
      minuses.pop();
      value = I64_MIN;
    } else fail(SYNTAX_LITERAL_OUT_OF_RANGE, start, -1);
  } else if (c === 0x28) {
    const open = at;
    if (depth >= maxDepth) fail(TOO_DEEP, open, -1);
    depth++;
    at++;
    skipSpace();
    value = expr();
    if (peek() !== 0x29) fail(SYNTAX_EXPECTED_CLOSE, at, peek());
    at++;
    depth--;
  } else {
    fail(SYNTAX_EXPECTED_OPERAND, at, c);
  }
  skipSpace();
  if (minuses !== undefined) {
    for (let k = minuses.length - 1; k >= 0 && value !== undefined; k--) {
      clearFailure();
      const negated = negate(mode, value);
      if (failure === NONE) value = negated;
      else {
        if (failedAt < 0) {
          failedAt = minuses[k]! - base;
          failedWith = failure;
        }
        value = undefined;
      }
    }
  }
  return value;
}

/** The digits at the cursor; any value above 2^63 comes back as 2^63 + 1. */
function literal(): bigint {
  let small = 0;
  let big: bigint | undefined;
  for (let c = peek(); c >= 0x30 && c <= 0x39; c = peek()) {
    const digit = c - 0x30;
    if (big === undefined) {
      small = small * 10 + digit;
      if (small >= 1e14) big = BigInt(small); // kept exact: below 2^53 until here
    } else if (big <= TWO_63) {
      big = big * 10n + BigInt(digit);
    }
    at++;
  }
  if (big === undefined) return BigInt(small);
  return big > TWO_63 ? TWO_63 + 1n : big;
}

/**
 * Evaluates the expression in `[start, stop)` of `u8` with parentheses nested at most `limit` deep,
 * each step in overflow mode `overflowMode`. Returns its value, or undefined with `exprError` set.
 */
export function evaluate(
  u8: Uint8Array,
  start: number,
  stop: number,
  limit: number,
  overflowMode: number,
): bigint | undefined {
  text = u8;
  base = start;
  end = stop;
  at = start;
  depth = 0;
  maxDepth = limit;
  mode = overflowMode;
  failedAt = -1;
  failedWith = NONE;
  try {
    skipSpace();
    const value = expr();
    if (at < end) fail(SYNTAX_UNEXPECTED, at, peek());
    if (value !== undefined) return value;
    // Values are only undefined after a failed step (else, as expr.rs, a division by zero at 0).
    exprError.kind = STEP_FAILED;
    exprError.at = Math.max(failedAt, 0);
    exprError.stepFailure = failedAt < 0 ? DIVISION_BY_ZERO : failedWith;
    return undefined;
  } catch (error) {
    if (error !== STOP) throw error;
    return undefined;
  } finally {
    text = EMPTY_TEXT;
  }
}

const EMPTY_TEXT = new Uint8Array(0);
