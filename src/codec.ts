// A specialized codec for the messages of proto/nanocalc/v1/calculator.proto that the hot path
// uses, writing into and reading from the buffer shared with Rust. It allocates nothing: operands
// arrive as numbers or bigints and leave as varints; responses are read in place.
// Tests hold it to protobuf-es (the reference codec) on random messages.

import { CalculatorError, WIRE_ERROR_CODES } from './errors.js';

/** `CalculatorRequest` oneof field numbers of the five binary operations, and the batch forms. */
export const FIELD = { add: 1, subtract: 2, multiply: 3, divide: 4, remainder: 5, batch: 6, columns: 7 } as const;
/** The schema's `Operation` enum values. */
export const OPERATION = { add: 1, subtract: 2, multiply: 3, divide: 4, remainder: 5 } as const;
export type Operation = keyof typeof OPERATION;

/**
 * Layout of the buffer shared with the engine (crates/nanocalc-node): three u32 control words
 * (request length; response start; response length, or NEED_CAPACITY with the start word holding
 * the capacity needed), then the request from byte 16, then the response after it.
 */
export const REQUEST_OFFSET = 16;
export const NEED_CAPACITY = 0xffffffff;

export const I64_MIN = -(2n ** 63n);
export const I64_MAX = 2n ** 63n - 1n;
const TWO_32 = 4294967296;

// Scratch words for moving a bigint in and out of two's complement without BigInt arithmetic.
const scratch64 = new BigInt64Array(1);
const scratch32 = new Uint32Array(scratch64.buffer);

/** Writes an unsigned 64-bit varint given as two 32-bit halves; returns the position after it. */
function writeVarint64(u8: Uint8Array, pos: number, lo: number, hi: number): number {
  while (hi !== 0) {
    u8[pos++] = (lo & 127) | 128;
    lo = ((lo >>> 7) | (hi << 25)) >>> 0;
    hi >>>= 7;
  }
  while (lo > 127) {
    u8[pos++] = (lo & 127) | 128;
    lo >>>= 7;
  }
  u8[pos++] = lo;
  return pos;
}

/** Writes 0 ≤ n < 16384 as a one- or two-byte varint: small enough for V8 to inline. */
function writeSmallVarint(u8: Uint8Array, pos: number, n: number): number {
  if (n < 128) {
    u8[pos] = n;
    return pos + 1;
  }
  u8[pos] = (n & 127) | 128;
  u8[pos + 1] = n >>> 7;
  return pos + 2;
}

/** Writes a safe integer as an `int64` varint (negative values take ten bytes, as in protobuf). */
function writeInt64Number(u8: Uint8Array, pos: number, n: number): number {
  if (n >>> 0 === n) {
    // 0 ≤ n < 2^32: 32-bit arithmetic only.
    while (n > 127) {
      u8[pos++] = (n & 127) | 128;
      n >>>= 7;
    }
    u8[pos] = n;
    return pos + 1;
  }
  return writeVarint64(u8, pos, n >>> 0, Math.floor(n / TWO_32) >>> 0);
}

/** Writes an in-range bigint as an `int64` varint. */
function writeInt64Bigint(u8: Uint8Array, pos: number, n: bigint): number {
  scratch64[0] = n;
  const lo = scratch32[0]!;
  const hi = scratch32[1]!;
  if (hi === 0 && lo < 16384) return writeSmallVarint(u8, pos, lo);
  return writeVarint64(u8, pos, lo, hi);
}

/**
 * Writes `value` as a varint of exactly `width` bytes (non-minimal, which every protobuf parser
 * accepts): it fixes the header size of column batches so their values land 8-byte aligned.
 */
function writePaddedVarint(u8: Uint8Array, pos: number, value: number, width: number): number {
  for (let i = 1; i < width; i++) {
    u8[pos++] = (value % 128) | 128;
    value = Math.floor(value / 128);
  }
  u8[pos++] = value;
  return pos;
}

/** Encodes `CalculatorRequest { <field>: BinaryOp { a, b } }` at REQUEST_OFFSET; returns its length. */
export function encodeBinaryNumbers(u8: Uint8Array, field: number, a: number, b: number): number {
  u8[REQUEST_OFFSET] = (field << 3) | 2;
  let pos = REQUEST_OFFSET + 2;
  if (a !== 0) {
    u8[pos++] = 0x08;
    pos = a >>> 0 === a && a < 16384 ? writeSmallVarint(u8, pos, a) : writeInt64Number(u8, pos, a);
  }
  if (b !== 0) {
    u8[pos++] = 0x10;
    pos = b >>> 0 === b && b < 16384 ? writeSmallVarint(u8, pos, b) : writeInt64Number(u8, pos, b);
  }
  u8[REQUEST_OFFSET + 1] = pos - REQUEST_OFFSET - 2; // at most 22 bytes: a one-byte length
  return pos - REQUEST_OFFSET;
}

