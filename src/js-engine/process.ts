// Answers one encoded CalculatorRequest with an encoded CalculatorResponse, as
// crates/nanocalc-core/src/lib.rs's process_into does: the same checks in the same order, the
// same errors and messages. Requests are read and responses written in place, in one buffer.
import { CalculatorResponseKey, ErrorCode, Layout } from '../gen/nanocalc/v1/calculator_codec.js';
import { writeInt64Number, writeSmallVarint } from '../wire.js';
import {
  ADD,
  DIVIDE,
  DIVISION_BY_ZERO,
  MULTIPLY,
  NONE,
  REMAINDER,
  SUBTRACT,
  apply,
  applySafe,
  clearFailure,
  failure,
  isOperation,
  overflowMode,
} from './arith.js';
import { COLUMNS, EMPTY, EXPRESSION, ROWS, decode, decodeErrorMessage, forEachRow, request } from './decode.js';
import { batchHeader, batchHeaderLength, error, valueBigint, valueNumber } from './encode.js';
import {
  STEP_FAILED,
  SYNTAX_EXPECTED_CLOSE,
  SYNTAX_EXPECTED_OPERAND,
  SYNTAX_UNEXPECTED,
  TOO_DEEP,
  evaluate,
  exprError,
} from './expr.js';
import { columnFailure, runColumns } from './kernels.js';

/** Bounds on what one request may ask (`Limits` in lib.rs). */
export interface Limits {
  maxRequestBytes: number;
  maxBatchLength: number;
  maxExpressionBytes: number;
  maxExpressionDepth: number;
}

export const DEFAULT_MAX_EXPRESSION_BYTES = 64 << 10;
export const DEFAULT_MAX_EXPRESSION_DEPTH = 256;

/**
 * What processInto did (`Outcome`): the response is `[out + responseStart, + its length)`, the
 * length returned; or it returned NEED_MORE and the buffer must hold `out + capacityNeeded` bytes.
 */
export const NEED_MORE = -1;
export let responseStart = 0;
export let capacityNeeded = 0;

export function needCapacity(capacity: number): number {
  capacityNeeded = capacity;
  return NEED_MORE;
}

function written(start: number, length: number): number {
  responseStart = start;
  return length;
}

/** An error response at `out`. */
function fail(u8: Uint8Array, out: number, code: number, message: string, index: number): number {
  return written(0, error(u8, out, code, message, index));
}

function failedStep(u8: Uint8Array, out: number, stepFailure: number, index: number, message: string): number {
  return stepFailure === DIVISION_BY_ZERO
    ? fail(u8, out, ErrorCode.DIVISION_BY_ZERO, `division by zero${message}`, index)
    : fail(u8, out, ErrorCode.OVERFLOW, `integer overflow${message}`, index);
}

/**
 * Answers the request in `u8[request, request + length)` by writing the response from `out` (up
 * to `outEnd`, the end of the buffer). `out` must be 8-byte aligned in memory that is.
 */
export function processInto(
  u8: Uint8Array,
  start: number,
  length: number,
  out: number,
  outEnd: number,
  limits: Limits,
): number {
  if (outEnd - out < Layout.SMALL_RESPONSE_MAX) return needCapacity(Layout.SMALL_RESPONSE_MAX);
  if (length > limits.maxRequestBytes) return requestTooLong(u8, out, length, limits);
  const end = start + length;
  const reason = decode(u8, start, end);
  if (reason < 0) return fail(u8, out, ErrorCode.INVALID_REQUEST, decodeErrorMessage(reason), 0);
  const mode = overflowMode(request.overflow);
  if (mode === 0) {
    return fail(u8, out, ErrorCode.INVALID_REQUEST, `unknown overflow mode ${request.overflow}`, 0);
  }
  const member = request.member;
  if (member === EMPTY) return fail(u8, out, ErrorCode.INVALID_REQUEST, 'no operation set in the request', 0);
  if (member === ROWS) return rowBatch(u8, end, out, outEnd, mode, limits);
  if (member === COLUMNS) return columnBatch(u8, out, outEnd, mode, limits);
  if (member === EXPRESSION) return expression(u8, out, mode, limits);
  const { aLo, aHi, bLo, bHi } = request;
  const fast = applySafe(member, aLo, aHi, bLo, bHi);
  if (!Number.isNaN(fast)) return written(0, valueNumber(u8, out, fast));
  clearFailure();
  const value = apply(member, mode, toBigint(aLo, aHi), toBigint(bLo, bHi));
  if (failure !== NONE) return failedStep(u8, out, failure, 0, '');
  return written(0, valueBigint(u8, out, value));
}

/** The operand read by {@link smallVarint}, and the position after it (-1: not a small varint). */
let smallValue = 0;

/** A varint of at most three bytes at `pos` (a value below 2^21); the position after it, or -1. */
function smallVarint(u8: Uint8Array, pos: number): number {
  let byte = u8[pos]!;
  if (byte < 128) {
    smallValue = byte;
    return pos + 1;
  }
  let value = byte & 127;
  byte = u8[pos + 1]!;
  if (byte < 128) {
    smallValue = value | (byte << 7);
    return pos + 2;
  }
  value |= (byte & 127) << 7;
  byte = u8[pos + 2]!;
  if (byte >= 128) return -1;
  smallValue = value | (byte << 14);
  return pos + 3;
}

