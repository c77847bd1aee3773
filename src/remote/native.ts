// The 'native' transport of RemoteCalculator: a gRPC client in Rust inside the Node-API addon
// (crates/nanocalc-node/src/remote/: h2 on a tokio runtime the addon owns, rustls for TLS). This
// file is a thin layer over it: the calls in flight by id, their answers taken in batches (one wakeup
// of JavaScript for every answer that arrived meanwhile, the way Temporal's core-bridge hands
// results back), and the AbortSignal. The Rust side keeps the contract of ./http2.ts: the same
// headers, grpc-timeout, keepalive PINGs, and the same RemoteError codes and details for the same
// failures. Unary calls and streams (the bidirectional CalculateStream) alike: a stream's messages
// of one turn are framed together and handed over in one write.
import { rootCertificates } from 'node:tls';
import { nodeAddon } from '../runtime/node.js';
import { Status } from './endpoints.js';
import { RemoteError } from './errors.js';
import { type Http2ChannelOptions, TurnQueue } from './http2.js';
import type { Channel, StreamCall, StreamHandlers } from './transport.js';

/** The status of an answer that is one message of a stream, not its end (Rust's `MESSAGE`). */
const MESSAGE = 0xffff_ffff;

/** The answers that arrived: per answer, `meta` holds id, gRPC status, start and end in `data`. */
interface RemoteAnswers {
  meta: Uint32Array;
  data: Uint8Array;
  details: string[];
}

/** The addon's client of one endpoint (written out, as ../runtime/node.ts does for the engine). */
interface NativeRemoteChannel {
  unary(id: number, path: string, request: Uint8Array, timeoutMs: number, cancellable: boolean): void;
  cancel(id: number): void;
  stream(id: number, path: string, timeoutMs: number): void;
  streamWrite(id: number, framed: Uint8Array): void;
  streamEnd(id: number): void;
  streamCancel(id: number): void;
  take(): RemoteAnswers;
  hold(busy: boolean): void;
  close(): void;
}

/** RemoteCalculatorOptions' `tls` for the addon: `ca` is Node's own roots when the option has none. */
interface NativeTls {
  ca: Uint8Array;
  cert?: Uint8Array;
  key?: Uint8Array;
  serverName?: string;
}

interface NativeRemoteBinding {
  RemoteChannel: new (
    host: string,
    port: number,
    authority: string,
    token: string | undefined | null,
    keepaliveMs: number,
    tls: NativeTls | null,
    wake: () => void,
  ) => NativeRemoteChannel;
}

/** The addon's remote client, or undefined when the addon is missing or was built without it. */
export function nativeRemote(): NativeRemoteBinding | undefined {
  try {
    const addon = nodeAddon() as unknown as Partial<NativeRemoteBinding>;
    return typeof addon.RemoteChannel === 'function' ? (addon as NativeRemoteBinding) : undefined;
  } catch {
    return undefined;
  }
}

/** Node's own trusted roots, for `tls: true` (what node:http2 trusts without a `ca`). */
let nodeRoots: Uint8Array | undefined;

interface Pending {
  resolve: (bytes: Uint8Array) => void;
  reject: (error: RemoteError) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

export class NativeChannel implements Channel {
  readonly #address: string;
  readonly #native: NativeRemoteChannel;
  readonly #pending = new Map<number, Pending>();
  readonly #streams = new Map<number, NativeStreamCall>();
  #nextId = 0;
  #closed = false;

  constructor(address: string, host: string, port: number, options: Http2ChannelOptions, binding: NativeRemoteBinding) {
    this.#address = address;
    const { tls } = options;
    let nativeTls: NativeTls | null = null;
    if (tls !== undefined) {
      nodeRoots ??= Buffer.from(rootCertificates.join('\n'));
      nativeTls = { ca: tls.ca ?? nodeRoots };
      if (tls.cert !== null) nativeTls.cert = tls.cert;
      if (tls.key !== null) nativeTls.key = tls.key;
      if (tls.serverName !== undefined) nativeTls.serverName = tls.serverName;
    }
    this.#native = new binding.RemoteChannel(
      host,
      port,
      address,
      options.token ?? null,
      options.keepaliveMs,
      nativeTls,
      () => this.#answered(),
    );
  }

