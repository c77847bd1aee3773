// The requests and responses of a remote call, through the package's one codec (src/codec.ts and
// the generated encoders): a request is the bytes the engine reads in process, and a response is
// the engine's own, which nanocalc-server passes through untouched, so it is read by the same
// reader. Only the buffers differ: each request is a Uint8Array of its own here.

import {
  EXPRESSION_HEADER_MAX,
  MalformedResponse,
  OVERFLOW_FIELD_MAX,
  batchValuesAt,
  decodeBigintResult,
  encodeExpressionHeader,
  writeOverflow,
} from '../codec.js';
import {
  calculatorRequestColumnsAOffset,
  calculatorRequestColumnsBOffset,
  calculatorRequestColumnsLength,
  encodeCalculatorRequestBinaryOpBigints,
  encodeCalculatorRequestColumnsFrame,
} from '../gen/nanocalc/v1/calculator_codec.js';

export { MalformedResponse };

const utf8 = new TextEncoder();
/** Room for one binary request: a key, a one-byte length, a body of at most 22 bytes, the overflow field. */
const binaryScratch = new Uint8Array(32);

/**
 * `CalculatorRequest { <field>: BinaryOp { a, b }, overflow }` for two checked i64 operands
 * (`overflow` a wire value, left out when 0).
 */
export function encodeBinary(field: number, a: bigint, b: bigint, overflow: number): Uint8Array {
  const end = encodeCalculatorRequestBinaryOpBigints(binaryScratch, 0, field, a, b);
  return binaryScratch.slice(0, end + writeOverflow(binaryScratch, end, overflow));
}

/** `CalculatorRequest { expression: Expression { text }, overflow }`. */
export function encodeExpression(text: string, overflow: number): Uint8Array {
  const bytes = utf8.encode(text);
  const u8 = new Uint8Array(EXPRESSION_HEADER_MAX + bytes.length + OVERFLOW_FIELD_MAX);
  const at = encodeExpressionHeader(u8, bytes.length, 0);
  u8.set(bytes, at);
  const end = at + bytes.length;
  return u8.subarray(0, end + writeOverflow(u8, end, overflow));
}

function bytesOf(column: BigInt64Array): Uint8Array {
  return new Uint8Array(column.buffer, column.byteOffset, column.byteLength);
}

/**
 * `CalculatorRequest { columns: ColumnBatch { operation, a, b }, overflow }`, framed as in
 * process: the columns are copied in whole (packed `sfixed64` is the little-endian i64 array itself).
 */
export function encodeColumns(operation: number, a: BigInt64Array, b: BigInt64Array, overflow: number): Uint8Array {
  const n = a.length;
  const length = calculatorRequestColumnsLength(n);
  const u8 = new Uint8Array(length + OVERFLOW_FIELD_MAX);
  encodeCalculatorRequestColumnsFrame(u8, 0, operation, n);
  u8.set(bytesOf(a), calculatorRequestColumnsAOffset(n));
  u8.set(bytesOf(b), calculatorRequestColumnsBOffset(n));
  return u8.subarray(0, length + writeOverflow(u8, length, overflow));
}

/** The `value` of a response as a bigint; an `error` response is thrown as a CalculatorError. */
export function decodeValue(u8: Uint8Array, expression = false): bigint {
  return decodeBigintResult(u8, 0, u8.length, expression);
}

/** The `batch` values of a response, copied into `out` at element `at`; an `error` response is thrown. */
export function decodeBatchInto(u8: Uint8Array, out: BigInt64Array, at: number, n: number): void {
  const start = batchValuesAt(u8, 0, u8.length, n);
  // The values may sit at any offset of the message: copied as bytes.
  new Uint8Array(out.buffer, out.byteOffset + 8 * at, 8 * n).set(u8.subarray(start, start + 8 * n));
}
