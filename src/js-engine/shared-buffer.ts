// The shared-buffer protocol of crates/nanocalc-core/src/shared_buffer.rs over a Uint8Array: the
// control words, the request at REQUEST_OFFSET, the response after it (see that file's layout).
// Domain failures are answered inside the response; misuse of the protocol throws, with the
// messages the Rust engine gives.
import { CalculatorRequestKey, ColumnBatchKey, Layout } from '../gen/nanocalc/v1/calculator_codec.js';
import { readVarint, varintHi, varintLo } from '../wire.js';
import { copyOf } from '../result-arrays.js';
import { i64View, typedArrayBuffer, typedArrayLength } from '../validate.js';
import { overflowMode } from './arith.js';
import { columnFailure, runColumns as runColumnKernel } from './kernels.js';
import {
  type Limits,
  NEED_MORE,
  capacityNeeded,
  columnChecks,
  columnFailed,
  needCapacity,
  processInto,
  processSmallBinary,
  requestTooLong,
  responseStart,
} from './process.js';

/** The error of a column call whose arrays are not as long as the frame says (a TypeError). */
export const COLUMN_LENGTH_DIFFERS =
  "nanocalc: a batch column's length differs from its frame (detached or resized while it was being read)";

function align8(n: number): number {
  return (n + 7) & ~7;
}

/** Runs the request in `u8` (laid out as the shared buffer; `u32` over the same memory) and writes the response. */
export function run(u8: Uint8Array, u32: Uint32Array, limits: Limits): void {
  if (u8.length < Layout.REQUEST_OFFSET) throw new Error('nanocalc: the shared buffer is too small');
  const length = u32[Layout.REQUEST_LENGTH_WORD]!;
  const base = align8(Layout.REQUEST_OFFSET + length);
  if (base > u8.length) throw new Error('nanocalc: the request runs past the shared buffer');
  writeAnswer(u32, base, processInto(u8, Layout.REQUEST_OFFSET, length, base, u8.length, limits));
}

/**
 * `run` for the hot shape of processSmallBinary alone (a single operation on small operands, which
 * fits any limit: ten bytes, answered in at most 11 of SMALL_RESPONSE_MAX); false for anything else,
 * which `run` then answers.
 */
export function runSmall(u8: Uint8Array, u32: Uint32Array): boolean {
  const length = u32[Layout.REQUEST_LENGTH_WORD]!;
  const base = (Layout.REQUEST_OFFSET + length + 7) & ~7;
  if (length > 10 || base + Layout.SMALL_RESPONSE_MAX > u8.length) return false;
  const written = processSmallBinary(u8, Layout.REQUEST_OFFSET, length, base);
  if (written < 0) return false;
  u32[Layout.RESPONSE_START_WORD] = base;
  u32[Layout.RESPONSE_LENGTH_WORD] = written;
  return true;
}

/** The control words for an answer (`write_answer`): a response at `base`, or the capacity needed. */
function writeAnswer(u32: Uint32Array, base: number, outcome: number): void {
  if (outcome === NEED_MORE) {
    u32[Layout.RESPONSE_START_WORD] = base + capacityNeeded;
    u32[Layout.RESPONSE_LENGTH_WORD] = Layout.NEED_CAPACITY;
  } else {
    u32[Layout.RESPONSE_START_WORD] = base + responseStart;
    u32[Layout.RESPONSE_LENGTH_WORD] = outcome;
  }
}

/** The column frame found by `columnFrame`: its operation, overflow field and where its lists are. */
const frame = { operation: 0, overflow: 0, aStart: 0, bStart: 0, listLength: 0 };

/** Reads the key byte `key` and the varint after it at `pos`; the position after it, or -1. */
function afterKey(u8: Uint8Array, pos: number, end: number, key: number): number {
  if (pos >= end || u8[pos] !== key) return -1;
  return readVarint(u8, pos + 1, end);
}

/**
 * The column batch framed in the request as the TypeScript codec frames it
 * (`decode::canonical_columns`: `3a <len> 08 <op> 12 <len> <a> 1a <len> <b>`, perhaps `48 <mode>`
 * after it, and nothing else),
 * with lists of equal length, into `frame`; false for anything else.
 */
