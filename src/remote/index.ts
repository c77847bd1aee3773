// nanocalc/remote: the Calculator's API over gRPC (nanocalc.v1.CalculatorService), to one server
// or to several replicas balanced round-robin, with retries on another replica.
//
// Requests and responses travel as raw protobuf bytes (encoded and decoded by ./wire.ts), exactly
// as the server hands them to the engine: a remote answer is the in-process answer.

import * as grpc from '@grpc/grpc-js';
import { CalculatorError } from '../errors.js';
import {
  type Operation,
  OPERATION_FIELD,
  checkBatchShape,
  checkOperands,
  checkOperation,
  copyColumn,
  int32View,
} from '../validate.js';
import { MalformedResponse, decodeBatchInto, decodeValue, encodeBinary, encodeColumns, encodeExpression } from './wire.js';
import { RemoteError, explainTransport } from './errors.js';

export { RemoteError, GRPC_STATUS_NAMES } from './errors.js';
export type { GrpcStatusName } from './errors.js';
export { CalculatorError } from '../errors.js';
export type { CalculatorErrorCode } from '../errors.js';
export type { Operation } from '../validate.js';

/** Operands of a batch: one column of signed 64-bit integers. */
export type BatchInput = BigInt64Array | readonly bigint[] | readonly number[];

export interface RemoteCalculatorOptions {
  /**
   * TLS: `true` to trust the system's roots, or `{ ca }` with a PEM certificate (authority) to
   * trust instead; `serverName` overrides the name checked in the server's certificate.
   * Default: plaintext (for loopback and trusted networks only).
   */
  tls?: boolean | { ca?: string | Uint8Array; serverName?: string };
  /** Bearer token sent with every call (the server's NANOCALC_TOKEN). */
  token?: string;
  /** Default deadline of each call, retries included, in ms (default 30,000; 0 for none). */
  timeoutMs?: number;
  /** Attempts per call, over the replicas (default: twice the endpoints, at least 3). */
  maxAttempts?: number;
  /** Batches longer than this are sent as several column requests, in parallel (default 262,144). */
  batchChunkLength?: number;
  /** Column requests of one batch in flight at once (default: twice the endpoints). */
  batchParallelism?: number;
  /** Extra @grpc/grpc-js channel options. */
  channelOptions?: grpc.ChannelOptions;
}

/** Per-call options, the last argument of every method. */
export interface CallOptions {
  /** Cancels the call: it rejects with a RemoteError CANCELLED whose `cause` is the signal's reason. */
  signal?: AbortSignal;
  /** Deadline for this call in ms, retries included (overrides the calculator's `timeoutMs`). */
  timeoutMs?: number;
}

export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_BATCH_CHUNK_LENGTH = 262_144;

const CALCULATE = '/nanocalc.v1.CalculatorService/Calculate';
const CALCULATE_STREAM = '/nanocalc.v1.CalculatorService/CalculateStream';
const SAFE_MAX = BigInt(Number.MAX_SAFE_INTEGER);
const SAFE_MIN = BigInt(Number.MIN_SAFE_INTEGER);
/** Failures after which the call is tried again on another replica (calculations are pure, so retrying is safe). */
const RETRYABLE = new Set<number>([grpc.status.UNAVAILABLE]);
/** How long a replica that failed is skipped by the round-robin, at first and at most. */
const DOWN_MS_FIRST = 250;
const DOWN_MS_MAX = 5_000;
/** Requests a stream keeps written and unanswered at most; more wait in the stream's own queue. */
const STREAM_WINDOW = 512;

const serialize = (u8: Uint8Array): Buffer => Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
const deserialize = (buffer: Buffer): Buffer => buffer;

interface Endpoint {
  address: string;
  client: grpc.Client;
  downUntil: number;
  failures: number;
}

function toRemoteError(error: grpc.ServiceError, endpoint: string, signal: AbortSignal | undefined): RemoteError {
  const cause = error.code === grpc.status.CANCELLED && signal?.aborted ? signal.reason : error;
  return new RemoteError(error.code, explainTransport(error.details || error.message), endpoint, { cause });
}

function cancelled(signal: AbortSignal): RemoteError {
  return new RemoteError(grpc.status.CANCELLED, 'the call was cancelled by its AbortSignal', undefined, {
    cause: signal.reason,
  });
}

