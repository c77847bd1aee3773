// The transport-independent part of RemoteCalculator: argument checks, encoding and decoding
// (./wire.ts), the deadline, cancellation, round-robin over the replicas with retries (of the
// failures endpoints.ts's isRetryable names), and long batches as column requests in parallel. Each RemoteCalculator (Node's over
// @grpc/grpc-js in ./calculator.ts, the browser's over gRPC-Web with fetch in ./web.ts) gives it a
// Transport: how one unary Calculate call reaches one replica. No transport is imported here.
import { RemoteBinaryOperations } from '../binary-operations.js';
import { CalculatorError } from '../errors.js';
import {
  type Operation,
  type OverflowMode,
  OPERATION_FIELD,
  checkBatchShape,
  checkOperands,
  checkOperation,
  integerOption,
  isBigInt64Array,
  overflowOption,
} from '../validate.js';
import {
  MalformedResponse,
  decodeBatchInto,
  decodeValue,
  encodeBinary,
  encodeColumns,
  encodeExpression,
} from './wire.js';
import { RemoteError } from './errors.js';
import { type Endpoint, RoundRobin, Status, cancelled, isRetryable, malformed, sleep } from './endpoints.js';
import { type BatchInput, asColumn, toNumber } from './values.js';

/** The options every RemoteCalculator takes, whatever its transport. */
export interface RemoteOptions {
  /** Bearer token sent with every call (the server's NANOCALC_TOKEN). */
  token?: string | undefined;
  /** Default deadline of each call, retries included, in ms (default 30,000; 0 for none). */
  timeoutMs?: number | undefined;
  /**
   * Attempts per call, over the replicas (default: twice the endpoints, at least 5), backing off
   * 0.1, 0.2, 0.4 s... after each round of them.
   */
  maxAttempts?: number | undefined;
  /** Batches longer than this are sent as several column requests, in parallel (default 262,144). */
  batchChunkLength?: number | undefined;
  /** Column requests of one batch in flight at once (default: twice the endpoints). */
  batchParallelism?: number | undefined;
  /** What an operation does beyond the i64 range, as the in-process `Calculator`'s option (default `'saturate'`). */
  overflow?: OverflowMode | undefined;
}

/** @internal How one unary Calculate call reaches one replica. */
export interface Transport<C> {
  /** A client of the replica at `address`. */
  open(address: string): C;
  /**
   * Sends the encoded request and resolves to the encoded response; rejects with a RemoteError
   * (CANCELLED with the signal's reason as `cause` when `signal` aborts it).
   */
  calculate(
    endpoint: Endpoint<C>,
    request: Uint8Array,
    token: string | undefined,
    deadline: number,
    signal: AbortSignal | undefined,
  ): Promise<Uint8Array>;
  close(client: C): void;
}

/** Per-call options, the last argument of every method. */
export interface CallOptions {
  /** Cancels the call: it rejects with a RemoteError CANCELLED whose `cause` is the signal's reason. */
  signal?: AbortSignal | undefined;
  /** Deadline for this call in ms, retries included (overrides the calculator's `timeoutMs`). */
  timeoutMs?: number | undefined;
  /** This call's overflow mode (overrides the calculator's `overflow`; a stream's applies to its calls). */
  overflow?: OverflowMode | undefined;
}

/** `batch()`'s fourth argument when it is not an array: `out` and the call's options together. */
export interface RemoteBatchOptions extends CallOptions {
  out?: BigInt64Array | undefined;
}

export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_BATCH_CHUNK_LENGTH = 262_144;

/** A response decoded, or the error it carries, with the endpoint that answered. */
type Decoded<T> = (bytes: Uint8Array) => T;

/**
 * The methods every RemoteCalculator has, whatever its transport: the in-process `Calculator`'s,
 * each returning a Promise and taking optional {@link CallOptions} last. Domain failures reject
 * with the same `CalculatorError`s; transport failures with a {@link RemoteError}.
 */
export abstract class RemoteCalculatorCore<C> extends RemoteBinaryOperations<CallOptions> {
  /** @internal */
  protected readonly endpointsRoundRobin: RoundRobin<C>;
  /** @internal */
  protected readonly token: string | undefined;
  /** @internal */
  protected readonly maxAttempts: number;
  readonly #transport: Transport<C>;
  readonly #timeoutMs: number;
  readonly #chunkLength: number;
  readonly #parallelism: number;
  /** The `overflow` option as the schema's value (0, saturate, is left off the wire). */
  readonly #overflow: number;
  #closed = false;

