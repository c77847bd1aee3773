// Column requests in a buffer laid out as the shared buffer (control words, the request at
// REQUEST_OFFSET, the response after it): its size, writing a request for a range of the columns,
// reading the answer; and the chunks of CHUNK_LENGTH elements that long batches and batchAsync run as.
import {
  COLUMNS_A_OFFSET,
  Layout,
  OVERFLOW_FIELD_MAX,
  columnsBOffset,
  columnsRequestLength,
  decodeBatchResult,
  encodeColumnsFrame,
  writeOverflow,
} from './codec.js';
import { type BatchInput, copyColumn } from './validate.js';
import { CalculatorError } from './errors.js';

/**
 * Elements per request of batchAsync and of long batches into new arrays: copying one in (4 MiB)
 * takes well under a millisecond once warm, and its request and response (6 MiB) stay in cache.
 */
export const CHUNK_LENGTH = 1 << 18;

export function align8(n: number): number {
  return (n + 7) & ~7;
}

/** Bytes a buffer laid out as the shared buffer needs for a column request of `n` and its response. */
export function columnsBufferSize(n: number): number {
  // Request (with room for its overflow field), then the response: header (≤ 32 bytes with
  // alignment) and n values.
  return (
    align8(Layout.REQUEST_OFFSET + columnsRequestLength(n) + OVERFLOW_FIELD_MAX) +
    Math.max(Layout.SMALL_RESPONSE_MAX, 32 + 8 * n)
  );
}

/** What a column request asks: the operation and the overflow mode (wire values). */
export interface ColumnsAsk {
  opValue: number;
  overflow: number;
}

/**
 * Writes the frame of a column batch of `count` elements (its lists left for the caller) and the
 * overflow field after it into a buffer laid out as the shared buffer; returns the request's length.
 */
export function writeColumnsFrame(u8: Uint8Array, ask: ColumnsAsk, count: number): number {
  const length = encodeColumnsFrame(u8, ask.opValue, count);
  return length + writeOverflow(u8, Layout.REQUEST_OFFSET + length, ask.overflow);
}

/**
 * Writes the column request for elements `[from, from + count)` of `a` and `b` into a buffer laid
 * out as the shared buffer (`i64` and `i32` view `u8`'s memory); returns the request's length.
 */
export function writeColumnsRequest(
  u8: Uint8Array,
  i64: BigInt64Array,
  i32: Int32Array,
  ask: ColumnsAsk,
  a: BatchInput,
  b: BatchInput,
  from: number,
  count: number,
): number {
  const length = writeColumnsFrame(u8, ask, count);
  copyColumn(a, from, count, i64, i32, COLUMNS_A_OFFSET / 8, 'a');
  copyColumn(b, from, count, i64, i32, columnsBOffset(count) / 8, 'b');
  return length;
}

/**
 * Where the values of the batch result answered to a chunk's request start (`decodeBatchResult`,
 * over the response the control words `u32` give in `u8`), or its error, with the index of a
 * failing element counted from the start of the whole batch (`from` is the chunk's).
 */
export function chunkValuesAt(u8: Uint8Array, u32: Uint32Array, from: number, count: number): number {
  if (u32[Layout.RESPONSE_LENGTH_WORD] === Layout.NEED_CAPACITY)
    throw new CalculatorError('INTERNAL', 'nanocalc: the engine asked for more room');
  const start = u32[Layout.RESPONSE_START_WORD]!;
  try {
    return decodeBatchResult(u8, start, start + u32[Layout.RESPONSE_LENGTH_WORD]!, count);
  } catch (error) {
    if (error instanceof CalculatorError && error.index !== undefined && from > 0) {
      const index = from + error.index;
      const what = error.code === 'OVERFLOW' ? 'integer overflow' : 'division by zero';
      throw new CalculatorError(error.code, `${what} at index ${index}`, index);
    }
    throw error;
  }
}

/** A chunk of batchAsync on the pool: elements `[from, from + count)`, settled by `done`. */
export interface RunningChunk {
  chunk: ChunkBuffer;
  from: number;
  count: number;
  done: Promise<void>;
}

/**
 * One chunk's request and room for its response, laid out as the shared buffer is (control words,
 * the request at REQUEST_OFFSET, the response after it): a private buffer of batchAsync, or the
 * shared buffer itself for a long synchronous batch.
 */
export class ChunkBuffer {
  readonly u8: Uint8Array;
  readonly #i64: BigInt64Array;
  readonly #i32: Int32Array;
  readonly #u32: Uint32Array;

  /** A private buffer for chunks of up to `capacity` elements. */
  static forLength(capacity: number): ChunkBuffer {
    return new ChunkBuffer(new ArrayBuffer(columnsBufferSize(capacity)), capacity);
  }

  /** The most elements of a chunk written here (0 when not known: the shared buffer). */
  readonly capacity: number;

  constructor(buffer: ArrayBufferLike, capacity = 0) {
    this.capacity = capacity;
    this.u8 = new Uint8Array(buffer);
    this.#i64 = new BigInt64Array(buffer);
    this.#i32 = new Int32Array(buffer);
    this.#u32 = new Uint32Array(buffer);
  }

  /** Writes the column request for elements `[from, from + count)` of `a` and `b`. */
  write(ask: ColumnsAsk, a: BatchInput, b: BatchInput, from: number, count: number): void {
    this.#u32[Layout.REQUEST_LENGTH_WORD] = writeColumnsRequest(this.u8, this.#i64, this.#i32, ask, a, b, from, count);
  }

  /**
   * Copies the answer to the request written for `[from, from + count)` into `result` at `from`,
   * or throws its error, with the index of a failing element counted from the start of the batch.
   */
  read(from: number, count: number, result: BigInt64Array): void {
    const at = chunkValuesAt(this.u8, this.#u32, from, count) / 8;
    result.set(this.#i64.subarray(at, at + count), from);
  }
}