/**
 * The hot shape alone: one binary operation whose operands are varints of at most three bytes
 * (0 ≤ a, b < 2^21), `<tag> <len> [08 <a>] [10 <b>]` and nothing else, answered at `out` with
 * number arithmetic and no bigint. Returns the response's length (at `out`), or -1 for anything
 * else (a zero divisor included), which processInto then answers (the same way for these bytes).
 */
export function processSmallBinary(u8: Uint8Array, start: number, length: number, out: number): number {
  const tag = u8[start]!;
  if (length < 2 || length > 10 || u8[start + 1] !== length - 2 || (tag & 7) !== 2) return -1;
  const op = tag >>> 3;
  const end = start + length;
  let pos = start + 2;
  let a = 0;
  let b = 0;
  if (pos < end && u8[pos] === 0x08) {
    pos = smallVarint(u8, pos + 1);
    if (pos < 0) return -1;
    a = smallValue;
  }
  if (pos < end && u8[pos] === 0x10) {
    pos = smallVarint(u8, pos + 1);
    if (pos < 0) return -1;
    b = smallValue;
  }
  if (pos !== end) return -1;
  let r: number;
  if (op === ADD) r = a + b;
  else if (op === SUBTRACT) r = a - b;
  else if (op === MULTIPLY)
    r = a * b; // below 2^42: exact
  else if (b === 0 || (op !== DIVIDE && op !== REMAINDER)) return -1;
  else r = op === DIVIDE ? Math.floor(a / b) : a % b; // both non-negative
  u8[out] = CalculatorResponseKey.value;
  if (r >= 0 && r < 16384) return writeSmallVarint(u8, out + 1, r) - out;
  return writeInt64Number(u8, out + 1, r) - out;
}

const scratch = new BigInt64Array(1);
const scratch32 = new Int32Array(scratch.buffer);

function toBigint(lo: number, hi: number): bigint {
  scratch32[0] = lo;
  scratch32[1] = hi;
  return scratch[0]!;
}

export function requestTooLong(u8: Uint8Array, out: number, length: number, limits: Limits): number {
  const message = `request of ${length} bytes exceeds the limit of ${limits.maxRequestBytes} bytes`;
  return fail(u8, out, ErrorCode.LIMIT_EXCEEDED, message, 0);
}

/** What every batch form checks: a known operation and a length within the limit; -1 when they pass. */
function batchChecks(u8: Uint8Array, out: number, operation: number, count: number, limits: Limits): number {
  if (!isOperation(operation)) {
    return fail(u8, out, ErrorCode.INVALID_REQUEST, `unknown batch operation ${operation}`, 0);
  }
  if (count > limits.maxBatchLength) {
    const message = `batch of ${count} operations exceeds the limit of ${limits.maxBatchLength}`;
    return fail(u8, out, ErrorCode.LIMIT_EXCEEDED, message, 0);
  }
  return -1;
}

/** Where the values of a batch result go (`frameValuesAt`), after its header written 8-byte aligned. */
let frameValuesAt = 0;

/** Writes the header of a batch result of `count` values; false when the buffer needs more room. */
function batchFrame(u8: Uint8Array, out: number, outEnd: number, count: number): boolean {
  const header = batchHeaderLength(count);
  const values = count * 8;
  const pad = (8 - ((out + header) & 7)) & 7;
  if (pad + header + values > outEnd - out) {
    needCapacity(7 + header + values);
    return false;
  }
  batchHeader(u8, out + pad, count);
  responseStart = pad;
  frameValuesAt = out + pad + header;
  return true;
}

function rowBatch(u8: Uint8Array, end: number, out: number, outEnd: number, mode: number, limits: Limits): number {
  const { operation, count } = request;
  const refused = batchChecks(u8, out, operation, count, limits);
  if (refused >= 0) return refused;
  if (!batchFrame(u8, out, outEnd, count)) return NEED_MORE;
  const start = responseStart;
  const valuesAt = frameValuesAt;
  const values = new BigInt64Array(u8.buffer, u8.byteOffset + valuesAt, count);
  const words = new Int32Array(u8.buffer, u8.byteOffset + valuesAt, 2 * count);
  let failedAt = -1;
  let failedWith = NONE;
  const done = forEachRow(u8, end, (aLo, aHi, bLo, bHi, k) => {
    const fast = applySafe(operation, aLo, aHi, bLo, bHi);
    if (!Number.isNaN(fast)) {
      words[2 * k] = fast | 0;
      words[2 * k + 1] = Math.floor(fast / 4294967296);
      return true;
    }
    clearFailure();
    const value = apply(operation, mode, toBigint(aLo, aHi), toBigint(bLo, bHi));
    if (failure === NONE) {
      values[k] = value;
      return true;
    }
    failedAt = k;
    failedWith = failure;
    return false;
  });
  if (failedAt >= 0) return failedStep(u8, out, failedWith, failedAt, ` at index ${failedAt}`);
  if (done !== count) {
    return fail(u8, out, ErrorCode.INTERNAL, 'internal error: rows changed between validation and use', 0);
  }
  return written(start, valuesAt + count * 8 - (out + start));
}

