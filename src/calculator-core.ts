// The Calculator's body on any JavaScript runtime: the public API, each call through the buffer it
// shares with the engine. No `node:` import here or below: the engine is opened by the host the
// entry passes in (./calculator.ts on Node, Bun and Deno; ./browser.ts in a browser). Column
// requests and the chunks of long batches are in ./chunks.ts, result arrays in ./result-arrays.ts.
import {
  EXPRESSION_HEADER_MAX,
  Layout,
  OVERFLOW_FIELD_MAX,
  type Operation,
  columnsRequestLength,
  decodeBatchResult,
  decodeBigintResultFast,
  decodeNumberResultFast,
  encodeErrorResponse,
  encodeExpressionHeader,
  encodeExpressionInPlace,
  writeOverflow,
} from './codec.js';
import { type BinaryOperation, installBinaryOperations } from './binary-operations.js';
import {
  type BatchInput,
  type OverflowMode,
  OPERATION_FIELD,
  canFail,
  checkBatchShape,
  checkOperation,
  describe,
  hasZero,
  integerOption,
  I64_MAX,
  I64_MIN,
  i64OperandError,
  i64View,
  isBigInt64Array,
  isUint8Array,
  operandTypeError,
  overflowOption,
  typedArrayLength,
  unsafeOperandError,
} from './validate.js';
import {
  CalculatorRequestKey,
  ErrorCode,
  Overflow as WireOverflow,
  encodeCalculatorRequestBinaryOpBigints,
  encodeCalculatorRequestBinaryOpNumbers,
} from './gen/nanocalc/v1/calculator_codec.js';
import { CalculatorError } from './errors.js';
import {
  CHUNK_LENGTH,
  ChunkBuffer,
  type RunningChunk,
  align8,
  chunkValuesAt,
  type ColumnsAsk,
  columnsBufferSize,
  writeColumnsFrame,
  writeColumnsRequest,
} from './chunks.js';
import { ON_HEAP_RESULT_MAX, copyOf, newResultArray } from './result-arrays.js';
import type { Engine, EngineKind, EngineLimits, RuntimeOption } from './runtime/engine.js';

export type { Operation } from './codec.js';
export type { EngineKind, RuntimeOption } from './runtime/engine.js';

export type { BatchInput, OverflowMode } from './validate.js';

export interface BatchOptions {
  /** Writes the results into this array (of the batch's length) rather than a new one. */
  out?: BigInt64Array | undefined;
  /** This batch's overflow mode (default: the calculator's). */
  overflow?: OverflowMode | undefined;
}

export interface BatchAsyncOptions {
  /** Cancels the batch between chunks: the promise rejects with `signal.reason` (an `AbortError`). */
  signal?: AbortSignal | undefined;
  /** This batch's overflow mode (default: the calculator's). */
  overflow?: OverflowMode | undefined;
}

export interface EvaluateOptions {
  /** The overflow mode of every step (default: the calculator's). */
  overflow?: OverflowMode | undefined;
}

export interface CalculatorOptions {
  /** Largest request accepted, in bytes (default 64 MiB). */
  maxRequestBytes?: number | undefined;
  /** Most operations in one batch (default 8,000,000). */
  maxBatchLength?: number | undefined;
  /**
   * Most threads one batch may run on (default: every core, `os.availableParallelism()`; 1 keeps
   * each batch on one thread). A batch splits only when each thread's share of it costs ten times
   * the hand-off to a pool thread (both measured once per process by the engine, per operation).
   */
  maxThreads?: number | undefined;
  /**
   * How to reach the engine: `'auto'` (the default) takes the runtime's fastest path (bun:ffi on
   * Bun, Deno.dlopen on Deno, the Node-API addon on Node; the engine in TypeScript where no binary
   * fits the machine); `'node-api'` forces the Node-API addon (an error naming the platform and the
   * paths tried when it is missing); `'js'` takes the TypeScript engine (same answers, no binary).
   */
  runtime?: RuntimeOption | undefined;
  /**
   * What an operation does when its exact result does not fit in 64 bits: `'saturate'` (the
   * default) clamps it to the i64 range, `'wrap'` wraps around as two's complement (as Java's
   * `long` and Rust's `wrapping_*` do), `'throw'` throws a `CalculatorError` of code `OVERFLOW`
   * (whose `index` is the element of a batch or the operator in an expression). Batches and
   * `evaluate()` take it per call too.
   */
  overflow?: OverflowMode | undefined;
}