/** As {@link encodeBinaryNumbers}, for bigints already checked to be in the i64 range. */
export function encodeBinaryBigints(u8: Uint8Array, field: number, a: bigint, b: bigint): number {
  u8[REQUEST_OFFSET] = (field << 3) | 2;
  let pos = REQUEST_OFFSET + 2;
  if (a !== 0n) {
    u8[pos++] = 0x08;
    pos = writeInt64Bigint(u8, pos, a);
  }
  if (b !== 0n) {
    u8[pos++] = 0x10;
    pos = writeInt64Bigint(u8, pos, b);
  }
  u8[REQUEST_OFFSET + 1] = pos - REQUEST_OFFSET - 2;
  return pos - REQUEST_OFFSET;
}

/**
 * Layout of `CalculatorRequest { columns: ColumnBatch { operation, a, b } }` for `n` values:
 * `3A <len:5> 08 <op> 12 <8n:7> a… 1A <8n:7> b…`, with padded lengths so that both columns start
 * at multiples of 8: `a` 16 bytes into the request, `b` `24 + 8n` bytes in.
 */
export const COLUMNS_A_OFFSET = REQUEST_OFFSET + 16;
export function columnsBOffset(n: number): number {
  return REQUEST_OFFSET + 24 + 8 * n;
}
export function columnsRequestLength(n: number): number {
  return 24 + 16 * n;
}

/** Writes the framing of a column batch of `n` values; the caller fills the two columns. */
export function encodeColumnsFrame(u8: Uint8Array, operation: number, n: number): number {
  const at = REQUEST_OFFSET;
  u8[at] = (FIELD.columns << 3) | 2;
  writePaddedVarint(u8, at + 1, 18 + 16 * n, 5);
  u8[at + 6] = 0x08;
  u8[at + 7] = operation;
  u8[at + 8] = 0x12;
  writePaddedVarint(u8, at + 9, 8 * n, 7);
  const tagB = COLUMNS_A_OFFSET + 8 * n;
  u8[tagB] = 0x1a;
  writePaddedVarint(u8, tagB + 1, 8 * n, 7);
  return columnsRequestLength(n);
}

// ---- decoding ------------------------------------------------------------------------------

// The decoder's cursor and the halves of the last varint read: module state, so reading
// allocates nothing. Every reader runs to completion synchronously.
let cursor = 0;
let varLo = 0;
let varHi = 0;

function malformed(what: string): CalculatorError {
  return new CalculatorError('INTERNAL', `nanocalc: malformed response from the engine (${what})`);
}

/** Reads a varint at `cursor` into `varLo`/`varHi`, checking it ends before `end`. */
function readVarint(u8: Uint8Array, end: number): void {
  let lo = 0;
  let hi = 0;
  let shift = 0;
  let byte: number;
  // Low 28 bits.
  do {
    if (cursor >= end) throw malformed('truncated varint');
    byte = u8[cursor++]!;
    lo |= (byte & 127) << shift;
    shift += 7;
  } while (byte >= 128 && shift < 28);
  if (byte >= 128) {
    // Bits 28..34 straddle the halves.
    if (cursor >= end) throw malformed('truncated varint');
    byte = u8[cursor++]!;
    lo |= (byte & 15) << 28;
    hi = (byte & 127) >> 4;
    shift = 3;
    while (byte >= 128) {
      if (cursor >= end || shift > 31) throw malformed('invalid varint');
      byte = u8[cursor++]!;
      hi |= (byte & 127) << shift;
      shift += 7;
    }
  }
  varLo = lo >>> 0;
  varHi = hi >>> 0;
}

function readLength(u8: Uint8Array, end: number): number {
  readVarint(u8, end);
  const len = varHi * TWO_32 + varLo;
  if (cursor + len > end) throw malformed('length past the end');
  return len;
}

function skipField(u8: Uint8Array, key: number, end: number): void {
  switch (key & 7) {
    case 0:
      readVarint(u8, end);
      return;
    case 1:
      cursor += 8;
      break;
    case 2: {
      const length = readLength(u8, end);
      cursor += length;
      return;
    }
    case 5:
      cursor += 4;
      break;
    default:
      throw malformed(`wire type ${key & 7}`);
  }
  if (cursor > end) throw malformed('field past the end');
}

const utf8 = new TextDecoder();