  unary(path: string, request: Uint8Array, deadline: number, signal: AbortSignal | undefined): Promise<Uint8Array> {
    if (this.#closed) {
      return Promise.reject(new RemoteError(Status.UNAVAILABLE, 'the RemoteCalculator was closed', this.#address));
    }
    if (signal?.aborted) return Promise.reject(cancelledOnClient(this.#address, signal));
    let timeoutMs = -1;
    if (deadline !== Infinity) {
      timeoutMs = deadline - Date.now();
      if (timeoutMs <= 0) {
        return Promise.reject(new RemoteError(Status.DEADLINE_EXCEEDED, 'Deadline exceeded', this.#address));
      }
    }
    return new Promise((resolve, reject) => {
      const id = this.#id();
      const pending: Pending = { resolve, reject, signal, onAbort: undefined };
      this.#started();
      this.#pending.set(id, pending);
      this.#native.unary(id, path, request, timeoutMs, signal !== undefined);
      if (signal !== undefined) {
        pending.onAbort = () => {
          this.#native.cancel(id);
          this.#settle(id, pending)?.reject(cancelledOnClient(this.#address, signal));
        };
        signal.addEventListener('abort', pending.onAbort, { once: true });
      }
    });
  }

  #id(): number {
    this.#nextId = (this.#nextId + 1) >>> 0;
    return this.#nextId;
  }

  /** A call starts: the process is kept alive while calls are in flight. */
  #started(): void {
    if (this.#pending.size === 0 && this.#streams.size === 0) this.#native.hold(true);
  }

  /** A call ended (after leaving its map): the process is let go once none is left. */
  #ended(): void {
    if (this.#pending.size === 0 && this.#streams.size === 0) this.#native.hold(false);
  }

  /** A call ends: it leaves the map. */
  #settle(id: number, pending: Pending): Pending | undefined {
    if (!this.#pending.delete(id)) return undefined;
    if (pending.onAbort !== undefined) pending.signal?.removeEventListener('abort', pending.onAbort);
    this.#ended();
    return pending;
  }

  /** Answers are waiting: all of them, taken at once. */
  #answered(): void {
    const { meta, data, details } = this.#native.take();
    let failed = 0;
    for (let k = 0; k < meta.length; k += 4) {
      const id = meta[k]!;
      const code = meta[k + 1]!;
      if (code !== 0 && code !== MESSAGE) failed++;
      const pending = this.#pending.get(id);
      if (pending === undefined) {
        // A stream's message or end (or a call cancelled meanwhile: nothing).
        const call = this.#streams.get(id);
        if (call === undefined) continue;
        if (code === MESSAGE) call.handlers.message(data.subarray(meta[k + 2]!, meta[k + 3]!));
        else call.finish(code === 0 ? undefined : new RemoteError(code, details[failed - 1]!, this.#address));
        continue;
      }
      this.#settle(id, pending);
      if (code === 0) pending.resolve(data.subarray(meta[k + 2]!, meta[k + 3]!));
      else pending.reject(new RemoteError(code, details[failed - 1]!, this.#address));
    }
  }

  stream(path: string, deadline: number, signal: AbortSignal | undefined, handlers: StreamHandlers): StreamCall {
    const call = new NativeStreamCall(this.#native, this.#id(), this.#address, signal, handlers, (id) => {
      this.#streams.delete(id);
      this.#ended();
    });
    // A call that cannot start ends in a microtask, once its owner holds it (as ./http2.ts's).
    let early: RemoteError | undefined;
    let timeoutMs = -1;
    if (this.#closed) early = new RemoteError(Status.UNAVAILABLE, 'the RemoteCalculator was closed', this.#address);
    else if (signal?.aborted) early = cancelledOnClient(this.#address, signal);
    else if (deadline !== Infinity) {
      timeoutMs = deadline - Date.now();
      if (timeoutMs <= 0) early = new RemoteError(Status.DEADLINE_EXCEEDED, 'Deadline exceeded', this.#address);
    }
    if (early !== undefined) {
      call.done = true;
      queueMicrotask(() => handlers.end(early));
      return call;
    }
    this.#started();
    this.#streams.set(call.id, call);
    this.#native.stream(call.id, path, timeoutMs);
    call.listen();
    return call;
  }

  close(): void {
    this.#closed = true;
    this.#native.close();
  }
}

function cancelledOnClient(address: string, signal: AbortSignal | undefined): RemoteError {
  const cause = signal?.aborted ? signal.reason : undefined;
  return new RemoteError(Status.CANCELLED, 'Cancelled on client', address, { cause });
}

/** One bidirectional call on the addon's client: messages of one turn written together. */
class NativeStreamCall implements StreamCall {
  readonly #native: NativeRemoteChannel;
  readonly id: number;
  readonly #address: string;
  readonly #signal: AbortSignal | undefined;
  readonly handlers: StreamHandlers;
  readonly #left: (id: number) => void;
  readonly #onAbort = () => this.cancel();
  done = false;
  readonly #queue = new TurnQueue(() => this.#flush());

  constructor(
    native: NativeRemoteChannel,
    id: number,
    address: string,
    signal: AbortSignal | undefined,
    handlers: StreamHandlers,
    left: (id: number) => void,
  ) {
    this.#native = native;
    this.id = id;
    this.#address = address;
    this.#signal = signal;
    this.handlers = handlers;
    this.#left = left;
  }

  listen(): void {
    this.#signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  write(message: Uint8Array): void {
    if (!this.done) this.#queue.push(message);
  }

  end(): void {
    if (this.done) return;
    this.#flush();
    this.#native.streamEnd(this.id);
  }

  cancel(): void {
    if (this.done) return;
    this.#native.streamCancel(this.id);
    this.finish(cancelledOnClient(this.#address, this.#signal));
  }

  #flush(): void {
    const bytes = this.#queue.take();
    if (bytes !== undefined && !this.done) this.#native.streamWrite(this.id, bytes);
  }

  /** The call ended (once): with a RemoteError, or undefined for status OK. */
  finish(error: RemoteError | undefined): void {
    if (this.done) return;
    this.done = true;
    this.#signal?.removeEventListener('abort', this.#onAbort);
    this.#left(this.id);
    this.handlers.end(error);
  }
}
