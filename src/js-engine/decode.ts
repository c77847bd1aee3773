// A CalculatorRequest decoder as crates/nanocalc-core/src/decode.rs: exactly prost's acceptance
// rules (a oneof member seen twice in a row merges, another member in between starts over,
// unknown fields, groups included, are skipped within a recursion limit of 100), reading the
// bytes in place. The result is module state (`request`), filled by `decode`; nothing is copied
// but a column sent in several chunks (a non-canonical encoding).
import {
  BatchOperationField,
  BinaryOpField,
  CalculatorRequestField,
  CalculatorRequestKey,
  CalculatorRequestOperation,
  ColumnBatchField,
  ExpressionField,
} from '../gen/nanocalc/v1/calculator_codec.js';
import { WireType, readVarint, varintHi, varintLo } from '../wire.js';

/** Why bytes are not a valid CalculatorRequest (`DecodeError`), as negative positions. */
export const INVALID_VARINT = -1;
export const INVALID_KEY = -2;
export const INVALID_WIRE_TYPE = -3;
export const INVALID_TAG = -4;
export const UNEXPECTED_WIRE_TYPE = -5;
export const BUFFER_UNDERFLOW = -6;
export const PACKED_LENGTH = -7;
export const UNEXPECTED_END_GROUP_TAG = -8;
export const RECURSION_LIMIT_REACHED = -9;
export const INVALID_UTF8 = -10;

const MESSAGES = [
  '',
  'malformed request: invalid varint',
  'malformed request: invalid field key',
  'malformed request: invalid wire type',
  'malformed request: invalid field number 0',
  'malformed request: a field has the wrong wire type',
  'malformed request: truncated (a length runs past the end)',
  'malformed request: packed sfixed64 length is not a multiple of 8',
  'malformed request: unexpected end-group tag',
  'malformed request: nesting deeper than 100',
  'malformed request: a string is not valid UTF-8',
];

/** The message of a decode failure (a negative position). */
export function decodeErrorMessage(reason: number): string {
  return MESSAGES[-reason]!;
}

/** prost's default recursion budget. */
const RECURSION_LIMIT = 100;

/** What the request carries: its oneof member's field number (EMPTY: none). */
export const EMPTY = 0;
export const ROWS = CalculatorRequestOperation.batch;
export const COLUMNS = CalculatorRequestOperation.columns;
export const EXPRESSION = CalculatorRequestOperation.expression;
const OVERFLOW_FIELD = CalculatorRequestField.overflow;
/** The members of the `operation` oneof: the binary operations, then rows, columns, expression. */
const FIRST_MEMBER = CalculatorRequestOperation.add;
const LAST_BINARY_MEMBER = CalculatorRequestOperation.remainder;
const LAST_MEMBER = CalculatorRequestOperation.expression;

/** The decoded request. Binary operations: `member` is the operation (1 to 5). */
export const request = {
  member: EMPTY,
  /** The `overflow` field's wire value (0 when absent), as prost reads an enum: the varint's low 32 bits, signed. */
  overflow: 0,
  /** Binary operations: the operands' 32-bit halves. */
  aLo: 0,
  aHi: 0,
  bLo: 0,
  bHi: 0,
  /** Batches (row and column form): the operation's wire value. */
  operation: 0,
  /** Row batches: how many rows, and where the batch member's first field starts (see `forEachRow`). */
  count: 0,
  runStart: 0,
  /** Column batches: each list's chunks, as [start, end) pairs into the bytes. */
  aChunks: [] as number[],
  bChunks: [] as number[],
  /** Expressions: the text's bytes. */
  textStart: 0,
  textEnd: 0,
};

/** The field number and wire type of the last key read by `readKey`. */
let keyField = 0;
let keyWireType = 0;

/** Reads a key at `pos`; returns the position after it or a decode failure. */
function readKey(u8: Uint8Array, pos: number, end: number): number {
  const next = readVarint(u8, pos, end);
  if (next < 0) return INVALID_VARINT;
  if (varintHi !== 0) return INVALID_KEY;
  const wireType = varintLo & 7;
  if (wireType > WireType.I32) return INVALID_WIRE_TYPE;
  const field = varintLo >>> 3;
  if (field === 0) return INVALID_TAG;
  keyField = field;
  keyWireType = wireType;
  return next;
}

function varint(u8: Uint8Array, pos: number, end: number): number {
  const next = readVarint(u8, pos, end);
  return next < 0 ? INVALID_VARINT : next;
}

