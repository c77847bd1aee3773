// The few messages of proto/nanocalc/v1/calculator.proto a remote call needs, encoded and decoded
// by hand: requests go to the server as the bytes the engine reads, and column batches are laid
// out so that both columns are copied in (and the results out) as whole typed arrays.
// Kept apart from src/codec.ts, which is specialized for the buffer shared with the in-process engine.

import { CalculatorError, WIRE_ERROR_CODES } from '../errors.js';

const U64 = 2n ** 64n;

/** Bytes of `value` (0 ≤ value < 2^64) as a varint. */
function varintLength(value: bigint | number): number {
  let v = BigInt(value);
  let n = 1;
  while (v >= 128n) {
    v >>= 7n;
    n++;
  }
  return n;
}

function writeVarint(u8: Uint8Array, pos: number, value: bigint | number): number {
  if (typeof value === 'number' && value >= 0 && value < 2 ** 31) {
    while (value > 127) {
      u8[pos++] = (value & 127) | 128;
      value >>>= 7;
    }
    u8[pos++] = value;
    return pos;
  }
  let v = BigInt(value);
  while (v > 127n) {
    u8[pos++] = Number(v & 127n) | 128;
    v >>= 7n;
  }
  u8[pos++] = Number(v);
  return pos;
}

/** `CalculatorRequest { expression: Expression { text } }` (field 8; `text` is field 1). */
export function encodeExpression(text: string): Uint8Array {
  const bytes = utf8Encoder.encode(text);
  const body = bytes.length === 0 ? 0 : 1 + varintLength(bytes.length) + bytes.length;
  const u8 = new Uint8Array(1 + varintLength(body) + body);
  u8[0] = (8 << 3) | 2;
  let pos = writeVarint(u8, 1, body);
  if (bytes.length > 0) {
    u8[pos++] = (1 << 3) | 2;
    pos = writeVarint(u8, pos, bytes.length);
    u8.set(bytes, pos);
  }
  return u8;
}

const utf8Encoder = new TextEncoder();

/** `CalculatorRequest { <field>: BinaryOp { a, b } }` for two checked i64 operands. */
export function encodeBinary(field: number, a: bigint, b: bigint): Uint8Array {
  const ua = a < 0n ? a + U64 : a;
  const ub = b < 0n ? b + U64 : b;
  const bodyLength = (ua === 0n ? 0 : 1 + varintLength(ua)) + (ub === 0n ? 0 : 1 + varintLength(ub));
  const u8 = new Uint8Array(2 + bodyLength);
  u8[0] = (field << 3) | 2;
  u8[1] = bodyLength; // at most 22
  let pos = 2;
  if (ua !== 0n) {
    u8[pos++] = 0x08;
    pos = writeVarint(u8, pos, ua);
  }
  if (ub !== 0n) {
    u8[pos++] = 0x10;
    writeVarint(u8, pos, ub);
  }
  return u8;
}

function bytesOf(column: BigInt64Array): Uint8Array {
  return new Uint8Array(column.buffer, column.byteOffset, column.byteLength);
}

/**
 * `CalculatorRequest { columns: ColumnBatch { operation, a, b } }`: the columns are copied in
 * whole (packed `sfixed64` is the little-endian i64 array itself).
 */
export function encodeColumns(operation: number, a: BigInt64Array, b: BigInt64Array): Uint8Array {
  const valuesLength = 8 * a.length;
  const columnHeader = a.length === 0 ? 0 : 1 + varintLength(valuesLength);
  const bodyLength = 2 + 2 * (columnHeader + valuesLength);
  const u8 = new Uint8Array(1 + varintLength(bodyLength) + bodyLength);
  let pos = 0;
  u8[pos++] = 0x3a; // field 7, LEN
  pos = writeVarint(u8, pos, bodyLength);
  u8[pos++] = 0x08;
  u8[pos++] = operation; // 1..5
  if (a.length > 0) {
    u8[pos++] = 0x12;
    pos = writeVarint(u8, pos, valuesLength);
    u8.set(bytesOf(a), pos);
    pos += valuesLength;
    u8[pos++] = 0x1a;
    pos = writeVarint(u8, pos, valuesLength);
    u8.set(bytesOf(b), pos);
  }
  return u8;
}

