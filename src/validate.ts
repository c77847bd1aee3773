// The argument rules of docs/DESIGN.md ("The TypeScript API and its errors"), stated once for the
// in-process Calculator and nanocalc/remote (test/remote-contract.test.ts holds both to the same
// expectations).

export const I64_MIN = -(2n ** 63n);
export const I64_MAX = 2n ** 63n - 1n;

import {
  CalculatorRequestOperation,
  Overflow as WireOverflow,
  Operation as WireOperation,
} from './gen/nanocalc/v1/calculator_codec.js';

/** The schema's `Operation` enum values, by the names the API takes. */
export const OPERATION_WIRE = {
  add: WireOperation.ADD,
  subtract: WireOperation.SUBTRACT,
  multiply: WireOperation.MULTIPLY,
  divide: WireOperation.DIVIDE,
  remainder: WireOperation.REMAINDER,
} as const;

/** An operation of the API: `'add' | 'subtract' | 'multiply' | 'divide' | 'remainder'`. */
export type Operation = keyof typeof OPERATION_WIRE;

/** `CalculatorRequest` oneof field numbers of the binary operations. */
export const OPERATION_FIELD: Readonly<Record<Operation, number>> = CalculatorRequestOperation;

/**
 * What an operation does when its exact result does not fit in 64 bits: clamp it to the i64 range
 * (`'saturate'`, the default), wrap around modulo 2^64 as two's complement (`'wrap'`), or fail
 * with a `CalculatorError` of code `OVERFLOW` (`'throw'`).
 */
export type OverflowMode = 'saturate' | 'wrap' | 'throw';

/** The schema's `Overflow` values by mode; saturate is the default, 0, left off the wire. */
const OVERFLOW_WIRE: Readonly<Record<OverflowMode, number>> = {
  saturate: WireOverflow.UNSPECIFIED,
  wrap: WireOverflow.WRAP,
  throw: WireOverflow.ERROR,
};

/** The wire value of an `overflow` option: `fallback` when absent, or a RangeError naming the option. */
export function overflowOption(value: unknown, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (value === 'saturate' || value === 'wrap' || value === 'throw') return OVERFLOW_WIRE[value];
  throw new RangeError(
    `nanocalc: ${name} must be 'saturate', 'wrap' or 'throw', got ${typeof value === 'string' ? JSON.stringify(value) : describe(value)}`,
  );
}

/** Whether an operation can fail on valid elements in this overflow mode: a zero divisor, or an overflow with 'throw'. */
export function canFail(opValue: number, overflow: number): boolean {
  return overflow === WireOverflow.ERROR || opValue === WireOperation.DIVIDE || opValue === WireOperation.REMAINDER;
}

/** Operands of a batch: one column of signed 64-bit integers. */
export type BatchInput = BigInt64Array | readonly bigint[] | readonly number[];

/**
 * A numeric option of a Calculator or RemoteCalculator: `fallback` when absent, else an integer
 * from `min` to `max`, or a RangeError naming the option.
 */
export function integerOption(
  value: unknown,
  fallback: number,
  name: string,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `of at least ${min}` : `from ${min} to ${max}`;
    throw new RangeError(`nanocalc: ${name} must be an integer ${range}, got ${String(value)}`);
  }
  return value;
}

/** %TypedArray%.prototype getters: a typed array's real length, buffer and offset, whatever its class says. */
const typedArrayPrototype = Object.getPrototypeOf(Int8Array.prototype) as object;
function intrinsicGetter<T>(name: string): (this: unknown) => T {
  return Object.getOwnPropertyDescriptor(typedArrayPrototype, name)!.get as (this: unknown) => T;
}
export const typedArrayLength = intrinsicGetter<number>('length');
export const typedArrayBuffer = intrinsicGetter<ArrayBufferLike>('buffer');
const typedArrayByteOffset = intrinsicGetter<number>('byteOffset');
const typedArrayTag = Object.getOwnPropertyDescriptor(typedArrayPrototype, Symbol.toStringTag)!.get as (
  this: unknown,
) => string | undefined;