/** Skips `length` bytes at `pos`, or BUFFER_UNDERFLOW. */
function take(pos: number, end: number, length: number): number {
  return length > end - pos ? BUFFER_UNDERFLOW : pos + length;
}

/** Start of the body of a length-delimited field at `pos` (its end in `bodyEnd`), or a failure. */
let bodyEnd = 0;
function lengthDelimited(u8: Uint8Array, pos: number, end: number): number {
  const next = readVarint(u8, pos, end);
  if (next < 0) return INVALID_VARINT;
  if (varintHi !== 0 || varintLo > end - next) return BUFFER_UNDERFLOW;
  bodyEnd = next + varintLo;
  return next;
}

/** Skips an unknown field, validating it exactly as prost's `skip_field`. */
function skip(u8: Uint8Array, pos: number, end: number, wireType: number, field: number, depth: number): number {
  if (depth === 0) return RECURSION_LIMIT_REACHED;
  switch (wireType) {
    case WireType.Varint:
      return varint(u8, pos, end);
    case WireType.I64:
      return take(pos, end, 8);
    case WireType.Len: {
      const body = lengthDelimited(u8, pos, end);
      return body < 0 ? body : bodyEnd;
    }
    case WireType.I32:
      return take(pos, end, 4);
    case WireType.StartGroup:
      for (;;) {
        pos = readKey(u8, pos, end);
        if (pos < 0) return pos;
        if (keyWireType === WireType.EndGroup) return keyField === field ? pos : UNEXPECTED_END_GROUP_TAG;
        pos = skip(u8, pos, end, keyWireType, keyField, depth - 1);
        if (pos < 0) return pos;
      }
    default:
      return UNEXPECTED_END_GROUP_TAG;
  }
}

/** The operands merged by `mergeBinaryOp`, as 32-bit halves. */
let aLo = 0;
let aHi = 0;
let bLo = 0;
let bHi = 0;

/** Merges one encoded BinaryOp in `[pos, end)` into aLo/aHi/bLo/bHi; returns 0 or a failure. */
function mergeBinaryOp(u8: Uint8Array, pos: number, end: number, depth: number): number {
  while (pos < end) {
    pos = readKey(u8, pos, end);
    if (pos < 0) return pos;
    const field = keyField;
    if (field === BinaryOpField.a || field === BinaryOpField.b) {
      if (keyWireType !== WireType.Varint) return UNEXPECTED_WIRE_TYPE;
      pos = varint(u8, pos, end);
      if (pos < 0) return pos;
      if (field === BinaryOpField.a) {
        aLo = varintLo;
        aHi = varintHi;
      } else {
        bLo = varintLo;
        bHi = varintHi;
      }
    } else {
      pos = skip(u8, pos, end, keyWireType, field, depth);
      if (pos < 0) return pos;
    }
  }
  return 0;
}

/**
 * Merges one occurrence of a `repeated sfixed64` field at `pos` (packed, or a single value) into
 * `chunks`; returns the position after it or a failure.
 */
function mergeColumn(u8: Uint8Array, pos: number, end: number, wireType: number, chunks: number[]): number {
  let start: number;
  let stop: number;
  if (wireType === WireType.Len) {
    start = lengthDelimited(u8, pos, end);
    if (start < 0) return start;
    stop = bodyEnd;
    if ((stop - start) % 8 !== 0) return PACKED_LENGTH;
  } else if (wireType === WireType.I64) {
    start = pos;
    stop = take(pos, end, 8);
    if (stop < 0) return stop;
  } else {
    return UNEXPECTED_WIRE_TYPE;
  }
  if (stop > start) chunks.push(start, stop);
  return stop;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function isUtf8(u8: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    if (u8[i]! >= 0x80) {
      try {
        strictUtf8.decode(u8.subarray(start, end));
        return true;
      } catch {
        return false;
      }
    }
  }
  return true;
}

/**
 * Decodes the CalculatorRequest in `[start, end)` of `u8` into `request`; returns 0, or a decode
 * failure (negative: see decodeErrorMessage).
 */
