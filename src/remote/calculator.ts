// RemoteCalculator: the Calculator's API over gRPC, each call sent to the next replica and
// retried on another while it fails with UNAVAILABLE; long batches as column requests in parallel.
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
import { RemoteError, STATUS } from './errors.js';
import { type Endpoint, RoundRobin, cancelled, isRetryable, malformed, sleep } from './endpoints.js';
import { type ChannelOptions, GrpcJsChannel, grpcJsSettings } from './grpc-js.js';
import { Http2Channel } from './http2.js';
import { CALCULATE, type Channel, hostAndPort } from './transport.js';
import { RemoteStream, type StreamRoute } from './stream.js';
import { type BatchInput, asColumn, toNumber } from './values.js';

export interface RemoteCalculatorOptions {
  /**
   * TLS: `true` to trust the system's roots, or `{ ca }` with a PEM certificate (authority) to
   * trust instead; `serverName` overrides the name checked in the server's certificate; `cert`
   * and `key` (PEM, both or neither) are this client's certificate and key, for a server that
   * requires client certificates (`--tls-client-ca`, mutual TLS).
   * Default: plaintext (for loopback and trusted networks only).
   */
  tls?:
    | boolean
    | { ca?: string | Uint8Array; serverName?: string; cert?: string | Uint8Array; key?: string | Uint8Array }
    | undefined;
  /** Bearer token sent with every call (the server's NANOCALC_TOKEN). */
  token?: string | undefined;
  /** Default deadline of each call, retries included, in ms (default 30,000; 0 for none). */
  timeoutMs?: number | undefined;
  /** Attempts per call, over the replicas (default: twice the endpoints, at least 5; backing off 0.1, 0.2, 0.4 s... after each round of them). */
  maxAttempts?: number | undefined;
  /** Batches longer than this are sent as several column requests, in parallel (default 262,144). */
  batchChunkLength?: number | undefined;
  /** Column requests of one batch in flight at once (default: twice the endpoints). */
  batchParallelism?: number | undefined;
  /**
   * How calls travel: `'http2'`, a lean gRPC client on `node:http2` (one HTTP/2 session per endpoint;
   * the default on Node when every endpoint is `host:port` and there are no `channelOptions`), or
   * `'grpc-js'`, @grpc/grpc-js (gRPC targets such as `dns:///name:port` or `ipv4:a,b`, `channelOptions`;
   * the default elsewhere and on Bun and Deno). Both keep the same contract.
   */
  transport?: 'http2' | 'grpc-js' | undefined;
  /**
   * With the `'http2'` transport: while calls are in flight on a connection, it is PINGed every this
   * many ms, and destroyed if a PING is still unanswered one period later, so that calls to a replica
   * that vanished without a reset (host down, network cut, process stopped) end UNAVAILABLE and are
   * retried on another replica instead of waiting for their deadline (default 10,000; 0 for none).
   * With `'grpc-js'`, use the channel options `grpc.keepalive_time_ms` and `grpc.keepalive_timeout_ms`.
   */
  keepaliveMs?: number | undefined;
  /** Extra @grpc/grpc-js channel options (with the `'grpc-js'` transport, which they select by default). */
  channelOptions?: ChannelOptions | undefined;
  /** What an operation does beyond the i64 range, as the in-process `Calculator`'s option (default `'saturate'`). */
  overflow?: OverflowMode | undefined;
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
export const DEFAULT_KEEPALIVE_MS = 10_000;

/** A response decoded, or the error it carries, with the endpoint that answered. */
type Decoded<T> = (bytes: Uint8Array) => T;

/**
 * A 64-bit integer calculator whose engine runs in nanocalc-server processes reached over gRPC.
 * The methods and arguments are the in-process `Calculator`'s, each returning a Promise and
 * taking optional {@link CallOptions} last. Domain failures reject with the same
 * `CalculatorError`s; transport failures with a {@link RemoteError}.
 */
export class RemoteCalculator {
  readonly #endpoints: RoundRobin;
  readonly #timeoutMs: number;
  readonly #maxAttempts: number;
  readonly #chunkLength: number;
  readonly #parallelism: number;
  /** The `overflow` option as the schema's value (0, saturate, is left off the wire). */
  readonly #overflow: number;
  #closed = false;

