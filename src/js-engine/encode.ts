// Writes CalculatorResponse bytes into the caller's buffer as crates/nanocalc-core/src/encode.rs
// does (byte for byte what prost writes), with the package's one varint writer (src/wire.ts).
import { BatchResultKey, CalculationErrorKey, CalculatorResponseKey } from '../gen/nanocalc/v1/calculator_codec.js';
import { writeInt64Bigint, writeInt64Number, writeVarint64 } from '../wire.js';

/** Longest error message written (messages are cut to it, at a character boundary). */
export const MAX_MESSAGE_LEN = 120;

const TWO_32 = 4294967296;
const utf8 = new TextEncoder();

/** Bytes of `value` (0 ≤ value < 2^53) as a varint. */
export function varintLength(value: number): number {
  let length = 1;
  while (value >= 128) {
    value = Math.floor(value / 128);
    length++;
  }
  return length;
}

/** Writes a varint of 0 ≤ value < 2^53; returns the position after it. */
export function putVarint(u8: Uint8Array, pos: number, value: number): number {
  return writeVarint64(u8, pos, value >>> 0, Math.floor(value / TWO_32) >>> 0);
}

/** `CalculatorResponse { value }` at `pos`, from a bigint in the i64 range; returns its length. */
export function valueBigint(u8: Uint8Array, pos: number, value: bigint): number {
  u8[pos] = CalculatorResponseKey.value;
  return writeInt64Bigint(u8, pos + 1, value) - pos;
}

/** `CalculatorResponse { value }` at `pos`, from a safe integer; returns its length. */
export function valueNumber(u8: Uint8Array, pos: number, value: number): number {
  u8[pos] = CalculatorResponseKey.value;
  return writeInt64Number(u8, pos + 1, value) - pos;
}

/**
 * `CalculatorResponse { error: CalculationError { code, message, index } }` at `pos`, fields
 * equal to zero or empty left out; the message cut to MAX_MESSAGE_LEN bytes. Returns its length.
 */
export function error(u8: Uint8Array, pos: number, code: number, message: string, index: number): number {
  let text = utf8.encode(message);
  if (text.length > MAX_MESSAGE_LEN) {
    let cut = MAX_MESSAGE_LEN;
    while ((text[cut]! & 0xc0) === 0x80) cut--; // back to the first byte of a character
    text = text.subarray(0, cut);
  }
  let bodyLength = 0;
  if (code !== 0) bodyLength += 1 + varintLength(code);
  if (text.length > 0) bodyLength += 1 + varintLength(text.length) + text.length;
  if (index !== 0) bodyLength += 1 + varintLength(index);
  u8[pos] = CalculatorResponseKey.error;
  let at = putVarint(u8, pos + 1, bodyLength);
  if (code !== 0) {
    u8[at] = CalculationErrorKey.code;
    at = putVarint(u8, at + 1, code);
  }
  if (text.length > 0) {
    u8[at] = CalculationErrorKey.message;
    at = putVarint(u8, at + 1, text.length);
    u8.set(text, at);
    at += text.length;
  }
  if (index !== 0) {
    u8[at] = CalculationErrorKey.index;
    at = putVarint(u8, at + 1, index);
  }
  return at - pos;
}

/**
 * Length of the header `1A <len> 0A <len>` before `count` packed values of a BatchResult (just
 * `1A 00` when there are none, as prost leaves out an empty packed field).
 */
export function batchHeaderLength(count: number): number {
  if (count === 0) return 2;
  const valuesLength = count * 8;
  const bodyLength = 1 + varintLength(valuesLength) + valuesLength;
  return 1 + varintLength(bodyLength) + 1 + varintLength(valuesLength);
}

/** Writes the header of a batch result of `count` values at `pos`; the values follow it. */
export function batchHeader(u8: Uint8Array, pos: number, count: number): number {
  u8[pos] = CalculatorResponseKey.batch;
  if (count === 0) {
    u8[pos + 1] = 0;
    return pos + 2;
  }
  const valuesLength = count * 8;
  const at = putVarint(u8, pos + 1, 1 + varintLength(valuesLength) + valuesLength);
  u8[at] = BatchResultKey.values;
  return putVarint(u8, at + 1, valuesLength);
}