/** Decodes the `CalculationError` body in `[cursor, end)` into a `CalculatorError`. */
function decodeError(u8: Uint8Array, end: number, batch: boolean): CalculatorError {
  let code = 0;
  let message = '';
  let index = 0;
  while (cursor < end) {
    const key = u8[cursor++]!;
    if (key === 0x08) {
      readVarint(u8, end);
      code = varLo;
    } else if (key === 0x12) {
      const len = readLength(u8, end);
      message = utf8.decode(u8.subarray(cursor, cursor + len));
      cursor += len;
    } else if (key === 0x18) {
      readVarint(u8, end);
      index = varHi * TWO_32 + varLo;
    } else {
      skipField(u8, key, end);
    }
  }
  const name = WIRE_ERROR_CODES[code] ?? 'INTERNAL';
  const elementFailure = batch && name === 'DIVISION_BY_ZERO';
  return new CalculatorError(name, message || name, elementFailure ? index : undefined);
}

/** Reads the response's oneof key at `start`; throws the decoded error for `error` responses. */
function readResultKey(u8: Uint8Array, start: number, end: number, batch: boolean): number {
  cursor = start;
  if (cursor >= end) throw malformed('empty response');
  const key = u8[cursor++]!;
  if (key === 0x12) {
    const len = readLength(u8, end);
    throw decodeError(u8, cursor + len, batch);
  }
  return key;
}

/**
 * Decodes a `value` response as a number, reading values below 2^21 in place and handing
 * everything else (larger values, errors) to {@link decodeNumberResult}.
 */
export function decodeNumberResultFast(u8: Uint8Array, start: number, end: number): number {
  if (u8[start] === 0x08 && end - start <= 4) {
    let byte = u8[start + 1]!;
    if (byte < 128) return byte;
    let value = byte & 127;
    byte = u8[start + 2]!;
    if (byte < 128) return value | (byte << 7);
    value |= (byte & 127) << 7;
    byte = u8[start + 3]!;
    if (byte < 128) return value | (byte << 14);
  }
  return decodeNumberResult(u8, start, end);
}

/** Decodes a `value` response as a number; a value beyond the safe range is a `RangeError`. */
export function decodeNumberResult(u8: Uint8Array, start: number, end: number): number {
  if (readResultKey(u8, start, end, false) !== 0x08) throw malformed('expected a value');
  const first = u8[cursor]!;
  if (first < 128 && cursor < end) return first;
  readVarint(u8, end);
  const value = (varHi | 0) * TWO_32 + varLo;
  if (!Number.isSafeInteger(value)) {
    throw new RangeError(
      `nanocalc: the result ${bigintFromHalves(varLo, varHi)} is outside the safe integer range; use bigint operands`,
    );
  }
  return value;
}

function bigintFromHalves(lo: number, hi: number): bigint {
  scratch32[0] = lo;
  scratch32[1] = hi;
  return scratch64[0]!;
}

/** {@link decodeBigintResult}, reading values below 2^21 in place. */
export function decodeBigintResultFast(u8: Uint8Array, start: number, end: number): bigint {
  if (u8[start] === 0x08 && end - start <= 4) {
    let byte = u8[start + 1]!;
    if (byte < 128) return BigInt(byte);
    let value = byte & 127;
    byte = u8[start + 2]!;
    if (byte < 128) return BigInt(value | (byte << 7));
    value |= (byte & 127) << 7;
    byte = u8[start + 3]!;
    if (byte < 128) return BigInt(value | (byte << 14));
  }
  return decodeBigintResult(u8, start, end);
}

/** Decodes a `value` response as a bigint. */
export function decodeBigintResult(u8: Uint8Array, start: number, end: number): bigint {
  if (readResultKey(u8, start, end, false) !== 0x08) throw malformed('expected a value');
  readVarint(u8, end);
  return bigintFromHalves(varLo, varHi);
}

/**
 * Decodes a `batch` response of `n` values and returns the byte offset of its packed values
 * (8-byte aligned, as the engine writes them).
 */
export function decodeBatchResult(u8: Uint8Array, start: number, end: number, n: number): number {
  if (readResultKey(u8, start, end, true) !== 0x1a) throw malformed('expected a batch result');
  const bodyLength = readLength(u8, end);
  const bodyEnd = cursor + bodyLength;
  if (n === 0 && cursor === bodyEnd) return cursor;
  if (u8[cursor++] !== 0x0a) throw malformed('expected packed values');
  const len = readLength(u8, bodyEnd);
  if (len !== 8 * n || cursor + len !== bodyEnd) throw malformed(`expected ${n} values`);
  if (cursor % 8 !== 0) throw malformed('unaligned values');
  return cursor;
}

/** Encodes a `CalculatorResponse { error }` (used where answering must not reach the engine). */
export function encodeErrorResponse(code: number, message: string): Uint8Array {
  const text = new TextEncoder().encode(message);
  const body = [0x08, code, 0x12, ...varintBytes(text.length), ...text];
  return Uint8Array.from([0x12, ...varintBytes(body.length), ...body]);
}

function varintBytes(value: number): number[] {
  const bytes = new Uint8Array(10);
  return Array.from(bytes.subarray(0, writeVarint64(bytes, 0, value >>> 0, Math.floor(value / TWO_32) >>> 0)));
}