export const DEFAULT_MAX_REQUEST_BYTES = 64 * 1024 * 1024;
export const DEFAULT_MAX_BATCH_LENGTH = 8_000_000;
// The native call passes the request length as a u32; keep every buffer well inside that.
const MAX_REQUEST_BYTES_LIMIT = 2 ** 31 - 1;
const MAX_BATCH_LENGTH_LIMIT = 2 ** 27;
const MAX_THREADS_LIMIT = 1024;

const INITIAL_CAPACITY = 64 * 1024;

const OPEN = 0;
const CLOSED = 1;
const BUSY = 2;

const utf8 = new TextEncoder();

/** batch()'s fourth argument when it is not an array: `{ out, overflow }`, read once each. */
function batchOptions(options: unknown): BatchOptions {
  // Options are a plain object: another typed array, one disguised as a BigInt64Array, or a proxy
  // of one (its prototype is the typed array's) is a wrong `out`.
  const proto = typeof options === 'object' && options !== null ? Object.getPrototypeOf(options) : undefined;
  if (proto !== Object.prototype && proto !== null) {
    throw new TypeError(`nanocalc: out must be a BigInt64Array or { out, overflow }, got ${describe(options)}`);
  }
  const { out, overflow } = options as BatchOptions;
  return { out, overflow };
}

/** What an entry gives the Calculator: how to open the engine, and the default of `maxThreads`. */
export interface EngineHost {
  /** Opens an engine over the shared buffer `u8` with these limits (already checked). */
  open(u8: Uint8Array, limits: EngineLimits, runtime: RuntimeOption): Engine;
  /** The default of `maxThreads` (every core). */
  defaultThreads(): number;
}

/**
 * The Calculator of every entry (each subclasses it only to pass its EngineHost): a 64-bit
 * integer calculator whose engine runs in this process. Each call crosses to the engine as
 * protobuf bytes (`nanocalc.v1.CalculatorRequest`) written into a buffer both sides share.
 * Not for sharing between threads: each worker creates its own.
 */
export class CalculatorCore {
  /** Runs the request in the shared buffer (`#engine.call`, kept here so the hot path calls it directly). */
  #run: () => void;
  /** Runs a column batch over the caller's arrays (`#engine.columns`). */
  #runColumns: Engine['columns'];
  /** The engine on this runtime: attach a grown buffer, close. */
  #engine: Engine;
  /** OPEN, or CLOSED, or BUSY while a batch reads its input arrays (which may run user code). */
  #state = OPEN;
  #u8: Uint8Array;
  #i64: BigInt64Array;
  #i32: Int32Array;
  #u32: Uint32Array;
  readonly #maxRequestBytes: number;
  readonly #maxBatchLength: number;
  /** Elements per request of a long batch: CHUNK_LENGTH, or fewer if maxRequestBytes is smaller. */
  readonly #chunkLength: number;
  /** The `overflow` option as the schema's value (0, saturate, is left off the wire). */
  readonly #overflow: number;
  /** Bytes the overflow field adds after a single operation's request: 0 for saturate, else 2. */
  readonly #overflowLength: number;
  /**
   * batchAsync's two chunk buffers, kept once a batchAsync has ended for the next one: new ones
   * cost their first touch (page faults, ~5 ms for 2 × 6 MiB here: more than a whole batch of
   * 2,000,000 through batch()). Taken by one batchAsync at a time; one that fails drops its own.
   */
  #chunkBuffers: ChunkBuffer[] | undefined;

