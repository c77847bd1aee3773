// The 'native' transport of RemoteCalculator: a gRPC client in Rust inside the Node-API addon
// (crates/nanocalc-node/src/remote.rs: h2 on a tokio runtime the addon owns, rustls for TLS). This
// file is a thin layer over it: the calls in flight by id, their answers taken in batches (one wakeup
// of JavaScript for every answer that arrived meanwhile, the way Temporal's core-bridge hands
// results back), and the AbortSignal. The Rust side keeps the contract of ./http2.ts: the same
// headers, grpc-timeout, keepalive PINGs, and the same RemoteError codes and details for the same
// failures. `stream()` (the bidirectional CalculateStream) is not in Rust yet: it is delegated to an
// Http2Channel for the same endpoint (its own node:http2 session), with the same contract.
import { rootCertificates } from 'node:tls';
import { nodeAddon } from '../runtime/node.js';
import { Status } from './endpoints.js';
import { RemoteError } from './errors.js';
import { Http2Channel, type Http2ChannelOptions } from './http2.js';
import type { Channel, StreamCall, StreamHandlers } from './transport.js';

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
  readonly #streams: () => Http2Channel;
  #streamChannel: Http2Channel | undefined;
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
    this.#native = new binding.RemoteChannel(host, port, address, options.token ?? null, options.keepaliveMs, nativeTls, () =>
      this.#answered(),
    );
    this.#streams = () => {
      if (this.#streamChannel === undefined) {
        this.#streamChannel = new Http2Channel(address, host, port, options);
        if (this.#closed) this.#streamChannel.close(); // its calls then fail as closed
      }
      return this.#streamChannel;
    };
  }

  unary(path: string, request: Uint8Array, deadline: number, signal: AbortSignal | undefined): Promise<Uint8Array> {
    if (this.#closed) {
      return Promise.reject(new RemoteError(Status.UNAVAILABLE, 'the RemoteCalculator was closed', this.#address));
    }
    if (signal?.aborted) {
      return Promise.reject(
        new RemoteError(Status.CANCELLED, 'Cancelled on client', this.#address, { cause: signal.reason }),
      );
    }
    let timeoutMs = -1;
    if (deadline !== Infinity) {
      timeoutMs = deadline - Date.now();
      if (timeoutMs <= 0) {
        return Promise.reject(new RemoteError(Status.DEADLINE_EXCEEDED, 'Deadline exceeded', this.#address));
      }
    }
    return new Promise((resolve, reject) => {
      const id = (this.#nextId = (this.#nextId + 1) >>> 0);
      const pending: Pending = { resolve, reject, signal, onAbort: undefined };
      if (this.#pending.size === 0) this.#native.hold(true);
      this.#pending.set(id, pending);
      this.#native.unary(id, path, request, timeoutMs, signal !== undefined);
      if (signal !== undefined) {
        pending.onAbort = () => {
          this.#native.cancel(id);
          this.#settle(id, pending)?.reject(
            new RemoteError(Status.CANCELLED, 'Cancelled on client', this.#address, { cause: signal.reason }),
          );
        };
        signal.addEventListener('abort', pending.onAbort, { once: true });
      }
    });
  }

  /** A call ends: it leaves the map (the process is let go once none is left). */
  #settle(id: number, pending: Pending): Pending | undefined {
    if (!this.#pending.delete(id)) return undefined;
    if (pending.onAbort !== undefined) pending.signal?.removeEventListener('abort', pending.onAbort);
    if (this.#pending.size === 0) this.#native.hold(false);
    return pending;
  }

  /** Answers are waiting: all of them, taken at once. */
  #answered(): void {
    const { meta, data, details } = this.#native.take();
    let failed = 0;
    for (let k = 0; k < meta.length; k += 4) {
      const id = meta[k]!;
      const code = meta[k + 1]!;
      const pending = this.#pending.get(id);
      if (code !== 0) failed++;
      if (pending === undefined || this.#settle(id, pending) === undefined) continue; // cancelled meanwhile
      if (code === 0) pending.resolve(data.subarray(meta[k + 2]!, meta[k + 3]!));
      else pending.reject(new RemoteError(code, details[failed - 1]!, this.#address));
    }
  }

  stream(path: string, deadline: number, signal: AbortSignal | undefined, handlers: StreamHandlers): StreamCall {
    return this.#streams().stream(path, deadline, signal, handlers);
  }

  close(): void {
    this.#closed = true;
    this.#native.close();
    this.#streamChannel?.close();
  }
}
