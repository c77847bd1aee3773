// Small assertion helpers shared by the test files.

import assert from 'node:assert/strict';
import { CalculatorError } from 'nanocalc';

/** JSON with bigints spelled out, for assertion messages. */
export function show(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
}

/** A CalculatorError as its code and index, for comparing with a model's answer. */
export interface ErrorOutcome {
  code: string;
  index: number | undefined;
}

function errorOutcome(error: unknown): ErrorOutcome {
  if (!(error instanceof CalculatorError)) throw error;
  return { code: error.code, index: error.index };
}

/** `f()`'s value, or the CalculatorError it threw as `{ code, index }` (any other error is rethrown). */
export function outcome<T>(f: () => T): T | ErrorOutcome {
  try {
    return f();
  } catch (error) {
    return errorOutcome(error);
  }
}

/** {@link outcome} for a promise. */
export async function outcomeAsync<T>(f: () => Promise<T>): Promise<T | ErrorOutcome> {
  try {
    return await f();
  } catch (error) {
    return errorOutcome(error);
  }
}

/** Asserts that `fn` throws a CalculatorError with `code` (and, when given, `index`); returns it. */
export function assertCalculatorError(
  fn: () => unknown,
  code: string,
  index?: number | 'none',
  context = '',
): CalculatorError {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  assert.ok(thrown !== undefined, `expected CalculatorError ${code}, nothing was thrown ${context}`);
  assert.ok(thrown instanceof CalculatorError, `expected a CalculatorError, got ${String(thrown)} ${context}`);
  assert.equal(thrown.code, code, `${context}: ${thrown.message}`);
  if (index === 'none') assert.equal(thrown.index, undefined, context);
  else if (index !== undefined) assert.equal(thrown.index, index, context);
  return thrown;
}

/** Asserts that `fn` throws exactly an instance of `type` (RangeError, TypeError), not a subclass or a CalculatorError. */
export function assertThrowsExactly(fn: () => unknown, type: ErrorConstructor, context = ''): void {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  assert.ok(thrown !== undefined, `expected ${type.name}, nothing was thrown ${context}`);
  assert.ok(
    thrown instanceof Error && Object.getPrototypeOf(thrown) === type.prototype,
    `expected ${type.name}, got ${thrown instanceof Error ? `${thrown.name}: ${thrown.message}` : String(thrown)} ${context}`,
  );
}

/** A deterministic stream of 64-bit values (xorshift64*), for large inputs that need no shrinking. */
export function* pseudoRandomI64(seed: bigint): Generator<bigint> {
  let x = BigInt.asUintN(64, seed) || 1n;
  for (;;) {
    x ^= x >> 12n;
    x ^= BigInt.asUintN(64, x << 25n);
    x ^= x >> 27n;
    yield BigInt.asIntN(64, x * 0x2545f4914f6cdd1dn);
  }
}

/**
 * A column of `n` pseudo-random i64 values (xorshift32 over the two halves: fast enough for tens
 * of millions), every third one small so multiply and divide do not only saturate or give 0; no
 * zeros when `nonZero`.
 */
export function i64Column(n: number, seed: number, nonZero = false): BigInt64Array {
  const values = new BigInt64Array(n);
  const halves = new Int32Array(values.buffer);
  let x = seed | 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const low = x;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    halves[2 * i] = nonZero && low === 0 ? 1 : low;
    halves[2 * i + 1] = i % 3 === 0 ? low >> 31 : x;
  }
  return values;
}

/** The memory of a typed array, for comparing two of them at once. */
export function bytesOf(values: BigInt64Array): Buffer {
  return Buffer.from(values.buffer, values.byteOffset, values.byteLength);
}