  /** `endpoints`: one `host:port` or several (replicas, balanced round-robin). */
  constructor(endpoints: string | readonly string[], options: RemoteCalculatorOptions = {}) {
    const list = typeof endpoints === 'string' ? [endpoints] : [...endpoints];
    if (list.length === 0 || !list.every((e) => typeof e === 'string' && e.length > 0)) {
      throw new TypeError('nanocalc: endpoints must be one or more "host:port" strings');
    }
    if (typeof options !== 'object' || options === null) throw new TypeError('nanocalc: options must be an object');
    this.#timeoutMs = integerOption(options.timeoutMs, DEFAULT_TIMEOUT_MS, 'timeoutMs', 0);
    this.#maxAttempts = integerOption(options.maxAttempts, Math.max(5, 2 * list.length), 'maxAttempts', 1);
    this.#chunkLength = integerOption(options.batchChunkLength, DEFAULT_BATCH_CHUNK_LENGTH, 'batchChunkLength', 1);
    this.#parallelism = integerOption(options.batchParallelism, 2 * list.length, 'batchParallelism', 1);
    this.#overflow = overflowOption(options.overflow, 0, 'overflow');
    const tls = tlsOption(options.tls);
    const transport = transportOption(options, list);
    const token = options.token;
    const keepaliveMs = integerOption(options.keepaliveMs, DEFAULT_KEEPALIVE_MS, 'keepaliveMs', 0, 2 ** 31 - 1);
    let channel: (address: string) => Channel;
    if (transport === 'http2') {
      channel = (address) => {
        const { host, port } = hostAndPort(address)!;
        return new Http2Channel(address, host, port, { tls, token, keepaliveMs });
      };
    } else {
      const settings = grpcJsSettings(tls, options.channelOptions);
      channel = (address) => new GrpcJsChannel(address, settings, token);
    }
    this.#endpoints = new RoundRobin(list, channel);
  }

  /** `a + b`; beyond the i64 range as the `overflow` option says (saturated by default). */
  add(a: number, b: number, options?: CallOptions): Promise<number>;
  add(a: bigint, b: bigint, options?: CallOptions): Promise<bigint>;
  add(a: number | bigint, b: number | bigint, options?: CallOptions): Promise<number | bigint> {
    return this.#binary('add', a, b, options);
  }

  /** `a - b`; beyond the i64 range as the `overflow` option says (saturated by default). */
  subtract(a: number, b: number, options?: CallOptions): Promise<number>;
  subtract(a: bigint, b: bigint, options?: CallOptions): Promise<bigint>;
  subtract(a: number | bigint, b: number | bigint, options?: CallOptions): Promise<number | bigint> {
    return this.#binary('subtract', a, b, options);
  }

  /** `a * b`; beyond the i64 range as the `overflow` option says (saturated by default). */
  multiply(a: number, b: number, options?: CallOptions): Promise<number>;
  multiply(a: bigint, b: bigint, options?: CallOptions): Promise<bigint>;
  multiply(a: number | bigint, b: number | bigint, options?: CallOptions): Promise<number | bigint> {
    return this.#binary('multiply', a, b, options);
  }