// The checks below read a typed array's internal slots through the intrinsic getters, never
// `instanceof` or a property: those can run a caller's code (a proxy in the prototype chain, a
// getter), which could close the calculator or resize a column after its length was read.

/** Whether `value` really is a BigInt64Array (not an object or another typed array given its prototype). */
export function isBigInt64Array(value: unknown): value is BigInt64Array {
  return typedArrayTag.call(value) === 'BigInt64Array';
}

/** Whether `value` really is a Uint8Array (a Node.js `Buffer` included). */
export function isUint8Array(value: unknown): value is Uint8Array {
  return typedArrayTag.call(value) === 'Uint8Array';
}

/** Elements `[from, from + count)` of a BigInt64Array, as a view (read through the intrinsic getters). */
export function i64View(column: BigInt64Array, from: number, count: number): BigInt64Array {
  return new BigInt64Array(typedArrayBuffer.call(column), typedArrayByteOffset.call(column) + 8 * from, count);
}

/**
 * Whether a BigInt64Array holds a zero, read as pairs of 32-bit words (no bigint is made: about
 * half a nanosecond an element), through the intrinsic getters.
 */
export function hasZero(column: BigInt64Array): boolean {
  const words = int32View(column);
  for (let i = 0, end = words.length; i < end; i += 2) {
    if ((words[i]! | words[i + 1]!) === 0) return true;
  }
  return false;
}

/** A BigInt64Array's backing store viewed through the two halves of each value. */
export function int32View(i64: BigInt64Array): Int32Array {
  // Through the intrinsic getters, as the other views here: never a caller's `buffer` or `length`.
  return new Int32Array(typedArrayBuffer.call(i64), typedArrayByteOffset.call(i64), 2 * typedArrayLength.call(i64));
}

/** What a value is, for an error message: `null`, `an array`, `an Int32Array`, `object`, ... */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  const tag = typedArrayTag.call(value);
  if (tag !== undefined) return /^[AEIOU]/.test(tag) ? `an ${tag}` : `a ${tag}`;
  return typeof value;
}

export function operandTypeError(a: unknown, b: unknown): TypeError {
  return new TypeError(`nanocalc: operands must be two numbers or two bigints, got ${describe(a)} and ${describe(b)}`);
}

function isI64(n: bigint): boolean {
  return n >= I64_MIN && n <= I64_MAX;
}

/**
 * The RangeError for two number operands of which one is not a safe integer. Kept out of line so
 * that the hot methods stay small enough for V8 to inline into their callers (measured: 42–48 ns
 * per `add` with the two checks inline, 41.5–42 without).
 */
export function unsafeOperandError(a: number, b: number): RangeError {
  const [name, n] = Number.isSafeInteger(a) ? ['b', b] : ['a', a];
  return new RangeError(`nanocalc: ${name} must be a safe integer (use bigint for the full i64 range), got ${n}`);
}

/** The RangeError for two bigint operands of which one is outside i64 (see `unsafeOperandError`). */
export function i64OperandError(a: bigint, b: bigint): RangeError {
  const [name, n] = isI64(a) ? ['b', b] : ['a', a];
  return new RangeError(`nanocalc: ${name} is outside the signed 64-bit range: ${n}`);
}

/**
 * Checks two operands: both safe-integer numbers, or both i64 bigints. Returns which kind, or
 * throws the TypeError / RangeError the in-process Calculator throws.
 */
export function checkOperands(a: unknown, b: unknown): 'number' | 'bigint' {
  if (typeof a === 'number') {
    if (typeof b !== 'number') throw operandTypeError(a, b);
    if (!Number.isSafeInteger(a) || !Number.isSafeInteger(b)) throw unsafeOperandError(a, b);
    return 'number';
  }
  if (typeof a === 'bigint') {
    if (typeof b !== 'bigint') throw operandTypeError(a, b);
    if (!isI64(a) || !isI64(b)) throw i64OperandError(a, b);
    return 'bigint';
  }
  throw operandTypeError(a, b);
}