  constructor(options: CalculatorOptions, host: EngineHost) {
    if (typeof options !== 'object' || options === null) {
      throw new TypeError('nanocalc: options must be an object');
    }
    this.#maxRequestBytes = integerOption(
      options.maxRequestBytes,
      DEFAULT_MAX_REQUEST_BYTES,
      'maxRequestBytes',
      1,
      MAX_REQUEST_BYTES_LIMIT,
    );
    this.#maxBatchLength = integerOption(
      options.maxBatchLength,
      DEFAULT_MAX_BATCH_LENGTH,
      'maxBatchLength',
      1,
      MAX_BATCH_LENGTH_LIMIT,
    );
    // maxRequestBytes bounds each request that crosses (a long batch crosses as several), not the
    // columns the caller already holds: the largest request of a chunk must fit it.
    this.#chunkLength = Math.min(
      CHUNK_LENGTH,
      Math.max(0, Math.floor((this.#maxRequestBytes - columnsRequestLength(0) - OVERFLOW_FIELD_MAX) / 16)),
    );
    this.#overflow = overflowOption(options.overflow, 0, 'overflow');
    this.#overflowLength = this.#overflow === 0 ? 0 : OVERFLOW_FIELD_MAX;
    const maxThreads = integerOption(options.maxThreads, host.defaultThreads(), 'maxThreads', 1, MAX_THREADS_LIMIT);
    const runtime = options.runtime === undefined ? 'auto' : options.runtime;
    if (runtime !== 'auto' && runtime !== 'node-api' && runtime !== 'js') {
      throw new RangeError(
        `nanocalc: runtime must be 'auto', 'node-api' or 'js', got ${JSON.stringify(String(runtime))}`,
      );
    }
    const buffer = new ArrayBuffer(INITIAL_CAPACITY);
    this.#u8 = new Uint8Array(buffer);
    this.#i64 = new BigInt64Array(buffer);
    this.#i32 = new Int32Array(buffer);
    this.#u32 = new Uint32Array(buffer);
    const limits = { maxRequestBytes: this.#maxRequestBytes, maxBatchLength: this.#maxBatchLength, maxThreads };
    this.#engine = host.open(this.#u8, limits, runtime);
    this.#run = this.#engine.call;
    this.#runColumns = this.#engine.columns;
  }

  /** How this calculator reaches the engine: `'node-api'`, `'bun-ffi'`, `'deno-ffi'` or `'js'`. */
  get runtime(): EngineKind {
    return this.#engine.kind;
  }

  /** The overflow mode of this calculator's operations (the `overflow` option). */
  get overflow(): OverflowMode {
    return this.#overflow === 0 ? 'saturate' : this.#overflow === 2 ? 'wrap' : 'throw';
  }

  /** `a + b`; a sum beyond the i64 range saturates, wraps or throws OVERFLOW (the `overflow` option). */
  declare add: BinaryOperation;
  /** `a - b`; beyond the i64 range as the `overflow` option says (saturated by default). */
  declare subtract: BinaryOperation;
  /** `a * b`; beyond the i64 range as the `overflow` option says (saturated by default). */
  declare multiply: BinaryOperation;
  /**
   * `a / b` truncated toward zero; `MIN / -1` overflows (saturate: `MAX`, wrap: `MIN`); `b = 0`
   * throws DIVISION_BY_ZERO.
   */
  declare divide: BinaryOperation;
  /** `a % b` with the sign of `a` (`MIN % -1 = 0`); `b = 0` throws DIVISION_BY_ZERO. */
  declare remainder: BinaryOperation;

  static {
    installBinaryOperations(CalculatorCore.prototype, (operation) => {
      const field = OPERATION_FIELD[operation];
      return function (this: CalculatorCore, a: number | bigint, b: number | bigint): number | bigint {
        return typeof a === 'number' ? this.#binaryNumbers(field, a, b) : this.#binaryBigints(field, a, b);
      };
    });
  }

  /**
   * Applies `operation` element-wise to two columns of equal length and returns the results as a
   * new `BigInt64Array`, or writes them into `out` (a `BigInt64Array` of the same length) and
   * returns `out`. The first failing element fails the whole batch (`CalculatorError.index`).
   * A new array and its `buffer` are the caller's alone. `out` may share memory with `a` or `b`,
   * through any views: every input is read before a result is written over it. The fourth
   * argument may instead be `{ out, overflow }`, to set this batch's overflow mode.
   */
  batch(
    operation: Operation,
    a: BatchInput,
    b: BatchInput,
    outOrOptions?: BigInt64Array | BatchOptions,
  ): BigInt64Array {
    this.#checkOpen();
    const opValue = checkOperation(operation);
    let out: BigInt64Array | undefined;
    let overflow = this.#overflow;
    if (outOrOptions === undefined || isBigInt64Array(outOrOptions)) {
      out = outOrOptions;
    } else {
      const options = batchOptions(outOrOptions);
      out = options.out;
      overflow = overflowOption(options.overflow, overflow, 'options.overflow');
    }
    const ask: ColumnsAsk = { opValue, overflow };
    const n = checkBatchShape(a, b, out);
    // Reading a proxy's length runs the caller's code, which may have closed this calculator.
    if (this.#state !== OPEN) this.#checkOpen();
    this.#checkBatchLength(n);
    // Into `out`, an operation that can fail over typed arrays takes one request when it fits
    // (every input read before `out` is written, the threads split over the whole batch);
    // otherwise a long batch runs in chunks, below.
    if (
      n > this.#chunkLength &&
      !(
        out !== undefined &&
        canFail(opValue, overflow) &&
        isBigInt64Array(a) &&
        isBigInt64Array(b) &&
        columnsRequestLength(n) + OVERFLOW_FIELD_MAX <= this.#maxRequestBytes
      )
    ) {
      if (out === undefined) return this.#batchInChunks(ask, a, b, n, newResultArray(n));
      // Into a caller's `out` chunk by chunk only if no chunk can fail once an earlier one has
      // written `out`: typed arrays (whose elements are all valid), and an operation that never
      // fails or a divisor column with no zero (the only failure of divide and remainder without
      // 'throw'). Chunk
      // k's results must not overwrite a later chunk's inputs: an input that shares memory with
      // `out` (at any shift, through any view) is read whole first.
      if (
        isBigInt64Array(a) &&
        isBigInt64Array(b) &&
        (!canFail(opValue, overflow) || (overflow !== WireOverflow.ERROR && !hasZero(b)))
      ) {
        const apart = (column: BigInt64Array) => (this.#engine.sharesMemory(out, column) ? copyOf(column, n) : column);
        return this.#batchInChunks(ask, apart(a), apart(b), n, out);
      }
      // Otherwise (a batch that fails, or plain arrays, whose elements are checked as they are
      // read) into an array of its own, copied into `out` once every chunk has succeeded: a
      // failure leaves `out` untouched, as one request would.
      out.set(this.#batchInChunks(ask, a, b, n, newResultArray(n)));
      return out;
    }
    this.#reserve(columnsBufferSize(n));
    const runColumns = this.#runColumns;
    // The column call, unless the result would be a new array short enough for V8 to keep in its
    // heap object: handing that to native code makes V8 move it out first, which costs more than
    // the copies of the path below.
    const columnCall = out === undefined ? n > ON_HEAP_RESULT_MAX : n > 0 && isBigInt64Array(out);
    if (columnCall && isBigInt64Array(a) && isBigInt64Array(b)) {
      this.#u32[Layout.REQUEST_LENGTH_WORD] = writeColumnsFrame(this.#u8, ask, n);
      const result = out ?? newResultArray(n);
      if (!runColumns(a, b, result)) this.#throwColumnsError(0, n);
      return result;
    }
    let requestLength: number;
    // Reading a plain array can run user code (getters, proxies); a call from there would reuse
    // the buffer this request is being written into, so it is refused until the columns are in.
    this.#state = BUSY;
    try {
      requestLength = writeColumnsRequest(this.#u8, this.#i64, this.#i32, ask, a, b, 0, n);
    } finally {
      if (this.#state === BUSY) this.#state = OPEN;
    }
    this.#checkOpen();
    const [start, end] = this.#call(requestLength);
    const at = decodeBatchResult(this.#u8, start, end, n) / 8;
    const result = out ?? newResultArray(n);
    result.set(this.#i64.subarray(at, at + n));
    return result;
  }

  /**
   * A long batch as requests of `#chunkLength` (CHUNK_LENGTH) elements through the shared buffer,
   * results into `result`: each request fits maxRequestBytes, and the buffer stays small enough
   * for the CPU's last-level cache (6 MiB, against 24 bytes per element for one request), which
   * makes batches of millions faster. A failure in a later chunk leaves earlier results in
   * `result`, so this serves a caller's `out` only when no chunk can fail, and no input shares
   * memory with it (see batch()).
   */
  #batchInChunks(ask: ColumnsAsk, a: BatchInput, b: BatchInput, n: number, result: BigInt64Array): BigInt64Array {
    const chunkLength = this.#chunkLength;
    this.#reserve(columnsBufferSize(chunkLength));
    // Sized for every chunk, so the engine never asks for more room and the buffer stays this one.
    const runColumns = this.#runColumns;
    if (isBigInt64Array(a) && isBigInt64Array(b) && isBigInt64Array(result)) {
      // Typed arrays run no code of the caller's while they are read: no BUSY state needed.
      for (let from = 0; from < n; from += chunkLength) {
        const count = Math.min(chunkLength, n - from);
        this.#u32[Layout.REQUEST_LENGTH_WORD] = writeColumnsFrame(this.#u8, ask, count);
        const done = runColumns(i64View(a, from, count), i64View(b, from, count), i64View(result, from, count));
        if (!done) this.#throwColumnsError(from, count);
      }
      return result;
    }
    const chunk = new ChunkBuffer(this.#u8.buffer);
    // As in batch(): no call may come from a column's getter until the whole batch is done.
    this.#state = BUSY;
    try {
      for (let from = 0; from < n; from += chunkLength) {
        const count = Math.min(chunkLength, n - from);
        chunk.write(ask, a, b, from, count);
        if (this.#state !== BUSY) this.#checkOpen(); // closed from a getter
        this.#run();
        chunk.read(from, count, result);
      }
    } finally {
      if (this.#state === BUSY) this.#state = OPEN;
    }
    return result;
  }

  /**
   * `batch` off the JavaScript thread: the same results and the same errors (as rejections), from
   * the libuv thread pool, long batches on every core, while the event loop keeps turning.
   *
   * The columns are copied into requests of 262,144 elements, each copied while the one before
   * runs; the event loop turns between them. So a caller must not change the columns until the
   * promise settles (an element changed meanwhile is read before or after the change, unspecified;
   * a column detached or shrunk meanwhile fails the batch with a TypeError); they are never read
   * after it settles, and nothing a caller does to them can harm the process. `signal` cancels
   * between chunks: the promise rejects at once with `signal.reason` (by default a `DOMException`
   * named `AbortError`) and no further chunk starts. Closing the calculator meanwhile rejects with
   * `CLOSED`. On Bun, whose FFI has no thread-pool calls, the chunks run on the JavaScript thread,
   * one per event-loop turn.
   */
  batchAsync(
    operation: Operation,
    a: BatchInput,
    b: BatchInput,
    options: BatchAsyncOptions = {},
  ): Promise<BigInt64Array> {
    let signal: AbortSignal | undefined;
    let overflow = this.#overflow;
    let job: Promise<BigInt64Array>;
    try {
      this.#checkOpen();
      if (typeof options !== 'object' || options === null) throw new TypeError('nanocalc: options must be an object');
      signal = options.signal;
      if (signal !== undefined && !(signal instanceof AbortSignal)) {
        throw new TypeError(`nanocalc: options.signal must be an AbortSignal, got ${describe(signal)}`);
      }
      overflow = overflowOption(options.overflow, overflow, 'options.overflow');
      signal?.throwIfAborted();
      const opValue = checkOperation(operation);
      const n = checkBatchShape(a, b, undefined);
      this.#checkBatchLength(n);
      job = this.#batchOnPool({ opValue, overflow }, a, b, n, signal);
    } catch (error) {
      return Promise.reject(error);
    }
    if (signal === undefined) return job;
    const cancellable = signal;
    return new Promise((resolve, reject) => {
      const onAbort = () => reject(cancellable.reason);
      cancellable.addEventListener('abort', onAbort, { once: true });
      job.then(resolve, reject).finally(() => cancellable.removeEventListener('abort', onAbort));
    });
  }

  /** batchAsync's pipeline: chunk k + 1 is copied in while chunk k runs on the pool. */
  async #batchOnPool(
    ask: ColumnsAsk,
    a: BatchInput,
    b: BatchInput,
    n: number,
    signal: AbortSignal | undefined,
  ): Promise<BigInt64Array> {
    const result = newResultArray(n);
    const chunkLength = Math.min(n, this.#chunkLength);
    let chunks = this.#chunkBuffers;
    if (chunks !== undefined && chunks[0]!.capacity >= chunkLength) this.#chunkBuffers = undefined;
    else chunks = [ChunkBuffer.forLength(chunkLength), ChunkBuffer.forLength(chunkLength)];
    let running: RunningChunk | undefined;
    // One request even for an empty batch, so that it is answered (and checked) as batch's is.
    for (let from = 0, k = 0; ; k++) {
      let next: RunningChunk | undefined;
      if (from < n || k === 0) {
        if (this.#state === CLOSED) this.#checkOpen();
        signal?.throwIfAborted();
        const count = Math.min(chunkLength, n - from);
        const chunk = chunks[k & 1]!;
        chunk.write(ask, a, b, from, count);
        // An element's getter may have closed this calculator.
        if (this.#state === CLOSED) this.#checkOpen();
        next = { chunk, from, count, done: this.#engine.runAsync(chunk.u8) };
        // Its rejection is taken below, in order; until then this keeps it from counting as unhandled.
        next.done.catch(() => {});
        from += count;
      }
      if (running !== undefined) {
        await running.done;
        // close() meanwhile rejects the batch, however far it got.
        if (this.#state === CLOSED) this.#checkOpen();
        running.chunk.read(running.from, running.count, result);
      }
      if (next === undefined) {
        // Every chunk has settled: the buffers are free for the next batchAsync (the larger pair kept).
        const kept = this.#chunkBuffers;
        if (this.#state !== CLOSED && (kept === undefined || kept[0]!.capacity < chunks[0]!.capacity)) {
          this.#chunkBuffers = chunks;
        }
        return result;
      }
      running = next;
    }
  }

  /**
   * Evaluates an expression of many steps in one call to the engine: integers, `+ - * / %`,
   * unary minus and parentheses, with the usual precedence (`*`, `/`, `%` before `+`, `-`; each
   * left-associative) and every step with the arithmetic of the five operations and the overflow
   * mode (`options.overflow`, by default the calculator's). `calc.evaluate('2 * (3 + -4) % 5')`
   * is `-2n`. Failures throw `CalculatorError` with `index` the offset in `text` of the character
   * at fault: `SYNTAX_ERROR` (a literal above 2^63 - 1 included, but `-9223372036854775808` is
   * allowed), `DIVISION_BY_ZERO` (the `/` or `%`), `OVERFLOW` (with `'throw'`: the operator, a
   * unary minus included), `LIMIT_EXCEEDED` (more than 64 KiB of UTF-8, or parentheses nested
   * deeper than 256).
   */
  evaluate(text: string, options?: EvaluateOptions): bigint {
    if (this.#state !== OPEN) this.#checkOpen();
    if (typeof text !== 'string') throw new TypeError(`nanocalc: evaluate() takes a string, got ${describe(text)}`);
    let overflow = this.#overflow;
    if (options !== undefined) {
      if (typeof options !== 'object' || options === null) throw new TypeError('nanocalc: options must be an object');
      overflow = overflowOption(options.overflow, overflow, 'options.overflow');
      // The option's getter may have closed this calculator.
      if (this.#state !== OPEN) this.#checkOpen();
    }
    const n = text.length;
    // A UTF-8 text is at least as long in bytes as in UTF-16 units and at most three times.
    if (n > this.#maxRequestBytes) {
      throw new CalculatorError(
        'LIMIT_EXCEEDED',
        `nanocalc: an expression of ${n} characters exceeds maxRequestBytes (${this.#maxRequestBytes} bytes)`,
        0,
      );
    }
    this.#reserve(
      align8(Layout.REQUEST_OFFSET + EXPRESSION_HEADER_MAX + 3 * n + OVERFLOW_FIELD_MAX) + Layout.SMALL_RESPONSE_MAX,
    );
    const u8 = this.#u8;
    let length = 0;
    // Short ASCII texts (the grammar's alphabet) are copied as they are, after a header written for
    // their length; longer or other texts are encoded by TextEncoder, then the header put in front.
    let i = 0;
    if (n <= 64) {
      const at = encodeExpressionHeader(u8, n);
      for (; i < n; i++) {
        const c = text.charCodeAt(i);
        if (c >= 0x80) break;
        u8[at + i] = c;
      }
      length = at + n - Layout.REQUEST_OFFSET;
    }
    if (i < n) {
      const { written } = utf8.encodeInto(text, u8.subarray(Layout.REQUEST_OFFSET + EXPRESSION_HEADER_MAX));
      length = encodeExpressionInPlace(u8, written);
    }
    length += writeOverflow(u8, Layout.REQUEST_OFFSET + length, overflow);
    // The buffer holds the request and SMALL_RESPONSE_MAX more: the engine never asks for room.
    const u32 = this.#u32;
    u32[Layout.REQUEST_LENGTH_WORD] = length;
    this.#run();
    const start = u32[Layout.RESPONSE_START_WORD]!;
    return decodeBigintResultFast(u8, start, start + u32[Layout.RESPONSE_LENGTH_WORD]!, true);
  }

  /**
   * Answers an encoded `nanocalc.v1.CalculatorRequest` with an encoded `CalculatorResponse`.
   * Failures of any kind, malformed bytes included, are answered inside the response; only a
   * non-`Uint8Array` argument or a closed calculator throws.
   */
  process(request: Uint8Array): Uint8Array {
    this.#checkOpen();
    // Checked by its internal tag: `instanceof` could run a caller's prototype trap.
    if (!isUint8Array(request)) throw new TypeError('nanocalc: process() takes a Uint8Array');
    const length = typedArrayLength.call(request); // its own length, whatever a subclass says
    if (length > this.#maxRequestBytes) {
      // Answered here so an oversized request is never copied.
      return encodeErrorResponse(
        ErrorCode.LIMIT_EXCEEDED,
        `request of ${length} bytes exceeds the limit of ${this.#maxRequestBytes} bytes (maxRequestBytes)`,
      );
    }
    this.#reserve(align8(Layout.REQUEST_OFFSET + length) + Layout.SMALL_RESPONSE_MAX);
    this.#u8.set(request, Layout.REQUEST_OFFSET);
    const [start, end] = this.#call(length);
    return this.#u8.slice(start, end);
  }

  /** `close()`, for `using calc = new ...()`: closed when the block that declared it ends. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Releases the native engine. Later calls throw CLOSED; closing again does nothing. */
  close(): void {
    if (this.#state === CLOSED) return;
    this.#state = CLOSED;
    this.#engine.close();
    this.#chunkBuffers = undefined;
    // Drop the views so the buffer can be collected.
    this.#u8 = new Uint8Array(0);
    this.#i64 = new BigInt64Array(0);
    this.#i32 = new Int32Array(0);
    this.#u32 = new Uint32Array(0);
  }

  /** The limits a batch of `n` is held to before anything is copied (LIMIT_EXCEEDED). */
  #checkBatchLength(n: number): void {
    if (n > this.#maxBatchLength) {
      throw new CalculatorError(
        'LIMIT_EXCEEDED',
        `nanocalc: batch of ${n} operations exceeds maxBatchLength (${this.#maxBatchLength})`,
      );
    }
    if (n > 0 && this.#chunkLength === 0) {
      throw new CalculatorError(
        'LIMIT_EXCEEDED',
        `nanocalc: a request of one batch element (${columnsRequestLength(1)} bytes) exceeds maxRequestBytes (${this.#maxRequestBytes})`,
      );
    }
  }

  /**
   * Throws the error answered to the column batch of `count` elements in the shared buffer, with
   * its index counted from `from` (the request's first element in the whole batch).
   */
  #throwColumnsError(from: number, count: number): never {
    chunkValuesAt(this.#u8, this.#u32, from, count);
    throw new CalculatorError('INTERNAL', 'nanocalc: a batch result was not copied out');
  }

  #checkOpen(): void {
    if (this.#state === CLOSED) throw new CalculatorError('CLOSED', 'nanocalc: this Calculator is closed');
    if (this.#state === BUSY) {
      throw new Error('nanocalc: a Calculator cannot be called while a batch is reading its input (reentrant call)');
    }
  }

  // One method per operand kind, called straight from each operation: each then has V8's whole
  // inlining budget (920 bytes of bytecode) for its encoder and decoder (together they exceeded
  // it: ~10 ns more per call). Without a dispatching method between them, the chain of `add` with
  // numbers (~750 bytes) is also inlined into a caller's loop every time: with one, that happened
  // in some processes only (41.5 or 47 ns per call).
  #binaryNumbers(field: number, a: number, b: unknown): number {
    if (this.#state !== OPEN) this.#checkOpen();
    if (typeof b !== 'number') throw operandTypeError(a, b);
    if (!Number.isSafeInteger(a) || !Number.isSafeInteger(b)) throw unsafeOperandError(a, b);
    const u8 = this.#u8;
    const start = this.#runSingle(encodeCalculatorRequestBinaryOpNumbers(u8, Layout.REQUEST_OFFSET, field, a, b));
    return decodeNumberResultFast(u8, start, start + this.#u32[Layout.RESPONSE_LENGTH_WORD]!);
  }

  #binaryBigints(field: number, a: unknown, b: unknown): bigint {
    if (this.#state !== OPEN) this.#checkOpen();
    if (typeof a !== 'bigint' || typeof b !== 'bigint') throw operandTypeError(a, b);
    if (a < I64_MIN || a > I64_MAX || b < I64_MIN || b > I64_MAX) throw i64OperandError(a, b);
    const u8 = this.#u8;
    const start = this.#runSingle(encodeCalculatorRequestBinaryOpBigints(u8, Layout.REQUEST_OFFSET, field, a, b));
    return decodeBigintResultFast(u8, start, start + this.#u32[Layout.RESPONSE_LENGTH_WORD]!);
  }

  /**
   * Runs the single operation whose request ends at `end`, after writing its overflow field (whatever
   * the mode, counted only when not the default: no branch); returns where the response starts.
   */
  #runSingle(end: number): number {
    const u32 = this.#u32;
    this.#u8[end] = CalculatorRequestKey.overflow;
    this.#u8[end + 1] = this.#overflow;
    u32[Layout.REQUEST_LENGTH_WORD] = end + this.#overflowLength - Layout.REQUEST_OFFSET;
    this.#run();
    return u32[Layout.RESPONSE_START_WORD]!;
  }

  /**
   * Runs the request in `[0, length)` and returns the response's `[start, end)`, growing the
   * buffer and retrying once if the engine asks for more room.
   */
  #call(length: number): [number, number] {
    this.#u32[Layout.REQUEST_LENGTH_WORD] = length;
    this.#run();
    if (this.#u32[Layout.RESPONSE_LENGTH_WORD] === Layout.NEED_CAPACITY) {
      this.#reserve(this.#u32[Layout.RESPONSE_START_WORD]!, Layout.REQUEST_OFFSET + length);
      this.#run();
      if (this.#u32[Layout.RESPONSE_LENGTH_WORD] === Layout.NEED_CAPACITY) {
        throw new CalculatorError('INTERNAL', 'nanocalc: the engine asked twice for more room');
      }
    }
    const start = this.#u32[Layout.RESPONSE_START_WORD]!;
    return [start, start + this.#u32[Layout.RESPONSE_LENGTH_WORD]!];
  }

  /** Ensures the shared buffer holds `capacity` bytes, keeping its first `keep` bytes. */
  #reserve(capacity: number, keep = 0): void {
    if (capacity <= this.#u8.length) return;
    const buffer = new ArrayBuffer(align8(Math.max(capacity, this.#u8.length * 2)));
    const u8 = new Uint8Array(buffer);
    if (keep > 0) u8.set(this.#u8.subarray(0, keep));
    this.#engine.attach(u8);
    this.#u8 = u8;
    this.#i64 = new BigInt64Array(buffer);
    this.#i32 = new Int32Array(buffer);
    this.#u32 = new Uint32Array(buffer);
  }
}