function malformed(error: MalformedResponse, endpoint: string): RemoteError {
  return new RemoteError(grpc.status.INTERNAL, `malformed response: ${error.message}`, endpoint, { cause: error });
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

function toNumber(value: bigint): number {
  if (value > SAFE_MAX || value < SAFE_MIN) {
    throw new RangeError(`nanocalc: the result ${value} is outside the safe integer range; use bigint operands`);
  }
  return Number(value);
}

function asColumn(column: BatchInput, n: number, name: string): BigInt64Array {
  if (column instanceof BigInt64Array) return column;
  const values = new BigInt64Array(n);
  copyColumn(column, 0, n, values, int32View(values), 0, name);
  return values;
}

function checkOption(value: number | undefined, fallback: number, min: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(`nanocalc: ${name} must be an integer of at least ${min}, got ${String(value)}`);
  }
  return value;
}

/** A response decoded, or the error it carries, with the endpoint that answered. */
type Decoded<T> = (bytes: Uint8Array) => T;

/**
 * A 64-bit integer calculator whose engine runs in nanocalc-server processes reached over gRPC.
 * The methods and arguments are the in-process `Calculator`'s, each returning a Promise and
 * taking optional {@link CallOptions} last. Domain failures reject with the same
 * `CalculatorError`s; transport failures with a {@link RemoteError}.
 */
export class RemoteCalculator {
  readonly #endpoints: Endpoint[];
  readonly #token: string | undefined;
  readonly #timeoutMs: number;
  readonly #maxAttempts: number;
  readonly #chunkLength: number;
  readonly #parallelism: number;
  #cursor = 0;
  #closed = false;