/** A column's chunks as one BigInt64Array: in place when it is one 8-byte aligned chunk, else a copy. */
function column(u8: Uint8Array, chunks: number[]): BigInt64Array {
  let bytes = 0;
  for (let k = 0; k < chunks.length; k += 2) bytes += chunks[k + 1]! - chunks[k]!;
  if (chunks.length === 2 && (u8.byteOffset + chunks[0]!) % 8 === 0) {
    return new BigInt64Array(u8.buffer, u8.byteOffset + chunks[0]!, bytes / 8);
  }
  const copy = new Uint8Array(bytes);
  for (let k = 0, at = 0; k < chunks.length; k += 2) {
    copy.set(u8.subarray(chunks[k]!, chunks[k + 1]!), at);
    at += chunks[k + 1]! - chunks[k]!;
  }
  return new BigInt64Array(copy.buffer);
}

function columnBatch(u8: Uint8Array, out: number, outEnd: number, mode: number, limits: Limits): number {
  const a = column(u8, request.aChunks);
  const b = column(u8, request.bChunks);
  const refused = columnChecks(u8, out, request.operation, a.length, b.length, limits);
  if (refused >= 0) return refused;
  const count = a.length;
  if (!batchFrame(u8, out, outEnd, count)) return NEED_MORE;
  const start = responseStart;
  const valuesAt = frameValuesAt;
  const failed = runColumns(
    request.operation,
    mode,
    a,
    b,
    new BigInt64Array(u8.buffer, u8.byteOffset + valuesAt, count),
  );
  if (failed >= 0) return failedStep(u8, out, columnFailure, failed, ` at index ${failed}`);
  return written(start, valuesAt + count * 8 - (out + start));
}

/**
 * What a column batch must pass before any value is computed (`column_checks`, but the failing
 * elements, which runColumns finds): lists of equal length, a known operation, the length limit.
 */
export function columnChecks(
  u8: Uint8Array,
  out: number,
  operation: number,
  aLength: number,
  bLength: number,
  limits: Limits,
): number {
  if (aLength !== bLength) {
    const message = `column lengths differ: a has ${aLength} values, b has ${bLength}`;
    return fail(u8, out, ErrorCode.INVALID_REQUEST, message, 0);
  }
  return batchChecks(u8, out, operation, aLength, limits);
}

/** The answer to a column batch whose element `index` failed with `stepFailure`. */
export function columnFailed(u8: Uint8Array, out: number, stepFailure: number, index: number): number {
  return failedStep(u8, out, stepFailure, index, ` at index ${index}`);
}

function expression(u8: Uint8Array, out: number, mode: number, limits: Limits): number {
  const { textStart, textEnd } = request;
  const length = textEnd - textStart;
  if (length > limits.maxExpressionBytes) {
    const message = `expression of ${length} bytes exceeds the limit of ${limits.maxExpressionBytes} bytes`;
    return fail(u8, out, ErrorCode.LIMIT_EXCEEDED, message, 0);
  }
  const value = evaluate(u8, textStart, textEnd, limits.maxExpressionDepth, mode);
  if (value !== undefined) return written(0, valueBigint(u8, out, value));
  const { kind, at, found } = exprError;
  switch (kind) {
    case STEP_FAILED:
      return failedStep(u8, out, exprError.stepFailure, at, ` at ${at}`);
    case TOO_DEEP:
      return fail(
        u8,
        out,
        ErrorCode.LIMIT_EXCEEDED,
        `parentheses nested deeper than ${limits.maxExpressionDepth} at ${at}`,
        at,
      );
    case SYNTAX_EXPECTED_OPERAND:
      return syntax(u8, out, `expected a number or '(' at ${at}, found ${foundText(found)}`, at);
    case SYNTAX_EXPECTED_CLOSE:
      return syntax(u8, out, `expected ')' at ${at}, found ${foundText(found)}`, at);
    case SYNTAX_UNEXPECTED:
      return syntax(u8, out, `unexpected ${foundText(found)} at ${at}`, at);
    default:
      return syntax(u8, out, `integer literal out of range at ${at}`, at);
  }
}

function syntax(u8: Uint8Array, out: number, message: string, at: number): number {
  return fail(u8, out, ErrorCode.SYNTAX_ERROR, message, at);
}

/** A byte of an expression named in a message (`Found` in lib.rs); -1 is the end. */
function foundText(byte: number): string {
  if (byte < 0) return 'the end';
  if (byte >= 0x21 && byte <= 0x7e) return `'${String.fromCharCode(byte)}'`;
  if (byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d) return 'a space';
  if (byte >= 0x80) return 'a non-ASCII character';
  return `the control character 0x${byte.toString(16).padStart(2, '0')}`;
}
