// RemoteStream: calls pipelined on one CalculateStream, answered in order, moved to another
// replica if this one fails in a retryable way (UNAVAILABLE, or reset before its status).
import { RemoteBinaryOperations } from '../binary-operations.js';
import { CalculatorError } from '../errors.js';
import { type Operation, OPERATION_FIELD, checkBatchShape, checkOperands, checkOperation } from '../validate.js';
import { MalformedResponse, decodeBatchInto, decodeValue, encodeBinary, encodeColumns } from './wire.js';
import { RemoteError } from './errors.js';
import { CALCULATE_STREAM, Status, isRetryable, malformed } from './endpoints.js';
import type { Channel, StreamCall } from './transport.js';
import { type BatchInput, asColumn, toNumber } from './values.js';

/** Requests a stream keeps written and unanswered at most; more wait in the stream's own queue. */
const STREAM_WINDOW = 512;

interface Pending {
  request: Uint8Array;
  resolve: (bytes: Uint8Array) => void;
  reject: (error: unknown) => void;
}

/** @internal How a stream reaches the replicas: the RemoteCalculator's round-robin. */
export interface StreamRoute {
  /** The next replica, skipping `tried` (addresses) unless every replica was tried. */
  open(tried: ReadonlySet<string>): { channel: Channel; address: string };
  /** A replica failed: skip it for a while. */
  failed(address: string): void;
  maxAttempts: number;
  /** Whether the RemoteCalculator was closed: its clients take no new call, so nothing is retried. */
  closed(): boolean;
}

const EMPTY_PENDING: Pending = { request: new Uint8Array(0), resolve: () => {}, reject: () => {} };

/**
 * A pipelined CalculateStream: the Calculator's methods, each sent at once (up to 512 unanswered,
 * the rest queued here) and answered in order. If the replica fails or shuts down (UNAVAILABLE, or
 * the stream reset before its status), the unanswered calls are sent again, in order, on a new stream to another replica (calculations
 * are pure, so this is safe); other failures reject every unanswered call with a RemoteError.
 * Call `end()` when done.
 */
export class RemoteStream extends RemoteBinaryOperations<never> {
  readonly #route: StreamRoute;
  /** The overflow mode of every call on the stream, as the schema's value. */
  readonly #overflow: number;
  readonly #deadline: number;
  readonly #signal: AbortSignal | undefined;
  #call!: StreamCall;
  #endpoint = '';
  #generation = 0;
  /** Streams opened since the last answer (the current one included): bounded by maxAttempts. */
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
  /** The stream failed with nothing unanswered and was not reopened: the next call reopens it. */
  #broken = false;
  #resolveDone!: () => void;
  #rejectDone!: (error: unknown) => void;
  readonly #done: Promise<void>;
  readonly #onAbort = () => this.cancel();

  /** @internal Use `RemoteCalculator.stream()`. */
  constructor(route: StreamRoute, deadline: number, signal?: AbortSignal, overflow = 0) {
    super();
    this.#route = route;
    this.#overflow = overflow;
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

  /** One column request (not split, unlike `RemoteCalculator.batch`), with the stream's overflow mode. */
  async batch(operation: Operation, a: BatchInput, b: BatchInput, out?: BigInt64Array): Promise<BigInt64Array> {
    const op = checkOperation(operation);
    const n = checkBatchShape(a, b, out);
    const results = new BigInt64Array(n);
    const bytes = await this.#send(encodeColumns(op, asColumn(a, n, 'a'), asColumn(b, n, 'b'), this.#overflow));
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
      if (this.#broken)
        this.#finish(); // every call was answered before the stream failed
      else this.#flush();
    }
    return this.#done;
  }

  /** Abandons the stream: unanswered calls reject with CANCELLED. */
  cancel(): void {
    if (this.#broken) this.#fail(new RemoteError(Status.CANCELLED, 'the stream was cancelled', this.#endpoint));
    else this.#call.cancel();
  }

  /** Opens the stream on the next replica and writes what is unanswered. */
  #open(): void {
    const generation = ++this.#generation;
    const { channel, address } = this.#route.open(this.#tried);
    this.#attempts++;
    this.#endpoint = address;
    this.#call = channel.stream(CALCULATE_STREAM, this.#deadline, this.#signal, {
      message: (bytes) => {
        if (generation === this.#generation) this.#answer(bytes);
      },
      end: (error) => {
        if (generation !== this.#generation) return;
        if (error !== undefined) this.#failed(error);
        else if (this.#head < this.#pending.length) {
          this.#fail(new RemoteError(Status.INTERNAL, 'the stream ended before every call was answered', address));
        } else {
          this.#finish();
        }
      },
    });
    this.#next = this.#head;
    this.#endSent = false;
    this.#flush();
  }

  #answer(bytes: Uint8Array): void {
    const pending = this.#pending[this.#head];
    if (pending === undefined) return;
    this.#pending[this.#head++] = EMPTY_PENDING;
    if (this.#head > 1024 && this.#head * 2 > this.#pending.length) {
      this.#pending.splice(0, this.#head);
      this.#next -= this.#head;
      this.#head = 0;
    }
    // The stream works: its failures so far are behind it, and so are the replicas they ruled out.
    // (Else a long-lived stream would fail on its next cut once it had been cut maxAttempts times.)
    // A replica is ruled out only by a failure, after which the stream is opened again: one test
    // per answer on the pipelined path.
    if (this.#attempts > 1) {
      this.#attempts = 1;
      this.#tried.clear();
    }
    pending.resolve(bytes);
    this.#flush();
  }

  /** The stream failed: a retryable failure moves the unanswered calls to another replica, while attempts remain. */
  #failed(error: RemoteError): void {
    const retry =
      isRetryable(error) &&
      this.#attempts < this.#route.maxAttempts &&
      !this.#route.closed() &&
      !this.#signal?.aborted &&
      Date.now() < this.#deadline;
    if (!retry) {
      this.#fail(error);
      return;
    }
    this.#route.failed(this.#endpoint);
    this.#tried.add(this.#endpoint);
    // Nothing unanswered (an idle stream a proxy cut, a replica shutting down): the next call
    // opens the new stream, so an idle stream is not reopened again and again.
    if (this.#head === this.#pending.length) this.#broken = true;
    else this.#open();
  }

  /**
   * Writes waiting calls while fewer than STREAM_WINDOW are unanswered. (grpc-js keeps the messages
   * it has not sent yet in an array that it slices after every write: thousands written ahead
   * cost quadratic time, so the window bounds what it holds; the node:http2 channel sends the
   * writes of one turn as one.)
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

  /** @internal */
  protected async binaryOperation(op: Operation, a: number | bigint, b: number | bigint): Promise<number | bigint> {
    const kind = checkOperands(a, b);
    const bytes = await this.#send(encodeBinary(OPERATION_FIELD[op], BigInt(a), BigInt(b), this.#overflow));
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

  #send(request: Uint8Array): Promise<Uint8Array> {
    if (this.#ended) return Promise.reject(new CalculatorError('CLOSED', 'nanocalc: this stream was ended'));
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      this.#pending.push({ request, resolve, reject });
      if (this.#broken) {
        this.#broken = false;
        this.#open();
      } else {
        this.#flush();
      }
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