  /** `endpoints`: one `host:port` or several (replicas, balanced round-robin). */
  constructor(endpoints: string | readonly string[], options: RemoteCalculatorOptions = {}) {
    const list = typeof endpoints === 'string' ? [endpoints] : [...endpoints];
    if (list.length === 0 || !list.every((e) => typeof e === 'string' && e.length > 0)) {
      throw new TypeError('nanocalc: endpoints must be one or more "host:port" strings');
    }
    if (typeof options !== 'object' || options === null) throw new TypeError('nanocalc: options must be an object');
    this.#token = options.token;
    this.#timeoutMs = checkOption(options.timeoutMs, DEFAULT_TIMEOUT_MS, 0, 'timeoutMs');
    this.#maxAttempts = checkOption(options.maxAttempts, Math.max(3, 2 * list.length), 1, 'maxAttempts');
    this.#chunkLength = checkOption(options.batchChunkLength, DEFAULT_BATCH_CHUNK_LENGTH, 1, 'batchChunkLength');
    this.#parallelism = checkOption(options.batchParallelism, 2 * list.length, 1, 'batchParallelism');
    const { tls } = options;
    let credentials = grpc.credentials.createInsecure();
    const channelOptions: grpc.ChannelOptions = {
      'grpc.max_receive_message_length': -1,
      'grpc.max_send_message_length': -1,
      // A replica that comes back is used again soon.
      'grpc.initial_reconnect_backoff_ms': 200,
      'grpc.max_reconnect_backoff_ms': 2_000,
      // RemoteCalculator retries itself; grpc-js's retry layer also buffers every message sent on
      // a stream, which costs more than the call with many in flight.
      'grpc.enable_retries': 0,
    };
    if (tls) {
      const ca = typeof tls === 'object' && tls.ca !== undefined ? Buffer.from(tls.ca) : null;
      credentials = grpc.credentials.createSsl(ca);
      if (typeof tls === 'object' && tls.serverName !== undefined) {
        channelOptions['grpc.ssl_target_name_override'] = tls.serverName;
        channelOptions['grpc.default_authority'] = tls.serverName;
      }
    }
    Object.assign(channelOptions, options.channelOptions);
    this.#endpoints = list.map((address) => ({
      address,
      client: new grpc.Client(address, credentials, channelOptions),
      downUntil: 0,
      failures: 0,
    }));
  }

  /** `a + b`, saturated to the i64 range. */
  add(a: number, b: number, options?: CallOptions): Promise<number>;
  add(a: bigint, b: bigint, options?: CallOptions): Promise<bigint>;
  add(a: number | bigint, b: number | bigint, options?: CallOptions): Promise<number | bigint> {
    return this.#binary('add', a, b, options);
  }

  /** `a - b`, saturated to the i64 range. */
  subtract(a: number, b: number, options?: CallOptions): Promise<number>;
  subtract(a: bigint, b: bigint, options?: CallOptions): Promise<bigint>;
  subtract(a: number | bigint, b: number | bigint, options?: CallOptions): Promise<number | bigint> {
    return this.#binary('subtract', a, b, options);
  }

  /** `a * b`, saturated to the i64 range. */
  multiply(a: number, b: number, options?: CallOptions): Promise<number>;
  multiply(a: bigint, b: bigint, options?: CallOptions): Promise<bigint>;
  multiply(a: number | bigint, b: number | bigint, options?: CallOptions): Promise<number | bigint> {
    return this.#binary('multiply', a, b, options);
  }

  /** `a / b` truncated toward zero (`MIN / -1` saturates to `MAX`); `b = 0` rejects with DIVISION_BY_ZERO. */
  divide(a: number, b: number, options?: CallOptions): Promise<number>;
  divide(a: bigint, b: bigint, options?: CallOptions): Promise<bigint>;
  divide(a: number | bigint, b: number | bigint, options?: CallOptions): Promise<number | bigint> {
    return this.#binary('divide', a, b, options);
  }

  /** `a % b` with the sign of `a` (`MIN % -1 = 0`); `b = 0` rejects with DIVISION_BY_ZERO. */
  remainder(a: number, b: number, options?: CallOptions): Promise<number>;
  remainder(a: bigint, b: bigint, options?: CallOptions): Promise<bigint>;
  remainder(a: number | bigint, b: number | bigint, options?: CallOptions): Promise<number | bigint> {
    return this.#binary('remainder', a, b, options);
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
    out?: BigInt64Array,
    options?: CallOptions,
  ): Promise<BigInt64Array> {
    this.#checkOpen();
    const op = checkOperation(operation);
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
    const callOptions: CallOptions = { signal: inner.signal };
    if (options?.timeoutMs !== undefined) callOptions.timeoutMs = options.timeoutMs;
    const domainErrors: { start: number; error: CalculatorError }[] = [];
    let failure: { error: unknown } | undefined;
    let next = 0;
    const worker = async () => {
      while (next < starts.length && failure === undefined) {
        const start = starts[next++]!;
        const end = Math.min(n, start + this.#chunkLength);
        const request = encodeColumns(op, columnA.subarray(start, end), columnB.subarray(start, end));
        try {
          await this.#call(request, callOptions, (bytes) => decodeBatchInto(bytes, results, start, end - start));
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
    this.#checkOpen();
    if (typeof text !== 'string') throw new TypeError(`nanocalc: evaluate() takes a string, got ${text === null ? 'null' : typeof text}`);
    return this.#call(encodeExpression(text), options, (bytes) => decodeValue(bytes, true));
  }

  /**
   * Sends an encoded `nanocalc.v1.CalculatorRequest` and resolves to the encoded
   * `CalculatorResponse`, failures inside it as in-process. Only transport failures reject.
   */
  async process(request: Uint8Array, options?: CallOptions): Promise<Uint8Array> {
    this.#checkOpen();
    if (!(request instanceof Uint8Array)) throw new TypeError('nanocalc: process() takes a Uint8Array');
    return this.#call(request, options, (bytes) => new Uint8Array(bytes));
  }

  /**
   * Opens a pipelined stream (the CalculateStream RPC) to the next replica: calls on it are sent
   * at once without waiting for earlier answers, and answered in order. For many small calls.
   */
  stream(options?: CallOptions): RemoteStream {
    this.#checkOpen();
    const route: StreamRoute = {
      open: (tried) => {
        const skip = new Set(this.#endpoints.filter((e) => tried.has(e.address)));
        if (skip.size >= this.#endpoints.length) skip.clear();
        const endpoint = this.#pick(skip);
        return { client: endpoint.client, address: endpoint.address };
      },
      failed: (address) => {
        const endpoint = this.#endpoints.find((e) => e.address === address);
        if (endpoint !== undefined) this.#markDown(endpoint);
      },
      metadata: () => this.#metadata(),
      maxAttempts: this.#maxAttempts,
    };
    return new RemoteStream(route, this.#deadline(options), options?.signal);
  }

  /** Closes the connections. Later calls reject with CLOSED; closing again does nothing. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const endpoint of this.#endpoints) endpoint.client.close();
  }

  /** The endpoints, in round-robin order. */
  get endpoints(): readonly string[] {
    return this.#endpoints.map((e) => e.address);
  }

  #checkOpen(): void {
    if (this.#closed) throw new CalculatorError('CLOSED', 'nanocalc: this RemoteCalculator is closed');
  }

  async #binary(op: Operation, a: number | bigint, b: number | bigint, options: CallOptions | undefined) {
    this.#checkOpen();
    const kind = checkOperands(a, b);
    const request = encodeBinary(OPERATION_FIELD[op], BigInt(a), BigInt(b));
    const value = await this.#call(request, options, decodeValue);
    return kind === 'bigint' ? value : toNumber(value);
  }

  #metadata(): grpc.Metadata {
    const metadata = new grpc.Metadata();
    if (this.#token !== undefined) metadata.set('authorization', `Bearer ${this.#token}`);
    return metadata;
  }

  #deadline(options: CallOptions | undefined): number {
    const timeout = options?.timeoutMs ?? this.#timeoutMs;
    return timeout > 0 ? Date.now() + timeout : Infinity;
  }

  #markDown(endpoint: Endpoint): void {
    endpoint.failures++;
    endpoint.downUntil = Date.now() + Math.min(DOWN_MS_MAX, DOWN_MS_FIRST * 2 ** (endpoint.failures - 1));
  }

  /** The next replica round-robin, skipping those tried for this call and those recently down. */
  #pick(tried: Set<Endpoint>): Endpoint {
    const endpoints = this.#endpoints;
    const now = Date.now();
    let fallback: Endpoint | undefined;
    for (let k = 0; k < endpoints.length; k++) {
      const index = (this.#cursor + k) % endpoints.length;
      const endpoint = endpoints[index]!;
      if (tried.has(endpoint)) continue;
      if (endpoint.downUntil <= now) {
        this.#cursor = index + 1;
        return endpoint;
      }
      if (fallback === undefined || endpoint.downUntil < fallback.downUntil) fallback = endpoint;
    }
    const chosen = fallback ?? endpoints[this.#cursor++ % endpoints.length]!;
    return chosen;
  }

  /** Sends `request`, retrying on other replicas while it fails with UNAVAILABLE, and decodes the answer. */
  async #call<T>(request: Uint8Array, options: CallOptions | undefined, decode: Decoded<T>): Promise<T> {
    const signal = options?.signal;
    if (signal?.aborted) throw cancelled(signal);
    const deadline = this.#deadline(options);
    const tried = new Set<Endpoint>();
    let lastError: RemoteError | undefined;
    for (let attempt = 0; attempt < this.#maxAttempts; attempt++) {
      if (attempt > 0 && tried.size === 0) {
        // Every replica failed once: back off before the next round.
        const wait = Math.min(50 * 2 ** Math.min(attempt, 5), deadline - Date.now());
        if (wait > 0) await sleep(wait, signal);
        if (signal?.aborted) throw cancelled(signal);
        if (Date.now() >= deadline) break;
      }
      const endpoint = this.#pick(tried);
      let bytes: Buffer;
      try {
        bytes = await this.#attempt(endpoint, request, deadline, signal);
      } catch (error) {
        if (!(error instanceof RemoteError) || !RETRYABLE.has(error.code) || this.#closed) throw error;
        lastError = error;
        this.#markDown(endpoint);
        tried.add(endpoint);
        if (tried.size >= this.#endpoints.length) tried.clear();
        continue;
      }
      endpoint.failures = 0;
      endpoint.downUntil = 0;
      try {
        return decode(bytes);
      } catch (error) {
        if (error instanceof MalformedResponse) throw malformed(error, endpoint.address);
        throw error;
      }
    }
    throw lastError ?? new RemoteError(grpc.status.DEADLINE_EXCEEDED, 'deadline exceeded before an attempt');
  }

  #attempt(endpoint: Endpoint, request: Uint8Array, deadline: number, signal: AbortSignal | undefined): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const callOptions: grpc.CallOptions = deadline === Infinity ? {} : { deadline };
      const call = endpoint.client.makeUnaryRequest<Uint8Array, Buffer>(
        CALCULATE,
        serialize,
        deserialize,
        request,
        this.#metadata(),
        callOptions,
        (error, value) => {
          signal?.removeEventListener('abort', onAbort);
          if (error) reject(toRemoteError(error, endpoint.address, signal));
          else resolve(value!);
        },
      );
      function onAbort(): void {
        call.cancel();
      }
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}

interface Pending {
  request: Uint8Array;
  resolve: (bytes: Buffer) => void;
  reject: (error: unknown) => void;
}

/** @internal How a stream reaches the replicas: the RemoteCalculator's round-robin. */
export interface StreamRoute {
  /** The next replica, skipping `tried` (addresses) unless every replica was tried. */
  open(tried: ReadonlySet<string>): { client: grpc.Client; address: string };
  /** A replica failed: skip it for a while. */
  failed(address: string): void;
  metadata(): grpc.Metadata;
  maxAttempts: number;
}

const EMPTY_PENDING: Pending = { request: new Uint8Array(0), resolve: () => {}, reject: () => {} };

/**
 * A pipelined CalculateStream: the Calculator's methods, each sent at once (up to 512 unanswered,
 * the rest queued here) and answered in order. If the replica fails or shuts down (UNAVAILABLE),
 * the unanswered calls are sent again, in order, on a new stream to another replica (calculations
 * are pure, so this is safe); other failures reject every unanswered call with a RemoteError.
 * Call `end()` when done.
 */
export class RemoteStream {
  readonly #route: StreamRoute;
  readonly #deadline: number;
  readonly #signal: AbortSignal | undefined;
  #call!: grpc.ClientDuplexStream<Uint8Array, Buffer>;
  #endpoint = '';
  #generation = 0;
  #attempts = 0;
  readonly #tried = new Set<string>();
  /** Calls in order: answered before #head, written before #next, the rest waiting for the window. */
  #pending: Pending[] = [];
  #head = 0;
  #next = 0;
  #failure: RemoteError | undefined;
  #ended = false;
  #endSent = false;
  #finished = false;
  #resolveDone!: () => void;
  #rejectDone!: (error: unknown) => void;
  readonly #done: Promise<void>;
  readonly #onAbort = () => this.#call.cancel();

  /** @internal Use `RemoteCalculator.stream()`. */
  constructor(route: StreamRoute, deadline: number, signal?: AbortSignal) {
    this.#route = route;
    this.#deadline = deadline;
    this.#signal = signal;
    this.#done = new Promise((resolve, reject) => {
      this.#resolveDone = resolve;
      this.#rejectDone = reject;
    });
    this.#done.catch(() => {}); // observed through the calls and end()
    signal?.addEventListener('abort', this.#onAbort, { once: true });
    this.#open();
    if (signal?.aborted) this.#call.cancel();
  }

  add(a: number, b: number): Promise<number>;
  add(a: bigint, b: bigint): Promise<bigint>;
  add(a: number | bigint, b: number | bigint): Promise<number | bigint> {
    return this.#binary('add', a, b);
  }

  subtract(a: number, b: number): Promise<number>;
  subtract(a: bigint, b: bigint): Promise<bigint>;
  subtract(a: number | bigint, b: number | bigint): Promise<number | bigint> {
    return this.#binary('subtract', a, b);
  }

  multiply(a: number, b: number): Promise<number>;
  multiply(a: bigint, b: bigint): Promise<bigint>;
  multiply(a: number | bigint, b: number | bigint): Promise<number | bigint> {
    return this.#binary('multiply', a, b);
  }

  divide(a: number, b: number): Promise<number>;
  divide(a: bigint, b: bigint): Promise<bigint>;
  divide(a: number | bigint, b: number | bigint): Promise<number | bigint> {
    return this.#binary('divide', a, b);
  }

  remainder(a: number, b: number): Promise<number>;
  remainder(a: bigint, b: bigint): Promise<bigint>;
  remainder(a: number | bigint, b: number | bigint): Promise<number | bigint> {
    return this.#binary('remainder', a, b);
  }

  /** One column request (not split, unlike `RemoteCalculator.batch`). */
  async batch(operation: Operation, a: BatchInput, b: BatchInput, out?: BigInt64Array): Promise<BigInt64Array> {
    const op = checkOperation(operation);
    const n = checkBatchShape(a, b, out);
    const results = new BigInt64Array(n);
    const bytes = await this.#send(encodeColumns(op, asColumn(a, n, 'a'), asColumn(b, n, 'b')));
    this.#decode(() => decodeBatchInto(bytes, results, 0, n));
    if (out === undefined) return results;
    out.set(results);
    return out;
  }

  /** An encoded `CalculatorRequest` → the encoded `CalculatorResponse`. */
  async process(request: Uint8Array): Promise<Uint8Array> {
    if (!(request instanceof Uint8Array)) throw new TypeError('nanocalc: process() takes a Uint8Array');
    return new Uint8Array(await this.#send(request));
  }

  /** Calls sent and not yet answered. */
  get pending(): number {
    return this.#pending.length - this.#head;
  }

  /** The replica the stream is on now. */
  get endpoint(): string {
    return this.#endpoint;
  }

  /** Ends the stream once the calls sent are answered; resolves then (rejects if the stream failed). */
  end(): Promise<void> {
    if (!this.#ended) {
      this.#ended = true;
      this.#flush();
    }
    return this.#done;
  }

  /** Abandons the stream: unanswered calls reject with CANCELLED. */
  cancel(): void {
    this.#call.cancel();
  }

  /** Opens the stream on the next replica and writes what is unanswered. */
  #open(): void {
    const generation = ++this.#generation;
    const { client, address } = this.#route.open(this.#tried);
    this.#attempts++;
    this.#endpoint = address;
    const options: grpc.CallOptions = this.#deadline === Infinity ? {} : { deadline: this.#deadline };
    const call = client.makeBidiStreamRequest<Uint8Array, Buffer>(
      CALCULATE_STREAM,
      serialize,
      deserialize,
      this.#route.metadata(),
      options,
    );
    this.#call = call;
    call.on('data', (bytes: Buffer) => {
      if (generation === this.#generation) this.#answer(bytes);
    });
    call.on('error', (error: grpc.ServiceError) => {
      if (generation === this.#generation) this.#failed(toRemoteError(error, address, this.#signal));
    });
    call.on('status', (status: grpc.StatusObject) => {
      if (generation !== this.#generation || status.code !== grpc.status.OK) return; // 'error' handles those
      if (this.#head < this.#pending.length) {
        this.#fail(new RemoteError(grpc.status.INTERNAL, 'the stream ended before every call was answered', address));
      } else {
        this.#finish();
      }
    });
    this.#next = this.#head;
    this.#endSent = false;
    this.#flush();
  }

  #answer(bytes: Buffer): void {
    const pending = this.#pending[this.#head];
    if (pending === undefined) return;
    this.#pending[this.#head++] = EMPTY_PENDING;
    if (this.#head > 1024 && this.#head * 2 > this.#pending.length) {
      this.#pending.splice(0, this.#head);
      this.#next -= this.#head;
      this.#head = 0;
    }
    pending.resolve(bytes);
    this.#flush();
  }

  /** The stream failed: UNAVAILABLE moves the unanswered calls to another replica, while attempts remain. */
  #failed(error: RemoteError): void {
    const retry =
      RETRYABLE.has(error.code) &&
      this.#attempts < this.#route.maxAttempts &&
      !this.#signal?.aborted &&
      Date.now() < this.#deadline;
    if (!retry) {
      this.#fail(error);
      return;
    }
    this.#route.failed(this.#endpoint);
    this.#tried.add(this.#endpoint);
    this.#open();
  }

  /**
   * Writes waiting calls while fewer than STREAM_WINDOW are unanswered. (grpc-js keeps the messages
   * it has not sent yet in an array that it slices after every write: thousands written ahead
   * cost quadratic time, so the window bounds what it holds.)
   */
  #flush(): void {
    const pending = this.#pending;
    while (this.#next < pending.length && this.#next - this.#head < STREAM_WINDOW) {
      this.#call.write(pending[this.#next++]!.request);
    }
    if (this.#ended && !this.#endSent && this.#next === pending.length && this.#failure === undefined) {
      this.#endSent = true;
      this.#call.end();
    }
  }

  async #binary(op: Operation, a: number | bigint, b: number | bigint): Promise<number | bigint> {
    const kind = checkOperands(a, b);
    const bytes = await this.#send(encodeBinary(OPERATION_FIELD[op], BigInt(a), BigInt(b)));
    const value = this.#decode(() => decodeValue(bytes));
    return kind === 'bigint' ? value : toNumber(value);
  }

  #decode<T>(decode: () => T): T {
    try {
      return decode();
    } catch (error) {
      if (error instanceof MalformedResponse) throw malformed(error, this.#endpoint);
      throw error;
    }
  }

  #send(request: Uint8Array): Promise<Buffer> {
    if (this.#ended) return Promise.reject(new CalculatorError('CLOSED', 'nanocalc: this stream was ended'));
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      this.#pending.push({ request, resolve, reject });
      this.#flush();
    });
  }

  #finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#signal?.removeEventListener('abort', this.#onAbort);
    this.#resolveDone();
  }

  #fail(error: RemoteError): void {
    this.#failure ??= error;
    for (let i = this.#head; i < this.#pending.length; i++) this.#pending[i]!.reject(this.#failure);
    this.#pending = [];
    this.#head = 0;
    this.#next = 0;
    if (this.#finished) return;
    this.#finished = true;
    this.#signal?.removeEventListener('abort', this.#onAbort);
    this.#rejectDone(this.#failure);
  }
}