export function decode(u8: Uint8Array, start: number, end: number): number {
  // The hot shape first: one binary operation, `<tag 1..5> <len < 128> [08 <a>] [10 <b>]`.
  const tag = u8[start]!;
  if (
    end - start >= 2 &&
    tag >= CalculatorRequestKey.add &&
    tag <= CalculatorRequestKey.remainder &&
    (tag & 7) === WireType.Len &&
    u8[start + 1]! < 0x80 &&
    canonicalOperands(u8, start + 2, start + 2 + u8[start + 1]!, end)
  ) {
    request.member = tag >>> 3;
    return 0;
  }
  return decodeGeneral(u8, start, end);
}

/**
 * The operands of a canonical BinaryOp body in `[pos, end)` (`[08 <a>] [10 <b>]` and nothing
 * else) into `request`, when the request ends there or with the overflow mode as `48 <mode>`
 * (`with_overflow`): the shape the TypeScript codec writes.
 */
function canonicalOperands(u8: Uint8Array, pos: number, end: number, requestEnd: number): boolean {
  if (end === requestEnd) request.overflow = 0;
  else if (end === requestEnd - 2 && u8[end] === CalculatorRequestKey.overflow && u8[end + 1]! < 0x80) {
    request.overflow = u8[end + 1]!;
  } else return false;
  let aL = 0;
  let aH = 0;
  let bL = 0;
  let bH = 0;
  if (pos < end && u8[pos] === 0x08) {
    pos = readVarint(u8, pos + 1, end);
    if (pos < 0) return false;
    aL = varintLo;
    aH = varintHi;
  }
  if (pos < end && u8[pos] === 0x10) {
    pos = readVarint(u8, pos + 1, end);
    if (pos < 0) return false;
    bL = varintLo;
    bH = varintHi;
  }
  if (pos !== end) return false;
  request.aLo = aL;
  request.aHi = aH | 0;
  request.bLo = bL;
  request.bHi = bH | 0;
  return true;
}

function decodeGeneral(u8: Uint8Array, start: number, end: number): number {
  const depth = RECURSION_LIMIT;
  let member = EMPTY;
  let overflow = 0;
  let pos = start;
  while (pos < end) {
    const fieldStart = pos;
    pos = readKey(u8, pos, end);
    if (pos < 0) return pos;
    const field = keyField;
    const wireType = keyWireType;
    if (field === OVERFLOW_FIELD && wireType === WireType.Varint) {
      pos = varint(u8, pos, end);
      if (pos < 0) return pos;
      overflow = varintLo | 0;
      continue;
    }
    if (field === OVERFLOW_FIELD) return UNEXPECTED_WIRE_TYPE;
    if (field < FIRST_MEMBER || field > LAST_MEMBER) {
      pos = skip(u8, pos, end, wireType, field, depth);
      if (pos < 0) return pos;
      continue;
    }
    if (wireType !== WireType.Len) return UNEXPECTED_WIRE_TYPE;
    const inner = depth - 1;
    const body = lengthDelimited(u8, pos, end);
    if (body < 0) return body;
    const stop = bodyEnd;
    pos = stop;
    if (member !== field) {
      // Another oneof member replaces the current one.
      member = field;
      if (field === ROWS) {
        request.operation = 0;
        request.count = 0;
        request.runStart = fieldStart;
      } else if (field === COLUMNS) {
        request.operation = 0;
        request.aChunks = [];
        request.bChunks = [];
      } else if (field === EXPRESSION) {
        request.textStart = 0;
        request.textEnd = 0;
      } else {
        aLo = aHi = bLo = bHi = 0;
      }
    }
    const failed =
      field === ROWS
        ? mergeMessage(u8, body, stop, inner, mergeRowsField)
        : field === COLUMNS
          ? mergeMessage(u8, body, stop, inner, mergeColumnsField)
          : field === EXPRESSION
            ? mergeMessage(u8, body, stop, inner, mergeExpressionField)
            : mergeBinaryOp(u8, body, stop, inner);
    if (failed < 0) return failed;
  }
  request.member = member;
  request.overflow = overflow;
  if (member >= FIRST_MEMBER && member <= LAST_BINARY_MEMBER) {
    request.aLo = aLo;
    request.aHi = aHi | 0;
    request.bLo = bLo;
    request.bHi = bHi | 0;
  }
  return 0;
}

/** The `operation` field (1, a varint) of either batch form into `request.operation`: the position after it, or an error. */
function mergeOperation(u8: Uint8Array, pos: number, end: number): number {
  if (keyWireType !== WireType.Varint) return UNEXPECTED_WIRE_TYPE;
  pos = varint(u8, pos, end);
  if (pos >= 0) request.operation = varintLo | 0;
  return pos;
}