  /** @internal `endpoints` checked and opened with `transport`. */
  constructor(endpoints: string | readonly string[], options: RemoteOptions, transport: Transport<C>) {
    super();
    const list = typeof endpoints === 'string' ? [endpoints] : [...endpoints];
    if (list.length === 0 || !list.every((e) => typeof e === 'string' && e.length > 0)) {
      throw new TypeError('nanocalc: endpoints must be one or more "host:port" strings');
    }
    if (typeof options !== 'object' || options === null) throw new TypeError('nanocalc: options must be an object');
    this.token = options.token;
    this.#timeoutMs = integerOption(options.timeoutMs, DEFAULT_TIMEOUT_MS, 'timeoutMs', 0);
    this.maxAttempts = integerOption(options.maxAttempts, Math.max(5, 2 * list.length), 'maxAttempts', 1);
    this.#chunkLength = integerOption(options.batchChunkLength, DEFAULT_BATCH_CHUNK_LENGTH, 'batchChunkLength', 1);
    this.#parallelism = integerOption(options.batchParallelism, 2 * list.length, 'batchParallelism', 1);
    this.#overflow = overflowOption(options.overflow, 0, 'overflow');
    this.#transport = transport;
    this.endpointsRoundRobin = new RoundRobin(list, (address) => transport.open(address));
  }

