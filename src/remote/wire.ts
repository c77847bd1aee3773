// The requests and responses of a remote call, through the package's one codec (src/codec.ts and
// the generated encoders): a request is the bytes the engine reads in process, and a response is
// the engine's own, which nanocalc-server passes through untouched, so it is read by the same
// reader. Only the buffers differ: each request is a Uint8Array of its own here.

import {
  EXPRESSION_HEADER_MAX,
  MalformedResponse,
  batchValuesAt,
  decodeBigintResult,
  encodeExpressionHeader,
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
/** Room for one binary request: a key, a one-byte length and a body of at most 22 bytes. */
const binaryScratch = new Uint8Array(32);

/** `CalculatorRequest { <field>: BinaryOp { a, b } }` for two checked i64 operands. */
export function encodeBinary(field: number, a: bigint, b: bigint): Uint8Array {
  return binaryScratch.slice(0, encodeCalculatorRequestBinaryOpBigints(binaryScratch, 0, field, a, b));
}

/** `CalculatorRequest { expression: Expression { text } }`. */
export function encodeExpression(text: string): Uint8Array {
  const bytes = utf8.encode(text);
  const u8 = new Uint8Array(EXPRESSION_HEADER_MAX + bytes.length);
  const at = encodeExpressionHeader(u8, bytes.length, 0);
  u8.set(bytes, at);
  return u8.subarray(0, at + bytes.length);
}

function bytesOf(column: BigInt64Array): Uint8Array {
  return new Uint8Array(column.buffer, column.byteOffset, column.byteLength);
}

/**
 * `CalculatorRequest { columns: ColumnBatch { operation, a, b } }`, framed as in process: the
 * columns are copied in whole (packed `sfixed64` is the little-endian i64 array itself).
 */
export function encodeColumns(operation: number, a: BigInt64Array, b: BigInt64Array): Uint8Array {
  const n = a.length;
  const u8 = new Uint8Array(calculatorRequestColumnsLength(n));
  encodeCalculatorRequestColumnsFrame(u8, 0, operation, n);
  u8.set(bytesOf(a), calculatorRequestColumnsAOffset(n));
  u8.set(bytesOf(b), calculatorRequestColumnsBOffset(n));
  return u8;
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