/** What a member's field function returns for a field it does not know: the caller skips it. */
const UNKNOWN_FIELD = -100;

/**
 * Merges the fields of one message in `[pos, end)`: `mergeField` merges the field whose key was
 * just read (module state `keyField`, `keyWireType`) and returns the position after it, a failure,
 * or UNKNOWN_FIELD for a field that is skipped. The general path only (non-canonical requests).
 */
function mergeMessage(
  u8: Uint8Array,
  pos: number,
  end: number,
  depth: number,
  mergeField: (u8: Uint8Array, pos: number, end: number, depth: number) => number,
): number {
  while (pos < end) {
    pos = readKey(u8, pos, end);
    if (pos < 0) return pos;
    const next = mergeField(u8, pos, end, depth);
    pos = next === UNKNOWN_FIELD ? skip(u8, pos, end, keyWireType, keyField, depth) : next;
    if (pos < 0) return pos;
  }
  return 0;
}

/** A field of `RowBatch`: `operation` or one more row. */
function mergeRowsField(u8: Uint8Array, pos: number, end: number, depth: number): number {
  if (keyField === BatchOperationField.operation) return mergeOperation(u8, pos, end);
  if (keyField !== BatchOperationField.operations) return UNKNOWN_FIELD;
  if (keyWireType !== WireType.Len) return UNEXPECTED_WIRE_TYPE;
  if (depth === 0) return RECURSION_LIMIT_REACHED;
  const row = lengthDelimited(u8, pos, end);
  if (row < 0) return row;
  const rowEnd = bodyEnd;
  const failed = mergeBinaryOp(u8, row, rowEnd, depth - 1);
  if (failed < 0) return failed;
  request.count++;
  return rowEnd;
}

/** A field of `ColumnBatch`: `operation`, or a chunk of column `a` or `b`. */
function mergeColumnsField(u8: Uint8Array, pos: number, end: number, _depth: number): number {
  const field = keyField;
  if (field === ColumnBatchField.operation) return mergeOperation(u8, pos, end);
  if (field !== ColumnBatchField.a && field !== ColumnBatchField.b) return UNKNOWN_FIELD;
  return mergeColumn(u8, pos, end, keyWireType, field === ColumnBatchField.a ? request.aChunks : request.bChunks);
}

/** A field of `Expression`: `text`, a string (the last occurrence wins, each must be UTF-8, as prost checks). */
function mergeExpressionField(u8: Uint8Array, pos: number, end: number, _depth: number): number {
  if (keyField !== ExpressionField.text) return UNKNOWN_FIELD;
  if (keyWireType !== WireType.Len) return UNEXPECTED_WIRE_TYPE;
  const text = lengthDelimited(u8, pos, end);
  if (text < 0) return text;
  if (!isUtf8(u8, text, bodyEnd)) return INVALID_UTF8;
  request.textStart = text;
  request.textEnd = bodyEnd;
  return bodyEnd;
}

/**
 * Calls `row(aLo, aHi, bLo, bHi, k)` for each row of the decoded row batch, in order: its operands
 * merged as prost merges them. Only for bytes `decode` accepted, from `request.runStart`.
 */
export function forEachRow(
  u8: Uint8Array,
  end: number,
  row: (aLo: number, aHi: number, bLo: number, bHi: number, k: number) => boolean,
): number {
  let k = 0;
  let pos = request.runStart;
  while (pos < end) {
    pos = readKey(u8, pos, end);
    const field = keyField;
    if (field !== ROWS) {
      pos = skip(u8, pos, end, keyWireType, field, RECURSION_LIMIT);
      continue;
    }
    let at = lengthDelimited(u8, pos, end);
    const batchEnd = bodyEnd;
    pos = batchEnd;
    while (at < batchEnd) {
      at = readKey(u8, at, batchEnd);
      const rowField = keyField;
      if (rowField !== 2) {
        at = skip(u8, at, batchEnd, keyWireType, rowField, RECURSION_LIMIT);
        continue;
      }
      const body = lengthDelimited(u8, at, batchEnd);
      at = bodyEnd;
      aLo = aHi = bLo = bHi = 0;
      mergeBinaryOp(u8, body, at, RECURSION_LIMIT);
      if (!row(aLo, aHi | 0, bLo, bHi | 0, k)) return k;
      k++;
    }
  }
  return k;
}