/** The wire value of a batch operation name, or a TypeError. */
export function checkOperation(operation: unknown): number {
  // A switch compares interned strings by identity (Object.hasOwn on OPERATION_WIRE cost more).
  switch (operation) {
    case 'add':
      return OPERATION_WIRE.add;
    case 'subtract':
      return OPERATION_WIRE.subtract;
    case 'multiply':
      return OPERATION_WIRE.multiply;
    case 'divide':
      return OPERATION_WIRE.divide;
    case 'remainder':
      return OPERATION_WIRE.remainder;
  }
  throw new TypeError(`nanocalc: unknown operation ${JSON.stringify(String(operation))}`);
}

/** The length of a batch column, or a TypeError if it is not one of the accepted kinds. */
export function columnLength(column: unknown, name: string): number {
  // A typed array's own length (a subclass or a proxy could report another one; a proxy throws).
  if (isBigInt64Array(column)) return typedArrayLength.call(column);
  if (Array.isArray(column)) return column.length;
  throw new TypeError(
    `nanocalc: batch column ${name} must be a BigInt64Array, a bigint[] or a number[], got ${describe(column)}`,
  );
}

/** Checks the two columns and `out` of a batch; returns the common length. */
export function checkBatchShape(a: unknown, b: unknown, out: unknown): number {
  const n = columnLength(a, 'a');
  const bLength = columnLength(b, 'b');
  if (bLength !== n) throw new RangeError(`nanocalc: batch columns differ in length: a has ${n}, b has ${bLength}`);
  if (out !== undefined) {
    if (!isBigInt64Array(out)) throw new TypeError(`nanocalc: out must be a BigInt64Array, got ${describe(out)}`);
    const outLength = typedArrayLength.call(out);
    if (outLength !== n) throw new RangeError(`nanocalc: out has length ${outLength}, expected ${n}`);
  }
  return n;
}

export function elementTypeError(name: string, i: number, value: unknown, expected: string): TypeError {
  return new TypeError(`nanocalc: ${name}[${i}] must be a ${expected} like ${name}[0], got ${describe(value)}`);
}

/**
 * Copies `count` values of a checked column (`BigInt64Array`, `bigint[]` or `number[]`) from
 * element `from` into `i64` at element `at` (`i32` views the same memory): elements of another kind
 * than `column[0]` are a TypeError, out-of-range ones a RangeError. A typed array that shrank or
 * was detached since it was checked is a TypeError (batchAsync reads its columns over several turns).
 */
export function copyColumn(
  column: BigInt64Array | readonly bigint[] | readonly number[],
  from: number,
  count: number,
  i64: BigInt64Array,
  i32: Int32Array,
  at: number,
  name: string,
): void {
  if (isBigInt64Array(column)) {
    const length = typedArrayLength.call(column);
    if (from === 0 && count === length) {
      i64.set(column, at);
      return;
    }
    if (length < from + count) {
      throw new TypeError(`nanocalc: batch column ${name} was detached or shrunk while it was being read`);
    }
    const offset = typedArrayByteOffset.call(column) + 8 * from;
    i64.set(new BigInt64Array(typedArrayBuffer.call(column), offset, count), at);
    return;
  }
  if (count === 0) return;
  const end = from + count;
  if (typeof column[0] === 'bigint') {
    for (let i = from, w = at; i < end; i++, w++) {
      const value = column[i];
      if (typeof value !== 'bigint') throw elementTypeError(name, i, value, 'bigint');
      if (value < I64_MIN || value > I64_MAX) {
        throw new RangeError(`nanocalc: ${name}[${i}] is outside the signed 64-bit range: ${value}`);
      }
      i64[w] = value;
    }
    return;
  }
  for (let i = from, w = 2 * at; i < end; i++, w += 2) {
    const value = column[i];
    if (typeof value !== 'number') throw elementTypeError(name, i, value, 'number');
    if (!Number.isSafeInteger(value)) {
      throw new RangeError(`nanocalc: ${name}[${i}] must be a safe integer, got ${value}`);
    }
    // Little-endian two's complement halves; exact for safe integers.
    i32[w] = value | 0;
    i32[w + 1] = Math.floor(value / 4294967296);
  }
}