  /** `a / b` truncated toward zero (`MIN / -1` overflows: `MAX` saturated); `b = 0` rejects with DIVISION_BY_ZERO. */
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
    outOrOptions?: BigInt64Array | RemoteBatchOptions,
    callOptions?: CallOptions,
  ): Promise<BigInt64Array> {
    this.#checkOpen();
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
    const overflow = this.#overflowOf(options);
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
    this.#checkOpen();
    if (typeof text !== 'string')
      throw new TypeError(`nanocalc: evaluate() takes a string, got ${text === null ? 'null' : typeof text}`);
    return this.#call(encodeExpression(text, this.#overflowOf(options)), options, (bytes) => decodeValue(bytes, true));
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
        const skip = new Set(this.#endpoints.all.filter((e) => tried.has(e.address)));
        if (skip.size >= this.#endpoints.all.length) skip.clear();
        const endpoint = this.#endpoints.pick(skip);
        return { channel: endpoint.channel, address: endpoint.address };
      },
      failed: (address) => {
        const endpoint = this.#endpoints.all.find((e) => e.address === address);
        if (endpoint !== undefined) this.#endpoints.markDown(endpoint);
      },
      maxAttempts: this.#maxAttempts,
      closed: () => this.#closed,
    };
    return new RemoteStream(route, this.#deadline(options), options?.signal, this.#overflowOf(options));
  }

  /** `close()`, for `using calc = new ...()`: closed when the block that declared it ends. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Closes the connections. Later calls reject with CLOSED; closing again does nothing. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#endpoints.close();
  }

  /** The endpoints, in round-robin order. */
  get endpoints(): readonly string[] {
    return this.#endpoints.all.map((e) => e.address);
  }

  #checkOpen(): void {
    if (this.#closed) throw new CalculatorError('CLOSED', 'nanocalc: this RemoteCalculator is closed');
  }

  /** A call's overflow mode as the schema's value: its option, else the calculator's. */
  #overflowOf(options: CallOptions | undefined): number {
    return overflowOption(options?.overflow, this.#overflow, 'options.overflow');
  }

  async #binary(op: Operation, a: number | bigint, b: number | bigint, options: CallOptions | undefined) {
    this.#checkOpen();
    const kind = checkOperands(a, b);
    const request = encodeBinary(OPERATION_FIELD[op], BigInt(a), BigInt(b), this.#overflowOf(options));
    const value = await this.#call(request, options, decodeValue);
    return kind === 'bigint' ? value : toNumber(value);
  }

  #deadline(options: CallOptions | undefined): number {
    const timeout = options?.timeoutMs ?? this.#timeoutMs;
    return timeout > 0 ? Date.now() + timeout : Infinity;
  }

  /** Sends `request`, retrying on other replicas while it fails in a retryable way, and decodes the answer. */
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
      const endpoint = this.#endpoints.pick(tried);
      let bytes: Uint8Array;
      try {
        bytes = await endpoint.channel.unary(CALCULATE, request, deadline, signal);
      } catch (error) {
        if (!(error instanceof RemoteError) || !isRetryable(error) || this.#closed) throw error;
        lastError = error;
        this.#endpoints.markDown(endpoint);
        tried.add(endpoint);
        if (tried.size >= this.#endpoints.all.length) tried.clear();
        continue;
      }
      this.#endpoints.markUp(endpoint);
      try {
        return decode(bytes);
      } catch (error) {
        if (error instanceof MalformedResponse) throw malformed(error, endpoint.address);
        throw error;
      }
    }
    throw lastError ?? new RemoteError(STATUS.DEADLINE_EXCEEDED, 'deadline exceeded before an attempt');
  }
}

/** The `tls` option checked and read: undefined for plaintext. */
function tlsOption(tls: RemoteCalculatorOptions['tls']) {
  if (!tls) return undefined;
  const ca = typeof tls === 'object' && tls.ca !== undefined ? Buffer.from(tls.ca) : null;
  const cert = typeof tls === 'object' && tls.cert !== undefined ? Buffer.from(tls.cert) : null;
  const key = typeof tls === 'object' && tls.key !== undefined ? Buffer.from(tls.key) : null;
  if ((cert === null) !== (key === null)) {
    throw new TypeError('nanocalc: tls.cert and tls.key go together (a client certificate and its key)');
  }
  const serverName = typeof tls === 'object' ? tls.serverName : undefined;
  return { ca, cert, key, serverName };
}

/** Node itself (not Bun or Deno, whose node:http2 clients differ). */
const ON_NODE =
  typeof process === 'object' &&
  process.release?.name === 'node' &&
  process.versions.bun === undefined &&
  !('Deno' in globalThis);

/** The `transport` option checked, or chosen. */
function transportOption(options: RemoteCalculatorOptions, endpoints: readonly string[]): 'http2' | 'grpc-js' {
  const { transport, channelOptions } = options;
  const plain = endpoints.every((e) => hostAndPort(e) !== undefined);
  if (transport === undefined) return ON_NODE && plain && channelOptions === undefined ? 'http2' : 'grpc-js';
  if (transport === 'grpc-js') return transport;
  if (transport !== 'http2') throw new TypeError(`nanocalc: transport must be 'http2' or 'grpc-js'`);
  if (channelOptions !== undefined) throw new TypeError(`nanocalc: channelOptions are for the 'grpc-js' transport`);
  if (!plain) {
    throw new TypeError(`nanocalc: the 'http2' transport takes "host:port" endpoints (gRPC targets need 'grpc-js')`);
  }
  return transport;
}