function columnFrame(u8: Uint8Array, u32: Uint32Array): boolean {
  const length = u32[Layout.REQUEST_LENGTH_WORD]!;
  let end = Layout.REQUEST_OFFSET + length;
  if (end > u8.length) return false;
  let pos = afterKey(u8, Layout.REQUEST_OFFSET, end, CalculatorRequestKey.columns);
  if (pos < 0 || varintHi !== 0) return false;
  // The batch, then perhaps the overflow mode as `48 <mode>` (`with_overflow`).
  const batchEnd = pos + varintLo;
  if (batchEnd === end) frame.overflow = 0;
  else if (batchEnd === end - 2 && u8[batchEnd] === CalculatorRequestKey.overflow && u8[batchEnd + 1]! < 0x80) {
    frame.overflow = u8[batchEnd + 1]!;
  } else return false;
  end = batchEnd;
  pos = afterKey(u8, pos, end, ColumnBatchKey.operation);
  if (pos < 0) return false;
  frame.operation = varintLo | 0;
  pos = afterKey(u8, pos, end, ColumnBatchKey.a);
  if (pos < 0 || varintHi !== 0 || varintLo > end - pos || varintLo % 8 !== 0) return false;
  frame.aStart = pos;
  frame.listLength = varintLo;
  pos = afterKey(u8, pos + varintLo, end, ColumnBatchKey.b);
  if (pos < 0 || varintHi !== 0 || varintLo !== end - pos || varintLo !== frame.listLength) return false;
  frame.bStart = pos;
  return true;
}

/**
 * A column batch framed in the shared buffer, its lists read from `a` and `b` and its values
 * written into `out` (`run_columns`): true when they are; false when the answer is an error,
 * which is then the response in the buffer (and `out` untouched).
 */
export function runColumns(
  u8: Uint8Array,
  u32: Uint32Array,
  a: BigInt64Array,
  b: BigInt64Array,
  out: BigInt64Array,
  limits: Limits,
): boolean {
  if (!columnFrame(u8, u32)) throw new Error('nanocalc: no column batch frame in the shared buffer');
  // The arrays' own lengths, never a `length` a caller's subclass defines.
  const n = frame.listLength / 8;
  if (typedArrayLength.call(a) !== n || typedArrayLength.call(b) !== n || typedArrayLength.call(out) !== n) {
    throw new TypeError(COLUMN_LENGTH_DIFFERS);
  }
  const length = u32[Layout.REQUEST_LENGTH_WORD]!;
  const base = align8(Layout.REQUEST_OFFSET + length);
  if (base > u8.length) throw new Error('nanocalc: the request runs past the shared buffer');
  // Plain views of the caller's memory, read and written without running a caller's code; every
  // input is read before a result is written over it: an input that may share memory with `out`
  // is copied first (`run_columns_over`).
  const target = i64View(out, 0, n);
  const apart = (column: BigInt64Array) => (sharesMemory(column, out) ? copyOf(column, n) : i64View(column, 0, n));
  const answer = columnsInPlace(u8, length, base, apart(a), apart(b), target, limits);
  if (answer === VALUES_WRITTEN) {
    u32[Layout.RESPONSE_START_WORD] = 0;
    u32[Layout.RESPONSE_LENGTH_WORD] = 0;
    return true;
  }
  writeAnswer(u32, base, answer);
  return false;
}

const VALUES_WRITTEN = -2;

/**
 * Whether two typed arrays may share memory (`Memory::overlaps`). JavaScript sees memory through
 * buffer objects, and one SharedArrayBuffer's memory can be reached through several (a clone
 * sent through a MessagePort, a shared WebAssembly.Memory after grow()): two shared buffers are
 * taken to overlap.
 */
export function sharesMemory(x: BigInt64Array, y: BigInt64Array): boolean {
  const xLength = typedArrayLength.call(x);
  const yLength = typedArrayLength.call(y);
  if (xLength === 0 || yLength === 0) return false;
  const xBuffer = typedArrayBuffer.call(x);
  const yBuffer = typedArrayBuffer.call(y);
  if (xBuffer !== yBuffer) return isShared(xBuffer) && isShared(yBuffer);
  const xStart = i64View(x, 0, 0).byteOffset;
  const yStart = i64View(y, 0, 0).byteOffset;
  return xStart < yStart + 8 * yLength && yStart < xStart + 8 * xLength;
}

function isShared(buffer: ArrayBufferLike): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && buffer instanceof SharedArrayBuffer;
}

/** `columns_in_place`: VALUES_WRITTEN, or the error answer written at `base` (as processInto returns it). */
function columnsInPlace(
  u8: Uint8Array,
  length: number,
  base: number,
  a: BigInt64Array,
  b: BigInt64Array,
  out: BigInt64Array,
  limits: Limits,
): number {
  if (u8.length - base < Layout.SMALL_RESPONSE_MAX) return needCapacity(Layout.SMALL_RESPONSE_MAX);
  if (length > limits.maxRequestBytes) return requestTooLong(u8, base, length, limits);
  const refused = columnChecks(u8, base, frame.operation, a.length, b.length, limits);
  if (refused >= 0) return refused;
  const failed = runColumnKernel(frame.operation, overflowMode(frame.overflow), a, b, out);
  if (failed >= 0) return columnFailed(u8, base, columnFailure, failed);
  return VALUES_WRITTEN;
}