  /**
   * Applies `operation` element-wise to two columns of equal length, as column batches (several,
   * in parallel over the replicas, for long ones). Resolves to a new `BigInt64Array`, or to `out`
   * with the results written into it. The first failing element fails the whole batch
   * (`CalculatorError.index`); `out` is then left unchanged.
   */
  async batch(
    operation: Operation,
    a: BatchInput,
    b: BatchInput,
    outOrOptions?: BigInt64Array | RemoteBatchOptions,
    callOptions?: CallOptions,
  ): Promise<BigInt64Array> {
    this.checkOpen();
    const op = checkOperation(operation);
    let out: BigInt64Array | undefined;
    let options = callOptions;
    if (outOrOptions === undefined || isBigInt64Array(outOrOptions)) {
      out = outOrOptions;
    } else {
      if (typeof outOrOptions !== 'object' || outOrOptions === null || Array.isArray(outOrOptions)) {
        throw new TypeError('nanocalc: out must be a BigInt64Array or { out, overflow, ... }');
      }
      out = outOrOptions.out;
      options = { ...outOrOptions, ...callOptions };
    }
    const overflow = this.overflowOf(options);
    const n = checkBatchShape(a, b, out);
    const columnA = asColumn(a, n, 'a');
    const columnB = asColumn(b, n, 'b');
    const results = new BigInt64Array(n);
    const starts: number[] = [];
    for (let start = 0; start < n || (n === 0 && start === 0); start += this.#chunkLength) starts.push(start);

    // Chunks run in parallel. Domain errors are collected so that the lowest failing index wins,
    // as in one request.
    const inner = new AbortController();
    const onAbort = () => inner.abort(options?.signal?.reason);
    options?.signal?.addEventListener('abort', onAbort, { once: true });
    if (options?.signal?.aborted) onAbort();
    const chunkOptions: CallOptions = { signal: inner.signal };
    if (options?.timeoutMs !== undefined) chunkOptions.timeoutMs = options.timeoutMs;
    const domainErrors: { start: number; error: CalculatorError }[] = [];
    let failure: { error: unknown } | undefined;
    let next = 0;
    const worker = async () => {
      while (next < starts.length && failure === undefined) {
        const start = starts[next++]!;
        const end = Math.min(n, start + this.#chunkLength);
        const request = encodeColumns(op, columnA.subarray(start, end), columnB.subarray(start, end), overflow);
        try {
          await this.#call(request, chunkOptions, (bytes) => decodeBatchInto(bytes, results, start, end - start));
        } catch (error) {
          if (error instanceof CalculatorError) {
            domainErrors.push({ start, error });
          } else if (failure === undefined) {
            failure = { error }; // the first failure in transport cancels the other chunks
            inner.abort(error);
          }
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.min(this.#parallelism, starts.length) }, worker));
    } finally {
      options?.signal?.removeEventListener('abort', onAbort);
    }
    if (failure !== undefined) throw failure.error;
    if (domainErrors.length > 0) {
      const { start, error } = domainErrors.reduce((x, y) => (y.start < x.start ? y : x));
      if (error.index === undefined || start === 0) throw error;
      const index = start + error.index;
      throw new CalculatorError(error.code, error.message.replace(/at index \d+/, `at index ${index}`), index);
    }
    if (out === undefined) return results;
    out.set(results);
    return out;
  }

  /** An expression evaluated by the server's engine, as `Calculator.evaluate` in-process. */
  async evaluate(text: string, options?: CallOptions): Promise<bigint> {
    this.checkOpen();
    if (typeof text !== 'string')
      throw new TypeError(`nanocalc: evaluate() takes a string, got ${text === null ? 'null' : typeof text}`);
    return this.#call(encodeExpression(text, this.overflowOf(options)), options, (bytes) => decodeValue(bytes, true));
  }

  /**
   * Sends an encoded `nanocalc.v1.CalculatorRequest` and resolves to the encoded
   * `CalculatorResponse`, failures inside it as in-process. Only transport failures reject.
   */
  async process(request: Uint8Array, options?: CallOptions): Promise<Uint8Array> {
    this.checkOpen();
    if (!(request instanceof Uint8Array)) throw new TypeError('nanocalc: process() takes a Uint8Array');
    return this.#call(request, options, (bytes) => new Uint8Array(bytes));
  }

  /** `close()`, for `using calc = new ...()`: closed when the block that declared it ends. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Closes the connections. Later calls reject with CLOSED; closing again does nothing. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const endpoint of this.endpointsRoundRobin.all) this.#transport.close(endpoint.client);
  }

  /** The endpoints, in round-robin order. */
  get endpoints(): readonly string[] {
    return this.endpointsRoundRobin.all.map((e) => e.address);
  }

  /** @internal Whether close() was called: nothing is sent or retried after it. */
  protected get closed(): boolean {
    return this.#closed;
  }

  /** @internal */
  protected checkOpen(): void {
    if (this.#closed) throw new CalculatorError('CLOSED', 'nanocalc: this RemoteCalculator is closed');
  }

  /** @internal A call's overflow mode as the schema's value: its option, else the calculator's. */
  protected overflowOf(options: CallOptions | undefined): number {
    return overflowOption(options?.overflow, this.#overflow, 'options.overflow');
  }

  /** @internal */
  protected async binaryOperation(
    op: Operation,
    a: number | bigint,
    b: number | bigint,
    options: CallOptions | undefined,
  ): Promise<number | bigint> {
    this.checkOpen();
    const kind = checkOperands(a, b);
    const request = encodeBinary(OPERATION_FIELD[op], BigInt(a), BigInt(b), this.overflowOf(options));
    const value = await this.#call(request, options, decodeValue);
    return kind === 'bigint' ? value : toNumber(value);
  }

  /** @internal A call's deadline (`Date.now()` time; Infinity for none). */
  protected deadlineOf(options: CallOptions | undefined): number {
    const timeout = options?.timeoutMs ?? this.#timeoutMs;
    return timeout > 0 ? Date.now() + timeout : Infinity;
  }

  /** Sends `request`, retrying on other replicas while it fails in a retryable way, and decodes the answer. */
  async #call<T>(request: Uint8Array, options: CallOptions | undefined, decode: Decoded<T>): Promise<T> {
    const signal = options?.signal;
    if (signal?.aborted) throw cancelled(signal);
    const deadline = this.deadlineOf(options);
    const tried = new Set<Endpoint<C>>();
    let lastError: RemoteError | undefined;
    for (let attempt = 0; attempt < this.maxAttempts; attempt++) {
      if (attempt > 0 && tried.size === 0) {
        // Every replica failed once: back off before the next round.
        const wait = Math.min(50 * 2 ** Math.min(attempt, 5), deadline - Date.now());
        if (wait > 0) await sleep(wait, signal);
        if (signal?.aborted) throw cancelled(signal);
        if (Date.now() >= deadline) break;
      }
      const endpoint = this.endpointsRoundRobin.pick(tried);
      let bytes: Uint8Array;
      try {
        bytes = await this.#transport.calculate(endpoint, request, this.token, deadline, signal);
      } catch (error) {
        if (!(error instanceof RemoteError) || !isRetryable(error) || this.#closed) throw error;
        lastError = error;
        this.endpointsRoundRobin.markDown(endpoint);
        tried.add(endpoint);
        if (tried.size >= this.endpointsRoundRobin.all.length) tried.clear();
        continue;
      }
      this.endpointsRoundRobin.markUp(endpoint);
      try {
        return decode(bytes);
      } catch (error) {
        if (error instanceof MalformedResponse) throw malformed(error, endpoint.address);
        throw error;
      }
    }
    throw lastError ?? new RemoteError(Status.DEADLINE_EXCEEDED, 'deadline exceeded before an attempt');
  }
}