/** A malformed response: the server is not the nanocalc engine, or the bytes were damaged. */
export class MalformedResponse extends Error {}

const utf8 = new TextDecoder();

class Reader {
  pos: number;
  constructor(
    readonly u8: Uint8Array,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  varint(): bigint {
    let value = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (this.pos >= this.end) throw new MalformedResponse('truncated varint');
      const byte = this.u8[this.pos++]!;
      value |= BigInt(byte & 127) << shift;
      if (byte < 128) return BigInt.asUintN(64, value);
    }
    throw new MalformedResponse('varint too long');
  }

  length(): number {
    const n = this.varint();
    if (n > BigInt(this.end - this.pos)) throw new MalformedResponse('length past the end');
    return Number(n);
  }

  skip(key: number): void {
    switch (key & 7) {
      case 0:
        this.varint();
        return;
      case 1:
        this.pos += 8;
        break;
      case 2:
        this.pos += this.length();
        return;
      case 5:
        this.pos += 4;
        break;
      default:
        throw new MalformedResponse(`wire type ${key & 7}`);
    }
    if (this.pos > this.end) throw new MalformedResponse('field past the end');
  }
}

function decodeError(r: Reader, end: number, batch: boolean, expression = false): CalculatorError {
  let code = 0;
  let message = '';
  let index = 0;
  const body = new Reader(r.u8, r.pos, end);
  while (body.pos < end) {
    const key = Number(body.varint());
    if (key === 0x08) code = Number(BigInt.asIntN(32, body.varint()));
    else if (key === 0x12) {
      const len = body.length();
      message = utf8.decode(body.u8.subarray(body.pos, body.pos + len));
      body.pos += len;
    } else if (key === 0x18) index = Number(body.varint());
    else body.skip(key);
  }
  const name = WIRE_ERROR_CODES[code] ?? 'INTERNAL';
  // In-process, an expression's errors carry the offset in the text (src/codec.ts does the same).
  const positioned = batch
    ? name === 'DIVISION_BY_ZERO'
    : expression && (name === 'SYNTAX_ERROR' || name === 'DIVISION_BY_ZERO' || name === 'LIMIT_EXCEEDED');
  return new CalculatorError(name, message || name, positioned ? index : undefined);
}

/** The `value` of a response as a bigint; an `error` response is thrown as a CalculatorError. */
export function decodeValue(u8: Uint8Array, expression = false): bigint {
  const r = new Reader(u8, 0, u8.length);
  let value: bigint | undefined;
  while (r.pos < r.end) {
    const key = Number(r.varint());
    if (key === 0x08) value = BigInt.asIntN(64, r.varint());
    else if (key === 0x12) {
      const len = r.length();
      throw decodeError(r, r.pos + len, false, expression);
    } else r.skip(key);
  }
  if (value === undefined) throw new MalformedResponse('expected a value');
  return value;
}

/** The `batch` values of a response, copied into `out`; an `error` response is thrown. */
export function decodeBatchInto(u8: Uint8Array, out: BigInt64Array, at: number, n: number): void {
  const r = new Reader(u8, 0, u8.length);
  let found = false;
  while (r.pos < r.end) {
    const key = Number(r.varint());
    if (key === 0x12) {
      const len = r.length();
      throw decodeError(r, r.pos + len, true);
    }
    if (key !== 0x1a) {
      r.skip(key);
      continue;
    }
    const bodyLength = r.length();
    const bodyEnd = r.pos + bodyLength;
    const body = new Reader(u8, r.pos, bodyEnd);
    let count = 0;
    while (body.pos < bodyEnd) {
      const k = Number(body.varint());
      if (k !== 0x0a) {
        body.skip(k);
        continue;
      }
      const len = body.length();
      if (len % 8 !== 0 || count + len / 8 > n) throw new MalformedResponse(`expected ${n} values`);
      const bytes = new Uint8Array(out.buffer, out.byteOffset + 8 * (at + count), len);
      bytes.set(u8.subarray(body.pos, body.pos + len));
      count += len / 8;
      body.pos += len;
    }
    if (count !== n) throw new MalformedResponse(`expected ${n} values, got ${count}`);
    r.pos = bodyEnd;
    found = true;
  }
  if (!found) throw new MalformedResponse('expected a batch result');
}
